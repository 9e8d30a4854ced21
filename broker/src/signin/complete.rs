//! What a proven upstream identity leads to: a citizen session (creating the citizen and link on a
//! first sign-in), a second link for the signed-in citizen, or an officer session for a configured
//! officer. Claims are recorded with provenance in the same transaction as the link and the audit
//! record; the session starts only after that commits.

use actix_web::HttpRequest;
use actix_web::cookie::Cookie;
use sea_orm::{ActiveModelTrait, DatabaseTransaction, Set, TransactionTrait};

use super::claims;
use super::entities::officer_session;
use super::error::SignInError;
use super::flow::{Authenticated, Purpose};
use super::links;
use crate::audit_log::{Action, Actor, ActorKind, AuditLog, Outcome};
use crate::citizens::{self, CitizenError, Status};
use crate::error::Error;
use crate::server::AppState;
use crate::web::lang::safe_next;
use crate::web::session::{self, NewSession, Role, SESSION_COOKIE};

/// Where the browser goes next, with the session cookie to set when one started.
#[derive(Debug)]
pub struct Completed {
    pub location: String,
    pub session_cookie: Option<Cookie<'static>>,
}

pub fn citizen_error(e: CitizenError) -> Error {
    match e {
        CitizenError::Erased | CitizenError::NotFound(_) => SignInError::CitizenUnavailable.into(),
        CitizenError::Db(db) => Error::Db(db),
        other => Error::Internal(format!("citizen store: {other}")),
    }
}

fn is_unique_violation(e: &Error) -> bool {
    matches!(e, Error::Db(db) if matches!(db.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))))
}

pub async fn complete(
    state: &AppState,
    req: &HttpRequest,
    auth: Authenticated,
) -> Result<Completed, Error> {
    match auth.purpose {
        Purpose::Citizen => citizen(state, req, auth).await,
        Purpose::Officer => officer(state, req, auth).await,
        Purpose::Link => link(state, req, auth).await,
    }
}

/// Ends the session this browser already had (a new sign-in replaces it).
async fn end_current(state: &AppState, req: &HttpRequest) -> Result<(), Error> {
    if let Some(token) = req.cookie(SESSION_COOKIE)
        && let Some(old) = session::find(&state.db, &state.config, token.value()).await?
    {
        session::end(&state.db, &old.id_hash).await?;
    }
    Ok(())
}

async fn citizen(
    state: &AppState,
    req: &HttpRequest,
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
    end_current(state, req).await?;
    let (token, _) = session::start(
        &state.db,
        &state.config,
        NewSession {
            citizen_id: Some(citizen_id),
            role: Role::Citizen,
            provider_id: Some(auth.provider.config.id.clone()),
            loa: auth.loa,
            id_token_hint: Some(auth.id_token.clone()),
        },
    )
    .await?;
    let next = match safe_next(Some(&auth.next)) {
        n if n == "/" => "/me".to_owned(),
        n => n,
    };
    Ok(Completed {
        location: next,
        session_cookie: Some(session::cookie(&state.config, &token)),
    })
}

/// The citizen for this identity (created with its link on first sign-in), claims recorded, the
/// sign-in audited: all in `txn`.
async fn sign_in_in(
    state: &AppState,
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
    state: &AppState,
    req: &HttpRequest,
    auth: Authenticated,
) -> Result<Completed, Error> {
    // The citizen proves the first identity by the session that started this sign-in, still live
    // in this browser.
    let current = match req.cookie(SESSION_COOKIE) {
        Some(token) => session::find(&state.db, &state.config, token.value()).await?,
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
        session_cookie: None,
    })
}

async fn officer(
    state: &AppState,
    req: &HttpRequest,
    auth: Authenticated,
) -> Result<Completed, Error> {
    let provider_id = auth.provider.config.id.clone();
    let Some(officer) = state
        .config
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
    end_current(state, req).await?;
    let (token, session) = session::start(
        &state.db,
        &state.config,
        NewSession {
            citizen_id: None,
            role: Role::Officer,
            provider_id: Some(provider_id.clone()),
            loa: auth.loa,
            id_token_hint: Some(auth.id_token.clone()),
        },
    )
    .await?;
    let recorded = record_officer(state, &session, &officer.id, &provider_id, auth.loa).await;
    if let Err(e) = recorded {
        // No officer session without its officer row and audit record.
        session::end(&state.db, &session.id_hash).await?;
        return Err(e);
    }
    let next = match safe_next(Some(&auth.next)) {
        n if n == "/" => "/officer".to_owned(),
        n => n,
    };
    Ok(Completed {
        location: next,
        session_cookie: Some(session::cookie(&state.config, &token)),
    })
}

async fn record_officer(
    state: &AppState,
    session: &session::Session,
    officer_id: &str,
    provider_id: &str,
    loa: u8,
) -> Result<(), Error> {
    let txn = state.db.begin().await?;
    officer_session::ActiveModel {
        session_hash: Set(session.id_hash.clone()),
        officer_id: Set(officer_id.to_owned()),
        provider_id: Set(provider_id.to_owned()),
        created_at: Set(crate::store::now_ms()),
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
    session: &session::Session,
) -> Result<Option<String>, sea_orm::DbErr> {
    use sea_orm::EntityTrait;
    Ok(officer_session::Entity::find_by_id(session.id_hash.clone())
        .one(db)
        .await?
        .map(|row| row.officer_id))
}
