//! Storage of the consent ledger. The rules (states, transitions, expiry, coverage) belong to the
//! `consent` crate; this module stores each consent's identity and its events and replays them.
//!
//! Around the store: `ledger` (every change, checked then written with its receipt and audit
//! record in one transaction), `offer` (what policy lets a citizen consent to), `receipts` (signed
//! Kantara / ISO/IEC TS 27560 receipts and their verification), `api` (the department API),
//! `pages` and `requests` (the citizen's pages), `expiry` (the background sweep) and `demo`.
//!
//! INVARIANT: consent events are only ever inserted, never updated or deleted. A change is
//! `apply` (checked by the `consent` crate) followed by an insert keyed by `(consent_id, seq)`, so
//! a concurrent change to the same consent fails instead of forking its history.
//!
//! INVARIANT: only the ledger writes a consent. [`create`], [`append`] and the tables' entities
//! are private to this module, so every consent, event and receipt outside it is written by a
//! `ledger` function, with its receipt and audit record; other code reads through the public
//! functions here.

pub mod delegations;
mod entities;
mod error;
pub mod expiry;
pub mod ledger;
pub mod offer;
pub mod receipts;
pub mod settings;

pub use error::LedgerError;

use std::sync::Arc;

use policies::PolicyEngine;
use sea_orm::DatabaseConnection;

use crate::audit_log::AuditLog;
use crate::keys::{Secrets, SigningKeys};
use crate::relay::Relay;

/// The consent ledger: everything a change to a consent uses, and nothing else.
#[derive(Debug, Clone)]
pub struct Ledger {
    pub db: DatabaseConnection,
    /// Catalogues and policies: what may be consented to.
    pub policy: Arc<PolicyEngine>,
    pub audit: AuditLog,
    /// Signs receipts.
    pub keys: Arc<SigningKeys>,
    /// The pairwise secret (the citizen's id in a receipt is the department's pairwise one).
    pub secrets: Arc<Secrets>,
    /// A consent that ends tells its department and cancels what was queued under it.
    pub relay: Relay,
    pub settings: Arc<settings::ConsentConfig>,
    /// The broker's issuer identifier (`iss` of receipts, links in them).
    pub issuer: Arc<str>,
}

use std::collections::BTreeMap;

use consent::{Consent, ConsentEvent, Mode, Uuid};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};

use entities::{consent as consent_row, event as event_row};

#[derive(Debug, thiserror::Error)]
pub enum ConsentStoreError {
    #[error(transparent)]
    Rule(#[from] consent::ConsentError),
    #[error(transparent)]
    Transition(#[from] consent::TransitionError),
    #[error("the stored consent `{0}` does not replay")]
    Corrupt(String),
    #[error("the consent changed at the same time; try again")]
    Conflict,
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

/// A stored mode; anything but the two known words is a corrupt row, never a default.
fn parse_mode(id: &str, s: &str) -> Result<Mode, ConsentStoreError> {
    s.parse()
        .map_err(|_| ConsentStoreError::Corrupt(id.to_owned()))
}

fn event_model(
    consent_id: &str,
    event: &ConsentEvent,
) -> Result<event_row::ActiveModel, ConsentStoreError> {
    Ok(event_row::ActiveModel {
        consent_id: Set(consent_id.to_owned()),
        seq: Set(event.seq as i64),
        kind: Set(event.change.kind().as_str().to_owned()),
        event: Set(serde_json::to_value(event)
            .map_err(|_| ConsentStoreError::Corrupt(consent_id.to_owned()))?),
        time_ms: Set(event.time_ms),
    })
}

/// Whether `e` is a unique-key violation, as the driver reports it (typed, not by its text).
fn is_duplicate_key(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Records a new consent with its first event (a department's request, or a citizen's grant).
async fn create<C: ConnectionTrait>(
    conn: &C,
    citizen: Uuid,
    department: &str,
    purpose: &str,
    mode: Mode,
    first: ConsentEvent,
) -> Result<Consent, ConsentStoreError> {
    let id = Uuid::now_v7();
    let consent = Consent::replay(id, citizen, department, purpose, mode, [first.clone()])?;
    consent_row::Entity::insert(consent_row::ActiveModel {
        id: Set(id.to_string()),
        citizen_id: Set(citizen.to_string()),
        department_id: Set(department.to_owned()),
        purpose: Set(purpose.to_owned()),
        mode: Set(mode.as_str().to_owned()),
        created_at: Set(first.time_ms),
    })
    .exec(conn)
    .await?;
    event_row::Entity::insert(event_model(&id.to_string(), &first)?)
        .exec(conn)
        .await?;
    Ok(consent)
}

/// Applies `event` to `consent` (refused if the state machine says no) and records it.
async fn append<C: ConnectionTrait>(
    conn: &C,
    consent: &mut Consent,
    event: ConsentEvent,
) -> Result<(), ConsentStoreError> {
    let mut next = consent.clone();
    next.apply(event.clone())?;
    match event_row::Entity::insert(event_model(&consent.id().to_string(), &event)?)
        .exec(conn)
        .await
    {
        Ok(_) => {
            *consent = next;
            Ok(())
        }
        Err(e) if is_duplicate_key(&e) => Err(ConsentStoreError::Conflict),
        Err(e) => Err(e.into()),
    }
}

/// Replays consents from their rows and events.
fn replay_all(
    rows: Vec<consent_row::Model>,
    events: Vec<event_row::Model>,
) -> Result<Vec<Consent>, ConsentStoreError> {
    let mut by_consent: BTreeMap<String, Vec<ConsentEvent>> = BTreeMap::new();
    for e in events {
        let parsed: ConsentEvent = serde_json::from_value(e.event)
            .map_err(|_| ConsentStoreError::Corrupt(e.consent_id.clone()))?;
        by_consent.entry(e.consent_id).or_default().push(parsed);
    }
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let corrupt = || ConsentStoreError::Corrupt(row.id.clone());
        let id = Uuid::parse_str(&row.id).map_err(|_| corrupt())?;
        let citizen = Uuid::parse_str(&row.citizen_id).map_err(|_| corrupt())?;
        let mut events = by_consent.remove(&row.id).unwrap_or_default();
        events.sort_by_key(|e| e.seq);
        let consent = Consent::replay(
            id,
            citizen,
            row.department_id.clone(),
            row.purpose.clone(),
            parse_mode(&row.id, &row.mode)?,
            events,
        )
        .map_err(|_| corrupt())?;
        out.push(consent);
    }
    Ok(out)
}

async fn load_rows<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<consent_row::Model>,
) -> Result<Vec<Consent>, ConsentStoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let events = event_row::Entity::find()
        .filter(event_row::Column::ConsentId.is_in(ids))
        .order_by_asc(event_row::Column::ConsentId)
        .order_by_asc(event_row::Column::Seq)
        .all(conn)
        .await?;
    replay_all(rows, events)
}

pub async fn load<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<Consent>, ConsentStoreError> {
    let Some(row) = consent_row::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    Ok(load_rows(conn, vec![row]).await?.pop())
}

/// The consents with these ids (those that exist), in one read of the rows and one of their
/// events.
pub async fn load_many<C: ConnectionTrait>(
    conn: &C,
    ids: &[String],
) -> Result<Vec<Consent>, ConsentStoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = consent_row::Entity::find()
        .filter(consent_row::Column::Id.is_in(ids.iter().cloned()))
        .all(conn)
        .await?;
    load_rows(conn, rows).await
}

/// Every consent of a citizen, newest first.
pub async fn for_citizen<C: ConnectionTrait>(
    conn: &C,
    citizen_id: &str,
) -> Result<Vec<Consent>, ConsentStoreError> {
    let rows = consent_row::Entity::find()
        .filter(consent_row::Column::CitizenId.eq(citizen_id))
        .order_by_desc(consent_row::Column::CreatedAt)
        .all(conn)
        .await?;
    load_rows(conn, rows).await
}

/// The consents a release to `department` for `purpose` could rely on, newest first.
pub async fn for_release<C: ConnectionTrait>(
    conn: &C,
    citizen_id: &str,
    department: &str,
    purpose: &str,
) -> Result<Vec<Consent>, ConsentStoreError> {
    let rows = consent_row::Entity::find()
        .filter(consent_row::Column::CitizenId.eq(citizen_id))
        .filter(consent_row::Column::DepartmentId.eq(department))
        .filter(consent_row::Column::Purpose.eq(purpose))
        .order_by_desc(consent_row::Column::CreatedAt)
        .all(conn)
        .await?;
    load_rows(conn, rows).await
}

/// Every consent a department holds or asked for, newest first.
pub async fn for_department<C: ConnectionTrait>(
    conn: &C,
    department: &str,
) -> Result<Vec<Consent>, ConsentStoreError> {
    let rows = consent_row::Entity::find()
        .filter(consent_row::Column::DepartmentId.eq(department))
        .order_by_desc(consent_row::Column::CreatedAt)
        .all(conn)
        .await?;
    load_rows(conn, rows).await
}

/// How many rows the ledger's tables hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerCounts {
    pub consents: u64,
    pub events: u64,
    pub receipts: u64,
}

/// Counts the ledger's rows (for checks that a refused change wrote nothing).
pub async fn counts<C: ConnectionTrait>(conn: &C) -> Result<LedgerCounts, DbErr> {
    use sea_orm::PaginatorTrait;
    Ok(LedgerCounts {
        consents: consent_row::Entity::find().count(conn).await?,
        events: event_row::Entity::find().count(conn).await?,
        receipts: entities::receipt::Entity::find().count(conn).await?,
    })
}

/// The kinds of a consent's events in order (`requested`, `granted`, `revoked`, …), as stored.
pub async fn event_kinds<C: ConnectionTrait>(
    conn: &C,
    consent_id: &str,
) -> Result<Vec<String>, DbErr> {
    Ok(event_row::Entity::find()
        .filter(event_row::Column::ConsentId.eq(consent_id))
        .order_by_asc(event_row::Column::Seq)
        .all(conn)
        .await?
        .into_iter()
        .map(|e| e.kind)
        .collect())
}

/// The consent to judge a release by: one that covers every asked attribute if there is one,
/// else one that covers the most of them, else the newest (so a denial names the real reason:
/// revoked, expired, other purpose, …).
/// The delegate who gave `consent` in the citizen's name, if a delegate did: the actor of its
/// grant is not the citizen (`ledger::grant_as_delegate`, `ledger::accept_as_delegate`). A
/// release resting on it and its receipt name them in `act` (RFC 8693).
pub fn granted_by_delegate(consent: &consent::Consent) -> Option<String> {
    let citizen = consent.citizen().to_string();
    consent
        .history()
        .iter()
        .find(|e| e.change.kind() == consent::EventKind::Granted)
        .filter(|e| e.actor.kind == consent::ActorKind::Citizen && e.actor.id != citizen)
        .map(|e| e.actor.id.clone())
}

pub fn best_for_release<'a>(
    consents: &'a [Consent],
    attributes: &[String],
    purpose: &str,
    now_ms: i64,
) -> Option<&'a Consent> {
    consents.iter().max_by_key(|c| {
        let covered = attributes
            .iter()
            .filter(|a| c.covers(a, purpose, now_ms).is_covered())
            .count();
        (covered, c.created_at_ms())
    })
}

#[cfg(test)]
mod import_tests;
#[cfg(test)]
mod tests;
