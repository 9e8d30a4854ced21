//! The bearer check on every department API call (RFC 6750).
//!
//! Verifying an ES256 signature costs more than the whole HTTP request, and a department reuses its
//! token for up to five minutes, so verified tokens are remembered by their SHA-256 until they
//! expire. The department's status and the client's registration are still read on every call, so
//! disabling a department or removing a client takes effect at once.

use std::collections::HashMap;
use std::sync::Mutex;

use super::OAuth;
use super::api_audience;
use super::token::AccessClaims;
use crate::departments::Department;
use crate::error::Error;
use crate::keys::SigningKeys;
use store::now_ms;

/// Most tokens remembered at once; past this the cache starts over.
const CACHE_LIMIT: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    #[error("an access token is required (`Authorization: Bearer …`)")]
    Missing,
    #[error("the access token is invalid")]
    Invalid,
    #[error("the access token has expired")]
    Expired,
    #[error("the access token lacks scope `{0}`")]
    InsufficientScope(&'static str),
    #[error("the department is disabled or the client is no longer registered")]
    Revoked,
    /// A DPoP-bound token (`cnf.jkt`) presented without its proof, or as a bearer token (RFC
    /// 9449 §7.1–7.2).
    #[error("the access token is DPoP-bound: present it as `Authorization: DPoP` with a proof")]
    DpopRequired,
    /// The DPoP proof with a bound token failed a check (RFC 9449 §4.3).
    #[error("the DPoP proof is invalid: {0}")]
    DpopProof(String),
}

/// Verifies the broker's access tokens, remembering the ones already verified.
#[derive(Debug, Default)]
pub struct TokenVerifier {
    verified: Mutex<HashMap<[u8; 32], AccessClaims>>,
}

impl TokenVerifier {
    pub fn verify(
        &self,
        keys: &SigningKeys,
        issuer: &str,
        token: &str,
        now_s: i64,
    ) -> Result<AccessClaims, BearerError> {
        let claims = self.verify_signed(keys, issuer, token, now_s)?;
        if claims.exp <= now_s {
            return Err(BearerError::Expired);
        }
        Ok(claims)
    }

    /// The claims of a token the broker signed for its API, expired or not: an expired token
    /// still proves who it was issued to.
    pub fn verify_signed(
        &self,
        keys: &SigningKeys,
        issuer: &str,
        token: &str,
        now_s: i64,
    ) -> Result<AccessClaims, BearerError> {
        let digest: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
            .as_ref()
            .try_into()
            .map_err(|_| BearerError::Invalid)?;
        let cached = self
            .verified
            .lock()
            .ok()
            .and_then(|m| m.get(&digest).cloned());
        let claims = match cached {
            Some(claims) => claims,
            None => {
                let (header, payload) = keys.verify(token).map_err(|_| BearerError::Invalid)?;
                if header.get("typ").and_then(|t| t.as_str()) != Some("at+jwt") {
                    return Err(BearerError::Invalid);
                }
                let claims: AccessClaims =
                    serde_json::from_slice(&payload).map_err(|_| BearerError::Invalid)?;
                if claims.iss != issuer || claims.aud != api_audience(issuer) {
                    return Err(BearerError::Invalid);
                }
                if let Ok(mut map) = self.verified.lock() {
                    if map.len() >= CACHE_LIMIT {
                        map.retain(|_, c| c.exp > now_s);
                        if map.len() >= CACHE_LIMIT {
                            map.clear();
                        }
                    }
                    map.insert(digest, claims.clone());
                }
                claims
            }
        };
        Ok(claims)
    }
}

/// A department system calling the API with a valid access token.
#[derive(Debug, Clone)]
pub struct DepartmentCaller {
    pub client_id: String,
    pub department: Department,
    pub scopes: Vec<String>,
    /// The access token's `jti`, for the audit record.
    pub token_id: String,
}

impl DepartmentCaller {
    /// Succeeds only when the token carries `scope`.
    pub fn require(&self, scope: &'static str) -> Result<(), Error> {
        if self.scopes.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(BearerError::InsufficientScope(scope).into())
        }
    }
}

/// How a token is presented: `Bearer` (RFC 6750 §2.1) or `DPoP` (RFC 9449 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Dpop,
}

/// The scheme and token of an `Authorization` header.
fn presented(authorization: Option<&str>) -> Result<(Scheme, String), BearerError> {
    let header = authorization.ok_or(BearerError::Missing)?;
    let (scheme, token) = header.split_once(' ').ok_or(BearerError::Invalid)?;
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return Err(BearerError::Invalid);
    };
    if token.trim().is_empty() || token.len() > 8192 {
        return Err(BearerError::Invalid);
    }
    Ok((scheme, token.trim().to_owned()))
}

/// The token of an `Authorization: Bearer …` header (RFC 6750 §2.1).
#[cfg(test)]
fn bearer_token(authorization: Option<&str>) -> Result<String, BearerError> {
    match presented(authorization)? {
        (Scheme::Bearer, token) => Ok(token),
        (Scheme::Dpop, _) => Err(BearerError::Invalid),
    }
}

/// The request a DPoP proof must match at the API: its `DPoP` header values, method and
/// absolute URL (the broker's public URL and the path).
#[derive(Debug, Clone, Copy)]
pub struct DpopContext<'a> {
    pub headers: &'a [&'a str],
    pub method: &'a str,
    pub url: &'a str,
}

/// Who sent a refused call, when a signature proves it: an access token of ours (expired, or of a
/// disabled department or removed client), or at the token endpoint a client assertion that
/// verified. The refusal is worth an audit record (`refusals`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identified {
    pub client_id: String,
    pub department_id: String,
    /// The access token's `jti`.
    pub token_id: String,
}

/// A call that is not a [`DepartmentCaller`]: why, and who it was if the token says so.
#[derive(Debug)]
pub struct Unauthenticated {
    pub error: Error,
    pub identified: Option<Identified>,
}

impl From<Error> for Unauthenticated {
    fn from(error: Error) -> Self {
        Self {
            error,
            identified: None,
        }
    }
}

impl From<BearerError> for Unauthenticated {
    fn from(e: BearerError) -> Self {
        Error::from(e).into()
    }
}

/// The bearer check: a valid token of a registered client of an active department. Reads the
/// client and its department from the instance's registry copy (`departments::registry`).
pub async fn authenticate(
    state: &OAuth,
    authorization: Option<&str>,
    dpop: DpopContext<'_>,
) -> Result<DepartmentCaller, Unauthenticated> {
    let (scheme, token) = presented(authorization)?;
    let now_s = now_ms() / 1000;
    let claims = state
        .tokens
        .verify_signed(&state.keys, &state.issuer, &token, now_s)?;
    let identified = |claims: &AccessClaims| Identified {
        client_id: claims.client_id.clone(),
        department_id: claims.dept.clone(),
        token_id: claims.jti.clone(),
    };
    // RFC 9449 §7: a bound token needs the `DPoP` scheme and a proof by its key; an unbound
    // token presented under `DPoP` is not what its client was given.
    match (&claims.cnf, scheme) {
        (None, Scheme::Bearer) => {}
        (None, Scheme::Dpop) => return Err(BearerError::Invalid.into()),
        (Some(_), Scheme::Bearer) => {
            return Err(Unauthenticated {
                error: BearerError::DpopRequired.into(),
                identified: Some(identified(&claims)),
            });
        }
        (Some(cnf), Scheme::Dpop) => {
            let checked = crate::provider::dpop::verify_with(
                &state.db,
                dpop.headers,
                dpop.method,
                dpop.url,
                Some(&token),
            )
            .await
            .and_then(|proof| {
                proof
                    .check_binding(&cnf.jkt)
                    .map_err(|e| crate::provider::ProviderError::from(e).into())
            });
            if let Err(e) = checked {
                let error = match e {
                    Error::Provider(p) => BearerError::DpopProof(p.description.into_owned()).into(),
                    other => other,
                };
                return Err(Unauthenticated {
                    error,
                    identified: Some(identified(&claims)),
                });
            }
        }
    }
    if claims.exp <= now_s {
        // Signed by us: it names its client, so the refusal is worth a record.
        return Err(Unauthenticated {
            error: BearerError::Expired.into(),
            identified: Some(Identified {
                client_id: claims.client_id,
                department_id: claims.dept,
                token_id: claims.jti,
            }),
        });
    }
    match state
        .registry
        .client_with_department(&state.db, &claims.client_id)
        .await
        .map_err(Error::from)?
    {
        Some((client, Some(department)))
            if department.active
                && client.department_id == department.id
                && department.id == claims.dept =>
        {
            Ok(DepartmentCaller {
                client_id: claims.client_id,
                department,
                scopes: claims.scope.split_whitespace().map(str::to_owned).collect(),
                token_id: claims.jti,
            })
        }
        _ => Err(Unauthenticated {
            error: BearerError::Revoked.into(),
            identified: Some(Identified {
                client_id: claims.client_id,
                department_id: claims.dept,
                token_id: claims.jti,
            }),
        }),
    }
}

impl From<BearerError> for Error {
    fn from(e: BearerError) -> Self {
        Error::Bearer(e)
    }
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SigningKeys {
        let dir =
            std::env::temp_dir().join(format!("tuo-bearer-{}", uuid::Uuid::now_v7().simple()));
        SigningKeys::open_dir(&dir, 60).unwrap()
    }

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            iss: "http://127.0.0.1:8080".into(),
            sub: "c".into(),
            aud: "http://127.0.0.1:8080/api".into(),
            client_id: "c".into(),
            dept: "d".into(),
            scope: "attributes:read".into(),
            iat: 0,
            exp,
            jti: "t".into(),
            cnf: None,
        }
    }

    #[test]
    fn tokens_are_checked_for_signer_type_audience_and_expiry_even_when_cached() {
        let k = keys();
        let v = TokenVerifier::default();
        let iss = "http://127.0.0.1:8080";
        let good = k.sign(Some("at+jwt"), &claims(1000)).unwrap();
        assert!(v.verify(&k, iss, &good, 999).is_ok());
        assert_eq!(
            v.verify(&k, iss, &good, 1000),
            Err(BearerError::Expired),
            "expiry applies to cached tokens"
        );
        let not_access = k.sign(Some("JWT"), &claims(1000)).unwrap();
        assert_eq!(v.verify(&k, iss, &not_access, 1), Err(BearerError::Invalid));
        let mut other_aud = claims(1000);
        other_aud.aud = "http://127.0.0.1:8080".into();
        assert_eq!(
            v.verify(&k, iss, &k.sign(Some("at+jwt"), &other_aud).unwrap(), 1),
            Err(BearerError::Invalid)
        );
        let foreign = keys().sign(Some("at+jwt"), &claims(1000)).unwrap();
        assert_eq!(v.verify(&k, iss, &foreign, 1), Err(BearerError::Invalid));
        let mut altered = good.into_bytes();
        let last = altered.len() - 5;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            v.verify(&k, iss, &String::from_utf8(altered).unwrap(), 1),
            Err(BearerError::Invalid)
        );
    }
}
