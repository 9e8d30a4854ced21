//! Public JSON Web Keys (RFC 7517) for the keys departments and their DPoP proofs use: EC P-256,
//! OKP Ed25519 and RSA; their RFC 7638 thumbprints (SHA-256), which bind tokens to keys
//! (`cnf.jkt`, `dpop_jkt`); and the checks that make a key safe to verify with.
//!
//! A key is refused when it carries private material, names another curve or type, is an RSA
//! key under 2048 bits, or is an EC point that is not on P-256. Members are decoded strictly
//! (canonical base64url only), so the thumbprint of an accepted key is the thumbprint of its
//! exact text.

use ring::signature as sig;
use serde_json::{Map, Value, json};

use crate::encoding::{b64, b64_decode, sha256_b64};
use crate::jws::Algorithm;

/// Why a JWK was refused. Names the member at fault, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwkError {
    #[error("the jwk is not a json object")]
    NotAnObject,
    #[error("the jwk carries private key material (`{member}`)")]
    PrivateKeyMaterial { member: &'static str },
    #[error("the jwk's key type is not EC, OKP or RSA")]
    UnsupportedKeyType,
    #[error("the jwk's curve is not P-256 (EC) or Ed25519 (OKP)")]
    UnsupportedCurve,
    #[error("the jwk member `{member}` is missing or malformed")]
    BadMember { member: &'static str },
    #[error("the ec point is not on the curve")]
    NotOnCurve,
    #[error("the rsa modulus must be 2048 to 8192 bits")]
    RsaModulusSize,
    #[error("the rsa public exponent is not usable")]
    RsaExponent,
    #[error("the jwk is not a signing key (`use` or `key_ops`)")]
    NotForSigning,
    #[error("the jwk's `alg` does not fit its key")]
    AlgorithmMismatch,
}

/// Members that only a private (or symmetric) key has. RFC 9449 §4.3 check 7: the `jwk` of a
/// DPoP proof "does not contain a private key".
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

#[derive(Clone, PartialEq, Eq)]
enum Key {
    /// The coordinates of a point checked to be on P-256.
    P256 {
        x: [u8; 32],
        y: [u8; 32],
    },
    Ed25519 {
        x: [u8; 32],
    },
    /// Big-endian modulus and exponent, without leading zero octets.
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
}

/// A public key checked to be usable for verifying signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicJwk {
    key: Key,
    /// The key's own `alg`, when it names one: then only that algorithm verifies with it.
    alg: Option<Algorithm>,
}

impl std::fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The thumbprint identifies the key without printing its material.
        f.debug_struct("PublicJwk")
            .field("kty", &self.kty())
            .field("jkt", &self.thumbprint())
            .finish()
    }
}

impl PublicJwk {
    /// Reads and checks a public JWK.
    pub fn from_json(value: &Value) -> Result<Self, JwkError> {
        let Value::Object(jwk) = value else {
            return Err(JwkError::NotAnObject);
        };
        if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
            return Err(JwkError::PrivateKeyMaterial { member });
        }
        check_signing_use(jwk)?;
        let key = match text(jwk, "kty") {
            Some("EC") => match text(jwk, "crv") {
                Some("P-256") => p256(jwk)?,
                _ => return Err(JwkError::UnsupportedCurve),
            },
            Some("OKP") => match text(jwk, "crv") {
                Some("Ed25519") => Key::Ed25519 {
                    x: fixed(jwk, "x")?,
                },
                _ => return Err(JwkError::UnsupportedCurve),
            },
            Some("RSA") => rsa(jwk)?,
            _ => return Err(JwkError::UnsupportedKeyType),
        };
        let alg = match jwk.get("alg") {
            None => None,
            Some(Value::String(name)) => match Algorithm::from_name(name) {
                Some(alg) if fits(&key, alg) => Some(alg),
                _ => return Err(JwkError::AlgorithmMismatch),
            },
            Some(_) => return Err(JwkError::AlgorithmMismatch),
        };
        Ok(Self { key, alg })
    }

    /// `EC`, `OKP` or `RSA`.
    pub fn kty(&self) -> &'static str {
        match self.key {
            Key::P256 { .. } => "EC",
            Key::Ed25519 { .. } => "OKP",
            Key::Rsa { .. } => "RSA",
        }
    }

    /// The RFC 7638 JWK thumbprint with SHA-256, base64url: the value of `cnf.jkt` and
    /// `dpop_jkt` (RFC 9449 §6.1, §10).
    pub fn thumbprint(&self) -> String {
        sha256_b64(self.thumbprint_input())
    }

    /// The required members only, in lexicographic order, without whitespace (RFC 7638 §3.2,
    /// §3.3). Written by hand rather than through a JSON serialiser so the order can never
    /// depend on one; every member value is base64url or a fixed name, so nothing needs escaping.
    fn thumbprint_input(&self) -> String {
        match &self.key {
            Key::P256 { x, y } => format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                b64(x),
                b64(y)
            ),
            Key::Ed25519 { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64(x)),
            Key::Rsa { n, e } => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64(e), b64(n)),
        }
    }

    /// The public members (and `alg` if the key had one): what may be stored or echoed.
    pub fn to_json(&self) -> Value {
        let mut jwk = match &self.key {
            Key::P256 { x, y } => {
                json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)})
            }
            Key::Ed25519 { x } => json!({"kty": "OKP", "crv": "Ed25519", "x": b64(x)}),
            Key::Rsa { n, e } => json!({"kty": "RSA", "n": b64(n), "e": b64(e)}),
        };
        if let (Some(alg), Value::Object(map)) = (self.alg, &mut jwk) {
            map.insert("alg".into(), Value::String(alg.name().into()));
        }
        jwk
    }

    /// Whether `alg` can verify with this key (the key's type, and its own `alg` if it has one).
    pub fn accepts(&self, alg: Algorithm) -> bool {
        fits(&self.key, alg) && self.alg.is_none_or(|own| own == alg)
    }

    /// Verifies a JWS signature. `false` for an algorithm the key does not accept.
    pub(crate) fn verifies(&self, alg: Algorithm, signing_input: &[u8], signature: &[u8]) -> bool {
        if !self.accepts(alg) {
            return false;
        }
        let result =
            match (&self.key, alg) {
                (Key::P256 { x, y }, Algorithm::Es256) => {
                    sig::UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point(x, y))
                        .verify(signing_input, signature)
                }
                (Key::Ed25519 { x }, Algorithm::EdDsa) => {
                    sig::UnparsedPublicKey::new(&sig::ED25519, x).verify(signing_input, signature)
                }
                (Key::Rsa { n, e }, Algorithm::Rs256) => sig::RsaPublicKeyComponents { n, e }
                    .verify(&sig::RSA_PKCS1_2048_8192_SHA256, signing_input, signature),
                (Key::Rsa { n, e }, Algorithm::Ps256) => sig::RsaPublicKeyComponents { n, e }
                    .verify(&sig::RSA_PSS_2048_8192_SHA256, signing_input, signature),
                _ => return false,
            };
        result.is_ok()
    }
}

fn fits(key: &Key, alg: Algorithm) -> bool {
    matches!(
        (key, alg),
        (Key::P256 { .. }, Algorithm::Es256)
            | (Key::Ed25519 { .. }, Algorithm::EdDsa)
            | (Key::Rsa { .. }, Algorithm::Rs256 | Algorithm::Ps256)
    )
}

fn text<'a>(jwk: &'a Map<String, Value>, member: &str) -> Option<&'a str> {
    jwk.get(member).and_then(Value::as_str)
}

fn bytes(jwk: &Map<String, Value>, member: &'static str) -> Result<Vec<u8>, JwkError> {
    text(jwk, member)
        .and_then(b64_decode)
        .ok_or(JwkError::BadMember { member })
}

fn fixed(jwk: &Map<String, Value>, member: &'static str) -> Result<[u8; 32], JwkError> {
    bytes(jwk, member)?
        .try_into()
        .map_err(|_| JwkError::BadMember { member })
}

fn point(x: &[u8; 32], y: &[u8; 32]) -> Vec<u8> {
    let mut point = Vec::with_capacity(65);
    point.push(4);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    point
}

fn p256(jwk: &Map<String, Value>) -> Result<Key, JwkError> {
    let (x, y) = (fixed(jwk, "x")?, fixed(jwk, "y")?);
    // ring has no "validate this point" call; an ephemeral key agreement with the point runs
    // ring's own on-curve check (and nothing else: the shared secret is discarded).
    let rng = ring::rand::SystemRandom::new();
    let ours = ring::agreement::EphemeralPrivateKey::generate(&ring::agreement::ECDH_P256, &rng)
        .map_err(|_| JwkError::NotOnCurve)?;
    let theirs =
        ring::agreement::UnparsedPublicKey::new(&ring::agreement::ECDH_P256, point(&x, &y));
    ring::agreement::agree_ephemeral(ours, &theirs, |_| ()).map_err(|_| JwkError::NotOnCurve)?;
    Ok(Key::P256 { x, y })
}

fn rsa(jwk: &Map<String, Value>) -> Result<Key, JwkError> {
    let n = bytes(jwk, "n")?;
    let e = bytes(jwk, "e")?;
    // RFC 7518 §6.3.1: minimal octet sequences. A leading zero would give the same key a second
    // text, and so a second thumbprint.
    if n.first() == Some(&0) {
        return Err(JwkError::BadMember { member: "n" });
    }
    let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
    if !(2048..=8192).contains(&bits) {
        return Err(JwkError::RsaModulusSize);
    }
    // What ring verifies with: odd, at least 3, at most 33 bits.
    let exponent_ok = e.first() != Some(&0)
        && (1..=5).contains(&e.len())
        && e.last().is_some_and(|b| b & 1 == 1)
        && e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)) >= 3
        && e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)) < (1 << 33);
    if !exponent_ok {
        return Err(JwkError::RsaExponent);
    }
    Ok(Key::Rsa { n, e })
}

fn check_signing_use(jwk: &Map<String, Value>) -> Result<(), JwkError> {
    match jwk.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => {}
        Some(_) => return Err(JwkError::NotForSigning),
    }
    match jwk.get("key_ops") {
        None => Ok(()),
        Some(Value::Array(ops)) if ops.iter().any(|op| op == "verify") => Ok(()),
        Some(_) => Err(JwkError::NotForSigning),
    }
}

#[cfg(test)]
mod tests;
