//! Department authentication with an unmodified `openid-client`: discovery, `client_credentials`
//! with `private_key_jwt` (every accepted algorithm), and the token's use and limits.

use broker_e2e::departments::{call, register};
use broker_e2e::*;

#[tokio::test]
async fn openid_client_gets_a_bearer_token_with_each_accepted_algorithm() {
    let db = TestDb::new().await.unwrap();
    let conn = db.migrated().await.unwrap();
    let dir = temp_dir();
    let mut depts = Vec::new();
    for (i, alg) in ["ES256", "EdDSA", "RS256", "PS256"].iter().enumerate() {
        depts.push(
            register(
                &conn,
                dir.path(),
                &format!("dept-{i}"),
                &format!("sector-{i}.example"),
                alg,
                &["attributes:read"],
            )
            .await,
        );
    }
    let broker = Broker::start(&db).await;
    for (alg, dept) in ["ES256", "EdDSA", "RS256", "PS256"].iter().zip(&depts) {
        let out = call(&broker.base, dept, None, &["--get", "/healthz"]);
        assert!(
            out["token_type"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case("bearer"),
            "{alg}: {out}"
        );
        assert_eq!(out["expires_in"], 300, "{alg}: {out}");
        assert_eq!(out["scope"], "attributes:read", "{alg}: {out}");
    }
    // Asking for a scope the client does not hold is refused by the token endpoint.
    let out = call(
        &broker.base,
        &depts[0],
        Some("audit:read"),
        &["--get", "/healthz"],
    );
    assert_eq!(out["error"], "invalid_scope", "{out}");
    // A disabled department gets no token.
    services::departments::set_active(&conn, "dept-1", false)
        .await
        .unwrap();
    broker
        .registry_caught_up(&conn, std::time::Duration::from_secs(10))
        .await;
    let out = call(&broker.base, &depts[1], None, &["--get", "/healthz"]);
    assert_eq!(out["error"], "invalid_client", "{out}");
}

#[tokio::test]
async fn openid_client_discovers_the_broker_both_ways_from_one_document() {
    let db = TestDb::new().await.unwrap();
    let conn = db.migrated().await.unwrap();
    let dir = temp_dir();
    let dept = register(
        &conn,
        dir.path(),
        "dept-d",
        "sector-d.example",
        "ES256",
        &["attributes:read"],
    )
    .await;
    let broker = Broker::start(&db).await;
    let mut documents = Vec::new();
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let res = reqwest::get(broker.url(path)).await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "{path}");
        let doc: serde_json::Value = res.json().await.unwrap();
        assert_eq!(doc["issuer"], broker.base, "{path}");
        assert_eq!(
            doc["subject_types_supported"],
            serde_json::json!(["pairwise"])
        );
        assert!(doc["response_types_supported"].is_array(), "{doc}");
        documents.push(doc);
    }
    assert_eq!(documents[0], documents[1], "the two documents agree");
    // openid-client, unchanged: OpenID discovery, then RFC 8414 discovery.
    for discovery in ["oidc", "oauth2"] {
        let out = call(
            &broker.base,
            &dept,
            None,
            &["--discovery", discovery, "--get", "/healthz"],
        );
        assert_eq!(out["status"], 200, "{discovery}: {out}");
        assert_eq!(out["scope"], "attributes:read", "{discovery}: {out}");
    }
}
