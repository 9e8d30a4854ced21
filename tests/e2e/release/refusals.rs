//! Every refusal that identifies its caller is in the audit log with its code, on every
//! department route and at the token endpoint; authorization is decided before a body or query
//! is parsed; refusals that identify nobody are only counted, in `/metrics` (issue 19).

use broker_e2e::Broker;
use broker_e2e::release::*;
use serde_json::json;

use super::ESD;

/// An ESD client holding only `held`, and the broker running.
struct Setup {
    world: World,
    broker: Broker,
    client: RustClient,
}

async fn setup(held: &[&str]) -> Setup {
    let world = World::new().await;
    let client = RustClient::generate(ESD, "esd-refused");
    client.register(&world.conn, held).await;
    let broker = world.start().await;
    Setup {
        world,
        broker,
        client,
    }
}

impl Setup {
    /// The one `access-refused` record: this department and client, `reasons`, `endpoint`.
    async fn assert_refusal_recorded(&self, reasons: &[&str], endpoint: &str) -> audit::Record {
        let records: Vec<audit::Record> = self
            .world
            .audit()
            .await
            .into_iter()
            .filter(|r| r.action.as_str() == "access-refused")
            .collect();
        assert_eq!(records.len(), 1, "{records:?}");
        let r = records.into_iter().next().unwrap();
        assert_eq!(r.outcome.as_str(), "deny");
        assert_eq!(r.actor.id, ESD);
        assert_eq!(r.department_id.as_deref(), Some(ESD));
        assert_eq!(r.client_id.as_deref(), Some("esd-refused"));
        assert_eq!(r.reasons, reasons, "{r:?}");
        assert_eq!(r.detail.get("endpoint").map(String::as_str), Some(endpoint));
        r
    }

    async fn post_json(&self, token: &str, path: &str, body: &str) -> ApiAnswer {
        let res = reqwest::Client::new()
            .post(self.broker.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        ApiAnswer {
            status: res.status().as_u16(),
            content_type: String::new(),
            body: res.text().await.unwrap(),
        }
    }

    async fn metrics(&self) -> String {
        reqwest::get(self.broker.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

fn assert_insufficient_scope(answer: &ApiAnswer) {
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.code(), "insufficient_scope", "{}", answer.body);
}

// ---- a scope not held: 403 before the body or query is parsed, and audited ------------------

#[tokio::test]
async fn reporting_a_change_without_attributes_write_is_refused_before_the_body_and_audited() {
    let s = setup(&["attributes:read"]).await;
    let token = s.client.token(&s.broker.base, None).await;
    let answer = s
        .post_json(&token, "/api/v1/subjects/whoever/attributes", "{not json")
        .await;
    assert_insufficient_scope(&answer);
    assert!(!answer.body.contains("malformed"), "{}", answer.body);
    let r = s
        .assert_refusal_recorded(&["insufficient_scope"], "attributes-write")
        .await;
    assert!(r.detail.contains_key("token"));
}

#[tokio::test]
async fn asking_for_consent_without_consent_request_is_refused_before_the_body_and_audited() {
    let s = setup(&["attributes:read"]).await;
    let token = s.client.token(&s.broker.base, None).await;
    let answer = s
        .post_json(&token, "/api/v1/consent-requests", "{\"subject\": 1")
        .await;
    assert_insufficient_scope(&answer);
    s.assert_refusal_recorded(&["insufficient_scope"], "consent-request")
        .await;
}

#[tokio::test]
async fn reading_a_consent_request_without_consent_request_is_refused_and_audited() {
    let s = setup(&["attributes:read"]).await;
    let token = s.client.token(&s.broker.base, None).await;
    let answer = get(
        &s.broker.base,
        &token,
        &format!("/api/v1/consent-requests/{}", uuid::Uuid::now_v7()),
    )
    .await;
    assert_insufficient_scope(&answer);
    s.assert_refusal_recorded(&["insufficient_scope"], "consent-request-read")
        .await;
}

#[tokio::test]
async fn searching_the_audit_log_without_audit_read_is_refused_before_the_query_and_audited() {
    let s = setup(&["attributes:read"]).await;
    let token = s.client.token(&s.broker.base, None).await;
    let answer = get(
        &s.broker.base,
        &token,
        "/api/v1/audit/records?limit=not-a-number",
    )
    .await;
    assert_insufficient_scope(&answer);
    s.assert_refusal_recorded(&["insufficient_scope"], "audit-records")
        .await;
}

#[tokio::test]
async fn a_proof_without_audit_read_is_refused_and_audited() {
    let s = setup(&["attributes:read"]).await;
    let token = s.client.token(&s.broker.base, None).await;
    let answer = get(
        &s.broker.base,
        &token,
        &format!("/api/v1/audit/records/{}/proof", uuid::Uuid::now_v7()),
    )
    .await;
    assert_insufficient_scope(&answer);
    s.assert_refusal_recorded(&["insufficient_scope"], "audit-proof")
        .await;
}

// ---- the token endpoint: the signature verified, so the client is identified ----------------

#[tokio::test]
async fn a_replayed_assertion_is_refused_and_audited() {
    let s = setup(&["attributes:read"]).await;
    let assertion = s.client.assertion(&s.broker.base);
    let (status, _) = token_request(&s.broker.base, &assertion, None).await;
    assert_eq!(status, 200);
    let (status, body) = token_request(&s.broker.base, &assertion, None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    let jti = s.client_assertion_jti(&assertion);
    let r = s
        .assert_refusal_recorded(&["invalid_client", "assertion_replayed"], "token")
        .await;
    assert_eq!(r.detail.get("assertion"), Some(&jti), "the replayed jti");
}

#[tokio::test]
async fn a_disabled_departments_token_request_is_refused_and_audited() {
    let s = setup(&["attributes:read"]).await;
    services::departments::set_active(&s.world.conn, ESD, false)
        .await
        .unwrap();
    s.broker
        .registry_caught_up(&s.world.conn, std::time::Duration::from_secs(10))
        .await;
    let (status, body) =
        token_request(&s.broker.base, &s.client.assertion(&s.broker.base), None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    s.assert_refusal_recorded(&["invalid_client", "department_disabled"], "token")
        .await;
}

#[tokio::test]
async fn an_expired_access_token_on_a_write_route_is_refused_and_audited() {
    let s = setup(&["attributes:write"]).await;
    let now = store::now_ms() / 1000;
    let claims = services::oauth::token::AccessClaims {
        iss: s.broker.base.clone(),
        sub: "esd-refused".into(),
        aud: format!("{}/api", s.broker.base),
        client_id: "esd-refused".into(),
        dept: ESD.into(),
        scope: "attributes:write".into(),
        iat: now - 900,
        exp: now - 600,
        jti: uuid::Uuid::now_v7().to_string(),
        cnf: None,
    };
    let keys = services::keys::SigningKeys::open_dir(
        &s.broker.data_dir.join("keys").join("signing"),
        3600,
    )
    .unwrap();
    let token = keys.sign(Some("at+jwt"), &claims).unwrap();
    let answer = s
        .post_json(&token, "/api/v1/subjects/whoever/attributes", "{}")
        .await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(answer.code(), "token_expired");
    let r = s
        .assert_refusal_recorded(&["token_expired"], "attributes-write")
        .await;
    assert_eq!(r.detail.get("token"), Some(&claims.jti));
}

// ---- nobody identified: counted, never logged ------------------------------------------------

#[tokio::test]
async fn refusals_that_identify_nobody_are_counted_not_logged() {
    let s = setup(&["attributes:read"]).await;
    // Signed by a key nobody registered, for our client.
    let stranger = RustClient::generate(ESD, "esd-refused");
    let (status, _) =
        token_request(&s.broker.base, &stranger.assertion(&s.broker.base), None).await;
    assert_eq!(status, 401);
    // A client nobody registered.
    let unknown = RustClient::generate(ESD, "nobody-registered-me");
    let (status, _) = token_request(&s.broker.base, &unknown.assertion(&s.broker.base), None).await;
    assert_eq!(status, 401);
    // No token, and a token that is not ours, on an API route.
    let answer = s
        .post_json("", "/api/v1/consent-requests", &json!({}).to_string())
        .await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    let answer = get(&s.broker.base, "not-a-token", "/api/v1/audit/records").await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert!(s.world.audit().await.is_empty(), "nothing was logged");
    let metrics = s.metrics().await;
    for series in [
        "broker_refusals_unidentified_total{endpoint=\"token\",code=\"invalid_client\"} 2",
        "broker_refusals_unidentified_total{endpoint=\"consent-request\",code=",
        "broker_refusals_unidentified_total{endpoint=\"audit-records\",code=\"invalid_token\"} 1",
    ] {
        assert!(
            metrics.contains(series),
            "{series} missing from:\n{metrics}"
        );
    }
}

impl Setup {
    /// The `jti` claim of an assertion.
    fn client_assertion_jti(&self, assertion: &str) -> String {
        payload(assertion)["jti"].as_str().unwrap().to_owned()
    }
}
