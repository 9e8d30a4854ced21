//! Verification of an SD-JWT or SD-JWT+KB (RFC 9901 §7.1 and §7.3): what a third party does with
//! a presentation, and what a holder does with an issuance.

use serde_json::{Map, Value};

use crate::disclosure::Disclosure;
use crate::encoding::digest;
use crate::jose::{Jwk, Jws};
use crate::process::{Processed, process};
use crate::{Error, TYP_KB_JWT, TYP_SD_JWT};

/// What the verifier expects of the issuer-signed JWT. The crate reads no clock: `now` is the
/// caller's (seconds since the Unix epoch).
#[derive(Debug, Clone)]
pub struct IssuerCheck<'a> {
    /// The issuer's published keys (its JWKS); the token's `kid` picks one.
    pub keys: &'a [Jwk],
    /// The `typ` header required (explicit typing, RFC 9901 §9.11). Default `dc+sd-jwt`.
    pub typ: &'a str,
    /// The `iss` required, if any.
    pub issuer: Option<&'a str>,
    /// Top-level claims that must be present after processing (§9.7: a verifier states which
    /// claims it needs to judge validity, since an issuer might have concealed them).
    pub required_claims: &'a [&'a str],
    pub now: i64,
    /// Tolerated clock skew for `exp`, `nbf`, `iat`, in seconds. Default 60.
    pub leeway_secs: i64,
}

impl<'a> IssuerCheck<'a> {
    pub fn new(keys: &'a [Jwk], now: i64) -> Self {
        Self {
            keys,
            typ: TYP_SD_JWT,
            issuer: None,
            required_claims: &[],
            now,
            leeway_secs: 60,
        }
    }
}

/// Whether the verifier requires key binding. Decided by the verifier's policy before looking at
/// the presentation (§7.3 step 1, §9.5): never by whether a KB-JWT happens to be there.
#[derive(Debug, Clone, Copy)]
pub enum KeyBinding<'a> {
    /// A bare SD-JWT is expected; a KB-JWT is refused, since nothing here could check its
    /// audience or nonce (and a holder must refuse an issuance that carries one, §7.2).
    NotRequired,
    /// An SD-JWT+KB is required, bound to this audience and nonce, signed at most `max_age_secs`
    /// before `now`.
    Required {
        audience: &'a str,
        nonce: &'a str,
        max_age_secs: i64,
    },
}

/// A verified presentation.
pub struct Verified {
    claims: Map<String, Value>,
    disclosed: Vec<String>,
    holder_key: Option<Jwk>,
}

impl std::fmt::Debug for Verified {
    /// Claim values are never printed; the paths of what was disclosed are.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified")
            .field("disclosed", &self.disclosed)
            .field("holder_key", &self.holder_key)
            .finish_non_exhaustive()
    }
}

impl Verified {
    /// The processed payload (§7.1): plain claims plus those disclosed, without `_sd`, `_sd_alg`
    /// or decoys.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    pub fn into_claims(self) -> Map<String, Value> {
        self.claims
    }

    /// The JSON pointers of the claims that were selectively disclosed (names, never values).
    pub fn disclosed(&self) -> &[String] {
        &self.disclosed
    }

    /// The holder key bound in `cnf.jwk`, if the SD-JWT binds one.
    pub fn holder_key(&self) -> Option<&Jwk> {
        self.holder_key.as_ref()
    }
}

/// A compact presentation, split: `sd_jwt` is everything up to and including the last `~`
/// (what `sd_hash` covers), `kb_jwt` what follows it, if anything.
pub(crate) struct Parts<'a> {
    pub(crate) sd_jwt: &'a str,
    pub(crate) issuer_jwt: &'a str,
    pub(crate) disclosures: Vec<&'a str>,
    pub(crate) kb_jwt: Option<&'a str>,
}

pub(crate) fn split(compact: &str) -> Result<Parts<'_>, Error> {
    let last = compact
        .rfind('~')
        .ok_or(Error::malformed("no `~` separator"))?;
    let (sd_jwt, kb) = (&compact[..=last], &compact[last + 1..]);
    let mut parts = compact[..last].split('~');
    let issuer_jwt = parts.next().unwrap_or_default();
    if issuer_jwt.is_empty() {
        return Err(Error::malformed("no issuer-signed jwt"));
    }
    let disclosures: Vec<&str> = parts.collect();
    if disclosures.iter().any(|d| d.is_empty()) {
        return Err(Error::malformed("empty disclosure"));
    }
    Ok(Parts {
        sd_jwt,
        issuer_jwt,
        disclosures,
        kb_jwt: (!kb.is_empty()).then_some(kb),
    })
}

/// Checks the issuer-signed JWT and processes the disclosures (§7.1); the KB-JWT is the caller's.
pub(crate) fn check_issued(
    parts: &Parts<'_>,
    check: &IssuerCheck<'_>,
) -> Result<(Vec<Disclosure>, Processed), Error> {
    let disclosures = parts
        .disclosures
        .iter()
        .enumerate()
        .map(|(index, text)| Disclosure::parse(text, index))
        .collect::<Result<Vec<_>, _>>()?;
    let jws = Jws::parse(parts.issuer_jwt)
        .ok_or(Error::malformed("issuer-signed jwt is not a compact jws"))?;
    if jws.typ() != Some(check.typ) {
        return Err(Error::Typ {
            expected: check.typ.to_owned(),
        });
    }
    jws.verify(check.keys)?;
    let payload = jws.payload().ok_or(Error::malformed(
        "issuer-signed payload is not a json object",
    ))?;
    let processed = process(payload, &disclosures)?;
    check_validity(&processed.claims, check)?;
    Ok((disclosures, processed))
}

fn check_validity(claims: &Map<String, Value>, check: &IssuerCheck<'_>) -> Result<(), Error> {
    let (now, leeway) = (check.now, check.leeway_secs);
    if numeric_date(claims, "exp")?.is_some_and(|exp| now >= exp.saturating_add(leeway)) {
        return Err(Error::Expired);
    }
    if numeric_date(claims, "nbf")?.is_some_and(|nbf| now.saturating_add(leeway) < nbf) {
        return Err(Error::NotYetValid);
    }
    if numeric_date(claims, "iat")?.is_some_and(|iat| iat > now.saturating_add(leeway)) {
        return Err(Error::IssuedInFuture);
    }
    if let Some(expected) = check.issuer
        && claims.get("iss").and_then(Value::as_str) != Some(expected)
    {
        return Err(Error::Issuer);
    }
    if let Some(missing) = check
        .required_claims
        .iter()
        .find(|n| !claims.contains_key(**n))
    {
        return Err(Error::MissingClaim {
            name: (*missing).to_owned(),
        });
    }
    Ok(())
}

/// A NumericDate (RFC 7519 §2): seconds, possibly fractional (truncated here).
fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, Error> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or(Error::ClaimType { name }),
        Some(_) => Err(Error::ClaimType { name }),
    }
}

/// Verifies a presentation: the issuer's signature and validity, every disclosure, and — when
/// `binding` requires it — the KB-JWT. Returns the processed claims.
pub fn verify(
    presentation: &str,
    check: &IssuerCheck<'_>,
    binding: KeyBinding<'_>,
) -> Result<Verified, Error> {
    let parts = split(presentation)?;
    let (_, processed) = check_issued(&parts, check)?;
    let holder_key = holder_key(&processed.claims);
    match (binding, parts.kb_jwt) {
        (KeyBinding::NotRequired, None) => {}
        (KeyBinding::NotRequired, Some(_)) => return Err(Error::KeyBindingUnexpected),
        (KeyBinding::Required { .. }, None) => return Err(Error::KeyBindingMissing),
        (
            KeyBinding::Required {
                audience,
                nonce,
                max_age_secs,
            },
            Some(kb),
        ) => {
            let key = holder_key.as_ref().ok_or(Error::HolderKeyMissing)?;
            check_key_binding(kb, key, parts.sd_jwt, audience, nonce, max_age_secs, check)?;
        }
    }
    let mut disclosed: Vec<String> = processed
        .placements
        .iter()
        .map(|p| p.path.to_string())
        .collect();
    disclosed.sort();
    Ok(Verified {
        claims: processed.claims,
        disclosed,
        holder_key,
    })
}

/// The holder key in `cnf.jwk` (the only confirmation method this crate binds or checks).
pub(crate) fn holder_key(claims: &Map<String, Value>) -> Option<Jwk> {
    claims
        .get("cnf")
        .and_then(|cnf| cnf.get("jwk"))
        .and_then(|jwk| Jwk::from_json(jwk).ok())
}

/// §7.3 step 5.
fn check_key_binding(
    kb: &str,
    holder: &Jwk,
    sd_jwt: &str,
    audience: &str,
    nonce: &str,
    max_age_secs: i64,
    check: &IssuerCheck<'_>,
) -> Result<(), Error> {
    let malformed = |what| Error::KeyBindingMalformed { what };
    let jws = Jws::parse(kb).ok_or(malformed("not a compact jws"))?;
    jws.verify_with(holder).map_err(|e| match e {
        Error::Signature => Error::KeyBindingSignature,
        other => other,
    })?;
    if jws.typ() != Some(TYP_KB_JWT) {
        return Err(malformed("`typ` is not `kb+jwt`"));
    }
    let claims = jws
        .payload()
        .ok_or(malformed("payload is not a json object"))?;
    let iat = numeric_date(&claims, "iat")
        .ok()
        .flatten()
        .ok_or(malformed("`iat` missing or not a number"))?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let kb_audience = text("aud").ok_or(malformed("`aud` missing or not a single string"))?;
    let kb_nonce = text("nonce").ok_or(malformed("`nonce` missing or not a string"))?;
    let sd_hash = text("sd_hash").ok_or(malformed("`sd_hash` missing or not a string"))?;

    let (now, leeway) = (check.now, check.leeway_secs);
    let oldest = now.saturating_sub(max_age_secs).saturating_sub(leeway);
    if iat > now.saturating_add(leeway) || iat < oldest {
        return Err(Error::KeyBindingTime);
    }
    let expired =
        numeric_date(&claims, "exp")?.is_some_and(|exp| now >= exp.saturating_add(leeway));
    let early = numeric_date(&claims, "nbf")?.is_some_and(|nbf| now.saturating_add(leeway) < nbf);
    if expired || early {
        return Err(Error::KeyBindingTime);
    }
    if kb_audience != audience {
        return Err(Error::KeyBindingAudience);
    }
    if kb_nonce != nonce {
        return Err(Error::KeyBindingNonce);
    }
    if sd_hash != digest(sd_jwt) {
        return Err(Error::KeyBindingSdHash);
    }
    Ok(())
}
