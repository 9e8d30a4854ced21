use std::collections::BTreeSet;

use super::*;
use crate::{Actor, Change, ConsentEvent, DAY_MS};

fn facts() -> ReceiptFacts {
    ReceiptFacts {
        receipt_id: "0196f3c2-0000-7000-8000-000000000001".to_owned(),
        pii_principal_id: "pairwise-for-esd".to_owned(),
        collection_method: "Web form on the broker after sign-in".to_owned(),
        language: "en".to_owned(),
        controller: PiiController {
            name: "Tell Us Once broker operator".to_owned(),
            on_behalf: false,
            contact: "Privacy office".to_owned(),
            address: PostalAddress {
                street_address: "1 Example Street".to_owned(),
                locality: "Ottawa".to_owned(),
                region: "ON".to_owned(),
                postal_code: "K1A 0A1".to_owned(),
                country: "CA".to_owned(),
            },
            email: "privacy@broker.example".to_owned(),
            phone: None,
            url: "https://broker.example".to_owned(),
        },
        policy_url: "https://broker.example/privacy".to_owned(),
        purpose_text: "Enrol you in the old-age pension".to_owned(),
        purpose_category: "benefits".to_owned(),
        legal_basis: "Old Age Security Act (illustrative)".to_owned(),
        recipient_name: "Employment and Social Development".to_owned(),
        sensitive_attributes: vec!["birthdate".to_owned(), "marital_status".to_owned()],
        withdrawal: Withdrawal {
            url: "https://broker.example/consents".to_owned(),
            text: "Open My consents and choose Withdraw.".to_owned(),
        },
    }
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|name| (*name).to_owned()).collect()
}

fn granted_consent() -> Consent {
    let granted_at = 1_772_366_400_000;
    Consent::replay(
        Uuid::nil(),
        Uuid::nil(),
        "employment-social-development",
        "pension-enrolment",
        Mode::Once,
        [ConsentEvent::new(
            1,
            Actor::citizen("alice"),
            granted_at,
            Change::Granted {
                attributes: names(&["birthdate", "given_name"]),
                expires_at_ms: granted_at + 90 * DAY_MS,
            },
        )],
    )
    .unwrap()
}

#[test]
fn receipt_has_the_kantara_shape() {
    let claims = ReceiptClaims::build(&granted_consent(), facts()).unwrap();
    let json = serde_json::to_value(&claims).unwrap();
    assert_eq!(json["version"], "KI-CR-v1.1.0");
    assert_eq!(json["jurisdiction"], "CA");
    assert_eq!(json["consentTimestamp"], 1_772_366_400);
    assert_eq!(json["piiPrincipalId"], "pairwise-for-esd");
    assert!(json.get("publicKey").is_none());
    assert_eq!(
        json["piiControllers"][0]["piiController"],
        "Tell Us Once broker operator"
    );
    assert_eq!(json["piiControllers"][0]["address"]["addressCountry"], "CA");
    assert_eq!(json["piiControllers"][0]["onBehalf"], false);
    let purpose = &json["services"][0]["purposes"][0];
    assert_eq!(purpose["consentType"], "EXPRESSED");
    assert_eq!(
        purpose["piiCategory"],
        serde_json::json!(["birthdate", "given_name"])
    );
    assert_eq!(purpose["termination"], "2026-05-30T12:00:00Z");
    assert_eq!(purpose["thirdPartyDisclosure"], true);
    assert_eq!(
        purpose["thirdPartyName"],
        "Employment and Social Development"
    );
    // Only the granted sensitive attributes are listed.
    assert_eq!(json["sensitive"], true);
    assert_eq!(json["spiCat"], serde_json::json!(["birthdate"]));
    assert_eq!(json["mode"], "once");
    assert_eq!(json["recipient"]["id"], "employment-social-development");
    assert_eq!(json["withdrawal"]["url"], "https://broker.example/consents");
    assert_eq!(json["expires_at"], 1_772_366_400 + 90 * 86_400);
    // And it reads back.
    let back: ReceiptClaims = serde_json::from_value(json).unwrap();
    assert_eq!(back, claims);
}

#[test]
fn no_receipt_without_a_grant() {
    let requested = Consent::replay(
        Uuid::nil(),
        Uuid::nil(),
        "passport-office",
        "travel-document-issuance",
        Mode::Once,
        [ConsentEvent::new(
            1,
            Actor::department("passport-office"),
            0,
            Change::Requested {
                attributes: names(&["birthdate"]),
                requested_duration_ms: DAY_MS,
                return_url: None,
            },
        )],
    )
    .unwrap();
    assert_eq!(
        ReceiptClaims::build(&requested, facts()),
        Err(ConsentError::NotGranted {
            consent_id: Uuid::nil()
        })
    );
}
