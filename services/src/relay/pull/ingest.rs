//! One pulled change through the same door as a department's report
//! (`POST /api/v1/subjects/{sub}/attributes`): the same checks ([`api::check`]: catalogue, value
//! type, authoritative-for, event fit), the same subject lookup in the department's sector, the
//! same citizen status rules, then [`outbox::record`] (the value, its audit record and its
//! deliveries in one transaction).
//!
//! INVARIANT: a change that fails a check is skipped with an audit record naming the department
//! and a stable reason code, never the value; nothing else is written for it.

use crate::error::PublicError;
use adapters::PulledChange;
use audit::{Action, Actor, ActorKind, Outcome};

use super::super::outbox::{self, NewChange};
use super::super::{EventKind, RelayError};
use crate::audit_log::AuditLog;
use crate::citizens::{self, Provenance, SourceKind};
use crate::departments::Department;
use crate::error::Error;
use crate::relay::Relay;
use crate::relay::report::{self as api, Report};
use store::now_ms;

/// What became of one pulled change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// Recorded as a change (with its deliveries).
    Recorded { change_id: String },
    /// The citizen's current value already is this value from this department (a page read
    /// again after a crash, or a department repeating itself): nothing written.
    Unchanged,
    /// Refused by a check, with the stable code of the refusal; audited.
    Skipped(&'static str),
}

/// The life event a change of `attribute` is: a date of death is a death, an address a move, a
/// name a name change, anything else a plain update.
pub fn event_for(attribute: &str) -> EventKind {
    match attribute {
        "date_of_death" => EventKind::Death,
        "address" => EventKind::Move,
        "given_name" | "family_name" => EventKind::NameChange,
        _ => EventKind::Update,
    }
}

/// Within one page only the last change per (subject, attribute) counts: the earlier ones are
/// superseded before the broker could tell anyone, and keeping one value per pair is what
/// makes reading the page again record nothing (each pair's value is then the current one).
/// Order is kept by each pair's last position.
pub fn latest_per_subject(changes: Vec<PulledChange>) -> Vec<PulledChange> {
    let mut kept: Vec<PulledChange> = Vec::with_capacity(changes.len());
    for change in changes {
        kept.retain(|c| !(c.subject == change.subject && c.attribute == change.attribute));
        kept.push(change);
    }
    kept
}

/// Checks and records one change from `department`'s feed, at level of assurance `loa`.
///
/// `Err` is the broker's own failure (the database, the vault, the audit log): the caller keeps
/// its cursor and reads the page again later.
pub async fn ingest(
    state: &Relay,
    department: &Department,
    loa: u8,
    change: &PulledChange,
) -> Result<Ingested, Error> {
    let kind = event_for(&change.attribute);
    let mut attributes = serde_json::Map::new();
    attributes.insert(change.attribute.clone(), change.value.value.clone());
    let report = Report {
        event: (kind != EventKind::Update).then(|| kind.as_str().to_owned()),
        attributes,
        method: change.value.method.clone(),
        loa: Some(loa),
    };
    let values = match api::check(state.policy.catalogue(), department, &report) {
        Ok((_, values)) => values,
        Err(refused) => return skip(state, department, None, change, kind, &refused).await,
    };
    let citizen = match api::find_subject(&state.db, department, &change.subject).await {
        Ok(citizen) => citizen,
        Err(refused) if refused.class().is_client_error() => {
            return skip(state, department, None, change, kind, &refused).await;
        }
        Err(failed) => return Err(failed.into()),
    };
    // Before the status rule: a death read again finds the citizen deceased, and must come out
    // unchanged rather than refused.
    if unchanged(state, &citizen.id, department, change).await? {
        return Ok(Ingested::Unchanged);
    }
    if let Err(refused) = api::accepts_changes(&citizen) {
        return skip(state, department, Some(citizen.id), change, kind, &refused).await;
    }
    let recorded = outbox::record(
        state,
        NewChange {
            citizen_id: citizen.id,
            kind,
            values,
            provenance: Provenance {
                source_kind: SourceKind::Department,
                source_id: department.id.clone(),
                method: change
                    .value
                    .method
                    .clone()
                    .unwrap_or_else(|| "registry".to_owned()),
                loa,
                verified: true,
                recorded_at: now_ms(),
            },
            actor: Actor::new(ActorKind::Department, department.id.clone()),
            department_id: Some(department.id.clone()),
            // No client: the broker fetched it (an API report names the client that called).
            client_id: None,
            delegation_id: None,
        },
    )
    .await?;
    Ok(Ingested::Recorded {
        change_id: recorded.change_id,
    })
}

/// Whether the citizen's current value of the attribute is this value, from this department
/// (the comparison `citizens::record_asserted` makes for providers).
async fn unchanged(
    state: &Relay,
    citizen_id: &str,
    department: &Department,
    change: &PulledChange,
) -> Result<bool, Error> {
    let current = citizens::current_fact(&state.db, &state.vault, citizen_id, &change.attribute)
        .await
        .map_err(RelayError::from)?;
    Ok(current.is_some_and(|fact| {
        fact.value == change.value.value
            && fact.provenance.source_kind == SourceKind::Department
            && fact.provenance.source_id == department.id
    }))
}

/// Audits a refused change: the department, the citizen when known, the attribute when the
/// catalogue knows it, and the refusal's code; never the value.
async fn skip(
    state: &Relay,
    department: &Department,
    citizen_id: Option<String>,
    change: &PulledChange,
    kind: EventKind,
    refused: &RelayError,
) -> Result<Ingested, Error> {
    let code = refused.code();
    let action = match kind {
        EventKind::Update => Action::AttributeUpdated,
        _ => Action::LifeEvent,
    };
    let mut record = AuditLog::record(
        action,
        Outcome::Error,
        Actor::new(ActorKind::Department, department.id.clone()),
    );
    record.citizen_id = citizen_id;
    record.department_id = Some(department.id.clone());
    if state
        .policy
        .catalogue()
        .attribute(&change.attribute)
        .is_some()
    {
        record.attributes = vec![change.attribute.clone()];
    }
    record.reasons = vec![code.to_owned()];
    record.detail.insert("source".into(), "pull".into());
    record
        .detail
        .insert("event".into(), kind.as_str().to_owned());
    state.audit.append(record).await?;
    tracing::info!(
        department = %department.id,
        attribute = %change.attribute,
        code,
        "pull: a change was refused and skipped"
    );
    Ok(Ingested::Skipped(code))
}
