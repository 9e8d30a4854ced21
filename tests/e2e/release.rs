//! Attribute release: an unmodified openid-client department fetches a citizen's attributes and
//! an independent JOSE library (jose) verifies the signed answer against `/jwks.json`; partial
//! grants, statutory releases, deceased citizens, and the audit record behind each answer.
//! The attack catalogue is in `release/attacks.rs`; the registry and key rotation in
//! `release/registry.rs`; SD-JWT releases in `release/sd_jwt.rs`.

mod attacks;
mod refusals;
mod registry;
mod sd_jwt;

use broker_e2e::departments::call;
use broker_e2e::release::*;
use serde_json::json;

const ESD: &str = "employment-social-development";
const REVENUE: &str = "revenue-agency";
const PENSION: &str = "pension-enrolment";

/// Alice: names and address asserted by her bank sign-in partner (LoA 2), birthdate from the
/// vital statistics register (LoA 3), marital status from the revenue agency (LoA 3).
pub async fn alice(world: &World) -> String {
    world
        .citizen(&[
            FactSpec::provider("given_name", json!("Alice"), 2),
            FactSpec::provider("family_name", json!("Tremblay"), 2),
            FactSpec::provider(
                "address",
                json!({"street_address": "1 Main St", "locality": "Ottawa", "region": "ON", "postal_code": "K1A 0B1", "country": "CA"}),
                2,
            ),
            FactSpec::department("birthdate", json!("1958-04-12"), "vital-statistics", 3),
            FactSpec::department("marital_status", json!("married"), REVENUE, 3),
        ])
        .await
}

#[tokio::test]
async fn openid_client_fetches_a_signed_release_that_jose_verifies_and_the_audit_log_records() {
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
    let dept = world.node_client(ESD, "EdDSA", &["attributes:read"]).await;
    let broker = world.start().await;

    // Discovery names the token endpoint and the one client authentication method.
    let meta: serde_json::Value = reqwest::get(broker.url("/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["token_endpoint"], broker.url("/oauth2/token"));
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        json!(["private_key_jwt"])
    );

    let path = attributes_path(&sub, "given_name,family_name,birthdate,address", PENSION);
    let out = call(&broker.base, &dept, None, &["--get", &path]);
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(out["contentType"], "application/jwt", "{out}");
    let payload = verify_release(&broker, out["body"].as_str().unwrap(), &dept.client_id);

    assert_eq!(payload["iss"], broker.base);
    assert_eq!(payload["aud"], dept.client_id);
    assert_eq!(payload["sub"], sub);
    assert_eq!(payload["purpose"], PENSION);
    assert_eq!(payload["consent_id"], consent.id().to_string());
    assert!(payload["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let (iat, exp) = (
        payload["iat"].as_i64().unwrap(),
        payload["exp"].as_i64().unwrap(),
    );
    assert!(exp > iat && exp - iat <= 300, "{payload}");
    assert_eq!(payload["withheld"], json!([]));
    // One verified_claims element per source: the bank partner at LoA 2, the register at LoA 3.
    let vc = payload["verified_claims"].as_array().unwrap();
    assert_eq!(vc.len(), 2, "{payload}");
    let bank = &vc[0];
    assert_eq!(bank["verification"]["trust_framework"], "pctf");
    assert_eq!(bank["verification"]["assurance_level"], "loa2");
    assert_eq!(
        bank["verification"]["evidence"][0],
        json!({"type": "electronic_record", "record": {"type": "credential_provider", "source": {"name": "bank-partner"}}})
    );
    assert_eq!(bank["claims"]["given_name"], "Alice");
    assert_eq!(bank["claims"]["family_name"], "Tremblay");
    assert_eq!(bank["claims"]["address"]["locality"], "Ottawa");
    let register = &vc[1];
    assert_eq!(register["verification"]["assurance_level"], "loa3");
    assert_eq!(
        register["verification"]["evidence"][0]["record"]["source"]["name"],
        "vital-statistics"
    );
    assert_eq!(register["claims"], json!({"birthdate": "1958-04-12"}));
    assert!(
        !out["body"].as_str().unwrap().contains("married"),
        "nothing unasked leaves"
    );

    // The audit record was written before the answer, and the JWT names it.
    let records = world.audit().await;
    let record = records
        .iter()
        .find(|r| r.id == payload["txn"].as_str().unwrap())
        .expect("the txn names an audit record");
    assert_eq!(record.action.as_str(), "release");
    assert_eq!(record.outcome.as_str(), "permit");
    assert_eq!(record.department_id.as_deref(), Some(ESD));
    assert_eq!(record.client_id.as_deref(), Some(dept.client_id.as_str()));
    assert_eq!(record.citizen_id.as_deref(), Some(citizen.as_str()));
    assert_eq!(record.purpose.as_deref(), Some(PENSION));
    assert_eq!(
        record.consent_id.as_deref(),
        Some(consent.id().to_string().as_str())
    );
    assert_eq!(
        record.attributes,
        ["given_name", "family_name", "birthdate", "address"]
    );
    // The consent relied on is in the ledger with its receipt and its own audit record.
    let granted = world.fixture_records().await;
    assert_eq!(granted.len(), 1, "{granted:?}");
    assert_eq!(
        granted[0].consent_id.as_deref(),
        Some(consent.id().to_string().as_str())
    );
    assert!(
        services::consents::receipts::for_consent(&world.conn, &consent.id().to_string())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        record.reasons,
        ["esd-identity-pension", "esd-address-pension"]
    );
    assert_eq!(record.request_id.as_deref(), payload["jti"].as_str());
    // No value in the log.
    let entry = serde_json::to_string(record).unwrap();
    assert!(
        !entry.contains("Tremblay") && !entry.contains("Ottawa"),
        "{entry}"
    );
    assert!(
        !broker.log_text().contains("Tremblay"),
        "no value in the broker's log"
    );
}

#[tokio::test]
async fn a_partial_grant_releases_what_is_covered_and_names_the_rest_with_codes() {
    let world = World::new().await;
    let citizen = world
        .citizen(&[
            FactSpec::provider("given_name", json!("Alice"), 2),
            FactSpec::provider("family_name", json!("Tremblay"), 2),
            FactSpec::provider("marital_status", json!("married"), 2),
        ])
        .await;
    let sub = world.subject(ESD, &citizen).await;
    // The consent covers given_name, birthdate and marital_status, not family_name. There is no
    // birthdate on record, and marital_status is held at LoA 2 where LoA 3 is required.
    world
        .grant(
            &citizen,
            ESD,
            PENSION,
            &["given_name", "birthdate", "marital_status"],
            30,
        )
        .await;
    let dept = world.node_client(ESD, "ES256", &["attributes:read"]).await;
    let broker = world.start().await;
    let path = attributes_path(
        &sub,
        "given_name,family_name,birthdate,marital_status",
        PENSION,
    );
    let out = call(&broker.base, &dept, None, &["--get", &path]);
    assert_eq!(out["status"], 200, "{out}");
    let payload = verify_release(&broker, out["body"].as_str().unwrap(), &dept.client_id);
    assert_eq!(
        payload["verified_claims"][0]["claims"],
        json!({"given_name": "Alice"})
    );
    assert_eq!(payload["verified_claims"].as_array().unwrap().len(), 1);
    assert_eq!(
        payload["withheld"],
        json!([
            {"claim": "family_name", "code": "consent_not_covering"},
            {"claim": "birthdate", "code": "unavailable"},
            {"claim": "marital_status", "code": "insufficient_assurance"},
        ])
    );
    let body = out["body"].as_str().unwrap();
    assert!(!body.contains("Tremblay") && !body.contains("married"));
    let record = world
        .audit()
        .await
        .into_iter()
        .find(|r| r.id == payload["txn"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        record.attributes,
        ["given_name"],
        "only what left is audited as released"
    );
    assert_eq!(
        record.detail.get("withheld").map(String::as_str),
        Some(
            "family_name:consent_not_covering,birthdate:unavailable,marital_status:insufficient_assurance"
        )
    );
}

#[tokio::test]
async fn a_statutory_release_needs_no_consent_and_a_deceased_citizens_other_facts_stop() {
    let world = World::new().await;
    let citizen = world
        .citizen(&[
            FactSpec::provider("address", json!({"locality": "Ottawa"}), 2),
            FactSpec::department("date_of_death", json!("2026-01-05"), "vital-statistics", 3),
        ])
        .await;
    let sub = world.subject(REVENUE, &citizen).await;
    // Consent given while the citizen was alive (the ledger takes none from a deceased citizen).
    world
        .grant(&citizen, REVENUE, "benefit-eligibility", &["address"], 30)
        .await;
    services::citizens::mark_deceased(&world.conn, &citizen, store::now_ms())
        .await
        .unwrap();
    let client = RustClient::generate(REVENUE, "revenue-batch");
    client.register(&world.conn, &["attributes:read"]).await;
    let broker = world.start().await;
    let token = client.token(&broker.base, None).await;

    // The date of death goes to the revenue agency by statute: no consent id in the release.
    let answer = get(
        &broker.base,
        &token,
        &attributes_path(&sub, "date_of_death", "death-notification"),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let payload = verify_release(&broker, &answer.body, &client.client_id);
    assert!(payload.get("consent_id").is_none(), "{payload}");
    assert_eq!(
        payload["verified_claims"][0]["claims"]["date_of_death"],
        "2026-01-05"
    );

    // The consented address no longer leaves once the citizen is deceased.
    let answer = get(
        &broker.base,
        &token,
        &attributes_path(&sub, "address", "benefit-eligibility"),
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.code(), "subject_deceased");
    let problem = answer.json();
    assert_eq!(
        problem["withheld"],
        json!([{"claim": "address", "code": "subject_deceased"}])
    );
    let record = world
        .audit()
        .await
        .into_iter()
        .find(|r| r.id == problem["txn"].as_str().unwrap())
        .unwrap();
    assert_eq!(record.action.as_str(), "release-denied");
    assert_eq!(
        record.reasons,
        ["subject_deceased", "forbid-release-after-death"]
    );
}
