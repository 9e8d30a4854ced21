//! What a proven upstream identity leads to: a citizen session (creating the citizen and link on a
//! first sign-in), a second link for the signed-in citizen, or an officer session for a configured
//! officer. Claims are recorded with provenance in the same transaction as the link and the audit
//! record; the session starts only after that commits.

use sea_orm::{ActiveModelTrait, DatabaseTransaction, Set, TransactionTrait};

use super::claims;
use super::entities::officer_session;
use super::error::SignInError;
use super::flow::{Authenticated, Purpose};
use super::links;
use crate::audit_log::{Action, Actor, ActorKind, AuditLog, Outcome};
use crate::citizens::{self, CitizenError, Status};
use crate::error::Error;
use crate::error::PublicError;
use crate::lang::safe_next;
use crate::sessions::{NewSession, Role, Session};

use super::SignIn;

/// Where the browser goes next, with the new session's cookie value when one started.
#[derive(Debug)]
pub struct Completed {
    pub location: String,
    pub session_token: Option<String>,
}

pub fn citizen_error(e: CitizenError) -> Error {
    match e {
        CitizenError::Erased | CitizenError::NotFound(_) => SignInError::CitizenUnavailable.into(),
        CitizenError::Db(db) => Error::Db(db),
        other => Error::Citizen(other),
    }
}

fn is_unique_violation(e: &Error) -> bool {
    matches!(e, Error::Db(db) if matches!(db.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))))
}

pub async fn complete(
    state: &SignIn,
    current: Option<&str>,
    auth: Authenticated,
) -> Result<Completed, Error> {
    match auth.purpose {
        Purpose::Citizen => citizen(state, current, auth).await,
        Purpose::Officer => officer(state, current, auth).await,
        Purpose::Link => link(state, current, auth).await,
    }
}

/// Ends the session this browser already had (a new sign-in replaces it).
async fn end_current(state: &SignIn, current: Option<&str>) -> Result<(), Error> {
    if let Some(token) = current
        && let Some(old) = state.sessions.find(token).await?
    {
        crate::sessions::end(&state.db, &old.id_hash).await?;
    }
    Ok(())
}

async fn citizen(
    state: &SignIn,
    current: Option<&str>,
    auth: Authenticated,
) -> Result<Completed, Error> {
    let mut attempt = 0;
    let citizen_id = loop {
        attempt += 1;
        let txn = state.db.begin().await?;
        match sign_in_in(state, &txn, &auth).await {
            Ok(id) => {
                txn.commit().await?;
                break id;
            }
            // Two first sign-ins of one identity at once: the other created the link; use it.
            Err(e) if attempt == 1 && is_unique_violation(&e) => {
                txn.rollback().await?;
            }
            Err(e) => return Err(e),
        }
    };
    end_current(state, current).await?;
    let (token, _) = state
        .sessions
        .start(NewSession {
            citizen_id: Some(citizen_id),
            role: Role::Citizen,
            provider_id: Some(auth.provider.config.id.clone()),
            loa: auth.loa,
            id_token_hint: Some(auth.id_token.clone()),
        })
        .await?;
    let next = match safe_next(Some(&auth.next)) {
        n if n == "/" => "/me".to_owned(),
        n => n,
    };
    Ok(Completed {
        location: next,
        session_token: Some(token),
    })
}

/// The citizen for this identity (created with its link on first sign-in), claims recorded, the
/// sign-in audited: all in `txn`.
async fn sign_in_in(
    state: &SignIn,
    txn: &DatabaseTransaction,
    auth: &Authenticated,
) -> Result<String, Error> {
    let provider_id = auth.provider.config.id.as_str();
    let (citizen_id, created) = match links::find(txn, &auth.issuer, &auth.subject).await? {
        Some(link) => {
            links::touch(txn, &link).await?;
            (link.citizen_id, false)
        }
        None => {
            let id = citizens::create(txn, &state.vault)
                .await
                .map_err(citizen_error)?;
            links::create(
                txn,
                &state.audit,
                &id,
                provider_id,
                &auth.issuer,
                &auth.subject,
                auth.loa,
            )
            .await?;
            (id, true)
        }
    };
    let citizen = citizens::get(txn, &citizen_id)
        .await
        .map_err(citizen_error)?
        .ok_or(SignInError::CitizenUnavailable)?;
    if citizen.status != Status::Active {
        return Err(SignInError::CitizenUnavailable.into());
    }
    let recorded = claims::record(
        txn,
        &state.vault,
        state.policy.catalogue(),
        &citizen_id,
        provider_id,
        auth.loa,
        &auth.claims,
    )
    .await
    .map_err(citizen_error)?;
    let mut record = AuditLog::record(
        Action::SignIn,
        Outcome::Ok,
        Actor::new(ActorKind::Citizen, citizen_id.clone()),
    );
    record.citizen_id = Some(citizen_id.clone());
    record.attributes = recorded.updated;
    record
        .detail
        .insert("provider".into(), provider_id.to_owned());
    record.detail.insert("loa".into(), auth.loa.to_string());
    if created {
        record.detail.insert("first_sign_in".into(), "true".into());
    }
    if !recorded.not_taken.is_empty() {
        record
            .detail
            .insert("not_taken".into(), recorded.not_taken.join(","));
    }
    state.audit.append_in(txn, record).await?;
    Ok(citizen_id)
}

async fn link(
    state: &SignIn,
    current: Option<&str>,
    auth: Authenticated,
) -> Result<Completed, Error> {
    // The citizen proves the first identity by the session that started this sign-in, still live
    // in this browser.
    let current = match current {
        Some(token) => state.sessions.find(token).await?,
        None => None,
    };
    let citizen_id = match current {
        Some(s)
            if s.role == Role::Citizen
                && auth.session_hash.as_deref() == Some(s.id_hash.as_str()) =>
        {
            s.citizen_id.ok_or(SignInError::LinkSessionEnded)?
        }
        _ => return Err(SignInError::LinkSessionEnded.into()),
    };
    let provider_id = auth.provider.config.id.clone();
    let txn = state.db.begin().await?;
    match links::find(&txn, &auth.issuer, &auth.subject).await? {
        Some(existing) if existing.citizen_id == citizen_id => {
            links::touch(&txn, &existing).await?;
        }
        Some(_) => {
            txn.rollback().await?;
            let mut record = AuditLog::record(
                Action::IdentityLinked,
                Outcome::Deny,
                Actor::new(ActorKind::Citizen, citizen_id.clone()),
            );
            record.citizen_id = Some(citizen_id);
            record.reasons = vec!["identity_linked_elsewhere".into()];
            record.detail.insert("provider".into(), provider_id);
            state.audit.append(record).await?;
            return Err(SignInError::LinkedElsewhere.into());
        }
        None => {
            let mine = links::of_citizen(&txn, &citizen_id).await?;
            if mine.iter().any(|l| l.issuer == auth.issuer) {
                return Err(SignInError::ProviderAlreadyLinked.into());
            }
            links::create(
                &txn,
                &state.audit,
                &citizen_id,
                &provider_id,
                &auth.issuer,
                &auth.subject,
                auth.loa,
            )
            .await?;
        }
    }
    claims::record(
        &txn,
        &state.vault,
        state.policy.catalogue(),
        &citizen_id,
        &provider_id,
        auth.loa,
        &auth.claims,
    )
    .await
    .map_err(citizen_error)?;
    txn.commit().await?;
    Ok(Completed {
        location: format!("/me/information?linked={provider_id}"),
        session_token: None,
    })
}

async fn officer(
    state: &SignIn,
    current: Option<&str>,
    auth: Authenticated,
) -> Result<Completed, Error> {
    let provider_id = auth.provider.config.id.clone();
    let Some(officer) = state
        .officers
        .iter()
        .find(|o| o.provider == provider_id && o.subject == auth.subject)
    else {
        let mut record = AuditLog::record(
            Action::SignInFailed,
            Outcome::Deny,
            Actor::new(ActorKind::Provider, auth.issuer.clone()),
        );
        record.reasons = vec!["officer_not_authorised".into()];
        record.detail.insert("provider".into(), provider_id);
        record.detail.insert("purpose".into(), "officer".into());
        state.audit.append(record).await?;
        return Err(SignInError::NotAnOfficer.into());
    };
    end_current(state, current).await?;
    let (token, session) = state
        .sessions
        .start(NewSession {
            citizen_id: None,
            role: Role::Officer,
            provider_id: Some(provider_id.clone()),
            loa: auth.loa,
            id_token_hint: Some(auth.id_token.clone()),
        })
        .await?;
    let recorded = record_officer(state, &session, &officer.id, &provider_id, auth.loa).await;
    if let Err(e) = recorded {
        // No officer session without its officer row and audit record.
        crate::sessions::end(&state.db, &session.id_hash).await?;
        return Err(e);
    }
    let next = match safe_next(Some(&auth.next)) {
        n if n == "/" => "/officer".to_owned(),
        n => n,
    };
    Ok(Completed {
        location: next,
        session_token: Some(token),
    })
}

async fn record_officer(
    state: &SignIn,
    session: &crate::sessions::Session,
    officer_id: &str,
    provider_id: &str,
    loa: u8,
) -> Result<(), Error> {
    let txn = state.db.begin().await?;
    officer_session::ActiveModel {
        session_hash: Set(session.id_hash.clone()),
        officer_id: Set(officer_id.to_owned()),
        provider_id: Set(provider_id.to_owned()),
        created_at: Set(store::now_ms()),
    }
    .insert(&txn)
    .await?;
    let mut record = AuditLog::record(
        Action::SignIn,
        Outcome::Ok,
        Actor::new(ActorKind::Officer, officer_id),
    );
    record
        .detail
        .insert("provider".into(), provider_id.to_owned());
    record.detail.insert("loa".into(), loa.to_string());
    record.detail.insert("role".into(), "officer".into());
    state.audit.append_in(&txn, record).await?;
    txn.commit().await?;
    Ok(())
}

/// The configured officer an officer session belongs to (for the audit log's actor).
pub async fn officer_of(
    db: &sea_orm::DatabaseConnection,
    session: &crate::sessions::Session,
) -> Result<Option<String>, sea_orm::DbErr> {
    use sea_orm::EntityTrait;
    Ok(officer_session::Entity::find_by_id(session.id_hash.clone())
        .one(db)
        .await?
        .map(|row| row.officer_id))
}

/// A sign-in that failed after its `state` proved it was started in this browser is audited.
pub async fn audit_failure(
    state: &SignIn,
    provider: &super::providers::Provider,
    purpose: Purpose,
    error: &Error,
) {
    let code = error.code();
    let mut record = AuditLog::record(
        Action::SignInFailed,
        if matches!(
            error,
            Error::SignIn(SignInError::ProviderUnavailable { .. })
        ) {
            Outcome::Error
        } else {
            Outcome::Deny
        },
        Actor::new(ActorKind::Provider, provider.config.issuer.clone()),
    );
    record.reasons = vec![code.to_owned()];
    record
        .detail
        .insert("provider".into(), provider.config.id.clone());
    record.detail.insert(
        "purpose".into(),
        match purpose {
            Purpose::Citizen => "citizen",
            Purpose::Officer => "officer",
            Purpose::Link => "link",
        }
        .into(),
    );
    if let Err(e) = state.audit.append(record).await {
        tracing::error!(error = %e, "cannot audit a failed sign-in");
    }
}

/// Signs out: ends the broker session, with its audit record; returns the provider's end-session
/// URL (RP-initiated logout, returning to `done`) when the session's provider has one.
pub async fn sign_out(state: &SignIn, s: &Session, done: &str) -> Result<Option<String>, Error> {
    crate::sessions::end(&state.db, &s.id_hash).await?;
    let actor = match (s.role, &s.citizen_id) {
        (Role::Citizen, Some(id)) => Actor::new(ActorKind::Citizen, id.clone()),
        _ => Actor::new(
            ActorKind::Officer,
            officer_of(&state.db, s)
                .await?
                .unwrap_or_else(|| "unknown".into()),
        ),
    };
    let mut record = AuditLog::record(Action::SignOut, Outcome::Ok, actor);
    record.citizen_id = s.citizen_id.clone();
    if let Some(p) = &s.provider_id {
        record.detail.insert("provider".into(), p.clone());
    }
    state.audit.append(record).await?;
    Ok(end_session_url(state, s, done))
}

/// The provider's end-session URL with `id_token_hint`, `post_logout_redirect_uri` and
/// `client_id`, when the session's provider advertises one.
fn end_session_url(state: &SignIn, s: &Session, done: &str) -> Option<String> {
    let provider = state.providers.get(s.provider_id.as_deref()?).ok()?;
    let hint = s.id_token_hint.as_deref()?;
    let discovered = provider.current()?;
    let mut url = discovered.end_session_endpoint()?.url().clone();
    url.query_pairs_mut()
        .append_pair("id_token_hint", hint)
        .append_pair("post_logout_redirect_uri", done)
        .append_pair("client_id", &provider.config.client_id);
    Some(url.to_string())
}
