//! `broker demo`: Alice signs in through a development provider, changes her address once, and
//! watches it reach the revenue agency (HTTP push to the development receiver) and the health
//! insurance plan (a file drop, at the next one-minute batch).

use std::time::{Duration, Instant};

use broker_e2e::signin::*;
use broker_e2e::*;

#[tokio::test]
async fn in_the_demo_alice_moves_once_and_both_departments_receive_it() {
    let demo = Demo::start().await;
    let broker = &demo.broker;
    let client = browser_client();
    let start = get(&client, &broker.url("/signin/with/demo-bank")).await;
    let persona_page = get(&client, &start.location.unwrap()).await;
    let back = choose_persona(&client, &persona_page, "alice").await;
    let signed_in = get(&client, &back.location.unwrap()).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let address = [
        ("attribute", "address"),
        ("street_address", "8 Avenue des Érables"),
        ("locality", "Gatineau"),
        ("region", "QC"),
        ("postal_code", "J8Z 3C3"),
        ("country", "CA"),
    ];
    // Alice is the demo's seeded citizen: she holds ongoing address consents to both departments.
    // Every consent the demo seeded went through the consent ledger: each has its receipt.
    let list = get(&client, &broker.url("/me/consents")).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let ids: Vec<String> = list
        .body
        .split("href=\"/me/consents/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|id| !id.contains('/') && *id != "new")
        .map(str::to_owned)
        .collect();
    assert_eq!(
        ids.len(),
        3,
        "the pension consent and two address consents: {}",
        list.body
    );
    for id in &ids {
        let receipt = get(&client, &broker.url(&format!("/me/consents/{id}/receipt"))).await;
        assert_eq!(
            receipt.status, 200,
            "consent {id} has no receipt: {}",
            receipt.body
        );
    }
    let form = get(&client, &broker.url("/me/update")).await;
    // The form starts from what the broker holds: her current address and name.
    for current in [
        r#"id="street_address" name="street_address" type="text" required value="123, rue Principale""#,
        r#"id="postal_code" name="postal_code" type="text" required value="J8X 1A1""#,
        r#"id="given_name" name="given_name" type="text" required value="Alice""#,
    ] {
        assert!(form.body.contains(current), "{current}: {}", form.body);
    }
    let csrf = csrf_token(&form.body);
    let mut fields = vec![("csrf_token", csrf.as_str())];
    fields.extend_from_slice(&address);
    let preview = post_form(&client, &broker.url("/me/update/preview"), &fields).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(preview.body.contains("Revenue Agency"), "{}", preview.body);
    assert!(
        preview.body.contains("Health Insurance Plan"),
        "{}",
        preview.body
    );
    let csrf = csrf_token(&preview.body);
    let mut fields = vec![("csrf_token", csrf.as_str())];
    fields.extend_from_slice(&address);
    let confirmed = post_form(&client, &broker.url("/me/update"), &fields).await;
    assert_eq!(confirmed.status, 303, "{}", confirmed.body);
    let location = confirmed.location.unwrap();
    let status_url = if location.starts_with("http") {
        location
    } else {
        broker.url(&location)
    };
    // The push arrives at once; the file drop waits for its batch (at most a minute).
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut saw_pending_file = false;
    loop {
        let page = get(&client, &status_url).await;
        assert_eq!(page.status, 200);
        let delivered = page.body.matches("data-status=\"delivered\"").count();
        if page.body.contains("data-status=\"pending\"") && page.body.contains("Next attempt") {
            saw_pending_file = true;
        }
        if delivered == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "{}", page.body);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(
        saw_pending_file,
        "the file drop was shown pending with its next batch"
    );
    let drop = demo
        .dir
        .path()
        .join("demo")
        .join("demo")
        .join("drop")
        .join("health-insurance");
    let files: Vec<_> = std::fs::read_dir(&drop)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        .collect();
    assert_eq!(files.len(), 1, "{drop:?}");
    let line = std::fs::read_to_string(files[0].path()).unwrap();
    let entry: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(entry["event_type"], "urn:tell-us-once:secevent:move");
    // The batch line's SET is for the health insurance plan and carries the new address.
    let payload = entry["set"].as_str().unwrap().split('.').nth(1).unwrap();
    let payload: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["aud"], "health-insurance");
    assert!(payload.to_string().contains("J8Z 3C3"), "{payload}");
    // The development receiver lists the SET pushed to the revenue agency.
    let receiver = get(
        &browser_client(),
        &format!("http://127.0.0.1:{}/", broker.port + 3),
    )
    .await;
    assert!(
        receiver.body.contains("revenue-agency"),
        "{}",
        receiver.body
    );
}
