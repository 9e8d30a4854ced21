//! The delivery worker: claims due outbox rows, builds and signs their SETs, hands them to each
//! department's adapter, and records each outcome with its audit record.
//!
//! Claiming is one statement: `UPDATE … SET lease_owner, lease_until WHERE seq IN (SELECT seq …
//! FOR UPDATE SKIP LOCKED LIMIT n) AND <still claimable> RETURNING *`. On PostgreSQL the row
//! locks let several brokers claim side by side without taking the same row; on SQLite (which
//! drops the lock clause) the statement runs under the database's single write lock. Either way a
//! row is held by one worker until its lease runs out, and the worker records an outcome only
//! while it still holds the lease.
//!
//! INVARIANT: per (department, citizen), a delivery is claimable only when no earlier delivery
//! (lower `seq`) is still pending: deliveries go out in the order their changes were recorded.
//! A dead-lettered (`failed`) delivery no longer holds the later ones back.
//!
//! Each department's deliveries run in a task of their own, and a department with a task in
//! flight is not claimed for again, so a receiver that never answers holds up only itself (its
//! adapter's timeout and concurrency limit bound how long and how many).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters::{DeliveryOutcome, Outgoing};
use audit::{Action, Actor, ActorKind, Outcome};
use sea_orm::sea_query::{Alias, Expr, LockBehavior, LockType, Order, Query};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, TransactionTrait,
};
use tokio::task::JoinSet;

use super::Relay;
use super::entities::{change, delivery};
use super::recheck::{self, Verdict};
use super::set;
use super::telemetry::{self, ErrorClass, Settled, Told};
use crate::Shutdown;
use crate::audit_log::AuditLog;
use store::now_ms;

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";
/// Never sent, and never will be: decided against when it was due, or withdrawn with its consent,
/// its department, or its citizen's data.
pub const CANCELLED: &str = "cancelled";

/// What became of one claimed delivery.
#[derive(Debug, Clone)]
enum Attempted {
    /// Handed to the adapter, or failed before it could be.
    Adapter(DeliveryOutcome),
    /// Decided against now: not sent, and cancelled with this reason.
    Cancelled(&'static str),
}

impl Attempted {
    fn retry(code: &str, detail: &str) -> Self {
        Attempted::Adapter(DeliveryOutcome::Retry {
            error_code: code.to_owned(),
            detail: detail.to_owned(),
            retry_after: None,
        })
    }

    fn reject(code: &str, detail: &str) -> Self {
        Attempted::Adapter(DeliveryOutcome::Rejected {
            error_code: code.to_owned(),
            detail: detail.to_owned(),
        })
    }
}

/// Claims up to `limit` due deliveries for `owner` until `now + lease_ms`, skipping the
/// departments in `busy`. Returns them in `seq` order.
pub async fn claim(
    db: &DatabaseConnection,
    owner: &str,
    now: i64,
    lease_ms: i64,
    limit: u64,
    busy: &[String],
) -> Result<Vec<delivery::Model>, DbErr> {
    use delivery::Column as C;
    use sea_orm::sea_query::ExprTrait;
    let table = delivery::Entity;
    let earlier = Alias::new("earlier");
    let blocked = Query::select()
        .expr(Expr::val(1))
        .from_as(table, earlier.clone())
        .and_where(Expr::col((earlier.clone(), C::DepartmentId)).equals((table, C::DepartmentId)))
        .and_where(Expr::col((earlier.clone(), C::CitizenId)).equals((table, C::CitizenId)))
        .and_where(Expr::col((earlier.clone(), C::Status)).eq(PENDING))
        .and_where(Expr::col((earlier, C::Seq)).lt(Expr::col((table, C::Seq))))
        .to_owned();
    let mut due = Query::select();
    due.column((table, C::Seq))
        .from(table)
        .and_where(Expr::col((table, C::Status)).eq(PENDING))
        .and_where(Expr::col((table, C::NextAttemptAt)).lte(now))
        .cond_where(
            Condition::any()
                .add(Expr::col((table, C::LeaseUntil)).is_null())
                .add(Expr::col((table, C::LeaseUntil)).lte(now)),
        )
        .and_where(Expr::exists(blocked).not())
        .order_by((table, C::Seq), Order::Asc)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    if !busy.is_empty() {
        due.and_where(Expr::col((table, C::DepartmentId)).is_not_in(busy.iter().cloned()));
    }
    let mut rows = delivery::Entity::update_many()
        .col_expr(C::LeaseOwner, Expr::value(owner))
        .col_expr(C::LeaseUntil, Expr::value(now.saturating_add(lease_ms)))
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::Seq.in_subquery(due.to_owned()))
        .filter(C::Status.eq(PENDING))
        .filter(
            Condition::any()
                .add(C::LeaseUntil.is_null())
                .add(C::LeaseUntil.lte(now)),
        )
        .exec_with_returning(db)
        .await?;
    rows.sort_by_key(|r| r.seq);
    Ok(rows)
}

/// How long to wait before attempt `attempts + 1`, after `attempts` failed ones: `base · 2^(n-1)`
/// capped at `max`, with "equal jitter" (half fixed, half random from `jitter` in `[0, 1)`), and
/// never sooner than the receiver's `Retry-After`.
pub fn backoff_ms(
    attempts: u32,
    base_ms: u64,
    max_ms: u64,
    jitter: f64,
    retry_after_ms: Option<u64>,
) -> u64 {
    let exponent = attempts.saturating_sub(1).min(32);
    let full = base_ms
        .saturating_mul(1u64.checked_shl(exponent).unwrap_or(u64::MAX))
        .min(max_ms);
    let half = full / 2;
    let random = (half as f64 * jitter.clamp(0.0, 1.0)) as u64;
    (half + random)
        .max(retry_after_ms.unwrap_or(0))
        .min(max_ms.max(retry_after_ms.unwrap_or(0)))
}

fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

/// How often the worker refreshes the queue gauges (depth, oldest pending, dead letters).
const GAUGES_EVERY: Duration = Duration::from_secs(1);

/// Runs the worker until shutdown; deliveries in flight then get `shutdown_grace_secs` to finish
/// (what is left is claimed again when its lease runs out).
pub async fn run(state: Relay, mut stop: Shutdown) {
    let settings = state.settings.clone();
    let owner = format!("broker-{}", uuid::Uuid::new_v4().simple());
    let busy: Arc<Mutex<HashSet<String>>> = Arc::default();
    let wake = state.relay_wake.clone();
    let mut tasks = JoinSet::new();
    let poll = Duration::from_millis(settings.poll_interval_ms.max(10));
    let lease_ms = settings.lease_ms();
    tracing::info!(%owner, "relay worker started");
    let mut gauges_at: Option<std::time::Instant> = None;
    loop {
        while tasks.try_join_next().is_some() {}
        if gauges_at.is_none_or(|at| at.elapsed() >= GAUGES_EVERY) {
            gauges_at = Some(std::time::Instant::now());
            if let Err(e) = telemetry::refresh_gauges(&state.db, &state.metrics, now_ms()).await {
                tracing::warn!(error = %e, "relay: cannot read the queue for its gauges");
            }
        }
        let busy_now: Vec<String> = busy
            .lock()
            .map(|b| b.iter().cloned().collect())
            .unwrap_or_default();
        let mut claimed_any = false;
        match claim(
            &state.db,
            &owner,
            now_ms(),
            lease_ms,
            settings.batch_size.max(1),
            &busy_now,
        )
        .await
        {
            Ok(rows) => {
                claimed_any = !rows.is_empty();
                let mut groups: Vec<(String, Vec<delivery::Model>)> = Vec::new();
                for row in rows {
                    match groups.iter_mut().find(|(d, _)| *d == row.department_id) {
                        Some((_, list)) => list.push(row),
                        None => groups.push((row.department_id.clone(), vec![row])),
                    }
                }
                for (department, rows) in groups {
                    if let Ok(mut b) = busy.lock() {
                        b.insert(department.clone());
                    }
                    let (state, owner, busy, wake) =
                        (state.clone(), owner.clone(), busy.clone(), wake.clone());
                    tasks.spawn(async move {
                        deliver_department(&state, &owner, &department, rows).await;
                        if let Ok(mut b) = busy.lock() {
                            b.remove(&department);
                        }
                        wake.notify_one();
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "relay: cannot claim deliveries"),
        }
        if claimed_any {
            tokio::task::yield_now().await;
            if *stop.borrow() {
                break;
            }
            continue;
        }
        tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep(poll) => {}
            _ = wake.notified() => {}
        }
    }
    let grace = Duration::from_secs(settings.shutdown_grace_secs);
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, drain).await.is_err() {
        tasks.abort_all();
        tracing::info!("relay worker stopped; unfinished deliveries wait for their lease");
    } else {
        tracing::info!("relay worker stopped");
    }
}

/// Builds, delivers and settles one department's claimed rows.
async fn deliver_department(
    state: &Relay,
    owner: &str,
    department_id: &str,
    rows: Vec<delivery::Model>,
) {
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    let work = attempt(state, owner, department_id, &rows);
    let outcomes = with_heartbeat(&state.db, owner, &seqs, state.settings.lease_ms(), work).await;
    match settle(state, owner, &rows, outcomes).await {
        // Told only once committed: a count or a WARN for an outcome that was rolled back
        // would mislead.
        Ok(told) => telemetry::tell(&state.metrics, &told),
        Err(e) => {
            tracing::warn!(department = department_id, error = %e, "relay: cannot record delivery outcomes");
        }
    }
}

/// Runs `work` on `rows` while renewing their leases every third of a lease: a live worker keeps
/// what it holds however long its receiver takes, so the lease can be short and a dead worker's
/// rows are taken over within one lease (seconds), not after the slowest receiver's timeout.
///
/// INVARIANT: only the holder renews (`renew` requires `lease_owner` = us and `pending`), and a
/// row is sent only after a renewal found it still ours: a worker whose heartbeat stops (it
/// died, or lost its database for a whole lease) is the only way two workers could hold the
/// same row, and the one that lost it records nothing (`settle` requires `lease_owner` = us).
pub(crate) async fn with_heartbeat<T>(
    db: &DatabaseConnection,
    owner: &str,
    seqs: &[i64],
    lease_ms: i64,
    work: impl std::future::Future<Output = T>,
) -> T {
    let every = Duration::from_millis(u64::try_from(lease_ms / 3).unwrap_or(1000).max(50));
    tokio::pin!(work);
    loop {
        tokio::select! {
            done = &mut work => return done,
            _ = tokio::time::sleep(every) => {
                if let Err(e) = renew(db, owner, seqs, now_ms(), lease_ms).await {
                    tracing::warn!(error = %e, "relay: cannot renew delivery leases");
                }
            }
        }
    }
}

async fn attempt(
    state: &Relay,
    owner: &str,
    department_id: &str,
    rows: &[delivery::Model],
) -> Vec<Attempted> {
    let all = |outcome: Attempted| rows.iter().map(|_| outcome.clone()).collect::<Vec<_>>();
    let department = match crate::departments::get(&state.db, department_id).await {
        Ok(Some(d)) => d,
        Ok(None) => {
            return all(Attempted::reject(
                "department_unknown",
                "the department is not registered",
            ));
        }
        Err(_) => {
            return all(Attempted::retry(
                "database_error",
                "cannot read the department",
            ));
        }
    };
    if !department.active {
        return all(Attempted::Cancelled("department_disabled"));
    }
    let Some(settings) = department.delivery.clone() else {
        return all(Attempted::reject(
            "no_adapter",
            "the department has no delivery adapter",
        ));
    };
    let adapter = match state.adapters.for_department(department_id, &settings) {
        Ok(a) => a,
        Err(_) => {
            return all(Attempted::reject(
                "adapter_config",
                "the delivery settings are invalid",
            ));
        }
    };
    // Decide and build every SET; those that cannot go get their outcome now.
    let mut outcomes: Vec<Option<Attempted>> = vec![None; rows.len()];
    let mut outgoing = Vec::new();
    let mut positions = Vec::new();
    let mut changes: HashMap<String, change::Model> = HashMap::new();
    let mut citizens: HashMap<String, Option<crate::citizens::Citizen>> = HashMap::new();
    // The consents the batch was queued under, as stored now: one read for the whole batch.
    let consent_ids: Vec<String> = rows.iter().filter_map(|r| r.consent_id.clone()).collect();
    let consents: HashMap<String, consent::Consent> = match crate::consents::load_many(
        &state.db,
        &consent_ids,
    )
    .await
    {
        Ok(found) => found.into_iter().map(|c| (c.id().to_string(), c)).collect(),
        Err(e) => {
            tracing::warn!(department = department_id, error = %e, "relay: cannot read consents");
            return all(Attempted::retry(
                "database_error",
                "cannot read the consents",
            ));
        }
    };
    for (i, row) in rows.iter().enumerate() {
        if !changes.contains_key(&row.change_id) {
            match change::Entity::find_by_id(row.change_id.clone())
                .one(&state.db)
                .await
            {
                Ok(Some(c)) => {
                    changes.insert(row.change_id.clone(), c);
                }
                Ok(None) => {
                    outcomes[i] = Some(Attempted::reject("change_missing", "the change is gone"));
                    continue;
                }
                Err(_) => {
                    outcomes[i] =
                        Some(Attempted::retry("database_error", "cannot read the change"));
                    continue;
                }
            }
        }
        if !citizens.contains_key(&row.citizen_id) {
            match crate::citizens::get(&state.db, &row.citizen_id).await {
                Ok(citizen) => {
                    citizens.insert(row.citizen_id.clone(), citizen);
                }
                Err(e) => {
                    tracing::warn!(delivery = %row.id, error = %e, "relay: cannot read the citizen");
                    outcomes[i] = Some(Attempted::retry(
                        "database_error",
                        "cannot read the citizen",
                    ));
                    continue;
                }
            }
        }
        let (Some(change), Some(citizen)) =
            (changes.get(&row.change_id), citizens.get(&row.citizen_id))
        else {
            continue;
        };
        match build(state, row, change, &department, citizen.as_ref(), &consents).await {
            Ok(Built::Set(jwt)) => {
                positions.push(i);
                outgoing.push(Outgoing {
                    jti: row.id.clone(),
                    department_id: department_id.to_owned(),
                    set_jwt: jwt,
                    event_type: change_kind_uri(row),
                    issued_at_ms: row.created_at,
                });
            }
            Ok(Built::Cancelled(code)) => outcomes[i] = Some(Attempted::Cancelled(code)),
            Err(e) if e.is_transient() => {
                outcomes[i] = Some(Attempted::retry(e.code(), &e.to_string()));
            }
            Err(e) => {
                tracing::warn!(delivery = %row.id, department = department_id, code = e.code(), "relay: cannot build a delivery");
                outcomes[i] = Some(Attempted::reject(e.code(), &e.to_string()));
            }
        }
    }
    // Deciding and building may have taken a while: renew the leases, and send only the rows
    // still ours and still pending (a row cancelled meanwhile — its consent withdrawn, say — or
    // claimed by another worker after its lease ran out is not sent from here).
    let seqs: Vec<i64> = positions.iter().map(|&i| rows[i].seq).collect();
    let lease_ms = state.settings.lease_ms();
    let kept = match renew(&state.db, owner, &seqs, now_ms(), lease_ms).await {
        Ok(kept) => kept,
        Err(e) => {
            tracing::warn!(error = %e, "relay: cannot renew delivery leases");
            HashSet::new()
        }
    };
    let mut still = Vec::new();
    let mut still_positions = Vec::new();
    for (position, event) in positions.into_iter().zip(outgoing) {
        if kept.contains(&rows[position].seq) {
            still_positions.push(position);
            still.push(event);
        } else {
            // Cancelled, or another worker holds it now; `settle` leaves the row alone.
            outcomes[position] = Some(Attempted::retry(
                "lease_lost",
                "cancelled or claimed by another worker before sending",
            ));
        }
    }
    let (positions, outgoing) = (still_positions, still);
    if !outgoing.is_empty() {
        let delivered = adapter.deliver_batch(&outgoing).await;
        for (position, outcome) in positions.into_iter().zip(delivered) {
            outcomes[position] = Some(Attempted::Adapter(outcome));
        }
    }
    outcomes
        .into_iter()
        .map(|o| {
            o.unwrap_or_else(|| {
                Attempted::retry("adapter_fault", "the adapter returned no outcome")
            })
        })
        .collect()
}

/// The SET's event type URI (the row's event was checked when its SET was built).
fn change_kind_uri(row: &delivery::Model) -> String {
    super::EventKind::parse(&row.event)
        .map(|k| k.uri())
        .unwrap_or_else(|| row.event.clone())
}

/// A delivery decided and, if it goes, signed.
enum Built {
    Set(String),
    Cancelled(&'static str),
}

/// Decides `row` now ([`super::recheck`]) and builds its SET when it may go.
async fn build(
    state: &Relay,
    row: &delivery::Model,
    change: &change::Model,
    department: &crate::departments::Department,
    citizen: Option<&crate::citizens::Citizen>,
    consents: &HashMap<String, consent::Consent>,
) -> Result<Built, set::BuildError> {
    let verdict = recheck::decide(
        &state.policy,
        row,
        change,
        department,
        citizen,
        consents,
        now_ms(),
    )?;
    let claims = match verdict {
        Verdict::Cancel(code) => return Ok(Built::Cancelled(code)),
        Verdict::Notice => set::notice(state, row, change, department).await?,
        Verdict::Values(grant) => set::disclosure(state, grant, row, change, department).await?,
    };
    Ok(Built::Set(set::sign(state, &claims)?))
}

/// Extends to `now + lease_ms` the lease of the `seqs` that `owner` still holds; returns those.
///
/// A row is still ours while its `lease_owner` is us, even if the lease ran out meanwhile: every
/// claim rewrites `lease_owner`, so no other worker has taken it (or sent it). Requiring an
/// unexpired lease here would let a batch that takes longer to build than the lease never be
/// sent at all, however often it is claimed again.
pub async fn renew(
    db: &DatabaseConnection,
    owner: &str,
    seqs: &[i64],
    now: i64,
    lease_ms: i64,
) -> Result<HashSet<i64>, DbErr> {
    use delivery::Column as C;
    if seqs.is_empty() {
        return Ok(HashSet::new());
    }
    let rows = delivery::Entity::update_many()
        .col_expr(C::LeaseUntil, Expr::value(now.saturating_add(lease_ms)))
        .filter(C::Seq.is_in(seqs.iter().copied()))
        .filter(C::Status.eq(PENDING))
        .filter(C::LeaseOwner.eq(owner))
        .exec_with_returning(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.seq).collect())
}

/// Records every outcome (still holding the lease) with its audit record, in one transaction:
/// the delivered rows in one statement, each retry or dead letter in its own (their next attempt
/// and error differ), and every audit record in one append. Returns what to tell operators.
async fn settle(
    state: &Relay,
    owner: &str,
    rows: &[delivery::Model],
    outcomes: Vec<Attempted>,
) -> Result<Vec<Told>, crate::error::Error> {
    use delivery::Column as C;
    use sea_orm::sea_query::ExprTrait;
    let settings = &state.settings;
    let now = now_ms();
    let still_ours = |update: sea_orm::UpdateMany<delivery::Entity>| {
        update
            .col_expr(C::Attempts, Expr::col(C::Attempts).add(1))
            .col_expr(C::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(C::LeaseUntil, Expr::value(Option::<i64>::None))
            .col_expr(C::UpdatedAt, Expr::value(now))
            .filter(C::Status.eq(PENDING))
            .filter(C::LeaseOwner.eq(owner))
    };
    let txn = state.db.begin().await?;
    let delivered: Vec<i64> = rows
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| matches!(o, Attempted::Adapter(DeliveryOutcome::Delivered { .. })))
        .map(|(r, _)| r.seq)
        .collect();
    // Rows whose lease ran out and that another worker holds now are not ours to settle: their
    // outcome is that worker's.
    let mut settled: HashSet<i64> = HashSet::new();
    if !delivered.is_empty() {
        let done = still_ours(delivery::Entity::update_many())
            .col_expr(C::Status, Expr::value(DELIVERED))
            .col_expr(C::DeliveredAt, Expr::value(now))
            .col_expr(C::LastError, Expr::value(Option::<String>::None))
            .filter(C::Seq.is_in(delivered))
            .exec_with_returning(&txn)
            .await?;
        settled.extend(done.into_iter().map(|r| r.seq));
    }
    let mut records = Vec::with_capacity(rows.len());
    let mut told = Vec::with_capacity(rows.len());
    for (row, attempted) in rows.iter().zip(outcomes) {
        let tell = |settled, failure: Option<(ErrorClass, &str)>, retry_in_ms| Told {
            department: row.department_id.clone(),
            delivery: row.id.clone(),
            settled,
            failure: failure.map(|(class, code)| (class, code.to_owned())),
            attempt: row.attempts.saturating_add(1),
            retry_in_ms,
            latency_ms: Some(now.saturating_sub(row.created_at)),
        };
        let outcome = match attempted {
            Attempted::Adapter(outcome) => outcome,
            Attempted::Cancelled(code) => {
                // Not an attempt: nothing was sent. Cancelled only while still ours and pending.
                let done = delivery::Entity::update_many()
                    .col_expr(C::Status, Expr::value(CANCELLED))
                    .col_expr(C::LastError, Expr::value(code))
                    .col_expr(C::LeaseOwner, Expr::value(Option::<String>::None))
                    .col_expr(C::LeaseUntil, Expr::value(Option::<i64>::None))
                    .col_expr(C::UpdatedAt, Expr::value(now))
                    .filter(C::Status.eq(PENDING))
                    .filter(C::LeaseOwner.eq(owner))
                    .filter(C::Seq.eq(row.seq))
                    .exec(&txn)
                    .await?;
                if done.rows_affected == 1 {
                    let mut record = super::outbox::cancelled_record(row, code);
                    record.detail.insert("worker".into(), owner.to_owned());
                    records.push(record);
                    told.push(tell(Settled::Cancelled, None, None));
                }
                continue;
            }
        };
        let attempts = row.attempts.saturating_add(1);
        let (action, outcome_word, error) = match &outcome {
            DeliveryOutcome::Delivered { .. } => {
                if !settled.contains(&row.seq) {
                    continue;
                }
                told.push(tell(Settled::Delivered, None, None));
                (Action::DeliveryDelivered, Outcome::Ok, None)
            }
            DeliveryOutcome::Retry {
                error_code,
                retry_after,
                ..
            } if u32::try_from(attempts).unwrap_or(u32::MAX) < settings.max_attempts => {
                let wait = backoff_ms(
                    u32::try_from(attempts).unwrap_or(u32::MAX),
                    settings.backoff_base_ms,
                    settings.backoff_max_secs.saturating_mul(1000),
                    jitter(),
                    retry_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                );
                let next = now.saturating_add(i64::try_from(wait).unwrap_or(i64::MAX));
                let update =
                    delivery::Entity::update_many().col_expr(C::NextAttemptAt, Expr::value(next));
                if !settle_one(still_ours(update), row, &outcome, error_code, &txn).await? {
                    continue;
                }
                let class = ErrorClass::of(error_code, false);
                told.push(tell(
                    Settled::Retried,
                    Some((class, error_code.as_str())),
                    Some(wait),
                ));
                (
                    Action::DeliveryFailed,
                    Outcome::Error,
                    Some(error_code.clone()),
                )
            }
            DeliveryOutcome::Retry { error_code, .. }
            | DeliveryOutcome::Rejected { error_code, .. } => {
                let update =
                    delivery::Entity::update_many().col_expr(C::Status, Expr::value(FAILED));
                if !settle_one(still_ours(update), row, &outcome, error_code, &txn).await? {
                    continue;
                }
                let refused = matches!(outcome, DeliveryOutcome::Rejected { .. });
                let class = ErrorClass::of(error_code, refused);
                told.push(tell(
                    Settled::DeadLettered,
                    Some((class, error_code.as_str())),
                    None,
                ));
                (
                    Action::DeliveryDeadLettered,
                    Outcome::Error,
                    Some(error_code.clone()),
                )
            }
        };
        let mut record =
            AuditLog::record(action, outcome_word, Actor::new(ActorKind::System, "relay"));
        record.citizen_id = Some(row.citizen_id.clone());
        record.department_id = Some(row.department_id.clone());
        record.purpose = row.purpose.clone();
        record.consent_id = row.consent_id.clone();
        record.request_id = Some(row.id.clone());
        record.attributes = serde_json::from_value(row.attributes.clone()).unwrap_or_default();
        record.detail.insert("event".into(), row.event.clone());
        record.detail.insert("attempt".into(), attempts.to_string());
        // Which broker instance attempted it (several may share a database).
        record.detail.insert("worker".into(), owner.to_owned());
        if let Some(code) = error {
            record.reasons.push(code);
        }
        records.push(record);
    }
    state.audit.append_many_in(&txn, records).await?;
    txn.commit().await?;
    Ok(told)
}

/// Records one failed attempt of `row` with its error; false when the row is no longer ours.
async fn settle_one(
    update: sea_orm::UpdateMany<delivery::Entity>,
    row: &delivery::Model,
    outcome: &DeliveryOutcome,
    error_code: &str,
    txn: &sea_orm::DatabaseTransaction,
) -> Result<bool, DbErr> {
    use delivery::Column as C;
    let refused = matches!(outcome, DeliveryOutcome::Rejected { .. });
    let text = telemetry::stored_error(
        ErrorClass::of(error_code, refused),
        error_code,
        outcome.detail(),
    );
    let result = update
        .col_expr(C::LastError, Expr::value(text))
        .filter(C::Seq.eq(row.seq))
        .exec(txn)
        .await?;
    Ok(result.rows_affected == 1)
}

#[cfg(test)]
mod tests;
