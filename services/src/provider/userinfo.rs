//! `GET|POST /oauth2/userinfo` (OIDC Core §5.3) with a DPoP-bound access token (RFC 9449 §7),
//! and the one function that puts attribute values into what the provider answers (ID tokens
//! and userinfo): [`answer_claims`], which decides like the attribute API (policy, consent,
//! level of assurance per value), releases through the grants of that decision, shapes the
//! answer as `verified_claims` with `fapi::claims`, and records the release.

use audit::{Action, Actor, ActorKind, Outcome};
use fapi::ErrorCode;
use fapi::acr::Level;
use fapi::claims::{HeldClaim, Provenance, SourceKind, Target};
use fapi::par::AuthorizationRequest;
use serde_json::{Value, json};

use super::entities::grant;
use super::token::{ACCESS_TOKEN_TYP, SignInAccessClaims, consent_live, stored_request};
use super::{Provider, ProviderError};
use crate::audit_log::AuditLog;
use crate::citizens::{self, Status};
use crate::error::Error;
use crate::oauth::bearer::{Identified, Unauthenticated};
use crate::oauth::refusals::{self, Endpoint};
use crate::release::decide::Decided;
use sea_orm::EntityTrait;
use store::now_ms;

/// What an ID token or a userinfo answer carries beyond the protocol claims.
#[derive(Debug, Default)]
pub struct Answered {
    /// The `verified_claims` array (empty: leave the member out).
    pub verified_claims: Vec<Value>,
}

/// Answers `GET|POST /oauth2/userinfo`: `authorization` is the `Authorization` header, `dpop`
/// the `DPoP` header values, `method` the request's method.
pub async fn userinfo(
    provider: &Provider,
    authorization: Option<&str>,
    dpop: &[&str],
    method: &str,
) -> Result<Value, Error> {
    let header = authorization.ok_or_else(|| refused("a DPoP access token is required"))?;
    let (scheme, token) = header
        .split_once(' ')
        .ok_or_else(|| refused("the Authorization header is malformed"))?;
    let token = token.trim();
    if token.is_empty() || token.len() > 8192 {
        return Err(refused("the Authorization header is malformed"));
    }
    let claims = verify_access_token(provider, token)
        .ok_or_else(|| refused("the access token is invalid, expired or not for userinfo"))?;
    // From here a refusal names its department: the token is ours. It is recorded.
    match answer(provider, &claims, scheme, token, dpop, method).await {
        Ok(answer) => Ok(answer),
        Err(error) => {
            let who = Identified {
                client_id: claims.client_id.clone(),
                department_id: claims.dept.clone(),
                token_id: claims.jti.clone(),
            };
            let refused = Unauthenticated {
                error,
                identified: Some(who),
            };
            Err(refusals::settle(&provider.oauth, Endpoint::Userinfo, refused).await)
        }
    }
}

fn refused(description: &'static str) -> Error {
    ProviderError::new(ErrorCode::InvalidToken, description)
        .at_resource()
        .into()
}

async fn answer(
    provider: &Provider,
    claims: &SignInAccessClaims,
    scheme: &str,
    token: &str,
    dpop: &[&str],
    method: &str,
) -> Result<Value, Error> {
    // RFC 9449 §7.2: a DPoP-bound token presented as a bearer token is refused.
    if !scheme.eq_ignore_ascii_case("dpop") {
        return Err(refused(
            "the access token is DPoP-bound: present it with `Authorization: DPoP` and a proof",
        ));
    }
    let url = provider.url(fapi::metadata::paths::USERINFO);
    let proof = super::dpop::verify(provider, dpop, method, &url, Some(token))
        .await
        .map_err(|e| match e {
            Error::Provider(p) => Error::Provider(p.at_resource()),
            other => other,
        })?;
    proof
        .check_binding(&claims.cnf.jkt)
        .map_err(|_| refused("the DPoP proof is not signed by the key the token is bound to"))?;
    // As at the attribute API: a removed client or a disabled department gets nothing, whatever
    // tokens it still holds.
    let registered = provider
        .oauth
        .registry
        .client_with_department(&provider.oauth.db, &claims.client_id)
        .await?;
    if !matches!(registered, Some((_, Some(department))) if department.active) {
        return Err(refused(
            "the department is disabled or the client is no longer registered",
        ));
    }
    let row = grant::Entity::find_by_id(claims.gid.clone())
        .one(&provider.oauth.db)
        .await?
        .filter(|g| g.revoked_at.is_none() && g.client_id == claims.client_id)
        .ok_or_else(|| refused("the access token was revoked"))?;
    consent_live(provider, &row)
        .await
        .map_err(|_| refused("the consent the access token rests on has ended"))?;
    let request = stored_request(&row)?;
    let Answered { verified_claims } =
        answer_claims(provider, &row, &request, Target::Userinfo).await?;
    let mut answer = json!({ "sub": claims.sub });
    if !verified_claims.is_empty() {
        answer["verified_claims"] = Value::Array(verified_claims);
    }
    Ok(answer)
}

/// The claims of one of the provider's access tokens, if it is one, unexpired.
fn verify_access_token(provider: &Provider, token: &str) -> Option<SignInAccessClaims> {
    let (header, payload) = provider.oauth.keys.verify(token).ok()?;
    if header.get("typ").and_then(Value::as_str) != Some(ACCESS_TOKEN_TYP) {
        return None;
    }
    let claims: SignInAccessClaims = serde_json::from_slice(&payload).ok()?;
    let now = now_ms() / 1000;
    (claims.iss == provider.issuer()
        && claims.aud == provider.url(fapi::metadata::paths::USERINFO)
        && claims.exp > now)
        .then_some(claims)
}

/// The `verified_claims` of the grant's request for `target`, released now: decided by the
/// policy under the citizen's consent at the level of each value, only what the grants permit,
/// only what was asked; recorded in the audit log when anything is released.
pub async fn answer_claims(
    provider: &Provider,
    row: &grant::Model,
    request: &AuthorizationRequest,
    target: Target,
) -> Result<Answered, Error> {
    let Some(claims) = &request.claims else {
        return Ok(Answered::default());
    };
    let Some(purpose) = request.purpose.as_deref() else {
        return Ok(Answered::default());
    };
    let names: Vec<String> = claims
        .asked()
        .into_iter()
        .filter(|a| match target {
            Target::IdToken => a.id_token,
            Target::Userinfo => a.userinfo,
        })
        .map(|a| a.name)
        .collect();
    if names.is_empty() {
        return Ok(Answered::default());
    }
    let release = &provider.release;
    let now = now_ms();
    let citizen = citizens::get(&provider.oauth.db, &row.citizen_id).await?;
    let Some(citizen) = citizen.filter(|c| c.status != Status::Erased) else {
        return Ok(Answered::default());
    };
    let read = crate::release::read::read_and_decide(
        release,
        crate::release::read::Asked {
            citizen_id: &row.citizen_id,
            citizen_deceased: citizen.status == Status::Deceased,
            department: &row.department_id,
            purpose,
            claims: &names,
            now_ms: now,
        },
    )
    .await?;
    let (facts, consent_id) = (read.facts, read.consent_id);
    let (grants, policy_ids) = match read.decided {
        Decided::Release {
            grants, policy_ids, ..
        } => (grants, policy_ids),
        Decided::Deny {
            codes, policy_ids, ..
        } => {
            let mut record = record(row, target, Action::ReleaseDenied, Outcome::Deny);
            record.purpose = Some(purpose.to_owned());
            record.attributes = names.clone();
            record.reasons = codes.iter().map(|c| (*c).to_owned()).collect();
            record.reasons.extend(policy_ids);
            release.audit.append(record).await?;
            return Ok(Answered::default());
        }
    };
    let held: Vec<HeldClaim> = crate::release::claims::granted_facts(grants, facts)
        .into_iter()
        .filter_map(|f| {
            let p = &f.provenance;
            Some(HeldClaim {
                name: f.attribute,
                value: f.value,
                provenance: Provenance {
                    source_kind: match p.source_kind {
                        citizens::SourceKind::Provider => SourceKind::CredentialProvider,
                        citizens::SourceKind::Department => SourceKind::DepartmentRegister,
                        citizens::SourceKind::Citizen => SourceKind::CitizenDeclaration,
                    },
                    source: p.source_id.clone(),
                    verification_process: p.method.clone(),
                    level: Level::new(p.loa)?,
                    recorded_at: p.recorded_at / 1000,
                },
            })
        })
        .collect();
    let mut requests = claims.verified.clone();
    requests.extend(claims.plain_as_verified(target));
    let released = fapi::claims::verified_claims(&requests, target, &held, now / 1000);
    if released.claims.is_empty() {
        return Ok(Answered::default());
    }
    let mut record = record(row, target, Action::Release, Outcome::Permit);
    record.purpose = Some(purpose.to_owned());
    record.consent_id = consent_id;
    record.attributes = released.claims.clone();
    record.reasons = policy_ids;
    release.audit.append(record).await?;
    Ok(Answered {
        verified_claims: released.verified_claims,
    })
}

fn record(row: &grant::Model, target: Target, action: Action, outcome: Outcome) -> audit::Record {
    let mut record = AuditLog::record(
        action,
        outcome,
        Actor::new(ActorKind::Department, &row.department_id),
    );
    record.department_id = Some(row.department_id.clone());
    record.client_id = Some(row.client_id.clone());
    record.citizen_id = Some(row.citizen_id.clone());
    record.detail.insert(
        "via".into(),
        match target {
            Target::IdToken => "id_token",
            Target::Userinfo => "userinfo",
        }
        .to_owned(),
    );
    record.detail.insert("grant".into(), row.id.clone());
    record
}
