//! `ledger::import` / `import_many`: what an import writes (the consent, its receipt, its audit
//! record, in one transaction) and that a refused batch writes nothing.

use consent::{DAY_MS, Mode, State};

use super::ledger::{self, ImportInput};
use super::receipts;
use crate::lang::Lang;
use crate::testing::TestServices;
use store::now_ms;

const ESD: &str = "employment-social-development";
const PENSION: &str = "pension-enrolment";

fn given(citizen: &str, attribute: &str, granted_at_ms: i64, expires_at_ms: i64) -> ImportInput {
    ImportInput {
        citizen: citizen.to_owned(),
        department: ESD.to_owned(),
        purpose: PENSION.to_owned(),
        mode: Mode::Once,
        attributes: vec![attribute.to_owned()],
        granted_at_ms,
        expires_at_ms,
        loa: 3,
        lang: Lang::Fr,
    }
}

async fn audit_records(h: &TestServices) -> Vec<audit::Record> {
    use sea_orm::{EntityTrait, QueryOrder};
    h.audit.settle().await.unwrap();
    crate::audit_log::entities::record::Entity::find()
        .order_by_asc(crate::audit_log::entities::record::Column::Seq)
        .all(&h.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| audit::Record::from_canonical(&row.entry).unwrap())
        .collect()
}

#[tokio::test]
async fn an_import_is_recorded_at_its_time_with_a_receipt_and_an_audit_record() {
    let h = TestServices::new().await;
    let citizen = crate::citizens::create(&h.db, &h.vault).await.unwrap();
    let now = now_ms();
    let granted_at = now - 30 * DAY_MS;
    let (consent, receipt) = ledger::import(
        &h.ledger,
        "paper-forms",
        given(&citizen, "birthdate", granted_at, now + 60 * DAY_MS),
    )
    .await
    .unwrap();
    assert_eq!(consent.effective_state(now), State::Active);
    assert_eq!(consent.grant().unwrap().granted_at_ms, granted_at);
    assert_eq!(consent.history()[0].actor.id, citizen);
    assert_eq!(
        super::event_kinds(&h.db, &consent.id().to_string())
            .await
            .unwrap(),
        ["granted"]
    );
    // The receipt: stored, signed with the ledger's keys, dated at the grant, in French.
    assert_eq!(
        receipts::for_consent(&h.db, &consent.id().to_string())
            .await
            .unwrap(),
        Some(receipt.clone())
    );
    assert_eq!(receipt.granted_at, granted_at);
    assert_eq!(receipt.loa, 3);
    let verified = receipts::verify(&h.db, &h.keys, &receipt.jws, now)
        .await
        .unwrap();
    assert_eq!(verified.consent_state, "active");
    let signed = receipts::decode(&receipt.jws).unwrap();
    assert_eq!(signed.claims.consent_timestamp, granted_at / 1000);
    assert!(
        signed
            .claims
            .collection_method
            .contains("hors des pages Web"),
        "{}",
        signed.claims.collection_method
    );
    // The audit record: a grant by the citizen, saying it was imported, from where and when.
    let records = audit_records(&h).await;
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    assert_eq!(r.action, audit::Action::ConsentGranted);
    assert_eq!(r.consent_id, Some(consent.id().to_string()));
    assert_eq!(r.citizen_id.as_deref(), Some(citizen.as_str()));
    assert_eq!(r.detail["initiated_by"], "import");
    assert_eq!(r.detail["import_source"], "paper-forms");
    assert_eq!(r.detail["granted_at"], consent::rfc3339_utc(granted_at));
    assert_eq!(r.detail["receipt_id"], receipt.id);
}

#[tokio::test]
async fn a_refused_import_writes_nothing_and_names_the_input() {
    let h = TestServices::new().await;
    let citizen = crate::citizens::create(&h.db, &h.vault).await.unwrap();
    let now = now_ms();
    let ok = given(&citizen, "birthdate", now - DAY_MS, now + DAY_MS);
    let refused = [
        (
            ImportInput {
                granted_at_ms: now + DAY_MS,
                expires_at_ms: now + 2 * DAY_MS,
                ..ok.clone()
            },
            "invalid_import",
        ),
        (
            ImportInput {
                expires_at_ms: ok.granted_at_ms,
                ..ok.clone()
            },
            "invalid_import",
        ),
        (
            ImportInput {
                loa: 0,
                ..ok.clone()
            },
            "invalid_import",
        ),
        (
            ImportInput {
                citizen: uuid::Uuid::now_v7().to_string(),
                ..ok.clone()
            },
            "invalid_import",
        ),
        (
            ImportInput {
                expires_at_ms: ok.granted_at_ms + 400 * DAY_MS,
                ..ok.clone()
            },
            "duration_beyond_maximum",
        ),
        (
            ImportInput {
                purpose: "marketing".to_owned(),
                ..ok.clone()
            },
            "unknown_purpose",
        ),
        (
            ImportInput {
                attributes: Vec::new(),
                ..ok.clone()
            },
            "no_attributes",
        ),
        // The statute lets the death notification through without consent: nothing to consent to.
        (
            ImportInput {
                department: "revenue-agency".to_owned(),
                purpose: "death-notification".to_owned(),
                attributes: vec!["date_of_death".to_owned()],
                ..ok.clone()
            },
            "not_consentable",
        ),
        // Twice the same active consent in one batch.
        (ok.clone(), "consent_duplicate"),
    ];
    let before = super::counts(&h.db).await.unwrap();
    for (bad, code) in refused {
        let e = ledger::import_many(&h.ledger, "test", vec![ok.clone(), bad.clone()])
            .await
            .unwrap_err();
        assert_eq!(e.index, Some(1), "{e}");
        assert_eq!(crate::error::PublicError::code(&e.error), code, "{e}");
        assert!(e.to_string().starts_with("consent 2 of the batch: "), "{e}");
    }
    assert_eq!(super::counts(&h.db).await.unwrap(), before);
    assert!(audit_records(&h).await.is_empty());

    // Once recorded, the same consent again is a duplicate of the active one.
    ledger::import(&h.ledger, "test", ok.clone()).await.unwrap();
    let e = ledger::import(&h.ledger, "test", ok).await.unwrap_err();
    assert_eq!(crate::error::PublicError::code(&e), "consent_duplicate");
}

#[tokio::test]
async fn an_import_may_lapse_at_once_and_the_sweep_records_it() {
    let h = TestServices::new().await;
    let citizen = crate::citizens::create(&h.db, &h.vault).await.unwrap();
    let now = now_ms();
    let (consent, _) = ledger::import(
        &h.ledger,
        "test",
        given(&citizen, "birthdate", now - 2_000, now - 1_000),
    )
    .await
    .unwrap();
    assert_eq!(consent.effective_state(now), State::Expired);
    assert_eq!(super::expiry::sweep(&h.ledger, now).await.unwrap(), 1);
    assert_eq!(
        super::event_kinds(&h.db, &consent.id().to_string())
            .await
            .unwrap(),
        ["granted", "expired"]
    );
}
