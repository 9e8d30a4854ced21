//! Pull source against real HTTP departments on 127.0.0.1.

use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::test_receiver::{Receiver, Reply};
use crate::{AdapterConfig, ClientOptions, Registry};

fn source(receiver: &Receiver, extra: Value) -> Arc<PullSource> {
    let registry = Registry::new(&ClientOptions {
        use_system_proxy: false,
        ..ClientOptions::default()
    })
    .unwrap();
    let mut config = json!({"kind": "pull", "base_url": receiver.url("/tuo/"), "timeout_ms": 2000});
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    registry
        .pull_source(&AdapterConfig::from_json(config).unwrap())
        .unwrap()
}

#[tokio::test]
async fn a_held_value_is_fetched_with_its_provenance() {
    let department = Receiver::start(|_| {
        Reply::json(
            200,
            r#"{"value":"2030-05-01","verified_at":"2026-01-02T03:04:05Z","method":"registry_record","note":"ignored"}"#,
        )
    })
    .await;
    let source = source(&department, json!({"authorization": "pull-s3cret"}));

    let pulled = source.fetch("ab/c?d#e", "date_of_death").await.unwrap();

    assert_eq!(
        pulled,
        Some(PulledValue {
            value: json!("2030-05-01"),
            verified_at: Some("2026-01-02T03:04:05Z".to_owned()),
            method: Some("registry_record".to_owned()),
        })
    );
    let request = &department.requests()[0];
    assert_eq!(request.method, "GET");
    assert_eq!(
        request.target,
        "/tuo/subjects/ab%2Fc%3Fd%23e/attributes/date_of_death"
    );
    assert_eq!(request.header("accept"), Some("application/json"));
    assert_eq!(request.header("authorization"), Some("Bearer pull-s3cret"));
}

#[tokio::test]
async fn not_found_means_no_value() {
    let department = Receiver::start(|_| Reply::json(404, r#"{"error":"unknown subject"}"#)).await;
    let pulled = source(&department, json!({}))
        .fetch("s1", "birthdate")
        .await
        .unwrap();
    assert_eq!(pulled, None);
}

#[tokio::test]
async fn an_oversize_body_is_refused_with_or_without_a_length() {
    let padding = "x".repeat(70 * 1024);
    let declared =
        Receiver::start(move |_| Reply::json(200, &format!(r#"{{"value":"{padding}"}}"#))).await;
    let error = source(&declared, json!({}))
        .fetch("s1", "address")
        .await
        .unwrap_err();
    assert!(
        matches!(error, AdapterError::ResponseTooLarge { limit: 65_536 }),
        "{error:?}"
    );

    // No Content-Length: the body streams until the connection closes.
    let streamed = Receiver::start(|_| {
        let mut raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"value\":\"".to_vec();
        raw.extend(std::iter::repeat_n(b'y', 200 * 1024));
        raw.extend_from_slice(b"\"}");
        Reply::Raw(raw)
    })
    .await;
    let error = source(&streamed, json!({}))
        .fetch("s1", "address")
        .await
        .unwrap_err();
    assert!(
        matches!(error, AdapterError::ResponseTooLarge { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the department's response exceeds 65536 bytes"
    );

    // The bound is configurable, and a body within it is accepted.
    let within = Receiver::start(|_| Reply::json(200, r#"{"value":"short"}"#)).await;
    let pulled = source(&within, json!({"max_response_bytes": 1024}))
        .fetch("s1", "address")
        .await
        .unwrap();
    assert_eq!(pulled.unwrap().value, json!("short"));
}

#[tokio::test]
async fn malformed_json_is_refused_without_repeating_it() {
    let department = Receiver::start(|_| Reply::json(200, r#"{"value": "12 Secret Lane""#)).await;
    let error = source(&department, json!({}))
        .fetch("s1", "address")
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("the department's response is malformed: not valid JSON"),
        "{message}"
    );
    assert!(!message.contains("Secret Lane"), "{message}");
    assert!(!error.is_transient());
}

#[tokio::test]
async fn the_wrong_shape_is_refused() {
    let cases = [
        (r#"["12 Secret Lane"]"#, "expected a JSON object"),
        (r#"{"val":"12 Secret Lane"}"#, "`value` is missing"),
        (r#"{"value":null}"#, "`value` is missing"),
        (
            r#"{"value":"x","verified_at":"yesterday"}"#,
            "`verified_at` must be an RFC 3339 timestamp",
        ),
        (
            r#"{"value":"x","method":{"kind":"doc"}}"#,
            "`method` must be a short code",
        ),
    ];
    for (body, expected) in cases {
        let department = Receiver::start(move |_| Reply::json(200, body)).await;
        let error = source(&department, json!({}))
            .fetch("s1", "address")
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(message.contains(expected), "{body}: {message}");
        assert!(!message.contains("Secret Lane"), "{message}");
    }
}

#[tokio::test]
async fn department_failures_are_classified() {
    let busy = Receiver::start(|_| Reply::status(503).with_header("Retry-After", "12")).await;
    let error = source(&busy, json!({}))
        .fetch("s1", "address")
        .await
        .unwrap_err();
    assert!(error.is_transient());
    assert_eq!(
        error.retry_after(),
        Some(std::time::Duration::from_secs(12))
    );

    let refused = Receiver::start(|_| Reply::status(401)).await;
    let error = source(&refused, json!({}))
        .fetch("s1", "address")
        .await
        .unwrap_err();
    assert!(
        matches!(error, AdapterError::Status { status: 401, .. }),
        "{error:?}"
    );
    assert!(!error.is_transient());

    let silent = Receiver::start(|_| Reply::Hang).await;
    let error = source(&silent, json!({"timeout_ms": 300}))
        .fetch("s1", "address")
        .await
        .unwrap_err();
    assert!(matches!(error, AdapterError::Timeout { .. }), "{error:?}");
    assert!(error.is_transient());
}

#[tokio::test]
async fn bad_arguments_never_reach_the_wire() {
    let department = Receiver::start(|_| Reply::status(200)).await;
    let source = source(&department, json!({}));
    assert!(matches!(
        source.fetch("", "address").await,
        Err(AdapterError::InvalidArgument {
            field: "subject",
            ..
        })
    ));
    assert!(matches!(
        source.fetch("s1", "../admin").await,
        Err(AdapterError::InvalidArgument {
            field: "attribute",
            ..
        })
    ));
    assert!(matches!(
        source.changes_since(Some("has space")).await,
        Err(AdapterError::InvalidArgument {
            field: "cursor",
            ..
        })
    ));
    assert!(department.requests().is_empty());
}

#[tokio::test]
async fn the_change_feed_is_read_page_by_page() {
    let department = Receiver::start(|request| {
        if request.target.contains("since=") {
            Reply::json(200, r#"{"changes":[],"next_cursor":"c2"}"#)
        } else {
            Reply::json(
                200,
                r#"{"changes":[
                    {"subject":"s1","attribute":"date_of_death","value":"2030-05-01",
                     "changed_at":"2030-05-02T08:00:00Z","method":"registry_record"},
                    {"subject":"s2","attribute":"marital_status","value":{"status":"married"}}
                 ],"next_cursor":"c1&x=1","has_more":true}"#,
            )
        }
    })
    .await;
    let source = source(&department, json!({"page_size": 2}));

    let first = source.changes_since(None).await.unwrap();
    assert_eq!(first.next_cursor, "c1&x=1");
    assert!(first.has_more);
    assert_eq!(first.changes.len(), 2);
    assert_eq!(first.changes[0].subject, "s1");
    assert_eq!(first.changes[0].attribute, "date_of_death");
    assert_eq!(first.changes[0].value.value, json!("2030-05-01"));
    assert_eq!(
        first.changes[0].changed_at.as_deref(),
        Some("2030-05-02T08:00:00Z")
    );
    assert_eq!(first.changes[1].value.value, json!({"status": "married"}));

    let second = source
        .changes_since(Some(&first.next_cursor))
        .await
        .unwrap();
    assert!(second.changes.is_empty());
    assert!(!second.has_more);

    let targets: Vec<String> = department
        .requests()
        .into_iter()
        .map(|r| r.target)
        .collect();
    assert_eq!(
        targets,
        [
            "/tuo/changes?limit=2",
            "/tuo/changes?since=c1%26x%3D1&limit=2"
        ]
    );
}

#[tokio::test]
async fn a_bad_change_is_named_by_its_position() {
    let department = Receiver::start(|_| {
        Reply::json(
            200,
            r#"{"changes":[{"subject":"s1","attribute":"address","value":"1 Main"},
                           {"subject":"s2","attribute":"Address!","value":"2 Main"}],
                "next_cursor":"c"}"#,
        )
    })
    .await;
    let error = source(&department, json!({}))
        .changes_since(None)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the department's response is malformed: change 1: `attribute` is missing or invalid"
    );

    let no_cursor = Receiver::start(|_| Reply::json(200, r#"{"changes":[]}"#)).await;
    let error = source(&no_cursor, json!({}))
        .changes_since(None)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("`next_cursor`"), "{error}");
}

#[test]
fn debug_hides_pulled_values() {
    let change = PulledChange {
        subject: "s1".to_owned(),
        attribute: "address".to_owned(),
        value: PulledValue {
            value: json!("12 Secret Lane"),
            verified_at: None,
            method: None,
        },
        changed_at: None,
    };
    let shown = format!("{change:?}");
    assert!(!shown.contains("Secret"), "{shown}");
    assert!(shown.contains("address"));
}
