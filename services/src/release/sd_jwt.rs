//! A release as an SD-JWT (RFC 9901, media type `application/dc+sd-jwt`): the same claims
//! [`super::claims::build`] made from the grants, with every member of every `verified_claims`
//! element and the claims that identify or link the citizen concealed behind salted digests,
//! decoys added, and the department's own registered key bound as the holder key (`cnf.jwk`), so
//! that it can pass a key-bound subset on to a third party (docs/release.md).
//!
//! The format and every check are the `sdjwt` crate's; this module chooses what is concealed, the
//! holder key and the lifetime, and signs through the broker's keys.
//!
//! INVARIANT: this module only re-encodes claims that `claims::build` produced from the grants;
//! it reads no fact and adds no value.

use serde_json::Value;

use super::claims::ReleaseClaims;
use crate::keys::SigningKeys;

/// The media type of an SD-JWT release, as asked in `Accept`.
pub const MEDIA_TYPE: &str = "application/dc+sd-jwt";

/// How long an SD-JWT release is valid: long enough to be passed on the same working day, never
/// beyond the consent it rests on (see [`expiry`]).
pub const SD_JWT_TTL_SECS: i64 = 7_200;

/// The top-level claims concealed, when present: those that identify or link the citizen, so a
/// department can leave them out when it passes a release on. What decides validity (`iss`,
/// `aud`, `iat`, `exp`, `jti`, `cnf`) stays in the clear.
const CONCEALED_TOP_LEVEL: [&str; 5] = ["sub", "purpose", "consent_id", "txn", "withheld"];

/// Every member of every `verified_claims` element's `claims` and `verification`.
const CONCEALED_NESTED: [&str; 2] = [
    "/verified_claims/*/claims/*",
    "/verified_claims/*/verification/*",
];

/// Why no holder key could be chosen from the client's registered keys. Never names a key's
/// material; the `kid` asked is the department's own input and is not echoed either.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HolderKeyError {
    #[error("the client has no registered signing key to bind (EC P-256, Ed25519 or RSA)")]
    NoSigningKey,
    #[error("the client has no registered signing key with the `holder_kid` asked")]
    NoKeyWithKid,
}

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("cannot issue the sd-jwt release: {0}")]
    SdJwt(#[from] sdjwt::Error),
    #[error("cannot encode the release claims")]
    Encode(#[from] serde_json::Error),
}

/// The holder key to bind, from the client's registered JWKS (inline or fetched from its
/// `jwks_uri`), in the registered order:
///
/// - with `kid` (the `holder_kid` query parameter), the key with that `kid`, if it is a signing key;
/// - otherwise the first signing key: `use` absent or `sig`, EC P-256, Ed25519 or RSA, and an
///   `alg`, if it names one, that fits the key. Keys of any other kind are skipped.
///
/// The key is bound with its own `kid` and `alg`, so a KB-JWT must be signed with that very key.
pub fn holder_key(registered: &[Value], kid: Option<&str>) -> Result<sdjwt::Jwk, HolderKeyError> {
    let mut usable = registered
        .iter()
        .filter_map(|jwk| sdjwt::Jwk::from_json(jwk).ok());
    match kid {
        Some(kid) => usable
            .find(|k| k.kid() == Some(kid))
            .ok_or(HolderKeyError::NoKeyWithKid),
        None => usable.next().ok_or(HolderKeyError::NoSigningKey),
    }
}

/// When an SD-JWT release issued at `now_s` expires: [`SD_JWT_TTL_SECS`] later, or when the
/// consent it rests on expires, whichever is first.
pub fn expiry(now_s: i64, consent_expires_at_ms: Option<i64>) -> i64 {
    let own = now_s.saturating_add(SD_JWT_TTL_SECS);
    consent_expires_at_ms.map_or(own, |ms| own.min(ms.div_euclid(1000)))
}

/// The claim paths concealed in `claims`: the nested members always (a wildcard over nothing is
/// nothing), the top-level ones present.
fn disclosable(claims: &Value) -> Vec<String> {
    let mut paths: Vec<String> = CONCEALED_TOP_LEVEL
        .iter()
        .filter(|name| claims.get(**name).is_some())
        .map(|name| format!("/{name}"))
        .collect();
    paths.extend(CONCEALED_NESTED.iter().map(|p| (*p).to_owned()));
    paths
}

/// Issues `claims` as an SD-JWT bound to `holder`, signed with the broker's current key
/// (`typ: dc+sd-jwt`, `kid` of the key published at `/jwks.json`).
pub fn issue(
    claims: &ReleaseClaims,
    holder: &sdjwt::Jwk,
    keys: &SigningKeys,
) -> Result<String, IssueError> {
    let claims = serde_json::to_value(claims)?;
    let paths = disclosable(&claims);
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let signer = |header: &sdjwt::JwsHeader<'_>, payload: &[u8]| {
        keys.sign_bytes(Some(header.typ), payload)
            .map_err(|e| -> sdjwt::SignerError { Box::new(e) })
    };
    let issued = sdjwt::Issuer::new().issue(&claims, &paths, Some(holder), &signer)?;
    Ok(issued.into_compact())
}

/// The broker's published keys as the `sdjwt` crate reads them (what a verifier takes from
/// `/jwks.json`).
pub fn issuer_keys(keys: &SigningKeys) -> Vec<sdjwt::Jwk> {
    keys.published()
        .iter()
        .filter_map(|k| serde_json::to_value(k).ok())
        .filter_map(|v| sdjwt::Jwk::from_json(&v).ok())
        .collect()
}

#[cfg(test)]
mod tests;
