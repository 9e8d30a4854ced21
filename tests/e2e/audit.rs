//! The audit log end to end: the real `broker audit verify` and `broker audit export` binaries on
//! a log the real broker wrote, tampering done directly in the database, two broker processes
//! appending to one PostgreSQL, its integrator killed, its database restarted under load, its checkpoints cosigned
//! by the real `broker witness` (and a rollback and a fork refused and detected), and the officer console and "my activity" in headless Chromium.

mod browser;
mod cli;
mod concurrent;
mod demo;
mod failover;
mod restart;
mod witness;

use std::collections::HashSet;
use std::sync::Arc;

use broker::config::Config;
use broker_e2e::*;
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};
use services::audit_log::AuditLog;
use services::audit_log::entities::record;

/// The environment of a broker that signs a checkpoint every 5 records.
fn env() -> BrokerEnv {
    BrokerEnv::default().set("BROKER_AUDIT__CHECKPOINT_EVERY_RECORDS", "5")
}

fn config_of(broker: &Broker) -> Config {
    Config {
        data_dir: broker.data_dir.clone(),
        ..Config::default()
    }
}

/// The broker's own audit log, opened with its keys (as another instance would).
fn log_of(conn: &DatabaseConnection, broker: &Broker) -> AuditLog {
    services::jose::install_crypto_provider();
    let keys = services::keys::open_signing_keys(&config_of(broker).keys, &broker.data_dir)
        .expect("broker keys");
    AuditLog::new(
        conn.clone(),
        Arc::new(keys),
        audit::CheckpointPolicy {
            every_records: 5,
            every_ms: 0,
        },
    )
}

/// An officer session (`olivier`) started directly in the database; returns the cookie value.
async fn officer_cookie(conn: &DatabaseConnection, broker: &Broker) -> String {
    broker_e2e::citizens::officer_signed_in(conn, broker)
        .await
        .0
}

/// Appends `n` releases (about `citizen`, to the revenue agency) as the broker would.
async fn releases(log: &AuditLog, citizen: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let mut r = AuditLog::record(
            audit::Action::Release,
            audit::Outcome::Permit,
            audit::Actor::new(audit::ActorKind::Department, "revenue-agency"),
        );
        r.citizen_id = Some(citizen.to_owned());
        r.department_id = Some("revenue-agency".into());
        r.purpose = Some("benefit-eligibility".into());
        r.attributes = vec!["address".into()];
        ids.push(log.append(r).await.expect("append").id);
    }
    ids
}

/// `broker <args>` against `broker`'s database and data directory.
fn run_cli(db: &TestDb, broker: &Broker, args: &[&str]) -> (i32, String, String) {
    let data_dir = broker.data_dir.display().to_string();
    let (status, out, err) = run_broker(
        &[
            ("BROKER_DATABASE_URL", db.url()),
            ("BROKER_DATA_DIR", &data_dir),
        ],
        args,
    );
    (status.code().unwrap_or(-1), out, err)
}

/// The integrated records in sequence order, once it is checked that the sequence has no gap, no
/// record is in the tree twice and every one of `answered` (the `txn` of each request the broker
/// answered) is there.
async fn tree_holds_each_once(
    conn: &DatabaseConnection,
    answered: &[String],
) -> Vec<record::Model> {
    let rows = record::Entity::find()
        .order_by_asc(record::Column::Seq)
        .all(conn)
        .await
        .unwrap();
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (0..rows.len() as i64).collect::<Vec<_>>(), "a gap");
    let ids: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), rows.len(), "a record integrated twice");
    for txn in answered {
        assert!(ids.contains(txn.as_str()), "answered record {txn} lost");
    }
    rows
}
