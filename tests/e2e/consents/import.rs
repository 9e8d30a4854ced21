//! `broker consent import FILE`: consents citizens gave outside the broker, recorded through the
//! ledger by the command line — all of a file or nothing, each with its receipt (signed with the
//! broker's keys) and its `consent-granted` audit record saying it was imported.

use broker_e2e::citizens::signed_in;
use broker_e2e::release::payload;

use super::*;

const DAY_MS: i64 = 86_400_000;

/// One line of an import file for `citizen` (given ten days ago, for thirty more days).
fn line(citizen: &str, purpose: &str, mode: &str, attribute: &str) -> String {
    let now = store::now_ms();
    serde_json::json!({
        "citizen": citizen,
        "department": ESD,
        "purpose": purpose,
        "mode": mode,
        "attributes": [attribute],
        "granted_at": ::consent::rfc3339_utc(now - 10 * DAY_MS),
        "expires_at": ::consent::rfc3339_utc(now + 30 * DAY_MS),
        "loa": 3,
        "language": "fr",
    })
    .to_string()
}

#[tokio::test]
async fn imported_consents_are_recorded_with_receipt_and_audit_record_or_not_at_all() {
    let w = World::start(BrokerEnv::default()).await;
    let alice = signed_in(&w.conn, &w.broker, 2).await;
    let files = temp_dir();
    let data_dir = w.broker.data_dir.display().to_string();
    let env = [
        ("BROKER_DATA_DIR", data_dir.as_str()),
        ("BROKER_DATABASE_URL", w.db.url()),
    ];
    let import = |name: &str, lines: &[String]| {
        let file = files.path().join(name);
        std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        let file = file.display().to_string();
        run_broker(
            &env,
            &["consent", "import", &file, "--source", "paper-forms"],
        )
    };
    let good = [
        line(&alice.citizen_id, "pension-enrolment", "once", "birthdate"),
        line(&alice.citizen_id, "pension-enrolment", "ongoing", "address"),
    ];

    // One refused line and nothing of the file is recorded; the error names the line.
    let before = counts(&w.conn).await;
    let (status, _, err) = import(
        "refused.jsonl",
        &[
            good[0].clone(),
            line(&alice.citizen_id, "marketing", "once", "birthdate"),
        ],
    );
    assert!(!status.success());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("line 2") && err.contains("`marketing`"),
        "{err}"
    );
    assert_eq!(counts(&w.conn).await, before, "nothing written");

    let (status, out, err) = import("good.jsonl", &good);
    assert!(status.success(), "{err}");
    assert!(out.starts_with("imported 2 consents"), "{out}");
    let [consents, events, receipts, records] = counts(&w.conn).await;
    assert_eq!(
        [consents, events, receipts, records],
        [before[0] + 2, before[1] + 2, before[2] + 2, before[3] + 2],
        "each consent with its one event, receipt and audit record"
    );
    // The same again is a duplicate of what is now active.
    let (status, _, err) = import("again.jsonl", &good[..1]);
    assert!(!status.success());
    assert!(err.contains("line 1") && err.contains("identical"), "{err}");

    // The audit records say it was imported, from where, and when it was given.
    broker_e2e::audit_settled(&w.conn).await;
    let granted: Vec<audit::Record> = services::audit_log::entities::record::Entity::find()
        .all(&w.conn)
        .await
        .unwrap()
        .into_iter()
        .map(|row| audit::Record::from_canonical(&row.entry).unwrap())
        .filter(|r| r.action.as_str() == "consent-granted")
        .collect();
    assert_eq!(granted.len(), 2);
    for r in &granted {
        assert_eq!(r.citizen_id.as_deref(), Some(alice.citizen_id.as_str()));
        assert_eq!(r.detail["initiated_by"], "import");
        assert_eq!(r.detail["import_source"], "paper-forms");
        assert!(r.detail.contains_key("granted_at"), "{:?}", r.detail);
    }

    // Each receipt is signed with the broker's keys, verifies, and says how it was given.
    let consents = services::consents::for_citizen(&w.conn, &alice.citizen_id)
        .await
        .unwrap();
    assert_eq!(consents.len(), 2);
    for c in &consents {
        let receipt = services::consents::receipts::for_consent(&w.conn, &c.id().to_string())
            .await
            .unwrap()
            .unwrap();
        let claims = payload(&receipt.jws);
        assert!(
            claims["collectionMethod"]
                .as_str()
                .unwrap()
                .contains("hors des pages Web"),
            "{claims}"
        );
        let (_, verified) = super::verify_receipt(&w.broker, &receipt.jws).await;
        assert_eq!(verified["valid"], true, "{verified}");
        assert_eq!(verified["consent_state"], "active", "{verified}");
    }
}
