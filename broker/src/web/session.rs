//! Server-side browser sessions. The cookie carries 32 random bytes; the database keeps only their
//! SHA-256, so a leaked database cannot be replayed as cookies. Sessions end on sign-out, after the
//! idle timeout, and at the absolute timeout, whichever comes first.
//!
//! Access control is a type: a handler that takes [`CitizenSession`] cannot run without a live
//! citizen session, and one that takes [`OfficerSession`] without an officer's.

mod entity;

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{FromRequest, HttpRequest, web};
use ring::rand::{SecureRandom, SystemRandom};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use crate::config::Config;
use crate::error::Error;
use crate::jose::b64;
use crate::server::AppState;
use crate::store::now_ms;

pub use entity::Model as SessionRow;

pub const SESSION_COOKIE: &str = "tuo_session";

/// Only refresh `last_seen_at` when it is this stale, to spare a write per request.
const TOUCH_EVERY_MS: i64 = 30_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Citizen,
    Officer,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Citizen => "citizen",
            Role::Officer => "officer",
        }
    }
}

/// A live session, as loaded for one request.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub citizen_id: Option<String>,
    pub role: Role,
    pub provider_id: Option<String>,
    pub loa: u8,
    pub csrf_token: String,
    pub created_at: i64,
    /// The upstream ID token, kept only to send as `id_token_hint` at sign-out. Never logged.
    pub id_token_hint: Option<String>,
}

/// What a new session is for.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub citizen_id: Option<String>,
    pub role: Role,
    pub provider_id: Option<String>,
    pub loa: u8,
    pub id_token_hint: Option<String>,
}

fn random_token() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Internal("random source failed".into()))?;
    Ok(b64(bytes))
}

fn hash(token: &str) -> String {
    hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        token.as_bytes(),
    ))
}

/// Starts a session and returns the cookie value (the raw token) with it.
pub async fn start(
    db: &DatabaseConnection,
    config: &Config,
    new: NewSession,
) -> Result<(String, Session), Error> {
    let token = random_token()?;
    let now = now_ms();
    let s = &config.sessions;
    let row = entity::ActiveModel {
        id_hash: Set(hash(&token)),
        citizen_id: Set(new.citizen_id.clone()),
        role: Set(new.role.as_str().to_owned()),
        csrf_token: Set(random_token()?),
        provider_id: Set(new.provider_id.clone()),
        loa: Set(i16::from(new.loa)),
        id_token_hint: Set(new.id_token_hint.clone()),
        created_at: Set(now),
        last_seen_at: Set(now),
        idle_expires_at: Set(now + (s.idle_timeout_secs as i64) * 1000),
        absolute_expires_at: Set(now + (s.absolute_timeout_secs as i64) * 1000),
        ended_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok((token, to_session(row)))
}

fn to_session(row: entity::Model) -> Session {
    Session {
        role: if row.role == "officer" {
            Role::Officer
        } else {
            Role::Citizen
        },
        id_hash: row.id_hash,
        citizen_id: row.citizen_id,
        provider_id: row.provider_id,
        loa: u8::try_from(row.loa).unwrap_or(1),
        csrf_token: row.csrf_token,
        created_at: row.created_at,
        id_token_hint: row.id_token_hint,
    }
}

/// Loads a live session by cookie token, sliding its idle expiry.
pub async fn find(
    db: &DatabaseConnection,
    config: &Config,
    token: &str,
) -> Result<Option<Session>, Error> {
    let Some(row) = entity::Entity::find_by_id(hash(token)).one(db).await? else {
        return Ok(None);
    };
    let now = now_ms();
    if row.ended_at.is_some() || now >= row.idle_expires_at || now >= row.absolute_expires_at {
        return Ok(None);
    }
    if now - row.last_seen_at >= TOUCH_EVERY_MS {
        let idle = now + (config.sessions.idle_timeout_secs as i64) * 1000;
        entity::Entity::update_many()
            .col_expr(
                entity::Column::LastSeenAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .col_expr(
                entity::Column::IdleExpiresAt,
                sea_orm::sea_query::Expr::value(idle),
            )
            .filter(entity::Column::IdHash.eq(row.id_hash.clone()))
            .exec(db)
            .await?;
    }
    Ok(Some(to_session(row)))
}

/// Ends one session (sign-out).
pub async fn end(db: &DatabaseConnection, id_hash: &str) -> Result<(), Error> {
    entity::Entity::update_many()
        .col_expr(
            entity::Column::EndedAt,
            sea_orm::sea_query::Expr::value(now_ms()),
        )
        .filter(entity::Column::IdHash.eq(id_hash))
        .exec(db)
        .await?;
    Ok(())
}

/// Ends every session of a citizen (e.g. after unlinking a sign-in or erasure).
pub async fn end_all_for_citizen(db: &DatabaseConnection, citizen_id: &str) -> Result<(), Error> {
    entity::Entity::update_many()
        .col_expr(
            entity::Column::EndedAt,
            sea_orm::sea_query::Expr::value(now_ms()),
        )
        .filter(entity::Column::CitizenId.eq(citizen_id))
        .filter(entity::Column::EndedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// The session cookie: `Secure` (unless switched off for loopback http), `HttpOnly`, `SameSite=Lax`.
pub fn cookie(config: &Config, token: &str) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token.to_owned())
        .path("/")
        .http_only(true)
        .secure(config.secure_cookies())
        .same_site(SameSite::Lax)
        .finish()
}

/// A cookie that removes the session cookie.
pub fn removal_cookie(config: &Config) -> Cookie<'static> {
    let mut c = cookie(config, "");
    c.make_removal();
    c
}

async fn from_request(req: &HttpRequest) -> Result<Option<Session>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Err(Error::Internal("application state missing".into()));
    };
    let Some(token) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    find(&state.db, &state.config, token.value()).await
}

fn sign_in_required(req: &HttpRequest, path: &'static str) -> Error {
    let next = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    Error::SignInRequired { to: path, next }
}

/// A request from a signed-in citizen. Handlers taking this cannot run without one.
#[derive(Debug, Clone)]
pub struct CitizenSession {
    pub session: Session,
    pub citizen_id: String,
}

impl FromRequest for CitizenSession {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match from_request(&req).await? {
                Some(session) if session.role == Role::Citizen => {
                    match session.citizen_id.clone() {
                        Some(citizen_id) => Ok(CitizenSession {
                            session,
                            citizen_id,
                        }),
                        None => Err(sign_in_required(&req, "/signin")),
                    }
                }
                _ => Err(sign_in_required(&req, "/signin")),
            }
        })
    }
}

/// A request from a signed-in privacy officer.
#[derive(Debug, Clone)]
pub struct OfficerSession {
    pub session: Session,
}

impl FromRequest for OfficerSession {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match from_request(&req).await? {
                Some(session) if session.role == Role::Officer => Ok(OfficerSession { session }),
                _ => Err(sign_in_required(&req, "/officer/signin")),
            }
        })
    }
}

/// Any session, or none (pages that change with sign-in but do not need it).
#[derive(Debug, Clone)]
pub struct MaybeSession(pub Option<Session>);

impl FromRequest for MaybeSession {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(MaybeSession(from_request(&req).await?)) })
    }
}
