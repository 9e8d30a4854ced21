//! Delegations: one citizen acting for another (issue 16). A delegation is an entry of the
//! consent ledger: append-only events (`delegation_events`), checked by the `consent` crate's
//! rules (`consent::Delegation`), each change written in one transaction with its audit record,
//! and, when it becomes live, its own signed receipt.
//!
//! How the delegator names the delegate: they do not. The delegator offers the delegation and
//! receives a one-time invitation code (32 random bytes; only its SHA-256 is stored, on the
//! offer's row), which they hand to the person they trust; that person signs in as themselves
//! and accepts it, which makes it live. Nobody can look a citizen up by name or e-mail, and a
//! delegation never binds someone who did not accept it. A department that is the authority for
//! a delegation (a guardianship, a registered power of attorney) names both citizens by its own
//! pairwise subjects instead, with the legal basis; that delegation is live at once.
//!
//! INVARIANT: delegation events are only ever inserted, keyed by `(delegation_id, seq)`: an
//! invitation accepted twice at once, or a delegation ended twice, collides on the key.
//!
//! INVARIANT: nothing acts for another without [`acting`] having found, at that request, a live
//! delegation to that delegate: a revoked or expired delegation stops the next request.

mod entities;
mod error;

pub use error::DelegationError;

use std::collections::{BTreeMap, BTreeSet};

use audit::Record;
use consent::{
    DAY_MS, Delegation, DelegationChange, DelegationEvent, DelegationState, DelegationTerms,
    EndedBy, Origin, Power, Uuid,
};
use ring::rand::{SecureRandom, SystemRandom};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use serde::Serialize;

use super::Ledger;
use crate::audit_log::{Action, ActorKind, AuditLog, Outcome};
use crate::error::Error;
use entities::event as row;
use store::now_ms;

/// The JWS `typ` of a delegation receipt.
pub const RECEIPT_TYP: &str = "delegation-receipt+jwt";

/// Longest subject identifier accepted from a department.
const MAX_SUBJECT_LEN: usize = 256;

/// The terms asked for, as a form or the API sends them: by a delegator, a delegate
/// delegating onwards, or a department.
#[derive(Debug, Clone, Default)]
pub struct TermsInput {
    pub powers: Vec<String>,
    pub purposes: Vec<String>,
    pub attributes: Vec<String>,
    /// How long it lasts, in whole days from now; ignored when `valid_until_ms` is set.
    pub duration_days: i64,
    /// When it ends exactly (Unix ms), if the caller names a date (a court order's end).
    pub valid_until_ms: Option<i64>,
    pub may_delegate: bool,
    /// How the delegate will see the delegator.
    pub label: String,
}

/// What a department registers.
#[derive(Debug, Clone, Default)]
pub struct RegisterInput {
    /// The represented citizen, by the department's pairwise subject.
    pub delegator: String,
    /// The representative, by the department's pairwise subject.
    pub delegate: String,
    pub legal_basis: String,
    /// `may_delegate` is ignored: a registered delegation is not delegated onwards.
    pub terms: TermsInput,
}

/// An offered delegation and its invitation code, shown once to the delegator and never stored.
#[derive(Debug, Clone)]
pub struct Offered {
    pub delegation: Delegation,
    pub invitation: String,
}

/// Who offers: the citizen themselves, or their delegate under a delegation (onwards).
#[derive(Debug, Clone, Copy)]
pub enum Offeror<'a> {
    Citizen(&'a str),
    Delegate {
        delegate: &'a str,
        delegation: &'a Delegation,
    },
}

/// Who ends a delegation.
#[derive(Debug, Clone, Copy)]
pub enum Party<'a> {
    /// The delegator or the delegate (which one is read from the delegation).
    Citizen(&'a str),
    /// The department that registered it.
    Department(&'a str),
}

fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}

fn corrupt(id: &str) -> DelegationError {
    DelegationError::Corrupt(id.to_owned())
}

/// Whether `e` is a unique-key violation, as the driver reports it.
fn is_duplicate_key(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

fn hash_code(code: &str) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, code.as_bytes()))
}

fn random_code() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Internal("random source failed".into()))?;
    Ok(crate::jose::b64(bytes))
}

/// One row to insert: the event and the columns that index it.
struct NewRow<'a> {
    delegation: Uuid,
    delegator: Uuid,
    delegate: Option<Uuid>,
    invitation_hash: Option<String>,
    receipt: Option<String>,
    event: &'a DelegationEvent,
}

async fn insert<C: ConnectionTrait>(conn: &C, new: NewRow<'_>) -> Result<(), DelegationError> {
    let id = new.delegation.to_string();
    let model = row::ActiveModel {
        delegation_id: Set(id.clone()),
        seq: Set(i64::from(new.event.seq)),
        kind: Set(new.event.change.kind().to_owned()),
        delegator_id: Set(new.delegator.to_string()),
        delegate_id: Set(new.delegate.map(|d| d.to_string())),
        invitation_hash: Set(new.invitation_hash),
        event: Set(serde_json::to_value(new.event).map_err(|_| corrupt(&id))?),
        receipt: Set(new.receipt),
        time_ms: Set(new.event.time_ms),
    };
    match row::Entity::insert(model).exec(conn).await {
        Ok(_) => Ok(()),
        Err(e) if is_duplicate_key(&e) => Err(DelegationError::Conflict),
        Err(e) => Err(e.into()),
    }
}

/// Replays the delegations with these ids (those that exist), newest first.
async fn load_ids<C: ConnectionTrait>(
    conn: &C,
    ids: BTreeSet<String>,
) -> Result<Vec<Delegation>, DelegationError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = row::Entity::find()
        .filter(row::Column::DelegationId.is_in(ids))
        .order_by_asc(row::Column::DelegationId)
        .order_by_asc(row::Column::Seq)
        .all(conn)
        .await?;
    let mut by_id: BTreeMap<String, (String, Vec<DelegationEvent>)> = BTreeMap::new();
    for r in rows {
        let event: DelegationEvent =
            serde_json::from_value(r.event).map_err(|_| corrupt(&r.delegation_id))?;
        by_id
            .entry(r.delegation_id)
            .or_insert_with(|| (r.delegator_id, Vec::new()))
            .1
            .push(event);
    }
    let mut out = Vec::with_capacity(by_id.len());
    for (id, (delegator, events)) in by_id {
        let parsed_id = Uuid::parse_str(&id).map_err(|_| corrupt(&id))?;
        let delegator = Uuid::parse_str(&delegator).map_err(|_| corrupt(&id))?;
        out.push(Delegation::replay(parsed_id, delegator, events).map_err(|_| corrupt(&id))?);
    }
    out.sort_by_key(|d| std::cmp::Reverse(d.created_at_ms()));
    Ok(out)
}

async fn ids_where<C: ConnectionTrait>(
    conn: &C,
    filter: sea_orm::Condition,
) -> Result<BTreeSet<String>, DbErr> {
    Ok(row::Entity::find()
        .filter(filter)
        .all(conn)
        .await?
        .into_iter()
        .map(|r| r.delegation_id)
        .collect())
}

/// One delegation, if it exists.
pub async fn load<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<Delegation>, DelegationError> {
    if Uuid::parse_str(id).is_err() {
        return Ok(None);
    }
    Ok(load_ids(conn, [id.to_owned()].into()).await?.pop())
}

/// Every delegation a citizen gave (or a department registered for them), newest first.
pub async fn by_delegator<C: ConnectionTrait>(
    conn: &C,
    citizen_id: &str,
) -> Result<Vec<Delegation>, DelegationError> {
    let ids = ids_where(
        conn,
        sea_orm::Condition::all().add(row::Column::DelegatorId.eq(citizen_id)),
    )
    .await?;
    load_ids(conn, ids).await
}

/// Every delegation a citizen accepted or was registered as delegate of, newest first.
pub async fn to_delegate<C: ConnectionTrait>(
    conn: &C,
    citizen_id: &str,
) -> Result<Vec<Delegation>, DelegationError> {
    let ids = ids_where(
        conn,
        sea_orm::Condition::all().add(row::Column::DelegateId.eq(citizen_id)),
    )
    .await?;
    load_ids(conn, ids).await
}

/// How many delegation events are stored (for checks that a refusal wrote nothing).
pub async fn count_events<C: ConnectionTrait>(conn: &C) -> Result<u64, DbErr> {
    row::Entity::find().count(conn).await
}

/// The signed receipt of a live (or once live) delegation, if the citizen is one of its
/// parties.
pub async fn receipt(state: &Ledger, citizen_id: &str, id: &str) -> Result<Option<String>, Error> {
    let Some(d) = load(&state.db, id).await? else {
        return Ok(None);
    };
    if !is_party(&d, citizen_id) {
        return Ok(None);
    }
    Ok(row::Entity::find()
        .filter(row::Column::DelegationId.eq(id))
        .filter(row::Column::Receipt.is_not_null())
        .one(&state.db)
        .await?
        .and_then(|r| r.receipt))
}

fn is_party(d: &Delegation, citizen_id: &str) -> bool {
    d.delegator().to_string() == citizen_id
        || d.delegate().is_some_and(|x| x.to_string() == citizen_id)
}

/// The terms asked, checked against the catalogue and the rules.
fn terms(state: &Ledger, input: &TermsInput, now: i64) -> Result<DelegationTerms, DelegationError> {
    let catalogue = state.policy.catalogue();
    let TermsInput {
        powers,
        purposes,
        attributes,
        duration_days,
        valid_until_ms,
        may_delegate,
        label,
    } = input;
    let (duration_days, may_delegate) = (*duration_days, *may_delegate);
    let mut parsed = BTreeSet::new();
    for p in powers {
        parsed.insert(p.parse::<Power>()?);
    }
    for p in purposes {
        if catalogue.purpose(p).is_none() {
            return Err(DelegationError::UnknownPurpose(shorten(p)));
        }
    }
    for a in attributes {
        if catalogue.attribute(a).is_none() {
            return Err(DelegationError::UnknownAttribute(shorten(a)));
        }
    }
    let until = match valid_until_ms {
        Some(until) => *until,
        None if duration_days < 1 => return Err(DelegationError::InvalidDuration),
        None => duration_days
            .checked_mul(DAY_MS)
            .and_then(|d| now.checked_add(d))
            .ok_or(DelegationError::InvalidDuration)?,
    };
    let terms = DelegationTerms {
        powers: parsed,
        purposes: purposes.iter().cloned().collect(),
        attributes: attributes.iter().cloned().collect(),
        valid_from_ms: now,
        valid_until_ms: until,
        may_delegate,
        label: label.trim().to_owned(),
    }
    .with_view();
    terms.check(state.settings.delegation_max_ms(), now)?;
    Ok(terms)
}

fn record(action: Action, actor: &str, kind: ActorKind, d: &Delegation) -> Record {
    let mut r = AuditLog::record(
        action,
        Outcome::Ok,
        crate::audit_log::Actor::new(kind, actor),
    );
    r.citizen_id = Some(d.delegator().to_string());
    r.attributes = d.terms().attributes.iter().cloned().collect();
    let detail = &mut r.detail;
    detail.insert("delegation_id".to_owned(), d.id().to_string());
    detail.insert("origin".to_owned(), d.origin().as_str().to_owned());
    detail.insert(
        "powers".to_owned(),
        d.terms()
            .powers
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(","),
    );
    detail.insert(
        "purposes".to_owned(),
        d.terms()
            .purposes
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(","),
    );
    detail.insert(
        "valid_until".to_owned(),
        consent::rfc3339_utc(d.terms().valid_until_ms),
    );
    if let Some(delegate) = d.delegate() {
        detail.insert("delegate".to_owned(), delegate.to_string());
    }
    if let Origin::Department {
        department,
        legal_basis,
    } = d.origin()
    {
        r.department_id = Some(department.clone());
        r.detail
            .insert("legal_basis".to_owned(), legal_basis.clone());
    }
    r
}

/// A delegation's receipt: what is signed.
#[derive(Debug, Serialize)]
struct ReceiptClaims<'a> {
    iss: &'a str,
    iat: i64,
    jti: String,
    delegation_id: String,
    origin: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    registered_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    legal_basis: Option<&'a str>,
    label: &'a str,
    powers: Vec<&'static str>,
    purposes: &'a BTreeSet<String>,
    attributes: &'a BTreeSet<String>,
    valid_from: String,
    valid_until: String,
    may_delegate: bool,
    how_to_end: String,
}

fn sign_receipt(state: &Ledger, d: &Delegation, now: i64) -> Result<String, Error> {
    let (registered_by, legal_basis) = match d.origin() {
        Origin::Department {
            department,
            legal_basis,
        } => (Some(department.as_str()), Some(legal_basis.as_str())),
        Origin::Citizen => (None, None),
    };
    let t = d.terms();
    let claims = ReceiptClaims {
        iss: &state.issuer,
        iat: now / 1000,
        jti: Uuid::now_v7().to_string(),
        delegation_id: d.id().to_string(),
        origin: d.origin().as_str(),
        registered_by,
        legal_basis,
        label: &t.label,
        powers: t.powers.iter().map(|p| p.as_str()).collect(),
        purposes: &t.purposes,
        attributes: &t.attributes,
        valid_from: consent::rfc3339_utc(t.valid_from_ms),
        valid_until: consent::rfc3339_utc(t.valid_until_ms),
        may_delegate: t.may_delegate,
        how_to_end: format!("{}/me/delegations", state.issuer.trim_end_matches('/')),
    };
    Ok(state.keys.sign(Some(RECEIPT_TYP), &claims)?)
}

async fn active_citizen(state: &Ledger, id: &str) -> Result<bool, Error> {
    Ok(crate::citizens::get(&state.db, id)
        .await?
        .is_some_and(|c| c.status == crate::citizens::Status::Active))
}

/// A citizen offers a delegation (or a delegate delegates onwards, when their delegation allows
/// it and within its terms). Returns the invitation code, shown once.
pub async fn offer(state: &Ledger, by: Offeror<'_>, input: TermsInput) -> Result<Offered, Error> {
    let now = now_ms();
    let t = terms(state, &input, now)?;
    let (delegator, actor, parent) = match by {
        Offeror::Citizen(id) => (id.to_owned(), id, None),
        Offeror::Delegate {
            delegate,
            delegation,
        } => {
            let delegate_id = Uuid::parse_str(delegate).map_err(|_| Error::StoredId)?;
            if !delegation.is_live_for(delegate_id, now) {
                return Err(DelegationError::NotLive.into());
            }
            if !delegation.terms().may_delegate || !t.within(delegation.terms()) {
                return Err(DelegationError::OnwardNotPermitted.into());
            }
            (
                delegation.delegator().to_string(),
                delegate,
                Some(delegation.id()),
            )
        }
    };
    let delegator_id = Uuid::parse_str(&delegator).map_err(|_| Error::StoredId)?;
    let code = random_code()?;
    let id = Uuid::now_v7();
    let event = DelegationEvent {
        seq: 1,
        time_ms: now,
        actor: actor.to_owned(),
        change: DelegationChange::Offered {
            terms: t,
            invitation_expires_at_ms: now.saturating_add(state.settings.invitation_ms()),
            parent,
        },
    };
    let delegation =
        Delegation::replay(id, delegator_id, [event.clone()]).map_err(DelegationError::from)?;
    let txn = state.db.begin().await?;
    insert(
        &txn,
        NewRow {
            delegation: id,
            delegator: delegator_id,
            delegate: None,
            invitation_hash: Some(hash_code(&code)),
            receipt: None,
            event: &event,
        },
    )
    .await?;
    let mut r = record(
        Action::DelegationOffered,
        actor,
        ActorKind::Citizen,
        &delegation,
    );
    if let Some(parent) = parent {
        r.detail.insert("parent".to_owned(), parent.to_string());
    }
    state.audit.append_in(&txn, r).await?;
    txn.commit().await?;
    Ok(Offered {
        delegation,
        invitation: code,
    })
}

/// The delegation an invitation code opens, while it can still be accepted.
pub async fn invitation(state: &Ledger, code: &str) -> Result<Delegation, Error> {
    if code.is_empty() || code.len() > 128 {
        return Err(DelegationError::InvitationInvalid.into());
    }
    let ids = ids_where(
        &state.db,
        sea_orm::Condition::all().add(row::Column::InvitationHash.eq(hash_code(code))),
    )
    .await?;
    let d = load_ids(&state.db, ids)
        .await?
        .pop()
        .ok_or(DelegationError::InvitationInvalid)?;
    if d.state(now_ms()) != DelegationState::Invited {
        return Err(DelegationError::InvitationInvalid.into());
    }
    Ok(d)
}

/// The signed-in delegate accepts an invitation: the delegation is live, with its receipt.
pub async fn accept(state: &Ledger, delegate_id: &str, code: &str) -> Result<Delegation, Error> {
    let now = now_ms();
    let mut d = invitation(state, code).await?;
    if d.delegator().to_string() == delegate_id {
        return Err(DelegationError::ToSelf.into());
    }
    let delegate = Uuid::parse_str(delegate_id).map_err(|_| Error::StoredId)?;
    let event = DelegationEvent {
        seq: d.next_seq(),
        time_ms: now.max(d.last_event_time_ms()),
        actor: delegate_id.to_owned(),
        change: DelegationChange::Accepted { delegate },
    };
    d.apply(event.clone())
        .map_err(|_| DelegationError::InvitationInvalid)?;
    let receipt = sign_receipt(state, &d, now)?;
    let txn = state.db.begin().await?;
    insert(
        &txn,
        NewRow {
            delegation: d.id(),
            delegator: d.delegator(),
            delegate: Some(delegate),
            invitation_hash: None,
            receipt: Some(receipt),
            event: &event,
        },
    )
    .await
    .map_err(|e| match e {
        DelegationError::Conflict => DelegationError::InvitationInvalid,
        other => other,
    })?;
    let r = record(
        Action::DelegationAccepted,
        delegate_id,
        ActorKind::Citizen,
        &d,
    );
    state.audit.append_in(&txn, r).await?;
    txn.commit().await?;
    Ok(d)
}

/// A department registers a delegation it is the authority for (`POST /api/v1/delegations`):
/// both citizens named by its pairwise subjects, the legal basis required; live at once.
pub async fn register(
    state: &Ledger,
    caller: &crate::departments::Department,
    client_id: &str,
    input: RegisterInput,
) -> Result<Delegation, Error> {
    let now = now_ms();
    let legal_basis = input.legal_basis.trim();
    if legal_basis.is_empty()
        || legal_basis.chars().count() > consent::delegation::MAX_LEGAL_BASIS_CHARS
    {
        return Err(DelegationError::LegalBasisRequired.into());
    }
    let t = terms(
        state,
        &TermsInput {
            may_delegate: false,
            ..input.terms.clone()
        },
        now,
    )?;
    let delegator = subject(state, caller, &input.delegator, "delegator").await?;
    let delegate = subject(state, caller, &input.delegate, "delegate").await?;
    if delegator == delegate {
        return Err(DelegationError::ToSelf.into());
    }
    let delegator_id = Uuid::parse_str(&delegator).map_err(|_| Error::StoredId)?;
    let delegate_id = Uuid::parse_str(&delegate).map_err(|_| Error::StoredId)?;
    let id = Uuid::now_v7();
    let event = DelegationEvent {
        seq: 1,
        time_ms: now,
        actor: caller.id.clone(),
        change: DelegationChange::Registered {
            delegate: delegate_id,
            terms: t,
            department: caller.id.clone(),
            legal_basis: legal_basis.to_owned(),
        },
    };
    let d = Delegation::replay(id, delegator_id, [event.clone()]).map_err(DelegationError::from)?;
    let receipt = sign_receipt(state, &d, now)?;
    let txn = state.db.begin().await?;
    insert(
        &txn,
        NewRow {
            delegation: id,
            delegator: delegator_id,
            delegate: Some(delegate_id),
            invitation_hash: None,
            receipt: Some(receipt),
            event: &event,
        },
    )
    .await?;
    let mut r = record(
        Action::DelegationRegistered,
        &caller.id,
        ActorKind::Department,
        &d,
    );
    r.client_id = Some(client_id.to_owned());
    state.audit.append_in(&txn, r).await?;
    txn.commit().await?;
    Ok(d)
}

/// The citizen a department names by its pairwise subject, if active.
async fn subject(
    state: &Ledger,
    caller: &crate::departments::Department,
    sub: &str,
    which: &'static str,
) -> Result<String, Error> {
    if sub.is_empty() || sub.len() > MAX_SUBJECT_LEN {
        return Err(DelegationError::UnknownSubject(which).into());
    }
    let citizen = crate::citizens::pairwise::citizen_for(&state.db, &caller.sector_identifier, sub)
        .await?
        .ok_or(DelegationError::UnknownSubject(which))?;
    if !active_citizen(state, &citizen).await? {
        return Err(DelegationError::UnknownSubject(which).into());
    }
    Ok(citizen)
}

/// A party ends a delegation: the delegator (also an invitation not yet accepted), the delegate,
/// or the department that registered it. Another's delegation is not found.
pub async fn end(state: &Ledger, party: Party<'_>, id: &str) -> Result<Delegation, Error> {
    let now = now_ms();
    let mut d = load(&state.db, id).await?.ok_or(Error::NotFound)?;
    let (by, actor, kind) = match party {
        Party::Citizen(c) if d.delegator().to_string() == c => {
            (EndedBy::Delegator, c, ActorKind::Citizen)
        }
        Party::Citizen(c) if d.delegate().is_some_and(|x| x.to_string() == c) => {
            (EndedBy::Delegate, c, ActorKind::Citizen)
        }
        Party::Department(dep) if matches!(d.origin(), Origin::Department { department, .. } if department == dep) => {
            (EndedBy::Department, dep, ActorKind::Department)
        }
        _ => return Err(Error::NotFound),
    };
    if matches!(
        d.state(now),
        DelegationState::Ended | DelegationState::Expired | DelegationState::InvitationLapsed
    ) {
        return Err(DelegationError::NotActive.into());
    }
    let event = DelegationEvent {
        seq: d.next_seq(),
        time_ms: now.max(d.last_event_time_ms()),
        actor: actor.to_owned(),
        change: DelegationChange::Ended { by },
    };
    d.apply(event.clone())
        .map_err(|_| DelegationError::NotActive)?;
    let txn = state.db.begin().await?;
    insert(
        &txn,
        NewRow {
            delegation: d.id(),
            delegator: d.delegator(),
            delegate: None,
            invitation_hash: None,
            receipt: None,
            event: &event,
        },
    )
    .await?;
    let mut r = record(Action::DelegationEnded, actor, kind, &d);
    r.detail
        .insert("ended_by".to_owned(), by.as_str().to_owned());
    state.audit.append_in(&txn, r).await?;
    txn.commit().await?;
    Ok(d)
}

/// The delegation `delegate_id` acts under, checked now: it exists, it is theirs, it is live,
/// and the person represented is an active citizen. Anything else is `NotLive`, whatever the
/// reason (never delegated, ended, expired, not yet valid), so the answer tells nothing more.
pub async fn acting(
    state: &Ledger,
    delegate_id: &str,
    delegation_id: &str,
) -> Result<Delegation, Error> {
    let now = now_ms();
    let delegate = Uuid::parse_str(delegate_id).map_err(|_| DelegationError::NotLive)?;
    let d = load(&state.db, delegation_id)
        .await?
        .ok_or(DelegationError::NotLive)?;
    if !d.is_live_for(delegate, now) {
        return Err(DelegationError::NotLive.into());
    }
    if !active_citizen(state, &d.delegator().to_string()).await? {
        return Err(DelegationError::NotLive.into());
    }
    Ok(d)
}

/// The delegations a citizen may act under now.
pub async fn live_to(state: &Ledger, delegate_id: &str) -> Result<Vec<Delegation>, Error> {
    let now = now_ms();
    let Ok(delegate) = Uuid::parse_str(delegate_id) else {
        return Ok(Vec::new());
    };
    Ok(to_delegate(&state.db, delegate_id)
        .await?
        .into_iter()
        .filter(|d| d.is_live_for(delegate, now))
        .collect())
}

#[cfg(test)]
mod tests;
