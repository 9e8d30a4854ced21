//! Delivery guarantees: a receiver that fails then accepts gets the change once; a receiver that
//! never answers holds up nobody else and ends in the dead letter; a re-sent change keeps its
//! `jti`, so a receiver that de-duplicates sees it once; `broker deliveries retry` re-queues.

use std::time::{Duration, Instant};

use sea_orm::sea_query::Expr;
use serde_json::json;

use super::*;

async fn moved(relay: &Relay, citizen: &str, street: &str) -> String {
    let sub = relay.subject(REGISTRY_SECTOR, citizen).await;
    let token = relay.registry_token().await;
    let (status, body) = relay
        .report(
            &token,
            &sub,
            &json!({"event": "move", "attributes": {"address": address(street)}}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    body["change_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_receiver_answering_500_then_202_accepts_the_change_exactly_once() {
    let relay = Relay::start(&["revenue=fail-then-ok:2"], fast_env()).await;
    let citizen = relay.citizen(3).await;
    relay
        .ongoing(&citizen, REVENUE, BENEFITS, &["address"])
        .await;
    moved(&relay, &citizen, "10 Retry Road").await;
    relay
        .wait_until("the delivery", Duration::from_secs(30), || async {
            relay.deliveries("delivered").await.len() == 1
        })
        .await;
    let stats = relay.stats("revenue").await;
    assert_eq!(stats["distinct"], 1, "{stats}");
    assert_eq!(stats["posts"], 3, "{stats}");
    assert_eq!(stats["accepted"], 1, "{stats}");
    assert_eq!(stats["accepted_more_than_once"], 0, "{stats}");
    let row = &relay.deliveries("delivered").await[0];
    assert_eq!(row.attempts, 3);
    assert!(row.last_error.is_none());
    let actions = super::api::audit_actions(&relay).await;
    assert_eq!(
        actions.iter().filter(|a| *a == "delivery-failed").count(),
        2,
        "{actions:?}"
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "delivery-delivered")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_receiver_that_never_answers_holds_up_no_one_and_is_dead_lettered() {
    let env = fast_env().set("BROKER_RELAY__MAX_ATTEMPTS", "2");
    let relay = Relay::start(&["health=never"], env).await;
    let mut citizens = Vec::new();
    for _ in 0..5 {
        let citizen = relay.citizen(3).await;
        relay
            .ongoing(&citizen, REVENUE, BENEFITS, &["address"])
            .await;
        relay
            .ongoing(&citizen, HEALTH, COVERAGE, &["address"])
            .await;
        citizens.push(citizen);
    }
    let started = Instant::now();
    for (i, citizen) in citizens.iter().enumerate() {
        moved(&relay, citizen, &format!("{i} Quick Street")).await;
    }
    // The revenue agency has all five while the health plan's receiver is still silent.
    relay
        .wait_until("revenue's deliveries", Duration::from_secs(20), || async {
            relay.stats("revenue").await["accepted"] == 5
        })
        .await;
    let revenue_done = started.elapsed();
    let pending_health = relay
        .deliveries("pending")
        .await
        .into_iter()
        .filter(|d| d.department_id == HEALTH)
        .count();
    assert_eq!(
        pending_health, 5,
        "health's deliveries should still be pending"
    );
    // 5 deliveries to a receiver that never answers would take 5 × 1.5 s if they queued.
    assert!(revenue_done < Duration::from_secs(6), "{revenue_done:?}");
    // Two attempts each (timeout), then the dead letter, with the error code and no value.
    relay
        .wait_until("health's dead letters", Duration::from_secs(30), || async {
            relay
                .deliveries("failed")
                .await
                .iter()
                .filter(|d| d.department_id == HEALTH)
                .count()
                == 5
        })
        .await;
    for d in relay.deliveries("failed").await {
        assert_eq!(d.attempts, 2);
        let error = d.last_error.unwrap();
        // Class, code, then a short clean excerpt (docs/relay.md, "the outbox and the worker").
        assert!(
            error.starts_with("unreachable: timeout: ")
                || error.starts_with("unreachable: receiver_busy: "),
            "{error}"
        );
        assert!(!error.contains("Street"), "{error}");
    }
    // `broker deliveries retry --all-failed` queues them again with a fresh budget.
    let url = relay.db.url().to_owned();
    let data_dir = relay.broker.data_dir.display().to_string();
    let (status, out, err) = run_broker(
        &[
            ("BROKER_DATABASE_URL", &url),
            ("BROKER_DATA_DIR", &data_dir),
        ],
        &[
            "deliveries",
            "retry",
            "--all-failed",
            "--department",
            HEALTH,
        ],
    );
    assert!(status.success(), "{out}\n{err}");
    assert!(out.contains("queued 5 deliveries again"), "{out}");
    let (status, out, _) = run_broker(
        &[
            ("BROKER_DATABASE_URL", &url),
            ("BROKER_DATA_DIR", &data_dir),
        ],
        &["deliveries", "list", "--department", HEALTH],
    );
    assert!(status.success());
    assert_eq!(
        out.lines().filter(|l| l.contains(HEALTH)).count(),
        5,
        "{out}"
    );
}

#[tokio::test]
async fn a_change_sent_again_keeps_its_jti_so_a_deduplicating_receiver_sees_it_once() {
    let relay = Relay::start(&[], fast_env()).await;
    let citizen = relay.citizen(3).await;
    relay
        .ongoing(&citizen, REVENUE, BENEFITS, &["address"])
        .await;
    moved(&relay, &citizen, "7 Same Street").await;
    relay
        .wait_until("the delivery", Duration::from_secs(20), || async {
            relay.deliveries("delivered").await.len() == 1
        })
        .await;
    // As if the receiver's 202 had been lost: the row is pending again and goes out again.
    delivery_row::Entity::update_many()
        .col_expr(delivery_row::Column::Status, Expr::value("pending"))
        .exec(&relay.conn)
        .await
        .unwrap();
    relay
        .wait_until("the second send", Duration::from_secs(20), || async {
            relay.stats("revenue").await["posts"] == 2
        })
        .await;
    let stats = relay.stats("revenue").await;
    assert_eq!(stats["distinct"], 1, "{stats}");
    let received = relay.received("revenue").await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["count"], 2);
}

/// A dead letter whose change a newer one superseded is not sent again after the newer one:
/// `broker deliveries retry <id>` refuses with one line unless `--force`, and `--all-failed`
/// leaves it alone and says so.
#[tokio::test]
async fn retrying_a_superseded_dead_letter_is_refused_unless_forced() {
    let relay = Relay::start(&["health=reject"], fast_env()).await;
    let citizen = relay.citizen(3).await;
    relay
        .ongoing(&citizen, HEALTH, COVERAGE, &["address"])
        .await;
    moved(&relay, &citizen, "1 Old Road").await;
    relay
        .wait_until("the dead letter", Duration::from_secs(20), || async {
            relay.deliveries("failed").await.len() == 1
        })
        .await;
    let old = relay.deliveries("failed").await.remove(0);
    // The department fixes its receiver; the citizen moves again, and that change arrives.
    let res = reqwest::Client::new()
        .post(format!("{}/control/mode", relay.receiver.url))
        .json(&json!({"path": "health", "mode": "ok"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    moved(&relay, &citizen, "2 New Road").await;
    relay
        .wait_until("the newer change", Duration::from_secs(20), || async {
            relay.deliveries("delivered").await.len() == 1
        })
        .await;
    let newer = relay.deliveries("delivered").await.remove(0);

    let url = relay.db.url().to_owned();
    let data_dir = relay.broker.data_dir.display().to_string();
    let env = [
        ("BROKER_DATABASE_URL", url.as_str()),
        ("BROKER_DATA_DIR", data_dir.as_str()),
    ];
    let (status, out, err) = run_broker(&env, &["deliveries", "retry", &old.id]);
    assert!(!status.success(), "{out}\n{err}");
    let line = err.trim().lines().last().unwrap_or_default();
    assert!(line.contains("superseded"), "{err}");
    assert!(line.contains(&newer.id), "names the newer delivery: {err}");
    assert!(line.contains("--force"), "{err}");
    assert_eq!(relay.deliveries("failed").await.len(), 1, "left as it was");

    let (status, out, err) = run_broker(&env, &["deliveries", "retry", "--all-failed"]);
    assert!(status.success(), "{out}\n{err}");
    assert!(out.contains("queued 0 deliveries again"), "{out}");
    assert!(out.contains("left 1 superseded"), "{out}");
    assert_eq!(relay.deliveries("failed").await.len(), 1);

    // Forced: sent again (same jti), after the newer one, as the operator asked.
    let (status, out, err) = run_broker(&env, &["deliveries", "retry", &old.id, "--force"]);
    assert!(status.success(), "{out}\n{err}");
    assert!(out.contains("queued 1 deliveries again"), "{out}");
    relay
        .wait_until("the forced retry", Duration::from_secs(20), || async {
            relay.deliveries("delivered").await.len() == 2
        })
        .await;
    let received = relay.received("health").await;
    let jtis: Vec<&str> = received.iter().filter_map(|e| e["jti"].as_str()).collect();
    assert!(jtis.contains(&old.id.as_str()), "{received:?}");
}
