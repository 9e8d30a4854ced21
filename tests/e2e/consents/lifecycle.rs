//! A request's whole life through the real binary: asked by openid-client, answered on the
//! citizen's pages, its receipt verified by jose and by the broker (endpoint and CLI), revoked and
//! seen revoked by the department; and the expiry sweep running in the background.

use std::time::Duration;

use ::consent::Mode;
use broker_e2e::citizens::{pairwise_subject, signed_in};
use broker_e2e::departments::call;
use broker_e2e::peers::run_node;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use services::consents::ledger::{self, ImportInput};

use super::*;

fn form_post(broker: &Broker, path: &str, cookie: &str, body: String) -> reqwest::RequestBuilder {
    browser_client()
        .post(broker.url(path))
        .header("Cookie", format!("tuo_session={cookie}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
}

/// Flips one character of the payload segment (keeping it valid base64url).
fn tamper(jws: &str) -> String {
    let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
    let payload = &mut parts[1];
    let i = payload.len() / 2;
    let c = payload.as_bytes()[i];
    let replacement = if c == b'A' { "B" } else { "A" };
    payload.replace_range(i..=i, replacement);
    parts.join(".")
}

fn verify_jws(broker: &Broker, jws: &str) -> (bool, serde_json::Value) {
    let args: Vec<String> = vec![
        "--jwks".into(),
        broker.url("/jwks.json"),
        "--typ".into(),
        "consent-receipt+jwt".into(),
        "--iss".into(),
        broker.base.clone(),
    ];
    let (ok, out, err) = run_node("verify-jws.mjs", &args, Some(jws));
    let json = serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("{out}\n{err}"));
    (ok, json)
}

#[tokio::test]
async fn a_department_request_is_answered_receipted_verified_and_revoked() {
    let w = World::start(BrokerEnv::default()).await;
    let alice = signed_in(&w.conn, &w.broker, 2).await;
    let sub = pairwise_subject(&w.conn, &w.broker, ESD_SECTOR, &alice.citizen_id).await;
    let before = counts(&w.conn).await;

    // The department asks, with openid-client.
    let body = serde_json::json!({
        "subject": sub,
        "attributes": ["birthdate", "address"],
        "purpose": "pension-enrolment",
        "mode": "ongoing",
        "duration_days": 120,
        "return_url": "https://esd.gc.example/pension/resume"
    })
    .to_string();
    let out = call(
        &w.broker.base,
        &w.esd,
        None,
        &["--post", "/api/v1/consent-requests", "--body", &body],
    );
    assert_eq!(out["status"], 201, "{out}");
    let created = &out["json"];
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["state"], "requested");
    assert_eq!(created["duration_days"], 120);
    assert_eq!(
        created["citizen_url"],
        w.broker.url(&format!("/me/requests/{id}")).as_str()
    );
    assert!(
        created.get("subject").is_none(),
        "no subject before a grant"
    );
    assert_eq!(
        counts(&w.conn).await,
        [before[0] + 1, before[1] + 1, before[2], before[3] + 1]
    );

    // Only the asking department can read it; for any other, it does not exist.
    let path = format!("/api/v1/consent-requests/{id}");
    let out = call(&w.broker.base, &w.revenue, None, &["--get", &path]);
    assert_eq!(out["status"], 404, "{out}");
    assert_eq!(out["json"]["code"], "not_found");

    // The citizen sees it and accepts part of it: one attribute, 30 days.
    let http = browser_client();
    let page = http
        .get(w.broker.url("/me/requests"))
        .header("Cookie", format!("tuo_session={}", alice.cookie))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("/me/requests/{id}")), "{page}");
    let res = form_post(
        &w.broker,
        &format!("/me/requests/{id}/accept"),
        &alice.cookie,
        format!(
            "csrf_token={}&attribute=birthdate&duration_days=30",
            alice.csrf
        ),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 303);

    let out = call(&w.broker.base, &w.esd, None, &["--get", &path]);
    assert_eq!(out["status"], 200, "{out}");
    let outcome = &out["json"];
    assert_eq!(outcome["state"], "active");
    assert_eq!(
        outcome["granted_attributes"],
        serde_json::json!(["birthdate"])
    );
    assert_eq!(outcome["subject"], sub.as_str(), "its own pairwise id");
    assert!(outcome["expires_at"].as_str().unwrap().ends_with('Z'));

    // The receipt, downloaded by the citizen, verifies with jose against /jwks.json.
    let jws = http
        .get(w.broker.url(&format!("/me/consents/{id}/receipt.jwt")))
        .header("Cookie", format!("tuo_session={}", alice.cookie))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (ok, verified) = verify_jws(&w.broker, &jws);
    assert!(ok, "{verified}");
    let claims = &verified["payload"];
    assert_eq!(verified["header"]["alg"], "ES256");
    assert_eq!(claims["version"], "KI-CR-v1.1.0");
    assert_eq!(claims["jurisdiction"], "CA");
    assert_eq!(claims["piiPrincipalId"], sub.as_str());
    assert_eq!(claims["consent_id"], id.as_str());
    assert_eq!(claims["mode"], "ongoing");
    assert_eq!(claims["recipient"]["id"], ESD);
    assert_eq!(
        claims["services"][0]["purposes"][0]["piiCategory"],
        serde_json::json!(["birthdate"])
    );
    assert!(
        claims["legal_basis"]
            .as_str()
            .unwrap()
            .contains("Old Age Security Act")
    );
    assert_eq!(
        claims["withdrawal"]["url"],
        w.broker.url(&format!("/me/consents/{id}")).as_str()
    );
    assert!(!jws.contains(&alice.citizen_id));

    // One changed byte and it fails, for jose, for the broker's endpoint and for the CLI.
    let bad = tamper(&jws);
    assert_ne!(bad, jws);
    let (ok, rejected) = verify_jws(&w.broker, &bad);
    assert!(!ok && rejected["valid"] == false, "{rejected}");
    let (status, body) = super::verify_receipt(&w.broker, &jws).await;
    assert_eq!(status, 200);
    assert_eq!(body["valid"], true);
    assert_eq!(body["consent_state"], "active");
    let (status, body) = super::verify_receipt(&w.broker, &bad).await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "receipt_signature_invalid", "{body}");

    let files = temp_dir();
    let good_file = files.path().join("receipt.jwt");
    let bad_file = files.path().join("tampered.jwt");
    std::fs::write(&good_file, &jws).unwrap();
    std::fs::write(&bad_file, &bad).unwrap();
    let data_dir = w.broker.data_dir.display().to_string();
    let env = [
        ("BROKER_DATA_DIR", data_dir.as_str()),
        ("BROKER_DATABASE_URL", w.db.url()),
    ];
    let (status, out, err) = run_broker(
        &env,
        &["consent", "verify-receipt", good_file.to_str().unwrap()],
    );
    assert!(status.success(), "{err}");
    assert!(
        out.starts_with("valid: receipt ") && out.contains(&id) && out.contains("active"),
        "{out}"
    );
    let (status, _, err) = run_broker(
        &env,
        &["consent", "verify-receipt", bad_file.to_str().unwrap()],
    );
    assert!(!status.success());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("signature"), "{err}");

    // The citizen withdraws; the department and the verifier see it at once.
    let res = form_post(
        &w.broker,
        &format!("/me/consents/{id}/revoke"),
        &alice.cookie,
        format!("csrf_token={}", alice.csrf),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    let out = call(&w.broker.base, &w.esd, None, &["--get", &path]);
    assert_eq!(out["json"]["state"], "revoked", "{out}");
    assert!(out["json"]["ended_at"].is_string());
    let (_, body) = super::verify_receipt(&w.broker, &jws).await;
    assert_eq!(body["consent_state"], "revoked");

    broker_e2e::audit_settled(&w.conn).await;
    let actions: Vec<String> = services::audit_log::entities::record::Entity::find()
        .all(&w.conn)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .filter(|a| a.starts_with("consent-"))
        .collect();
    assert_eq!(
        actions,
        ["consent-requested", "consent-granted", "consent-revoked"]
    );
}

#[tokio::test]
async fn the_background_sweep_records_expiry_and_the_department_sees_it() {
    let w = World::start(BrokerEnv::default().set("BROKER_CONSENT__EXPIRY_SWEEP_SECS", "1")).await;
    let alice = signed_in(&w.conn, &w.broker, 2).await;
    let sub = pairwise_subject(&w.conn, &w.broker, ESD_SECTOR, &alice.citizen_id).await;
    // A consent given a moment ago for a very short time, recorded through the ledger as an
    // import (the pages only offer whole days).
    let now = store::now_ms();
    let services = w.broker.services(&w.conn);
    let (c, receipt) = ledger::import(
        &services.ledger,
        "test-fixture",
        ImportInput {
            citizen: alice.citizen_id.clone(),
            department: ESD.to_owned(),
            purpose: "pension-enrolment".to_owned(),
            mode: Mode::Once,
            attributes: vec!["birthdate".to_owned()],
            granted_at_ms: now,
            expires_at_ms: now + 1_500,
            loa: 2,
            lang: services::lang::Lang::En,
        },
    )
    .await
    .unwrap();

    let mut expired = false;
    for _ in 0..100 {
        let kinds = services::consents::event_kinds(&w.conn, &c.id().to_string())
            .await
            .unwrap();
        if kinds.last().map(String::as_str) == Some("expired") {
            assert_eq!(kinds, ["granted", "expired"]);
            expired = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        expired,
        "the sweep recorded the expiry; log:\n{}",
        w.broker.log_text()
    );
    broker_e2e::audit_settled(&w.conn).await;
    let audited = services::audit_log::entities::record::Entity::find()
        .filter(services::audit_log::entities::record::Column::Action.eq("consent-expired"))
        .all(&w.conn)
        .await
        .unwrap();
    assert_eq!(audited.len(), 1);
    // The department sees it: a release under it is refused as expired, and its receipt
    // verifies as that of an expired consent.
    let out = call(
        &w.broker.base,
        &w.esd,
        None,
        &[
            "--get",
            &format!(
                "/api/v1/subjects/{sub}/attributes?claims=birthdate&purpose=pension-enrolment"
            ),
        ],
    );
    assert_eq!(out["status"], 403, "{out}");
    assert_eq!(out["json"]["code"], "consent_expired", "{out}");
    let (_, verified) = super::verify_receipt(&w.broker, &receipt.jws).await;
    assert_eq!(verified["consent_state"], "expired", "{verified}");
}
