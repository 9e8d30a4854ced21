//! The officer console and the citizen's "my activity" in headless Chromium: search with filters,
//! the CSV download, a bad filter's error summary, unusual access, the language toggle; the
//! citizen's records and a proof download. axe-core on every page, in both languages.

use broker_e2e::citizens::signed_in;
use broker_e2e::peers::{peers_dir, run_node};

use super::*;

#[tokio::test]
async fn an_officer_searches_and_exports_and_a_citizen_checks_a_proof_in_a_browser() {
    let db = TestDb::new().await.unwrap();
    let conn = db.migrated().await.unwrap();
    let broker = Broker::start_with(&db, env()).await;
    let log = log_of(&conn, &broker);
    let alice = signed_in(&conn, &broker, 2).await;
    let mine = releases(&log, &alice.citizen_id, 3).await;
    releases(&log, "someone-else", 2).await;
    let officer = officer_cookie(&conn, &broker).await;

    let scenario = peers_dir()
        .join("scenarios/audit/console.mjs")
        .display()
        .to_string();
    let shots = temp_dir();
    let args = vec![
        scenario,
        serde_json::json!({
            "base": broker.base,
            "officerCookie": officer,
            "citizenCookie": alice.cookie,
            "screenshots": std::env::var("TUO_AUDIT_SCREENSHOTS").ok(),
        })
        .to_string(),
        "--screenshot-dir".to_owned(),
        shots.path().display().to_string(),
    ];
    let (ok, stdout, stderr) = run_node("run-browser-script.mjs", &args, None);
    assert!(
        ok,
        "scenario failed: {stdout}\n{stderr}\nbroker log:\n{}",
        broker.log_text()
    );
    let result: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();

    let pages = result["pages"].as_array().unwrap();
    assert!(pages.len() >= 8, "{result}");
    for p in pages {
        assert_eq!(p["violations"], serde_json::json!([]), "{p}");
    }
    let h1 = |label: &str| {
        pages
            .iter()
            .find(|p| p["label"] == label)
            .map(|p| p["h1"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no page `{label}`: {result}"))
    };
    assert_eq!(h1("console"), "Audit log");
    assert_eq!(h1("console (fr)"), "Journal d’audit");
    assert_eq!(h1("unusual"), "Unusual access");
    assert_eq!(h1("unusual (fr)"), "Accès inhabituels");
    assert_eq!(h1("activity"), "My activity");
    assert_eq!(h1("activity (fr)"), "Mon activité");
    assert_eq!(h1("proof"), "Record and proof");
    assert!(
        pages
            .iter()
            .all(|p| !p["label"].as_str().unwrap().ends_with("(fr)") || p["lang"] == "fr")
    );

    // The filtered search found the five releases; the CSV has them and nothing else.
    assert_eq!(result["filteredRows"], 5, "{result}");
    let csv = result["csv"].as_str().unwrap();
    assert_eq!(csv.lines().count(), 1 + 5, "{csv}");
    assert!(
        result["errorSummary"]
            .as_str()
            .unwrap()
            .contains("A search filter is invalid")
    );

    // The citizen saw their three records only, and the downloaded proof is one of them and checks.
    assert_eq!(result["activityRows"], 3, "{result}");
    let proof: serde_json::Value =
        serde_json::from_str(result["proofJson"].as_str().unwrap()).unwrap();
    let id = proof["record"]["id"].as_str().unwrap();
    assert!(mine.iter().any(|m| m == id), "{id}");
    let entry = services::jose::b64_decode(proof["record"]["entry"].as_str().unwrap()).unwrap();
    let path: Vec<audit::Hash> = proof["proof"]["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| audit::Hash::from_hex(h.as_str().unwrap()).unwrap())
        .collect();
    audit::verify_inclusion(
        &audit::leaf_hash(&entry),
        proof["proof"]["leaf_index"].as_u64().unwrap(),
        proof["proof"]["checkpoint"]["tree_size"].as_u64().unwrap(),
        &path,
        &audit::Hash::from_hex(proof["proof"]["checkpoint"]["root_hash"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
}
