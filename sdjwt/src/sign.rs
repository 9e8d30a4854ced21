//! Signing: the [`Signer`] through which the issuer and the holder sign, the check of what a
//! signer returns, and an ES256 key ([`Es256Key`]) for holders and tests.

use std::fmt;

use ring::rand::SystemRandom;
use ring::signature::{self as sig, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

use crate::Error;
use crate::encoding::b64;
use crate::jose::{Jwk, Jws};

/// The protected header the crate asks a [`Signer`] for. The signer adds `alg` (and `kid` if it
/// has one); `typ` must come back unchanged.
#[derive(Debug, Clone, Copy)]
pub struct JwsHeader<'a> {
    pub typ: &'a str,
}

/// What a signer's failure is: its own error, boxed (its message must hold no secret).
pub type SignerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Signs a payload as a compact JWS. The broker implements it with its own key store, so no
/// private key of the issuer ever enters this crate; a holder can use [`Es256Key`].
pub trait Signer {
    fn sign_jws(&self, header: &JwsHeader<'_>, payload: &[u8]) -> Result<String, SignerError>;
}

impl<F> Signer for F
where
    F: Fn(&JwsHeader<'_>, &[u8]) -> Result<String, SignerError>,
{
    fn sign_jws(&self, header: &JwsHeader<'_>, payload: &[u8]) -> Result<String, SignerError> {
        self(header, payload)
    }
}

/// Signs through `signer` and checks what came back: a compact JWS over exactly `payload`, with
/// the `typ` asked for and an algorithm this crate can verify.
pub(crate) fn sign_checked(
    signer: &dyn Signer,
    typ: &str,
    payload: &[u8],
) -> Result<String, Error> {
    let token = signer
        .sign_jws(&JwsHeader { typ }, payload)
        .map_err(|source| Error::Signer { source })?;
    let jws = Jws::parse(&token).ok_or(Error::SignerOutput)?;
    let fits = jws.payload_b64 == b64(payload)
        && jws.header.get("typ").and_then(Value::as_str) == Some(typ)
        && jws.algorithm().is_some();
    if fits {
        Ok(token)
    } else {
        Err(Error::SignerOutput)
    }
}

/// An ES256 (P-256) private key held in memory: a department's holder key in tests and tools.
pub struct Es256Key {
    pair: EcdsaKeyPair,
    jwk: Jwk,
}

impl fmt::Debug for Es256Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Es256Key")
            .field("jwk", &self.jwk)
            .finish_non_exhaustive()
    }
}

impl Es256Key {
    /// A fresh key pair as PKCS#8 DER (to store; the caller owns where).
    pub fn generate_pkcs8() -> Result<Vec<u8>, Error> {
        EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| Error::Random)
    }

    /// A fresh key pair, in memory only.
    pub fn generate() -> Result<Self, Error> {
        Self::from_pkcs8(&Self::generate_pkcs8()?)
    }

    pub fn from_pkcs8(der: &[u8]) -> Result<Self, Error> {
        let pair = EcdsaKeyPair::from_pkcs8(
            &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            der,
            &SystemRandom::new(),
        )
        .map_err(|_| Error::Key {
            what: "not a pkcs#8 p-256 key",
        })?;
        let point = pair.public_key().as_ref();
        if point.len() != 65 {
            return Err(Error::Key {
                what: "not a p-256 key",
            });
        }
        let jwk = Jwk::p256(point);
        Ok(Self { pair, jwk })
    }

    /// The public half, to register with the issuer (it goes into `cnf`).
    pub fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }
}

impl Signer for Es256Key {
    fn sign_jws(&self, header: &JwsHeader<'_>, payload: &[u8]) -> Result<String, SignerError> {
        let header = serde_json::to_vec(&json!({"alg": "ES256", "typ": header.typ}))?;
        let signing_input = format!("{}.{}", b64(header), b64(payload));
        let signature = self
            .pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|_| "ecdsa signing failed")?;
        Ok(format!("{signing_input}.{}", b64(signature.as_ref())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn es256_key_signs_what_its_public_jwk_verifies() {
        let key = Es256Key::generate().unwrap();
        let token = sign_checked(&key, "kb+jwt", br#"{"a":1}"#).unwrap();
        let jws = Jws::parse(&token).unwrap();
        assert_eq!(jws.typ(), Some("kb+jwt"));
        jws.verify(std::slice::from_ref(key.public_jwk())).unwrap();
        let other = Es256Key::generate().unwrap();
        assert!(matches!(
            jws.verify(std::slice::from_ref(other.public_jwk())),
            Err(Error::Signature)
        ));
    }

    #[test]
    fn a_signer_that_changes_typ_or_payload_is_caught() {
        let key = Es256Key::generate().unwrap();
        let wrong_typ =
            |_: &JwsHeader<'_>, payload: &[u8]| key.sign_jws(&JwsHeader { typ: "jwt" }, payload);
        assert!(matches!(
            sign_checked(&wrong_typ, "dc+sd-jwt", b"{}"),
            Err(Error::SignerOutput)
        ));
        let wrong_payload = |h: &JwsHeader<'_>, _: &[u8]| key.sign_jws(h, br#"{"x":1}"#);
        assert!(matches!(
            sign_checked(&wrong_payload, "dc+sd-jwt", b"{}"),
            Err(Error::SignerOutput)
        ));
        let failing = |_: &JwsHeader<'_>, _: &[u8]| -> Result<String, SignerError> {
            Err("key store down".into())
        };
        assert!(matches!(
            sign_checked(&failing, "dc+sd-jwt", b"{}"),
            Err(Error::Signer { .. })
        ));
    }
}
