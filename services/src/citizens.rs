//! Citizens and the facts held about them: versioned attribute values with provenance, encrypted
//! at rest under each citizen's data key ([`crate::vault`]), and pairwise subject identifiers.
//!
//! INVARIANT: a value is never overwritten: every change is a new version. Values leave this module
//! only as [`Fact`]s handed to callers that must not log them.

pub mod entities;
pub mod pairwise;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};

use crate::vault::{Sealed, Vault, VaultError};
use entities::{attribute_value, citizen, citizen_key};
use store::now_ms;

#[derive(Debug, thiserror::Error)]
pub enum CitizenError {
    #[error("no citizen `{0}`")]
    NotFound(String),
    #[error("the citizen's data has been erased")]
    Erased,
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("a stored value is not valid JSON")]
    Corrupt,
    /// A stored status, source kind or level this code does not know: refused, never guessed.
    #[error("stored {field} `{value}` is not one this broker knows")]
    Unknown { field: &'static str, value: String },
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
}

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Asserted by a credential provider at sign-in.
    Provider,
    /// Reported by a department (authoritative for the attribute).
    Department,
    /// Entered by the citizen.
    Citizen,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Provider => "provider",
            SourceKind::Department => "department",
            SourceKind::Citizen => "citizen",
        }
    }
    fn parse(s: &str) -> Result<SourceKind, CitizenError> {
        match s {
            "provider" => Ok(SourceKind::Provider),
            "department" => Ok(SourceKind::Department),
            "citizen" => Ok(SourceKind::Citizen),
            other => Err(unknown("source kind", other)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub source_kind: SourceKind,
    /// Provider id, department id, or `citizen`.
    pub source_id: String,
    /// How it was established: `asserted`, `registry`, `document`, `self-declared`, …
    pub method: String,
    /// Level of assurance 1–4 (Pan-Canadian Trust Framework).
    pub loa: u8,
    pub verified: bool,
    pub recorded_at: i64,
}

/// One version of one attribute of one citizen, decrypted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fact {
    pub attribute: String,
    pub version: i32,
    pub value: serde_json::Value,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Deceased,
    Erased,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citizen {
    pub id: String,
    pub status: Status,
    pub created_at: i64,
    pub deceased_at: Option<i64>,
}

/// A stored word this code does not know (at most 32 characters of it, for the log).
fn unknown(field: &'static str, value: &str) -> CitizenError {
    CitizenError::Unknown {
        field,
        value: value.chars().take(32).collect(),
    }
}

fn to_citizen(m: citizen::Model) -> Result<Citizen, CitizenError> {
    let status = match m.status.as_str() {
        "active" => Status::Active,
        "deceased" => Status::Deceased,
        "erased" => Status::Erased,
        other => return Err(unknown("citizen status", other)),
    };
    Ok(Citizen {
        id: m.id,
        status,
        created_at: m.created_at,
        deceased_at: m.deceased_at,
    })
}

/// Creates a citizen with a fresh data key. Call inside the transaction that creates its first link.
pub async fn create<C: ConnectionTrait>(conn: &C, vault: &Vault) -> Result<String, CitizenError> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_ms();
    citizen::ActiveModel {
        id: Set(id.clone()),
        status: Set("active".into()),
        created_at: Set(now),
        deceased_at: Set(None),
        erased_at: Set(None),
    }
    .insert(conn)
    .await?;
    let (master_key_id, wrapped) = vault.new_wrapped_data_key(&id)?;
    citizen_key::ActiveModel {
        citizen_id: Set(id.clone()),
        master_key_id: Set(master_key_id),
        wrapped_key: Set(wrapped),
        created_at: Set(now),
        wrapped_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(id)
}

pub async fn get<C: ConnectionTrait>(conn: &C, id: &str) -> Result<Option<Citizen>, CitizenError> {
    citizen::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .map(to_citizen)
        .transpose()
}

async fn data_key<C: ConnectionTrait>(
    conn: &C,
    vault: &Vault,
    id: &str,
) -> Result<crate::vault::DataKey, CitizenError> {
    let row = citizen_key::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .ok_or(CitizenError::Erased)?;
    Ok(vault.unwrap(id, &row.master_key_id, &row.wrapped_key)?)
}

fn decrypt(dk: &crate::vault::DataKey, row: attribute_value::Model) -> Result<Fact, CitizenError> {
    let sealed = Sealed {
        nonce: row.nonce,
        ciphertext: row.ciphertext,
    };
    let plain = dk.open_value(&row.citizen_id, &row.attribute, row.version, &sealed)?;
    let value = serde_json::from_slice(&plain).map_err(|_| CitizenError::Corrupt)?;
    Ok(Fact {
        attribute: row.attribute,
        version: row.version,
        value,
        provenance: Provenance {
            source_kind: SourceKind::parse(&row.source_kind)?,
            source_id: row.source_id,
            method: row.method,
            loa: u8::try_from(row.loa)
                .ok()
                .filter(|loa| (1..=4).contains(loa))
                .ok_or_else(|| unknown("level of assurance", &row.loa.to_string()))?,
            verified: row.verified,
            recorded_at: row.recorded_at,
        },
    })
}

/// The current (latest) version of each attribute, or of `only` those attributes when given.
pub async fn current_facts<C: ConnectionTrait>(
    conn: &C,
    vault: &Vault,
    id: &str,
    only: Option<&[&str]>,
) -> Result<Vec<Fact>, CitizenError> {
    let mut query =
        attribute_value::Entity::find().filter(attribute_value::Column::CitizenId.eq(id));
    if let Some(names) = only {
        query = query.filter(attribute_value::Column::Attribute.is_in(names.iter().copied()));
    }
    let rows = query
        .order_by_asc(attribute_value::Column::Attribute)
        .order_by_desc(attribute_value::Column::Version)
        .all(conn)
        .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let dk = data_key(conn, vault, id).await?;
    let mut facts: Vec<Fact> = Vec::new();
    for row in rows {
        if facts.last().is_some_and(|f| f.attribute == row.attribute) {
            continue; // an older version
        }
        facts.push(decrypt(&dk, row)?);
    }
    Ok(facts)
}

pub async fn current_fact<C: ConnectionTrait>(
    conn: &C,
    vault: &Vault,
    id: &str,
    attribute: &str,
) -> Result<Option<Fact>, CitizenError> {
    Ok(current_facts(conn, vault, id, Some(&[attribute]))
        .await?
        .into_iter()
        .next())
}

/// Every version of one attribute, newest first.
pub async fn history<C: ConnectionTrait>(
    conn: &C,
    vault: &Vault,
    id: &str,
    attribute: &str,
) -> Result<Vec<Fact>, CitizenError> {
    let rows = attribute_value::Entity::find()
        .filter(attribute_value::Column::CitizenId.eq(id))
        .filter(attribute_value::Column::Attribute.eq(attribute))
        .order_by_desc(attribute_value::Column::Version)
        .all(conn)
        .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let dk = data_key(conn, vault, id).await?;
    rows.into_iter().map(|r| decrypt(&dk, r)).collect()
}

/// One version of one attribute (the relay builds a delivery from the version it recorded).
pub async fn version<C: ConnectionTrait>(
    conn: &C,
    vault: &Vault,
    id: &str,
    attribute: &str,
    version: i32,
) -> Result<Option<Fact>, CitizenError> {
    let row = attribute_value::Entity::find()
        .filter(attribute_value::Column::CitizenId.eq(id))
        .filter(attribute_value::Column::Attribute.eq(attribute))
        .filter(attribute_value::Column::Version.eq(version))
        .one(conn)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let dk = data_key(conn, vault, id).await?;
    decrypt(&dk, row).map(Some)
}

/// Records a new version of an attribute and returns its version number.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    vault: &Vault,
    id: &str,
    attribute: &str,
    value: &serde_json::Value,
    provenance: &Provenance,
) -> Result<i32, CitizenError> {
    let dk = data_key(conn, vault, id).await?;
    let latest = attribute_value::Entity::find()
        .filter(attribute_value::Column::CitizenId.eq(id))
        .filter(attribute_value::Column::Attribute.eq(attribute))
        .order_by_desc(attribute_value::Column::Version)
        .one(conn)
        .await?;
    let version = latest.map_or(1, |r| r.version + 1);
    let plain = serde_json::to_vec(value).map_err(|_| CitizenError::Corrupt)?;
    let sealed = dk.seal_value(id, attribute, version, &plain)?;
    attribute_value::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        citizen_id: Set(id.to_owned()),
        attribute: Set(attribute.to_owned()),
        version: Set(version),
        nonce: Set(sealed.nonce),
        ciphertext: Set(sealed.ciphertext),
        source_kind: Set(provenance.source_kind.as_str().to_owned()),
        source_id: Set(provenance.source_id.clone()),
        method: Set(provenance.method.clone()),
        loa: Set(i16::from(provenance.loa)),
        verified: Set(provenance.verified),
        recorded_at: Set(provenance.recorded_at),
    }
    .insert(conn)
    .await?;
    Ok(version)
}

/// What happened to a value a credential provider asserted.
#[derive(Debug, Clone, PartialEq)]
pub enum AssertOutcome {
    Recorded(i32),
    /// Same value from the same source: no new version.
    Unchanged,
    /// A department verified the current value at a higher level of assurance: kept.
    KeptVerified {
        by: String,
        loa: u8,
    },
}

/// Records a provider-asserted value as a new version, unless it repeats the current one or the
/// current one was verified by a department at a higher level of assurance (never silently
/// overwritten).
pub async fn record_asserted<C: ConnectionTrait>(
    conn: &C,
    vault: &Vault,
    id: &str,
    attribute: &str,
    value: &serde_json::Value,
    provenance: &Provenance,
) -> Result<AssertOutcome, CitizenError> {
    if let Some(current) = current_fact(conn, vault, id, attribute).await? {
        let p = &current.provenance;
        if p.source_kind == SourceKind::Department && p.verified && p.loa > provenance.loa {
            return Ok(AssertOutcome::KeptVerified {
                by: p.source_id.clone(),
                loa: p.loa,
            });
        }
        if current.value == *value
            && p.source_kind == provenance.source_kind
            && p.source_id == provenance.source_id
        {
            return Ok(AssertOutcome::Unchanged);
        }
    }
    Ok(AssertOutcome::Recorded(
        record(conn, vault, id, attribute, value, provenance).await?,
    ))
}

/// Holds the citizen's row until the caller's transaction ends: transactions that queue
/// deliveries about one citizen run one after the other (a row lock on PostgreSQL, the write lock
/// on SQLite), so their deliveries get their `seq` in commit order — per citizen, never across
/// citizens. The first write of such a transaction.
pub async fn lock<C: ConnectionTrait>(conn: &C, id: &str) -> Result<(), CitizenError> {
    citizen::Entity::update_many()
        .col_expr(citizen::Column::Status, Expr::col(citizen::Column::Status))
        .filter(citizen::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn mark_deceased<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    at_ms: i64,
) -> Result<(), CitizenError> {
    citizen::Entity::update_many()
        .col_expr(citizen::Column::Status, Expr::value("deceased"))
        .col_expr(citizen::Column::DeceasedAt, Expr::value(at_ms))
        .filter(citizen::Column::Id.eq(id))
        .filter(citizen::Column::Status.eq("active"))
        .exec(conn)
        .await?;
    Ok(())
}

/// Crypto-erasure: destroys the citizen's data key (their stored values can no longer be read) and
/// their pairwise mappings. The encrypted rows may remain; they are noise without the key.
pub async fn erase<C: ConnectionTrait>(conn: &C, id: &str) -> Result<(), CitizenError> {
    if get(conn, id).await?.is_none() {
        return Err(CitizenError::NotFound(id.to_owned()));
    }
    citizen_key::Entity::delete_by_id(id.to_owned())
        .exec(conn)
        .await?;
    entities::pairwise_subject::Entity::delete_many()
        .filter(entities::pairwise_subject::Column::CitizenId.eq(id))
        .exec(conn)
        .await?;
    citizen::Entity::update_many()
        .col_expr(citizen::Column::Status, Expr::value("erased"))
        .col_expr(citizen::Column::ErasedAt, Expr::value(now_ms()))
        .filter(citizen::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Re-wraps every data key not yet under the current master key. Returns how many changed.
pub async fn rotate_data_keys<C: ConnectionTrait>(
    conn: &C,
    vault: &Vault,
) -> Result<usize, CitizenError> {
    let stale = citizen_key::Entity::find()
        .filter(citizen_key::Column::MasterKeyId.ne(vault.current_master_key()))
        .all(conn)
        .await?;
    let count = stale.len();
    for row in stale {
        let (kid, wrapped) = vault.rewrap(&row.citizen_id, &row.master_key_id, &row.wrapped_key)?;
        citizen_key::ActiveModel {
            citizen_id: Set(row.citizen_id),
            master_key_id: Set(kid),
            wrapped_key: Set(wrapped),
            created_at: Set(row.created_at),
            wrapped_at: Set(now_ms()),
        }
        .update(conn)
        .await?;
    }
    Ok(count)
}

#[cfg(test)]
mod tests;
