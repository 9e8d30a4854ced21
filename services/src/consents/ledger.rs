//! Changes to the ledger, whoever makes them: a department's request, a citizen's grant (of their
//! own, or in answer to a request), refusal and revocation. Each checks everything first (catalogue,
//! policy, durations, duplicates, ownership), then writes in one transaction the event, the receipt
//! of a grant and the audit record, so a change is recorded with its receipt and its audit entry or
//! not at all.
//!
//! INVARIANT: nothing is written before every check has passed. Each transaction's first statement
//! is a write (the event insert), so SQLite takes its write lock at once and two instances changing
//! one consent collide on the `(consent_id, seq)` key instead of forking its history.

use std::collections::BTreeSet;

use audit::Record;
use consent::{Actor, Change, Consent, ConsentEvent, DAY_MS, Mode, State, Uuid};
use sea_orm::TransactionTrait;

use super::Ledger;
use super::receipts::{self, Collection, StoredReceipt};
use super::{ConsentStoreError, LedgerError};
use crate::audit_log::{Action, ActorKind, AuditLog, Outcome};
use crate::error::Error;
use crate::lang::Lang;
use store::now_ms;

/// Longest subject identifier accepted (pairwise ids are 43 characters).
const MAX_SUBJECT_LEN: usize = 256;
/// Longest return URL accepted.
const MAX_RETURN_URL_LEN: usize = 2048;

/// A department's request, as the API receives it.
#[derive(Debug, Clone)]
pub struct RequestInput {
    /// The citizen, by the department's pairwise subject id.
    pub subject: String,
    pub attributes: Vec<String>,
    pub purpose: String,
    pub mode: String,
    pub duration_days: Option<i64>,
    pub return_url: Option<String>,
}

/// A citizen's own grant, as the form sends it.
#[derive(Debug, Clone)]
pub struct GrantInput {
    pub department: String,
    pub purpose: String,
    pub mode: String,
    pub attributes: Vec<String>,
    pub duration_days: Option<i64>,
}

/// The signed-in citizen making a change.
#[derive(Debug, Clone)]
pub struct Citizen<'a> {
    pub id: &'a str,
    /// The level of assurance of their sign-in (recorded in the receipt).
    pub loa: u8,
    /// The language of the page they answered on (the receipt's language).
    pub lang: Lang,
}

pub(super) fn known_purpose(state: &Ledger, purpose: &str) -> Result<(), LedgerError> {
    match state.policy.catalogue().purpose(purpose) {
        Some(_) => Ok(()),
        None => Err(LedgerError::UnknownPurpose(shorten(purpose))),
    }
}

pub(super) fn known_department(state: &Ledger, department: &str) -> Result<(), LedgerError> {
    match state.policy.catalogue().department(department) {
        Some(_) => Ok(()),
        None => Err(LedgerError::UnknownDepartment(shorten(department))),
    }
}

pub(super) fn known_attributes(
    state: &Ledger,
    names: &[impl AsRef<str>],
) -> Result<BTreeSet<String>, LedgerError> {
    let catalogue = state.policy.catalogue();
    let mut out = BTreeSet::new();
    for name in names {
        let name = name.as_ref();
        if catalogue.attribute(name).is_none() {
            return Err(LedgerError::UnknownAttribute(shorten(name)));
        }
        out.insert(name.to_owned());
    }
    Ok(out)
}

pub(super) fn parse_mode(mode: &str) -> Result<Mode, LedgerError> {
    mode.parse()
        .map_err(|_| LedgerError::UnknownMode(shorten(mode)))
}

/// Names typed by a caller are echoed in errors; keep them short.
fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}

fn days_to_ms(days: i64) -> Result<i64, LedgerError> {
    if days < 1 {
        return Err(LedgerError::InvalidDuration);
    }
    days.checked_mul(DAY_MS).ok_or(LedgerError::InvalidDuration)
}

fn check_return_url(url: Option<String>) -> Result<Option<String>, LedgerError> {
    let Some(raw) = url else {
        return Ok(None);
    };
    if raw.len() > MAX_RETURN_URL_LEN {
        return Err(LedgerError::InvalidReturnUrl);
    }
    let parsed = url::Url::parse(&raw).map_err(|_| LedgerError::InvalidReturnUrl)?;
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    let ok = match parsed.scheme() {
        "https" => true,
        "http" => loopback,
        _ => false,
    };
    if !ok || parsed.username() != "" || parsed.password().is_some() {
        return Err(LedgerError::InvalidReturnUrl);
    }
    Ok(Some(raw))
}

fn ensure_consentable(
    state: &Ledger,
    department: &str,
    purpose: &str,
    mode: Mode,
    attributes: &BTreeSet<String>,
    now: i64,
) -> Result<(), LedgerError> {
    let allowed =
        super::offer::consentable(&state.policy, department, purpose, mode, attributes, now);
    match attributes.difference(&allowed).next() {
        Some(attribute) => Err(LedgerError::NotConsentable {
            department: department.to_owned(),
            purpose: purpose.to_owned(),
            attribute: attribute.clone(),
        }),
        None => Ok(()),
    }
}

/// Whether `c` is a pending request or an active consent for exactly these terms.
fn identical(
    c: &Consent,
    mode: Mode,
    attributes: &BTreeSet<String>,
    now: i64,
    count_pending: bool,
) -> bool {
    if c.mode() != mode {
        return false;
    }
    match c.effective_state(now) {
        State::Requested if count_pending => {
            c.request().is_some_and(|r| &r.attributes == attributes)
        }
        State::Active => c.grant().is_some_and(|g| &g.attributes == attributes),
        _ => false,
    }
}

fn record(action: Action, kind: ActorKind, actor: &str, consent: &Consent) -> Record {
    let mut r = AuditLog::record(
        action,
        Outcome::Ok,
        crate::audit_log::Actor::new(kind, actor),
    );
    r.citizen_id = Some(consent.citizen().to_string());
    r.department_id = Some(consent.department().to_owned());
    r.purpose = Some(consent.purpose().to_owned());
    r.consent_id = Some(consent.id().to_string());
    r.request_id = consent.request().map(|_| consent.id().to_string());
    r.detail
        .insert("mode".to_owned(), consent.mode().as_str().to_owned());
    r
}

fn store_err(e: ConsentStoreError) -> Error {
    match e {
        ConsentStoreError::Conflict => LedgerError::Conflict.into(),
        other => LedgerError::Store(other).into(),
    }
}

/// Records a department's request for consent (`POST /api/v1/consent-requests`).
pub async fn request(
    state: &Ledger,
    caller: &crate::departments::Department,
    client_id: &str,
    input: RequestInput,
) -> Result<Consent, Error> {
    let now = now_ms();
    let rules = state.settings.rules().map_err(Error::Internal)?;
    let department = caller.id.as_str();
    known_department(state, department)?;
    known_purpose(state, &input.purpose)?;
    let attributes = known_attributes(state, &input.attributes)?;
    let mode = parse_mode(&input.mode)?;
    let asked = input.duration_days.map(days_to_ms).transpose()?;
    let duration = rules
        .validate_request(&attributes, asked)
        .map_err(LedgerError::from)?;
    let return_url = check_return_url(input.return_url)?;
    ensure_consentable(state, department, &input.purpose, mode, &attributes, now)?;
    if input.subject.is_empty() || input.subject.len() > MAX_SUBJECT_LEN {
        return Err(LedgerError::UnknownSubject.into());
    }
    let citizen = crate::citizens::pairwise::citizen_for(
        &state.db,
        &caller.sector_identifier,
        &input.subject,
    )
    .await?
    .ok_or(LedgerError::UnknownSubject)?;
    let active = crate::citizens::get(&state.db, &citizen)
        .await?
        .is_some_and(|c| c.status == crate::citizens::Status::Active);
    if !active {
        return Err(LedgerError::UnknownSubject.into());
    }
    let citizen_id = Uuid::parse_str(&citizen).map_err(|_| Error::StoredId)?;
    let existing = super::for_release(&state.db, &citizen, department, &input.purpose)
        .await
        .map_err(store_err)?;
    if existing
        .iter()
        .any(|c| identical(c, mode, &attributes, now, true))
    {
        return Err(LedgerError::Duplicate.into());
    }
    let event = ConsentEvent::new(
        1,
        Actor::department(department),
        now,
        Change::Requested {
            attributes: attributes.clone(),
            requested_duration_ms: duration,
            return_url,
        },
    );
    let txn = state.db.begin().await?;
    let consent = super::create(&txn, citizen_id, department, &input.purpose, mode, event)
        .await
        .map_err(store_err)?;
    let mut r = record(
        Action::ConsentRequested,
        ActorKind::Department,
        department,
        &consent,
    );
    r.client_id = Some(client_id.to_owned());
    r.attributes = attributes.into_iter().collect();
    r.detail
        .insert("duration_days".to_owned(), (duration / DAY_MS).to_string());
    state.audit.append_in(&txn, r).await?;
    txn.commit().await?;
    Ok(consent)
}

/// A citizen grants a consent on their own initiative (the "give a consent" form).
pub async fn grant_own(
    state: &Ledger,
    citizen: &Citizen<'_>,
    input: GrantInput,
) -> Result<(Consent, StoredReceipt), Error> {
    let now = now_ms();
    let rules = state.settings.rules().map_err(Error::Internal)?;
    known_department(state, &input.department)?;
    known_purpose(state, &input.purpose)?;
    let attributes = known_attributes(state, &input.attributes)?;
    let mode = parse_mode(&input.mode)?;
    let duration = match input.duration_days {
        Some(days) => days_to_ms(days)?,
        None => rules.default_ms(),
    };
    let expires_at = now.saturating_add(duration);
    rules
        .validate_grant(None, &attributes, Some(expires_at), now)
        .map_err(LedgerError::from)?;
    ensure_consentable(
        state,
        &input.department,
        &input.purpose,
        mode,
        &attributes,
        now,
    )?;
    let citizen_id = Uuid::parse_str(citizen.id).map_err(|_| Error::StoredId)?;
    let existing = super::for_release(&state.db, citizen.id, &input.department, &input.purpose)
        .await
        .map_err(store_err)?;
    if existing
        .iter()
        .any(|c| identical(c, mode, &attributes, now, false))
    {
        return Err(LedgerError::Duplicate.into());
    }
    let event = ConsentEvent::new(
        1,
        Actor::citizen(citizen.id),
        now,
        Change::Granted {
            attributes,
            expires_at_ms: expires_at,
        },
    );
    let txn = state.db.begin().await?;
    let consent = super::create(
        &txn,
        citizen_id,
        &input.department,
        &input.purpose,
        mode,
        event,
    )
    .await
    .map_err(store_err)?;
    let receipt = receipts::issue(
        &txn,
        state,
        &consent,
        citizen.lang,
        citizen.loa,
        Collection::OwnInitiative,
    )
    .await?;
    state
        .audit
        .append_in(&txn, granted_record(&consent, &receipt, "citizen"))
        .await?;
    txn.commit().await?;
    Ok((consent, receipt))
}

fn granted_record(consent: &Consent, receipt: &StoredReceipt, initiated_by: &str) -> Record {
    let mut r = record(
        Action::ConsentGranted,
        ActorKind::Citizen,
        &consent.citizen().to_string(),
        consent,
    );
    r.attributes = consent.attributes().map(str::to_owned).collect();
    r.detail.insert("receipt_id".to_owned(), receipt.id.clone());
    r.detail.insert(
        "expires_at".to_owned(),
        consent::rfc3339_utc(receipt.expires_at),
    );
    r.detail
        .insert("initiated_by".to_owned(), initiated_by.to_owned());
    r.detail.insert("loa".to_owned(), receipt.loa.to_string());
    r
}

/// The citizen's own consent, or not found (another citizen's id is indistinguishable from none).
pub async fn owned(state: &Ledger, citizen_id: &str, id: &str) -> Result<Consent, Error> {
    if Uuid::parse_str(id).is_err() {
        return Err(Error::NotFound);
    }
    match super::load(&state.db, id).await.map_err(store_err)? {
        Some(c) if c.citizen().to_string() == citizen_id => Ok(c),
        _ => Err(Error::NotFound),
    }
}

/// The citizen accepts a department's request, all of it or part (fewer attributes, a shorter
/// time). `duration_days` defaults to what the department asked for.
pub async fn accept(
    state: &Ledger,
    citizen: &Citizen<'_>,
    id: &str,
    attributes: &[impl AsRef<str>],
    duration_days: Option<i64>,
) -> Result<(Consent, StoredReceipt), Error> {
    let now = now_ms();
    let rules = state.settings.rules().map_err(Error::Internal)?;
    let mut consent = owned(state, citizen.id, id).await?;
    if consent.recorded_state() != State::Requested {
        return Err(LedgerError::NotPending.into());
    }
    let request = consent.request().cloned().ok_or(LedgerError::NotPending)?;
    let chosen: BTreeSet<String> = attributes.iter().map(|a| a.as_ref().to_owned()).collect();
    if let Some(extra) = chosen.difference(&request.attributes).next() {
        return Err(LedgerError::AttributeNotRequested(shorten(extra)).into());
    }
    let duration = match duration_days {
        Some(days) => days_to_ms(days)?,
        None => request.requested_duration_ms.min(rules.max_ms()),
    };
    let expires_at = now.saturating_add(duration);
    rules
        .validate_grant(Some(&request), &chosen, Some(expires_at), now)
        .map_err(LedgerError::from)?;
    ensure_consentable(
        state,
        consent.department(),
        consent.purpose(),
        consent.mode(),
        &chosen,
        now,
    )?;
    let others = super::for_release(
        &state.db,
        citizen.id,
        consent.department(),
        consent.purpose(),
    )
    .await
    .map_err(store_err)?;
    if others
        .iter()
        .any(|c| c.id() != consent.id() && identical(c, consent.mode(), &chosen, now, false))
    {
        return Err(LedgerError::Duplicate.into());
    }
    let event = ConsentEvent::new(
        consent.next_seq(),
        Actor::citizen(citizen.id),
        now.max(consent.last_event_time_ms()),
        Change::Granted {
            attributes: chosen,
            expires_at_ms: expires_at,
        },
    );
    let txn = state.db.begin().await?;
    super::append(&txn, &mut consent, event)
        .await
        .map_err(store_err)?;
    let receipt = receipts::issue(
        &txn,
        state,
        &consent,
        citizen.lang,
        citizen.loa,
        Collection::AnswerToRequest,
    )
    .await?;
    state
        .audit
        .append_in(
            &txn,
            granted_record(&consent, &receipt, "department-request"),
        )
        .await?;
    txn.commit().await?;
    Ok((consent, receipt))
}

/// The citizen refuses a department's request.
pub async fn refuse(state: &Ledger, citizen_id: &str, id: &str) -> Result<Consent, Error> {
    let now = now_ms();
    let mut consent = owned(state, citizen_id, id).await?;
    if consent.recorded_state() != State::Requested {
        return Err(LedgerError::NotPending.into());
    }
    let event = ConsentEvent::new(
        consent.next_seq(),
        Actor::citizen(citizen_id),
        now.max(consent.last_event_time_ms()),
        Change::Refused,
    )
    .with_reason("citizen_refused");
    let txn = state.db.begin().await?;
    super::append(&txn, &mut consent, event)
        .await
        .map_err(store_err)?;
    let mut r = record(
        Action::ConsentRefused,
        ActorKind::Citizen,
        citizen_id,
        &consent,
    );
    r.attributes = consent
        .request()
        .map(|req| req.attributes.iter().cloned().collect())
        .unwrap_or_default();
    state.audit.append_in(&txn, r).await?;
    txn.commit().await?;
    Ok(consent)
}

/// The citizen withdraws an active consent; every later release sees it at once.
pub async fn revoke(state: &Ledger, citizen_id: &str, id: &str) -> Result<Consent, Error> {
    let now = now_ms();
    let mut consent = owned(state, citizen_id, id).await?;
    if consent.effective_state(now) != State::Active {
        return Err(LedgerError::NotActive.into());
    }
    let event = ConsentEvent::new(
        consent.next_seq(),
        Actor::citizen(citizen_id),
        now.max(consent.last_event_time_ms()),
        Change::Revoked,
    )
    .with_reason("citizen_withdrew");
    let txn = state.db.begin().await?;
    super::append(&txn, &mut consent, event)
        .await
        .map_err(store_err)?;
    let mut r = record(
        Action::ConsentRevoked,
        ActorKind::Citizen,
        citizen_id,
        &consent,
    );
    r.attributes = consent.attributes().map(str::to_owned).collect();
    let receipt = state.audit.append_in(&txn, r).await?;
    // Tell the department, in the same transaction (the relay's outbox).
    crate::relay::outbox::consent_ended(
        &txn,
        &state.relay,
        &consent,
        crate::relay::outbox::Ended::Revoked,
        &receipt.id,
    )
    .await?;
    txn.commit().await?;
    state.relay.relay_wake.notify_one();
    Ok(consent)
}

/// Records the expiry of one lapsed consent (the sweep). Returns false when there was nothing to
/// record (already ended, not yet due, or another instance recorded it first).
pub async fn expire(state: &Ledger, mut consent: Consent, now: i64) -> Result<bool, Error> {
    if !consent.expiry_due(now) {
        return Ok(false);
    }
    let at = consent
        .expires_at_ms()
        .unwrap_or(now)
        .max(now)
        .max(consent.last_event_time_ms());
    let event = ConsentEvent::new(
        consent.next_seq(),
        Actor::system(super::expiry::SWEEP_ACTOR),
        at,
        Change::Expired,
    );
    let txn = state.db.begin().await?;
    match super::append(&txn, &mut consent, event).await {
        Ok(()) => {}
        Err(ConsentStoreError::Conflict) => return Ok(false),
        Err(e) => return Err(store_err(e)),
    }
    let mut r = record(
        Action::ConsentExpired,
        ActorKind::System,
        super::expiry::SWEEP_ACTOR,
        &consent,
    );
    r.attributes = consent.attributes().map(str::to_owned).collect();
    let receipt = state.audit.append_in(&txn, r).await?;
    crate::relay::outbox::consent_ended(
        &txn,
        &state.relay,
        &consent,
        crate::relay::outbox::Ended::Expired,
        &receipt.id,
    )
    .await?;
    txn.commit().await?;
    state.relay.relay_wake.notify_one();
    Ok(true)
}
