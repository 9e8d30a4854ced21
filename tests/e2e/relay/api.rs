//! `POST /api/v1/subjects/{sub}/attributes`: a department's report reaches every consented
//! department once, as a SET that jose verifies; a death stops releases and tells recipients;
//! bad input is refused with a stable code and changes nothing.

use std::time::Duration;

use broker_e2e::peers::run_node;
use broker_e2e::release::{RustClient, attributes_path, get};
use serde_json::json;

use super::*;

#[tokio::test]
async fn a_move_reaches_each_consented_department_once_as_a_set_jose_verifies() {
    // The worker polls once a minute: the change reaches the departments within the wait only
    // because recording it wakes the worker.
    let relay = Relay::start(
        &[],
        fast_env().set("BROKER_RELAY__POLL_INTERVAL_MS", "60000"),
    )
    .await;
    let citizen = relay.citizen(3).await;
    relay
        .ongoing(&citizen, REVENUE, BENEFITS, &["address", "email"])
        .await;
    relay
        .ongoing(&citizen, HEALTH, COVERAGE, &["address"])
        .await;
    // ESD has a consent for the pension, but `once`: it fetches, it is not pushed to.
    let esd_once = relay
        .import(consent_given(
            &citizen,
            ESD,
            PENSION,
            Mode::Once,
            &["address"],
        ))
        .await;
    assert_eq!(esd_once.mode(), Mode::Once);
    let sub = relay.subject(REGISTRY_SECTOR, &citizen).await;
    let token = relay.registry_token().await;
    let new = address("99 New Street");
    let (status, body) = relay
        .report(
            &token,
            &sub,
            &json!({"event": "move", "attributes": {"address": new}, "loa": 3}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let change_id = body["change_id"].as_str().unwrap().to_owned();
    let txn = body["txn"].as_str().unwrap().to_owned();
    relay
        .wait_until("both deliveries", Duration::from_secs(20), || async {
            relay.deliveries("delivered").await.len() == 2
        })
        .await;
    for (path, department, sector) in [
        ("revenue", REVENUE, "revenue.gc.example"),
        ("health", HEALTH, "health.province.example"),
    ] {
        let received = relay.received(path).await;
        assert_eq!(received.len(), 1, "{path}: {received:?}");
        let entry = &received[0];
        assert_eq!(entry["count"], 1);
        // jose, independently, against the broker's /jwks.json
        let args: Vec<String> = vec![
            "--jwks".into(),
            relay.broker.url("/jwks.json"),
            "--typ".into(),
            "secevent+jwt".into(),
            "--iss".into(),
            relay.broker.base.clone(),
            "--aud".into(),
            department.into(),
        ];
        let (ok, out, err) = run_node("verify-jws.mjs", &args, entry["token"].as_str());
        let verified: Value = serde_json::from_str(out.trim())
            .unwrap_or_else(|_| panic!("verify-jws said: {out}\n{err}"));
        assert!(ok && verified["valid"] == true, "{verified}");
        let payload = &verified["payload"];
        assert_eq!(payload["aud"], department);
        assert_eq!(payload["txn"], txn.as_str());
        assert_eq!(
            payload["sub"],
            relay.subject(sector, &citizen).await.as_str()
        );
        let delivery = delivery_row::Entity::find()
            .filter(delivery_row::Column::DepartmentId.eq(department))
            .one(&relay.conn)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(payload["jti"], delivery.id.as_str());
        assert_eq!(delivery.change_id, change_id);
        let (uri, event) = event_of(entry);
        assert_eq!(uri, "urn:tell-us-once:secevent:move");
        assert_eq!(event["change"], "move");
        assert_eq!(event["verified_claims"]["claims"]["address"], new);
        assert_eq!(
            event["verified_claims"]["verification"]["assurance_level"],
            "loa3"
        );
        // only what changed: revenue's consent also covers email, which did not change
        assert_eq!(event["attributes"], json!(["address"]));
    }
    assert!(relay.received("esd").await.is_empty());
    // The broker's own record of the value changed, with the department as its source.
    let fact = citizens::current_fact(&relay.conn, &relay.vault, &citizen, "address")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fact.value, new);
    assert_eq!(fact.provenance.source_id, REGISTRY);
    // Every delivery is audited.
    let actions: Vec<String> = audit_actions(&relay).await;
    assert_eq!(
        actions.iter().filter(|a| *a == "life-event").count(),
        1,
        "{actions:?}"
    );
    assert_eq!(
        actions.iter().filter(|a| *a == "delivery-queued").count(),
        2
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "delivery-delivered")
            .count(),
        2
    );
}

pub async fn audit_actions(relay: &Relay) -> Vec<String> {
    use sea_orm::QueryOrder;
    use services::audit_log::entities::record;
    broker_e2e::audit_settled(&relay.conn).await;
    record::Entity::find()
        .order_by_asc(record::Column::Seq)
        .all(&relay.conn)
        .await
        .unwrap()
        .into_iter()
        .map(|row| audit::Record::from_canonical(&row.entry).unwrap())
        .map(|r| r.action.as_str().to_owned())
        .collect()
}

#[tokio::test]
async fn after_a_death_releases_stop_and_recipients_are_told() {
    let relay = Relay::start(&[], fast_env()).await;
    let citizen = relay.citizen(3).await;
    relay
        .ongoing(&citizen, HEALTH, COVERAGE, &["address"])
        .await;
    relay
        .ongoing(&citizen, REVENUE, BENEFITS, &["address"])
        .await;
    let vitals = RustClient::generate("vital-statistics", "vitals-app");
    vitals.register(&relay.conn, &["attributes:write"]).await;
    let sub = relay.subject("vitalstats.province.example", &citizen).await;
    let token = vitals
        .token(&relay.broker.base, Some("attributes:write"))
        .await;
    let (status, body) = relay
        .report(
            &token,
            &sub,
            &json!({"event": "death", "attributes": {"date_of_death": "2026-11-20"}}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    relay
        .wait_until("the death notices", Duration::from_secs(20), || async {
            relay.deliveries("delivered").await.len() == 3
        })
        .await;
    // The revenue agency and ESD are the statutory recipients of the date of death (ESD with no
    // consent at all).
    for path in ["revenue", "esd"] {
        let received = relay.received(path).await;
        assert_eq!(received.len(), 1, "{path}");
        let (uri, event) = event_of(&received[0]);
        assert_eq!(uri, "urn:tell-us-once:secevent:death");
        assert_eq!(
            event["verified_claims"]["claims"]["date_of_death"],
            "2026-11-20"
        );
        assert_eq!(event["purpose"], "death-notification");
    }
    // The health plan held an ongoing consent: told that releases stopped, with no value.
    let health = relay.received("health").await;
    let (uri, event) = event_of(&health[0]);
    assert_eq!(uri, "urn:tell-us-once:secevent:releases-stopped");
    assert_eq!(event["reason"], "subject_deceased");
    assert!(event.get("verified_claims").is_none(), "{event}");
    // Releases stop: the health plan's pull is refused.
    let puller = RustClient::generate(HEALTH, "health-app");
    puller.register(&relay.conn, &["attributes:read"]).await;
    let read = puller
        .token(&relay.broker.base, Some("attributes:read"))
        .await;
    let health_sub = relay.subject("health.province.example", &citizen).await;
    let answer = get(
        &relay.broker.base,
        &read,
        &attributes_path(&health_sub, "address", COVERAGE),
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.code(), "subject_deceased");
    // And no further change is accepted for the deceased.
    let (status, body) = relay
        .report(
            &token,
            &sub,
            &json!({"event": "death", "attributes": {"date_of_death": "2026-11-21"}}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("subject_deceased"))
    );
}

#[tokio::test]
async fn bad_reports_are_refused_with_stable_codes_and_change_nothing() {
    let relay = Relay::start(&[], fast_env()).await;
    let citizen = relay.citizen(3).await;
    relay
        .ongoing(&citizen, REVENUE, BENEFITS, &["address"])
        .await;
    let sub = relay.subject(REGISTRY_SECTOR, &citizen).await;
    let token = relay.registry_token().await;
    let before = relay.counts().await;
    let cases = [
        (
            json!({"attributes": {"shoe_size": 42}}),
            sub.clone(),
            400,
            "unknown_attribute",
        ),
        (
            json!({"attributes": {"address": "12 Main St"}}),
            sub.clone(),
            400,
            "invalid_value",
        ),
        (
            json!({"attributes": {"email": 7}}),
            sub.clone(),
            400,
            "invalid_value",
        ),
        (
            json!({"event": "move", "attributes": {"address": address("2 Elm")}}),
            "no-such-subject".into(),
            404,
            "subject_not_found",
        ),
        (
            json!({"attributes": {"birthdate": "1990-01-01"}}),
            sub.clone(),
            403,
            "not_authoritative",
        ),
        (
            json!({"event": "wedding", "attributes": {"family_name": "X"}}),
            sub.clone(),
            400,
            "unknown_event",
        ),
        (
            json!({"event": "move", "attributes": {"given_name": "Y"}}),
            sub.clone(),
            400,
            "event_attributes_mismatch",
        ),
        (json!({"attributes": {}}), sub.clone(), 400, "no_attributes"),
        (
            json!({"attributes": {"address": address("3 Elm")}, "colour": "red"}),
            sub.clone(),
            400,
            "malformed_json",
        ),
    ];
    for (body, subject, status, code) in cases {
        let (got, answer) = relay.report(&token, &subject, &body).await;
        assert_eq!(
            (got, answer["code"].as_str()),
            (status, Some(code)),
            "{body}: {answer}"
        );
        // never the value in the answer
        assert!(!answer.to_string().contains("12 Main St"), "{answer}");
    }
    // A subject of another sector is unknown here.
    let revenue_sub = relay.subject("revenue.gc.example", &citizen).await;
    let (got, answer) = relay
        .report(
            &token,
            &revenue_sub,
            &json!({"attributes": {"address": address("4 Elm")}}),
        )
        .await;
    assert_eq!(
        (got, answer["code"].as_str()),
        (404, Some("subject_not_found"))
    );
    // A token without `attributes:write` is refused.
    let reader = RustClient::generate(REGISTRY, "registry-reader");
    reader.register(&relay.conn, &["attributes:read"]).await;
    let read_token = reader
        .token(&relay.broker.base, Some("attributes:read"))
        .await;
    let (got, answer) = relay
        .report(
            &read_token,
            &sub,
            &json!({"attributes": {"address": address("5 Elm")}}),
        )
        .await;
    assert_eq!(
        (got, answer["code"].as_str()),
        (403, Some("insufficient_scope"))
    );
    // Nothing written, nothing sent.
    assert_eq!(relay.counts().await, before);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(relay.stats("revenue").await["posts"], 0);
}
