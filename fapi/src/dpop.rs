//! Verifying DPoP proofs (RFC 9449 §4.3) at the token, PAR and userinfo endpoints and at the
//! attribute API, and checking that a proof's key is the one a token or code is bound to.
//!
//! Every check of §4.3 has its own error, so a refusal says which check failed (the error code
//! is `invalid_dpop_proof`, or `use_dpop_nonce` when the server's nonce is missing or stale)
//! without echoing anything from the proof. What a proof establishes is a [`VerifiedProof`]: the
//! key's RFC 7638 thumbprint (for `cnf.jkt`), and the `jti` with the time until which the caller
//! must remember it, since replay detection needs storage and storage is not this crate's.

mod htu;

use serde_json::{Map, Value};

use crate::encoding::{constant_time_eq, numeric_date, sha256_b64};
use crate::errors::ErrorCode;
use crate::jwk::{JwkError, PublicJwk};
use crate::jws::{Algorithm, Jws};

/// A proof longer than this is refused before it is decoded. An RSA-8192 key in the header,
/// the longest key accepted, fits in well under 3,000 bytes.
pub const MAX_PROOF_LEN: usize = 8_192;

/// RFC 9449 §11.1: "reject DPoP proof JWTs with unnecessarily large `jti` values". A UUID is 36
/// characters; 96 random bits in base64url are 16.
pub const MAX_JTI_LEN: usize = 256;

/// FAPI 2.0 §5.3.2.1: JWTs with `iat` more than 60 seconds in the future are refused, whatever
/// the caller's window says.
pub const MAX_FUTURE_SECS_LIMIT: i64 = 60;

/// Why a DPoP proof was refused: one variant per check of RFC 9449 §4.3. Messages name the
/// check, never a value from the proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    #[error("the request carries no dpop proof")]
    Missing,
    #[error("the request carries more than one dpop header")]
    MultipleHeaders,
    #[error("the dpop proof is not a single well-formed jwt")]
    Malformed,
    #[error("the dpop proof's `typ` is not `dpop+jwt`")]
    Type,
    #[error("the dpop proof's `alg` is not an accepted asymmetric algorithm")]
    Algorithm,
    #[error("the dpop proof uses a critical header extension")]
    CriticalHeader,
    #[error("the dpop proof has no `jwk` header")]
    NoKey,
    #[error("the dpop proof's `jwk` is not a usable public key: {0}")]
    Key(JwkError),
    #[error("the dpop proof's `alg` does not fit its `jwk`")]
    KeyAlgorithm,
    #[error("the dpop proof's signature does not verify with its `jwk`")]
    Signature,
    #[error("the dpop proof lacks the claim `{0}`")]
    MissingClaim(&'static str),
    #[error("the dpop proof's claim `{0}` has the wrong type")]
    ClaimType(&'static str),
    #[error("the dpop proof's `jti` is longer than {MAX_JTI_LEN} characters")]
    JtiTooLong,
    #[error("the dpop proof's `htm` does not match the request method")]
    Method,
    #[error("the dpop proof's `htu` does not match the request uri")]
    Uri,
    #[error("the dpop proof was issued too long ago")]
    Stale,
    #[error("the dpop proof was issued in the future")]
    IssuedInFuture,
    #[error("the dpop proof lacks `ath` for the access token presented")]
    MissingAccessTokenHash,
    #[error("the dpop proof's `ath` does not match the access token presented")]
    AccessTokenHash,
    #[error("the dpop proof lacks the server's nonce")]
    MissingNonce,
    #[error("the dpop proof's nonce is not a current server nonce")]
    Nonce,
    #[error("the dpop proof's key is not the key the token or code is bound to")]
    KeyMismatch,
    /// The caller's own request description is unusable (not an absolute http(s) URI): a
    /// configuration error, not the client's.
    #[error("the request uri given to the dpop check is not an absolute http(s) uri")]
    RequestUri,
}

impl DpopError {
    /// The OAuth error code to answer with. A key mismatch at a resource (the access token's
    /// `cnf.jkt`) is answered `invalid_token` by RFC 9449 §7.1; the caller knows which case it
    /// is in and may answer so.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::MissingNonce | Self::Nonce => ErrorCode::UseDpopNonce,
            Self::RequestUri => ErrorCode::ServerError,
            _ => ErrorCode::InvalidDpopProof,
        }
    }
}

/// What the server accepts: algorithms and the `iat` window.
#[derive(Debug, Clone)]
pub struct DpopPolicy<'a> {
    /// Accepted `alg` values; [`Algorithm::FAPI`] unless a department's keys need RS256.
    pub algorithms: &'a [Algorithm],
    /// How old a proof may be, in seconds (RFC 9449 §11.1: "on the order of seconds or
    /// minutes").
    pub max_age_secs: i64,
    /// How far in the future `iat` may be (FAPI 2.0: at least 10 accepted, more than 60
    /// always refused).
    pub max_future_secs: i64,
}

impl Default for DpopPolicy<'static> {
    fn default() -> Self {
        Self {
            algorithms: &Algorithm::FAPI,
            max_age_secs: 60,
            max_future_secs: 10,
        }
    }
}

/// The request a proof must match, as the server received it.
#[derive(Debug, Clone, Copy)]
pub struct DpopRequest<'a> {
    /// The HTTP method (`POST`, `GET`), compared exactly: methods are case-sensitive.
    pub method: &'a str,
    /// The absolute target URI as the client addressed it (the broker's public base URL plus
    /// the path), query and fragment allowed (they are ignored).
    pub uri: &'a str,
    /// The access token presented with the proof at a resource, whose hash must be `ath`;
    /// `None` at the token and PAR endpoints.
    pub access_token: Option<&'a str>,
    /// The server nonces currently valid for this client (RFC 9449 §8: "a window of recent
    /// nonces"); `None` when the server has not asked for one.
    pub nonces: Option<&'a [&'a str]>,
}

/// A proof that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The RFC 7638 thumbprint of the proof's key: `cnf.jkt` for tokens issued on it.
    pub jkt: String,
    /// The proof's identifier.
    pub jti: String,
    pub iat: i64,
    pub algorithm: Algorithm,
    /// What to store for replay detection: base64url(SHA-256(normalised htu ‖ 0x00 ‖ jti)),
    /// so a large `jti` costs a fixed 43 bytes and two endpoints never share a key space
    /// (RFC 9449 §11.1: "in the context of the target URI").
    pub replay_key: String,
    /// Until when (Unix seconds) `replay_key` must be remembered: after that the proof is
    /// refused as stale anyway.
    pub remember_until: i64,
}

impl VerifiedProof {
    /// Checks that the proof's key is the one a token (`cnf.jkt`), an authorization code or a
    /// pushed request (`dpop_jkt`) is bound to.
    pub fn check_binding(&self, bound_jkt: &str) -> Result<(), DpopError> {
        if constant_time_eq(self.jkt.as_bytes(), bound_jkt.as_bytes()) {
            Ok(())
        } else {
            Err(DpopError::KeyMismatch)
        }
    }
}

/// `ath`: base64url(SHA-256(the ASCII access token)) (RFC 9449 §4.2).
pub fn access_token_hash(access_token: &str) -> String {
    sha256_b64(access_token.as_bytes())
}

/// Checks the `DPoP` header values of one request: exactly one, then [`verify`].
pub fn verify_header(
    values: &[&str],
    request: &DpopRequest<'_>,
    policy: &DpopPolicy<'_>,
    now: i64,
) -> Result<VerifiedProof, DpopError> {
    match values {
        [] => Err(DpopError::Missing),
        [proof] => verify(proof, request, policy, now),
        _ => Err(DpopError::MultipleHeaders),
    }
}

/// Verifies one proof against the request it came with (RFC 9449 §4.3).
pub fn verify(
    proof: &str,
    request: &DpopRequest<'_>,
    policy: &DpopPolicy<'_>,
    now: i64,
) -> Result<VerifiedProof, DpopError> {
    let request_uri = htu::normalize(request.uri).ok_or(DpopError::RequestUri)?;
    if proof.len() > MAX_PROOF_LEN {
        return Err(DpopError::Malformed);
    }
    let jws = Jws::parse(proof).ok_or(DpopError::Malformed)?;
    let (algorithm, key) = check_header(&jws.header, policy)?;
    if !key.verifies(algorithm, jws.signing_input(), jws.signature()) {
        return Err(DpopError::Signature);
    }
    let claims = &jws.payload;
    let jti = string_claim(claims, "jti")?;
    let htm = string_claim(claims, "htm")?;
    let htu = string_claim(claims, "htu")?;
    let iat = claims
        .get("iat")
        .ok_or(DpopError::MissingClaim("iat"))
        .and_then(|v| numeric_date(v).ok_or(DpopError::ClaimType("iat")))?;
    if jti.is_empty() {
        return Err(DpopError::MissingClaim("jti"));
    }
    if jti.len() > MAX_JTI_LEN {
        return Err(DpopError::JtiTooLong);
    }
    if htm != request.method {
        return Err(DpopError::Method);
    }
    if htu::normalize(htu).as_deref() != Some(request_uri.as_str()) {
        return Err(DpopError::Uri);
    }
    let max_future = policy.max_future_secs.clamp(0, MAX_FUTURE_SECS_LIMIT);
    if iat > now.saturating_add(max_future) {
        return Err(DpopError::IssuedInFuture);
    }
    if iat < now.saturating_sub(policy.max_age_secs.max(0)) {
        return Err(DpopError::Stale);
    }
    if let Some(token) = request.access_token {
        let ath = match claims.get("ath") {
            None => return Err(DpopError::MissingAccessTokenHash),
            Some(Value::String(ath)) => ath,
            Some(_) => return Err(DpopError::ClaimType("ath")),
        };
        if !constant_time_eq(ath.as_bytes(), access_token_hash(token).as_bytes()) {
            return Err(DpopError::AccessTokenHash);
        }
    }
    if let Some(nonces) = request.nonces {
        let nonce = match claims.get("nonce") {
            None => return Err(DpopError::MissingNonce),
            Some(Value::String(nonce)) => nonce,
            Some(_) => return Err(DpopError::ClaimType("nonce")),
        };
        if !nonces
            .iter()
            .any(|n| constant_time_eq(n.as_bytes(), nonce.as_bytes()))
        {
            return Err(DpopError::Nonce);
        }
    }
    let mut replay_input = request_uri.into_bytes();
    replay_input.push(0);
    replay_input.extend_from_slice(jti.as_bytes());
    Ok(VerifiedProof {
        jkt: key.thumbprint(),
        jti: jti.to_owned(),
        iat,
        algorithm,
        replay_key: sha256_b64(replay_input),
        remember_until: iat.saturating_add(policy.max_age_secs.max(0)),
    })
}

/// `typ`, `alg`, `crit` and `jwk`: everything needed before the signature can be checked.
fn check_header(
    header: &Map<String, Value>,
    policy: &DpopPolicy<'_>,
) -> Result<(Algorithm, PublicJwk), DpopError> {
    let typ = header
        .get("typ")
        .and_then(Value::as_str)
        .ok_or(DpopError::Type)?;
    // RFC 7515 §4.1.9: media type names are case-insensitive and `application/` may be left
    // out; RFC 8725 §3.11 explicit typing is what the check is for.
    let typ = typ.to_ascii_lowercase();
    if typ != "dpop+jwt" && typ != "application/dpop+jwt" {
        return Err(DpopError::Type);
    }
    let algorithm = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(Algorithm::from_name)
        .filter(|alg| policy.algorithms.contains(alg))
        .ok_or(DpopError::Algorithm)?;
    // We implement no JWS extension, so one marked critical can never be honoured.
    if header.contains_key("crit") {
        return Err(DpopError::CriticalHeader);
    }
    let key =
        PublicJwk::from_json(header.get("jwk").ok_or(DpopError::NoKey)?).map_err(DpopError::Key)?;
    if !key.accepts(algorithm) {
        return Err(DpopError::KeyAlgorithm);
    }
    Ok((algorithm, key))
}

fn string_claim<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, DpopError> {
    match claims.get(name) {
        None => Err(DpopError::MissingClaim(name)),
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(DpopError::ClaimType(name)),
    }
}

#[cfg(test)]
mod tests;
