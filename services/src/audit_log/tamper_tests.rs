//! `broker audit verify` (the `verify` module it runs) against tampering done directly in the
//! database: 1,000 random tamperings (a byte of an entry or a leaf hash, an indexed column, a
//! deleted row, two swapped rows, an inserted forged row, a truncated tail, a rewritten row, an
//! altered checkpoint), each applied inside a transaction, verified there, and rolled back. Every
//! one must be found, and a record-level one must be named at the exact seq.

use std::sync::Arc;

use audit::{Action, Actor, ActorKind, CheckpointPolicy, Outcome, Record, StoredRecord};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};

use super::entities::{checkpoint, record};
use super::verify::{Verdict, verify, verify_in_batches};
use super::{AuditLog, KeysSigner};
use crate::keys::SigningKeys;
use store::testdb::TestDb;

const RECORDS: u64 = 40;

fn keys() -> Arc<SigningKeys> {
    let dir = std::env::temp_dir().join(format!("tuo-tamper-{}", uuid::Uuid::now_v7().simple()));
    Arc::new(SigningKeys::open_dir(&dir, 60).unwrap())
}

/// xorshift64*: a reproducible stream without another dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

async fn logged() -> (TestDb, sea_orm::DatabaseConnection, Arc<SigningKeys>) {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let keys = keys();
    let log = AuditLog::new(
        db.clone(),
        keys.clone(),
        CheckpointPolicy {
            every_records: 7,
            every_ms: 0,
        },
    );
    for i in 0..RECORDS {
        let mut r = AuditLog::record(
            if i % 3 == 0 {
                Action::ReleaseDenied
            } else {
                Action::Release
            },
            Outcome::Permit,
            Actor::new(ActorKind::Department, "revenue-agency"),
        );
        r.citizen_id = Some(format!("citizen-{}", i % 5));
        r.department_id = Some("revenue-agency".into());
        r.purpose = Some("benefit-eligibility".into());
        r.attributes = vec!["address".into()];
        log.append(r).await.unwrap();
    }
    // On the queued path (PostgreSQL) the records reach the tree through the integrator.
    log.settle().await.unwrap();
    (test, db, keys)
}

async fn row<C: ConnectionTrait>(c: &C, seq: u64) -> record::Model {
    record::Entity::find_by_id(seq as i64)
        .one(c)
        .await
        .unwrap()
        .unwrap()
}

async fn set_row<C: ConnectionTrait>(c: &C, seq: u64, from: &record::Model) {
    let mut m: record::ActiveModel = row(c, seq).await.into();
    m.id = Set(from.id.clone());
    m.entry = Set(from.entry.clone());
    m.leaf_hash = Set(from.leaf_hash.clone());
    m.time_ms = Set(from.time_ms);
    m.action = Set(from.action.clone());
    m.outcome = Set(from.outcome.clone());
    m.citizen_id = Set(from.citizen_id.clone());
    m.department_id = Set(from.department_id.clone());
    m.purpose = Set(from.purpose.clone());
    m.update(c).await.unwrap();
}

fn flip(bytes: &mut [u8], rng: &mut Rng) {
    let at = rng.below(bytes.len() as u64) as usize;
    bytes[at] ^= 1 + rng.below(255) as u8;
}

/// What a tampering should be reported as: the exact first seq, or just "found".
#[derive(Debug)]
enum Expect {
    Seq(u64),
    Found,
}

/// Applies one random tampering and says what verify must report.
async fn tamper<C: ConnectionTrait>(c: &C, rng: &mut Rng) -> (String, Expect) {
    let k = rng.below(RECORDS);
    match rng.below(9) {
        0 => {
            let r = row(c, k).await;
            let mut entry = r.entry.clone();
            flip(&mut entry, rng);
            record::Entity::update_many()
                .col_expr(record::Column::Entry, Expr::value(entry))
                .filter(record::Column::Seq.eq(k as i64))
                .exec(c)
                .await
                .unwrap();
            (format!("edit a byte of entry {k}"), Expect::Seq(k))
        }
        1 => {
            let r = row(c, k).await;
            let mut hash = r.leaf_hash.clone();
            flip(&mut hash, rng);
            record::Entity::update_many()
                .col_expr(record::Column::LeafHash, Expr::value(hash))
                .filter(record::Column::Seq.eq(k as i64))
                .exec(c)
                .await
                .unwrap();
            (format!("edit a byte of leaf hash {k}"), Expect::Seq(k))
        }
        2 => {
            let (col, value) = match rng.below(3) {
                0 => (record::Column::CitizenId, "citizen-x"),
                1 => (record::Column::DepartmentId, "tax-office"),
                _ => (record::Column::Purpose, "marketing"),
            };
            record::Entity::update_many()
                .col_expr(col, Expr::value(value))
                .filter(record::Column::Seq.eq(k as i64))
                .exec(c)
                .await
                .unwrap();
            (format!("change an indexed column of {k}"), Expect::Seq(k))
        }
        3 => {
            record::Entity::delete_by_id(k as i64)
                .exec(c)
                .await
                .unwrap();
            (format!("delete {k}"), Expect::Seq(k))
        }
        4 => {
            let j = (k + 1 + rng.below(RECORDS - 1)) % RECORDS;
            let (i, j) = (k.min(j), k.max(j));
            let (a, b) = (row(c, i).await, row(c, j).await);
            let mut parked = a.clone();
            parked.id = uuid::Uuid::now_v7().to_string();
            set_row(c, i, &parked).await;
            set_row(c, j, &a).await;
            set_row(c, i, &b).await;
            (format!("swap {i} and {j}"), Expect::Seq(i))
        }
        5 => {
            // A forged record, consistent in itself, slipped in at k; the rest renumbered.
            for s in (k..RECORDS).rev() {
                record::Entity::update_many()
                    .col_expr(record::Column::Seq, Expr::value(s as i64 + 1))
                    .filter(record::Column::Seq.eq(s as i64))
                    .exec(c)
                    .await
                    .unwrap();
            }
            let mut forged = Record::new(
                uuid::Uuid::now_v7().to_string(),
                row(c, k + 1).await.time_ms,
                Action::Release,
                Outcome::Permit,
                Actor::new(ActorKind::Department, "revenue-agency"),
            );
            forged.seq = k;
            insert(c, &StoredRecord::from_record(&forged)).await;
            (format!("insert at {k}"), Expect::Seq(k))
        }
        6 => {
            let from = 1 + rng.below(RECORDS - 1);
            record::Entity::delete_many()
                .filter(record::Column::Seq.gte(from as i64))
                .exec(c)
                .await
                .unwrap();
            (format!("truncate from {from}"), Expect::Seq(from))
        }
        7 => {
            // Entry and leaf hash rewritten together (a changed purpose, re-hashed).
            let r = row(c, k).await;
            let mut record = Record::from_canonical(&r.entry).unwrap();
            record.purpose = Some("marketing".into());
            let stored = StoredRecord::from_record(&record);
            set_row(
                c,
                k,
                &record::Model {
                    entry: stored.entry,
                    leaf_hash: stored.leaf_hash.as_bytes().to_vec(),
                    purpose: stored.purpose,
                    ..r
                },
            )
            .await;
            (format!("rewrite {k} with its leaf hash"), Expect::Seq(k))
        }
        _ => {
            let cps = checkpoint::Entity::find()
                .order_by_asc(checkpoint::Column::TreeSize)
                .all(c)
                .await
                .unwrap();
            let cp = cps[rng.below(cps.len() as u64) as usize].clone();
            let mut m: checkpoint::ActiveModel = cp.clone().into();
            let what = match rng.below(4) {
                0 => {
                    let mut root = cp.root_hash.clone();
                    flip(&mut root, rng);
                    m.root_hash = Set(root);
                    "root hash"
                }
                1 => {
                    m.time_ms = Set(cp.time_ms + 1 + rng.below(1000) as i64);
                    "time"
                }
                2 => {
                    let mut jws = cp.jws.clone().into_bytes();
                    let at = jws.len() - 5 - rng.below(40) as usize;
                    jws[at] = if jws[at] == b'A' { b'B' } else { b'A' };
                    m.jws = Set(String::from_utf8(jws).unwrap());
                    "signature"
                }
                _ => {
                    // Re-signed by someone without the broker's key: another key entirely.
                    let forged = audit::SignedCheckpoint::sign(
                        audit::Checkpoint {
                            tree_size: cp.tree_size as u64,
                            root_hash: audit::leaf_hash(b"forged"),
                            time_ms: cp.time_ms,
                        },
                        &KeysSigner(&other_keys()),
                    )
                    .unwrap();
                    m.root_hash = Set(forged.checkpoint.root_hash.as_bytes().to_vec());
                    m.jws = Set(forged.jws);
                    "forged signature"
                }
            };
            m.update(c).await.unwrap();
            (
                format!("alter the {what} of checkpoint {}", cp.tree_size),
                Expect::Found,
            )
        }
    }
}

fn other_keys() -> SigningKeys {
    let dir = std::env::temp_dir().join(format!("tuo-forger-{}", uuid::Uuid::now_v7().simple()));
    SigningKeys::open_dir(&dir, 60).unwrap()
}

async fn insert<C: ConnectionTrait>(c: &C, s: &StoredRecord) {
    record::Entity::insert(record::ActiveModel {
        seq: Set(s.seq as i64),
        id: Set(s.id.clone()),
        entry: Set(s.entry.clone()),
        leaf_hash: Set(s.leaf_hash.as_bytes().to_vec()),
        time_ms: Set(s.time_ms),
        action: Set(s.action.clone()),
        outcome: Set(s.outcome.clone()),
        citizen_id: Set(s.citizen_id.clone()),
        department_id: Set(s.department_id.clone()),
        purpose: Set(s.purpose.clone()),
    })
    .exec(c)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_clean_log_verifies_and_reports_progress() {
    let (_t, db, keys) = logged().await;
    let mut seen = Vec::new();
    let verdict = verify(&db, &keys, 10, |p| seen.push(p.records))
        .await
        .unwrap();
    let Verdict::Clean(summary) = verdict else {
        panic!("{verdict:?}")
    };
    assert_eq!(summary.records, RECORDS);
    // Signed at sizes 1, 8, 15, 22, 29 and 36.
    assert_eq!(summary.checkpoints_verified, 6);
    assert_eq!(summary.last_checkpoint_size, Some(36));
    assert!(summary.nodes_checked >= RECORDS);
    assert_eq!(seen, [10, 20, 30, 40]);
    // Read in small batches (the pipeline holds several at once): the same summary.
    for batch in [1, 3, 8] {
        let verdict = verify_in_batches(&db, &keys, batch, 0, |_| {})
            .await
            .unwrap();
        let Verdict::Clean(paged) = verdict else {
            panic!("batches of {batch}: {verdict:?}")
        };
        assert_eq!(paged, summary, "batches of {batch}");
    }
}

#[tokio::test]
async fn a_thousand_random_tamperings_are_all_found_and_named() {
    let (_t, db, keys) = logged().await;
    let seed = std::env::var("TUO_TAMPER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x05EE_D0FA_0D17_u64);
    let mut rng = Rng(seed);
    for n in 0..1_000 {
        let txn = db.begin().await.unwrap();
        let (what, expect) = tamper(&txn, &mut rng).await;
        // Read in batches of 1 to 9 rows as well as all at once: a finding on a batch boundary
        // (the row after a suspect in the next batch) is named the same.
        let batch = match rng.below(4) {
            0 => super::verify::BATCH,
            _ => 1 + rng.below(9),
        };
        let verdict = verify_in_batches(&txn, &keys, batch, 0, |_| {})
            .await
            .unwrap();
        txn.rollback().await.unwrap();
        let Verdict::Tampered(finding) = verdict else {
            panic!("tampering {n} (seed {seed}, batches of {batch}) not found: {what}");
        };
        if let Expect::Seq(seq) = expect {
            assert_eq!(
                finding.first_seq(),
                Some(seq),
                "tampering {n} (seed {seed}, batches of {batch}): {what}: reported as {finding}"
            );
            if !finding.is_range() && !matches!(finding.kind(), Some(audit::TamperKind::Truncated))
            {
                assert!(finding.to_string().contains(&seq.to_string()), "{finding}");
            }
        }
    }
    // Every tampering was rolled back: the log is whole again.
    assert!(matches!(
        verify(&db, &keys, 0, |_| {}).await.unwrap(),
        Verdict::Clean(_)
    ));
}
