//! A withdrawn consent stops every disclosure not yet made (issue 18's reproduction), end to end:
//! the real broker, the real receiver (jose-verified SETs), the citizen's own pages and the
//! operator's CLI. In each case the revenue agency's receiver is down while a change is pending;
//! then the consent is withdrawn, lapses, the department is disabled or the citizen erased; then
//! the receiver comes back. No value may arrive after that.

use std::time::Duration;

use broker_e2e::citizens::{SignedIn, signed_in};

use super::*;

/// The revenue agency's receiver answers 500 until switched back to `ok`.
const DOWN: &str = "revenue=fail-then-ok:1000000";

fn form(
    relay: &Relay,
    who: &SignedIn,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    let mut all = vec![("csrf_token", who.csrf.as_str())];
    all.extend_from_slice(fields);
    browser_client()
        .post(relay.broker.url(path))
        .header("Cookie", format!("tuo_session={}", who.cookie))
        .form(&all)
}

/// The citizen gives the revenue agency an ongoing address consent on the "give a consent" page
/// (through the ledger: receipt and audit record); returns its id.
async fn grant_on_page(relay: &Relay, who: &SignedIn) -> String {
    let res = form(
        relay,
        who,
        "/me/consents",
        &[
            ("department", REVENUE),
            ("purpose", BENEFITS),
            ("mode", "ongoing"),
            ("attribute", "address"),
            ("duration_days", "30"),
        ],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    location
        .trim_start_matches("/me/consents/")
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

/// The citizen enters a new address once, on the "update my information" page; returns the
/// change's status page path.
async fn move_on_page(relay: &Relay, who: &SignedIn, street: &str) -> String {
    let res = form(
        relay,
        who,
        "/me/update",
        &[
            ("attribute", "address"),
            ("street_address", street),
            ("locality", "Gatineau"),
            ("region", "QC"),
            ("postal_code", "J8X 1A1"),
            ("country", "CA"),
        ],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    res.headers()["location"].to_str().unwrap().to_owned()
}

/// Waits until the receiver has refused at least one attempt at the pending move (it is retrying).
async fn until_retrying(relay: &Relay) {
    relay
        .wait_until(
            "a failed attempt at the move",
            Duration::from_secs(30),
            || async {
                relay
                    .received("revenue")
                    .await
                    .iter()
                    .any(|e| e["count"].as_u64() >= Some(1))
            },
        )
        .await;
}

async fn receiver_up(relay: &Relay) {
    let res = reqwest::Client::new()
        .post(format!("{}/control/mode", relay.receiver.url))
        .json(&json!({"path": "revenue", "mode": "ok"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
}

/// Every SET the revenue agency's receiver accepted (202), by event short name.
async fn accepted_events(relay: &Relay) -> Vec<(String, Value)> {
    relay
        .received("revenue")
        .await
        .into_iter()
        .filter(|e| {
            e["statuses"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s == 202))
        })
        .map(|e| {
            let (uri, body) = event_of(&e["payload"]);
            (
                uri.trim_start_matches(services::relay::EVENT_URI_PREFIX)
                    .to_owned(),
                body,
            )
        })
        .collect()
}

/// How many times the receiver was sent the move (every attempt, refused or not).
async fn move_attempts(relay: &Relay) -> u64 {
    relay
        .received("revenue")
        .await
        .iter()
        .filter(|e| event_of(&e["payload"]).0.ends_with(":move"))
        .map(|e| e["count"].as_u64().unwrap_or(0))
        .sum()
}

fn cli_env(relay: &Relay) -> Vec<(String, String)> {
    vec![
        ("BROKER_DATABASE_URL".into(), relay.db.url().to_owned()),
        (
            "BROKER_DATA_DIR".into(),
            relay.broker.data_dir.display().to_string(),
        ),
    ]
}

fn run_cli(relay: &Relay, args: &[&str]) -> String {
    let env = cli_env(relay);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, out, err) = run_broker(&env, args);
    assert!(status.success(), "{args:?}: {out}\n{err}");
    out
}

#[tokio::test]
async fn a_consent_withdrawn_while_a_change_is_pending_sends_only_its_withdrawal() {
    let relay = Relay::start(&[DOWN], fast_env()).await;
    let alice = signed_in(&relay.conn, &relay.broker, 3).await;
    let consent = grant_on_page(&relay, &alice).await;
    let status_page = move_on_page(&relay, &alice, "2 New Street").await;
    until_retrying(&relay).await;

    let res = form(
        &relay,
        &alice,
        &format!("/me/consents/{consent}/revoke"),
        &[],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    // What the receiver saw of the move while it was down (refused with 500), at withdrawal.
    let attempts_before = move_attempts(&relay).await;
    receiver_up(&relay).await;
    relay
        .wait_until("the withdrawal notice", Duration::from_secs(30), || async {
            accepted_events(&relay)
                .await
                .iter()
                .any(|(e, _)| e == "consent-revoked")
        })
        .await;
    // The notice went out after the move was due, and the move never did (deliveries to one
    // department and citizen go in order: had the move not been cancelled, it would be first).
    let accepted = accepted_events(&relay).await;
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    assert_eq!(accepted[0].1["state"], "revoked");
    assert!(accepted[0].1.get("verified_claims").is_none());
    // Not one more attempt at the move once the withdrawal committed (a worker may have been
    // mid-attempt at that instant: at most that one).
    let attempts_after = move_attempts(&relay).await;
    assert!(
        attempts_after <= attempts_before + 1,
        "the move was attempted again after the withdrawal: {attempts_before} → {attempts_after}"
    );
    let cancelled = relay.deliveries("cancelled").await;
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0].last_error.as_deref(), Some("consent_revoked"));
    // The citizen's page says what happened, in their words.
    let page = browser_client()
        .get(relay.broker.url(&status_page))
        .header("Cookie", format!("tuo_session={}", alice.cookie))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("you withdrew your consent before it went out"),
        "{page}"
    );
}

#[tokio::test]
async fn a_consent_that_lapses_while_a_change_is_pending_sends_only_its_expiry() {
    let relay = Relay::start(
        &[DOWN],
        fast_env().set("BROKER_CONSENT__EXPIRY_SWEEP_SECS", "1"),
    )
    .await;
    let citizen = relay.citizen(3).await;
    // A consent that lapses in a few seconds (the pages offer whole days; an import, any time).
    let now = store::now_ms();
    let consent = relay
        .import(ImportInput {
            expires_at_ms: now + 4_000,
            ..consent_given(&citizen, REVENUE, BENEFITS, Mode::Ongoing, &["address"])
        })
        .await;
    let sub = relay.subject(REGISTRY_SECTOR, &citizen).await;
    let token = relay.registry_token().await;
    let (status, body) = relay
        .report(
            &token,
            &sub,
            &json!({"event": "move", "attributes": {"address": address("3 Lapse Road")}}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    until_retrying(&relay).await;
    relay
        .wait_until(
            "the expiry to be recorded",
            Duration::from_secs(30),
            || async {
                relay
                    .deliveries("pending")
                    .await
                    .iter()
                    .any(|d| d.event == "consent-revoked")
            },
        )
        .await;
    receiver_up(&relay).await;
    relay
        .wait_until("the expiry notice", Duration::from_secs(30), || async {
            accepted_events(&relay)
                .await
                .iter()
                .any(|(e, _)| e == "consent-revoked")
        })
        .await;
    let accepted = accepted_events(&relay).await;
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    assert_eq!(accepted[0].1["state"], "expired");
    assert_eq!(accepted[0].1["consent_id"], consent.id().to_string());
    let cancelled = relay.deliveries("cancelled").await;
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0].last_error.as_deref(), Some("consent_expired"));
}

#[tokio::test]
async fn a_department_disabled_while_a_change_is_pending_never_receives_it() {
    let relay = Relay::start(&[DOWN], fast_env()).await;
    let citizen = relay.citizen(3).await;
    relay
        .ongoing(&citizen, REVENUE, BENEFITS, &["address"])
        .await;
    let sub = relay.subject(REGISTRY_SECTOR, &citizen).await;
    let token = relay.registry_token().await;
    let move_to =
        |street: &'static str| json!({"event": "move", "attributes": {"address": address(street)}});
    let (status, _) = relay.report(&token, &sub, &move_to("4 Before Lane")).await;
    assert_eq!(status, 202);
    until_retrying(&relay).await;

    let out = run_cli(&relay, &["departments", "disable", REVENUE]);
    assert!(out.contains("1 queued deliveries cancelled"), "{out}");
    receiver_up(&relay).await;
    run_cli(&relay, &["departments", "enable", REVENUE]);
    // A change made after it is enabled again goes out: what was cancelled does not.
    let (status, _) = relay.report(&token, &sub, &move_to("5 After Lane")).await;
    assert_eq!(status, 202);
    relay
        .wait_until("the later move", Duration::from_secs(30), || async {
            accepted_events(&relay)
                .await
                .iter()
                .any(|(e, _)| e == "move")
        })
        .await;
    let accepted = accepted_events(&relay).await;
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    let street = &accepted[0].1["verified_claims"]["claims"]["address"]["street_address"];
    assert_eq!(street, "5 After Lane");
    let cancelled = relay.deliveries("cancelled").await;
    assert_eq!(cancelled.len(), 1);
    assert_eq!(
        cancelled[0].last_error.as_deref(),
        Some("department_disabled")
    );
}

#[tokio::test]
async fn an_erased_citizens_pending_change_is_never_sent() {
    let relay = Relay::start(&[DOWN], fast_env()).await;
    let token = relay.registry_token().await;
    let mut subjects = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let citizen = relay.citizen(3).await;
        relay
            .ongoing(&citizen, REVENUE, BENEFITS, &["address"])
            .await;
        subjects.push(relay.subject(REGISTRY_SECTOR, &citizen).await);
        ids.push(citizen);
    }
    let (status, _) = relay
        .report(
            &token,
            &subjects[0],
            &json!({"event": "move", "attributes": {"address": address("6 Erased Way")}}),
        )
        .await;
    assert_eq!(status, 202);
    until_retrying(&relay).await;

    let out = run_cli(&relay, &["citizens", "erase", &ids[0]]);
    assert!(out.contains("1 queued deliveries cancelled"), "{out}");
    receiver_up(&relay).await;
    // Another citizen's change, after: it arrives; the erased citizen's never does.
    let (status, _) = relay
        .report(
            &token,
            &subjects[1],
            &json!({"event": "move", "attributes": {"address": address("7 Kept Way")}}),
        )
        .await;
    assert_eq!(status, 202);
    relay
        .wait_until(
            "the other citizen's move",
            Duration::from_secs(30),
            || async {
                accepted_events(&relay)
                    .await
                    .iter()
                    .any(|(e, _)| e == "move")
            },
        )
        .await;
    let accepted = accepted_events(&relay).await;
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    let street = &accepted[0].1["verified_claims"]["claims"]["address"]["street_address"];
    assert_eq!(street, "7 Kept Way");
    let cancelled = relay.deliveries("cancelled").await;
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0].citizen_id, ids[0]);
    assert_eq!(cancelled[0].last_error.as_deref(), Some("citizen_erased"));
    // Erasing twice is refused, with one line.
    let env = cli_env(&relay);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, _, err) = run_broker(&env, &["citizens", "erase", &ids[0]]);
    assert!(!status.success());
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
