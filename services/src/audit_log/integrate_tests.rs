//! The queued write path and the integrator, on either backend (the path is chosen here, not by
//! the backend): records queued without any log-wide lock, integrated in batches into exactly
//! the tree the direct path builds; two integrators racing integrate each record once, with no
//! gap; a record committed late is not skipped; the lease passes on when it runs out.

use std::collections::HashSet;

use sea_orm::{EntityTrait, PaginatorTrait, QueryOrder};
use store::testdb::TestDb;

use super::entities::queue;
use super::integrate::{LEASE_MS, release_lease, take_lease};
use super::tests::{assert_tree, keys, sample};
use super::*;

fn queued(db: &DatabaseConnection, keys: Arc<SigningKeys>, every: u64) -> AuditLog {
    AuditLog::with_path(
        db.clone(),
        keys,
        CheckpointPolicy {
            every_records: every,
            every_ms: 0,
        },
        WritePath::Queued,
    )
}

#[tokio::test]
async fn queued_records_are_integrated_into_the_same_tree_and_checkpoints() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let keys = keys();
    let log = queued(&db, keys.clone(), 4);
    for i in 0..3 {
        let receipt = log.append(sample(i)).await.unwrap();
        assert_eq!(receipt.seq, None, "queued, not sequenced yet");
    }
    let txn = db.begin().await.unwrap();
    log.append_many_in(&txn, (3..10).map(sample).collect())
        .await
        .unwrap();
    txn.commit().await.unwrap();
    // Nothing in the tree until the integrator runs: the appends took no lock on it.
    assert_eq!(record::Entity::find().count(&db).await.unwrap(), 0);
    assert_eq!(log.queued().await.unwrap(), 10);
    let first = log.integrate_batch(4).await.unwrap();
    assert_eq!(first.count(), 4);
    assert_eq!(log.settle().await.unwrap(), 6);
    assert_eq!(log.queued().await.unwrap(), 0);
    // The same leaves, root and checkpoints (at 1, 5 and 9) as ten direct appends.
    assert_tree(&db, &keys).await;
}

#[tokio::test]
async fn a_record_committed_late_is_integrated_by_a_later_pass() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let log = queued(&db, keys(), 0);
    let late = db.begin().await.unwrap();
    let slow = log.append_in(&late, sample(0)).await.unwrap();
    // SQLite has one writer: the late transaction must let the other append through first.
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        let quick = log.append(sample(1)).await.unwrap();
        assert_eq!(log.settle().await.unwrap(), 1);
        late.commit().await.unwrap();
        assert_eq!(log.settle().await.unwrap(), 1);
        let rows = record::Entity::find()
            .order_by_asc(record::Column::Seq)
            .all(&db)
            .await
            .unwrap();
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [quick.id.as_str(), slow.id.as_str()],
            "queued first, sequenced second"
        );
        assert_eq!(rows[1].seq, 1, "no gap");
    } else {
        late.commit().await.unwrap();
        assert_eq!(log.settle().await.unwrap(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_integrators_racing_integrate_each_record_exactly_once() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let keys = keys();
    // Two broker instances' logs over one database, both integrating, while four append.
    let logs = [queued(&db, keys.clone(), 16), queued(&db, keys.clone(), 16)];
    let mut appenders = Vec::new();
    for t in 0..4 {
        let log = logs[t % 2].clone();
        appenders.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..40 {
                ids.push(log.append(sample(t * 100 + i)).await.unwrap().id);
            }
            ids
        }));
    }
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut integrators = Vec::new();
    for log in &logs {
        let (log, done) = (log.clone(), done.clone());
        integrators.push(tokio::spawn(async move {
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let n = log.integrate_batch(7).await.unwrap().count();
                if finished && n == 0 {
                    break;
                }
            }
        }));
    }
    let mut appended = Vec::new();
    for a in appenders {
        appended.extend(a.await.unwrap());
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    for i in integrators {
        i.await.unwrap();
    }
    let rows = record::Entity::find()
        .order_by_asc(record::Column::Seq)
        .all(&db)
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (0..160).collect::<Vec<i64>>(),
        "every record once, no gap"
    );
    let stored: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(stored.len(), 160);
    assert!(appended.iter().all(|id| stored.contains(id.as_str())));
    assert_eq!(queue::Entity::find().count(&db).await.unwrap(), 0);
    let leaves: Vec<_> = rows.iter().map(|r| audit::leaf_hash(&r.entry)).collect();
    let head = head::Entity::find_by_id(HEAD_ID)
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        head.root_hash,
        audit::reference::root_of(&leaves).as_bytes().to_vec()
    );
    // And `broker audit verify` agrees, checkpoints included.
    let verdict = verify::verify(&db, &keys, 0, |_| {}).await.unwrap();
    assert!(matches!(verdict, verify::Verdict::Clean(_)), "{verdict:?}");
}

#[tokio::test]
async fn the_lease_passes_on_only_when_it_runs_out_or_is_given_up() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let t = 1_000_000;
    assert!(take_lease(&db, "a", t).await.unwrap(), "the first takes it");
    assert!(!take_lease(&db, "b", t + 1).await.unwrap(), "held");
    assert!(
        take_lease(&db, "a", t + 2).await.unwrap(),
        "renewed by its holder"
    );
    assert!(
        !take_lease(&db, "b", t + 2 + LEASE_MS - 1).await.unwrap(),
        "still held until the renewed lease runs out"
    );
    assert!(
        take_lease(&db, "b", t + 2 + LEASE_MS + 1).await.unwrap(),
        "taken over when it ran out (a dead holder)"
    );
    assert!(!take_lease(&db, "a", t + 2 + LEASE_MS + 2).await.unwrap());
    release_lease(&db, "b").await.unwrap();
    assert!(
        take_lease(&db, "a", t + 2 + LEASE_MS + 3).await.unwrap(),
        "given up on shutdown: taken at once"
    );
}
