//! Audit log benchmark (used by scripts/bench): durable appends per second through the real
//! `AuditLog::append` (committed before it returns; concurrent appends share a group commit) from
//! 1, 8 and 64 concurrent tokio tasks, then the time to verify the stored log with the function `broker audit
//! verify` runs (every row re-hashed into the Merkle tree, every stored node compared, every
//! signed checkpoint checked against the broker's keys), against the time to only read the rows.
//!
//! `audit_bench <database url> <data dir> <records per level> <levels, e.g. 1,8,64> <verify records>`
//!
//! Migrates the (fresh) database, runs the audit integrator as `broker serve` does, appends
//! `records per level` release-like records at each concurrency level (appends/s: durable in the
//! queue on PostgreSQL, in the tree on SQLite; then integrated/s until the last is in the tree,
//! and the time to integrate from the integrator's histogram), tops the log up to `verify records` (64 appenders, not timed), verifies it
//! and prints one JSON object on stdout. Records carry ids and attribute names only, like the
//! broker's: no value is ever written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use audit::{Action, Actor, ActorKind, Outcome};
use broker::config::{Config, DatabaseUrl};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use services::audit_log::AuditLog;
use services::audit_log::entities::record;

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

    // The integrator `broker serve` runs (PostgreSQL: appends are queued, then sequenced and
    // integrated in batches; SQLite: integrated as appended, and this returns at once).
    let metrics = Arc::new(services::metrics::Metrics::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let integrator = tokio::spawn(services::audit_log::integrate::run(
        log.clone(),
        metrics.clone(),
        stopped,
    ));
    let mut appends = Vec::new();
    for &level in &levels {
        eprintln!("audit: {per_level} appends from {level} tasks");
        let before = integrate_buckets(&metrics);
        let started = Instant::now();
        let mut result = append_many(&log, per_level, level).await;
        // Until every record of this level is in the tree.
        while log.queued().await.unwrap() > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let seconds = started.elapsed().as_secs_f64();
        let after = integrate_buckets(&metrics);
        result["integrated_per_second"] = serde_json::json!(per_level as f64 / seconds);
        result["time_to_integrate_p50_s"] = serde_json::json!(quantile(&before, &after, 0.50));
        result["time_to_integrate_p99_s"] = serde_json::json!(quantile(&before, &after, 0.99));
        appends.push(result);
    }

    // Top the log up for verification (not timed).
    let stored = record::Entity::find().count(&db).await.unwrap();
    if stored < verify_records {
        let missing = usize::try_from(verify_records - stored).unwrap();
        eprintln!("audit: appending {missing} more records to verify");
        append_many(&log, missing, max_level).await;
    }

    while log.queued().await.unwrap() > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // On SQLite the integrator has already returned (nothing is queued there).
    let _ = stop.send(true);
    integrator.await.unwrap();

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

/// The time-to-integrate histogram's cumulative bucket counts, `(upper bound, count)`, as
/// `/metrics` shows them.
fn integrate_buckets(metrics: &services::metrics::Metrics) -> Vec<(f64, u64)> {
    let prefix = format!(
        "{}_bucket{{le=\"",
        services::audit_log::integrate::TIME_TO_INTEGRATE
    );
    metrics
        .render((0, 0))
        .lines()
        .filter_map(|line| {
            let (bound, count) = line.strip_prefix(&prefix)?.split_once("\"} ")?;
            let bound = if bound == "+Inf" {
                f64::INFINITY
            } else {
                bound.parse().ok()?
            };
            Some((bound, count.parse().ok()?))
        })
        .collect()
}

/// The upper bound of the bucket holding quantile `q` of what was observed between two
/// snapshots (`None` without observations: on SQLite nothing is queued).
fn quantile(before: &[(f64, u64)], after: &[(f64, u64)], q: f64) -> Option<f64> {
    let counts: Vec<(f64, u64)> = after
        .iter()
        .map(|&(bound, n)| {
            let earlier = before
                .iter()
                .find(|(b, _)| *b == bound)
                .map_or(0, |(_, n)| *n);
            (bound, n - earlier)
        })
        .collect();
    let total = counts.last()?.1;
    if total == 0 {
        return None;
    }
    let wanted = (total as f64 * q).ceil() as u64;
    counts
        .iter()
        .find(|(_, n)| *n >= wanted)
        .map(|(bound, _)| *bound)
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied()
}

/// Verifies the stored log with the function `broker audit verify` runs
/// (`services::audit_log::verify::verify`: rows, the nodes they complete, every checkpoint, the
/// head row), and, as its floor, reads every row in the same pages and does nothing with them.
async fn verify(
    db: &sea_orm::DatabaseConnection,
    keys: &services::keys::SigningKeys,
) -> serde_json::Value {
    let started = Instant::now();
    let verdict = services::audit_log::verify::verify(db, keys, 0, |_| {})
        .await
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let services::audit_log::verify::Verdict::Clean(summary) = verdict else {
        panic!("the benchmark's log does not verify: {verdict:?}");
    };
    let started = Instant::now();
    let mut read = 0u64;
    let mut after = -1i64;
    loop {
        let rows = record::Entity::find()
            .filter(record::Column::Seq.gt(after))
            .order_by_asc(record::Column::Seq)
            .limit(services::audit_log::verify::BATCH)
            .all(db)
            .await
            .unwrap();
        let Some(last) = rows.last() else { break };
        after = last.seq;
        read += rows.len() as u64;
    }
    let read_seconds = started.elapsed().as_secs_f64();
    assert_eq!(read, summary.records, "the read pass saw another log");
    serde_json::json!({
        "method": "services::audit_log::verify::verify (broker audit verify's function) over the stored rows, nodes, checkpoints and head",
        "records": summary.records,
        "checkpoints_verified": summary.checkpoints_verified,
        "nodes_checked": summary.nodes_checked,
        "seconds": seconds,
        "read_seconds": read_seconds,
        "seconds_per_million": seconds * 1e6 / summary.records.max(1) as f64,
        "read_seconds_per_million": read_seconds * 1e6 / summary.records.max(1) as f64,
    })
}
