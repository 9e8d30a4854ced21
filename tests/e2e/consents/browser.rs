//! The citizen's consent pages in headless Chromium: sign in (the session cookie), accept a
//! department's request, open and download the receipt, withdraw, switch language, and axe-core
//! on every page in both languages.

use broker_e2e::citizens::{pairwise_subject, signed_in};
use broker_e2e::departments::call;
use broker_e2e::peers::{peers_dir, run_node};

use super::*;

#[tokio::test]
async fn a_citizen_accepts_a_request_reads_the_receipt_and_withdraws_in_a_browser() {
    let w = World::start(BrokerEnv::default()).await;
    let alice = signed_in(&w.conn, &w.broker, 2).await;
    let sub = pairwise_subject(&w.conn, &w.broker, ESD_SECTOR, &alice.citizen_id).await;
    let out = call(
        &w.broker.base,
        &w.esd,
        None,
        &[
            "--post",
            "/api/v1/consent-requests",
            "--body",
            &serde_json::json!({
                "subject": sub, "attributes": ["birthdate", "address"],
                "purpose": "pension-enrolment", "mode": "ongoing", "duration_days": 180
            })
            .to_string(),
        ],
    );
    assert_eq!(out["status"], 201, "{out}");
    let id = out["json"]["id"].as_str().unwrap().to_owned();

    let scenario = peers_dir()
        .join("scenarios/consents/accept-receipt-revoke.mjs")
        .display()
        .to_string();
    let shots = temp_dir();
    let args = vec![
        scenario,
        serde_json::json!({
            "base": w.broker.base,
            "cookie": alice.cookie,
            "requestId": id,
            "offer": "revenue-agency:benefit-eligibility",
            // Set to look at every page (full-page PNGs).
            "screenshots": std::env::var("TUO_CONSENT_SCREENSHOTS").ok(),
        })
        .to_string(),
        "--screenshot-dir".to_owned(),
        shots.path().display().to_string(),
    ];
    let (ok, stdout, stderr) = run_node("run-browser-script.mjs", &args, None);
    assert!(
        ok,
        "scenario failed: {stdout}\n{stderr}\nbroker log:\n{}",
        w.broker.log_text()
    );
    let result: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();

    // axe-core: no violation on any page, in either language.
    let pages = result["pages"].as_array().unwrap();
    assert!(pages.len() >= 20, "{result}");
    for p in pages {
        assert_eq!(p["violations"], serde_json::json!([]), "{p}");
    }
    let langs: Vec<&str> = pages.iter().map(|p| p["lang"].as_str().unwrap()).collect();
    assert!(langs.contains(&"fr") && langs.contains(&"en"));
    let french: Vec<&serde_json::Value> = pages
        .iter()
        .filter(|p| p["label"].as_str().unwrap().ends_with("(fr)"))
        .collect();
    assert!(french.iter().all(|p| p["lang"] == "fr"), "{french:?}");
    let h1 = |label: &str| {
        pages
            .iter()
            .find(|p| p["label"] == label)
            .map(|p| p["h1"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no page `{label}`"))
    };
    assert_eq!(h1("list (fr)"), "Mes consentements");
    assert_eq!(h1("list (en)"), "My consents");
    assert_eq!(h1("receipt (fr)"), "Reçu de consentement");
    assert_eq!(
        h1("consent revoked (fr)"),
        "Consentement pour Emploi et Développement social"
    );

    let texts = &result["texts"];
    assert!(
        texts["granted"]
            .as_str()
            .unwrap()
            .starts_with("Your consent is recorded")
    );
    assert!(
        texts["revoked"]
            .as_str()
            .unwrap()
            .starts_with("Your consent is withdrawn")
    );
    assert!(
        texts["revokedFr"]
            .as_str()
            .unwrap()
            .starts_with("Votre consentement est retiré")
    );
    assert_eq!(texts["stateEn"], "Withdrawn");
    assert_eq!(texts["stateFr"], "Retiré");
    assert!(
        texts["formError"]
            .as_str()
            .unwrap()
            .contains("Select at least one piece of information"),
        "{texts}"
    );

    // The downloaded receipt is the one the ledger issued, and it says the consent is revoked.
    let jws = result["jws"].as_str().unwrap();
    let (status, verified) = super::verify_receipt(&w.broker, jws).await;
    assert_eq!(status, 200);
    assert_eq!(verified["receipt_id"], texts["receiptId"]);
    assert_eq!(verified["consent_state"], "revoked");
    assert_eq!(
        verified["attributes"],
        serde_json::json!(["address", "birthdate"])
    );

    let out = call(
        &w.broker.base,
        &w.esd,
        None,
        &["--get", &format!("/api/v1/consent-requests/{id}")],
    );
    assert_eq!(out["json"]["state"], "revoked", "{out}");
}
