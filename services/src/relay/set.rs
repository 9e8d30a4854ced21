//! The Security Event Token (RFC 8417) of one delivery, built at delivery time from the value
//! version the change recorded, and signed by the broker (`typ: secevent+jwt`, keys at
//! `/jwks.json`).
//!
//! Claims: `iss` (the broker), `aud` (the department id), `iat` (when the delivery was queued:
//! the same on every attempt), `jti` (the delivery id), `txn` (the change's audit record), `sub`
//! (the department's pairwise subject id), `toe` (when the change happened) and `events`, one
//! member keyed by the event type URI (`urn:tell-us-once:secevent:<change>`) with the change
//! type, the purpose and consent it is sent under and, for a new value, `verified_claims`
//! (OpenID Connect for Identity Assurance) holding the new values with their provenance.

use policies::ReleaseGrant;
use sea_orm::EntityTrait;
use serde_json::{Map, Value, json};

use super::EventKind;
use super::entities::{change, delivery};
use super::outbox::Ended;
use crate::citizens::{self, CitizenError};
use crate::departments::Department;
use crate::relay::Relay;

/// The JOSE `typ` of a SET (RFC 8417 §2.3).
pub const SET_TYP: &str = "secevent+jwt";

/// Why a SET cannot be built. Permanent unless [`BuildError::is_transient`]: the delivery is
/// dead-lettered with the code.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the recorded value of `{0}` is gone")]
    ValueMissing(String),
    #[error("the stored change is not readable")]
    Corrupt,
    #[error("cannot read the citizen's facts: {0}")]
    Citizen(#[from] CitizenError),
    #[error("cannot read the consent behind the delivery")]
    Consent,
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("signing failed")]
    Sign(#[from] crate::keys::SignError),
}

impl BuildError {
    /// A stable code for the delivery's `last_error`.
    pub fn code(&self) -> &'static str {
        match self {
            BuildError::Citizen(CitizenError::Erased) => "citizen_erased",
            BuildError::ValueMissing(_) => "value_missing",
            BuildError::Corrupt | BuildError::Citizen(_) | BuildError::Consent => {
                "change_unreadable"
            }
            BuildError::Db(_) => "database_error",
            BuildError::Sign(_) => "signing_failed",
        }
    }

    /// Whether trying again later may help.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            BuildError::Db(_) | BuildError::Sign(_) | BuildError::Citizen(CitizenError::Db(_))
        )
    }
}

/// The attribute versions a change recorded; a row that does not read is an error, never empty.
pub fn versions(change: &change::Model) -> Result<Vec<(String, i32)>, BuildError> {
    let items = change.attributes.as_array().ok_or(BuildError::Corrupt)?;
    items
        .iter()
        .map(|i| {
            let name = i.get("name").and_then(Value::as_str);
            let version = i
                .get("version")
                .and_then(Value::as_i64)
                .and_then(|v| i32::try_from(v).ok());
            match (name, version) {
                (Some(name), Some(version)) => Ok((name.to_owned(), version)),
                _ => Err(BuildError::Corrupt),
            }
        })
        .collect()
}

/// The attribute names a delivery row carries.
pub fn names(delivery: &delivery::Model) -> Result<Vec<String>, BuildError> {
    serde_json::from_value(delivery.attributes.clone()).map_err(|_| BuildError::Corrupt)
}

/// The department's pairwise id for the citizen: read when already issued (most deliveries), else
/// issued now (recorded, so the department can call back with it).
async fn pairwise(state: &Relay, sector: &str, citizen: &str) -> Result<String, BuildError> {
    use crate::citizens::entities::pairwise_subject;
    let subject = citizens::pairwise::compute(&state.secrets.pairwise, sector, citizen);
    let known = pairwise_subject::Entity::find_by_id((sector.to_owned(), subject.clone()))
        .one(&state.db)
        .await?;
    if known.is_some_and(|row| row.citizen_id == citizen) {
        return Ok(subject);
    }
    Ok(
        citizens::pairwise::subject_for(&state.db, &state.secrets.pairwise, sector, citizen)
            .await?,
    )
}

/// The claims common to every SET, with the event's `body`.
async fn envelope(
    state: &Relay,
    delivery: &delivery::Model,
    change: &change::Model,
    department: &Department,
    kind: EventKind,
    mut body: Map<String, Value>,
    attributes: Vec<String>,
) -> Result<Value, BuildError> {
    let subject = pairwise(state, &department.sector_identifier, &delivery.citizen_id).await?;
    body.insert("change".into(), json!(kind.as_str()));
    if let Some(purpose) = &delivery.purpose {
        body.insert("purpose".into(), json!(purpose));
    }
    if let Some(consent) = &delivery.consent_id {
        body.insert("consent_id".into(), json!(consent));
    }
    body.insert("attributes".into(), json!(attributes));
    let mut claims = json!({
        "iss": state.issuer,
        "aud": department.id,
        "iat": delivery.created_at / 1000,
        "jti": delivery.id,
        "txn": change.txn,
        "sub": subject,
        "toe": change.created_at / 1000,
        "events": { kind.uri(): Value::Object(body) },
    });
    // A change a delegate entered for the citizen: RFC 8693 `act` names the delegate in the
    // recipient's pairwise terms (never the internal id).
    if let (Some(delegate), Some(map)) = (&change.delegate_id, claims.as_object_mut()) {
        let act = citizens::pairwise::compute(
            &state.secrets.pairwise,
            &department.sector_identifier,
            delegate,
        );
        map.insert("act".into(), json!({ "sub": act }));
    }
    Ok(claims)
}

/// The claims of a SET that carries new values: exactly the attributes `grant` lists, from the
/// versions the change recorded. The grant is spent.
pub async fn disclosure(
    state: &Relay,
    grant: ReleaseGrant,
    delivery: &delivery::Model,
    change: &change::Model,
    department: &Department,
) -> Result<Value, BuildError> {
    let kind = EventKind::parse(&delivery.event).ok_or(BuildError::Corrupt)?;
    if !kind.carries_values() || grant.department() != department.id {
        return Err(BuildError::Corrupt);
    }
    let attributes: Vec<String> = grant.attributes().map(str::to_owned).collect();
    let mut body = Map::new();
    body.insert(
        "verified_claims".into(),
        verified_claims(state, delivery, change, &attributes).await?,
    );
    envelope(state, delivery, change, department, kind, body, attributes).await
}

/// The claims of a SET that carries no value: a consent that ended, or releases stopped after a
/// death.
pub async fn notice(
    state: &Relay,
    delivery: &delivery::Model,
    change: &change::Model,
    department: &Department,
) -> Result<Value, BuildError> {
    let kind = EventKind::parse(&delivery.event).ok_or(BuildError::Corrupt)?;
    let mut body = Map::new();
    match kind {
        EventKind::ConsentRevoked => {
            let how = change
                .ended
                .as_deref()
                .and_then(Ended::parse)
                .ok_or(BuildError::Corrupt)?;
            body.insert("state".into(), json!(how.as_str()));
        }
        EventKind::ReleasesStopped => {
            body.insert("reason".into(), json!("subject_deceased"));
        }
        EventKind::Update | EventKind::Move | EventKind::NameChange | EventKind::Death => {
            return Err(BuildError::Corrupt);
        }
    }
    envelope(
        state,
        delivery,
        change,
        department,
        kind,
        body,
        names(delivery)?,
    )
    .await
}

async fn verified_claims(
    state: &Relay,
    delivery: &delivery::Model,
    change: &change::Model,
    attributes: &[String],
) -> Result<Value, BuildError> {
    let mut claims = Map::new();
    let mut verification = json!({"trust_framework": "pctf"});
    for (name, version) in versions(change)? {
        if !attributes.contains(&name) {
            continue;
        }
        let fact = citizens::version(
            &state.db,
            &state.vault,
            &delivery.citizen_id,
            &name,
            version,
        )
        .await?
        .ok_or_else(|| BuildError::ValueMissing(name.clone()))?;
        let p = &fact.provenance;
        verification = json!({
            "trust_framework": "pctf",
            "assurance_level": format!("loa{}", p.loa),
            "time": consent::rfc3339_utc(p.recorded_at),
            "verification_process": p.source_kind.as_str(),
            "method": p.method,
        });
        claims.insert(name, fact.value);
    }
    if claims.is_empty() {
        return Err(BuildError::Corrupt);
    }
    Ok(json!({"verification": verification, "claims": claims}))
}

/// The signed SET.
pub fn sign(state: &Relay, claims: &Value) -> Result<String, BuildError> {
    Ok(state.keys.sign(Some(SET_TYP), claims)?)
}
