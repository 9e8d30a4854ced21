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
    ensure_consentable_by(state, department, purpose, mode, attributes, now, false)
}

/// [`ensure_consentable`], for a consent a representative gives (or not).
fn ensure_consentable_by(
    state: &Ledger,
    department: &str,
    purpose: &str,
    mode: Mode,
    attributes: &BTreeSet<String>,
    now: i64,
    actor_is_delegate: bool,
) -> Result<(), LedgerError> {
    let allowed = super::offer::consentable_by(
        &state.policy,
        department,
        purpose,
        mode,
        attributes,
        now,
        actor_is_delegate,
    );
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

/// A record of an act a representative did: the delegate is its actor, the citizen the person
/// represented, and `detail.delegation_id` the delegation acted under.
fn by_representative(record: &mut Record, representative: Option<(&str, String)>) {
    if let Some((delegate, delegation)) = representative {
        record.actor = crate::audit_log::Actor::new(ActorKind::Citizen, delegate);
        record.detail.insert("delegation_id".to_owned(), delegation);
    }
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
    let (attributes, mode, expires_at) = given_terms(state, &input, now)?;
    let citizen_id = Uuid::parse_str(citizen.id).map_err(|_| Error::StoredId)?;
    let grant = NewGrant {
        citizen: citizen.id,
        citizen_id,
        department: &input.department,
        purpose: &input.purpose,
        mode,
        attributes,
        granted_at_ms: now,
        expires_at_ms: expires_at,
        lang: citizen.lang,
        loa: citizen.loa,
        how: Collection::OwnInitiative,
        representative: None,
    };
    ensure_new_grant(state, &grant, now).await?;
    let txn = state.db.begin().await?;
    let (consent, receipt, record) = write_grant(&txn, state, grant).await?;
    state.audit.append_in(&txn, record).await?;
    txn.commit().await?;
    Ok((consent, receipt))
}

/// The terms of a consent given on the "give a consent" form, checked against the catalogue and
/// the duration rules: its attributes, mode and end.
fn given_terms(
    state: &Ledger,
    input: &GrantInput,
    now: i64,
) -> Result<(BTreeSet<String>, Mode, i64), Error> {
    let rules = state.settings.rules().map_err(Error::Internal)?;
    let attributes = known_terms(state, &input.department, &input.purpose, &input.attributes)?;
    let mode = parse_mode(&input.mode)?;
    let duration = match input.duration_days {
        Some(days) => days_to_ms(days)?,
        None => rules.default_ms(),
    };
    let expires_at = now.saturating_add(duration);
    rules
        .validate_grant(None, &attributes, Some(expires_at), now)
        .map_err(LedgerError::from)?;
    Ok((attributes, mode, expires_at))
}

/// A delegate gives a consent in the name of the person they act for: the delegation must be
/// live for them and give `give_consents` over the purpose and every attribute, and the policies
/// must let a *representative* consent to it (`context.actor_is_delegate`: the built-in policies
/// refuse high-sensitivity data, `not_consentable`). Recorded like the person's own grant, with
/// the delegate as actor of the event and the audit record (`detail.delegation_id`).
pub async fn grant_as_delegate(
    state: &Ledger,
    delegate: &Citizen<'_>,
    delegation: &consent::Delegation,
    input: GrantInput,
) -> Result<(Consent, StoredReceipt), Error> {
    may_manage(
        delegate.id,
        delegation,
        &input.purpose,
        input.attributes.iter().map(String::as_str),
    )?;
    let now = now_ms();
    let (attributes, mode, expires_at) = given_terms(state, &input, now)?;
    let citizen = delegation.delegator().to_string();
    let grant = NewGrant {
        citizen: &citizen,
        citizen_id: delegation.delegator(),
        department: &input.department,
        purpose: &input.purpose,
        mode,
        attributes,
        granted_at_ms: now,
        expires_at_ms: expires_at,
        lang: delegate.lang,
        loa: delegate.loa,
        how: Collection::OwnInitiative,
        representative: Some((delegate.id, delegation.id().to_string())),
    };
    ensure_new_grant(state, &grant, now).await?;
    let txn = state.db.begin().await?;
    let (consent, receipt, record) = write_grant(&txn, state, grant).await?;
    state.audit.append_in(&txn, record).await?;
    txn.commit().await?;
    Ok((consent, receipt))
}

/// What a department's web application asked for on the broker's consent screen (the broker
/// as OpenID Provider): the consent is the citizen's, given while signing in to the department.
#[derive(Debug, Clone)]
pub struct SignInTerms<'a> {
    pub department: &'a str,
    /// The department's client that asked (the audit record names it).
    pub client_id: &'a str,
    pub purpose: &'a str,
    pub mode: Mode,
    pub attributes: &'a [String],
}

/// An active consent of `citizen_id` covering every attribute of `terms` for its purpose (an
/// ongoing one when ongoing is asked), if there is one: the consent screen is then skipped.
pub async fn covering_sign_in(
    state: &Ledger,
    citizen_id: &str,
    terms: &SignInTerms<'_>,
    now: i64,
) -> Result<Option<Consent>, Error> {
    let consents = super::for_release(&state.db, citizen_id, terms.department, terms.purpose)
        .await
        .map_err(store_err)?;
    Ok(consents.into_iter().find(|c| {
        c.effective_state(now) == State::Active
            && (terms.mode == Mode::Once || c.mode() == Mode::Ongoing)
            && terms
                .attributes
                .iter()
                .all(|a| c.covers(a, terms.purpose, now).is_covered())
    }))
}

/// The citizen approves on the consent screen: a consent granted through the ledger (receipt and
/// audit record in one transaction) for the default duration.
pub async fn grant_at_sign_in(
    state: &Ledger,
    citizen: &Citizen<'_>,
    terms: &SignInTerms<'_>,
) -> Result<(Consent, StoredReceipt), Error> {
    let now = now_ms();
    let rules = state.settings.rules().map_err(Error::Internal)?;
    let attributes = known_terms(state, terms.department, terms.purpose, terms.attributes)?;
    let expires_at = now.saturating_add(rules.default_ms());
    rules
        .validate_grant(None, &attributes, Some(expires_at), now)
        .map_err(LedgerError::from)?;
    let citizen_id = Uuid::parse_str(citizen.id).map_err(|_| Error::StoredId)?;
    let grant = NewGrant {
        citizen: citizen.id,
        citizen_id,
        department: terms.department,
        purpose: terms.purpose,
        mode: terms.mode,
        attributes,
        granted_at_ms: now,
        expires_at_ms: expires_at,
        lang: citizen.lang,
        loa: citizen.loa,
        how: Collection::SignInConsentScreen,
        representative: None,
    };
    ensure_new_grant(state, &grant, now).await?;
    let txn = state.db.begin().await?;
    let (consent, receipt, mut record) = write_grant(&txn, state, grant).await?;
    record.client_id = Some(terms.client_id.to_owned());
    state.audit.append_in(&txn, record).await?;
    txn.commit().await?;
    Ok((consent, receipt))
}

/// The citizen refuses on the consent screen: nothing is stored in the ledger (there was no
/// request to answer), and the refusal is recorded in the audit log.
pub async fn refused_at_sign_in(
    state: &Ledger,
    citizen_id: &str,
    terms: &SignInTerms<'_>,
) -> Result<(), Error> {
    let mut r = AuditLog::record(
        Action::ConsentRefused,
        Outcome::Ok,
        crate::audit_log::Actor::new(ActorKind::Citizen, citizen_id),
    );
    r.citizen_id = Some(citizen_id.to_owned());
    r.department_id = Some(terms.department.to_owned());
    r.client_id = Some(terms.client_id.to_owned());
    r.purpose = Some(terms.purpose.to_owned());
    r.attributes = terms.attributes.to_vec();
    r.detail
        .insert("mode".to_owned(), terms.mode.as_str().to_owned());
    r.detail.insert(
        "initiated_by".to_owned(),
        Collection::SignInConsentScreen.initiated_by().to_owned(),
    );
    state.audit.append(r).await?;
    Ok(())
}

/// A consent the citizen gave outside the broker's pages, recorded with the time they gave it:
/// migrated from a previous system, or given on paper. Fixtures, benchmarks and examples make
/// their consents this way too, so each has its receipt and audit record like any other.
#[derive(Debug, Clone)]
pub struct ImportInput {
    /// The citizen's internal id (an active citizen).
    pub citizen: String,
    pub department: String,
    pub purpose: String,
    pub mode: Mode,
    pub attributes: Vec<String>,
    /// When the citizen gave it (Unix ms); not in the future.
    pub granted_at_ms: i64,
    /// When it ends (Unix ms): after `granted_at_ms`, at most the configured maximum after it.
    pub expires_at_ms: i64,
    /// The level of assurance (1–4) the citizen was identified at when they gave it.
    pub loa: u8,
    /// The language of the receipt.
    pub lang: Lang,
}

/// Records one consent given outside the broker (see [`ImportInput`]): checked like a citizen's
/// own grant (catalogue, policy, duration, no identical active consent), then written with its
/// signed receipt and its `consent-granted` audit record (`detail.initiated_by` = `import`,
/// `detail.import_source` = `source`) in one transaction.
pub async fn import(
    state: &Ledger,
    source: &str,
    input: ImportInput,
) -> Result<(Consent, StoredReceipt), Error> {
    import_many(state, source, vec![input])
        .await
        .map_err(|e| e.error)?
        .pop()
        .ok_or_else(|| Error::Internal("an import of one consent recorded none".to_owned()))
}

/// Why a batch of imports was refused (nothing of it was written).
#[derive(Debug, thiserror::Error)]
#[error("{}{error}", index.map(|i| format!("consent {} of the batch: ", i + 1)).unwrap_or_default())]
pub struct ImportError {
    /// The position in the batch (from 0) of the input refused or failing to be written; none when
    /// the batch as a whole failed (its audit records, its commit).
    pub index: Option<usize>,
    pub error: Error,
}

/// Records many consents given outside the broker, all in one transaction or none: every one is
/// checked as by [`import`] before anything is written, and two identical active ones in the batch
/// are a duplicate like one already in the ledger. Returns them in the order given.
pub async fn import_many(
    state: &Ledger,
    source: &str,
    inputs: Vec<ImportInput>,
) -> Result<Vec<(Consent, StoredReceipt)>, ImportError> {
    let mut index = None;
    import_checked(state, source, &inputs, &mut index)
        .await
        .map_err(|error| ImportError { index, error })
}

/// [`import_many`], keeping in `index` the position of the input being checked or written.
async fn import_checked(
    state: &Ledger,
    source: &str,
    inputs: &[ImportInput],
    index: &mut Option<usize>,
) -> Result<Vec<(Consent, StoredReceipt)>, Error> {
    if inputs.is_empty() {
        return Ok(Vec::new());
    }
    let now = now_ms();
    let rules = state.settings.rules().map_err(Error::Internal)?;
    let mut grants = Vec::with_capacity(inputs.len());
    let mut seen = BTreeSet::new();
    for (i, input) in inputs.iter().enumerate() {
        *index = Some(i);
        let grant = check_import(state, &rules, input, now).await?;
        let active = grant.expires_at_ms > now;
        let terms = (
            grant.citizen,
            grant.department,
            grant.purpose,
            grant.mode.as_str(),
            grant.attributes.clone(),
        );
        if active && !seen.insert(terms) {
            return Err(LedgerError::Duplicate.into());
        }
        grants.push(grant);
    }
    *index = None;
    let txn = state.db.begin().await?;
    let mut out = Vec::with_capacity(grants.len());
    let mut records = Vec::with_capacity(grants.len());
    for (i, grant) in grants.into_iter().enumerate() {
        *index = Some(i);
        let (consent, receipt, mut record) = write_grant(&txn, state, grant).await?;
        record.detail.insert(
            "granted_at".to_owned(),
            consent::rfc3339_utc(receipt.granted_at),
        );
        record
            .detail
            .insert("import_source".to_owned(), shorten(source));
        records.push(record);
        out.push((consent, receipt));
    }
    *index = None;
    state.audit.append_many_in(&txn, records).await?;
    txn.commit().await?;
    Ok(out)
}

/// Every check of one import, before anything is written.
async fn check_import<'a>(
    state: &Ledger,
    rules: &consent::DurationRules,
    input: &'a ImportInput,
    now: i64,
) -> Result<NewGrant<'a>, Error> {
    let attributes = known_terms(state, &input.department, &input.purpose, &input.attributes)?;
    if input.granted_at_ms > now {
        return Err(LedgerError::InvalidImport("it was given in the future").into());
    }
    if input.expires_at_ms <= input.granted_at_ms {
        return Err(LedgerError::InvalidImport("it ends before it was given").into());
    }
    if !(1..=4).contains(&input.loa) {
        return Err(LedgerError::InvalidImport("the level of assurance is not 1 to 4").into());
    }
    rules
        .validate_grant(
            None,
            &attributes,
            Some(input.expires_at_ms),
            input.granted_at_ms,
        )
        .map_err(LedgerError::from)?;
    let no_citizen = || LedgerError::InvalidImport("no active citizen has this id");
    let citizen_id = Uuid::parse_str(&input.citizen).map_err(|_| no_citizen())?;
    let active = crate::citizens::get(&state.db, &input.citizen)
        .await?
        .is_some_and(|c| c.status == crate::citizens::Status::Active);
    if !active {
        return Err(no_citizen().into());
    }
    let grant = NewGrant {
        citizen: &input.citizen,
        citizen_id,
        department: &input.department,
        purpose: &input.purpose,
        mode: input.mode,
        attributes,
        granted_at_ms: input.granted_at_ms,
        expires_at_ms: input.expires_at_ms,
        lang: input.lang,
        loa: input.loa,
        how: Collection::Imported,
        representative: None,
    };
    ensure_new_grant(state, &grant, now).await?;
    Ok(grant)
}

/// A citizen's grant opening a new consent (their own, or imported), its terms known to the
/// catalogue and its times checked.
struct NewGrant<'a> {
    citizen: &'a str,
    citizen_id: Uuid,
    department: &'a str,
    purpose: &'a str,
    mode: Mode,
    attributes: BTreeSet<String>,
    granted_at_ms: i64,
    expires_at_ms: i64,
    lang: Lang,
    loa: u8,
    how: Collection,
    /// The delegate giving it in the citizen's name, and the delegation: the event's and the
    /// audit record's actor.
    representative: Option<(&'a str, String)>,
}

/// The catalogue knows the department, the purpose and every attribute.
fn known_terms(
    state: &Ledger,
    department: &str,
    purpose: &str,
    attributes: &[String],
) -> Result<BTreeSet<String>, LedgerError> {
    known_department(state, department)?;
    known_purpose(state, purpose)?;
    known_attributes(state, attributes)
}

/// The rest of a new grant's checks: a policy honours it, and the citizen holds no identical
/// active consent.
async fn ensure_new_grant(state: &Ledger, grant: &NewGrant<'_>, now: i64) -> Result<(), Error> {
    ensure_consentable_by(
        state,
        grant.department,
        grant.purpose,
        grant.mode,
        &grant.attributes,
        now,
        grant.representative.is_some(),
    )?;
    let existing = super::for_release(&state.db, grant.citizen, grant.department, grant.purpose)
        .await
        .map_err(store_err)?;
    if existing
        .iter()
        .any(|c| identical(c, grant.mode, &grant.attributes, now, false))
    {
        return Err(LedgerError::Duplicate.into());
    }
    Ok(())
}

/// Writes a checked grant in the caller's transaction: the consent with its `granted` event and
/// its signed receipt. Returns them with the audit record, for the caller to append in the same
/// transaction.
async fn write_grant<C: sea_orm::ConnectionTrait>(
    txn: &C,
    state: &Ledger,
    grant: NewGrant<'_>,
) -> Result<(Consent, StoredReceipt, Record), Error> {
    let actor = grant.representative.as_ref().map_or(grant.citizen, |r| r.0);
    let event = ConsentEvent::new(
        1,
        Actor::citizen(actor),
        grant.granted_at_ms,
        Change::Granted {
            attributes: grant.attributes,
            expires_at_ms: grant.expires_at_ms,
        },
    );
    let consent = super::create(
        txn,
        grant.citizen_id,
        grant.department,
        grant.purpose,
        grant.mode,
        event,
    )
    .await
    .map_err(store_err)?;
    let receipt = receipts::issue(txn, state, &consent, grant.lang, grant.loa, grant.how).await?;
    let mut record = granted_record(&consent, &receipt, grant.how);
    by_representative(&mut record, grant.representative);
    Ok((consent, receipt, record))
}

fn granted_record(consent: &Consent, receipt: &StoredReceipt, how: Collection) -> Record {
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
        .insert("initiated_by".to_owned(), how.initiated_by().to_owned());
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
    let consent = owned(state, citizen.id, id).await?;
    answer(state, citizen, consent, attributes, duration_days, None).await
}

/// A delegate accepts a department's request in the name of the person they act for: the
/// delegation must be live for them and give `give_consents` over the request's purpose and
/// every attribute accepted, and the policies must let a representative consent to it. Recorded
/// like the person's own answer, with the delegate as actor (`detail.delegation_id`).
pub async fn accept_as_delegate(
    state: &Ledger,
    delegate: &Citizen<'_>,
    delegation: &consent::Delegation,
    id: &str,
    attributes: &[impl AsRef<str>],
    duration_days: Option<i64>,
) -> Result<(Consent, StoredReceipt), Error> {
    let citizen_id = delegation.delegator().to_string();
    let consent = owned(state, &citizen_id, id).await?;
    let chosen: Vec<&str> = attributes.iter().map(AsRef::as_ref).collect();
    may_manage(delegate.id, delegation, consent.purpose(), chosen)?;
    let by = (delegate.id, delegation.id().to_string());
    answer(
        state,
        delegate,
        consent,
        attributes,
        duration_days,
        Some(by),
    )
    .await
}

/// Whether `delegate` may give (or withdraw, or refuse) consents for `purpose` over `attributes`
/// under `delegation`, now.
fn may_manage<'a>(
    delegate: &str,
    delegation: &consent::Delegation,
    purpose: &str,
    attributes: impl IntoIterator<Item = &'a str>,
) -> Result<(), Error> {
    use super::delegations::DelegationError;
    let delegate = Uuid::parse_str(delegate).map_err(|_| DelegationError::NotLive)?;
    if !delegation.is_live_for(delegate, now_ms()) {
        return Err(DelegationError::NotLive.into());
    }
    let power = consent::Power::GiveConsents;
    delegation
        .allows(power, None, Some(purpose))
        .map_err(DelegationError::from)?;
    for attribute in attributes {
        delegation
            .allows(power, Some(attribute), None)
            .map_err(DelegationError::from)?;
    }
    Ok(())
}

/// The answer to a request of `citizen_id`'s, by them (`actor` is the citizen) or by a
/// representative (`actor` is the delegate, `representative` their delegation).
async fn answer(
    state: &Ledger,
    actor: &Citizen<'_>,
    mut consent: Consent,
    attributes: &[impl AsRef<str>],
    duration_days: Option<i64>,
    representative: Option<(&str, String)>,
) -> Result<(Consent, StoredReceipt), Error> {
    let now = now_ms();
    let rules = state.settings.rules().map_err(Error::Internal)?;
    let citizen_id = consent.citizen().to_string();
    let citizen_id = citizen_id.as_str();
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
    ensure_consentable_by(
        state,
        consent.department(),
        consent.purpose(),
        consent.mode(),
        &chosen,
        now,
        representative.is_some(),
    )?;
    let others = super::for_release(
        &state.db,
        citizen_id,
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
        Actor::citizen(actor.id),
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
        actor.lang,
        actor.loa,
        Collection::AnswerToRequest,
    )
    .await?;
    let mut record = granted_record(&consent, &receipt, Collection::AnswerToRequest);
    by_representative(&mut record, representative);
    state.audit.append_in(&txn, record).await?;
    txn.commit().await?;
    Ok((consent, receipt))
}

/// The citizen refuses a department's request.
pub async fn refuse(state: &Ledger, citizen_id: &str, id: &str) -> Result<Consent, Error> {
    let consent = owned(state, citizen_id, id).await?;
    decline(state, consent, None).await
}

/// A delegate refuses a department's request in the name of the person they act for (with
/// `give_consents` over its purpose and every attribute it asks), recorded with the delegate as
/// actor.
pub async fn refuse_as_delegate(
    state: &Ledger,
    delegate_id: &str,
    delegation: &consent::Delegation,
    id: &str,
) -> Result<Consent, Error> {
    let citizen_id = delegation.delegator().to_string();
    let consent = owned(state, &citizen_id, id).await?;
    let asked: Vec<&str> = consent
        .request()
        .map(|r| r.attributes.iter().map(String::as_str).collect())
        .unwrap_or_default();
    may_manage(delegate_id, delegation, consent.purpose(), asked)?;
    let by = (delegate_id, delegation.id().to_string());
    decline(state, consent, Some(by)).await
}

async fn decline(
    state: &Ledger,
    mut consent: Consent,
    representative: Option<(&str, String)>,
) -> Result<Consent, Error> {
    let now = now_ms();
    let citizen_id = consent.citizen().to_string();
    let citizen_id = citizen_id.as_str();
    if consent.recorded_state() != State::Requested {
        return Err(LedgerError::NotPending.into());
    }
    let actor = representative.as_ref().map_or(citizen_id, |r| r.0);
    let event = ConsentEvent::new(
        consent.next_seq(),
        Actor::citizen(actor),
        now.max(consent.last_event_time_ms()),
        Change::Refused,
    )
    .with_reason(if representative.is_some() {
        "representative_refused"
    } else {
        "citizen_refused"
    });
    let txn = state.db.begin().await?;
    super::append(&txn, &mut consent, event)
        .await
        .map_err(store_err)?;
    let mut r = record(Action::ConsentRefused, ActorKind::Citizen, actor, &consent);
    by_representative(&mut r, representative);
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
    let consent = owned(state, citizen_id, id).await?;
    withdraw(state, consent, None).await
}

/// A delegate withdraws a consent of the person they act for: the delegation must be live for
/// them and give `give_consents` over the consent's purpose and every attribute it covers.
/// Recorded like the person's own withdrawal, with the delegate as actor of the event and of the
/// audit record (`detail.delegation_id`).
pub async fn revoke_as_delegate(
    state: &Ledger,
    delegate_id: &str,
    delegation: &consent::Delegation,
    id: &str,
) -> Result<Consent, Error> {
    let citizen_id = delegation.delegator().to_string();
    let consent = owned(state, &citizen_id, id).await?;
    may_manage(
        delegate_id,
        delegation,
        consent.purpose(),
        consent.attributes(),
    )?;
    let by = (delegate_id, delegation.id().to_string());
    withdraw(state, consent, Some(by)).await
}

/// Withdraws `citizen_id`'s consent `id`, by them or by a representative (`(delegate, delegation
/// id)`), and tells the department in the same transaction.
async fn withdraw(
    state: &Ledger,
    mut consent: Consent,
    representative: Option<(&str, String)>,
) -> Result<Consent, Error> {
    let now = now_ms();
    let citizen_id = consent.citizen().to_string();
    let citizen_id = citizen_id.as_str();
    if consent.effective_state(now) != State::Active {
        return Err(LedgerError::NotActive.into());
    }
    let actor = representative.as_ref().map_or(citizen_id, |r| r.0);
    let event = ConsentEvent::new(
        consent.next_seq(),
        Actor::citizen(actor),
        now.max(consent.last_event_time_ms()),
        Change::Revoked,
    )
    .with_reason(if representative.is_some() {
        "representative_withdrew"
    } else {
        "citizen_withdrew"
    });
    let txn = state.db.begin().await?;
    super::append(&txn, &mut consent, event)
        .await
        .map_err(store_err)?;
    let mut r = record(Action::ConsentRevoked, ActorKind::Citizen, actor, &consent);
    r.attributes = consent.attributes().map(str::to_owned).collect();
    by_representative(&mut r, representative);
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
