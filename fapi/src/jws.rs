//! Compact JWS: the algorithms the provider accepts, splitting and decoding a token it is given,
//! and building one it signs through the caller's [`Signer`] (the broker's private keys never
//! enter this crate).
//!
//! Only asymmetric algorithms exist here: `none` and every HMAC name map to no [`Algorithm`], so
//! no token "signed" with a shared secret (or with a public key misused as one) can verify.

use serde_json::{Map, Value};

use crate::encoding::{b64, b64_decode, decode_object, is_b64url};

/// A JWS algorithm a department's key may sign with.
///
/// FAPI 2.0 §5.4 allows PS256, ES256 and EdDSA (Ed25519); RS256 exists for departments whose
/// keys predate the profile and is accepted only where a caller lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Es256,
    EdDsa,
    Ps256,
    Rs256,
}

impl Algorithm {
    /// The algorithms FAPI 2.0 allows, in the order the provider advertises them.
    pub const FAPI: [Algorithm; 3] = [Algorithm::Es256, Algorithm::Ps256, Algorithm::EdDsa];

    /// Reads an `alg` value. `Ed25519` is RFC 9864's fully specified name for EdDSA on Ed25519,
    /// the only EdDSA curve accepted.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Self::Es256),
            "EdDSA" | "Ed25519" => Some(Self::EdDsa),
            "PS256" => Some(Self::Ps256),
            "RS256" => Some(Self::Rs256),
            _ => None,
        }
    }

    /// The registered `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
            Self::Ps256 => "PS256",
            Self::Rs256 => "RS256",
        }
    }
}

/// A compact JWS split and decoded, its signature not yet checked.
pub(crate) struct Jws<'a> {
    pub(crate) header: Map<String, Value>,
    pub(crate) payload: Map<String, Value>,
    signing_input: &'a str,
    signature: Vec<u8>,
}

impl<'a> Jws<'a> {
    /// Splits `header.payload.signature`; header and payload must be JSON objects without
    /// duplicate members, every part canonical base64url.
    pub(crate) fn parse(token: &'a str) -> Option<Self> {
        let mut parts = token.split('.');
        let (header_b64, payload_b64, signature_b64) =
            (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some()
            || ![header_b64, payload_b64, signature_b64]
                .iter()
                .all(|p| is_b64url(p))
        {
            return None;
        }
        Some(Self {
            header: decode_object(header_b64)?,
            payload: decode_object(payload_b64)?,
            signing_input: &token[..header_b64.len() + 1 + payload_b64.len()],
            signature: b64_decode(signature_b64)?,
        })
    }

    pub(crate) fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    pub(crate) fn signature(&self) -> &[u8] {
        &self.signature
    }
}

/// Signs for the provider: the broker's key store implements this, so this crate builds tokens
/// (logout tokens, and later ID tokens) without ever holding a private key.
pub trait Signer {
    /// The `alg` header value the signature is made with.
    fn algorithm(&self) -> &str;
    /// The `kid` header value, when the key has one (it should: departments pick the key from
    /// the broker's JWKS by it).
    fn key_id(&self) -> Option<&str>;
    /// Signs the JWS signing input (`base64url(header) "." base64url(payload)`), returning the
    /// raw signature bytes (for ES256, the 64-byte `r ‖ s` form of RFC 7518 §3.4).
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// Why a token could not be signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The caller's signer failed.
    #[error("the signer failed")]
    Signer(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The signer named `none`, an HMAC or an unknown algorithm.
    #[error("the signer's algorithm is not an accepted asymmetric one")]
    Algorithm,
    /// The header or claims could not be written as JSON.
    #[error("cannot encode json")]
    Encode,
}

/// Builds a compact JWS with header `{"alg", "kid"?, "typ"}` over `claims`.
pub fn sign_compact(signer: &dyn Signer, typ: &str, claims: &Value) -> Result<String, SignError> {
    // INVARIANT: the provider never issues a token it would refuse to verify.
    let alg = Algorithm::from_name(signer.algorithm()).ok_or(SignError::Algorithm)?;
    let mut header = Map::new();
    header.insert("alg".into(), Value::String(alg.name().into()));
    if let Some(kid) = signer.key_id() {
        header.insert("kid".into(), Value::String(kid.into()));
    }
    header.insert("typ".into(), Value::String(typ.into()));
    let header = serde_json::to_vec(&Value::Object(header)).map_err(|_| SignError::Encode)?;
    let payload = serde_json::to_vec(claims).map_err(|_| SignError::Encode)?;
    let signing_input = format!("{}.{}", b64(header), b64(payload));
    let signature = signer.sign(signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", b64(signature)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_asymmetric_names_are_algorithms() {
        for name in [
            "none", "None", "HS256", "HS384", "HS512", "ES384", "RS512", "", "es256",
        ] {
            assert_eq!(Algorithm::from_name(name), None, "{name}");
        }
        for alg in [
            Algorithm::Es256,
            Algorithm::EdDsa,
            Algorithm::Ps256,
            Algorithm::Rs256,
        ] {
            assert_eq!(Algorithm::from_name(alg.name()), Some(alg));
        }
        assert_eq!(Algorithm::from_name("Ed25519"), Some(Algorithm::EdDsa));
        assert!(!Algorithm::FAPI.contains(&Algorithm::Rs256));
    }

    #[test]
    fn compact_parsing_refuses_anything_but_three_canonical_parts() {
        let header = b64(r#"{"alg":"ES256"}"#);
        let payload = b64(r#"{"a":1}"#);
        let good = format!("{header}.{payload}.{}", b64([1u8; 64]));
        let jws = Jws::parse(&good).unwrap();
        assert_eq!(
            jws.signing_input(),
            format!("{header}.{payload}").as_bytes()
        );
        assert_eq!(jws.signature(), [1u8; 64]);
        for bad in [
            format!("{header}.{payload}"),
            format!("{header}.{payload}.{}.x", b64([1u8; 64])),
            format!("{header}.{payload}."),
            format!("{header}=.{payload}.AA"),
            format!("{}.{payload}.AA", b64("[1]")),
            format!("{}.{payload}.AA", b64(r#"{"alg":"ES256","alg":"none"}"#)),
            format!("{header}.{}.AA", b64("not json")),
        ] {
            assert!(Jws::parse(&bad).is_none(), "{bad}");
        }
    }

    struct Fixed(&'static str);

    impl Signer for Fixed {
        fn algorithm(&self) -> &str {
            self.0
        }
        fn key_id(&self) -> Option<&str> {
            Some("k1")
        }
        fn sign(&self, _: &[u8]) -> Result<Vec<u8>, SignError> {
            Ok(vec![7; 4])
        }
    }

    #[test]
    fn signing_writes_the_header_and_refuses_symmetric_signers() {
        let token =
            sign_compact(&Fixed("ES256"), "logout+jwt", &serde_json::json!({"a": 1})).unwrap();
        let jws = Jws::parse(&token).unwrap();
        assert_eq!(
            Value::Object(jws.header),
            serde_json::json!({"alg": "ES256", "kid": "k1", "typ": "logout+jwt"})
        );
        assert_eq!(Value::Object(jws.payload), serde_json::json!({"a": 1}));
        for alg in ["HS256", "none"] {
            assert!(matches!(
                sign_compact(&Fixed(alg), "t", &serde_json::json!({})),
                Err(SignError::Algorithm)
            ));
        }
    }
}
