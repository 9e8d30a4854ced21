//! A client's public keys: inline JWKS from the registry, or fetched from its `jwks_uri` and cached.
//! An unknown `kid` triggers one re-fetch, at most once a minute per URI, so a department can rotate
//! keys without calling us and an attacker cannot make us hammer their endpoint.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};

use crate::departments::{Client, ClientKeys};

const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(60);
const CACHE_FOR: Duration = Duration::from_secs(3600);
const MAX_JWKS_BYTES: usize = 64 * 1024;

#[derive(Debug)]
struct Cached {
    keys: Vec<Jwk>,
    fetched: Instant,
}

#[derive(Debug)]
pub struct ClientKeyCache {
    http: reqwest::Client,
    by_uri: Mutex<HashMap<String, Cached>>,
}

/// Parses each key on its own so one odd key does not hide the others. Accepts `alg: "Ed25519"`
/// (what some libraries write) as `EdDSA`.
pub fn parse_jwks(value: &serde_json::Value) -> Vec<Jwk> {
    let Some(keys) = value.get("keys").and_then(|k| k.as_array()) else {
        return Vec::new();
    };
    keys.iter()
        .filter_map(|k| {
            let mut k = k.clone();
            if k.get("alg").and_then(|a| a.as_str()) == Some("Ed25519") {
                k["alg"] = serde_json::Value::String("EdDSA".into());
            }
            // Private members are never needed and never kept.
            if let Some(obj) = k.as_object_mut() {
                for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                    obj.remove(private);
                }
            }
            // Only asymmetric keys: a shared-secret ("oct") key can never authenticate a client.
            serde_json::from_value::<Jwk>(k).ok().filter(|jwk| {
                matches!(
                    jwk.algorithm,
                    AlgorithmParameters::EllipticCurve(_)
                        | AlgorithmParameters::OctetKeyPair(_)
                        | AlgorithmParameters::RSA(_)
                )
            })
        })
        .collect()
}

impl ClientKeyCache {
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            by_uri: Mutex::new(HashMap::new()),
        }
    }

    /// The client's keys. With `want_kid` missing from a cached set, re-fetches (rate limited).
    pub async fn keys(&self, client: &Client, want_kid: Option<&str>) -> Vec<Jwk> {
        match &client.keys {
            ClientKeys::Inline(jwks) => parse_jwks(jwks),
            ClientKeys::Uri(uri) => {
                let (cached, stale) = {
                    let map = match self.by_uri.lock() {
                        Ok(m) => m,
                        Err(p) => p.into_inner(),
                    };
                    match map.get(uri) {
                        Some(c) => {
                            let missing = want_kid.is_some_and(|kid| {
                                !c.keys
                                    .iter()
                                    .any(|k| k.common.key_id.as_deref() == Some(kid))
                            });
                            let may_refetch = c.fetched.elapsed() >= REFETCH_AT_MOST_EVERY;
                            (
                                Some(c.keys.clone()),
                                (missing && may_refetch) || c.fetched.elapsed() >= CACHE_FOR,
                            )
                        }
                        None => (None, true),
                    }
                };
                if !stale && let Some(keys) = cached {
                    return keys;
                }
                match self.fetch(uri).await {
                    Some(keys) => {
                        if let Ok(mut map) = self.by_uri.lock() {
                            map.insert(
                                uri.clone(),
                                Cached {
                                    keys: keys.clone(),
                                    fetched: Instant::now(),
                                },
                            );
                        }
                        keys
                    }
                    None => cached.unwrap_or_default(),
                }
            }
        }
    }

    async fn fetch(&self, uri: &str) -> Option<Vec<Jwk>> {
        let res = self
            .http
            .get(uri)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        if !res.status().is_success() {
            tracing::warn!(
                status = res.status().as_u16(),
                "client jwks_uri answered with an error"
            );
            return None;
        }
        let body = res.bytes().await.ok()?;
        if body.len() > MAX_JWKS_BYTES {
            tracing::warn!("client jwks_uri answered with an oversized document");
            return None;
        }
        let value: serde_json::Value = serde_json::from_slice(&body).ok()?;
        Some(parse_jwks(&value))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_jwks;

    #[test]
    fn keys_parse_one_by_one_and_private_parts_are_dropped() {
        let jwks = serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "ed", "alg": "Ed25519", "d": "secret"},
            {"kty": "bogus"},
            {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "kid": "ec"}
        ]});
        let keys = parse_jwks(&jwks);
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].common.key_id.as_deref(), Some("ed"));
    }
}
