//! `broker demo`: Bob, signed in through the development bank as himself, acts for Alice (the
//! delegation the demo seeded through the ledger), updates her address, and both see it.

use broker_e2e::signin::{Demo, csrf_token, demo_sign_in, get, post_form};

use super::ADDRESS;

#[tokio::test]
async fn delegation_in_broker_demo_bob_acts_for_alice_and_both_see_it() {
    let demo = Demo::start().await;
    let broker = &demo.broker;
    // Alice signs in first (a sign-in records her bank's claims, her address among them).
    let (alice, landed) = demo_sign_in(broker, "demo-bank", "alice", false).await;
    assert_eq!(landed.status, 303, "{}", landed.body);
    let (bob, landed) = demo_sign_in(broker, "demo-bank", "bob", false).await;
    assert_eq!(landed.status, 303, "{}", landed.body);
    let page = get(&bob, &broker.url("/me/acting-for")).await;
    assert!(
        page.body.contains("Act for Alice Tremblay"),
        "{}",
        page.body
    );
    let marker = "name=\"delegation\" value=\"";
    let i = page.body.find(marker).unwrap() + marker.len();
    let id = page.body[i..].split('"').next().unwrap().to_owned();
    let csrf = csrf_token(&page.body);
    let acted = post_form(
        &bob,
        &broker.url("/me/acting-for"),
        &[("delegation", id.as_str()), ("csrf_token", csrf.as_str())],
    )
    .await;
    assert_eq!(acted.status, 303, "{}", acted.body);

    // Her address (covered), not her date of birth (not covered), under the banner.
    let info = get(&bob, &broker.url("/me/information")).await;
    assert!(
        info.body.contains("Acting for Alice Tremblay"),
        "{}",
        info.body
    );
    assert!(info.body.contains("123, rue Principale"), "{}", info.body);
    assert!(!info.body.contains("1958-04-12"), "{}", info.body);
    let mut fields = ADDRESS.to_vec();
    fields.push(("csrf_token", csrf.as_str()));
    let updated = post_form(&bob, &broker.url("/me/update"), &fields).await;
    assert_eq!(updated.status, 303, "{}", updated.body);

    // Alice sees her new address, declared by a representative, and the act in her activity.
    let info = get(&alice, &broker.url("/me/information")).await;
    assert!(info.body.contains("77 Elm Street"), "{}", info.body);
    assert!(
        info.body.contains("Declared by a representative"),
        "{}",
        info.body
    );
    assert!(
        !info.body.contains("Acting for"),
        "her own pages have no banner"
    );
    // Records reach the log within seconds (docs/audit.md).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let activity = get(&alice, &broker.url("/me/activity")).await;
        if activity.body.contains("Life event reported")
            && activity.body.contains("by a representative")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not on her activity page: {}",
            activity.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}
