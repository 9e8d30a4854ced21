//! The delegation pages in headless Chromium: offer, accept, act for (the banner in English and
//! French), update her address, the act on her activity page, the end, and the refusal after it.

use broker_e2e::citizens::signed_in;
use broker_e2e::peers::{peers_dir, run_node};

use super::*;

#[tokio::test]
async fn a_delegate_accepts_acts_for_her_and_is_stopped_when_she_ends_it_in_a_browser() {
    let w = World::start().await;
    let alice = signed_in(&w.conn, &w.broker, 2).await;
    let bob = signed_in(&w.conn, &w.broker, 2).await;
    let scenario = peers_dir()
        .join("scenarios/delegation/act-for.mjs")
        .display()
        .to_string();
    let args = vec![
        scenario,
        serde_json::json!({
            "base": w.broker.base,
            "alice": alice.cookie,
            "bob": bob.cookie,
            "label": "Alice Tremblay",
        })
        .to_string(),
    ];
    let (ok, stdout, stderr) = run_node("run-browser-script.mjs", &args, None);
    assert!(
        ok,
        "scenario failed: {stdout}\n{stderr}\nbroker log:\n{}",
        w.broker.log_text()
    );
    let result: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    for p in result["pages"].as_array().unwrap() {
        assert_eq!(p["violations"], serde_json::json!([]), "{p}");
    }
    let texts = &result["texts"];
    assert_eq!(texts["aliceBannerBefore"], serde_json::Value::Null);
    assert_eq!(texts["bannerEn"], "Acting for Alice Tremblay");
    assert_eq!(texts["bannerFr"], "Vous agissez pour Alice Tremblay");
    assert_eq!(texts["bannerUpdate"], "Acting for Alice Tremblay");
    assert!(
        texts["activity"]
            .as_str()
            .unwrap()
            .contains("by a representative"),
        "{texts}"
    );
    assert_eq!(texts["stateAfterEnd"], "Ended");
    assert_eq!(texts["refusedStatus"], 403);
    assert!(
        texts["refused"]
            .as_str()
            .unwrap()
            .contains("no delegation to you is active"),
        "{texts}"
    );

    // What the pages did is in the ledger and the log: her address, changed by Bob, for her.
    audit_settled(&w.conn).await;
    let id = result["delegationId"].as_str().unwrap();
    let d = services::consents::delegations::load(&w.conn, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.delegator().to_string(), alice.citizen_id);
    assert_eq!(d.delegate().unwrap().to_string(), bob.citizen_id);
    assert_eq!(d.state(store::now_ms()), ::consent::DelegationState::Ended);
    let about_alice = services::audit_log::entities::record::Entity::find()
        .all(&w.conn)
        .await
        .unwrap()
        .into_iter()
        .map(|r| audit::Record::from_canonical(&r.entry).unwrap())
        .filter(|r| r.citizen_id.as_deref() == Some(alice.citizen_id.as_str()))
        .map(|r| (r.action.as_str().to_owned(), r.actor.id))
        .collect::<Vec<_>>();
    for (action, actor) in [
        ("delegation-offered", &alice.citizen_id),
        ("delegation-accepted", &bob.citizen_id),
        ("life-event", &bob.citizen_id),
        ("delegation-ended", &alice.citizen_id),
    ] {
        assert!(
            about_alice.contains(&(action.to_owned(), actor.clone())),
            "{action} by {actor}: {about_alice:?}"
        );
    }
}
