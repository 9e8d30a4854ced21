use super::*;
use sea_orm::{EntityTrait, QueryOrder};
use store::testdb::TestDb;

pub(super) fn keys() -> Arc<SigningKeys> {
    let dir = std::env::temp_dir().join(format!("tuo-audit-{}", uuid::Uuid::now_v7().simple()));
    Arc::new(SigningKeys::open_dir(&dir, 60).unwrap())
}

pub(super) fn sample(i: usize) -> Record {
    let mut r = AuditLog::record(
        Action::Release,
        Outcome::Permit,
        Actor::new(ActorKind::Department, "dept"),
    );
    r.citizen_id = Some(format!("c{i}"));
    r.attributes = vec!["address".into()];
    r
}

/// A fresh database and a log that signs a checkpoint every 4 records.
async fn checkpoint_every_four() -> (TestDb, DatabaseConnection, Arc<SigningKeys>, AuditLog) {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let keys = keys();
    let policy = CheckpointPolicy {
        every_records: 4,
        every_ms: 0,
    };
    let log = AuditLog::with_path(db.clone(), keys.clone(), policy, WritePath::Direct);
    (test, db, keys, log)
}

#[tokio::test]
async fn appends_build_the_rfc9162_tree_and_sign_checkpoints() {
    let (_test, db, keys, log) = checkpoint_every_four().await;
    for i in 0..10 {
        let receipt = log.append(sample(i)).await.unwrap();
        assert_eq!(receipt.seq, Some(i as u64));
    }
    assert_tree(&db, &keys).await;
}

#[tokio::test]
async fn a_batch_appended_in_one_statement_builds_the_same_tree_and_checkpoints() {
    let (_test, db, keys, log) = checkpoint_every_four().await;
    // 7 then 3: the checkpoints due part-way (at 1 and 5, then 9) are signed at those sizes.
    let txn = db.begin().await.unwrap();
    let first = log
        .append_many_in(&txn, (0..7).map(sample).collect())
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let txn = db.begin().await.unwrap();
    let second = log
        .append_many_in(&txn, (7..10).map(sample).collect())
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let seqs: Vec<u64> = first.iter().chain(&second).filter_map(|r| r.seq).collect();
    assert_eq!(seqs, (0..10).collect::<Vec<u64>>());
    assert_tree(&db, &keys).await;
}

/// Ten records stored: leaves, head root (RFC 9162 MTH) and checkpoints at 1, 5 and 9, each
/// signed over the root of its prefix.
pub(super) async fn assert_tree(db: &DatabaseConnection, keys: &SigningKeys) {
    let mut leaves = Vec::new();
    let rows = record::Entity::find()
        .order_by_asc(record::Column::Seq)
        .all(db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 10);
    for row in &rows {
        leaves.push(audit::leaf_hash(&row.entry));
        assert_eq!(
            audit::leaf_hash(&row.entry).as_bytes().as_slice(),
            row.leaf_hash.as_slice()
        );
    }
    let head = head::Entity::find_by_id(HEAD_ID)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.tree_size, 10);
    assert_eq!(
        head.root_hash,
        audit::reference::root_of(&leaves).as_bytes().to_vec(),
        "root equals RFC 9162 MTH"
    );
    let cps = checkpoint::Entity::find()
        .order_by_asc(checkpoint::Column::TreeSize)
        .all(db)
        .await
        .unwrap();
    assert_eq!(
        cps.iter().map(|c| c.tree_size).collect::<Vec<_>>(),
        vec![1, 5, 9],
        "first record, then every 4"
    );
    for cp in cps {
        let signed = SignedCheckpoint {
            checkpoint: Checkpoint {
                tree_size: cp.tree_size as u64,
                root_hash: audit::Hash::from_slice(&cp.root_hash).unwrap(),
                time_ms: cp.time_ms,
            },
            jws: cp.jws,
        };
        signed.verify(&KeysVerifier(keys)).unwrap();
        let n = cp.tree_size as usize;
        assert_eq!(
            signed.checkpoint.root_hash,
            audit::reference::root_of(&leaves[..n])
        );
    }
}

#[tokio::test]
async fn a_record_written_in_a_rolled_back_transaction_leaves_no_trace() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let log = AuditLog::with_path(
        db.clone(),
        keys(),
        CheckpointPolicy {
            every_records: 1,
            every_ms: 0,
        },
        WritePath::Direct,
    );
    log.append(sample(0)).await.unwrap();
    let txn = db.begin().await.unwrap();
    log.append_in(&txn, sample(1)).await.unwrap();
    txn.rollback().await.unwrap();
    let receipt = log.append(sample(2)).await.unwrap();
    assert_eq!(
        receipt.seq,
        Some(1),
        "the rolled-back append did not consume a leaf"
    );
    assert_eq!(record::Entity::find().all(&db).await.unwrap().len(), 2);
}

#[tokio::test]
async fn concurrent_appends_keep_one_consistent_tree() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let log = AuditLog::with_path(
        db.clone(),
        keys(),
        CheckpointPolicy {
            every_records: 16,
            every_ms: 0,
        },
        WritePath::Direct,
    );
    let mut tasks = Vec::new();
    for t in 0..4 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                log.append(sample(t * 100 + i)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let rows = record::Entity::find()
        .order_by_asc(record::Column::Seq)
        .all(&db)
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (0..100).collect::<Vec<_>>()
    );
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_that_arrive_together_share_a_commit_and_each_is_answered_after_it() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let log = AuditLog::with_path(
        db.clone(),
        keys(),
        CheckpointPolicy {
            every_records: 64,
            every_ms: 0,
        },
        WritePath::Direct,
    );
    let mut tasks = Vec::new();
    for i in 0..200 {
        let log = log.clone();
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let receipt = log.append(sample(i)).await.unwrap();
            // Answered only once durable: the row is there, seen from another connection.
            let seq = receipt.seq.unwrap();
            let row = record::Entity::find_by_id(seq as i64)
                .one(&db)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.id, receipt.id);
            seq
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (0..200).collect::<Vec<u64>>(), "each once, no gap");
    assert!(
        log.group_commits() < 200,
        "concurrent appends were grouped: {} commits",
        log.group_commits()
    );
    let rows = record::Entity::find()
        .order_by_asc(record::Column::Seq)
        .all(&db)
        .await
        .unwrap();
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_record_in_a_group_fails_only_its_own_caller() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let log = AuditLog::with_path(
        db.clone(),
        keys(),
        CheckpointPolicy {
            every_records: 0,
            every_ms: 0,
        },
        WritePath::Direct,
    );
    let first = log.append(sample(0)).await.unwrap();
    let mut tasks = Vec::new();
    for i in 1..40 {
        let log = log.clone();
        let mut r = sample(i);
        if i == 20 {
            // The same id again: the unique index refuses it.
            r.id = first.id.clone();
        }
        tasks.push(tokio::spawn(async move { log.append(r).await.is_ok() }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap());
    }
    assert_eq!(ok, 38, "every record but the duplicate was appended");
    let rows = record::Entity::find().all(&db).await.unwrap();
    assert_eq!(rows.len(), 39);
}
