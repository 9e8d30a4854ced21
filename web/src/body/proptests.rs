//! JSON bodies read by a handler: a JSON document we write reads back the same; any body and any
//! `Content-Type` is a value or `unsupported_media_type`, `payload_too_large` or `malformed_json`,
//! never a panic.

use actix_web::FromRequest;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::test::TestRequest;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use services::PublicError;

use super::*;
use services::testing::proptest_cases;

/// The limit without a `Site` (the default of `max_body_bytes`).
const LIMIT: usize = 256 * 1024;

fn read(
    rt: &tokio::runtime::Runtime,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Result<Value, &'static str> {
    rt.block_on(async {
        let mut req = TestRequest::post().uri("/api");
        if let Some(ct) = content_type {
            req = req.insert_header((CONTENT_TYPE, ct));
        }
        let (req, mut payload) = req.set_payload(body).to_http_parts();
        let payload = web::Payload::from_request(&req, &mut payload)
            .await
            .unwrap();
        json::<Value>(&req, payload).await.map_err(|e| e.0.code())
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            proptest::collection::btree_map(any::<String>(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `Content-Type` values, with whether they name JSON.
fn content_type() -> impl Strategy<Value = (Option<String>, Option<bool>)> {
    prop_oneof![
        3 => prop_oneof![
            Just("application/json"),
            Just("application/json; charset=utf-8"),
            Just("application/problem+json"),
            Just("application/merge-patch+json"),
        ]
        .prop_map(|ct| (Some(ct.to_owned()), Some(true))),
        2 => prop_oneof![
            Just("text/plain"),
            Just("application/jsonx"),
            Just("application/x-www-form-urlencoded"),
            Just("text/json"),
            Just("json"),
            Just(""),
            Just("application/"),
            Just(";;;"),
        ]
        .prop_map(|ct| (Some(ct.to_owned()), Some(false))),
        1 => Just((None, Some(false))),
        1 => "[ -~]{0,40}".prop_map(|ct| (Some(ct), None)),
    ]
}

fn config() -> Config {
    Config::with_cases(proptest_cases(128))
}

#[test]
fn json_bodies_read_back_or_are_refused_with_a_stable_code() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    TestRunner::new(config())
        .run(&json_value(), |value| {
            let body = serde_json::to_vec(&value).unwrap();
            prop_assert_eq!(read(&rt, Some("application/json"), body), Ok(value));
            Ok(())
        })
        .unwrap();

    let bodies = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        // Valid JSON, cut short.
        (json_value(), any::<prop::sample::Index>()).prop_map(|(v, cut)| {
            let text = serde_json::to_vec(&v).unwrap();
            text[..cut.index(text.len())].to_vec()
        }),
    ];
    TestRunner::new(config())
        .run(&(content_type(), bodies), |((ct, names_json), body)| {
            let parses = serde_json::from_slice::<Value>(&body).is_ok();
            match (read(&rt, ct.as_deref(), body), names_json) {
                (Ok(_), Some(false)) => prop_assert!(false, "accepted {ct:?}"),
                (Ok(_), _) => prop_assert!(parses),
                (Err(code), Some(true)) => {
                    prop_assert_eq!(code, "malformed_json");
                    prop_assert!(!parses);
                }
                (Err(code), Some(false)) => prop_assert_eq!(code, "unsupported_media_type"),
                (Err(code), None) => prop_assert!(
                    ["unsupported_media_type", "malformed_json"].contains(&code),
                    "{}",
                    code
                ),
            }
            Ok(())
        })
        .unwrap();

    // Around the limit: a JSON string of exactly `n` bytes.
    TestRunner::new(Config::with_cases(proptest_cases(8).min(64)))
        .run(&((LIMIT - 2)..=(LIMIT + 2)), |n| {
            let body = format!("\"{}\"", "a".repeat(n - 2)).into_bytes();
            let got = read(&rt, Some("application/json"), body).map(drop);
            prop_assert_eq!(
                got,
                if n <= LIMIT {
                    Ok(())
                } else {
                    Err("payload_too_large")
                }
            );
            Ok(())
        })
        .unwrap();
}
