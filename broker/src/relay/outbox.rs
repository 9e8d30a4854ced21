//! The transactional outbox: a change's new values, its audit record, the change row and one
//! delivery row per receiving department, written in ONE transaction, so a change is recorded
//! with every delivery it owes or not at all.
//!
//! INVARIANT: delivery rows are inserted after the change's audit record, whose append holds the
//! audit head's lock until commit: rows get their `seq` in commit order, so the worker's "nothing
//! earlier pending for this (department, citizen)" rule delivers them in the order they happened.

use audit::{Action, Actor, Outcome};
use consent::Consent;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, NotSet, Set, TransactionTrait};
use serde_json::json;

use super::entities::{change, delivery};
use super::recipients::{self, Changed, Recipient};
use super::{EventKind, RelayError};
use crate::audit_log::AuditLog;
use crate::citizens::{self, Provenance};
use crate::departments::{self, Department};
use crate::error::Error;
use crate::server::AppState;
use crate::store::now_ms;

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
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub change_id: String,
    /// The change's audit record (`txn` in its SETs).
    pub txn: String,
    pub recipients: Vec<Recipient>,
}

/// Who would receive `changed` now (the preview page asks this, the outbox decides the same way).
pub async fn plan(
    state: &AppState,
    citizen_id: &str,
    kind: EventKind,
    changed: &[Changed],
) -> Result<Vec<Recipient>, Error> {
    let now = now_ms();
    let consents = crate::consents::for_citizen(&state.db, citizen_id)
        .await
        .map_err(RelayError::from)?;
    let departments = departments::list(&state.db).await?;
    let loa = changed.iter().map(|c| c.loa).max().unwrap_or(1);
    Ok(match kind {
        EventKind::Death => recipients::for_death(&state.policy, &departments, &consents, loa, now),
        _ => recipients::for_change(&state.policy, &departments, &consents, changed, false, now),
    })
}

/// Records `change` and its deliveries in one transaction.
pub async fn record(state: &AppState, change: NewChange) -> Result<Recorded, Error> {
    let now = now_ms();
    let changed: Vec<Changed> = change
        .values
        .iter()
        .map(|(name, _)| Changed {
            name: name.clone(),
            loa: change.provenance.loa,
        })
        .collect();
    let recipients = plan(state, &change.citizen_id, change.kind, &changed).await?;
    let departments = departments::list(&state.db).await?;
    let txn = state.db.begin().await?;
    // INVARIANT: the first statement is a write (the audit head's update), so SQLite takes its
    // write lock at once instead of failing to upgrade a read snapshot under a concurrent writer.
    let action = match change.kind {
        EventKind::Update => Action::AttributeUpdated,
        _ => Action::LifeEvent,
    };
    let mut record = AuditLog::record(action, Outcome::Ok, change.actor.clone());
    record.citizen_id = Some(change.citizen_id.clone());
    record.department_id = change.department_id.clone();
    record.client_id = change.client_id.clone();
    record.attributes = change.values.iter().map(|(n, _)| n.clone()).collect();
    record
        .detail
        .insert("event".into(), change.kind.as_str().to_owned());
    record
        .detail
        .insert("loa".into(), change.provenance.loa.to_string());
    record
        .detail
        .insert("recipients".into(), recipients.len().to_string());
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
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let queued = recipients
        .iter()
        .map(|recipient| {
            let kind = if recipient.notice_only {
                EventKind::ReleasesStopped
            } else {
                change.kind
            };
            let department = departments.iter().find(|d| d.id == recipient.department_id);
            queued(
                state,
                &change_id,
                &change.citizen_id,
                department,
                recipient,
                kind,
                now,
            )
        })
        .collect();
    enqueue(&txn, state, queued).await?;
    txn.commit().await?;
    if !recipients.is_empty() {
        state.relay_wake.notify_one();
    }
    Ok(Recorded {
        change_id,
        txn: receipt.id,
        recipients,
    })
}

/// When a department's first attempt is due: at once for a push, at the next window for a
/// batched file drop.
fn first_due(state: &AppState, department: Option<&Department>, now: i64) -> i64 {
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

/// One delivery of `change_id` to `recipient`, and its audit record.
fn queued(
    state: &AppState,
    change_id: &str,
    citizen_id: &str,
    department: Option<&Department>,
    recipient: &Recipient,
    kind: EventKind,
    now: i64,
) -> Queued {
    let id = uuid::Uuid::now_v7().to_string();
    let row = delivery::ActiveModel {
        seq: NotSet,
        id: Set(id.clone()),
        change_id: Set(change_id.to_owned()),
        citizen_id: Set(citizen_id.to_owned()),
        department_id: Set(recipient.department_id.clone()),
        event: Set(kind.as_str().to_owned()),
        purpose: Set(recipient.purpose.clone()),
        consent_id: Set(recipient.consent_id.clone()),
        attributes: Set(json!(recipient.attributes)),
        status: Set(super::worker::PENDING.to_owned()),
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
    record.department_id = Some(recipient.department_id.clone());
    record.purpose = recipient.purpose.clone();
    record.consent_id = recipient.consent_id.clone();
    record.request_id = Some(id);
    record.attributes = recipient.attributes.clone();
    record.reasons = recipient.policy_ids.clone();
    record
        .detail
        .insert("event".into(), kind.as_str().to_owned());
    record.detail.insert("change".into(), change_id.to_owned());
    Queued { row, record }
}

/// Inserts the delivery rows (in order, so their `seq` follows) and appends their audit records,
/// in the caller's transaction: a few statements however many departments receive the change.
async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
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

/// Inside the transaction that records a consent's revocation or expiry: a `consent-revoked`
/// event to the department that held it, when it can receive pushed events. `txn` is the audit
/// record of the revocation or expiry; `expired` says which it was.
pub async fn consent_ended<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    consent: &Consent,
    expired: bool,
    txn: &str,
) -> Result<Option<String>, Error> {
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
        source_kind: Set(if expired { "system" } else { "citizen" }.to_owned()),
        source_id: Set(if expired { "expired" } else { "revoked" }.to_owned()),
        loa: Set(0),
        txn: Set(txn.to_owned()),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    let recipient = Recipient {
        department_id: department.id.clone(),
        purpose: Some(consent.purpose().to_owned()),
        consent_id: Some(consent.id().to_string()),
        attributes: names,
        policy_ids: Vec::new(),
        notice_only: true,
    };
    let queued = queued(
        state,
        &change_id,
        &citizen_id,
        Some(&department),
        &recipient,
        EventKind::ConsentRevoked,
        now,
    );
    let id = queued.record.request_id.clone();
    enqueue(conn, state, vec![queued]).await?;
    Ok(id)
}
