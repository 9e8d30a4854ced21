//! Per-citizen ordering under concurrency (issue 13): each citizen's changes are queued for a
//! department in the order they commit, and changes of different citizens never wait on each other
//! (no log-wide lock: the audit record of a change is queued, not appended under the head row).

use std::collections::HashMap;
use std::time::Duration;

use audit::{Action, Actor, ActorKind, Outcome};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};

use super::entities::{change, delivery};
use super::withdrawal_tests::Harness;
use crate::audit_log::AuditLog;

const REVENUE: &str = "revenue-agency";
const CITIZENS: usize = 4;
const RACERS: usize = 3;
const MOVES: usize = 6;

/// The address version each of `citizen`'s deliveries to the revenue agency carries, in the order
/// the worker would send them (`seq`).
async fn versions_in_delivery_order(h: &Harness, citizen: &str) -> Vec<i64> {
    let changes: HashMap<String, i64> = change::Entity::find()
        .filter(change::Column::CitizenId.eq(citizen))
        .all(&h.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| {
            let version = c.attributes.as_array().unwrap()[0]["version"]
                .as_i64()
                .unwrap();
            (c.id, version)
        })
        .collect();
    delivery::Entity::find()
        .filter(delivery::Column::CitizenId.eq(citizen))
        .filter(delivery::Column::DepartmentId.eq(REVENUE))
        .order_by_asc(delivery::Column::Seq)
        .all(&h.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|d| changes[&d.change_id])
        .collect()
}

#[tokio::test]
async fn racing_changes_of_one_citizen_are_queued_in_the_order_they_commit() {
    let h = std::sync::Arc::new(Harness::new().await);
    let mut citizens = Vec::new();
    for _ in 0..CITIZENS {
        citizens.push(h.citizen_with_consent().await.0);
    }
    // Several writers per citizen at once, all citizens at once.
    let mut tasks = tokio::task::JoinSet::new();
    for citizen in &citizens {
        for racer in 0..RACERS {
            let (h, citizen) = (h.clone(), citizen.clone());
            tasks.spawn(async move {
                for n in 0..MOVES {
                    h.moves_to(&citizen, &format!("{racer}-{n} Rue Principale"))
                        .await
                        .unwrap();
                }
            });
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    for citizen in &citizens {
        let versions = versions_in_delivery_order(&h, citizen).await;
        assert_eq!(versions.len(), RACERS * MOVES, "one delivery per change");
        assert!(
            versions.windows(2).all(|w| w[0] < w[1]),
            "a later change would be delivered before an earlier one: {versions:?}"
        );
    }
}

#[tokio::test]
async fn a_change_waits_only_for_its_own_citizen_never_for_the_log() {
    let h = std::sync::Arc::new(Harness::new().await);
    if h.state.db.get_database_backend() != sea_orm::DbBackend::Postgres {
        // SQLite has one writer by design: there everything waits its turn.
        eprintln!("skipped: needs PostgreSQL (TUO_TEST_DATABASE=postgres)");
        return;
    }
    let (alice, _) = h.citizen_with_consent().await;
    let (bob, _) = h.citizen_with_consent().await;
    // A transaction about Alice that has written its audit record and not committed.
    let held = h.state.db.begin().await.unwrap();
    crate::citizens::lock(&held, &alice).await.unwrap();
    let mut record = AuditLog::record(
        Action::AttributeUpdated,
        Outcome::Ok,
        Actor::new(ActorKind::Citizen, &alice),
    );
    record.citizen_id = Some(alice.clone());
    h.state.audit.append_in(&held, record).await.unwrap();

    // Another change of Alice's waits for it …
    let waiting = {
        let (h, alice) = (h.clone(), alice.clone());
        tokio::spawn(async move { h.moves_to(&alice, "3 Rue Principale").await })
    };
    // … while Bob's change and an unrelated audit record go through. (The timeout only turns a
    // hang into a failure: with a log-wide lock these would wait for the held transaction.)
    let bob_moved = tokio::time::timeout(
        Duration::from_secs(20),
        h.moves_to(&bob, "4 Rue Principale"),
    )
    .await
    .expect("Bob's change waited on Alice's transaction")
    .unwrap();
    assert_eq!(bob_moved.recipients, [REVENUE]);
    let search = AuditLog::record(
        Action::OfficerSearch,
        Outcome::Ok,
        Actor::new(ActorKind::Officer, "officer"),
    );
    tokio::time::timeout(Duration::from_secs(20), h.state.audit.append(search))
        .await
        .expect("an audit append waited on Alice's transaction")
        .unwrap();
    assert!(
        !waiting.is_finished(),
        "Alice's second change did not wait for her first"
    );

    held.commit().await.unwrap();
    let second = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("Alice's change never went through")
        .unwrap()
        .unwrap();
    assert_eq!(second.recipients, [REVENUE]);
    // Everything queued is integrated in one tree.
    h.state.audit.settle().await.unwrap();
    assert_eq!(h.state.audit.queued().await.unwrap(), 0);
}
