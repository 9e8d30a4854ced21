//! Push against real HTTP receivers on 127.0.0.1.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::test_receiver::{Receiver, Reply};
use crate::{AdapterConfig, ClientOptions, Registry};

fn adapter(settings: serde_json::Value) -> Arc<dyn DeliveryAdapter> {
    let registry = Registry::new(&ClientOptions {
        use_system_proxy: false,
        ..ClientOptions::default()
    })
    .unwrap();
    let mut config = json!({"kind": "push"});
    config
        .as_object_mut()
        .unwrap()
        .extend(settings.as_object().unwrap().clone());
    registry
        .delivery_adapter(&AdapterConfig::from_json(config).unwrap())
        .unwrap()
}

fn to(receiver: &Receiver) -> Arc<dyn DeliveryAdapter> {
    adapter(json!({"endpoint": receiver.url("/events"), "timeout_ms": 2000}))
}

fn event(jti: &str) -> Outgoing {
    Outgoing {
        jti: jti.to_owned(),
        department_id: "revenue".to_owned(),
        set_jwt: format!(
            "eyJhbGciOiJFUzI1NiIsInR5cCI6InNlY2V2ZW50K2p3dCJ9.eyJqdGkiOiJ{jti}QWRkcmVzcyJ9.c2lnbmF0dXJl{jti}"
        ),
        event_type: "https://schemas.tell-us-once.example/event/attribute-changed".to_owned(),
        issued_at_ms: 1_767_225_600_000,
    }
}

#[tokio::test]
async fn accepted_is_delivered_and_the_request_follows_rfc_8935() {
    let receiver = Receiver::start(|_| Reply::status(202)).await;
    let adapter =
        adapter(json!({"endpoint": receiver.url("/tuo/events"), "authorization": "s3cret-token"}));
    let sent = event("a1");

    let outcome = adapter.deliver(&sent).await;

    assert!(outcome.is_delivered(), "{outcome:?}");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/tuo/events");
    assert_eq!(
        request.header("content-type"),
        Some("application/secevent+jwt")
    );
    assert_eq!(request.header("accept"), Some("application/json"));
    assert_eq!(request.header("authorization"), Some("Bearer s3cret-token"));
    assert_eq!(request.body, sent.set_jwt.as_bytes());
}

#[tokio::test]
async fn any_2xx_is_delivered_and_no_authorization_is_sent_unless_configured() {
    let receiver = Receiver::start(|_| Reply::status(200)).await;
    let outcome = to(&receiver).deliver(&event("a2")).await;
    assert_eq!(
        outcome,
        DeliveryOutcome::delivered("accepted with http status 200")
    );
    assert_eq!(receiver.requests()[0].header("authorization"), None);
}

#[tokio::test]
async fn server_errors_are_retried_with_the_receivers_hint() {
    let receiver = Receiver::start(|_| Reply::status(500)).await;
    let outcome = to(&receiver).deliver(&event("b1")).await;
    assert_eq!(
        outcome,
        DeliveryOutcome::Retry {
            error_code: "http_500".to_owned(),
            detail: "http status 500".to_owned(),
            retry_after: None,
        }
    );

    let unavailable = Receiver::start(|_| Reply::status(503).with_header("Retry-After", "7")).await;
    let outcome = to(&unavailable).deliver(&event("b2")).await;
    let DeliveryOutcome::Retry {
        error_code,
        retry_after,
        ..
    } = outcome
    else {
        panic!("503 must be retried: {outcome:?}")
    };
    assert_eq!(error_code, "http_503");
    assert_eq!(retry_after, Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn too_many_requests_and_request_timeout_are_retried() {
    let limited = Receiver::start(|_| Reply::status(429).with_header("Retry-After", "30")).await;
    let outcome = to(&limited).deliver(&event("c1")).await;
    let DeliveryOutcome::Retry {
        error_code,
        retry_after,
        ..
    } = outcome
    else {
        panic!("429 must be retried: {outcome:?}")
    };
    assert_eq!(error_code, "http_429");
    assert_eq!(retry_after, Some(Duration::from_secs(30)));

    let slow = Receiver::start(|_| Reply::status(408)).await;
    let outcome = to(&slow).deliver(&event("c2")).await;
    assert_eq!(outcome.error_code(), Some("http_408"));
    assert!(
        matches!(outcome, DeliveryOutcome::Retry { .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn rfc_8935_error_bodies_are_rejections_with_their_code() {
    let receiver = Receiver::start(|_| {
        Reply::json(
            400,
            r#"{"err":"invalid_key","description":"Key ID 12 has been revoked"}"#,
        )
    })
    .await;
    let outcome = to(&receiver).deliver(&event("d1")).await;
    assert_eq!(
        outcome,
        DeliveryOutcome::rejected("invalid_key", "http status 400: Key ID 12 has been revoked")
    );

    let denied = Receiver::start(|_| Reply::json(403, r#"{"err":"access_denied"}"#)).await;
    let outcome = to(&denied).deliver(&event("d2")).await;
    assert_eq!(
        outcome,
        DeliveryOutcome::rejected("access_denied", "http status 403")
    );

    let missing = Receiver::start(|_| Reply::status(404)).await;
    let outcome = to(&missing).deliver(&event("d3")).await;
    assert_eq!(
        outcome,
        DeliveryOutcome::rejected("http_404", "http status 404")
    );

    let garbled = Receiver::start(|_| Reply::json(400, r#"{"err":"not a code!"}"#)).await;
    let outcome = to(&garbled).deliver(&event("d4")).await;
    assert_eq!(outcome.error_code(), Some("http_400"));
}

#[tokio::test]
async fn what_a_receiver_echoes_back_never_reaches_the_outcome() {
    let receiver = Receiver::start(|request| {
        let echoed = String::from_utf8_lossy(&request.body).into_owned();
        let body = json!({"err": "invalid_request", "description": format!("cannot parse {echoed}\n{}", "x ".repeat(200))});
        Reply::json(400, &body.to_string())
    })
    .await;
    let sent = event("e1");
    let outcome = to(&receiver).deliver(&sent).await;

    assert_eq!(outcome.error_code(), Some("invalid_request"));
    let detail = outcome.detail();
    assert!(
        detail.starts_with("http status 400: cannot parse [redacted]"),
        "{detail}"
    );
    for segment in sent.set_jwt.split('.') {
        assert!(!detail.contains(segment), "{detail}");
    }
    assert!(
        detail.chars().count() <= "http status 400: ".len() + 120,
        "{detail}"
    );
    assert!(!detail.contains('\n'));
}

#[tokio::test]
async fn a_silent_receiver_times_out_without_holding_up_another_department() {
    let silent = Receiver::start(|_| Reply::Hang).await;
    let fast = Receiver::start(|_| Reply::status(202)).await;
    let stuck = adapter(
        json!({"endpoint": silent.url("/events"), "timeout_ms": 600, "max_concurrency": 1}),
    );
    let healthy = to(&fast);
    let stuck_batch: Vec<_> = (0..3).map(|i| event(&format!("f{i}"))).collect();

    let started = Instant::now();
    let stuck_run = tokio::spawn(async move {
        let outcomes = stuck.deliver_batch(&stuck_batch).await;
        (outcomes, started.elapsed())
    });
    // Let the stuck adapter occupy its connection first.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let healthy_outcome = healthy.deliver(&event("g1")).await;
    let healthy_took = started.elapsed();
    let (stuck_outcomes, stuck_took) = stuck_run.await.unwrap();

    assert!(healthy_outcome.is_delivered(), "{healthy_outcome:?}");
    assert!(
        healthy_took < Duration::from_millis(400),
        "healthy took {healthy_took:?}"
    );
    assert_eq!(stuck_outcomes.len(), 3);
    assert_eq!(stuck_outcomes[0].error_code(), Some("timeout"));
    for outcome in &stuck_outcomes {
        assert!(
            matches!(outcome, DeliveryOutcome::Retry { .. }),
            "{outcome:?}"
        );
    }
    assert!(
        stuck_took >= Duration::from_millis(600),
        "gave up early: {stuck_took:?}"
    );
    // Waiting for a slot is bounded by the timeout too: about two timeouts for the whole batch.
    assert!(
        stuck_took < Duration::from_millis(1_600),
        "batch took {stuck_took:?}"
    );
}

#[tokio::test]
async fn concurrency_is_limited_per_adapter_and_outcomes_keep_batch_order() {
    // Later events answer sooner, odd events fail: order must come from the batch, not the clock.
    let receiver = Receiver::start(|request| {
        // The last character of each SET is its index in the batch.
        let index = u64::from(request.body.last().unwrap() - b'0');
        let status = if index % 2 == 0 { 202 } else { 500 };
        Reply::status(status).after(Duration::from_millis(40 * (6 - index)))
    })
    .await;
    let adapter = adapter(json!({"endpoint": receiver.url("/events"), "max_concurrency": 2}));
    let batch: Vec<_> = (0..6).map(|i| event(&format!("h{i}"))).collect();

    let outcomes = adapter.deliver_batch(&batch).await;

    assert_eq!(outcomes.len(), 6);
    for (index, outcome) in outcomes.iter().enumerate() {
        assert_eq!(
            outcome.is_delivered(),
            index % 2 == 0,
            "event {index}: {outcome:?}"
        );
    }
    assert_eq!(receiver.max_in_flight(), 2);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let elsewhere = Receiver::start(|_| Reply::status(202)).await;
    let target = elsewhere.url("/events");
    let redirecting =
        Receiver::start(move |_| Reply::status(307).with_header("Location", &target)).await;

    let outcome = to(&redirecting).deliver(&event("i1")).await;

    assert_eq!(outcome.error_code(), Some("http_307"));
    assert!(
        matches!(outcome, DeliveryOutcome::Retry { .. }),
        "{outcome:?}"
    );
    assert!(
        elsewhere.requests().is_empty(),
        "the SET followed the redirect"
    );
}

#[tokio::test]
async fn a_closed_port_is_a_connection_failure_to_retry() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let adapter = adapter(json!({"endpoint": format!("http://127.0.0.1:{port}/events")}));
    let outcome = adapter.deliver(&event("j1")).await;
    assert_eq!(outcome.error_code(), Some("connect_failed"));
    assert!(
        matches!(outcome, DeliveryOutcome::Retry { .. }),
        "{outcome:?}"
    );
}
