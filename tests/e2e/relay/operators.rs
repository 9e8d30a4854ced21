//! Operators are told: a receiver that fails, one that refuses and one that never answers show
//! up on `/metrics` (counters by department and outcome, attempts by result, dead letters, the
//! queue gauges, the change-to-delivery histogram) and as one structured WARN per failed attempt
//! and per dead letter in the broker's log — never a value, a citizen id, or the receiver's text.
//! And the alerting rules in `docs/alerts/` pass `promtool check rules` and their unit tests.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use super::*;

const ESD_PURPOSE: &str = PENSION;

async fn metrics(relay: &Relay) -> String {
    reqwest::get(relay.broker.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the series `name{labels}` on `/metrics`, if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// The broker's JSON log lines whose message is `message`.
fn warnings(log: &str, message: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["message"] == message)
        .collect()
}

#[tokio::test]
async fn failing_receivers_show_on_metrics_and_as_one_warn_per_failure() {
    let env = fast_env().set("BROKER_RELAY__MAX_ATTEMPTS", "50");
    let relay = Relay::start(
        &["revenue=fail-then-ok:2", "health=reject", "esd=never"],
        env,
    )
    .await;
    let citizen = relay.citizen(3).await;
    for (department, purpose) in [(REVENUE, BENEFITS), (HEALTH, COVERAGE), (ESD, ESD_PURPOSE)] {
        relay
            .ongoing(&citizen, department, purpose, &["address"])
            .await;
    }
    let sub = relay.subject(REGISTRY_SECTOR, &citizen).await;
    let token = relay.registry_token().await;
    let (status, body) = relay
        .report(
            &token,
            &sub,
            &json!({"event": "move", "attributes": {"address": address("77 Secret Lane")}}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    relay
        .wait_until(
            "revenue delivered, health dead-lettered",
            Duration::from_secs(30),
            || async {
                relay.deliveries("delivered").await.len() == 1
                    && relay.deliveries("failed").await.len() == 1
            },
        )
        .await;
    let revenue = r#"department="revenue-agency""#;
    let health = r#"department="health-insurance""#;
    let esd = r#"department="employment-social-development""#;
    let expected: Vec<(String, f64)> = vec![
        (
            format!("broker_relay_deliveries_total{{{revenue},outcome=\"retried\"}}"),
            2.0,
        ),
        (
            format!("broker_relay_deliveries_total{{{revenue},outcome=\"delivered\"}}"),
            1.0,
        ),
        (
            format!("broker_relay_deliveries_total{{{health},outcome=\"dead_lettered\"}}"),
            1.0,
        ),
        (
            format!("broker_relay_attempts_total{{{revenue},result=\"unreachable\"}}"),
            2.0,
        ),
        (
            format!("broker_relay_attempts_total{{{revenue},result=\"delivered\"}}"),
            1.0,
        ),
        (
            format!("broker_relay_attempts_total{{{health},result=\"refused\"}}"),
            1.0,
        ),
        (
            format!("broker_relay_dead_letters_total{{{health},class=\"refused\"}}"),
            1.0,
        ),
        (
            format!("broker_relay_delivery_latency_seconds_count{{{revenue}}}"),
            1.0,
        ),
        (
            format!("broker_relay_delivery_latency_seconds_bucket{{{revenue},le=\"+Inf\"}}"),
            1.0,
        ),
        // The gauges, refreshed by the worker every second.
        (format!("broker_relay_dead_letters{{{health}}}"), 1.0),
        (format!("broker_relay_queue_depth{{{revenue}}}"), 0.0),
        (format!("broker_relay_queue_depth{{{esd}}}"), 1.0),
    ];
    let oldest = format!("broker_relay_oldest_pending_age_seconds{{{esd}}}");
    let esd_timeouts = format!("broker_relay_attempts_total{{{esd},result=\"unreachable\"}}");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let text = loop {
        let text = metrics(&relay).await;
        let all = expected
            .iter()
            .all(|(series, v)| value(&text, series) == Some(*v))
            && value(&text, &oldest).is_some_and(|age| age >= 1.0)
            && value(&text, &esd_timeouts).is_some_and(|n| n >= 1.0);
        if all || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        value(&text, &oldest).is_some_and(|age| age >= 1.0),
        "{oldest}\n{text}"
    );
    for (series, v) in &expected {
        assert_eq!(value(&text, series), Some(*v), "{series}\n{text}");
    }
    assert!(
        text.contains("# TYPE broker_relay_delivery_latency_seconds histogram"),
        "{text}"
    );
    // No citizen, delivery or subject id, value or receiver text becomes a label.
    let delivery_ids: Vec<String> = relay
        .deliveries("failed")
        .await
        .into_iter()
        .chain(relay.deliveries("delivered").await)
        .map(|d| d.id)
        .collect();
    for secret in [
        citizen.as_str(),
        sub.as_str(),
        "Secret Lane",
        "refuses",
        "access_denied",
    ]
    .into_iter()
    .chain(delivery_ids.iter().map(String::as_str))
    {
        assert!(!text.contains(secret), "`{secret}` on /metrics");
    }

    // One WARN per failed attempt, one per dead letter; ESD's timeouts add theirs.
    let log = relay.broker.log_text();
    let failed = warnings(&log, "relay: delivery attempt failed");
    let revenue_failed: Vec<&Value> = failed
        .iter()
        .filter(|w| w["department"] == REVENUE)
        .collect();
    assert_eq!(revenue_failed.len(), 2, "{failed:#?}");
    let revenue_row = relay.deliveries("delivered").await.remove(0);
    for (i, w) in revenue_failed.iter().enumerate() {
        assert_eq!(w["level"], "WARN", "{w}");
        assert_eq!(w["delivery"], revenue_row.id.as_str(), "{w}");
        assert_eq!(w["error_class"], "unreachable", "{w}");
        assert_eq!(w["code"], "http_500", "{w}");
        assert_eq!(w["attempt"], i as u64 + 1, "{w}");
        assert!(w["retry_in_ms"].as_u64().is_some(), "{w}");
    }
    let dead = warnings(&log, "relay: delivery dead-lettered");
    assert_eq!(dead.len(), 1, "{dead:#?}");
    let health_row = relay.deliveries("failed").await.remove(0);
    assert_eq!(dead[0]["level"], "WARN");
    assert_eq!(dead[0]["department"], HEALTH);
    assert_eq!(dead[0]["delivery"], health_row.id.as_str());
    assert_eq!(dead[0]["error_class"], "refused");
    // The receiver's own code and description stay out of the log.
    assert_eq!(dead[0]["code"], "refused_by_receiver");
    for secret in [
        "Secret Lane",
        "refuses the event",
        citizen.as_str(),
        sub.as_str(),
    ] {
        assert!(!log.contains(secret), "`{secret}` in the broker's log");
    }
    assert!(
        failed
            .iter()
            .any(|w| w["department"] == ESD && w["error_class"] == "unreachable"),
        "{failed:#?}"
    );
}

/// `docs/alerts/relay.rules.yml` is a valid rule file and its alerts fire (and stay quiet) as its
/// unit tests say. Needs `promtool` (Debian's `prometheus`, installed by
/// `scripts/setup-test-peers`).
#[test]
fn the_relay_alerting_rules_pass_promtool() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/alerts");
    for args in [
        ["check", "rules", "relay.rules.yml"],
        ["test", "rules", "relay.rules.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run promtool ({e}): run scripts/setup-test-peers to install it")
            });
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
