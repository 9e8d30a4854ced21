//! Verifying JOSE, on ring only: public JWKs (EC P-256 for ES256, OKP Ed25519 for EdDSA, RSA
//! for RS256 and PS256 — the algorithms a department may register keys for) and compact JWS
//! parsing and checking. Signing is in [`crate::sign`].
//!
//! Only asymmetric algorithms are accepted: `none` and HMAC can never verify here.

use std::fmt;

use ring::signature as sig;
use serde_json::{Map, Value, json};

use crate::Error;
use crate::encoding::{b64, b64_decode, decode_object, is_b64url};

/// A JWS algorithm this crate verifies (and, for ES256, signs) with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Es256,
    EdDsa,
    Rs256,
    Ps256,
}

impl Algorithm {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Self::Es256),
            // `Ed25519` is RFC 9864's fully-specified name for the same algorithm.
            "EdDSA" | "Ed25519" => Some(Self::EdDsa),
            "RS256" => Some(Self::Rs256),
            "PS256" => Some(Self::Ps256),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
enum PublicKey {
    /// The uncompressed point 0x04 ‖ x ‖ y.
    P256 {
        point: Vec<u8>,
    },
    Ed25519 {
        x: Vec<u8>,
    },
    /// Big-endian modulus and exponent (ring refuses moduli under 2048 bits when verifying).
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
}

impl PublicKey {
    fn fits(&self, alg: Algorithm) -> bool {
        matches!(
            (self, alg),
            (Self::P256 { .. }, Algorithm::Es256)
                | (Self::Ed25519 { .. }, Algorithm::EdDsa)
                | (Self::Rsa { .. }, Algorithm::Rs256 | Algorithm::Ps256)
        )
    }
}

/// A public signing key as a JWK (RFC 7517): the issuer's (to verify SD-JWTs) or the holder's
/// (bound in `cnf`, to verify KB-JWTs).
#[derive(Clone, PartialEq, Eq)]
pub struct Jwk {
    key: PublicKey,
    kid: Option<String>,
    /// The JWK's own `alg`, when it names one: then only that algorithm verifies with it.
    alg: Option<Algorithm>,
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kty = match self.key {
            PublicKey::P256 { .. } => "EC P-256",
            PublicKey::Ed25519 { .. } => "OKP Ed25519",
            PublicKey::Rsa { .. } => "RSA",
        };
        f.debug_struct("Jwk")
            .field("kty", &kty)
            .field("kid", &self.kid)
            .finish()
    }
}

impl Jwk {
    /// Reads a public JWK. Refuses private key material (`d` and the RSA/oct members), keys
    /// other than P-256, Ed25519 and RSA, `use` other than `sig`, and an `alg` that does not fit
    /// the key.
    pub fn from_json(value: &Value) -> Result<Self, Error> {
        let Value::Object(jwk) = value else {
            return Err(Error::Key {
                what: "not a json object",
            });
        };
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|m| jwk.contains_key(*m))
        {
            return Err(Error::PrivateKeyMaterial);
        }
        let text = |member: &str| jwk.get(member).and_then(Value::as_str);
        let bytes = |member: &str| {
            text(member)
                .filter(|t| is_b64url(t))
                .and_then(b64_decode)
                .ok_or(Error::Key {
                    what: "bad key member",
                })
        };
        let coordinate = |member: &str| match bytes(member)? {
            c if c.len() == 32 => Ok(c),
            _ => Err(Error::Key {
                what: "bad coordinate",
            }),
        };
        let key = match (text("kty"), text("crv")) {
            (Some("EC"), Some("P-256")) => {
                let mut point = vec![4];
                point.extend(coordinate("x")?);
                point.extend(coordinate("y")?);
                PublicKey::P256 { point }
            }
            (Some("OKP"), Some("Ed25519")) => PublicKey::Ed25519 {
                x: coordinate("x")?,
            },
            (Some("RSA"), None) => PublicKey::Rsa {
                n: bytes("n")?,
                e: bytes("e")?,
            },
            _ => {
                return Err(Error::Key {
                    what: "not a p-256, ed25519 or rsa key",
                });
            }
        };
        if jwk.get("use").is_some_and(|u| u != "sig") {
            return Err(Error::Key {
                what: "not a signing key",
            });
        }
        let alg = match jwk.get("alg") {
            None => None,
            Some(Value::String(name)) => match Algorithm::from_name(name) {
                Some(alg) if key.fits(alg) => Some(alg),
                _ => {
                    return Err(Error::Key {
                        what: "alg does not fit the key",
                    });
                }
            },
            Some(_) => {
                return Err(Error::Key {
                    what: "alg does not fit the key",
                });
            }
        };
        let kid = match jwk.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => {
                return Err(Error::Key {
                    what: "kid is not a string",
                });
            }
        };
        Ok(Self { key, kid, alg })
    }

    /// The public members only (`kty` and the key's own, plus `kid` and `alg` if it had them):
    /// what goes in `cnf`.
    pub fn to_json(&self) -> Value {
        let mut jwk = match &self.key {
            PublicKey::P256 { point } => json!({
                "kty": "EC", "crv": "P-256",
                "x": b64(&point[1..33]), "y": b64(&point[33..65]),
            }),
            PublicKey::Ed25519 { x } => json!({"kty": "OKP", "crv": "Ed25519", "x": b64(x)}),
            PublicKey::Rsa { n, e } => json!({"kty": "RSA", "n": b64(n), "e": b64(e)}),
        };
        if let Value::Object(map) = &mut jwk {
            if let Some(kid) = &self.kid {
                map.insert("kid".into(), Value::String(kid.clone()));
            }
            // Kept so that a bound key stays pinned to its one algorithm.
            if let Some(alg) = self.alg {
                map.insert("alg".into(), Value::String(alg.name().into()));
            }
        }
        jwk
    }

    /// A P-256 key from its uncompressed point (0x04 ‖ x ‖ y).
    pub(crate) fn p256(point: &[u8]) -> Self {
        Self {
            key: PublicKey::P256 {
                point: point.to_vec(),
            },
            kid: None,
            alg: None,
        }
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    fn accepts(&self, alg: Algorithm) -> bool {
        self.key.fits(alg) && self.alg.is_none_or(|own| own == alg)
    }

    fn verifies(&self, alg: Algorithm, signing_input: &[u8], signature: &[u8]) -> bool {
        let result = match (&self.key, alg) {
            (PublicKey::P256 { point }, Algorithm::Es256) => {
                sig::UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point)
                    .verify(signing_input, signature)
            }
            (PublicKey::Ed25519 { x }, Algorithm::EdDsa) => {
                sig::UnparsedPublicKey::new(&sig::ED25519, x).verify(signing_input, signature)
            }
            (PublicKey::Rsa { n, e }, Algorithm::Rs256) => sig::RsaPublicKeyComponents { n, e }
                .verify(&sig::RSA_PKCS1_2048_8192_SHA256, signing_input, signature),
            (PublicKey::Rsa { n, e }, Algorithm::Ps256) => sig::RsaPublicKeyComponents { n, e }
                .verify(&sig::RSA_PSS_2048_8192_SHA256, signing_input, signature),
            _ => return false,
        };
        result.is_ok()
    }
}

/// A compact JWS, split and decoded but not yet verified.
pub(crate) struct Jws<'a> {
    pub(crate) header: Map<String, Value>,
    pub(crate) payload_b64: &'a str,
    signing_input: &'a str,
    signature: Vec<u8>,
}

impl<'a> Jws<'a> {
    /// Splits `header.payload.signature`; header and payload must be JSON objects.
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
            payload_b64,
            signing_input: &token[..header_b64.len() + 1 + payload_b64.len()],
            signature: b64_decode(signature_b64)?,
        })
    }

    pub(crate) fn payload(&self) -> Option<Map<String, Value>> {
        decode_object(self.payload_b64)
    }

    pub(crate) fn typ(&self) -> Option<&str> {
        self.header.get("typ").and_then(Value::as_str)
    }

    pub(crate) fn algorithm(&self) -> Option<Algorithm> {
        self.header
            .get("alg")
            .and_then(Value::as_str)
            .and_then(Algorithm::from_name)
    }

    /// Verifies the signature with the one key of `keys` the header designates: by `kid`, or the
    /// only key when there is no `kid`. `crit` is refused (we understand no extension).
    pub(crate) fn verify(&self, keys: &[Jwk]) -> Result<(), Error> {
        // The algorithm first: a token no key could ever verify is refused as such.
        self.algorithm().ok_or(Error::Algorithm)?;
        let key = match self.header.get("kid") {
            Some(Value::String(kid)) => keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            Some(_) => None,
            None if keys.len() == 1 => keys.first(),
            None => None,
        }
        .ok_or(Error::UnknownKey)?;
        self.verify_with(key)
    }

    /// Verifies the signature with `key`, whatever `kid` the header names (for a KB-JWT, whose
    /// key is the one bound in the SD-JWT).
    pub(crate) fn verify_with(&self, key: &Jwk) -> Result<(), Error> {
        let alg = self.algorithm().ok_or(Error::Algorithm)?;
        if self.header.contains_key("crit") {
            return Err(Error::Algorithm);
        }
        if !key.accepts(alg) {
            return Err(Error::Algorithm);
        }
        if key.verifies(alg, self.signing_input.as_bytes(), &self.signature) {
            Ok(())
        } else {
            Err(Error::Signature)
        }
    }
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;
    use ring::signature::KeyPair;

    use super::*;
    use crate::sign::{Es256Key, sign_checked};

    fn rfc_issuer_jwk() -> Value {
        // RFC 9901 Appendix A.5.
        json!({"kty": "EC", "crv": "P-256",
               "x": "b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ",
               "y": "Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8"})
    }

    #[test]
    fn a_jwk_round_trips_its_public_members_only() {
        let jwk = Jwk::from_json(&rfc_issuer_jwk()).unwrap();
        assert_eq!(jwk.to_json(), rfc_issuer_jwk());
        let mut with_kid = rfc_issuer_jwk();
        with_kid["kid"] = json!("k1");
        with_kid["use"] = json!("sig");
        with_kid["alg"] = json!("ES256");
        assert_eq!(Jwk::from_json(&with_kid).unwrap().kid(), Some("k1"));
    }

    #[test]
    fn private_and_unusable_keys_are_refused() {
        let mut private = rfc_issuer_jwk();
        private["d"] = json!("AAAA");
        assert!(matches!(
            Jwk::from_json(&private),
            Err(Error::PrivateKeyMaterial)
        ));
        for (member, value) in [
            ("crv", json!("P-384")),
            ("kty", json!("RSA")),
            ("x", json!("short")),
            ("use", json!("enc")),
            ("alg", json!("HS256")),
            ("kid", json!(7)),
        ] {
            let mut jwk = rfc_issuer_jwk();
            jwk[member] = value;
            assert!(
                matches!(Jwk::from_json(&jwk), Err(Error::Key { .. })),
                "{member}"
            );
        }
    }

    #[test]
    fn none_hmac_crit_and_key_choice_are_enforced() {
        let key = Es256Key::generate().unwrap();
        let keys = [key.public_jwk().clone()];
        let forge = |header: Value| {
            format!(
                "{}.{}.{}",
                b64(header.to_string()),
                b64("{}"),
                b64([0u8; 64])
            )
        };
        for (header, expected) in [
            (json!({"alg": "none"}), "algorithm"),
            (json!({"alg": "HS256"}), "algorithm"),
            (json!({"alg": "EdDSA"}), "algorithm"),
            (json!({"alg": "ES256", "crit": ["b64"]}), "algorithm"),
            (json!({"alg": "ES256", "kid": "other"}), "key"),
            (json!({"alg": "ES256"}), "signature"),
        ] {
            let token = forge(header.clone());
            let got = Jws::parse(&token).unwrap().verify(&keys);
            let kind = match got {
                Err(Error::Algorithm) => "algorithm",
                Err(Error::UnknownKey) => "key",
                Err(Error::Signature) => "signature",
                _ => "other",
            };
            assert_eq!(kind, expected, "{header}");
        }
        // Two keys and no kid: which one is ambiguous, so neither.
        let two = [
            keys[0].clone(),
            Es256Key::generate().unwrap().public_jwk().clone(),
        ];
        let token = sign_checked(&key, "t", b"{}").unwrap();
        assert!(matches!(
            Jws::parse(&token).unwrap().verify(&two),
            Err(Error::UnknownKey)
        ));
    }

    #[test]
    fn an_ed25519_jwk_verifies_eddsa_and_its_fully_specified_name() {
        use ring::signature::Ed25519KeyPair;
        let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(der.as_ref()).unwrap();
        let jwk = Jwk::from_json(&json!({
            "kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref())
        }))
        .unwrap();
        for alg in ["EdDSA", "Ed25519"] {
            let input = format!("{}.{}", b64(json!({"alg": alg}).to_string()), b64("{}"));
            let token = format!("{input}.{}", b64(pair.sign(input.as_bytes())));
            Jws::parse(&token)
                .unwrap()
                .verify(std::slice::from_ref(&jwk))
                .unwrap();
        }
        let es256 = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"ES256"}"#),
            b64("{}"),
            b64([0u8; 64])
        );
        assert!(matches!(
            Jws::parse(&es256)
                .unwrap()
                .verify(std::slice::from_ref(&jwk)),
            Err(Error::Algorithm)
        ));
    }
}
