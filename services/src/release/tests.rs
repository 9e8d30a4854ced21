use super::claims::{self, Envelope};
use super::decide::{self, Decided, Question};
use crate::citizens::{Fact, Provenance, SourceKind};
use consent::{Actor, Change, Consent, ConsentEvent, Mode, Uuid};
use policies::{PolicyEngine, PolicySource};

const DAY: i64 = 86_400_000;
const REVENUE: &str = "revenue-agency";

fn fact(
    attribute: &str,
    value: serde_json::Value,
    source: (SourceKind, &str),
    loa: u8,
    at: i64,
) -> Fact {
    Fact {
        attribute: attribute.into(),
        version: 1,
        value,
        provenance: Provenance {
            source_kind: source.0,
            source_id: source.1.into(),
            method: if source.0 == SourceKind::Citizen {
                "self-declared"
            } else {
                "asserted"
            }
            .into(),
            loa,
            verified: source.0 != SourceKind::Citizen,
            recorded_at: at,
        },
    }
}

fn consent(attributes: &[&str]) -> Consent {
    Consent::replay(
        Uuid::now_v7(),
        Uuid::now_v7(),
        REVENUE,
        "benefit-eligibility",
        Mode::Ongoing,
        [ConsentEvent::new(
            1,
            Actor::citizen("c"),
            0,
            Change::Granted {
                attributes: attributes.iter().map(|s| s.to_string()).collect(),
                expires_at_ms: 30 * DAY,
            },
        )],
    )
    .unwrap()
}

fn envelope() -> Envelope {
    Envelope {
        issuer: "http://127.0.0.1:8080".into(),
        client_id: "cra-benefits".into(),
        subject: "pairwise".into(),
        purpose: "benefit-eligibility".into(),
        txn: "txn-1".into(),
        jti: "jti-1".into(),
        now_s: 1_800_000_000,
        checkpoint: None,
    }
}

#[test]
fn only_granted_values_are_released_grouped_by_source_and_the_rest_is_withheld_by_code() {
    let engine = PolicyEngine::load(PolicySource::EMBEDDED).unwrap();
    let asked: Vec<String> = [
        "address",
        "email",
        "phone_number",
        "preferred_language",
        "marital_status",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let consent = consent(&["address", "email", "phone_number", "preferred_language"]);
    let bank = (SourceKind::Provider, "bank-partner");
    let facts = vec![
        fact(
            "address",
            serde_json::json!({"locality": "Ottawa"}),
            bank,
            2,
            1_000,
        ),
        fact(
            "email",
            serde_json::json!("alice@example.ca"),
            bank,
            2,
            2_000,
        ),
        fact(
            "preferred_language",
            serde_json::json!("fr"),
            (SourceKind::Citizen, "citizen"),
            1,
            3_000,
        ),
        fact(
            "marital_status",
            serde_json::json!("married"),
            (SourceKind::Department, REVENUE),
            3,
            4_000,
        ),
    ];
    let question = Question {
        department: REVENUE,
        purpose: "benefit-eligibility",
        claims: &asked,
        citizen_deceased: false,
        now_ms: DAY,
    };
    let Decided::Release {
        grants,
        withheld,
        policy_ids,
    } = decide::decide(&engine, &question, &facts, Some(&consent))
    else {
        panic!("expected a release");
    };
    assert_eq!(
        policy_ids,
        ["revenue-address-benefits", "revenue-contact-benefits"]
    );
    let release = claims::build(grants, facts, withheld, &asked, envelope());
    assert_eq!(release.released, ["address", "email"]);
    let json = serde_json::to_value(&release.claims).unwrap();
    assert_eq!(json["aud"], "cra-benefits");
    assert_eq!(json["exp"], 1_800_000_000 + claims::RELEASE_TTL_SECS);
    assert_eq!(json["txn"], "txn-1");
    assert_eq!(json["consent_id"], consent.id().to_string());
    // One element for the two values from the same provider at the same LoA; time is the latest.
    let vc = json["verified_claims"].as_array().unwrap();
    assert_eq!(vc.len(), 1, "{json}");
    assert_eq!(vc[0]["verification"]["trust_framework"], "pctf");
    assert_eq!(vc[0]["verification"]["assurance_level"], "loa2");
    assert_eq!(vc[0]["verification"]["time"], "1970-01-01T00:00:02Z");
    assert_eq!(
        vc[0]["verification"]["evidence"][0]["record"]["source"]["name"],
        "bank-partner"
    );
    assert_eq!(vc[0]["claims"]["email"], "alice@example.ca");
    assert_eq!(vc[0]["claims"]["address"]["locality"], "Ottawa");
    // preferred_language is LoA 1 (needs 2); phone_number has no value; marital_status: no permit.
    assert_eq!(
        json["withheld"],
        serde_json::json!([
            {"claim": "phone_number", "code": "unavailable"},
            {"claim": "preferred_language", "code": "insufficient_assurance"},
            {"claim": "marital_status", "code": "policy_denied"},
        ])
    );
    let text = json.to_string();
    assert!(
        !text.contains("married") && !text.contains("\"fr\""),
        "{text}"
    );
}

#[test]
fn values_from_different_sources_are_separate_elements() {
    let engine = PolicyEngine::load(PolicySource::EMBEDDED).unwrap();
    let asked: Vec<String> = vec!["address".into(), "email".into()];
    let consent = consent(&["address", "email"]);
    let facts = vec![
        fact(
            "address",
            serde_json::json!({"locality": "Gatineau"}),
            (SourceKind::Department, "health-insurance"),
            3,
            1_000,
        ),
        fact(
            "email",
            serde_json::json!("a@example.ca"),
            (SourceKind::Provider, "bank-partner"),
            3,
            2_000,
        ),
    ];
    let question = Question {
        department: REVENUE,
        purpose: "benefit-eligibility",
        claims: &asked,
        citizen_deceased: false,
        now_ms: DAY,
    };
    let Decided::Release {
        grants, withheld, ..
    } = decide::decide(&engine, &question, &facts, Some(&consent))
    else {
        panic!("expected a release");
    };
    let release = claims::build(grants, facts, withheld, &asked, envelope());
    let json = serde_json::to_value(&release.claims).unwrap();
    let vc = json["verified_claims"].as_array().unwrap();
    assert_eq!(vc.len(), 2);
    assert_eq!(
        vc[0]["verification"]["evidence"][0]["record"]["type"],
        "department_register"
    );
    assert_eq!(vc[0]["claims"].as_object().unwrap().len(), 1);
    assert_eq!(
        vc[1]["verification"]["evidence"][0]["record"]["type"],
        "credential_provider"
    );
    assert_eq!(json["withheld"], serde_json::json!([]));
}

#[test]
fn a_release_names_the_witnessed_checkpoint_when_there_is_one() {
    let engine = PolicyEngine::load(PolicySource::EMBEDDED).unwrap();
    let asked: Vec<String> = vec!["address".into()];
    let facts = vec![fact(
        "address",
        serde_json::json!({"locality": "Gatineau"}),
        (SourceKind::Provider, "provincial-id"),
        3,
        0,
    )];
    let build = |checkpoint: Option<claims::CheckpointClaim>| {
        let consent = consent(&["address"]);
        let question = Question {
            department: REVENUE,
            purpose: "benefit-eligibility",
            claims: &asked,
            citizen_deceased: false,
            now_ms: DAY,
        };
        let Decided::Release {
            grants, withheld, ..
        } = decide::decide(&engine, &question, &facts, Some(&consent))
        else {
            panic!("expected a release");
        };
        let release = claims::build(
            grants,
            facts.clone(),
            withheld,
            &asked,
            Envelope {
                checkpoint,
                ..envelope()
            },
        );
        serde_json::to_value(&release.claims).unwrap()
    };
    assert!(build(None).get("checkpoint").is_none());
    let claims = build(Some(claims::CheckpointClaim {
        size: 42,
        root: "ab".repeat(32),
    }));
    assert_eq!(
        claims["checkpoint"],
        serde_json::json!({"size": 42, "root": "ab".repeat(32)})
    );
}
