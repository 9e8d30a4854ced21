//! Test keys and a DPoP proof builder shared by the unit tests (compiled for tests only).

use ring::rand::SystemRandom;
use ring::signature::{self as sig, KeyPair};
use serde_json::{Value, json};

use crate::encoding::b64;
use crate::jws::{SignError, Signer};

/// A 2048-bit RSA key made for these tests only (`openssl genpkey`, PKCS#1 DER, base64):
/// departments may register RSA keys, and ring cannot generate one.
const TEST_RSA_DER: [&str; 21] = [
    "MIIEowIBAAKCAQEArPFxXclHqlkGMSTPx3THKiUdfxSNZdPN1QN1uapiaO0hkLjXuDjfz4F5JtEp",
    "72q2RxokJiUFyFY+Tea0i3HywA6Ji/5mgqNnNwVBfvS4QRYeXnsh/03h901/h8fb47TLoubu6/5Q",
    "c1dfoQlNhCDAtwTLqMZTIL7L4grZ/miEJaqZhuvmOZDab4Fs/QvTHN/V4/0jYKD1Txy1VnC+j47b",
    "QYeJWavP3emHqAFXxttiBytYDfhfRqt5qIvGN3RFZlM8zno9r360Vbozl2W26Kp594mgBb4EPsa/",
    "pZycRxmMo8NuSbqvgxHtNLAOJLexr86eQpScehsqsajXq/ebGub/fQIDAQABAoIBAAH5/G6y9zO2",
    "MsDrB8jix8fuhqjGJluMkSSnFnhZvygt1Z1ez3BWjhBEDYtpBo6q7IxhexpIgAlrGukvAs85LSoO",
    "wHmuHaPOlEZns/jseRKdWxl/VMMjM7rs0tFNcnDmxxEEjKR70pWO4RPpFE63RRySXHWAVsDgDVp2",
    "/0jODvyTMsCY6bxiT0JptY33DaS7nkAg3pRuJOoNmqtq0wmBuADG131cM6ajO0b1ZQlQSiitnosL",
    "PggC8QPEO1WXD4rIYHhSEJIQY4iC3XPhmFJzjJxVUC6ATHao5rl+rmV17T0sb+HpObrG1QRqctNO",
    "wB7rWpC/m0WbglxW+KzHeWCjy4ECgYEA1bVydE9lWZ04f3fjLRN7gKFCUzmxe9r4aXV5QSg4+fVo",
    "/V4LS+MBlwxeC7Q6SdGuAk+X0mReQThLgMQ/kw/KoUtVsAiBYywPxAjAczRT9M7bGypvCFS3Gjw3",
    "rBElyLMD+SVaf/tJvDstCezRVl+mG4btVzxAUfVLGTxGQJcnIV0CgYEAzyrLs8dKulY55nQ0D7j7",
    "aNRKdte8Fpv0Muu8NH1LHEHrL/j/h3Pwg4MkJ0JeSMED7JZ2Dq1VahkCtvwg0+MJYCT30PDUcKQ7",
    "Xd7zH3V+JX+Fq4rS7TtIQHLTX5Xib9N2+qmi9RVutoeJbZKebz/ulSeZl4omDRTGqwohaCWy1KEC",
    "gYA5bxtEcPYPAHbnowO14I+HgU8+6LlvTOkIBp9AyJuPacn+leC5U1fhDVzVDmm/3w9B5bwqufiu",
    "1H9OKu/fCRZvBL0RoyeKzJOsHqICFCUgHNu70Eqo1YOkFFzt7GnYJ2xA8C4DSTiG0uyGx1N3QBt3",
    "OGrez/2FSUQWkyFaSIUmrQKBgQCTcE+9SQ7EAu3+N6F9txcmij/cyLkSFjf7rY4qhSlZmQh7AelK",
    "S5dW4ZRvZGqZuNTEImkvFOl/MwGdnV73rdNUW7sLNvral+ewbSX2s7Xtlg5aAdkQAWrwg0gv9QpM",
    "r+EzkFtrta8vtNJ36yta3dM80Awdr7JZCPpDbFhOONZHQQKBgGw1b/DWAouHExQacftNTCrfBNcc",
    "RZOMx9dnDBylaaL6TBqe/JSxoLxN7obr0qdKFimAMlVhgTP93CZtYfwxHpXc6B1nZf3H/Kq7B1ie",
    "OLaygfdRPpa2qZ5N+FKZJ1bvlcpwibtTmy/sRtVw7APuYHNh6TbmnJmlxFDORf3RpT0A",
];

/// A private key of one of the kinds departments register.
pub(crate) enum TestKey {
    Es256(sig::EcdsaKeyPair),
    Ed25519(sig::Ed25519KeyPair),
    Rsa(sig::RsaKeyPair, &'static str),
}

impl TestKey {
    pub(crate) fn es256() -> Self {
        let rng = SystemRandom::new();
        let der =
            sig::EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        Self::Es256(
            sig::EcdsaKeyPair::from_pkcs8(
                &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
                der.as_ref(),
                &rng,
            )
            .unwrap(),
        )
    }

    pub(crate) fn ed25519() -> Self {
        let der = sig::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Self::Ed25519(sig::Ed25519KeyPair::from_pkcs8(der.as_ref()).unwrap())
    }

    /// The fixed RSA key, signing with `alg` (`PS256` or `RS256`).
    pub(crate) fn rsa(alg: &'static str) -> Self {
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD
            .decode(TEST_RSA_DER.concat())
            .unwrap();
        Self::Rsa(sig::RsaKeyPair::from_der(&der).unwrap(), alg)
    }

    pub(crate) fn alg(&self) -> &'static str {
        match self {
            Self::Es256(_) => "ES256",
            Self::Ed25519(_) => "EdDSA",
            Self::Rsa(_, alg) => alg,
        }
    }

    /// The public half as a JWK.
    pub(crate) fn public_jwk(&self) -> Value {
        match self {
            Self::Es256(pair) => {
                let point = pair.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
            }
            Self::Ed25519(pair) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref())})
            }
            Self::Rsa(pair, _) => {
                let public: sig::RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
                json!({"kty": "RSA", "n": b64(&public.n), "e": b64(&public.e)})
            }
        }
    }

    pub(crate) fn sign_bytes(&self, input: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            Self::Es256(pair) => pair.sign(&rng, input).unwrap().as_ref().to_vec(),
            Self::Ed25519(pair) => pair.sign(input).as_ref().to_vec(),
            Self::Rsa(pair, alg) => {
                let encoding: &'static dyn sig::RsaEncoding = if *alg == "PS256" {
                    &sig::RSA_PSS_SHA256
                } else {
                    &sig::RSA_PKCS1_SHA256
                };
                let mut out = vec![0; pair.public().modulus_len()];
                pair.sign(encoding, &rng, input, &mut out).unwrap();
                out
            }
        }
    }

    /// A compact JWS over exactly these header and payload objects.
    pub(crate) fn sign_jws(&self, header: &Value, payload: &Value) -> String {
        let input = format!("{}.{}", b64(header.to_string()), b64(payload.to_string()));
        let signature = self.sign_bytes(input.as_bytes());
        format!("{input}.{}", b64(signature))
    }

    /// A DPoP proof with the usual header (`typ`, `alg`, this key's `jwk`) over `claims`.
    pub(crate) fn dpop_proof(&self, claims: &Value) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": self.alg(), "jwk": self.public_jwk()});
        self.sign_jws(&header, claims)
    }
}

impl Signer for TestKey {
    fn algorithm(&self) -> &str {
        self.alg()
    }

    fn key_id(&self) -> Option<&str> {
        Some("test-key")
    }

    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        Ok(self.sign_bytes(signing_input))
    }
}
