//! The attack catalogue: each case gets the right status and stable code, nothing is released,
//! and wherever the department was identified (a valid access token of ours) the refusal is in
//! the audit log as `release-denied` with its reasons. At the token endpoint, a refusal after the
//! client assertion's signature verified identifies the client: it is an `access-refused` record
//! with the code and the check that failed; any other refusal writes nothing at all (no audit
//! record, no stored `jti`).

use broker_e2e::Broker;
use broker_e2e::departments::call;
use broker_e2e::release::*;
use consent::Consent;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;
use services::oauth::token::AccessClaims;

use super::{ESD, PENSION, alice};

/// Alice, her pension consent to ESD (names, birthdate, address), an ESD client whose key is
/// held here, and the broker running.
struct Setup {
    world: World,
    broker: Broker,
    client: RustClient,
    citizen: String,
    sub: String,
    consent: Consent,
}

async fn setup() -> Setup {
    setup_with_scopes(&["attributes:read", "consent:request"]).await
}

async fn setup_with_scopes(scopes: &[&str]) -> Setup {
    let world = World::new().await;
    let citizen = alice(&world).await;
    let sub = world.subject(ESD, &citizen).await;
    let consent = world
        .grant(
            &citizen,
            ESD,
            PENSION,
            &["given_name", "family_name", "birthdate", "address"],
            30,
        )
        .await;
    let client = RustClient::generate(ESD, "esd-pensions");
    client.register(&world.conn, scopes).await;
    let broker = world.start().await;
    Setup {
        world,
        broker,
        client,
        citizen,
        sub,
        consent,
    }
}

impl Setup {
    fn path(&self, claims: &str, purpose: &str) -> String {
        attributes_path(&self.sub, claims, purpose)
    }

    async fn token(&self) -> String {
        self.client
            .token(&self.broker.base, Some("attributes:read"))
            .await
    }

    async fn ask(&self, claims: &str, purpose: &str) -> ApiAnswer {
        let token = self.token().await;
        get(&self.broker.base, &token, &self.path(claims, purpose)).await
    }

    /// The refusal's audit record (named by the problem's `txn`): a `release-denied` of this
    /// department and client with exactly `reasons`.
    async fn assert_audited_denial(&self, answer: &ApiAnswer, reasons: &[&str]) -> audit::Record {
        let txn = answer.json()["txn"]
            .as_str()
            .unwrap_or_else(|| panic!("no txn in {}", answer.body))
            .to_owned();
        let record = self
            .world
            .audit()
            .await
            .into_iter()
            .find(|r| r.id == txn)
            .unwrap_or_else(|| panic!("no audit record {txn}"));
        assert_eq!(record.action.as_str(), "release-denied");
        assert_eq!(record.outcome.as_str(), "deny");
        assert_eq!(record.department_id.as_deref(), Some(ESD));
        assert_eq!(
            record.client_id.as_deref(),
            Some(self.client.client_id.as_str())
        );
        assert_eq!(record.reasons, reasons, "{record:?}");
        self.assert_nothing_released().await;
        record
    }

    /// No release record, and no value in what the broker logged.
    async fn assert_nothing_released(&self) {
        let records = self.world.audit().await;
        assert!(
            records.iter().all(|r| r.action.as_str() != "release"),
            "{records:?}"
        );
        let log = self.broker.log_text();
        assert!(!log.contains("Tremblay") && !log.contains("1958-04-12"));
    }

    /// A refused token request: RFC 6749 error, no token, no stored `jti`; an `access-refused`
    /// record with `error` and `cause` when the signature verified (`cause` given), else no
    /// record at all.
    async fn assert_token_refused(&self, assertion: &str, error: &str, cause: Option<&str>) {
        let (status, body) = token_request(&self.broker.base, assertion, None).await;
        let expected = if error == "invalid_client" { 401 } else { 400 };
        assert_eq!(status, expected, "{body}");
        assert_eq!(body["error"], error, "{body}");
        assert!(body.get("access_token").is_none());
        assert!(body["error_description"].is_string());
        let records = self.world.audit().await;
        match cause {
            None => assert!(
                records.is_empty(),
                "no department was identified: {records:?}"
            ),
            Some(cause) => {
                assert_eq!(records.len(), 1, "{records:?}");
                let r = &records[0];
                assert_eq!(r.action.as_str(), "access-refused");
                assert_eq!(r.outcome.as_str(), "deny");
                assert_eq!(r.department_id.as_deref(), Some(ESD));
                assert_eq!(r.client_id.as_deref(), Some(self.client.client_id.as_str()));
                assert_eq!(r.reasons, [error, cause]);
                assert_eq!(r.detail.get("endpoint").map(String::as_str), Some("token"));
                assert!(
                    !format!("{r:?}").contains(assertion),
                    "never the assertion itself"
                );
            }
        }
        let jtis = services::departments::entities::assertion_jti::Entity::find()
            .count(&self.world.conn)
            .await
            .unwrap();
        assert_eq!(jtis, 0, "a refused assertion's jti is not stored");
    }

    /// An access token signed with the broker's own key (read from its data directory).
    fn forge_with_broker_key(&self, claims: &AccessClaims) -> String {
        let keys = services::keys::SigningKeys::open_dir(
            &self.broker.data_dir.join("keys").join("signing"),
            3600,
        )
        .unwrap();
        keys.sign(Some("at+jwt"), claims).unwrap()
    }

    fn access_claims(&self) -> AccessClaims {
        let now = store::now_ms() / 1000;
        AccessClaims {
            iss: self.broker.base.clone(),
            sub: self.client.client_id.clone(),
            aud: format!("{}/api", self.broker.base),
            client_id: self.client.client_id.clone(),
            dept: ESD.into(),
            scope: "attributes:read".into(),
            iat: now,
            exp: now + 300,
            jti: uuid::Uuid::now_v7().to_string(),
            cnf: None,
        }
    }

    async fn assert_token_rejected(&self, token: &str, code: &str) {
        let answer = get(&self.broker.base, token, &self.path("given_name", PENSION)).await;
        assert_eq!(answer.status, 401, "{}", answer.body);
        assert_eq!(answer.code(), code);
        assert!(answer.json().get("txn").is_none());
        assert!(self.world.audit().await.is_empty(), "nobody was identified");
    }
}

// ---- client assertions (token endpoint) ----------------------------------------------------

#[tokio::test]
async fn assertion_with_alg_none_is_refused() {
    let s = setup().await;
    let header = b64(serde_json::to_vec(&json!({"alg": "none", "typ": "JWT"})).unwrap());
    let claims = b64(serde_json::to_vec(&s.client.claims(&s.broker.base)).unwrap());
    s.assert_token_refused(&format!("{header}.{claims}."), "invalid_client", None)
        .await;
}

#[tokio::test]
async fn assertion_with_hs256_keyed_by_the_public_key_is_refused() {
    let s = setup().await;
    let header = b64(serde_json::to_vec(
        &json!({"alg": "HS256", "typ": "JWT", "kid": s.client.kid}),
    )
    .unwrap());
    let claims = b64(serde_json::to_vec(&s.client.claims(&s.broker.base)).unwrap());
    let input = format!("{header}.{claims}");
    // The classic confusion: the public key's bytes as the HMAC secret.
    let secret = serde_json::to_vec(&s.client.public_jwk).unwrap();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
    let tag = ring::hmac::sign(&key, input.as_bytes());
    s.assert_token_refused(
        &format!("{input}.{}", b64(tag.as_ref())),
        "invalid_client",
        None,
    )
    .await;
}

#[tokio::test]
async fn assertion_for_another_audience_is_refused() {
    let s = setup().await;
    let mut claims = s.client.claims(&s.broker.base);
    claims["aud"] = json!("https://other-broker.example");
    s.assert_token_refused(
        &s.client.sign(&s.client.header(), &claims),
        "invalid_client",
        Some("assertion_audience"),
    )
    .await;
}

#[tokio::test]
async fn delegation_act_forged_in_a_client_assertion_is_refused() {
    let s = setup().await;
    let mut claims = s.client.claims(&s.broker.base);
    claims["act"] = json!({"sub": "someone-the-department-pretends-to-be"});
    s.assert_token_refused(
        &s.client.sign(&s.client.header(), &claims),
        "invalid_client",
        Some("assertion_act"),
    )
    .await;
}

#[tokio::test]
async fn assertion_whose_issuer_is_not_the_client_is_refused() {
    let s = setup().await;
    let mut claims = s.client.claims(&s.broker.base);
    claims["iss"] = json!("someone-else");
    s.assert_token_refused(
        &s.client.sign(&s.client.header(), &claims),
        "invalid_client",
        Some("assertion_issuer_subject"),
    )
    .await;
}

#[tokio::test]
async fn assertion_whose_subject_is_another_client_is_refused() {
    let s = setup().await;
    let other = RustClient::generate("revenue-agency", "revenue-app");
    other.register(&s.world.conn, &["attributes:read"]).await;
    // Signed by our client's key, claiming to be the other client.
    let mut claims = s.client.claims(&s.broker.base);
    claims["sub"] = json!(other.client_id);
    s.assert_token_refused(
        &s.client.sign(&s.client.header(), &claims),
        "invalid_client",
        None,
    )
    .await;
}

#[tokio::test]
async fn expired_assertion_is_refused() {
    let s = setup().await;
    let now = store::now_ms() / 1000;
    let mut claims = s.client.claims(&s.broker.base);
    claims["iat"] = json!(now - 600);
    claims["nbf"] = json!(now - 600);
    claims["exp"] = json!(now - 300);
    s.assert_token_refused(
        &s.client.sign(&s.client.header(), &claims),
        "invalid_client",
        Some("assertion_expired"),
    )
    .await;
}

#[tokio::test]
async fn assertion_living_longer_than_five_minutes_is_refused() {
    let s = setup().await;
    let mut claims = s.client.claims(&s.broker.base);
    claims["exp"] = json!(store::now_ms() / 1000 + 3600);
    s.assert_token_refused(
        &s.client.sign(&s.client.header(), &claims),
        "invalid_client",
        Some("assertion_lifetime"),
    )
    .await;
}

#[tokio::test]
async fn replayed_assertion_is_refused_even_by_another_instance() {
    let s = setup().await;
    // A second instance of the same service: same database, same public issuer URL.
    let second = s
        .world
        .start_with(broker_e2e::BrokerEnv::default().set("BROKER_PUBLIC_URL", &s.broker.base))
        .await;
    let assertion = s.client.assertion(&s.broker.base);
    let (status, first) = token_request(&s.broker.base, &assertion, None).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["expires_in"], 300);
    assert_eq!(first["scope"], "attributes:read consent:request");
    for instance in [&s.broker.base, &second.base] {
        let (status, body) = token_request(instance, &assertion, None).await;
        assert_eq!(status, 401, "{instance}: {body}");
        assert_eq!(body["error"], "invalid_client");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("already used"),
            "{body}"
        );
    }
    // A fresh assertion still works on the second instance: the refusal was the replay.
    let (status, body) =
        token_request(&second.base, &s.client.assertion(&s.broker.base), None).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn assertion_with_an_unknown_kid_is_refused() {
    let s = setup().await;
    let mut header = s.client.header();
    header["kid"] = json!("never-registered");
    s.assert_token_refused(
        &s.client.sign(&header, &s.client.claims(&s.broker.base)),
        "invalid_client",
        None,
    )
    .await;
}

#[tokio::test]
async fn assertion_signed_with_another_clients_key_is_refused() {
    let s = setup().await;
    let other = RustClient::generate("revenue-agency", "revenue-app");
    other.register(&s.world.conn, &["attributes:read"]).await;
    // Claims to be our client, under our kid, signed by the other client's (registered) key.
    let forged = other.sign(&s.client.header(), &s.client.claims(&s.broker.base));
    s.assert_token_refused(&forged, "invalid_client", None)
        .await;
    // And under the other client's kid: not one of our client's keys.
    let mut header = s.client.header();
    header["kid"] = json!(other.kid);
    let forged = other.sign(&header, &s.client.claims(&s.broker.base));
    s.assert_token_refused(&forged, "invalid_client", None)
        .await;
}

#[tokio::test]
async fn scope_escalation_at_the_token_endpoint_is_refused() {
    let s = setup().await;
    let (status, body) = token_request(
        &s.broker.base,
        &s.client.assertion(&s.broker.base),
        Some("attributes:read audit:read"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_scope");
    assert!(body.get("access_token").is_none());
    // The assertion verified: the client is identified, and its attempt recorded.
    let records = s.world.audit().await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].action.as_str(), "access-refused");
    assert_eq!(records[0].department_id.as_deref(), Some(ESD));
    assert_eq!(records[0].client_id.as_deref(), Some("esd-pensions"));
    assert_eq!(records[0].reasons, ["invalid_scope", "scope_not_held"]);
}

// ---- access tokens -------------------------------------------------------------------------

#[tokio::test]
async fn expired_access_token_is_refused() {
    let s = setup().await;
    let mut claims = s.access_claims();
    claims.iat -= 900;
    claims.exp = claims.iat + 300;
    let token = s.forge_with_broker_key(&claims);
    let answer = get(&s.broker.base, &token, &s.path("given_name", PENSION)).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(answer.code(), "token_expired");
    // Signed by the broker: expired, it still names its client, so the refusal is recorded.
    let records = s.world.audit().await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].action.as_str(), "release-denied");
    assert_eq!(records[0].department_id.as_deref(), Some(ESD));
    assert_eq!(records[0].client_id.as_deref(), Some("esd-pensions"));
    assert_eq!(records[0].reasons, ["token_expired"]);
    assert_eq!(
        records[0].detail.get("token").map(String::as_str),
        Some(claims.jti.as_str())
    );
}

#[tokio::test]
async fn access_token_for_another_audience_is_refused() {
    let s = setup().await;
    let mut claims = s.access_claims();
    claims.aud = s.broker.base.clone();
    s.assert_token_rejected(&s.forge_with_broker_key(&claims), "invalid_token")
        .await;
}

#[tokio::test]
async fn access_token_signed_by_an_unknown_key_is_refused() {
    let s = setup().await;
    let elsewhere = broker_e2e::temp_dir();
    let keys = services::keys::SigningKeys::open_dir(elsewhere.path(), 3600).unwrap();
    let token = keys.sign(Some("at+jwt"), &s.access_claims()).unwrap();
    s.assert_token_rejected(&token, "invalid_token").await;
}

#[tokio::test]
async fn access_token_altered_by_one_byte_is_refused() {
    let s = setup().await;
    let token = s.token().await;
    // Widen the scope claim in the payload by one byte's change, keeping the signature.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut payload = parts[1].clone().into_bytes();
    let i = payload.len() / 2;
    payload[i] = if payload[i] == b'A' { b'B' } else { b'A' };
    parts[1] = String::from_utf8(payload).unwrap();
    s.assert_token_rejected(&parts.join("."), "invalid_token")
        .await;
    // Without any token at all.
    let answer = reqwest::get(s.broker.url(&s.path("given_name", PENSION)))
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 401);
    assert!(
        answer
            .headers()
            .get("www-authenticate")
            .is_some_and(|v| v.to_str().unwrap().starts_with("Bearer"))
    );
}

#[tokio::test]
async fn token_without_the_attributes_scope_is_refused_and_audited() {
    let s = setup().await;
    let token = s
        .client
        .token(&s.broker.base, Some("consent:request"))
        .await;
    let answer = get(&s.broker.base, &token, &s.path("given_name", PENSION)).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.code(), "insufficient_scope");
    let records = s.world.audit().await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].action.as_str(), "release-denied");
    assert_eq!(records[0].department_id.as_deref(), Some(ESD));
    assert_eq!(records[0].reasons, ["insufficient_scope"]);
    s.assert_nothing_released().await;
}

// ---- subjects, purposes, consents, assurance -----------------------------------------------

#[tokio::test]
async fn another_departments_pairwise_id_is_not_found_like_any_unknown_id() {
    let s = setup().await;
    let theirs = s.world.subject("revenue-agency", &s.citizen).await;
    assert_ne!(theirs, s.sub);
    let token = s.token().await;
    let other = get(
        &s.broker.base,
        &token,
        &attributes_path(&theirs, "given_name", PENSION),
    )
    .await;
    let random = get(
        &s.broker.base,
        &token,
        &attributes_path(&b64([9u8; 32]), "given_name", PENSION),
    )
    .await;
    for answer in [&other, &random] {
        assert_eq!(answer.status, 404, "{}", answer.body);
        assert_eq!(answer.code(), "subject_not_found");
        assert_eq!(answer.json()["detail"], "no such subject");
    }
    let record = s
        .assert_audited_denial(&other, &["subject_not_found"])
        .await;
    assert_eq!(
        record.citizen_id, None,
        "the broker says nothing of who it is"
    );
    s.assert_audited_denial(&random, &["subject_not_found"])
        .await;
}

#[tokio::test]
async fn a_purpose_the_policy_does_not_allow_is_denied() {
    let s = setup().await;
    // A catalogued purpose, but no ESD policy releases names for travel documents.
    let answer = s.ask("given_name", "travel-document-issuance").await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.code(), "policy_denied");
    assert_eq!(
        answer.json()["withheld"],
        json!([{"claim": "given_name", "code": "policy_denied"}])
    );
    let record = s.assert_audited_denial(&answer, &["policy_denied"]).await;
    assert_eq!(record.purpose.as_deref(), Some("travel-document-issuance"));
    assert_eq!(record.attributes, ["given_name"]);
    // An uncatalogued purpose has its own code.
    let answer = s.ask("given_name", "marketing").await;
    assert_eq!(answer.code(), "purpose_unknown");
    s.assert_audited_denial(&answer, &["purpose_unknown"]).await;
}

#[tokio::test]
async fn consent_revoked_one_second_before_is_denied() {
    let mut s = setup().await;
    let token = s.token().await;
    let ok = get(&s.broker.base, &token, &s.path("given_name", PENSION)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let mut consent = s.consent.clone();
    s.world.revoke(&mut consent).await;
    s.consent = consent;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let answer = get(&s.broker.base, &token, &s.path("given_name", PENSION)).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.code(), "consent_revoked");
    let txn = answer.json()["txn"].as_str().unwrap().to_owned();
    let record = s
        .world
        .audit()
        .await
        .into_iter()
        .find(|r| r.id == txn)
        .unwrap();
    assert_eq!(record.action.as_str(), "release-denied");
    assert_eq!(record.reasons, ["consent_revoked", "esd-identity-pension"]);
    assert_eq!(
        record.consent_id.as_deref(),
        Some(s.consent.id().to_string().as_str())
    );
}

#[tokio::test]
async fn consent_for_another_purpose_does_not_count() {
    let s = setup().await;
    // ESD holds a pension consent for the address; it asks for benefit eligibility.
    let answer = s.ask("address", "benefit-eligibility").await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.code(), "no_consent");
    s.assert_audited_denial(&answer, &["no_consent", "esd-address-benefits"])
        .await;
}

#[tokio::test]
async fn expired_consent_is_denied() {
    let s = setup().await;
    let now = store::now_ms();
    let other = s
        .world
        .citizen(&[FactSpec::provider("given_name", json!("Bob"), 2)])
        .await;
    let sub = s.world.subject(ESD, &other).await;
    s.world
        .grant_at(
            &other,
            ESD,
            PENSION,
            &["given_name"],
            now - 2 * DAY_MS,
            now - DAY_MS,
        )
        .await;
    let token = s.token().await;
    let answer = get(
        &s.broker.base,
        &token,
        &attributes_path(&sub, "given_name", PENSION),
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.code(), "consent_expired");
    s.assert_audited_denial(&answer, &["consent_expired", "esd-identity-pension"])
        .await;
    assert!(!answer.body.contains("Bob"));
}

#[tokio::test]
async fn a_claim_the_consent_does_not_cover_is_withheld_from_a_partial_grant() {
    let s = setup().await;
    // marital_status is not in the consent; given_name is.
    let answer = s.ask("given_name,marital_status", PENSION).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let payload = payload(&answer.body);
    assert_eq!(
        payload["withheld"],
        json!([{"claim": "marital_status", "code": "consent_not_covering"}])
    );
    assert!(!answer.body.contains("married"));
    // Asking only for what the consent does not cover is a denial.
    let answer = s.ask("marital_status", PENSION).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.code(), "consent_not_covering");
}

#[tokio::test]
async fn too_low_an_assurance_is_denied() {
    let s = setup().await;
    // The passport office needs LoA 3 for names; Alice's names are LoA 2 (her bank partner).
    let passport = RustClient::generate("passport-office", "passport-app");
    passport.register(&s.world.conn, &["attributes:read"]).await;
    let sub = s.world.subject("passport-office", &s.citizen).await;
    s.world
        .grant(
            &s.citizen,
            "passport-office",
            "travel-document-issuance",
            &["given_name", "family_name", "birthdate"],
            30,
        )
        .await;
    let token = passport.token(&s.broker.base, None).await;
    let answer = get(
        &s.broker.base,
        &token,
        &attributes_path(&sub, "given_name,family_name", "travel-document-issuance"),
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.code(), "insufficient_assurance");
    let txn = answer.json()["txn"].as_str().unwrap().to_owned();
    let record = s
        .world
        .audit()
        .await
        .into_iter()
        .find(|r| r.id == txn)
        .unwrap();
    assert_eq!(record.department_id.as_deref(), Some("passport-office"));
    assert_eq!(
        record.reasons,
        ["insufficient_assurance", "passport-identity-travel"]
    );
    // Her birthdate comes from the register at LoA 3: that one is released.
    let answer = get(
        &s.broker.base,
        &token,
        &attributes_path(&sub, "given_name,birthdate", "travel-document-issuance"),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let payload = payload(&answer.body);
    assert_eq!(
        payload["verified_claims"][0]["claims"],
        json!({"birthdate": "1958-04-12"})
    );
    assert_eq!(
        payload["withheld"],
        json!([{"claim": "given_name", "code": "insufficient_assurance"}])
    );
}

#[tokio::test]
async fn a_disabled_departments_calls_and_token_requests_are_refused_within_a_second() {
    let s = setup().await;
    let token = s.token().await;
    assert_eq!(
        get(&s.broker.base, &token, &s.path("given_name", PENSION))
            .await
            .status,
        200
    );
    services::departments::set_active(&s.world.conn, ESD, false)
        .await
        .unwrap();
    s.broker
        .registry_caught_up(&s.world.conn, std::time::Duration::from_secs(10))
        .await;
    let answer = get(&s.broker.base, &token, &s.path("given_name", PENSION)).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(answer.code(), "token_revoked");
    let records = s.world.audit().await;
    let last = records.last().unwrap();
    assert_eq!(last.action.as_str(), "release-denied");
    assert_eq!(last.department_id.as_deref(), Some(ESD));
    assert_eq!(last.reasons, ["token_revoked"]);
    let (status, body) =
        token_request(&s.broker.base, &s.client.assertion(&s.broker.base), None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(
        records
            .iter()
            .filter(|r| r.action.as_str() == "release")
            .count(),
        1,
        "only the release before the disable"
    );
}

// ---- malformed and oversized queries -------------------------------------------------------

#[tokio::test]
async fn malformed_queries_are_refused_and_audited() {
    let s = setup().await;
    let token = s.token().await;
    let base = format!("/api/v1/subjects/{}/attributes", s.sub);
    for query in [
        "?purpose=pension-enrolment",
        "?claims=given_name",
        "?claims=given_name&claims=address&purpose=pension-enrolment",
        "?claims=given_name&purpose=pension-enrolment&debug=true",
        "?claims=Alice%20Tremblay&purpose=pension-enrolment",
        "?claims=given_name&purpose=%00",
    ] {
        let answer = get(&s.broker.base, &token, &format!("{base}{query}")).await;
        assert_eq!(answer.status, 400, "{query}: {}", answer.body);
        assert_eq!(answer.code(), "malformed_query", "{query}");
        assert!(!answer.body.contains("Alice"), "input is never echoed");
        s.assert_audited_denial(&answer, &["malformed_query"]).await;
    }
}

#[tokio::test]
async fn oversized_queries_are_refused_and_audited() {
    let s = setup().await;
    let token = s.token().await;
    let claims = vec!["given_name"; 300].join(",");
    let answer = get(&s.broker.base, &token, &s.path(&claims, PENSION)).await;
    assert_eq!(answer.status, 414, "{}", answer.body);
    assert_eq!(answer.code(), "query_too_large");
    s.assert_audited_denial(&answer, &["query_too_large"]).await;
    // Too many distinct claims, within the size limit.
    let many: Vec<String> = (0..40).map(|i| format!("c{i}")).collect();
    let answer = get(&s.broker.base, &token, &s.path(&many.join(","), PENSION)).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.code(), "malformed_query");
    // A subject id longer than any pairwise id is simply not found.
    let answer = get(
        &s.broker.base,
        &token,
        &attributes_path(&"A".repeat(500), "given_name", PENSION),
    )
    .await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.code(), "subject_not_found");
}

#[tokio::test]
async fn a_denial_reaches_openid_client_as_a_problem_with_codes() {
    let s = setup().await;
    let dept = s
        .world
        .node_client(ESD, "PS256", &["attributes:read"])
        .await;
    let out = call(
        &s.broker.base,
        &dept,
        None,
        &["--get", &s.path("address", "benefit-eligibility")],
    );
    assert_eq!(out["status"], 403, "{out}");
    assert_eq!(out["contentType"], "application/problem+json");
    assert_eq!(out["json"]["code"], "no_consent");
    assert_eq!(out["json"]["codes"], json!(["no_consent"]));
    assert!(out["json"]["txn"].is_string());
    s.assert_nothing_released().await;
}
