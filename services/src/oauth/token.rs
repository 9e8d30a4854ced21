//! `POST /oauth2/token`: `grant_type=client_credentials` with `private_key_jwt`. Errors follow
//! RFC 6749 §5.2 (`{"error": …, "error_description": …}`), not problem documents, because that is
//! what every OAuth client library expects from a token endpoint.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, Set, TransactionTrait};
use serde::Serialize;

use super::OAuth;
use super::assertion::{self, AssertionError};
use super::bearer::{Identified, Unauthenticated};
use super::refusals::{self, Endpoint};
use super::{ACCESS_TOKEN_TTL_SECS, api_audience, token_endpoint};
use crate::departments::entities::assertion_jti;
use crate::error::Error;
use store::group::GroupCommit;
use store::now_ms;

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A token request that cannot be honoured, in RFC 6749 §5.2 terms.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("grant_type must be `client_credentials`")]
    UnsupportedGrantType,
    #[error("{0}")]
    InvalidClient(ClientAuthError),
    #[error("scope `{0}` is not allowed for this client")]
    InvalidScope(String),
}

/// Why client authentication failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    #[error(transparent)]
    Assertion(#[from] AssertionError),
    #[error("unknown client")]
    UnknownClient,
    #[error("the client's department is disabled")]
    DepartmentDisabled,
    #[error("the client assertion was already used (`jti` replayed)")]
    Replayed,
    #[error("`client_id` does not match the client assertion")]
    ClientIdMismatch,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// `Bearer`, or `DPoP` when the request carried a DPoP proof.
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
}

/// The access token's claims (RFC 9068 shape).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    /// The department the client belongs to.
    pub dept: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The DPoP key the token is bound to (RFC 9449 §6), when it was asked with a proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<crate::provider::token::Confirmation>,
}

/// Parameters, each at most once (RFC 6749 §3.2).
pub fn parse_params(body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| {
        OAuthError::InvalidRequest("the body must be application/x-www-form-urlencoded".into())
    })?;
    for (i, (k, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(other, _)| other == k) {
            return Err(OAuthError::InvalidRequest(format!(
                "parameter `{k}` is repeated"
            )));
        }
    }
    Ok(pairs)
}

/// Parameters as sent, repeats kept (the first one counts where one is read): for the PAR
/// endpoint, whose parameters `fapi::par` checks itself, letting those it does not read repeat
/// (RFC 8707's `resource`).
pub fn parse_pairs(body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    serde_urlencoded::from_bytes(body).map_err(|_| {
        OAuthError::InvalidRequest("the body must be application/x-www-form-urlencoded".into())
    })
}

pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Exchanges a client assertion (the form body of `POST /oauth2/token`) for a short-lived access
/// token. A refusal after the assertion's signature verified is audited with its code (the
/// client is identified); any other refusal is only counted (`refusals`).
pub async fn grant(state: &OAuth, body: &[u8], dpop: &[&str]) -> Result<TokenResponse, Error> {
    match attempt(state, body, dpop).await {
        Ok(granted) => Ok(granted),
        Err(refused) => Err(refusals::settle(state, Endpoint::Token, refused).await),
    }
}

async fn attempt(
    state: &OAuth,
    body: &[u8],
    dpop: &[&str],
) -> Result<TokenResponse, Unauthenticated> {
    let params = parse_params(body).map_err(Error::from)?;
    match param(&params, "grant_type") {
        Some("client_credentials") => {}
        Some(_) => return Err(Error::from(OAuthError::UnsupportedGrantType).into()),
        None => {
            return Err(Error::from(OAuthError::InvalidRequest(
                "`grant_type` is required".into(),
            ))
            .into());
        }
    }
    let issuer = &state.issuer.to_string();
    let AuthenticatedClient {
        client,
        department: _,
        assertion_id,
    } = authenticate_client(
        state,
        &params,
        &[issuer.clone(), token_endpoint(issuer)],
        AssertionProfile::Api,
    )
    .await?;
    let identified = |error: Error| Unauthenticated {
        error,
        identified: Some(Identified {
            client_id: client.client_id.clone(),
            department_id: client.department_id.clone(),
            token_id: assertion_id.clone(),
        }),
    };
    let now_s = now_ms() / 1000;
    let scope =
        granted_scope(param(&params, "scope"), &client.scopes).map_err(|e| identified(e.into()))?;
    // A proof with the request binds the token to its key (RFC 9449 §5): the API then refuses
    // it without a proof by that key.
    let cnf = if dpop.is_empty() {
        None
    } else {
        let proof = crate::provider::dpop::verify_with(
            &state.db,
            dpop,
            "POST",
            &token_endpoint(issuer),
            None,
        )
        .await
        .map_err(identified)?;
        Some(crate::provider::token::Confirmation { jkt: proof.jkt })
    };
    let token_type = if cnf.is_some() { "DPoP" } else { "Bearer" };
    let claims = AccessClaims {
        iss: issuer.clone(),
        sub: client.client_id.clone(),
        aud: api_audience(issuer),
        client_id: client.client_id.clone(),
        dept: client.department_id.clone(),
        scope: scope.clone(),
        iat: now_s,
        exp: now_s + ACCESS_TOKEN_TTL_SECS,
        jti: uuid::Uuid::now_v7().to_string(),
        cnf,
    };
    let access_token = state
        .keys
        .sign(Some("at+jwt"), &claims)
        .map_err(Error::from)?;
    tracing::info!(client_id = %client.client_id, department = %client.department_id, scope = %scope, "access token issued");
    Ok(TokenResponse {
        access_token,
        token_type,
        expires_in: ACCESS_TOKEN_TTL_SECS,
        scope,
    })
}

/// Which algorithms a client assertion may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionProfile {
    /// `client_credentials`: ES256, EdDSA, PS256 and RS256.
    Api,
    /// The OpenID Provider's endpoints (FAPI 2.0 §5.4): ES256, EdDSA, PS256.
    Fapi,
}

/// A client that proved who it is with a `private_key_jwt` assertion (RFC 7523 §2.2), of an
/// active department; the assertion's `jti` is spent.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    pub client: crate::departments::Client,
    pub department: crate::departments::Department,
    /// The assertion's `jti` (for the audit record of a later refusal).
    pub assertion_id: String,
}

impl AuthenticatedClient {
    /// Who a refusal after authentication names.
    pub fn identified(&self) -> Identified {
        Identified {
            client_id: self.client.client_id.clone(),
            department_id: self.client.department_id.clone(),
            token_id: self.assertion_id.clone(),
        }
    }
}

/// Authenticates the client of a form request (`client_assertion_type`, `client_assertion`,
/// optionally `client_id`) whose assertion must be addressed to one of `audiences`. A refusal
/// after the assertion's signature verified names the client (`Unauthenticated::identified`).
pub async fn authenticate_client(
    state: &OAuth,
    params: &[(String, String)],
    audiences: &[String],
    profile: AssertionProfile,
) -> Result<AuthenticatedClient, Unauthenticated> {
    if param(params, "client_assertion_type") != Some(JWT_BEARER) {
        return Err(Error::from(OAuthError::InvalidRequest(format!(
            "`client_assertion_type` must be `{JWT_BEARER}`"
        )))
        .into());
    }
    let raw = param(params, "client_assertion").ok_or_else(|| {
        Error::from(OAuthError::InvalidRequest(
            "`client_assertion` is required".into(),
        ))
    })?;
    if raw.len() > 16 * 1024 {
        return Err(Error::from(OAuthError::InvalidRequest(
            "`client_assertion` is too large".into(),
        ))
        .into());
    }
    let invalid = |e: ClientAuthError| Error::from(OAuthError::InvalidClient(e));
    let unverified = assertion::parse(raw).map_err(|e| invalid(e.into()))?;
    if profile == AssertionProfile::Fapi && unverified.is_rs256() {
        return Err(invalid(AssertionError::Algorithm("RS256".into()).into()).into());
    }
    let claimed = unverified
        .claimed_client()
        .map_err(|e| invalid(e.into()))?
        .to_owned();
    if let Some(client_id) = param(params, "client_id")
        && client_id != claimed
    {
        return Err(invalid(ClientAuthError::ClientIdMismatch).into());
    }
    let (client, department) = state
        .registry
        .client_with_department(&state.db, &claimed)
        .await
        .map_err(Error::from)?
        .ok_or_else(|| invalid(ClientAuthError::UnknownClient))?;
    let keys = state.client_keys.keys(&client, unverified.kid()).await;
    let now_s = now_ms() / 1000;
    // From here on a refusal names the client: its registered key signed what we refuse.
    let identified = |error: Error, assertion_id: &str| Unauthenticated {
        error,
        identified: Some(Identified {
            client_id: client.client_id.clone(),
            department_id: client.department_id.clone(),
            token_id: assertion_id.to_owned(),
        }),
    };
    let verified = match unverified.verify(&keys, audiences, now_s) {
        Ok(verified) => verified,
        Err(e) if e.signature_verified() => return Err(identified(invalid(e.into()), "")),
        Err(e) => return Err(invalid(e.into()).into()),
    };
    let department = match department {
        Some(d) if d.active => d,
        _ => {
            return Err(identified(
                invalid(ClientAuthError::DepartmentDisabled),
                &verified.jti,
            ));
        }
    };
    remember_jti(state, &verified).await.map_err(|e| {
        if matches!(
            e,
            Error::OAuth(OAuthError::InvalidClient(ClientAuthError::Replayed))
        ) {
            identified(e, &verified.jti)
        } else {
            e.into()
        }
    })?;
    Ok(AuthenticatedClient {
        client,
        department,
        assertion_id: verified.jti,
    })
}

/// The requested scopes if all are the client's; all the client's scopes when none are asked for.
fn granted_scope(requested: Option<&str>, allowed: &[String]) -> Result<String, OAuthError> {
    match requested.map(str::split_whitespace) {
        None => Ok(allowed.join(" ")),
        Some(asked) => {
            let mut granted = Vec::new();
            for s in asked {
                if !allowed.iter().any(|a| a == s) {
                    return Err(OAuthError::InvalidScope(s.chars().take(64).collect()));
                }
                if !granted.contains(&s) {
                    granted.push(s);
                }
            }
            if granted.is_empty() {
                return Ok(allowed.join(" "));
            }
            Ok(granted.join(" "))
        }
    }
}

/// A client assertion's id, to be remembered until the assertion expires.
#[derive(Debug, Clone)]
pub struct SeenAssertion {
    client_id: String,
    jti: String,
    /// Milliseconds since the epoch.
    expires_at: i64,
}

/// The single-use assertion ids of this instance's token requests, stored in group commits (one
/// durable transaction for the grants that arrive together).
pub type SeenAssertions = GroupCommit<SeenAssertion, bool, DbErr>;

/// Most assertion ids in one transaction.
pub const SEEN_BATCH: usize = 256;

/// Assertion ids per multi-row insert (each statement under 16 KB: see `audit_log`).
const SEEN_PER_INSERT: usize = 64;

/// Stores the assertion's `jti` until it expires; a second use, on any instance, is refused.
async fn remember_jti(state: &OAuth, v: &assertion::Verified) -> Result<(), Error> {
    let seen = SeenAssertion {
        client_id: v.client_id.clone(),
        jti: v.jti.clone(),
        expires_at: (v.expires_at + super::CLOCK_SKEW_SECS) * 1000,
    };
    let db = state.db.clone();
    let fresh = state
        .assertions
        .submit(seen, move |batch| remember_all(db.clone(), batch))
        .await?;
    if fresh {
        Ok(())
    } else {
        Err(OAuthError::InvalidClient(ClientAuthError::Replayed).into())
    }
}

/// Inserts a batch of assertion ids in one transaction; for each, whether it was new. An id
/// already stored, or repeated earlier in the same batch, is not.
pub async fn remember_all(
    db: sea_orm::DatabaseConnection,
    batch: Vec<SeenAssertion>,
) -> Result<Vec<bool>, DbErr> {
    let key = |s: &SeenAssertion| (s.client_id.clone(), s.jti.clone());
    // Only the first of a repeated (client, jti) may be new.
    let mut keys = std::collections::HashSet::new();
    let first: Vec<bool> = batch.iter().map(|s| keys.insert(key(s))).collect();
    let unique: Vec<&SeenAssertion> = batch
        .iter()
        .zip(&first)
        .filter_map(|(s, &first)| first.then_some(s))
        .collect();
    let txn = db.begin().await?;
    let mut inserted = std::collections::HashSet::new();
    for chunk in unique.chunks(SEEN_PER_INSERT) {
        let rows = chunk.iter().map(|s| assertion_jti::ActiveModel {
            client_id: Set(s.client_id.clone()),
            jti: Set(s.jti.clone()),
            expires_at: Set(s.expires_at),
        });
        let stored = assertion_jti::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([assertion_jti::Column::ClientId, assertion_jti::Column::Jti])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_with_returning(&txn)
            .await;
        match stored {
            Ok(models) => inserted.extend(models.into_iter().map(|m| (m.client_id, m.jti))),
            Err(DbErr::RecordNotInserted) => {}
            Err(e) => return Err(e),
        }
    }
    txn.commit().await?;
    Ok(batch
        .iter()
        .zip(first)
        .map(|(s, first)| first && inserted.contains(&key(s)))
        .collect())
}

/// Forgets assertion ids whose assertions have expired (they could not be replayed anyway).
pub async fn purge_expired_jtis(db: &sea_orm::DatabaseConnection) -> Result<u64, DbErr> {
    let r = assertion_jti::Entity::delete_many()
        .filter(assertion_jti::Column::ExpiresAt.lt(now_ms()))
        .exec(db)
        .await?;
    Ok(r.rows_affected)
}

impl From<OAuthError> for Error {
    fn from(e: OAuthError) -> Self {
        Error::OAuth(e)
    }
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_limited_to_the_clients() {
        let allowed = vec!["attributes:read".to_owned(), "consent:request".to_owned()];
        assert_eq!(
            granted_scope(None, &allowed).unwrap(),
            "attributes:read consent:request"
        );
        assert_eq!(
            granted_scope(Some("consent:request"), &allowed).unwrap(),
            "consent:request"
        );
        assert!(
            matches!(granted_scope(Some("attributes:read audit:read"), &allowed), Err(OAuthError::InvalidScope(s)) if s == "audit:read")
        );
    }

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(
            parse_params(b"grant_type=client_credentials&grant_type=client_credentials").is_err()
        );
        assert_eq!(parse_params(b"a=1&b=2").unwrap().len(), 2);
    }

    use store::testdb::TestDb;

    fn seen(client: &str, jti: &str) -> SeenAssertion {
        SeenAssertion {
            client_id: client.into(),
            jti: jti.into(),
            expires_at: now_ms() + 60_000,
        }
    }

    #[tokio::test]
    async fn an_assertion_id_is_new_once_within_a_batch_and_across_batches() {
        let test = TestDb::new().await.unwrap();
        let db = test.migrated().await.unwrap();
        let first = remember_all(
            db.clone(),
            vec![
                seen("a", "1"),
                seen("a", "2"),
                seen("a", "1"),
                seen("b", "1"),
            ],
        )
        .await
        .unwrap();
        assert_eq!(first, [true, true, false, true]);
        let second = remember_all(db.clone(), vec![seen("a", "2"), seen("a", "3")])
            .await
            .unwrap();
        assert_eq!(second, [false, true]);
        // Through the group commit, many at once: each id is accepted exactly once.
        let group = std::sync::Arc::new(SeenAssertions::new(SEEN_BATCH));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..40 {
            let (group, db) = (group.clone(), db.clone());
            tasks.spawn(async move {
                let item = seen("c", &(i % 10).to_string());
                group
                    .submit(item, move |batch| remember_all(db.clone(), batch))
                    .await
                    .unwrap()
            });
        }
        let accepted = tasks
            .join_all()
            .await
            .into_iter()
            .filter(|fresh| *fresh)
            .count();
        assert_eq!(accepted, 10);
        assert!(group.commits() < 40, "{} commits", group.commits());
    }
}
