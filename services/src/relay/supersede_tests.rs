//! Never stale (SQLite or PostgreSQL per `TUO_TEST_DATABASE`): a newer change of the same
//! attribute for the same citizen and department supersedes the older pending delivery, unless a
//! worker holds it; a dead letter with a newer change is named as superseded for the CLI.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::entities::delivery;
use super::supersede::{self, SUPERSEDED};
use super::withdrawal_tests::Harness;
use super::worker::{self, FAILED, PENDING};
use crate::audit_log::entities::record as audit_row;
use store::now_ms;

async fn by_seq(h: &Harness, citizen: &str) -> Vec<delivery::Model> {
    let mut rows = h.deliveries(citizen).await;
    rows.sort_by_key(|r| r.seq);
    rows
}

#[tokio::test]
async fn a_newer_move_supersedes_the_pending_one_in_its_transaction_and_audits_it() {
    let h = Harness::new().await;
    let (citizen, _) = h.citizen_with_consent().await;
    for street in ["1 First Street", "2 Second Street", "3 Third Street"] {
        h.moves_to(&citizen, street).await.unwrap();
    }
    let rows = by_seq(&h, &citizen).await;
    assert_eq!(rows.len(), 3);
    let newest = &rows[2];
    assert_eq!(newest.status, PENDING);
    for old in &rows[..2] {
        assert_eq!(old.status, SUPERSEDED, "{old:?}");
        assert!(old.lease_owner.is_none());
        assert_eq!(old.attempts, 0, "never sent");
    }
    // Each names the delivery that replaced it when it was replaced.
    assert_eq!(
        rows[0].last_error.as_deref(),
        Some(format!("superseded: {}", rows[1].id).as_str())
    );
    assert_eq!(
        rows[1].last_error.as_deref(),
        Some(format!("superseded: {}", rows[2].id).as_str())
    );
    // Audited like a cancellation, with its reason and the newer delivery.
    h.state.audit.settle().await.unwrap();
    let records = audit_row::Entity::find()
        .filter(audit_row::Column::Action.eq("delivery-cancelled"))
        .all(&h.state.db)
        .await
        .unwrap();
    assert_eq!(records.len(), 2);
    for r in &records {
        let entry = String::from_utf8_lossy(&r.entry);
        assert!(entry.contains("superseded"), "{entry}");
    }
    // Nothing older is left pending to block the newest, so the worker claims it at once.
    let claimed = worker::claim(&h.state.db, "w", now_ms(), 5_000, 10, &[])
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [newest.id.as_str()]
    );
}

#[tokio::test]
async fn a_delivery_a_worker_holds_is_not_superseded_and_goes_out_first() {
    let h = Harness::new().await;
    let (citizen, _) = h.citizen_with_consent().await;
    h.moves_to(&citizen, "1 First Street").await.unwrap();
    let held = worker::claim(&h.state.db, "w", now_ms(), 60_000, 10, &[])
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    h.moves_to(&citizen, "2 Second Street").await.unwrap();
    let rows = by_seq(&h, &citizen).await;
    assert_eq!(rows[0].status, PENDING, "held by a worker: it goes first");
    assert_eq!(rows[0].lease_owner.as_deref(), Some("w"));
    assert_eq!(rows[1].status, PENDING);
    // And the newer one waits behind it (order per department and citizen).
    let claimed = worker::claim(&h.state.db, "other", now_ms(), 5_000, 10, &[])
        .await
        .unwrap();
    assert!(claimed.is_empty(), "{claimed:?}");
}

#[tokio::test]
async fn a_dead_letter_with_a_newer_change_is_named_superseded() {
    let h = Harness::new().await;
    let (citizen, _) = h.citizen_with_consent().await;
    h.moves_to(&citizen, "1 First Street").await.unwrap();
    // Dead-lettered (as the worker would after its retry budget).
    delivery::Entity::update_many()
        .col_expr(delivery::Column::Status, Expr::value(FAILED))
        .col_expr(
            delivery::Column::LastError,
            Expr::value("unreachable: timeout: no answer"),
        )
        .filter(delivery::Column::CitizenId.eq(citizen.clone()))
        .exec(&h.state.db)
        .await
        .unwrap();
    let dead = by_seq(&h, &citizen).await.remove(0);
    assert_eq!(
        supersede::superseded_by(&h.state.db, &dead).await.unwrap(),
        None,
        "nothing newer yet"
    );
    h.moves_to(&citizen, "2 Second Street").await.unwrap();
    let rows = by_seq(&h, &citizen).await;
    assert_eq!(rows[0].status, FAILED, "a dead letter is left as it is");
    let newer = supersede::superseded_by(&h.state.db, &rows[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(newer.id, rows[1].id);
    // The newer one is not superseded by anything.
    assert_eq!(
        supersede::superseded_by(&h.state.db, &rows[1])
            .await
            .unwrap(),
        None
    );
}
