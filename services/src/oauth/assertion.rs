//! Verification of a client assertion (`private_key_jwt`, RFC 7523 §2.2, OpenID Connect Core §9).
//!
//! The header is read here rather than by `jsonwebtoken::decode_header` so that an assertion
//! labelled `alg: "Ed25519"` (as openid-client writes it) is understood, and so that `none` and
//! HMAC can be refused with their own reason. The signature is checked by `jsonwebtoken` (on ring)
//! against a registered key; every claim is then checked here.

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use super::{CLOCK_SKEW_SECS, MAX_ASSERTION_LIFETIME_SECS};
use crate::jose::{b64_decode, split_compact};

/// Why an assertion was refused. Never carries the assertion itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    #[error("the client assertion is not a compact JWS")]
    Malformed,
    #[error(
        "the client assertion's algorithm `{0}` is not accepted (use ES256, EdDSA, RS256 or PS256)"
    )]
    Algorithm(String),
    #[error("the client assertion names no client (`iss` and `sub` must be the client id)")]
    NoClient,
    #[error("`iss` and `sub` of the client assertion must both equal the client id")]
    IssuerSubject,
    #[error("the client assertion's `aud` must be the broker's issuer or token endpoint")]
    Audience,
    #[error("the client assertion has expired")]
    Expired,
    #[error("the client assertion must expire within {0} seconds")]
    TooLong(i64),
    #[error("the client assertion is not valid yet")]
    NotYetValid,
    #[error("the client assertion has no `jti`")]
    NoJti,
    /// RFC 8693 `act` names who acts for the subject; a department's client authenticates as
    /// itself and acts for nobody, so an assertion claiming an actor is forged or confused.
    #[error("a client assertion may not carry `act`: a client acts for nobody")]
    Actor,
    #[error("no registered key of the client matches the assertion's `kid`")]
    UnknownKey,
    #[error("the client assertion's signature does not verify with the client's registered keys")]
    Signature,
}

impl AssertionError {
    /// Whether the assertion's signature had verified with the client's registered key when
    /// this was found: then the refusal identifies the client.
    pub fn signature_verified(&self) -> bool {
        match self {
            Self::IssuerSubject
            | Self::Audience
            | Self::Expired
            | Self::TooLong(_)
            | Self::NotYetValid
            | Self::NoJti
            | Self::Actor => true,
            Self::Malformed
            | Self::Algorithm(_)
            | Self::NoClient
            | Self::UnknownKey
            | Self::Signature => false,
        }
    }
}

/// The claims we read (others are ignored).
#[derive(Debug, Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    jti: Option<String>,
    /// Read only to refuse it (RFC 8693 actor claim).
    act: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains_any(&self, accepted: &[String]) -> bool {
        match self {
            Audience::One(a) => accepted.contains(a),
            Audience::Many(list) => list.iter().any(|a| accepted.contains(a)),
        }
    }
}

/// An assertion whose structure is known but whose signature is not yet checked.
#[derive(Debug)]
pub struct Unverified<'a> {
    token: &'a str,
    algorithm: Algorithm,
    kid: Option<String>,
    claims: Claims,
}

/// What a verified assertion establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub client_id: String,
    pub jti: String,
    pub expires_at: i64,
}

fn algorithm(name: &str) -> Result<Algorithm, AssertionError> {
    match name {
        "ES256" => Ok(Algorithm::ES256),
        "EdDSA" | "Ed25519" => Ok(Algorithm::EdDSA),
        "RS256" => Ok(Algorithm::RS256),
        "PS256" => Ok(Algorithm::PS256),
        other => Err(AssertionError::Algorithm(other.chars().take(16).collect())),
    }
}

/// Reads the header and claims. The client id it names is still only a claim.
pub fn parse(token: &str) -> Result<Unverified<'_>, AssertionError> {
    let (header, payload, _) = split_compact(token).ok_or(AssertionError::Malformed)?;
    let header: serde_json::Value = b64_decode(header)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(AssertionError::Malformed)?;
    let alg = header
        .get("alg")
        .and_then(|a| a.as_str())
        .ok_or(AssertionError::Malformed)?;
    let algorithm = algorithm(alg)?;
    let kid = header
        .get("kid")
        .and_then(|k| k.as_str())
        .map(str::to_owned);
    let claims: Claims = b64_decode(payload)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(AssertionError::Malformed)?;
    Ok(Unverified {
        token,
        algorithm,
        kid,
        claims,
    })
}

impl Unverified<'_> {
    /// The client the assertion claims to come from (`sub`, else `iss`).
    pub fn claimed_client(&self) -> Result<&str, AssertionError> {
        self.claims
            .sub
            .as_deref()
            .or(self.claims.iss.as_deref())
            .ok_or(AssertionError::NoClient)
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether the assertion is signed with RS256, which FAPI 2.0 §5.4 does not allow: the
    /// OpenID Provider's endpoints refuse it; `client_credentials` still accepts it.
    pub fn is_rs256(&self) -> bool {
        self.algorithm == Algorithm::RS256
    }

    /// Checks the signature with one of `keys`, then every claim. `accepted_audiences` are the
    /// broker's issuer and token endpoint URL.
    pub fn verify(
        self,
        keys: &[Jwk],
        accepted_audiences: &[String],
        now_s: i64,
    ) -> Result<Verified, AssertionError> {
        let candidates: Vec<&Jwk> = match &self.kid {
            Some(kid) => keys
                .iter()
                .filter(|k| k.common.key_id.as_deref() == Some(kid.as_str()))
                .collect(),
            None => keys
                .iter()
                .filter(|k| family_matches(k, self.algorithm))
                .collect(),
        };
        if candidates.is_empty() {
            return Err(AssertionError::UnknownKey);
        }
        let (signed, signature) = match self.token.rsplit_once('.') {
            Some(parts) => parts,
            None => return Err(AssertionError::Malformed),
        };
        let verified = candidates.iter().any(|jwk| {
            family_matches(jwk, self.algorithm)
                && DecodingKey::from_jwk(jwk)
                    .ok()
                    .and_then(|key| {
                        jsonwebtoken::crypto::verify(
                            signature,
                            signed.as_bytes(),
                            &key,
                            self.algorithm,
                        )
                        .ok()
                    })
                    .unwrap_or(false)
        });
        if !verified {
            return Err(AssertionError::Signature);
        }
        let c = self.claims;
        let client_id = match (&c.iss, &c.sub) {
            (Some(iss), Some(sub)) if iss == sub => iss.clone(),
            (None, None) => return Err(AssertionError::NoClient),
            _ => return Err(AssertionError::IssuerSubject),
        };
        if !c
            .aud
            .as_ref()
            .is_some_and(|aud| aud.contains_any(accepted_audiences))
        {
            return Err(AssertionError::Audience);
        }
        let exp = c.exp.ok_or(AssertionError::Expired)?;
        // Saturating: `exp` is the client's number, up to `i64::MAX`.
        if exp.saturating_add(CLOCK_SKEW_SECS) < now_s {
            return Err(AssertionError::Expired);
        }
        if exp > now_s + MAX_ASSERTION_LIFETIME_SECS + CLOCK_SKEW_SECS {
            return Err(AssertionError::TooLong(MAX_ASSERTION_LIFETIME_SECS));
        }
        if c.nbf.is_some_and(|nbf| nbf > now_s + CLOCK_SKEW_SECS)
            || c.iat.is_some_and(|iat| iat > now_s + CLOCK_SKEW_SECS)
        {
            return Err(AssertionError::NotYetValid);
        }
        let jti = c
            .jti
            .filter(|j| !j.is_empty() && j.len() <= 256)
            .ok_or(AssertionError::NoJti)?;
        if c.act.is_some() {
            return Err(AssertionError::Actor);
        }
        Ok(Verified {
            client_id,
            jti,
            expires_at: exp,
        })
    }
}

/// Whether a key can verify an algorithm (an EC key never "verifies" an RSA signature, etc.).
fn family_matches(jwk: &Jwk, alg: Algorithm) -> bool {
    matches!(
        (&jwk.algorithm, alg),
        (AlgorithmParameters::EllipticCurve(_), Algorithm::ES256)
            | (AlgorithmParameters::OctetKeyPair(_), Algorithm::EdDSA)
            | (
                AlgorithmParameters::RSA(_),
                Algorithm::RS256 | Algorithm::PS256
            )
    )
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
