//! `jsonwebtoken`'s crypto, on ring. Asymmetric algorithms only: every HMAC algorithm is refused
//! here, so no code path can accept a token "signed" with a shared secret (or with a public key
//! misused as one).

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind, Result};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature as sig;
use ring::signature::KeyPair;

pub static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: rsa_components_from_private_key,
        rsa_pub_components_from_public_key: rsa_components_from_public_key,
        ec_pub_components_from_private_key: ec_components_from_private_key,
        ed_pub_components_from_private_key,
        compute_digest,
    },
};

fn err(kind: ErrorKind) -> Error {
    Error::from(kind)
}

enum SignerKey {
    Ecdsa(sig::EcdsaKeyPair),
    Ed25519(sig::Ed25519KeyPair),
    Rsa(sig::RsaKeyPair, &'static dyn sig::RsaEncoding),
}

struct RingSigner {
    algorithm: Algorithm,
    key: SignerKey,
}

impl Signer<Vec<u8>> for RingSigner {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        let rng = SystemRandom::new();
        match &self.key {
            SignerKey::Ecdsa(pair) => pair
                .sign(&rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| signature::Error::new()),
            SignerKey::Ed25519(pair) => Ok(pair.sign(msg).as_ref().to_vec()),
            SignerKey::Rsa(pair, encoding) => {
                let mut out = vec![0; pair.public().modulus_len()];
                pair.sign(*encoding, &rng, msg, &mut out)
                    .map_err(|_| signature::Error::new())?;
                Ok(out)
            }
        }
    }
}

impl JwtSigner for RingSigner {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    let rng = SystemRandom::new();
    let der = key.as_bytes();
    let signer_key = match (algorithm, key.family()) {
        (Algorithm::ES256, AlgorithmFamily::Ec) => SignerKey::Ecdsa(
            sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
                .map_err(|_| err(ErrorKind::InvalidEcdsaKey))?,
        ),
        (Algorithm::ES384, AlgorithmFamily::Ec) => SignerKey::Ecdsa(
            sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P384_SHA384_FIXED_SIGNING, der, &rng)
                .map_err(|_| err(ErrorKind::InvalidEcdsaKey))?,
        ),
        (Algorithm::EdDSA, AlgorithmFamily::Ed) => SignerKey::Ed25519(
            sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map_err(|_| err(ErrorKind::InvalidEddsaKey))?,
        ),
        (alg, AlgorithmFamily::Rsa) => {
            let encoding: &'static dyn sig::RsaEncoding = match alg {
                Algorithm::RS256 => &sig::RSA_PKCS1_SHA256,
                Algorithm::RS384 => &sig::RSA_PKCS1_SHA384,
                Algorithm::RS512 => &sig::RSA_PKCS1_SHA512,
                Algorithm::PS256 => &sig::RSA_PSS_SHA256,
                Algorithm::PS384 => &sig::RSA_PSS_SHA384,
                Algorithm::PS512 => &sig::RSA_PSS_SHA512,
                _ => return Err(err(ErrorKind::InvalidAlgorithm)),
            };
            let pair = sig::RsaKeyPair::from_pkcs8(der)
                .or_else(|_| sig::RsaKeyPair::from_der(der))
                .map_err(|e| err(ErrorKind::InvalidRsaKey(e.to_string())))?;
            SignerKey::Rsa(pair, encoding)
        }
        // HMAC, and any algorithm that does not match the key's family.
        _ => return Err(err(ErrorKind::InvalidAlgorithm)),
    };
    Ok(Box::new(RingSigner {
        algorithm: *algorithm,
        key: signer_key,
    }))
}

struct RingVerifier {
    algorithm: Algorithm,
    key: DecodingKey,
}

impl Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        let fail = |_: ring::error::Unspecified| signature::Error::new();
        match (self.algorithm, self.key.kind()) {
            (Algorithm::ES256, DecodingKeyKind::SecretOrDer(point)) => {
                sig::UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point)
                    .verify(msg, signature)
                    .map_err(fail)
            }
            (Algorithm::ES384, DecodingKeyKind::SecretOrDer(point)) => {
                sig::UnparsedPublicKey::new(&sig::ECDSA_P384_SHA384_FIXED, point)
                    .verify(msg, signature)
                    .map_err(fail)
            }
            (Algorithm::EdDSA, DecodingKeyKind::SecretOrDer(raw)) => {
                sig::UnparsedPublicKey::new(&sig::ED25519, raw)
                    .verify(msg, signature)
                    .map_err(fail)
            }
            (alg, kind) => {
                let params: &'static sig::RsaParameters = match alg {
                    Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
                    Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
                    Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
                    _ => return Err(signature::Error::new()),
                };
                match kind {
                    DecodingKeyKind::RsaModulusExponent { n, e } => {
                        sig::RsaPublicKeyComponents { n, e }
                            .verify(params, msg, signature)
                            .map_err(fail)
                    }
                    DecodingKeyKind::SecretOrDer(der) => sig::UnparsedPublicKey::new(params, der)
                        .verify(msg, signature)
                        .map_err(fail),
                }
            }
        }
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    let family_ok = match algorithm {
        Algorithm::ES256 | Algorithm::ES384 => key.family() == AlgorithmFamily::Ec,
        Algorithm::EdDSA => key.family() == AlgorithmFamily::Ed,
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => key.family() == AlgorithmFamily::Rsa,
        // INVARIANT: no HMAC verification exists in this process.
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => false,
        _ => false,
    };
    if !family_ok {
        return Err(err(ErrorKind::InvalidAlgorithm));
    }
    Ok(Box::new(RingVerifier {
        algorithm: *algorithm,
        key: key.clone(),
    }))
}

fn rsa_components_from_private_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let pair = sig::RsaKeyPair::from_pkcs8(der)
        .or_else(|_| sig::RsaKeyPair::from_der(der))
        .map_err(|e| err(ErrorKind::InvalidRsaKey(e.to_string())))?;
    let public = pair.public();
    let components: sig::RsaPublicKeyComponents<Vec<u8>> = public.into();
    Ok((components.n, components.e))
}

fn rsa_components_from_public_key(_der: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    // ring cannot parse a bare DER public key; the broker only takes RSA keys as JWK (n, e).
    Err(err(ErrorKind::InvalidRsaKey(
        "public DER keys are not supported".to_owned(),
    )))
}

fn ec_components_from_private_key(
    der: &[u8],
    alg: Algorithm,
) -> Result<(EllipticCurve, Vec<u8>, Vec<u8>)> {
    let (signing, curve, size) = match alg {
        Algorithm::ES256 => (
            &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            EllipticCurve::P256,
            32,
        ),
        Algorithm::ES384 => (
            &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
            EllipticCurve::P384,
            48,
        ),
        _ => return Err(err(ErrorKind::InvalidEcdsaKey)),
    };
    let pair = sig::EcdsaKeyPair::from_pkcs8(signing, der, &SystemRandom::new())
        .map_err(|_| err(ErrorKind::InvalidEcdsaKey))?;
    let point = pair.public_key().as_ref();
    if point.first() != Some(&4) || point.len() != 1 + 2 * size {
        return Err(err(ErrorKind::InvalidEcdsaKey));
    }
    let (x, y) = point[1..].split_at(size);
    Ok((curve, x.to_vec(), y.to_vec()))
}

fn ed_pub_components_from_private_key(der: &[u8], curve: &EllipticCurve) -> Result<Vec<u8>> {
    match curve {
        EllipticCurve::Ed25519 => Ok(sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|_| err(ErrorKind::InvalidEddsaKey))?
            .public_key()
            .as_ref()
            .to_vec()),
        _ => Err(err(ErrorKind::InvalidAlgorithm)),
    }
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>> {
    let algorithm = match hash {
        ThumbprintHash::SHA256 => &ring::digest::SHA256,
        ThumbprintHash::SHA384 => &ring::digest::SHA384,
        ThumbprintHash::SHA512 => &ring::digest::SHA512,
        _ => return Err(err(ErrorKind::InvalidAlgorithm)),
    };
    Ok(ring::digest::digest(algorithm, data).as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Header, Validation, decode, encode};

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Claims {
        sub: String,
        exp: u64,
    }

    fn es256_pkcs8() -> Vec<u8> {
        let rng = SystemRandom::new();
        sig::EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap()
            .as_ref()
            .to_vec()
    }

    #[test]
    fn es256_round_trip_and_tamper() {
        crate::jose::install_crypto_provider();
        let pkcs8 = es256_pkcs8();
        let claims = Claims {
            sub: "a".into(),
            exp: jsonwebtoken::get_current_timestamp() + 60,
        };
        let token = encode(
            &Header::new(Algorithm::ES256),
            &claims,
            &EncodingKey::from_ec_der(&pkcs8),
        )
        .unwrap();
        let (_, x, y) = ec_components_from_private_key(&pkcs8, Algorithm::ES256).unwrap();
        let key =
            DecodingKey::from_ec_components(&crate::jose::b64(&x), &crate::jose::b64(&y)).unwrap();
        let got = decode::<Claims>(&token, &key, &Validation::new(Algorithm::ES256)).unwrap();
        assert_eq!(got.claims, claims);
        // One changed byte of the payload must fail.
        let mut bytes = token.into_bytes();
        let dot = bytes.iter().position(|b| *b == b'.').unwrap();
        bytes[dot + 3] = if bytes[dot + 3] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(decode::<Claims>(&tampered, &key, &Validation::new(Algorithm::ES256)).is_err());
    }

    #[test]
    fn hmac_is_refused_even_with_a_secret_key() {
        crate::jose::install_crypto_provider();
        let key = EncodingKey::from_secret(b"shared secret");
        let claims = Claims {
            sub: "a".into(),
            exp: jsonwebtoken::get_current_timestamp() + 60,
        };
        assert!(encode(&Header::new(Algorithm::HS256), &claims, &key).is_err());
        assert!(new_verifier(&Algorithm::HS256, &DecodingKey::from_secret(b"x")).is_err());
    }

    #[test]
    fn algorithm_must_match_key_family() {
        let pkcs8 = es256_pkcs8();
        let (_, x, y) = ec_components_from_private_key(&pkcs8, Algorithm::ES256).unwrap();
        let key =
            DecodingKey::from_ec_components(&crate::jose::b64(&x), &crate::jose::b64(&y)).unwrap();
        assert!(new_verifier(&Algorithm::RS256, &key).is_err());
        assert!(new_verifier(&Algorithm::EdDSA, &key).is_err());
        assert!(new_verifier(&Algorithm::ES256, &key).is_ok());
    }
}
