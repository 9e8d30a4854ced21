//! The attack catalogue: what a hostile or broken department application sends the provider,
//! and the standard answer it must get. Every case is a test of its own, crafted by hand in Rust
//! (the application's ES256 key is held here, DPoP proofs and PKCE are built with ring), against
//! the real `broker` binary. Each asserts the `error` and the HTTP status; where the refusal
//! comes before anything could be stored, that the consent ledger did not change; where the
//! client authenticated (its assertion's signature verified), that an `access-refused` record
//! names the department, the client and the code, and where it did not, that none was written.
//!
//! The cases and the OpenID Foundation conformance-suite modules they follow (OpenID Connect
//! OP plans `oidcc-*`, FAPI 2.0 Security Profile plans `fapi2-security-profile-*`, abbreviated
//! `fapi2-*`; the module named is the closest one, the spec section says what is checked):
//!
//! | # | test | conformance module | expected |
//! |---|---|---|---|
//! | 1 | `par_redirect_uri_not_registered` | `oidcc-ensure-registered-redirect-uri`, `fapi2-*-ensure-registered-redirect-uri` | 400 `invalid_request` |
//! | 2 | `par_redirect_uri_with_a_query_added` | `oidcc-redirect-uri-query-added` | 400 `invalid_request` |
//! | 3 | `par_carrying_a_request_uri` | `fapi2-*-par-authorization-request-containing-request_uri-form-param` (RFC 9126 §2.1) | 400 `invalid_request` |
//! | 4 | `par_carrying_a_request_object` | `oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported` | 400 `request_not_supported` |
//! | 5 | `par_response_type_token` | `oidcc-response-type-*`, `fapi2-*-ensure-response-type-code` | 400 `unsupported_response_type` |
//! | 6 | `par_response_type_code_id_token` | `fapi2-*-ensure-response-type-code` (FAPI 2.0 §5.3.2.2: `code` only) | 400 `unsupported_response_type` |
//! | 7 | `par_without_pkce` | `fapi2-*-par-without-pkce` / PKCE required (FAPI 2.0 §5.3.2.2) | 400 `invalid_request` |
//! | 8 | `par_plain_pkce` | `fapi2-*-par-plain-pkce-rejected` (S256 only) | 400 `invalid_request` |
//! | 9 | `par_scope_without_openid` | `oidcc-*` (OIDC Core §3.1.2.1: `openid` REQUIRED) | 400 `invalid_scope` |
//! | 10 | `par_unknown_purpose` | — (issue 14: purpose from the catalogue) | 400 `invalid_request` |
//! | 11 | `par_unknown_attribute` | — (issue 14: attributes from the catalogue) | 400 `invalid_request` |
//! | 12 | `par_client_id_of_another_client` | RFC 9126 §2.1, RFC 7521 §4.2 (`client_id` names the asserted client); refused before the signature is checked, so not audited | 401 `invalid_client` |
//! | 13 | `par_repeated_parameter` | `fapi2-*-par-without-duplicate-parameters` (RFC 6749 §3.1); refused once the client is authenticated (a parameter the profile does not read may repeat, as RFC 8707's `resource`), so audited | 400 `invalid_request` |
//! | 14 | `par_dpop_jkt_not_the_proofs_key` | `fapi2-*-dpop-negative-tests` (RFC 9449 §10.1) | 400 `invalid_dpop_proof` |
//! | 15 | `client_assertion_with_a_wrong_audience` | `fapi2-*-ensure-client-assertion-with-wrong-aud-fails` | 401 `invalid_client` |
//! | 16 | `client_assertion_audience_another_endpoint` | FAPI 2.0 §5.3.2.1, RFC 9126 §2 (issuer, token or PAR endpoint only) | 401 `invalid_client` |
//! | 17 | `client_assertion_audience_the_issuer_with_a_trailing_slash` | RFC 7523 §3 (Simple String Comparison) | 401 `invalid_client` |
//! | 18 | `client_assertion_replayed` | `fapi2-*-ensure-client-assertion-jti-replay-fails` (RFC 7523 §3 item 7) | 401 `invalid_client` |
//! | 19 | `unknown_client` | `oidcc-*` / RFC 6749 §5.2 | 401 `invalid_client`, not audited |
//! | 20 | `disabled_department` | — (issue 10: a disabled department gets nothing, not even with tokens issued before) | 401 `invalid_client`; refresh 401, userinfo 401 |
//! | 21 | `authorization_request_not_pushed` | `fapi2-*-ensure-unsigned-authorization-request-without-using-par-fails` | error shown, no redirect |
//! | 22 | `request_uri_reused` | `fapi2-*-par-attempt-reuse-request_uri` | error shown, no redirect |
//! | 23 | `request_uri_expired` | `fapi2-*-par-attempt-to-use-expired-request_uri` | error shown, no redirect |
//! | 24 | `request_uri_of_another_client` | `fapi2-*-par-attempt-to-use-request_uri-for-different-client` | error shown, no redirect |
//! | 25 | `prompt_none_without_a_session` | `oidcc-prompt-none-not-logged-in` | redirect `login_required` + `state` + `iss` |
//! | 26 | `prompt_none_without_a_consent` | OIDC Core §3.1.2.6 | redirect `consent_required` + `state` + `iss` |
//! | 27 | `consent_refused` | `oidcc-*` (RFC 6749 §4.1.2.1) | redirect `access_denied` + `state` + `iss` |
//! | 28 | `code_reused_revokes_what_it_issued` | `oidcc-codereuse`, `fapi2-*-attempt-reuse-authorization-code-after-one-second` | 400 `invalid_grant`, then userinfo 401 |
//! | 29 | `wrong_code_verifier` | `fapi2-*-incorrect-pkce-code-verifier-rejected` | 400 `invalid_grant` |
//! | 30 | `missing_code_verifier` | RFC 7636 §4.6 | 400 `invalid_grant` |
//! | 31 | `redirect_uri_differs_at_the_token_endpoint` | `oidcc-ensure-redirect-uri-in-authorization-request` (RFC 6749 §4.1.3) | 400 `invalid_grant` |
//! | 32 | `code_redeemed_by_another_client` | `fapi2-*-ensure-authorization-code-is-bound-to-client` | 400 `invalid_grant` |
//! | 33 | `code_expired` | `oidcc-codereuse-30seconds` (code lifetime, FAPI 2.0 §5.3.2.1: ≤ 60 s) | 400 `invalid_grant` |
//! | 34 | `dpop_missing_at_the_token_endpoint` | `fapi2-*-dpop-negative-tests` (FAPI 2.0 §5.3.2.1 sender-constrained) | 400 `invalid_dpop_proof` |
//! | 35 | `dpop_proof_replayed_at_the_token_endpoint` | `fapi2-*-dpop-negative-tests` (RFC 9449 §11.1) | 400 `invalid_dpop_proof` |
//! | 36 | `dpop_proof_replayed_at_userinfo` | `fapi2-*-dpop-negative-tests` (RFC 9449 §11.1) | 401 `invalid_dpop_proof` |
//! | 37 | `dpop_wrong_htm` | `fapi2-*-dpop-negative-tests` (RFC 9449 §4.3 item 8) | 400 `invalid_dpop_proof` |
//! | 38 | `dpop_wrong_htu` | `fapi2-*-dpop-negative-tests` (RFC 9449 §4.3 item 9) | 400 `invalid_dpop_proof` |
//! | 39 | `dpop_stale_iat` | `fapi2-*-dpop-negative-tests` (RFC 9449 §4.3 item 11) | 400 `invalid_dpop_proof` |
//! | 40 | `dpop_future_iat` | `fapi2-*-dpop-negative-tests` (RFC 9449 §4.3 item 11) | 400 `invalid_dpop_proof` |
//! | 41 | `dpop_key_not_the_codes_dpop_jkt` | `fapi2-*-dpop-negative-tests` (RFC 9449 §10) | 400 `invalid_dpop_proof` |
//! | 42 | `dpop_alg_none` | `fapi2-*-dpop-negative-tests` (RFC 9449 §4.3 item 5) | 400 `invalid_dpop_proof` |
//! | 43 | `dpop_hmac` | `fapi2-*-dpop-negative-tests` (RFC 9449 §4.3 item 5) | 400 `invalid_dpop_proof` |
//! | 44 | `dpop_token_presented_as_bearer` | `fapi2-*-dpop-negative-tests` (RFC 9449 §7.2) | 401 `invalid_token` |
//! | 45 | `dpop_token_with_another_key_at_userinfo` | `fapi2-*-dpop-negative-tests` (RFC 9449 §7.1) | 401 `invalid_token` |
//! | 46 | `refresh_token_reused_revokes_the_grant` | `oidcc-refresh-token`, `fapi2-*-refresh-token` (rotation, RFC 9700 §4.14.2) | 400 `invalid_grant` twice |
//! | 47 | `refresh_token_of_another_client` | `oidcc-refresh-token` (another client's refresh token) | 400 `invalid_grant` |
//! | 48 | `logout_to_an_unregistered_post_logout_redirect_uri` | `oidcc-rp-initiated-logout-bad-post-logout-redirect-uri` | error shown, no redirect |

use broker_e2e::BrokerEnv;
use broker_e2e::release::RustClient;
use serde_json::json;

use super::kit::*;

/// Whether a refusal must be in the audit log.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Audit {
    /// The client authenticated: one `access-refused` record naming it and the code.
    Recorded,
    /// Nobody was identified: nothing written.
    Nothing,
}

/// What the ledger and the audit log held before an attack.
struct Before {
    ledger: services::consents::LedgerCounts,
    refusals: usize,
}

async fn before(op: &Op) -> Before {
    Before {
        ledger: op.ledger().await,
        refusals: op.refusals().await.len(),
    }
}

/// The answer is `status` with `{"error": error}`, the ledger is as it was, and the audit log
/// holds what `audit` says.
async fn refused(
    op: &Op,
    before: &Before,
    answer: &Answer,
    status: u16,
    error: &str,
    audit: Audit,
) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(answer.error(), error, "{answer:?}");
    assert!(
        answer.body["error_description"].is_string() || answer.body["error_description"].is_null(),
        "{answer:?}"
    );
    assert_eq!(op.ledger().await, before.ledger, "nothing is stored");
    audited(op, before, error, audit).await;
}

async fn audited(op: &Op, before: &Before, error: &str, audit: Audit) {
    let refusals = op.refusals().await;
    let new = &refusals[before.refusals..];
    match audit {
        Audit::Nothing => assert!(new.is_empty(), "nobody was identified: {new:?}"),
        Audit::Recorded => {
            assert_eq!(new.len(), 1, "one access-refused record: {new:?}");
            let r = &new[0];
            assert_eq!(r.outcome, audit::Outcome::Deny, "{r:?}");
            assert_eq!(r.department_id.as_deref(), Some(ESD), "{r:?}");
            assert_eq!(r.client_id.as_deref(), Some(&*op.app.client_id), "{r:?}");
            assert_eq!(r.reasons.first().map(String::as_str), Some(error), "{r:?}");
        }
    }
}

/// Pushes `req` with a good assertion and proof; refused as said, audited.
async fn par_refused(op: &Op, req: &Request, error: &str) {
    let b = before(op).await;
    let answer = op.push(req).await;
    refused(op, &b, &answer, 400, error, Audit::Recorded).await;
}

/// An error shown to the citizen at the authorization endpoint: an error page, never a redirect
/// to the client (RFC 6749 §4.1.2.1, RFC 9126 §4), and nothing stored.
async fn shown_not_redirected(op: &Op, before: &Before, answer: &Answer) {
    assert!(
        (400..500).contains(&answer.status),
        "an error page, not {answer:?}"
    );
    assert!(
        !answer
            .location
            .as_deref()
            .is_some_and(|l| l.starts_with(&op.redirect_uri)),
        "never redirected to the client: {answer:?}"
    );
    assert!(!answer.text.contains("code="), "{answer:?}");
    assert_eq!(op.ledger().await, before.ledger, "nothing is stored");
}

/// A redirect to the client with `error`, the request's `state` and `iss` (RFC 9207).
fn redirected_with(op: &Op, req: &Request, answer: &Answer, error: &str) {
    assert_eq!(answer.status, 303, "{answer:?}");
    let location = answer.location.as_deref().unwrap();
    assert!(location.starts_with(&op.redirect_uri), "{location}");
    assert_eq!(
        answer.location_param("error").as_deref(),
        Some(error),
        "{location}"
    );
    assert_eq!(answer.location_param("state").as_deref(), Some(&*req.state));
    assert_eq!(answer.location_param("iss").as_deref(), Some(op.issuer()));
    assert_eq!(answer.location_param("code"), None, "{location}");
}

/// Redeems `code` with `form` changed by `tweak` and the given proof; refused as said, audited.
async fn token_refused(op: &Op, form: Vec<(String, String)>, proof: Option<String>, error: &str) {
    let b = before(op).await;
    let answer = op.token_raw(&form, proof).await;
    refused(op, &b, &answer, 400, error, Audit::Recorded).await;
}

fn set(form: &mut Vec<(String, String)>, name: &str, value: Option<&str>) {
    form.retain(|(k, _)| k != name);
    if let Some(v) = value {
        form.push((name.into(), v.into()));
    }
}

/// A second web application of the same department (its own key), registered and served.
async fn second_client(op: &Op) -> RustClient {
    let other = RustClient::generate(ESD, "esd-web-2");
    let mut jwk = other.public_jwk.clone();
    jwk["kid"] = json!(other.kid);
    register_web_client(
        &op.world.conn,
        ESD,
        &other.client_id,
        &jwk,
        &[&op.redirect_uri],
        &[],
        None,
    )
    .await;
    op.broker
        .registry_caught_up(&op.world.conn, std::time::Duration::from_secs(10))
        .await;
    other
}

// ---- the pushed authorization request -----------------------------------------------------------

#[tokio::test]
async fn par_redirect_uri_not_registered() {
    let op = Op::start().await;
    let mut req = op.request();
    req.set("redirect_uri", Some("http://127.0.0.1:9/elsewhere"));
    par_refused(&op, &req, "invalid_request").await;
}

#[tokio::test]
async fn par_redirect_uri_with_a_query_added() {
    let op = Op::start().await;
    let mut req = op.request();
    let added = format!("{}?extra=1", op.redirect_uri);
    req.set("redirect_uri", Some(&added));
    par_refused(&op, &req, "invalid_request").await;
}

#[tokio::test]
async fn par_carrying_a_request_uri() {
    let op = Op::start().await;
    let mut req = op.request();
    req.set(
        "request_uri",
        Some("urn:ietf:params:oauth:request_uri:chosen-by-the-client"),
    );
    par_refused(&op, &req, "invalid_request").await;
}

#[tokio::test]
async fn par_carrying_a_request_object() {
    let op = Op::start().await;
    let mut req = op.request();
    // An unsigned request object (alg none) repeating the parameters: JAR is not supported.
    let object = format!(
        "{}.{}.",
        broker_e2e::release::b64(br#"{"alg":"none"}"#),
        broker_e2e::release::b64(
            json!({"client_id": op.app.client_id, "response_type": "code"}).to_string()
        )
    );
    req.set("request", Some(&object));
    par_refused(&op, &req, "request_not_supported").await;
}

#[tokio::test]
async fn par_response_type_token() {
    let op = Op::start().await;
    let mut req = op.request();
    req.set("response_type", Some("token"));
    par_refused(&op, &req, "unsupported_response_type").await;
}

#[tokio::test]
async fn par_response_type_code_id_token() {
    let op = Op::start().await;
    let mut req = op.request();
    req.set("response_type", Some("code id_token"));
    par_refused(&op, &req, "unsupported_response_type").await;
}

#[tokio::test]
async fn par_without_pkce() {
    let op = Op::start().await;
    let mut req = op.request();
    req.set("code_challenge", None)
        .set("code_challenge_method", None);
    par_refused(&op, &req, "invalid_request").await;
}

#[tokio::test]
async fn par_plain_pkce() {
    let op = Op::start().await;
    let mut req = op.request();
    let plain = req.pkce.verifier.clone();
    req.set("code_challenge", Some(&plain))
        .set("code_challenge_method", Some("plain"));
    par_refused(&op, &req, "invalid_request").await;
}

#[tokio::test]
async fn par_scope_without_openid() {
    let op = Op::start().await;
    let mut req = op.request();
    req.set("scope", Some("offline_access"));
    par_refused(&op, &req, "invalid_scope").await;
}

#[tokio::test]
async fn par_unknown_purpose() {
    let op = Op::start().await;
    let mut req = op.request();
    req.set("purpose", Some("marketing-campaign"));
    par_refused(&op, &req, "invalid_request").await;
}

#[tokio::test]
async fn par_unknown_attribute() {
    let op = Op::start().await;
    let mut req = op.request();
    let claims = claims_request(&["given_name", "favourite_colour"]).to_string();
    req.set("claims", Some(&claims));
    par_refused(&op, &req, "invalid_request").await;
}

#[tokio::test]
async fn par_client_id_of_another_client() {
    let op = Op::start().await;
    second_client(&op).await;
    let mut req = op.request();
    req.set("client_id", Some("esd-web-2"));
    let b = before(&op).await;
    let answer = op.push(&req).await;
    // Compared before the signature is checked: the assertion proves nobody yet.
    refused(&op, &b, &answer, 401, "invalid_client", Audit::Nothing).await;
}

#[tokio::test]
async fn par_repeated_parameter() {
    let op = Op::start().await;
    let req = op.request();
    let mut form = op.with_assertion(&req, &op.assertion());
    form.push(("scope".into(), "openid offline_access".into()));
    let b = before(&op).await;
    let proof = req.dpop.proof(
        "POST",
        &op.endpoint("pushed_authorization_request_endpoint"),
        None,
    );
    let answer = op.push_raw(&form, Some(proof)).await;
    // The client authenticated first: the refusal names it.
    refused(&op, &b, &answer, 400, "invalid_request", Audit::Recorded).await;
}

#[tokio::test]
async fn par_dpop_jkt_not_the_proofs_key() {
    let op = Op::start().await;
    let mut req = op.request();
    let other = Es256Key::generate().thumbprint();
    req.set("dpop_jkt", Some(&other));
    par_refused(&op, &req, "invalid_dpop_proof").await;
}

// ---- client authentication ------------------------------------------------------------------

/// Pushes a good request authenticated by `assertion`; 401 `invalid_client`.
async fn client_refused(op: &Op, assertion: &str, audit: Audit) {
    let req = op.request();
    let b = before(op).await;
    let proof = req.dpop.proof(
        "POST",
        &op.endpoint("pushed_authorization_request_endpoint"),
        None,
    );
    let answer = op
        .push_raw(&op.with_assertion(&req, assertion), Some(proof))
        .await;
    refused(op, &b, &answer, 401, "invalid_client", audit).await;
}

#[tokio::test]
async fn client_assertion_with_a_wrong_audience() {
    let op = Op::start().await;
    let mut claims = op.app.claims(op.issuer());
    claims["aud"] = json!("https://attacker.example");
    let assertion = op.app.sign(&op.app.header(), &claims);
    client_refused(&op, &assertion, Audit::Recorded).await;
}

#[tokio::test]
async fn client_assertion_audience_another_endpoint() {
    // RFC 9126 §2 and FAPI 2.0 §5.3.2.1 let the provider accept its issuer, its token endpoint
    // and the PAR endpoint; any other of its URLs names something else.
    let op = Op::start().await;
    let mut claims = op.app.claims(op.issuer());
    claims["aud"] = json!(op.endpoint("userinfo_endpoint"));
    let assertion = op.app.sign(&op.app.header(), &claims);
    client_refused(&op, &assertion, Audit::Recorded).await;
}

#[tokio::test]
async fn client_assertion_audience_the_issuer_with_a_trailing_slash() {
    // RFC 7523 §3: audiences are compared with Simple String Comparison (RFC 3986 §6.2.1).
    let op = Op::start().await;
    let mut claims = op.app.claims(op.issuer());
    claims["aud"] = json!(format!("{}/", op.issuer()));
    let assertion = op.app.sign(&op.app.header(), &claims);
    client_refused(&op, &assertion, Audit::Recorded).await;
}

#[tokio::test]
async fn client_assertion_replayed() {
    let op = Op::start().await;
    let assertion = op.assertion();
    let req = op.request();
    let par = op.endpoint("pushed_authorization_request_endpoint");
    let first = op
        .push_raw(
            &op.with_assertion(&req, &assertion),
            Some(req.dpop.proof("POST", &par, None)),
        )
        .await;
    assert_eq!(first.status, 201, "{first:?}");
    client_refused(&op, &assertion, Audit::Recorded).await;
}

#[tokio::test]
async fn unknown_client() {
    let op = Op::start().await;
    let stranger = RustClient::generate(ESD, "nobody-registered-me");
    let mut req = op.request();
    req.set("client_id", Some("nobody-registered-me"));
    let b = before(&op).await;
    let proof = req.dpop.proof(
        "POST",
        &op.endpoint("pushed_authorization_request_endpoint"),
        None,
    );
    let answer = op
        .push_raw(
            &op.with_assertion(&req, &stranger.assertion(op.issuer())),
            Some(proof),
        )
        .await;
    refused(&op, &b, &answer, 401, "invalid_client", Audit::Nothing).await;
}

#[tokio::test]
async fn disabled_department() {
    let op = Op::start().await;
    let (req, tokens) = ongoing(&op).await;
    services::departments::set_active(&op.world.conn, ESD, false)
        .await
        .unwrap();
    op.broker
        .registry_caught_up(&op.world.conn, std::time::Duration::from_secs(10))
        .await;
    client_refused(&op, &op.assertion(), Audit::Recorded).await;
    // What it was issued before is worth nothing now.
    let refresh = op
        .refresh(tokens.refresh_token.as_deref().unwrap(), &req.dpop)
        .await;
    assert_eq!(refresh.status, 401, "{refresh:?}");
    assert_eq!(refresh.error(), "invalid_client", "{refresh:?}");
    let info = op.userinfo(&tokens.access_token, &req.dpop).await;
    assert_eq!(info.status, 401, "{info:?}");
    assert!(info.body["verified_claims"].is_null(), "{info:?}");
}

// ---- the authorization endpoint ---------------------------------------------------------------

#[tokio::test]
async fn authorization_request_not_pushed() {
    let op = Op::start().await;
    let req = op.request();
    let mut url = url::Url::parse(&op.endpoint("authorization_endpoint")).unwrap();
    url.query_pairs_mut().extend_pairs(req.params.iter());
    let b = before(&op).await;
    let answer = op.journey(&op.browser, url.as_str(), "approve").await;
    shown_not_redirected(&op, &b, &answer).await;
}

#[tokio::test]
async fn request_uri_reused() {
    let op = Op::start().await;
    let req = op.request();
    let request_uri = op.pushed(&req).await;
    let url = op.authorize_url(&request_uri);
    let first = op.journey(&op.browser, &url, "approve").await;
    assert!(first.location_param("code").is_some(), "{first:?}");
    let b = before(&op).await;
    let again = op.journey(&op.browser, &url, "approve").await;
    shown_not_redirected(&op, &b, &again).await;
}

#[tokio::test]
async fn request_uri_expired() {
    let op = Op::start_with(
        BrokerEnv::default().set("BROKER_OPENID_PROVIDER__REQUEST_URI_TTL_SECS", "1"),
    )
    .await;
    let req = op.request();
    let answer = op.push(&req).await;
    assert_eq!(answer.status, 201, "{answer:?}");
    assert_eq!(
        answer.body["expires_in"], 1,
        "the knob is the lifetime: {answer:?}"
    );
    let request_uri = answer.body["request_uri"].as_str().unwrap();
    // Wait on the clock, not a fixed sleep: past the lifetime by a whole second.
    let deadline = now_secs() + 2;
    while now_secs() <= deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let b = before(&op).await;
    let answer = op
        .journey(&op.browser, &op.authorize_url(request_uri), "approve")
        .await;
    shown_not_redirected(&op, &b, &answer).await;
}

#[tokio::test]
async fn request_uri_of_another_client() {
    let op = Op::start().await;
    second_client(&op).await;
    let req = op.request();
    let request_uri = op.pushed(&req).await;
    let mut url = url::Url::parse(&op.endpoint("authorization_endpoint")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "esd-web-2")
        .append_pair("request_uri", &request_uri);
    let b = before(&op).await;
    let answer = op.journey(&op.browser, url.as_str(), "approve").await;
    shown_not_redirected(&op, &b, &answer).await;
}

#[tokio::test]
async fn prompt_none_without_a_session() {
    let op = Op::start().await;
    let mut req = op.request();
    req.set("prompt", Some("none"));
    let request_uri = op.pushed(&req).await;
    let b = before(&op).await;
    let answer = op
        .journey(&op.stranger(), &op.authorize_url(&request_uri), "approve")
        .await;
    redirected_with(&op, &req, &answer, "login_required");
    assert_eq!(op.ledger().await, b.ledger, "nothing is stored");
}

#[tokio::test]
async fn prompt_none_without_a_consent() {
    let op = Op::start().await;
    let mut req = op.request();
    req.set("prompt", Some("none"));
    let request_uri = op.pushed(&req).await;
    let b = before(&op).await;
    let answer = op
        .journey(&op.browser, &op.authorize_url(&request_uri), "approve")
        .await;
    redirected_with(&op, &req, &answer, "consent_required");
    assert_eq!(op.ledger().await, b.ledger, "nothing is stored");
}

#[tokio::test]
async fn consent_refused() {
    let op = Op::start().await;
    let req = op.request();
    let request_uri = op.pushed(&req).await;
    let answer = op
        .journey(&op.browser, &op.authorize_url(&request_uri), "refuse")
        .await;
    redirected_with(&op, &req, &answer, "access_denied");
    let live = services::consents::for_citizen(&op.world.conn, &op.citizen)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| {
            c.covers("given_name", PENSION, store::now_ms())
                .is_covered()
        })
        .count();
    assert_eq!(live, 0, "a refusal grants nothing");
}

// ---- the token endpoint: codes and PKCE -------------------------------------------------------

#[tokio::test]
async fn code_reused_revokes_what_it_issued() {
    let op = Op::start().await;
    let req = op.request();
    let code = op.code(&req).await;
    let first = tokens_of(&op.redeem(&req, &code).await);
    let id = broker_e2e::release::payload(&first.id_token);
    assert_eq!(id["nonce"], req.nonce, "{id}");
    assert_eq!(
        op.userinfo(&first.access_token, &req.dpop).await.status,
        200
    );
    let b = before(&op).await;
    let again = op.redeem(&req, &code).await;
    refused(&op, &b, &again, 400, "invalid_grant", Audit::Recorded).await;
    let after = op.userinfo(&first.access_token, &req.dpop).await;
    assert_eq!(
        after.status, 401,
        "the first access token is revoked: {after:?}"
    );
    assert!(
        after
            .www_authenticate
            .as_deref()
            .is_some_and(|h| h.contains("invalid_token")),
        "{after:?}"
    );
}

#[tokio::test]
async fn wrong_code_verifier() {
    let op = Op::start().await;
    let req = op.request();
    let code = op.code(&req).await;
    let mut form = op.code_form(&req, &code);
    let other = Pkce::new().verifier;
    set(&mut form, "code_verifier", Some(&other));
    token_refused(&op, form, Some(op.token_proof(&req.dpop)), "invalid_grant").await;
}

#[tokio::test]
async fn missing_code_verifier() {
    let op = Op::start().await;
    let req = op.request();
    let code = op.code(&req).await;
    let mut form = op.code_form(&req, &code);
    set(&mut form, "code_verifier", None);
    token_refused(&op, form, Some(op.token_proof(&req.dpop)), "invalid_grant").await;
}

#[tokio::test]
async fn redirect_uri_differs_at_the_token_endpoint() {
    let op = Op::start().await;
    let req = op.request();
    let code = op.code(&req).await;
    let mut form = op.code_form(&req, &code);
    set(
        &mut form,
        "redirect_uri",
        Some("http://127.0.0.1:9/elsewhere"),
    );
    token_refused(&op, form, Some(op.token_proof(&req.dpop)), "invalid_grant").await;
}

#[tokio::test]
async fn code_redeemed_by_another_client() {
    let op = Op::start().await;
    let other = second_client(&op).await;
    let req = op.request();
    let code = op.code(&req).await;
    let mut form = op.code_form(&req, &code);
    set(&mut form, "client_id", Some(&other.client_id));
    set(
        &mut form,
        "client_assertion",
        Some(&other.assertion(op.issuer())),
    );
    let b = before(&op).await;
    let answer = op.token_raw(&form, Some(op.token_proof(&req.dpop))).await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(answer.error(), "invalid_grant", "{answer:?}");
    assert_eq!(op.ledger().await, b.ledger);
    // The refusal names the client that asked (the second one).
    let refusals = op.refusals().await;
    let r = refusals.last().expect("an access-refused record");
    assert_eq!(r.client_id.as_deref(), Some("esd-web-2"), "{r:?}");
    assert_eq!(r.reasons.first().map(String::as_str), Some("invalid_grant"));
}

#[tokio::test]
async fn code_expired() {
    let op = Op::start_with(BrokerEnv::default().set("BROKER_OPENID_PROVIDER__CODE_TTL_SECS", "1"))
        .await;
    let req = op.request();
    let code = op.code(&req).await;
    let deadline = now_secs() + 2;
    while now_secs() <= deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    token_refused(
        &op,
        op.code_form(&req, &code),
        Some(op.token_proof(&req.dpop)),
        "invalid_grant",
    )
    .await;
}

// ---- DPoP --------------------------------------------------------------------------------------

#[tokio::test]
async fn dpop_missing_at_the_token_endpoint() {
    let op = Op::start().await;
    let req = op.request();
    let code = op.code(&req).await;
    token_refused(&op, op.code_form(&req, &code), None, "invalid_dpop_proof").await;
}

/// A flow with `offline_access` (an ongoing consent): its request and tokens.
async fn ongoing(op: &Op) -> (Request, Tokens) {
    let req = op.request_for(&op.redirect_uri, "openid offline_access", &ASKED);
    let tokens = op.tokens(&req).await;
    assert!(tokens.refresh_token.is_some(), "{:?}", tokens.body);
    (req, tokens)
}

#[tokio::test]
async fn dpop_proof_replayed_at_the_token_endpoint() {
    let op = Op::start().await;
    let req = op.request_for(&op.redirect_uri, "openid offline_access", &ASKED);
    let code = op.code(&req).await;
    let proof = op.token_proof(&req.dpop);
    let tokens = tokens_of(
        &op.token_raw(&op.code_form(&req, &code), Some(proof.clone()))
            .await,
    );
    let form = vec![
        ("grant_type".into(), "refresh_token".into()),
        (
            "refresh_token".into(),
            tokens.refresh_token.clone().unwrap(),
        ),
        ("client_id".into(), op.app.client_id.clone()),
        ("client_assertion_type".into(), ASSERTION_TYPE.into()),
        ("client_assertion".into(), op.assertion()),
    ];
    token_refused(&op, form, Some(proof), "invalid_dpop_proof").await;
}

#[tokio::test]
async fn dpop_proof_replayed_at_userinfo() {
    let op = Op::start().await;
    let req = op.request();
    let tokens = op.tokens(&req).await;
    let proof = req.dpop.proof(
        "GET",
        &op.endpoint("userinfo_endpoint"),
        Some(&tokens.access_token),
    );
    let first = op
        .userinfo_raw("DPoP", &tokens.access_token, Some(proof.clone()))
        .await;
    assert_eq!(first.status, 200, "{first:?}");
    let again = op
        .userinfo_raw("DPoP", &tokens.access_token, Some(proof))
        .await;
    assert_eq!(again.status, 401, "{again:?}");
    assert!(
        again
            .www_authenticate
            .as_deref()
            .is_some_and(|h| h.starts_with("DPoP") && h.contains("invalid_dpop_proof")),
        "RFC 9449 §7.1: {again:?}"
    );
}

/// Redeems a fresh code with a proof built by `proof` from the request's key and the token URL.
async fn token_with_proof(op: &Op, proof: impl FnOnce(&Request, &str) -> String, error: &str) {
    let req = op.request();
    let code = op.code(&req).await;
    let token_url = op.endpoint("token_endpoint");
    let proof = proof(&req, &token_url);
    token_refused(op, op.code_form(&req, &code), Some(proof), error).await;
}

#[tokio::test]
async fn dpop_wrong_htm() {
    let op = Op::start().await;
    token_with_proof(
        &op,
        |req, url| req.dpop.proof("GET", url, None),
        "invalid_dpop_proof",
    )
    .await;
}

#[tokio::test]
async fn dpop_wrong_htu() {
    let op = Op::start().await;
    let other = op.endpoint("userinfo_endpoint");
    token_with_proof(
        &op,
        |req, _| req.dpop.proof("POST", &other, None),
        "invalid_dpop_proof",
    )
    .await;
}

#[tokio::test]
async fn dpop_stale_iat() {
    let op = Op::start().await;
    token_with_proof(
        &op,
        |req, url| {
            req.dpop
                .proof_with("POST", url, None, |_, c| c["iat"] = json!(now_secs() - 600))
        },
        "invalid_dpop_proof",
    )
    .await;
}

#[tokio::test]
async fn dpop_future_iat() {
    let op = Op::start().await;
    token_with_proof(
        &op,
        |req, url| {
            req.dpop
                .proof_with("POST", url, None, |_, c| c["iat"] = json!(now_secs() + 600))
        },
        "invalid_dpop_proof",
    )
    .await;
}

#[tokio::test]
async fn dpop_key_not_the_codes_dpop_jkt() {
    let op = Op::start().await;
    token_with_proof(
        &op,
        |_, url| Es256Key::generate().proof("POST", url, None),
        "invalid_dpop_proof",
    )
    .await;
}

#[tokio::test]
async fn dpop_alg_none() {
    let op = Op::start().await;
    token_with_proof(
        &op,
        |req, url| {
            let signed = req.dpop.proof_with("POST", url, None, |h, _| {
                h["alg"] = json!("none");
            });
            // Header and claims as signed, the signature dropped: `alg: none`.
            let mut parts = signed.split('.');
            format!("{}.{}.", parts.next().unwrap(), parts.next().unwrap())
        },
        "invalid_dpop_proof",
    )
    .await;
}

#[tokio::test]
async fn dpop_hmac() {
    let op = Op::start().await;
    token_with_proof(
        &op,
        |req, url| {
            // HS256 keyed with the public key's `x`: what an algorithm-confusion attack sends.
            let header = json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": req.dpop.jwk});
            let claims = json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": "POST",
                "htu": url, "iat": now_secs()});
            let input = format!(
                "{}.{}",
                broker_e2e::release::b64(header.to_string()),
                broker_e2e::release::b64(claims.to_string())
            );
            let key = ring::hmac::Key::new(
                ring::hmac::HMAC_SHA256,
                req.dpop.jwk["x"].as_str().unwrap().as_bytes(),
            );
            let tag = ring::hmac::sign(&key, input.as_bytes());
            format!("{input}.{}", broker_e2e::release::b64(tag.as_ref()))
        },
        "invalid_dpop_proof",
    )
    .await;
}

#[tokio::test]
async fn dpop_token_presented_as_bearer() {
    let op = Op::start().await;
    let req = op.request();
    let tokens = op.tokens(&req).await;
    assert_eq!(tokens.body["token_type"], "DPoP", "{:?}", tokens.body);
    let answer = op.userinfo_raw("Bearer", &tokens.access_token, None).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert!(
        answer
            .www_authenticate
            .as_deref()
            .is_some_and(|h| h.contains("invalid_token") || h.starts_with("DPoP")),
        "{answer:?}"
    );
    // With a proof, still as Bearer: refused too (the scheme says what the token is).
    let proof = req.dpop.proof(
        "GET",
        &op.endpoint("userinfo_endpoint"),
        Some(&tokens.access_token),
    );
    let answer = op
        .userinfo_raw("Bearer", &tokens.access_token, Some(proof))
        .await;
    assert_eq!(answer.status, 401, "{answer:?}");
}

#[tokio::test]
async fn dpop_token_with_another_key_at_userinfo() {
    let op = Op::start().await;
    let req = op.request();
    let tokens = op.tokens(&req).await;
    let answer = op
        .userinfo(&tokens.access_token, &Es256Key::generate())
        .await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert!(
        answer
            .www_authenticate
            .as_deref()
            .is_some_and(|h| h.contains("invalid_token")),
        "RFC 9449 §7.1: {answer:?}"
    );
}

// ---- refresh tokens -----------------------------------------------------------------------------

#[tokio::test]
async fn refresh_token_reused_revokes_the_grant() {
    let op = Op::start().await;
    let (req, tokens) = ongoing(&op).await;
    let first = tokens.refresh_token.unwrap();
    let rotated = tokens_of(&op.refresh(&first, &req.dpop).await);
    let second = rotated
        .refresh_token
        .clone()
        .expect("a rotated refresh token");
    assert_ne!(first, second, "rotated");
    let b = before(&op).await;
    let reuse = op.refresh(&first, &req.dpop).await;
    refused(&op, &b, &reuse, 400, "invalid_grant", Audit::Recorded).await;
    // The reuse revoked the grant: the newest refresh token and access token are dead too.
    let answer = op.refresh(&second, &req.dpop).await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "invalid_grant"),
        "{answer:?}"
    );
    let info = op.userinfo(&rotated.access_token, &req.dpop).await;
    assert_eq!(info.status, 401, "{info:?}");
}

#[tokio::test]
async fn refresh_token_of_another_client() {
    let op = Op::start().await;
    let other = second_client(&op).await;
    let (req, tokens) = ongoing(&op).await;
    let form = vec![
        ("grant_type".into(), "refresh_token".into()),
        ("refresh_token".into(), tokens.refresh_token.unwrap()),
        ("client_id".into(), other.client_id.clone()),
        ("client_assertion_type".into(), ASSERTION_TYPE.into()),
        ("client_assertion".into(), other.assertion(op.issuer())),
    ];
    let answer = op.token_raw(&form, Some(op.token_proof(&req.dpop))).await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(answer.error(), "invalid_grant", "{answer:?}");
    let refusals = op.refusals().await;
    let r = refusals.last().expect("an access-refused record");
    assert_eq!(r.client_id.as_deref(), Some("esd-web-2"), "{r:?}");
    assert_eq!(r.reasons.first().map(String::as_str), Some("invalid_grant"));
}

// ---- logout ------------------------------------------------------------------------------------

#[tokio::test]
async fn logout_to_an_unregistered_post_logout_redirect_uri() {
    let op = Op::start().await;
    let req = op.request();
    let tokens = op.tokens(&req).await;
    let mut url = url::Url::parse(&op.endpoint("end_session_endpoint")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", &tokens.id_token)
        .append_pair("client_id", &op.app.client_id)
        .append_pair("post_logout_redirect_uri", "https://attacker.example/")
        .append_pair("state", "s1");
    let answer = op.browse(&op.browser, url.as_str()).await;
    assert!(
        !answer
            .location
            .as_deref()
            .is_some_and(|l| l.starts_with("https://attacker.example")),
        "never sent to an unregistered URI: {answer:?}"
    );
    assert!(
        !answer.text.contains("attacker.example"),
        "not even as a link: {answer:?}"
    );
    // The registered one is where the same request goes (the refusal is about the URI).
    let mut url = url::Url::parse(&op.endpoint("end_session_endpoint")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", &tokens.id_token)
        .append_pair("client_id", &op.app.client_id)
        .append_pair("post_logout_redirect_uri", &op.post_logout_uri)
        .append_pair("state", "s2");
    let answer = op.journey(&op.browser, url.as_str(), "approve").await;
    let to = answer.location.clone().unwrap_or_default();
    assert!(to.starts_with(&op.post_logout_uri), "{answer:?}");
    assert_eq!(answer.location_param("state").as_deref(), Some("s2"));
}
