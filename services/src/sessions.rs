//! Server-side browser sessions. The cookie carries 32 random bytes; the database keeps only their
//! SHA-256, so a leaked database cannot be replayed as cookies. Sessions end on sign-out, after the
//! idle timeout, and at the absolute timeout, whichever comes first.
//!
//! The cookie itself and the access-control types built on it (`CitizenSession`,
//! `OfficerSession`) are the web layer's (`web::session`).

mod entity;
mod settings;

use std::sync::Arc;

use ring::rand::{SecureRandom, SystemRandom};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

pub use entity::Model as SessionRow;
pub use settings::SessionsConfig;

use crate::error::Error;
use crate::jose::b64;
use store::now_ms;

/// Browser sessions: the table and how long a session lives.
#[derive(Debug, Clone)]
pub struct Sessions {
    pub db: DatabaseConnection,
    pub settings: Arc<SessionsConfig>,
}

impl Sessions {
    /// Starts a session and returns the cookie value (the raw token) with it.
    pub async fn start(&self, new: NewSession) -> Result<(String, Session), Error> {
        start(&self.db, &self.settings, new).await
    }

    /// Loads a live session by cookie token, sliding its idle expiry.
    pub async fn find(&self, token: &str) -> Result<Option<Session>, Error> {
        find(&self.db, &self.settings, token).await
    }
}

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
    /// The delegation the citizen acts under, if they chose "acting for …", with the label the
    /// banner shows. Checked against the ledger at every request (`consents::delegations`).
    pub acting_for: Option<ActingFor>,
}

/// "Acting for …" as the session remembers it: only a pointer, never an authorisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActingFor {
    pub delegation_id: String,
    pub label: String,
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
    settings: &SessionsConfig,
    new: NewSession,
) -> Result<(String, Session), Error> {
    let token = random_token()?;
    let now = now_ms();
    let s = settings;
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
        acting_for: Set(None),
        acting_label: Set(None),
    }
    .insert(db)
    .await?;
    Ok((token, to_session(row)?))
}

/// A stored session; an unknown role or level is refused, never read as a citizen at level 1.
fn to_session(row: entity::Model) -> Result<Session, Error> {
    let role = match row.role.as_str() {
        "citizen" => Role::Citizen,
        "officer" => Role::Officer,
        _ => {
            return Err(Error::Internal(
                "a stored session has an unknown role".into(),
            ));
        }
    };
    let loa = u8::try_from(row.loa)
        .ok()
        .filter(|l| (1..=4).contains(l))
        .ok_or_else(|| Error::Internal("a stored session has an unknown level".into()))?;
    Ok(Session {
        role,
        id_hash: row.id_hash,
        citizen_id: row.citizen_id,
        provider_id: row.provider_id,
        loa,
        csrf_token: row.csrf_token,
        created_at: row.created_at,
        id_token_hint: row.id_token_hint,
        acting_for: match (row.acting_for, row.acting_label) {
            (Some(delegation_id), Some(label)) => Some(ActingFor {
                delegation_id,
                label,
            }),
            (None, None) => None,
            _ => {
                return Err(Error::Internal(
                    "a stored session acts for half a delegation".into(),
                ));
            }
        },
    })
}

/// Starts or stops acting for another citizen in this session (the delegation is checked by the
/// caller, and again at every request).
pub async fn set_acting_for(
    db: &DatabaseConnection,
    id_hash: &str,
    acting: Option<&ActingFor>,
) -> Result<(), Error> {
    entity::Entity::update_many()
        .col_expr(
            entity::Column::ActingFor,
            sea_orm::sea_query::Expr::value(acting.map(|a| a.delegation_id.clone())),
        )
        .col_expr(
            entity::Column::ActingLabel,
            sea_orm::sea_query::Expr::value(acting.map(|a| a.label.clone())),
        )
        .filter(entity::Column::IdHash.eq(id_hash))
        .exec(db)
        .await?;
    Ok(())
}

/// Loads a live session by cookie token, sliding its idle expiry.
pub async fn find(
    db: &DatabaseConnection,
    settings: &SessionsConfig,
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
        let idle = now + (settings.idle_timeout_secs as i64) * 1000;
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
    Ok(Some(to_session(row)?))
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
