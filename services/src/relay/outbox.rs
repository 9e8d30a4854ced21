//! The transactional outbox: a change's new values, its audit record, the change row and one
//! delivery row per receiving department, written in ONE transaction, so a change is recorded
//! with every delivery it owes or not at all. And the other side of that promise: [`cancel`], in
//! the transaction that ends a consent, disables a department, records a death or erases a
//! citizen, withdraws every disclosure not yet made.
//!
//! INVARIANT: every transaction that queues deliveries about a citizen first locks that citizen
//! (`citizens::lock`) and holds the lock until commit: such transactions run one after the other
//! per citizen, so their rows get their `seq` in commit order per citizen, and the worker's
//! "nothing earlier pending for this (department, citizen)" rule delivers them in the order they
//! happened. Changes of different citizens never wait on each other, and no transaction holds a
//! log-wide lock (the audit log queues its records: `audit_log`).
//!
//! INVARIANT: a delivery carrying values is queued only for a [`Recipient`] (built from a
//! `ReleaseGrant`); a value-free notice only for a [`Notice`] or a consent that ended.

use audit::{Action, Actor, Outcome};
use consent::Consent;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, NotSet, QueryFilter, Set,
    TransactionTrait,
};
use serde_json::json;

use super::entities::{change, delivery};
use super::recipients::{self, Changed, Notice, Plan, Recipient};
use super::supersede::{self, Fresh};
use super::worker::{CANCELLED, PENDING};
use super::{EventKind, RelayError};
use crate::audit_log::AuditLog;
use crate::citizens::{self, Provenance};
use crate::departments::{self, Department};
use crate::error::Error;
use crate::relay::Relay;
use store::now_ms;

/// A change to record.
#[derive(Debug, Clone)]
pub struct NewChange {
    pub citizen_id: String,
    pub kind: EventKind,
    /// Attribute names with their new values, already checked against the catalogue.
    pub values: Vec<(String, serde_json::Value)>,
    pub provenance: Provenance,
    /// Who made it (the citizen, or the department), for the audit record.
    pub actor: Actor,
    pub department_id: Option<String>,
    pub client_id: Option<String>,
    /// The delegation a delegate made it under (the actor is then the delegate, the citizen the
    /// person they act for: the record carries both).
    pub delegation_id: Option<String>,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub change_id: String,
    /// The change's audit record (`txn` in its SETs).
    pub txn: String,
    /// The departments a delivery was queued for, values or notice.
    pub recipients: Vec<String>,
}

/// Who would receive `changed` now (the preview page asks this, the outbox decides the same way).
pub async fn plan(
    state: &Relay,
    citizen_id: &str,
    kind: EventKind,
    changed: &[Changed],
) -> Result<Plan, Error> {
    let now = now_ms();
    let consents = crate::consents::for_citizen(&state.db, citizen_id)
        .await
        .map_err(RelayError::from)?;
    let departments = departments::list(&state.db).await?;
    let loa = changed.iter().map(|c| c.loa).min().unwrap_or(1);
    Ok(match kind {
        EventKind::Death => recipients::for_death(&state.policy, &departments, &consents, loa, now),
        _ => Plan {
            recipients: recipients::for_change(
                &state.policy,
                &departments,
                &consents,
                changed,
                false,
                now,
            ),
            notices: Vec::new(),
        },
    })
}

/// Records `change` and its deliveries in one transaction.
pub async fn record(state: &Relay, change: NewChange) -> Result<Recorded, Error> {
    let now = now_ms();
    let changed: Vec<Changed> = change
        .values
        .iter()
        .map(|(name, _)| Changed {
            name: name.clone(),
            loa: change.provenance.loa,
        })
        .collect();
    let plan = plan(state, &change.citizen_id, change.kind, &changed).await?;
    let departments = departments::list(&state.db).await?;
    let txn = state.db.begin().await?;
    // INVARIANT: the first statement is the citizen's lock (a write, so SQLite also takes its
    // write lock at once instead of failing to upgrade a read snapshot under a concurrent writer).
    citizens::lock(&txn, &change.citizen_id)
        .await
        .map_err(RelayError::from)?;
    let action = match change.kind {
        EventKind::Update => Action::AttributeUpdated,
        _ => Action::LifeEvent,
    };
    let mut record = AuditLog::record(action, Outcome::Ok, change.actor.clone());
    record.citizen_id = Some(change.citizen_id.clone());
    record.department_id = change.department_id.clone();
    record.client_id = change.client_id.clone();
    if let Some(delegation) = &change.delegation_id {
        record
            .detail
            .insert("delegation_id".into(), delegation.clone());
    }
    record.attributes = change.values.iter().map(|(n, _)| n.clone()).collect();
    record
        .detail
        .insert("event".into(), change.kind.as_str().to_owned());
    record
        .detail
        .insert("loa".into(), change.provenance.loa.to_string());
    record
        .detail
        .insert("recipients".into(), plan.len().to_string());
    let receipt = state.audit.append_in(&txn, record).await?;
    let mut versions = Vec::new();
    for (name, value) in &change.values {
        let version = citizens::record(
            &txn,
            &state.vault,
            &change.citizen_id,
            name,
            value,
            &change.provenance,
        )
        .await
        .map_err(RelayError::from)?;
        versions.push(json!({"name": name, "version": version}));
    }
    if change.kind == EventKind::Death {
        citizens::mark_deceased(&txn, &change.citizen_id, now)
            .await
            .map_err(RelayError::from)?;
        // Nothing more about a deceased person's other facts goes out (the policies refuse it
        // too, at sending time): what was still queued is withdrawn with the death.
        cancel(
            &txn,
            &state.audit,
            Pending::ValuesOfCitizen(&change.citizen_id),
            CancelReason::SubjectDeceased,
        )
        .await?;
    }
    let change_id = uuid::Uuid::now_v7().to_string();
    change::ActiveModel {
        id: Set(change_id.clone()),
        citizen_id: Set(change.citizen_id.clone()),
        kind: Set(change.kind.as_str().to_owned()),
        attributes: Set(json!(versions)),
        source_kind: Set(change.provenance.source_kind.as_str().to_owned()),
        source_id: Set(change.provenance.source_id.clone()),
        loa: Set(i16::from(change.provenance.loa)),
        txn: Set(receipt.id.clone()),
        ended: Set(None),
        created_at: Set(now),
        // A delegate's change: the actor is the delegate (the page sets both together).
        delegate_id: Set(change
            .delegation_id
            .as_ref()
            .map(|_| change.actor.id.clone())),
    }
    .insert(&txn)
    .await?;
    let department = |id: &str| departments.iter().find(|d| d.id == id);
    let mut rows: Vec<Queued> = Vec::with_capacity(plan.len());
    for recipient in &plan.recipients {
        rows.push(queued(
            state,
            &change_id,
            &change.citizen_id,
            department(recipient.department_id()),
            Queue::values(recipient, change.kind),
            now,
        ));
    }
    for notice in &plan.notices {
        rows.push(queued(
            state,
            &change_id,
            &change.citizen_id,
            department(&notice.department_id),
            Queue::notice(notice),
            now,
        ));
    }
    // What this change's deliveries of values replace (never stale: `supersede`).
    let fresh: Vec<Fresh> = rows
        .iter()
        .filter(|_| change.kind.carries_values())
        .filter(|q| q.record.detail.get("event").map(String::as_str) == Some(change.kind.as_str()))
        .filter_map(|q| {
            Some(Fresh {
                id: q.record.request_id.clone()?,
                department_id: q.record.department_id.clone()?,
                attributes: q.record.attributes.clone(),
            })
        })
        .collect();
    enqueue(&txn, state, rows).await?;
    let superseded =
        supersede::supersede(&txn, &state.audit, &change.citizen_id, &fresh, now).await?;
    txn.commit().await?;
    for row in &superseded {
        state.metrics.inc(
            super::telemetry::DELIVERIES,
            format!(
                "department=\"{}\",outcome=\"{}\"",
                crate::metrics::label_value(&row.department_id),
                super::telemetry::Settled::Superseded.as_str()
            ),
        );
    }
    if !plan.is_empty() {
        state.relay_wake.notify_one();
    }
    Ok(Recorded {
        change_id,
        txn: receipt.id,
        recipients: plan
            .departments()
            .into_iter()
            .map(|(d, _)| d.to_owned())
            .collect(),
    })
}

/// When a department's first attempt is due: at once for a push, at the next window for a
/// batched file drop.
fn first_due(state: &Relay, department: Option<&Department>, now: i64) -> i64 {
    department
        .and_then(|d| Some((d, d.delivery.as_ref()?)))
        .and_then(|(d, settings)| state.adapters.for_department(&d.id, settings).ok())
        .map_or(now, |adapter| adapter.schedule().next_due_ms(now))
}

/// A delivery row to insert, with its `delivery-queued` audit record.
struct Queued {
    row: delivery::ActiveModel,
    record: audit::Record,
}

/// Delivery rows per multi-row insert (each statement under 16 KB: see `audit_log`).
const DELIVERIES_PER_INSERT: usize = 24;

/// What one delivery row says: the event, under which purpose and consent, which attributes (names
/// only) and the permits behind it.
struct Queue {
    department_id: String,
    kind: EventKind,
    purpose: Option<String>,
    consent_id: Option<String>,
    attributes: Vec<String>,
    policy_ids: Vec<String>,
}

impl Queue {
    /// New values for a recipient: what its grant allows, nothing else.
    fn values(recipient: &Recipient, kind: EventKind) -> Self {
        Self {
            department_id: recipient.department_id().to_owned(),
            kind,
            purpose: Some(recipient.purpose().to_owned()),
            consent_id: recipient.consent_id(),
            attributes: recipient.attributes(),
            policy_ids: recipient.policy_ids(),
        }
    }

    /// After a death: releases under this consent stopped.
    fn notice(notice: &Notice) -> Self {
        Self {
            department_id: notice.department_id.clone(),
            kind: EventKind::ReleasesStopped,
            purpose: Some(notice.purpose.clone()),
            consent_id: Some(notice.consent_id.clone()),
            attributes: notice.attributes.clone(),
            policy_ids: Vec::new(),
        }
    }
}

/// One delivery of `change_id`, and its audit record.
fn queued(
    state: &Relay,
    change_id: &str,
    citizen_id: &str,
    department: Option<&Department>,
    queue: Queue,
    now: i64,
) -> Queued {
    let id = uuid::Uuid::now_v7().to_string();
    let row = delivery::ActiveModel {
        seq: NotSet,
        id: Set(id.clone()),
        change_id: Set(change_id.to_owned()),
        citizen_id: Set(citizen_id.to_owned()),
        department_id: Set(queue.department_id.clone()),
        event: Set(queue.kind.as_str().to_owned()),
        purpose: Set(queue.purpose.clone()),
        consent_id: Set(queue.consent_id.clone()),
        attributes: Set(json!(queue.attributes)),
        status: Set(PENDING.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(first_due(state, department, now)),
        lease_owner: Set(None),
        lease_until: Set(None),
        last_error: Set(None),
        delivered_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let mut record = AuditLog::record(
        Action::DeliveryQueued,
        Outcome::Ok,
        Actor::new(audit::ActorKind::System, "relay"),
    );
    record.citizen_id = Some(citizen_id.to_owned());
    record.department_id = Some(queue.department_id);
    record.purpose = queue.purpose;
    record.consent_id = queue.consent_id;
    record.request_id = Some(id);
    record.attributes = queue.attributes;
    record.reasons = queue.policy_ids;
    record
        .detail
        .insert("event".into(), queue.kind.as_str().to_owned());
    record.detail.insert("change".into(), change_id.to_owned());
    Queued { row, record }
}

/// Inserts the delivery rows (in order, so their `seq` follows) and appends their audit records,
/// in the caller's transaction: a few statements however many departments receive the change.
async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    state: &Relay,
    queued: Vec<Queued>,
) -> Result<(), Error> {
    let (rows, records): (Vec<_>, Vec<_>) = queued.into_iter().map(|q| (q.row, q.record)).unzip();
    for chunk in rows.chunks(DELIVERIES_PER_INSERT) {
        delivery::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(conn)
            .await?;
    }
    state.audit.append_many_in(conn, records).await?;
    Ok(())
}

/// Inside the transaction that records a consent's revocation or expiry: every disclosure not
/// yet made under it is cancelled, and the department that held it gets a `consent-revoked`
/// event, when it can receive pushed events. `txn` is the audit record of the revocation or
/// expiry. Returns the notice's delivery id, if one was queued.
pub async fn consent_ended<C: ConnectionTrait>(
    conn: &C,
    state: &Relay,
    consent: &Consent,
    how: Ended,
    txn: &str,
) -> Result<Option<String>, Error> {
    let consent_id = consent.id().to_string();
    // The citizen's lock before anything else that touches deliveries (see the INVARIANT above;
    // taking it first also keeps a death's cancellations and this one from deadlocking).
    citizens::lock(conn, &consent.citizen().to_string())
        .await
        .map_err(RelayError::from)?;
    cancel(
        conn,
        &state.audit,
        Pending::OfConsent(&consent_id),
        how.reason(),
    )
    .await?;
    let Some(department) = departments::get(conn, consent.department())
        .await?
        .filter(|d| d.active && d.delivery.is_some())
    else {
        return Ok(None);
    };
    let now = now_ms();
    let citizen_id = consent.citizen().to_string();
    let names: Vec<String> = consent.attributes().map(str::to_owned).collect();
    let change_id = uuid::Uuid::now_v7().to_string();
    change::ActiveModel {
        id: Set(change_id.clone()),
        citizen_id: Set(citizen_id.clone()),
        kind: Set(EventKind::ConsentRevoked.as_str().to_owned()),
        attributes: Set(json!(
            names
                .iter()
                .map(|n| json!({"name": n, "version": 0}))
                .collect::<Vec<_>>()
        )),
        // Who ended it: the citizen (revoked) or the expiry sweep (expired).
        source_kind: Set(match how {
            Ended::Expired => "system",
            Ended::Revoked => "citizen",
        }
        .to_owned()),
        source_id: Set(match how {
            Ended::Expired => crate::consents::expiry::SWEEP_ACTOR,
            Ended::Revoked => "citizen",
        }
        .to_owned()),
        loa: Set(0),
        txn: Set(txn.to_owned()),
        ended: Set(Some(how.as_str().to_owned())),
        created_at: Set(now),
        delegate_id: Set(None),
    }
    .insert(conn)
    .await?;
    let queue = Queue {
        department_id: department.id.clone(),
        kind: EventKind::ConsentRevoked,
        purpose: Some(consent.purpose().to_owned()),
        consent_id: Some(consent_id),
        attributes: names,
        policy_ids: Vec::new(),
    };
    let queued = queued(
        state,
        &change_id,
        &citizen_id,
        Some(&department),
        queue,
        now,
    );
    let id = queued.record.request_id.clone();
    enqueue(conn, state, vec![queued]).await?;
    Ok(id)
}

/// How a consent ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Revoked,
    Expired,
}

impl Ended {
    pub fn as_str(self) -> &'static str {
        match self {
            Ended::Revoked => "revoked",
            Ended::Expired => "expired",
        }
    }

    /// The stored word, or `None` for anything else (the caller refuses to guess).
    pub fn parse(s: &str) -> Option<Ended> {
        match s {
            "revoked" => Some(Ended::Revoked),
            "expired" => Some(Ended::Expired),
            _ => None,
        }
    }

    fn reason(self) -> CancelReason {
        match self {
            Ended::Revoked => CancelReason::ConsentRevoked,
            Ended::Expired => CancelReason::ConsentExpired,
        }
    }
}

/// Why deliveries not yet made were cancelled: the `reasons` of their audit records and the
/// code in their `last_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    ConsentRevoked,
    ConsentExpired,
    DepartmentDisabled,
    CitizenErased,
    SubjectDeceased,
}

impl CancelReason {
    pub fn code(self) -> &'static str {
        match self {
            CancelReason::ConsentRevoked => "consent_revoked",
            CancelReason::ConsentExpired => "consent_expired",
            CancelReason::DepartmentDisabled => "department_disabled",
            CancelReason::CitizenErased => "citizen_erased",
            CancelReason::SubjectDeceased => "subject_deceased",
        }
    }
}

/// Which pending deliveries to cancel.
#[derive(Debug, Clone, Copy)]
pub enum Pending<'a> {
    /// Everything queued under this consent, but its own `consent-revoked` notice.
    OfConsent(&'a str),
    /// Everything queued for this department.
    ForDepartment(&'a str),
    /// Everything queued about this citizen.
    OfCitizen(&'a str),
    /// Every delivery of new values about this citizen (notices stay).
    ValuesOfCitizen(&'a str),
}

/// Cancels the pending deliveries `which` names, in the caller's transaction, each with a
/// `delivery-cancelled` audit record. A worker holding one of them finds it no longer pending
/// when it renews its lease just before sending, and drops it. Returns how many were cancelled.
pub async fn cancel<C: ConnectionTrait>(
    conn: &C,
    log: &AuditLog,
    which: Pending<'_>,
    reason: CancelReason,
) -> Result<usize, Error> {
    use delivery::Column as C;
    let now = now_ms();
    let values = [
        EventKind::Update,
        EventKind::Move,
        EventKind::NameChange,
        EventKind::Death,
    ]
    .map(|k| k.as_str());
    let update = delivery::Entity::update_many()
        .col_expr(C::Status, Expr::value(CANCELLED))
        .col_expr(C::LastError, Expr::value(reason.code()))
        .col_expr(C::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(C::LeaseUntil, Expr::value(Option::<i64>::None))
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::Status.eq(PENDING));
    let update = match which {
        Pending::OfConsent(id) => update
            .filter(C::ConsentId.eq(id))
            .filter(C::Event.ne(EventKind::ConsentRevoked.as_str())),
        Pending::ForDepartment(id) => update.filter(C::DepartmentId.eq(id)),
        Pending::OfCitizen(id) => update.filter(C::CitizenId.eq(id)),
        Pending::ValuesOfCitizen(id) => update
            .filter(C::CitizenId.eq(id))
            .filter(C::Event.is_in(values)),
    };
    let cancelled = update.exec_with_returning(conn).await?;
    let records = cancelled
        .iter()
        .map(|row| cancelled_record(row, reason.code()));
    log.append_many_in(conn, records.collect()).await?;
    Ok(cancelled.len())
}

/// The `delivery-cancelled` audit record of one delivery that will not be sent.
pub fn cancelled_record(row: &delivery::Model, code: &str) -> audit::Record {
    let mut record = AuditLog::record(
        Action::DeliveryCancelled,
        Outcome::Deny,
        Actor::new(audit::ActorKind::System, "relay"),
    );
    record.citizen_id = Some(row.citizen_id.clone());
    record.department_id = Some(row.department_id.clone());
    record.purpose = row.purpose.clone();
    record.consent_id = row.consent_id.clone();
    record.request_id = Some(row.id.clone());
    record.attributes = serde_json::from_value(row.attributes.clone()).unwrap_or_default();
    record.detail.insert("event".into(), row.event.clone());
    record.detail.insert("change".into(), row.change_id.clone());
    record.reasons.push(code.to_owned());
    record
}
