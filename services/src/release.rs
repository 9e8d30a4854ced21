//! Attribute release by pull: `GET /api/v1/subjects/{sub}/attributes?claims=a,b&purpose=p`.
//!
//! A department's client, with an access token holding `attributes:read`, names one of its own
//! pairwise subject ids, the claims it wants and its purpose. The broker finds the citizen behind
//! the id *in the department's sector only*, reads the current values and the citizen's consent,
//! asks the policy engine per claim, and answers a JWT signed by the broker (`application/jwt`)
//! carrying only what was granted, or a 403 problem with the codes of the denial. Asked for with
//! [`Format::SdJwt`], the same claims come as an SD-JWT bound to one of the client's registered
//! keys ([`sd_jwt`]), so that the department can pass a part of them on.
//!
//! INVARIANT: every decision, permit or deny, and every refusal of an identified department, is
//! appended to the audit log (durable) before the response is sent; the release JWT names its
//! audit record (`txn`). If the record cannot be written, nothing is released.
//!
//! INVARIANT: values reach a response only through [`claims::build`], which needs the grants of a
//! policy decision. No value is logged or put in an error; errors name claims and codes only.

pub mod claims;
pub mod decide;
pub mod query;
pub mod read;
pub mod sd_jwt;

use std::sync::Arc;

use audit::{Action, Actor, ActorKind, Outcome, Record};
use policies::PolicyEngine;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, JoinType, QueryFilter, QuerySelect,
};

use crate::audit_log::AuditLog;
use crate::citizens::CitizenError;
use crate::citizens::entities::{citizen, pairwise_subject};
use crate::consents::ConsentStoreError;
use crate::departments::Registry;
use crate::error::Error;
use crate::error::PublicError;
use crate::keys::SigningKeys;
use crate::oauth::bearer::DepartmentCaller;
use crate::oauth::client_keys::ClientKeyCache;
use crate::oauth::scope;
use crate::vault::Vault;
use decide::{Decided, Withheld};
use query::{AttributeQuery, QueryError};
use store::now_ms;

/// Why a department's request was refused. Each case has a stable public code.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Query(QueryError),
    /// Unknown in the department's sector: whether it exists elsewhere is never said.
    #[error("no such subject")]
    SubjectNotFound,
    /// Nothing may be released; `withheld` says why for each claim.
    #[error("no claim may be released: {}", codes.join(", "))]
    Denied {
        codes: Vec<&'static str>,
        withheld: Vec<Withheld>,
    },
    /// An SD-JWT release was asked and the client registered no key that can be bound.
    #[error(transparent)]
    HolderKey(sd_jwt::HolderKeyError),
}

/// The form a release is answered in, as the department negotiated it (`Accept`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/jwt`: a JWT signed by the broker (the default).
    Jwt,
    /// `application/dc+sd-jwt`: an SD-JWT (RFC 9901) bound to one of the client's keys.
    SdJwt,
}

impl Format {
    /// The name the audit record gives it (`detail.format`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Jwt => "jwt",
            Format::SdJwt => "dc+sd-jwt",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// A refusal, with the id of its audit record.
    #[error("{refusal}")]
    Refused { refusal: Refusal, txn: String },
    #[error("cannot read the citizen's facts: {0}")]
    Citizen(#[from] CitizenError),
    #[error("cannot read the citizen's consents: {0}")]
    Consents(#[from] ConsentStoreError),
    #[error(transparent)]
    SdJwt(#[from] sd_jwt::IssueError),
}

impl From<ReleaseError> for Error {
    fn from(e: ReleaseError) -> Self {
        Error::Release(e)
    }
}

/// Releases by pull: what a release decision and its record use, and nothing else.
#[derive(Debug, Clone)]
pub struct Release {
    pub db: DatabaseConnection,
    pub policy: Arc<PolicyEngine>,
    pub audit: AuditLog,
    /// Signs releases.
    pub keys: Arc<SigningKeys>,
    /// Reads the values released.
    pub vault: Arc<Vault>,
    /// The broker's issuer identifier (`iss` of releases).
    pub issuer: Arc<str>,
    /// The newest witnessed checkpoint, named in every release (`checkpoint`).
    pub cosigned: crate::audit_log::witnesses::LatestCosigned,
    /// The registry copy shared with [`crate::oauth::OAuth`]: the caller's client and its keys.
    pub registry: Registry,
    /// The clients' keys (shared with the token endpoint): the holder key of an SD-JWT release.
    pub client_keys: Arc<ClientKeyCache>,
    /// The pairwise secret: a delegate named in `act` is named in the recipient's terms.
    pub secrets: Arc<crate::keys::Secrets>,
}

/// The start of every audit record about one department's call.
fn record_for(action: Action, outcome: Outcome, department: &str, client: &str) -> Record {
    let mut record = AuditLog::record(
        action,
        outcome,
        Actor::new(ActorKind::Department, department),
    );
    record.department_id = Some(department.to_owned());
    record.client_id = Some(client.to_owned());
    record
}

/// Appends a denial and returns the refusal carrying the record's id.
async fn refuse(state: &Release, mut record: Record, refusal: Refusal) -> Error {
    if record.reasons.is_empty() {
        record.reasons.push(refusal.code().to_owned());
    }
    match state.audit.append(record).await {
        Ok(receipt) => ReleaseError::Refused {
            refusal,
            txn: receipt.id,
        }
        .into(),
        Err(e) => e.into(),
    }
}

/// The citizen behind a pairwise id in one sector, with their status, in one query.
async fn citizen_behind(
    db: &DatabaseConnection,
    sector: &str,
    subject: &str,
) -> Result<Option<(String, String)>, DbErr> {
    pairwise_subject::Entity::find()
        .select_only()
        .column(pairwise_subject::Column::CitizenId)
        .column(citizen::Column::Status)
        .join(
            JoinType::InnerJoin,
            pairwise_subject::Entity::belongs_to(citizen::Entity)
                .from(pairwise_subject::Column::CitizenId)
                .to(citizen::Column::Id)
                .into(),
        )
        .filter(pairwise_subject::Column::SectorIdentifier.eq(sector))
        .filter(pairwise_subject::Column::Subject.eq(subject))
        .into_tuple::<(String, String)>()
        .one(db)
        .await
}

/// A refusal of a call whose access token identified its department (signed by us, unexpired,
/// but the department is now disabled or the client removed): audited, with the refusal's code.
pub async fn refused_caller(
    state: &Release,
    who: &crate::oauth::bearer::Identified,
    code: &str,
) -> Result<(), Error> {
    let mut record = record_for(
        Action::ReleaseDenied,
        Outcome::Deny,
        &who.department_id,
        &who.client_id,
    );
    record.reasons.push(code.to_owned());
    record.detail.insert("token".into(), who.token_id.clone());
    state.audit.append(record).await?;
    Ok(())
}

/// The holder key of an SD-JWT release for `client_id`: its registered keys, chosen by
/// [`sd_jwt::holder_key`]. A client missing from the registry has no key.
async fn holder_key_of(
    state: &Release,
    client_id: &str,
    kid: Option<&str>,
) -> Result<Result<sdjwt::Jwk, sd_jwt::HolderKeyError>, Error> {
    let Some((client, _)) = state
        .registry
        .client_with_department(&state.db, client_id)
        .await?
    else {
        return Ok(Err(sd_jwt::HolderKeyError::NoSigningKey));
    };
    let registered: Vec<serde_json::Value> = state
        .client_keys
        .keys(&client, kid)
        .await
        .iter()
        .filter_map(|k| serde_json::to_value(k).ok())
        .collect();
    Ok(sd_jwt::holder_key(&registered, kid))
}

/// A citizen's attributes for a purpose, as a JWT signed by the broker (the body of an
/// `application/jwt` response) or an SD-JWT bound to the client's key (`application/dc+sd-jwt`):
/// see `GET /api/v1/subjects/{sub}/attributes`.
pub async fn release(
    state: &Release,
    caller: &DepartmentCaller,
    raw_query: &str,
    sub: &str,
    format: Format,
) -> Result<String, Error> {
    let department = caller.department.id.as_str();
    let denial = || {
        let mut r = record_for(
            Action::ReleaseDenied,
            Outcome::Deny,
            department,
            &caller.client_id,
        );
        r.detail.insert("token".into(), caller.token_id.clone());
        r.detail.insert("format".into(), format.name().to_owned());
        r
    };
    if let Err(e) = caller.require(scope::ATTRIBUTES_READ) {
        let mut record = denial();
        record.reasons.push(e.code().to_owned());
        state.audit.append(record).await?;
        return Err(e);
    }
    let query = match AttributeQuery::parse(raw_query) {
        Ok(q) => q,
        Err(e) => return Err(refuse(state, denial(), Refusal::Query(e)).await),
    };
    if format == Format::Jwt && query.holder_kid.is_some() {
        let refusal = Refusal::Query(QueryError::HolderKidWithoutSdJwt);
        return Err(refuse(state, denial(), refusal).await);
    }
    // The key is chosen before anything about the citizen is read: a department without one
    // learns nothing about the subject.
    let holder = match format {
        Format::Jwt => None,
        Format::SdJwt => {
            match holder_key_of(state, &caller.client_id, query.holder_kid.as_deref()).await? {
                Ok(key) => Some(key),
                Err(e) => return Err(refuse(state, denial(), Refusal::HolderKey(e)).await),
            }
        }
    };
    let asked = |mut r: Record| {
        r.purpose = Some(query.purpose.clone());
        r.attributes = query.claims.clone();
        r
    };
    let found = if query::is_subject(sub) {
        citizen_behind(&state.db, &caller.department.sector_identifier, sub).await?
    } else {
        None
    };
    let Some((citizen_id, status)) = found.filter(|(_, status)| status != "erased") else {
        return Err(refuse(state, asked(denial()), Refusal::SubjectNotFound).await);
    };
    let now = now_ms();
    let read::Decision {
        decided,
        facts,
        consent_id,
        consent_expires_at_ms,
        consent_delegate,
    } = read::read_and_decide(
        state,
        read::Asked {
            citizen_id: &citizen_id,
            citizen_deceased: status == "deceased",
            department,
            purpose: &query.purpose,
            claims: &query.claims,
            now_ms: now,
        },
    )
    .await?;
    let with_citizen = |mut r: Record| {
        r.citizen_id = Some(citizen_id.clone());
        r.consent_id = consent_id.clone();
        r
    };
    let (grants, withheld, policy_ids) = match decided {
        Decided::Deny {
            withheld,
            codes,
            policy_ids,
        } => {
            let mut record = with_citizen(asked(denial()));
            record.reasons = codes.iter().map(|c| (*c).to_owned()).collect();
            record.reasons.extend(policy_ids);
            let refusal = Refusal::Denied { codes, withheld };
            tracing::debug!(
                department,
                code = refusal.code(),
                "attribute release denied"
            );
            return Err(refuse(state, record, refusal).await);
        }
        Decided::Release {
            grants,
            withheld,
            policy_ids,
        } => (grants, withheld, policy_ids),
    };
    let mut record = with_citizen(record_for(
        Action::Release,
        Outcome::Permit,
        department,
        &caller.client_id,
    ));
    record.purpose = Some(query.purpose.clone());
    record.reasons = policy_ids;
    let jti = uuid::Uuid::now_v7().to_string();
    let mut built = claims::build(
        grants,
        facts,
        withheld,
        &query.claims,
        claims::Envelope {
            issuer: state.issuer.to_string(),
            client_id: caller.client_id.clone(),
            subject: sub.to_owned(),
            purpose: query.purpose.clone(),
            txn: record.id.clone(),
            jti: jti.clone(),
            now_s: now / 1000,
            checkpoint: state
                .cosigned
                .get()
                .map(|(size, root)| claims::CheckpointClaim {
                    size,
                    root: root.to_hex(),
                }),
        },
    );
    // A consent a delegate gave: the release says who acted (RFC 8693 `act`), in the
    // recipient's pairwise terms, and so does its audit record.
    if let Some(delegate) = built
        .claims
        .consent_id
        .as_deref()
        .filter(|id| consent_id.as_deref() == Some(*id))
        .and(consent_delegate)
    {
        record
            .detail
            .insert("act_delegate".into(), delegate.clone());
        built.claims.act = Some(claims::ActClaim {
            sub: crate::citizens::pairwise::compute(
                &state.secrets.pairwise,
                &caller.department.sector_identifier,
                &delegate,
            ),
        });
    }
    record.consent_id = built.claims.consent_id.clone();
    record.attributes = built.released.clone();
    record.request_id = Some(jti);
    record
        .detail
        .insert("token".into(), caller.token_id.clone());
    record
        .detail
        .insert("format".into(), format.name().to_owned());
    if !built.claims.withheld.is_empty() {
        let codes: Vec<String> = built
            .claims
            .withheld
            .iter()
            .map(|w| format!("{}:{}", w.claim, w.code))
            .collect();
        record.detail.insert("withheld".into(), codes.join(","));
    }
    let jwt = match &holder {
        None => state.keys.sign(Some(claims::RELEASE_TYP), &built.claims)?,
        Some(holder) => {
            let mut claims = built.claims;
            claims.exp = sd_jwt::expiry(claims.iat, consent_expires_at_ms);
            sd_jwt::issue(&claims, holder, &state.keys).map_err(ReleaseError::from)?
        }
    };
    let record_attributes = record.attributes.len();
    let receipt = state.audit.append(record).await?;
    // Debug only: at thousands of releases a second the audit log is the record, not the log.
    tracing::debug!(
        department,
        txn = %receipt.id,
        released = record_attributes,
        format = format.name(),
        "attributes released"
    );
    Ok(jwt)
}

#[cfg(test)]
mod tests;
