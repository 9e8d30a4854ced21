//! The provider's flow in process, over a test database (SQLite or PostgreSQL): a department's
//! application pushes a request with its `private_key_jwt`, the citizen approves on the consent
//! screen, the code is exchanged with a DPoP proof, userinfo answers `verified_claims`. The
//! browser and `openid-client` versions of the same are the end-to-end tests (tests/e2e/provider).

use ring::rand::SystemRandom;
use ring::signature::{self as sig, KeyPair};
use serde_json::{Value, json};

use super::authorize::{self, Step};
use super::{Provider, session_id};
use crate::citizens::{self, Provenance, SourceKind};
use crate::departments::{self, Client, ClientKeys};
use crate::error::Error;
use crate::jose::b64;
use crate::lang::Lang;
use crate::sessions::{NewSession, Role, Session};
use crate::testing::{ISSUER, TestServices};
use fapi::ErrorCode;
use store::now_ms;

const CLIENT: &str = "esd-pension-web";
const DEPARTMENT: &str = "employment-social-development";
const REDIRECT: &str = "https://pension.esd.example/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

struct Key {
    pkcs8: Vec<u8>,
    public: Value,
}

fn es256() -> Key {
    let rng = SystemRandom::new();
    let pkcs8 = sig::EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .unwrap()
        .as_ref()
        .to_vec();
    let pair =
        sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng).unwrap();
    let p = pair.public_key().as_ref();
    let public = json!({"kty": "EC", "crv": "P-256", "x": b64(&p[1..33]), "y": b64(&p[33..65])});
    Key { pkcs8, public }
}

fn sign(key: &Key, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64(serde_json::to_vec(header).unwrap()),
        b64(serde_json::to_vec(claims).unwrap())
    );
    let rng = SystemRandom::new();
    let pair =
        sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &key.pkcs8, &rng)
            .unwrap();
    let signature = pair.sign(&rng, input.as_bytes()).unwrap();
    format!("{input}.{}", b64(signature.as_ref()))
}

fn proof_by(key: &Key, method: &str, url: &str, token: Option<&str>) -> String {
    let mut claims = json!({"jti": uuid::Uuid::now_v7().to_string(), "htm": method,
                            "htu": url, "iat": now_ms() / 1000});
    if let Some(token) = token {
        claims["ath"] = json!(fapi::dpop::access_token_hash(token));
    }
    sign(
        key,
        &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public}),
        &claims,
    )
}

struct Fixture {
    t: TestServices,
    client_key: Key,
    dpop_key: Key,
    session: Session,
    citizen_id: String,
}

impl Fixture {
    async fn new() -> Self {
        let t = TestServices::new().await;
        let client_key = es256();
        let mut jwk = client_key.public.clone();
        jwk["kid"] = json!("k1");
        departments::upsert_client(
            &t.db,
            &Client {
                client_id: CLIENT.into(),
                department_id: DEPARTMENT.into(),
                keys: ClientKeys::Inline(json!({"keys": [jwk]})),
                scopes: vec!["attributes:read".into()],
                redirect_uris: vec![REDIRECT.into()],
                post_logout_redirect_uris: vec![],
                backchannel_logout_uri: None,
            },
        )
        .await
        .unwrap();
        t.oauth.registry.reload(&t.db).await.unwrap();
        let citizen_id = citizens::create(&t.db, &t.vault).await.unwrap();
        let provenance = Provenance {
            source_kind: SourceKind::Provider,
            source_id: "bank-sign-in-partner".into(),
            method: "asserted".into(),
            loa: 2,
            verified: true,
            recorded_at: now_ms(),
        };
        for (name, value) in [
            ("given_name", json!("Alice")),
            ("family_name", json!("Tremblay")),
            ("birthdate", json!("1958-03-14")),
        ] {
            citizens::record(&t.db, &t.vault, &citizen_id, name, &value, &provenance)
                .await
                .unwrap();
        }
        let (_, session) = t
            .sessions
            .start(NewSession {
                citizen_id: Some(citizen_id.clone()),
                role: Role::Citizen,
                provider_id: Some("bank-sign-in-partner".into()),
                loa: 2,
                id_token_hint: None,
            })
            .await
            .unwrap();
        Self {
            t,
            client_key,
            dpop_key: es256(),
            session,
            citizen_id,
        }
    }

    fn provider(&self) -> &Provider {
        &self.t.provider
    }

    fn assertion(&self, aud: &str) -> String {
        let now = now_ms() / 1000;
        sign(
            &self.client_key,
            &json!({"alg": "ES256", "kid": "k1"}),
            &json!({"iss": CLIENT, "sub": CLIENT, "aud": aud, "iat": now, "exp": now + 60,
                    "jti": uuid::Uuid::now_v7().to_string()}),
        )
    }

    fn proof(&self, method: &str, url: &str, token: Option<&str>) -> String {
        proof_by(&self.dpop_key, method, url, token)
    }

    fn form(&self, pairs: &[(&str, &str)], aud: &str) -> Vec<u8> {
        let assertion = self.assertion(aud);
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("client_assertion_type", crate::oauth::token::JWT_BEARER)
            .append_pair("client_assertion", &assertion);
        for (k, v) in pairs {
            form.append_pair(k, v);
        }
        form.finish().into_bytes()
    }

    async fn push(&self, extra: &[(&str, &str)]) -> Result<String, Error> {
        let claims = json!({"userinfo": {"verified_claims": {
            "verification": {"trust_framework": null},
            "claims": {"given_name": null, "family_name": null, "birthdate": null}}}});
        let claims = claims.to_string();
        let mut pairs: Vec<(&str, &str)> = vec![
            ("client_id", CLIENT),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", "st-1"),
            ("nonce", "nonce-0123456789"),
            ("purpose", "pension-enrolment"),
            ("claims", claims.as_str()),
        ];
        pairs.push(("scope", "openid offline_access"));
        // An extra parameter replaces the usual one of the same name.
        pairs.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        pairs.extend_from_slice(extra);
        let url = format!("{ISSUER}/oauth2/par");
        let proof = self.proof("POST", &url, None);
        let body = self.form(&pairs, ISSUER);
        let answer = super::push::push(self.provider(), &body, &[&proof]).await?;
        Ok(answer["request_uri"].as_str().unwrap().to_owned())
    }

    /// The code exchanged as the application would: its redirect URI and PKCE verifier.
    async fn exchange_code(&self, code: &str) -> Result<Value, Error> {
        self.exchange(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .await
    }

    async fn exchange(&self, pairs: &[(&str, &str)]) -> Result<Value, Error> {
        let url = format!("{ISSUER}/oauth2/token");
        let proof = self.proof("POST", &url, None);
        let body = self.form(pairs, ISSUER);
        super::token::exchange(self.provider(), &body, &[&proof]).await
    }

    async fn userinfo(&self, scheme: &str, token: &str) -> Result<Value, Error> {
        let url = format!("{ISSUER}/oauth2/userinfo");
        let proof = self.proof("GET", &url, Some(token));
        super::userinfo::userinfo(
            self.provider(),
            Some(&format!("{scheme} {token}")),
            &[&proof],
            "GET",
        )
        .await
    }

    /// Push, open, approve: the redirect with the code.
    async fn approved_code(&self) -> String {
        let request_uri = self.push(&[]).await.unwrap();
        let id = authorize::begin(
            self.provider(),
            &format!("client_id={CLIENT}&request_uri={request_uri}"),
        )
        .await
        .unwrap();
        match authorize::step(self.provider(), &id, Some(&self.session))
            .await
            .unwrap()
        {
            Step::Consent(screen) => {
                let names: Vec<&str> = screen.attributes.iter().map(|a| a.name.as_str()).collect();
                assert_eq!(names, ["given_name", "family_name", "birthdate"]);
                assert!(screen.attributes.iter().all(|a| {
                    a.source
                        .as_ref()
                        .is_some_and(|s| s.loa == 2 && s.kind == "provider")
                }));
            }
            other => panic!("expected the consent screen, got {other:?}"),
        }
        let answer = authorize::decide(self.provider(), &id, &self.session, true, Lang::Fr)
            .await
            .unwrap();
        let Step::Answer(location) = answer else {
            panic!("expected the answer, got {answer:?}");
        };
        let url = url::Url::parse(&location).unwrap();
        assert!(location.starts_with(REDIRECT));
        let query: std::collections::HashMap<String, String> =
            url.query_pairs().into_owned().collect();
        assert_eq!(query.get("iss").map(String::as_str), Some(ISSUER));
        assert_eq!(query.get("state").map(String::as_str), Some("st-1"));
        query["code"].clone()
    }
}

fn code_of(e: &Error) -> Option<ErrorCode> {
    match e {
        Error::Provider(p) => Some(p.code),
        Error::OAuth(_) => Some(ErrorCode::InvalidClient),
        _ => None,
    }
}

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&crate::jose::b64_decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn a_department_signs_a_citizen_in_and_gets_only_consented_verified_claims() {
    let f = Fixture::new().await;
    let code = f.approved_code().await;
    // The consent is the ledger's, with its receipt, given on the consent screen.
    let consents = crate::consents::for_citizen(&f.t.db, &f.citizen_id)
        .await
        .unwrap();
    assert_eq!(consents.len(), 1);
    assert_eq!(consents[0].department(), DEPARTMENT);
    assert_eq!(consents[0].mode(), consent::Mode::Ongoing);
    let answer = f.exchange_code(&code).await.unwrap();
    assert_eq!(answer["token_type"], "DPoP");
    let access = answer["access_token"].as_str().unwrap();
    let id = claims_of(answer["id_token"].as_str().unwrap());
    let department =
        f.t.oauth
            .registry
            .department(&f.t.db, DEPARTMENT)
            .await
            .unwrap()
            .unwrap();
    let pairwise = citizens::pairwise::compute(
        &f.t.secrets.pairwise,
        &department.sector_identifier,
        &f.citizen_id,
    );
    assert_eq!(id["sub"], pairwise.as_str());
    assert_eq!(id["aud"], CLIENT);
    assert_eq!(id["nonce"], "nonce-0123456789");
    assert_eq!(id["acr"], "urn:tell-us-once:loa:2");
    assert_eq!(id["sid"], session_id(&f.session.id_hash, CLIENT).as_str());
    // Bound to the DPoP key of the exchange.
    let thumbprint = fapi::jwk::PublicJwk::from_json(&f.dpop_key.public)
        .unwrap()
        .thumbprint();
    assert_eq!(claims_of(access)["cnf"]["jkt"], thumbprint.as_str());
    assert!(
        answer["refresh_token"].is_string(),
        "ongoing: a refresh token"
    );

    let info = f.userinfo("DPoP", access).await.unwrap();
    assert_eq!(info["sub"], pairwise.as_str());
    let vc = &info["verified_claims"][0];
    assert_eq!(vc["claims"]["given_name"], "Alice");
    assert_eq!(vc["claims"]["birthdate"], "1958-03-14");
    assert_eq!(vc["verification"]["trust_framework"], "pctf");
    // Presented as a bearer token, a DPoP-bound token is refused (RFC 9449 §7.2).
    let bearer = f.userinfo("Bearer", access).await.unwrap_err();
    assert_eq!(code_of(&bearer), Some(ErrorCode::InvalidToken));

    // The code again: refused, and the tokens issued from it stop working.
    let again = f.exchange_code(&code).await.unwrap_err();
    assert_eq!(code_of(&again), Some(ErrorCode::InvalidGrant));
    let revoked = f.userinfo("DPoP", access).await.unwrap_err();
    assert_eq!(code_of(&revoked), Some(ErrorCode::InvalidToken));
}

#[tokio::test]
async fn refresh_tokens_rotate_and_stop_when_reused_or_when_the_consent_is_withdrawn() {
    let f = Fixture::new().await;
    let code = f.approved_code().await;
    let first = f.exchange_code(&code).await.unwrap();
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();
    let second = f
        .exchange(&[("grant_type", "refresh_token"), ("refresh_token", &r1)])
        .await
        .unwrap();
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2, "rotated");
    // Withdrawing the consent stops refresh and userinfo at once.
    let consent = &crate::consents::for_citizen(&f.t.db, &f.citizen_id)
        .await
        .unwrap()[0];
    crate::consents::ledger::revoke(&f.t.ledger, &f.citizen_id, &consent.id().to_string())
        .await
        .unwrap();
    let access = second["access_token"].as_str().unwrap();
    assert_eq!(
        code_of(&f.userinfo("DPoP", access).await.unwrap_err()),
        Some(ErrorCode::InvalidToken)
    );
    let refused = f
        .exchange(&[("grant_type", "refresh_token"), ("refresh_token", &r2)])
        .await
        .unwrap_err();
    assert_eq!(code_of(&refused), Some(ErrorCode::InvalidGrant));

    // On a fresh grant: the rotated-out token used again revokes the grant.
    let code = f.approved_code().await;
    let first = f.exchange_code(&code).await.unwrap();
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();
    let second = f
        .exchange(&[("grant_type", "refresh_token"), ("refresh_token", &r1)])
        .await
        .unwrap();
    let reused = f
        .exchange(&[("grant_type", "refresh_token"), ("refresh_token", &r1)])
        .await
        .unwrap_err();
    assert_eq!(code_of(&reused), Some(ErrorCode::InvalidGrant));
    let r2 = second["refresh_token"].as_str().unwrap();
    let after = f
        .exchange(&[("grant_type", "refresh_token"), ("refresh_token", r2)])
        .await
        .unwrap_err();
    assert_eq!(
        code_of(&after),
        Some(ErrorCode::InvalidGrant),
        "grant revoked"
    );
}

#[tokio::test]
async fn a_request_uri_is_used_once_and_prompt_none_never_interacts() {
    let f = Fixture::new().await;
    let request_uri = f.push(&[]).await.unwrap();
    let query = format!("client_id={CLIENT}&request_uri={request_uri}");
    authorize::begin(f.provider(), &query).await.unwrap();
    let reused = authorize::begin(f.provider(), &query).await.unwrap_err();
    assert_eq!(code_of(&reused), Some(ErrorCode::InvalidRequestUri));

    let request_uri = f.push(&[("prompt", "none")]).await.unwrap();
    let id = authorize::begin(
        f.provider(),
        &format!("client_id={CLIENT}&request_uri={request_uri}"),
    )
    .await
    .unwrap();
    let Step::Answer(location) = authorize::step(f.provider(), &id, None).await.unwrap() else {
        panic!("prompt=none must answer at once");
    };
    assert!(location.contains("error=login_required"), "{location}");
    // With a session but no consent: consent_required, and nothing written to the ledger.
    let request_uri = f.push(&[("prompt", "none")]).await.unwrap();
    let id = authorize::begin(
        f.provider(),
        &format!("client_id={CLIENT}&request_uri={request_uri}"),
    )
    .await
    .unwrap();
    let Step::Answer(location) = authorize::step(f.provider(), &id, Some(&f.session))
        .await
        .unwrap()
    else {
        panic!("prompt=none must answer at once");
    };
    assert!(location.contains("error=consent_required"), "{location}");
    let counts = crate::consents::counts(&f.t.db).await.unwrap();
    assert_eq!(counts.consents, 0);
}

#[tokio::test]
async fn refusing_on_the_consent_screen_answers_access_denied_and_is_recorded() {
    let f = Fixture::new().await;
    let request_uri = f.push(&[]).await.unwrap();
    let id = authorize::begin(
        f.provider(),
        &format!("client_id={CLIENT}&request_uri={request_uri}"),
    )
    .await
    .unwrap();
    let Step::Answer(location) = authorize::decide(f.provider(), &id, &f.session, false, Lang::En)
        .await
        .unwrap()
    else {
        panic!("a refusal answers the department");
    };
    assert!(location.contains("error=access_denied"), "{location}");
    assert!(location.contains("state=st-1"), "{location}");
    assert_eq!(crate::consents::counts(&f.t.db).await.unwrap().consents, 0);
    f.t.audit.integrate_batch(10_000).await.unwrap();
    let (records, _) = crate::audit_log::query::newest_first(
        &f.t.db,
        &crate::audit_log::query::Filter {
            citizen_id: Some(f.citizen_id.clone()),
            ..Default::default()
        },
        None,
        50,
    )
    .await
    .unwrap();
    let refusal = records
        .iter()
        .find(|r| r.action == "consent-refused")
        .expect("the refusal is in the audit log");
    assert_eq!(refusal.department_id.as_deref(), Some(DEPARTMENT));
    // The page cannot be answered twice.
    let twice = authorize::decide(f.provider(), &id, &f.session, true, Lang::En)
        .await
        .unwrap_err();
    assert_eq!(code_of(&twice), Some(ErrorCode::InvalidRequest));
}

#[tokio::test]
async fn a_push_asking_for_what_policy_never_gives_is_refused_and_stores_nothing() {
    let f = Fixture::new().await;
    for (name, extra, code) in [
        (
            "unknown purpose",
            vec![("purpose", "marketing")],
            ErrorCode::InvalidRequest,
        ),
        (
            "plain pkce",
            vec![("code_challenge_method", "plain")],
            ErrorCode::InvalidRequest,
        ),
        (
            "no openid",
            vec![("scope", "profile")],
            ErrorCode::InvalidScope,
        ),
        (
            "implicit",
            vec![("response_type", "token")],
            ErrorCode::UnsupportedResponseType,
        ),
    ] {
        let e = f.push(&extra).await.unwrap_err();
        assert_eq!(code_of(&e), Some(code), "{name}: {e}");
    }
    use sea_orm::{EntityTrait, PaginatorTrait};
    let stored = super::entities::request::Entity::find()
        .count(&f.t.db)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

#[test]
fn a_session_id_is_stable_per_client_and_reveals_nothing_of_the_session() {
    let a = session_id("hash-1", "client-a");
    assert_eq!(a, session_id("hash-1", "client-a"));
    assert_ne!(a, session_id("hash-1", "client-b"));
    assert_ne!(a, session_id("hash-2", "client-a"));
    assert!(!a.contains("hash-1"));
}

#[tokio::test]
async fn an_api_token_asked_with_dpop_is_bound_and_refused_without_its_proof() {
    use crate::oauth::bearer::{self, BearerError, DpopContext};
    let f = Fixture::new().await;
    let token_url = format!("{ISSUER}/oauth2/token");
    let proof = f.proof("POST", &token_url, None);
    let body = f.form(&[("grant_type", "client_credentials")], ISSUER);
    let granted = crate::oauth::token::grant(&f.t.oauth, &body, &[&proof])
        .await
        .unwrap();
    assert_eq!(granted.token_type, "DPoP");
    let token = granted.access_token;
    let url = format!("{ISSUER}/api/v1/subjects/x/attributes");
    let call = |scheme: &'static str, proof: Option<String>| {
        let token = token.clone();
        let url = url.clone();
        let oauth = f.t.oauth.clone();
        async move {
            let headers: Vec<&str> = proof.iter().map(String::as_str).collect();
            bearer::authenticate(
                &oauth,
                Some(&format!("{scheme} {token}")),
                DpopContext {
                    headers: &headers,
                    method: "GET",
                    url: &url,
                },
            )
            .await
        }
    };
    // As a bearer token: refused, and the refusal names the client (it is audited).
    let refused = call("Bearer", None).await.unwrap_err();
    assert!(matches!(
        refused.error,
        Error::Bearer(BearerError::DpopRequired)
    ));
    assert!(refused.identified.is_some());
    // With the DPoP scheme but no proof, or a proof by another key: refused.
    let none = call("DPoP", None).await.unwrap_err();
    assert!(matches!(
        none.error,
        Error::Bearer(BearerError::DpopProof(_))
    ));
    let foreign = proof_by(&es256(), "GET", &url, Some(&token));
    let wrong_key = call("DPoP", Some(foreign)).await.unwrap_err();
    assert!(matches!(
        wrong_key.error,
        Error::Bearer(BearerError::DpopProof(_))
    ));
    // With its proof: accepted once; the same proof again is a replay.
    let good = f.proof("GET", &url, Some(&token));
    let caller = call("DPoP", Some(good.clone())).await.unwrap();
    assert_eq!(caller.client_id, CLIENT);
    let replayed = call("DPoP", Some(good)).await.unwrap_err();
    assert!(matches!(
        replayed.error,
        Error::Bearer(BearerError::DpopProof(_))
    ));
    // A token asked without a proof stays a bearer token, and is refused under `DPoP`.
    let body = f.form(&[("grant_type", "client_credentials")], ISSUER);
    let plain = crate::oauth::token::grant(&f.t.oauth, &body, &[])
        .await
        .unwrap();
    assert_eq!(plain.token_type, "Bearer");
    let headers: [&str; 0] = [];
    let as_dpop = bearer::authenticate(
        &f.t.oauth,
        Some(&format!("DPoP {}", plain.access_token)),
        DpopContext {
            headers: &headers,
            method: "GET",
            url: &url,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(as_dpop.error, Error::Bearer(BearerError::Invalid)));
}

/// Opens an interaction for a request pushed with `extra` and takes its first step.
async fn first_step(f: &Fixture, extra: &[(&str, &str)], session: Option<&Session>) -> Step {
    let request_uri = f.push(extra).await.unwrap();
    let id = authorize::begin(
        f.provider(),
        &format!("client_id={CLIENT}&request_uri={request_uri}"),
    )
    .await
    .unwrap();
    authorize::step(f.provider(), &id, session).await.unwrap()
}

#[tokio::test]
async fn a_level_above_the_sessions_sends_the_citizen_to_step_up_with_the_departments_hint() {
    let f = Fixture::new().await;
    // Level 3 asked, the session is at level 2: sign in again at a provider giving 3.
    match first_step(
        &f,
        &[("acr_values", "urn:tell-us-once:loa:3")],
        Some(&f.session),
    )
    .await
    {
        Step::SignIn { minimum, next, .. } => {
            assert_eq!(minimum, Some(3));
            assert!(next.starts_with("/oauth2/interaction/"), "{next}");
        }
        other => panic!("expected a step-up, got {other:?}"),
    }
    // Under prompt=none a step-up cannot happen: an essential level fails, never a lower acr.
    let essential = json!({"id_token": {"acr": {"essential": true,
        "values": ["urn:tell-us-once:loa:3"]}}})
    .to_string();
    let Step::Answer(location) = first_step(
        &f,
        &[
            ("claims", essential.as_str()),
            ("prompt", "none"),
            ("scope", "openid"),
        ],
        Some(&f.session),
    )
    .await
    else {
        panic!("prompt=none answers at once");
    };
    assert!(location.contains("error=login_required"), "{location}");
    // A login_hint goes with the citizen to the sign-in page.
    match first_step(&f, &[("login_hint", "alice")], None).await {
        Step::SignIn { login_hint, .. } => assert_eq!(login_hint.as_deref(), Some("alice")),
        other => panic!("expected sign-in, got {other:?}"),
    }
}
