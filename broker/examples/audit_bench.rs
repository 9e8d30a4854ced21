//! Audit log benchmark (used by scripts/bench): durable appends per second through the real
//! `AuditLog::append` (committed before it returns; concurrent appends share a group commit) from
//! 1, 8 and 64 concurrent tokio tasks, then the time to verify the stored log with the `audit` crate's
//! `LogVerifier` (every row re-hashed into the Merkle tree, every stored node compared, every
//! signed checkpoint checked against the broker's keys).
//!
//! `audit_bench <database url> <data dir> <records per level> <levels, e.g. 1,8,64> <verify records>`
//!
//! Migrates the (fresh) database, appends `records per level` release-like records at each
//! concurrency level, tops the log up to `verify records` (64 appenders, not timed), verifies it
//! and prints one JSON object on stdout. Records carry ids and attribute names only, like the
//! broker's: no value is ever written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use audit::{Action, Actor, ActorKind, Hash, LogVerifier, NodeId, Outcome, StoredRecord};
use broker::config::{Config, DatabaseUrl};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use services::audit_log::entities::{checkpoint, head, node, record};
use services::audit_log::{AuditLog, KeysVerifier};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 6 {
        panic!(
            "usage: audit_bench <db url> <data dir> <records per level> <levels> <verify records>"
        );
    }
    let per_level: usize = args[3].parse().unwrap();
    let levels: Vec<usize> = args[4].split(',').map(|l| l.parse().unwrap()).collect();
    let verify_records: u64 = args[5].parse().unwrap();
    let max_level = levels.iter().copied().max().unwrap_or(1);
    let config = Config {
        data_dir: PathBuf::from(&args[2]),
        database_url: Some(DatabaseUrl::new(&args[1])),
        database: broker::config::DatabaseConfig {
            // One connection per appender (and a few spare), so the pool is not what is measured.
            max_connections: u32::try_from(max_level + 4).unwrap(),
            ..Config::default().database
        },
        ..Config::default()
    };
    let db = broker::cli::connect(&config).await.unwrap();
    store::migrate(&db).await.unwrap();
    services::jose::install_crypto_provider();
    let keys = Arc::new(services::keys::open_signing_keys(&config.keys, &config.data_dir).unwrap());
    let log = AuditLog::new(db.clone(), keys.clone(), config.audit.checkpoint_policy());

    let mut appends = Vec::new();
    for &level in &levels {
        eprintln!("audit: {per_level} appends from {level} tasks");
        appends.push(append_many(&log, per_level, level).await);
    }

    // Top the log up for verification (not timed).
    let stored = record::Entity::find().count(&db).await.unwrap();
    if stored < verify_records {
        let missing = usize::try_from(verify_records - stored).unwrap();
        eprintln!("audit: appending {missing} more records to verify");
        append_many(&log, missing, max_level).await;
    }

    eprintln!("audit: verifying");
    let verify = verify(&db, &keys).await;
    let out = serde_json::json!({
        "checkpoint_every_records": config.audit.checkpoint_every_records,
        "appends": appends,
        "verify": verify,
    });
    println!("{out}");
}

/// A release-like record: ids, a purpose and attribute names (never a value).
fn sample(i: usize) -> audit::Record {
    let mut r = AuditLog::record(
        Action::Release,
        Outcome::Ok,
        Actor::new(ActorKind::Department, "employment-social-development"),
    );
    r.citizen_id = Some(uuid::Uuid::now_v7().to_string());
    r.department_id = Some("employment-social-development".into());
    r.client_id = Some("bench-esdc".into());
    r.purpose = Some("pension-enrolment".into());
    r.consent_id = Some(uuid::Uuid::now_v7().to_string());
    r.request_id = Some(format!("bench-{i}"));
    r.attributes = vec!["address".into(), "birthdate".into()];
    r.reasons = vec!["esd-pension-address".into()];
    r
}

/// `total` appends shared by `tasks` tasks; throughput and per-append latency.
async fn append_many(log: &AuditLog, total: usize, tasks: usize) -> serde_json::Value {
    let started = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let log = log.clone();
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for i in (t..total).step_by(tasks) {
                let one = Instant::now();
                log.append(sample(i)).await.unwrap();
                latencies.push(one.elapsed().as_secs_f64() * 1000.0);
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for h in handles {
        latencies.extend(h.await.unwrap());
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    serde_json::json!({
        "concurrency": tasks,
        "records": total,
        "seconds": seconds,
        "per_second": total as f64 / seconds,
        "p50_ms": percentile(&latencies, 0.50),
        "p99_ms": percentile(&latencies, 0.99),
    })
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied()
}

/// Streams every row (in seq order, 10,000 at a time, with the nodes each page completes) into a
/// `LogVerifier` holding every stored checkpoint and the head row, as `broker audit verify` does.
async fn verify(
    db: &sea_orm::DatabaseConnection,
    keys: &services::keys::SigningKeys,
) -> serde_json::Value {
    const PAGE: u64 = 10_000;
    let started = Instant::now();
    let checkpoints = checkpoint::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| audit::SignedCheckpoint {
            checkpoint: audit::Checkpoint {
                tree_size: c.tree_size as u64,
                root_hash: Hash::from_slice(&c.root_hash).unwrap(),
                time_ms: c.time_ms,
            },
            jws: c.jws,
        })
        .collect::<Vec<_>>();
    let head = head::Entity::find().one(db).await.unwrap().unwrap();
    let mut verifier = LogVerifier::new(KeysVerifier(keys), checkpoints)
        .with_head(audit::Frontier::from_bytes(&head.frontier).unwrap());
    let mut next: i64 = 0;
    let mut read_seconds = 0.0;
    loop {
        let read = Instant::now();
        let rows = record::Entity::find()
            .filter(record::Column::Seq.gte(next))
            .order_by_asc(record::Column::Seq)
            .limit(PAGE)
            .all(db)
            .await
            .unwrap();
        if rows.is_empty() {
            read_seconds += read.elapsed().as_secs_f64();
            break;
        }
        let last = rows.last().map(|r| r.seq).unwrap_or(next);
        // The nodes this page completes, fetched in one range query per level.
        let mut nodes: HashMap<NodeId, Hash> = HashMap::new();
        let (lo, hi) = (next as u64, last as u64 + 1);
        for level in 0..64u8 {
            let (first, end) = (lo >> level, hi >> level);
            if end == 0 {
                break;
            }
            for n in node::Entity::find()
                .filter(node::Column::Level.eq(i16::from(level)))
                .filter(node::Column::Idx.gte(first as i64))
                .filter(node::Column::Idx.lte(end as i64))
                .all(db)
                .await
                .unwrap()
            {
                nodes.insert(
                    NodeId::new(level, n.idx as u64).unwrap(),
                    Hash::from_slice(&n.hash).unwrap(),
                );
            }
        }
        read_seconds += read.elapsed().as_secs_f64();
        for r in rows {
            verifier
                .push_with_nodes(
                    StoredRecord {
                        seq: r.seq as u64,
                        id: r.id,
                        entry: r.entry,
                        leaf_hash: Hash::from_slice(&r.leaf_hash).unwrap(),
                        time_ms: r.time_ms,
                        action: r.action,
                        outcome: r.outcome,
                        citizen_id: r.citizen_id,
                        department_id: r.department_id,
                        purpose: r.purpose,
                    },
                    &nodes,
                )
                .unwrap();
        }
        next = last + 1;
    }
    let summary = verifier.finish().unwrap();
    let seconds = started.elapsed().as_secs_f64();
    serde_json::json!({
        "method": "LogVerifier (audit crate) over the stored rows, nodes, checkpoints and head",
        "records": summary.records,
        "checkpoints_verified": summary.checkpoints_verified,
        "nodes_checked": summary.nodes_checked,
        "seconds": seconds,
        "read_seconds": read_seconds,
        "seconds_per_million": seconds * 1e6 / summary.records.max(1) as f64,
    })
}
