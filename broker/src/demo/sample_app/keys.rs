//! The sample application's two ES256 keys and what it signs with them: the client key
//! (`private_key_jwt` client assertions, registered with the broker, kept in the demo data
//! directory so the registration survives a restart) and the DPoP key (RFC 9449 proofs, made
//! fresh at each start: the sessions it binds tokens for live in memory anyway). Also PKCE and
//! the random values of an authorization request.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use services::jose::b64;

/// How long a client assertion lives: FAPI 2.0 and the broker accept at most 60 seconds.
pub const ASSERTION_LIFETIME_SECS: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the random source failed")]
    Random,
    #[error("the key in `{0}` is not a P-256 PKCS#8 key")]
    Unreadable(String),
    #[error("cannot write `{path}`: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot sign")]
    Sign,
}

/// An ES256 key pair with its public JWK.
pub struct EsKey {
    pair: EcdsaKeyPair,
    x: String,
    y: String,
}

impl std::fmt::Debug for EsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsKey")
            .field("thumbprint", &self.thumbprint())
            .finish_non_exhaustive()
    }
}

impl EsKey {
    /// A new key, never written anywhere.
    pub fn generate() -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| KeyError::Random)?;
        Self::from_pkcs8(pkcs8.as_ref()).ok_or(KeyError::Random)
    }

    /// The key kept in `path` (PKCS#8 DER), generated into it (mode 0600) on first use.
    pub fn load_or_generate(path: &Path) -> Result<Self, KeyError> {
        if let Ok(der) = std::fs::read(path) {
            return Self::from_pkcs8(&der)
                .ok_or_else(|| KeyError::Unreadable(path.display().to_string()));
        }
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| KeyError::Random)?;
        let write_error = |source| KeyError::Write {
            path: path.display().to_string(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(write_error)?;
        file.write_all(pkcs8.as_ref()).map_err(write_error)?;
        Self::from_pkcs8(pkcs8.as_ref())
            .ok_or_else(|| KeyError::Unreadable(path.display().to_string()))
    }

    fn from_pkcs8(der: &[u8]) -> Option<Self> {
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &SystemRandom::new())
                .ok()?;
        // An uncompressed point: 0x04 ‖ x ‖ y, 32 bytes each.
        let point = pair.public_key().as_ref();
        if point.len() != 65 || point.first() != Some(&4) {
            return None;
        }
        let x = b64(point.get(1..33)?);
        let y = b64(point.get(33..65)?);
        Some(Self { pair, x, y })
    }

    /// The public key's required members (RFC 7517): what a DPoP proof's `jwk` header carries.
    pub fn public_jwk(&self) -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": self.x, "y": self.y})
    }

    /// The RFC 7638 SHA-256 thumbprint: the DPoP key's `dpop_jkt`, the client key's `kid`.
    pub fn thumbprint(&self) -> String {
        // The required members in lexicographic order, no whitespace (RFC 7638 §3.2); the
        // values are base64url, so nothing needs escaping.
        let input = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            self.x, self.y
        );
        b64(digest(&SHA256, input.as_bytes()))
    }

    /// The JWK Set to register for the client: the public key with its `kid`, `alg` and `use`.
    pub fn registration_jwks(&self) -> Value {
        let mut jwk = self.public_jwk();
        jwk["kid"] = self.thumbprint().into();
        jwk["alg"] = "ES256".into();
        jwk["use"] = "sig".into();
        json!({ "keys": [jwk] })
    }

    /// A compact JWS of `claims` under `header` (to which `alg` ES256 is added).
    pub fn sign(&self, mut header: Value, claims: &Value) -> Result<String, KeyError> {
        header["alg"] = "ES256".into();
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let signature = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .map_err(|_| KeyError::Sign)?;
        Ok(format!("{input}.{}", b64(signature.as_ref())))
    }

    /// A `private_key_jwt` client assertion (RFC 7523 §3, FAPI 2.0: `aud` is the issuer).
    pub fn client_assertion(
        &self,
        client_id: &str,
        issuer: &str,
        now: i64,
    ) -> Result<String, KeyError> {
        self.sign(
            json!({"typ": "JWT", "kid": self.thumbprint()}),
            &json!({
                "iss": client_id,
                "sub": client_id,
                "aud": issuer,
                "iat": now,
                "exp": now + ASSERTION_LIFETIME_SECS,
                "jti": random_token()?,
            }),
        )
    }

    /// A DPoP proof (RFC 9449 §4.2) for `method` on `uri` (query and fragment left out of
    /// `htu`), with `ath` when an access token is presented and the server's `nonce` if it
    /// gave one.
    pub fn dpop_proof(
        &self,
        method: &str,
        uri: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<String, KeyError> {
        let htu = uri.split(['?', '#']).next().unwrap_or(uri);
        let mut claims = json!({
            "jti": random_token()?,
            "htm": method,
            "htu": htu,
            "iat": now,
        });
        if let Some(token) = access_token {
            claims["ath"] = b64(digest(&SHA256, token.as_bytes())).into();
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = nonce.into();
        }
        self.sign(
            json!({"typ": "dpop+jwt", "jwk": self.public_jwk()}),
            &claims,
        )
    }
}

/// 256 random bits, base64url: a PKCE verifier (43 characters, RFC 7636 §4.1), a `state`, a
/// `nonce`, a `jti`, a session cookie.
pub fn random_token() -> Result<String, KeyError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| KeyError::Random)?;
    Ok(b64(bytes))
}

/// The S256 code challenge of a PKCE verifier (RFC 7636 §4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    b64(digest(&SHA256, verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fapi::dpop::{DpopPolicy, DpopRequest, verify};

    #[test]
    fn the_pkce_challenge_is_rfc_7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let verifier = random_token().unwrap();
        assert_eq!(verifier.len(), 43);
        assert!(
            fapi::pkce::CodeChallenge::from_verifier(&verifier)
                .unwrap()
                .verify(Some(verifier.as_str()))
                .is_ok()
        );
    }

    #[test]
    fn the_dpop_proof_passes_the_brokers_own_verifier() {
        let key = EsKey::generate().unwrap();
        let now = 1_760_000_000;
        let uri = "http://127.0.0.1:8080/oauth2/token";
        let proof = key
            .dpop_proof("POST", &format!("{uri}?x=1"), None, None, now)
            .unwrap();
        let request = DpopRequest {
            method: "POST",
            uri,
            access_token: None,
            nonces: None,
        };
        let verified = verify(&proof, &request, &DpopPolicy::default(), now).unwrap();
        assert_eq!(verified.jkt, key.thumbprint());
        let jwk = fapi::jwk::PublicJwk::from_json(&key.public_jwk()).unwrap();
        assert_eq!(jwk.thumbprint(), key.thumbprint());
        // Another method or target is refused: the proof names exactly one request.
        let get = DpopRequest {
            method: "GET",
            ..request
        };
        assert!(verify(&proof, &get, &DpopPolicy::default(), now).is_err());

        // At a resource: `ath` of the token presented, and the server's nonce.
        let userinfo = "http://127.0.0.1:8080/oauth2/userinfo";
        let proof = key
            .dpop_proof("GET", userinfo, Some("the-token"), Some("n-1"), now)
            .unwrap();
        let at_resource = DpopRequest {
            method: "GET",
            uri: userinfo,
            access_token: Some("the-token"),
            nonces: Some(&["n-1"][..]),
        };
        assert!(verify(&proof, &at_resource, &DpopPolicy::default(), now).is_ok());
        let other_token = DpopRequest {
            access_token: Some("another-token"),
            ..at_resource
        };
        assert!(verify(&proof, &other_token, &DpopPolicy::default(), now).is_err());
        let other_nonce = DpopRequest {
            nonces: Some(&["n-2"][..]),
            ..at_resource
        };
        assert_eq!(
            verify(&proof, &other_nonce, &DpopPolicy::default(), now)
                .unwrap_err()
                .code()
                .as_str(),
            "use_dpop_nonce"
        );
        // Two proofs never share a `jti`.
        let again = key
            .dpop_proof("GET", userinfo, Some("the-token"), Some("n-1"), now)
            .unwrap();
        let jti = |p: &str| {
            verify(p, &at_resource, &DpopPolicy::default(), now)
                .unwrap()
                .jti
        };
        assert_ne!(jti(&proof), jti(&again));
    }

    #[test]
    fn the_client_assertion_verifies_with_jsonwebtoken() {
        services::jose::install_crypto_provider();
        let key = EsKey::generate().unwrap();
        let now = chrono::Utc::now().timestamp();
        let issuer = "http://127.0.0.1:8080";
        let assertion = key
            .client_assertion("esd-pension-web", issuer, now)
            .unwrap();
        let header = jsonwebtoken::decode_header(&assertion).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some(key.thumbprint().as_str()));
        let jwks: jsonwebtoken::jwk::JwkSet =
            serde_json::from_value(key.registration_jwks()).unwrap();
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwks.keys[0]).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_issuer(&["esd-pension-web"]);
        validation.set_audience(&[issuer]);
        validation.sub = Some("esd-pension-web".into());
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Value>(&assertion, &decoding, &validation)
            .unwrap()
            .claims;
        assert_eq!(claims["aud"], issuer, "a string, as FAPI 2.0 asks");
        let exp = claims["exp"].as_i64().unwrap();
        assert!(exp > now && exp - now <= 60);
        assert!(claims["jti"].as_str().unwrap().len() >= 32);
        let again = key
            .client_assertion("esd-pension-web", issuer, now)
            .unwrap();
        let jti = |a: &str| {
            jsonwebtoken::decode::<Value>(a, &decoding, &validation)
                .unwrap()
                .claims["jti"]
                .clone()
        };
        assert_ne!(jti(&assertion), jti(&again));
        // Another key does not verify it.
        let other = EsKey::generate().unwrap();
        let jwks: jsonwebtoken::jwk::JwkSet =
            serde_json::from_value(other.registration_jwks()).unwrap();
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwks.keys[0]).unwrap();
        assert!(jsonwebtoken::decode::<Value>(&assertion, &decoding, &validation).is_err());
    }

    #[test]
    fn the_client_key_is_kept_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.p8");
        let first = EsKey::load_or_generate(&path).unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let second = EsKey::load_or_generate(&path).unwrap();
        assert_eq!(first.thumbprint(), second.thumbprint());
        assert!(
            !format!("{first:?}").contains(&first.x),
            "Debug shows the thumbprint only"
        );
    }
}
