//! The integrator: sequences queued audit records and integrates them into the Merkle tree
//! (issue 13; after Trillian Tessera, which separates sequencing from integration).
//!
//! One broker instance at a time integrates: it holds the lease in `audit_integrator` (renewed on
//! every pass, [`LEASE_MS`] long) and another instance takes over when it runs out — after the
//! holder was killed, within a lease and a poll. Each pass takes up to [`BATCH`] queued records,
//! oldest first, and in ONE short transaction locks the head, encodes each record with its
//! sequence number, inserts leaves and nodes, signs the checkpoints the policy makes due, updates
//! the head and deletes the records from the queue.
//!
//! INVARIANT: correctness does not rest on the lease. Every pass reads the queue only after it
//! holds the head row, so two integrators that overlapped (a lease that ran out mid-pass) run one
//! after the other and the second finds the first's records gone from the queue: no record is
//! integrated twice, none is skipped (a record committed late, below the last one integrated, is
//! simply taken by the next pass), and sequence numbers have no gap.
//!
//! On the direct write path (SQLite) records are integrated as they are appended: [`run`] returns
//! at once.

use std::sync::Arc;
use std::time::Duration;

use audit::Record;
use sea_orm::sea_query::{Condition, Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};

use super::entities::{integrator, queue};
use super::{AuditError, AuditLog, WritePath, lock_head};
use crate::Shutdown;
use crate::metrics::Metrics;
use store::now_ms;

/// How long a lease lasts without renewal; another instance takes over after it.
pub const LEASE_MS: i64 = 3_000;
/// Most records integrated in one transaction.
pub const BATCH: u64 = 512;
/// How often the lease holder looks at the queue when nothing woke it (records queued by other
/// instances do not wake it).
const HOLDER_POLL: Duration = Duration::from_millis(20);
/// How often an instance without the lease checks whether it ran out.
const STANDBY_POLL: Duration = Duration::from_millis(500);
const LEASE_ID: i16 = 1;

/// The histogram of the time from queueing to integration.
pub const TIME_TO_INTEGRATE: &str = "broker_audit_time_to_integrate_seconds";
const TIME_TO_INTEGRATE_HELP: &str =
    "Time from an audit record being queued to its integration into the tree.";
/// The gauge of records waiting in the queue (refreshed by the lease holder).
pub const QUEUE_DEPTH: &str = "broker_audit_queue_depth";
/// The gauge that is 1 on the instance that holds the integrator lease, 0 on the others.
pub const LEADER: &str = "broker_audit_integrator_leader";

/// What one pass integrated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Integrated {
    /// When each record was queued (Unix ms), in sequence order.
    pub queued_at: Vec<i64>,
}

impl Integrated {
    pub fn count(&self) -> usize {
        self.queued_at.len()
    }
}

impl AuditLog {
    /// Integrates up to `limit` queued records, oldest first, in one transaction (see the module
    /// docs). Returns what it integrated.
    pub async fn integrate_batch(&self, limit: u64) -> Result<Integrated, AuditError> {
        let txn = self.db.begin().await?;
        // INVARIANT: the head first, the queue after (see the module docs).
        lock_head(&txn).await?;
        let rows = queue::Entity::find()
            .order_by_asc(queue::Column::Qid)
            .limit(limit)
            .all(&txn)
            .await?;
        if rows.is_empty() {
            txn.commit().await?;
            return Ok(Integrated::default());
        }
        let records = rows
            .iter()
            .map(|row| Record::from_canonical(&row.entry).map_err(|_| corrupt(row)))
            .collect::<Result<Vec<_>, _>>()?;
        self.integrate_in(&txn, records).await?;
        queue::Entity::delete_many()
            .filter(queue::Column::Qid.is_in(rows.iter().map(|r| r.qid)))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(Integrated {
            queued_at: rows.into_iter().map(|r| r.queued_at).collect(),
        })
    }

    /// Integrates everything queued now (tests, tools, a clean shutdown); returns how many.
    pub async fn settle(&self) -> Result<usize, AuditError> {
        let mut total = 0;
        loop {
            let done = self.integrate_batch(BATCH).await?;
            total += done.count();
            if done.count() == 0 {
                return Ok(total);
            }
        }
    }

    /// How many records wait in the queue.
    pub async fn queued(&self) -> Result<u64, AuditError> {
        Ok(queue::Entity::find().count(&self.db).await?)
    }

    /// The record `id` if it is queued, not integrated yet (its proof is not ready).
    pub async fn queued_record(&self, id: &str) -> Result<Option<Record>, AuditError> {
        let Some(row) = queue::Entity::find()
            .filter(queue::Column::Id.eq(id))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        Record::from_canonical(&row.entry)
            .map(Some)
            .map_err(|_| corrupt(&row))
    }

    async fn any_queued(&self) -> Result<bool, DbErr> {
        Ok(queue::Entity::find()
            .select_only()
            .column(queue::Column::Qid)
            .limit(1)
            .into_tuple::<i64>()
            .one(&self.db)
            .await?
            .is_some())
    }
}

fn corrupt(row: &queue::Model) -> AuditError {
    AuditError::Db(DbErr::Custom(format!(
        "queued audit record `{}` does not decode",
        row.id.chars().take(64).collect::<String>()
    )))
}

/// Takes or renews the integrator lease for `owner`; true when `owner` holds it now.
pub async fn take_lease<C: ConnectionTrait>(
    conn: &C,
    owner: &str,
    now: i64,
) -> Result<bool, DbErr> {
    use integrator::Column as C;
    let taken = integrator::Entity::update_many()
        .col_expr(C::Owner, Expr::value(owner))
        .col_expr(C::LeaseUntil, Expr::value(now.saturating_add(LEASE_MS)))
        .filter(C::Id.eq(LEASE_ID))
        .filter(
            Condition::any()
                .add(C::Owner.eq(owner))
                .add(C::LeaseUntil.lt(now)),
        )
        .exec(conn)
        .await?;
    if taken.rows_affected == 1 {
        return Ok(true);
    }
    // No lease row yet (a fresh log): the first to insert it holds it.
    let inserted = integrator::Entity::insert(integrator::ActiveModel {
        id: Set(LEASE_ID),
        owner: Set(owner.to_owned()),
        lease_until: Set(now.saturating_add(LEASE_MS)),
    })
    .on_conflict(OnConflict::column(C::Id).do_nothing().to_owned())
    .exec_without_returning(conn)
    .await?;
    Ok(inserted == 1)
}

/// Gives the lease up (a clean shutdown), so another instance takes over at once.
pub async fn release_lease<C: ConnectionTrait>(conn: &C, owner: &str) -> Result<(), DbErr> {
    integrator::Entity::update_many()
        .col_expr(integrator::Column::LeaseUntil, Expr::value(0i64))
        .filter(integrator::Column::Id.eq(LEASE_ID))
        .filter(integrator::Column::Owner.eq(owner))
        .exec(conn)
        .await?;
    Ok(())
}

/// Runs the integrator of this instance until shutdown (queued write path only).
pub async fn run(log: AuditLog, metrics: Arc<Metrics>, mut stop: Shutdown) {
    if log.write_path() == WritePath::Direct {
        return;
    }
    let owner = format!("broker-{}", uuid::Uuid::new_v4().simple());
    let wake = log.queued.clone();
    tracing::info!(%owner, "audit integrator started");
    let mut was_holder = false;
    loop {
        let holder = match take_lease(&log.db, &owner, now_ms()).await {
            Ok(holder) => holder,
            Err(e) => {
                tracing::warn!(error = %e, "audit integrator: cannot take the lease");
                false
            }
        };
        metrics.set_gauge(LEADER, String::new(), i64::from(holder));
        if holder != was_holder {
            if holder {
                tracing::info!(%owner, "audit integrator: this instance holds the lease");
            } else {
                tracing::warn!(%owner, "audit integrator: this instance lost the lease");
            }
            was_holder = holder;
        }
        if holder {
            pass(&log, &metrics).await;
        }
        let wait = if holder { HOLDER_POLL } else { STANDBY_POLL };
        tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep(wait) => {}
            _ = wake.notified() => {}
        }
    }
    // What this instance queued before stopping is integrated by whoever holds the lease next;
    // giving it up lets that be at once.
    metrics.set_gauge(LEADER, String::new(), 0);
    if let Err(e) = release_lease(&log.db, &owner).await {
        tracing::warn!(error = %e, "audit integrator: cannot release the lease");
    }
    tracing::info!("audit integrator stopped");
}

/// Integrates until the queue is empty (or a pass fails).
async fn pass(log: &AuditLog, metrics: &Metrics) {
    match log.any_queued().await {
        Ok(true) => {}
        Ok(false) => {
            metrics.set_gauge(QUEUE_DEPTH, String::new(), 0);
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "audit integrator: cannot read the queue");
            return;
        }
    }
    loop {
        match log.integrate_batch(BATCH).await {
            Ok(done) => {
                let now = now_ms();
                for queued in &done.queued_at {
                    let seconds = (now - queued).max(0) as f64 / 1000.0;
                    metrics.observe(TIME_TO_INTEGRATE, TIME_TO_INTEGRATE_HELP, seconds);
                }
                if (done.count() as u64) < BATCH {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "audit integrator: a pass failed; retrying");
                break;
            }
        }
    }
    if let Ok(depth) = log.queued().await {
        metrics.set_gauge(QUEUE_DEPTH, String::new(), depth as i64);
    }
}
