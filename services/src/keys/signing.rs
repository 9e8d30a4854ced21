//! ES256 signing keys: the current one signs, previous ones stay published until their grace period
//! ends. Compact JWS are built here directly with the cached ring key pair (parsing a PKCS#8 key per
//! signature would double the cost of every token).
//!
//! A key past its grace period is archived: its private half is deleted at the next rotation, its
//! public half stays in `keyset.json` for ever, so what outlives keys (audit checkpoints, consent
//! receipts) still verifies ([`SigningKeys::verify_historic`]); tokens do not (they expire within
//! minutes, long before the grace period ends).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use ring::rand::SystemRandom;
use ring::signature::{self as sig, EcdsaKeyPair, KeyPair};
use serde::{Deserialize, Serialize};

use super::KeyError;
use super::files::{read_file, write_secret_file};
use crate::jose::{b64, b64_decode, split_compact};

/// A public key as published in `/jwks.json` (RFC 7517), with its RFC 7638 thumbprint as `kid`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub alg: String,
}

pub struct SigningKey {
    kid: String,
    pair: EcdsaKeyPair,
    jwk: Jwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    fn from_pkcs8(pkcs8: &[u8], path: &Path) -> Result<Self, KeyError> {
        let pair = EcdsaKeyPair::from_pkcs8(
            &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8,
            &SystemRandom::new(),
        )
        .map_err(|_| KeyError::Invalid {
            path: path.to_owned(),
            what: "PKCS#8 ES256 key",
        })?;
        let point = pair.public_key().as_ref();
        if point.len() != 65 {
            return Err(KeyError::Invalid {
                path: path.to_owned(),
                what: "P-256 key",
            });
        }
        let (x, y) = (b64(&point[1..33]), b64(&point[33..65]));
        // RFC 7638: members in lexicographic order, no whitespace.
        let thumbprint_input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = b64(ring::digest::digest(
            &ring::digest::SHA256,
            thumbprint_input.as_bytes(),
        ));
        let jwk = Jwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x,
            y,
            kid: kid.clone(),
            use_: "sig".into(),
            alg: "ES256".into(),
        };
        Ok(Self { kid, pair, jwk })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
struct Manifest {
    current: String,
    #[serde(default)]
    previous: Vec<Retired>,
    /// Keys past their grace period: public halves only (the private files are deleted).
    #[serde(default)]
    archived: Vec<Archived>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Archived {
    retired_at_ms: i64,
    jwk: Jwk,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Retired {
    kid: String,
    retired_at_ms: i64,
}

#[derive(Debug)]
struct Keyset {
    current: Arc<SigningKey>,
    by_kid: HashMap<String, Arc<SigningKey>>,
    /// Published order: current first.
    published: Vec<Arc<SigningKey>>,
    /// Past their grace period: kid → public key (for records that outlive keys only).
    archived: HashMap<String, ArchivedKey>,
}

#[derive(Debug)]
struct ArchivedKey {
    jwk: Jwk,
    /// The uncompressed P-256 point (0x04 ‖ x ‖ y).
    point: Vec<u8>,
}

impl ArchivedKey {
    fn from_jwk(jwk: Jwk) -> Option<Self> {
        let x = b64_decode(&jwk.x).ok()?;
        let y = b64_decode(&jwk.y).ok()?;
        if jwk.kty != "EC" || jwk.crv != "P-256" || x.len() != 32 || y.len() != 32 {
            return None;
        }
        let mut point = Vec::with_capacity(65);
        point.push(4);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        Some(Self { jwk, point })
    }
}

#[derive(Debug)]
enum Source {
    Dir { dir: PathBuf, grace_secs: u64 },
    File,
}

/// The live signing keyset, reloadable while the server runs (after `broker keys rotate`).
#[derive(Debug)]
pub struct SigningKeys {
    source: Source,
    state: RwLock<Arc<Keyset>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("unsupported algorithm")]
    Algorithm,
    #[error("unknown key")]
    UnknownKey,
    #[error("bad signature")]
    Signature,
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("cannot encode claims: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("signing failed")]
    Sign,
}

impl SigningKeys {
    pub fn from_configured_file(path: &Path) -> Result<Self, KeyError> {
        let key = Arc::new(SigningKey::from_pkcs8(&read_file(path)?, path)?);
        Ok(Self {
            source: Source::File,
            state: RwLock::new(Arc::new(Keyset::single(key))),
        })
    }

    pub fn open_dir(dir: &Path, grace_secs: u64) -> Result<Self, KeyError> {
        if !dir.join("keyset.json").exists() {
            generate_first(dir)?;
        }
        let keyset = load_dir(dir, grace_secs)?;
        Ok(Self {
            source: Source::Dir {
                dir: dir.to_owned(),
                grace_secs,
            },
            state: RwLock::new(Arc::new(keyset)),
        })
    }

    /// Re-reads the keyset from disk (after a rotation by another process).
    pub fn reload(&self) -> Result<(), KeyError> {
        if let Source::Dir { dir, grace_secs } = &self.source {
            let keyset = Arc::new(load_dir(dir, *grace_secs)?);
            if let Ok(mut state) = self.state.write() {
                *state = keyset;
            }
        }
        Ok(())
    }

    fn keyset(&self) -> Arc<Keyset> {
        match self.state.read() {
            Ok(state) => state.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn current_kid(&self) -> String {
        self.keyset().current.kid.clone()
    }

    /// The public keys to publish: current first, then previous ones still in their grace period.
    pub fn published(&self) -> Vec<Jwk> {
        self.keyset()
            .published
            .iter()
            .map(|k| k.jwk.clone())
            .collect()
    }

    /// Signs `claims` as a compact JWS with the current key.
    pub fn sign<T: Serialize>(&self, typ: Option<&str>, claims: &T) -> Result<String, SignError> {
        self.sign_bytes(typ, &serde_json::to_vec(claims)?)
    }

    /// Signs an exact payload (e.g. canonical checkpoint bytes) as a compact JWS.
    pub fn sign_bytes(&self, typ: Option<&str>, payload: &[u8]) -> Result<String, SignError> {
        let keyset = self.keyset();
        let key = &keyset.current;
        let mut header = serde_json::json!({ "alg": "ES256", "kid": key.kid });
        if let Some(typ) = typ {
            header["typ"] = serde_json::Value::String(typ.to_owned());
        }
        let signing_input = format!("{}.{}", b64(serde_json::to_vec(&header)?), b64(payload));
        let signature = key
            .pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|_| SignError::Sign)?;
        Ok(format!("{signing_input}.{}", b64(signature.as_ref())))
    }

    /// Every key that ever signed and is not published any more (past its grace period): public
    /// halves, for checking old checkpoints and receipts.
    pub fn archived(&self) -> Vec<Jwk> {
        let mut keys: Vec<Jwk> = self
            .keyset()
            .archived
            .values()
            .map(|k| k.jwk.clone())
            .collect();
        keys.sort_by(|a, b| a.kid.cmp(&b.kid));
        keys
    }

    /// Verifies a compact JWS made by one of our published keys; returns the header and the
    /// payload bytes. Claims are the caller's to check.
    pub fn verify(&self, token: &str) -> Result<(serde_json::Value, Vec<u8>), VerifyError> {
        self.verify_with(token, false)
    }

    /// Like [`SigningKeys::verify`], also accepting keys past their grace period: for signed
    /// records that outlive keys (audit checkpoints, consent receipts), never for tokens.
    pub fn verify_historic(
        &self,
        token: &str,
    ) -> Result<(serde_json::Value, Vec<u8>), VerifyError> {
        self.verify_with(token, true)
    }

    fn verify_with(
        &self,
        token: &str,
        historic: bool,
    ) -> Result<(serde_json::Value, Vec<u8>), VerifyError> {
        let (header_b64, payload_b64, signature_b64) =
            split_compact(token).ok_or(VerifyError::Malformed)?;
        let header: serde_json::Value = b64_decode(header_b64)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(VerifyError::Malformed)?;
        if header.get("alg").and_then(|a| a.as_str()) != Some("ES256") {
            return Err(VerifyError::Algorithm);
        }
        let kid = header
            .get("kid")
            .and_then(|k| k.as_str())
            .ok_or(VerifyError::UnknownKey)?;
        let keyset = self.keyset();
        let point = match (keyset.by_kid.get(kid), keyset.archived.get(kid)) {
            (Some(key), _) => key.pair.public_key().as_ref(),
            (None, Some(archived)) if historic => archived.point.as_slice(),
            _ => return Err(VerifyError::UnknownKey),
        };
        let signature = b64_decode(signature_b64).map_err(|_| VerifyError::Malformed)?;
        let signing_input_len = header_b64.len() + 1 + payload_b64.len();
        let verified = sig::UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point)
            .verify(&token.as_bytes()[..signing_input_len], &signature);
        if verified.is_err() {
            return Err(VerifyError::Signature);
        }
        let payload = b64_decode(payload_b64).map_err(|_| VerifyError::Malformed)?;
        Ok((header, payload))
    }
}

impl Keyset {
    fn single(key: Arc<SigningKey>) -> Self {
        let by_kid = HashMap::from([(key.kid.clone(), key.clone())]);
        Self {
            published: vec![key.clone()],
            current: key,
            by_kid,
            archived: HashMap::new(),
        }
    }
}

fn generate_pkcs8() -> Result<Vec<u8>, KeyError> {
    EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .map(|doc| doc.as_ref().to_vec())
        .map_err(|_| KeyError::Random)
}

/// Writes a new key file and returns its kid.
fn write_new_key(dir: &Path) -> Result<String, KeyError> {
    let pkcs8 = generate_pkcs8()?;
    let key = SigningKey::from_pkcs8(&pkcs8, dir)?;
    write_secret_file(&dir.join(format!("{}.p8", key.kid)), &pkcs8)?;
    Ok(key.kid)
}

fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), KeyError> {
    let bytes = serde_json::to_vec_pretty(manifest).map_err(|_| KeyError::Invalid {
        path: dir.join("keyset.json"),
        what: "keyset",
    })?;
    write_secret_file(&dir.join("keyset.json"), &bytes)
}

fn read_manifest(dir: &Path) -> Result<Manifest, KeyError> {
    let path = dir.join("keyset.json");
    serde_json::from_slice(&read_file(&path)?).map_err(|_| KeyError::Invalid {
        path,
        what: "keyset",
    })
}

fn generate_first(dir: &Path) -> Result<(), KeyError> {
    let kid = write_new_key(dir)?;
    write_manifest(
        dir,
        &Manifest {
            current: kid,
            previous: Vec::new(),
            archived: Vec::new(),
        },
    )
}

fn load_key(dir: &Path, kid: &str) -> Result<Arc<SigningKey>, KeyError> {
    let path = dir.join(format!("{kid}.p8"));
    if !path.exists() {
        return Err(KeyError::MissingKey {
            path: dir.join("keyset.json"),
            kid: kid.to_owned(),
        });
    }
    Ok(Arc::new(SigningKey::from_pkcs8(&read_file(&path)?, &path)?))
}

fn within_grace(retired: &Retired, grace_secs: u64, now_ms: i64) -> bool {
    retired
        .retired_at_ms
        .saturating_add((grace_secs as i64).saturating_mul(1000))
        > now_ms
}

fn load_dir(dir: &Path, grace_secs: u64) -> Result<Keyset, KeyError> {
    let manifest = read_manifest(dir)?;
    let current = load_key(dir, &manifest.current)?;
    let mut keyset = Keyset::single(current);
    let now = store::now_ms();
    for retired in &manifest.previous {
        if within_grace(retired, grace_secs, now) {
            let key = load_key(dir, &retired.kid)?;
            keyset.by_kid.insert(key.kid.clone(), key.clone());
            keyset.published.push(key);
        } else if let Ok(key) = load_key(dir, &retired.kid) {
            // Past its grace period, not yet archived by a rotation: verify-only already.
            archive(&mut keyset, key.jwk.clone());
        }
    }
    for archived in &manifest.archived {
        archive(&mut keyset, archived.jwk.clone());
    }
    Ok(keyset)
}

fn archive(keyset: &mut Keyset, jwk: Jwk) {
    if let Some(key) = ArchivedKey::from_jwk(jwk) {
        keyset.archived.insert(key.jwk.kid.clone(), key);
    }
}

/// Makes a new key current; keeps the previous one published for the grace period, and archives
/// keys whose grace period has ended (public half kept in the manifest, private file deleted).
pub(crate) fn rotate(dir: &Path, grace_secs: u64) -> Result<String, KeyError> {
    if !dir.join("keyset.json").exists() {
        generate_first(dir)?;
    }
    let manifest = read_manifest(dir)?;
    let now = store::now_ms();
    let new_kid = write_new_key(dir)?;
    let mut previous = vec![Retired {
        kid: manifest.current.clone(),
        retired_at_ms: now,
    }];
    let mut expired = Vec::new();
    let mut archived = manifest.archived;
    for retired in manifest.previous {
        if within_grace(&retired, grace_secs, now) {
            previous.push(retired);
        } else {
            if let Ok(key) = load_key(dir, &retired.kid) {
                archived.push(Archived {
                    retired_at_ms: retired.retired_at_ms,
                    jwk: key.jwk.clone(),
                });
            }
            expired.push(retired.kid);
        }
    }
    write_manifest(
        dir,
        &Manifest {
            current: new_kid.clone(),
            previous,
            archived,
        },
    )?;
    for kid in expired {
        let _ = std::fs::remove_file(dir.join(format!("{kid}.p8")));
    }
    Ok(new_kid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tmp() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tuo-keys-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn first_start_generates_a_private_key_file_with_mode_0600() {
        let dir = tmp();
        let keys = SigningKeys::open_dir(&dir, 60).unwrap();
        let kid = keys.current_kid();
        let mode = std::fs::metadata(dir.join(format!("{kid}.p8")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // A second open reuses the key rather than generating another.
        assert_eq!(SigningKeys::open_dir(&dir, 60).unwrap().current_kid(), kid);
    }

    #[test]
    fn sign_then_verify_and_reject_tampering() {
        let keys = SigningKeys::open_dir(&tmp(), 60).unwrap();
        let token = keys
            .sign(Some("at+jwt"), &serde_json::json!({"sub": "x"}))
            .unwrap();
        let (header, payload) = keys.verify(&token).unwrap();
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&payload).unwrap()["sub"],
            "x"
        );
        let mut tampered = token.clone().into_bytes();
        let i = token.find('.').unwrap() + 2;
        tampered[i] = if tampered[i] == b'a' { b'b' } else { b'a' };
        assert!(keys.verify(&String::from_utf8(tampered).unwrap()).is_err());
        let other = SigningKeys::open_dir(&tmp(), 60).unwrap();
        assert_eq!(other.verify(&token), Err(VerifyError::UnknownKey));
    }

    #[test]
    fn rotation_keeps_the_previous_key_published_within_grace_only() {
        let dir = tmp();
        let keys = SigningKeys::open_dir(&dir, 3600).unwrap();
        let old = keys.current_kid();
        let token = keys.sign(None, &serde_json::json!({"n": 1})).unwrap();
        let new = rotate(&dir, 3600).unwrap();
        keys.reload().unwrap();
        assert_eq!(keys.current_kid(), new);
        let published: Vec<String> = keys.published().into_iter().map(|k| k.kid).collect();
        assert_eq!(published, vec![new.clone(), old.clone()]);
        assert!(
            keys.verify(&token).is_ok(),
            "tokens signed before rotation still verify"
        );
        // With no grace period the old key disappears at the next rotation and load.
        let zero = SigningKeys::open_dir(&dir, 0).unwrap();
        assert_eq!(zero.published().len(), 1);
        rotate(&dir, 0).unwrap();
        assert!(!dir.join(format!("{old}.p8")).exists());
    }

    #[test]
    fn a_key_past_its_grace_period_verifies_only_records_that_outlive_keys() {
        let dir = tmp();
        let keys = SigningKeys::open_dir(&dir, 0).unwrap();
        let old = keys.current_kid();
        let record = keys
            .sign(Some("checkpoint+jws"), &serde_json::json!({"n": 1}))
            .unwrap();
        rotate(&dir, 0).unwrap();
        rotate(&dir, 0).unwrap();
        // The private half is gone; the public half is kept in the manifest only.
        assert!(!dir.join(format!("{old}.p8")).exists());
        let manifest = std::fs::read_to_string(dir.join("keyset.json")).unwrap();
        assert!(manifest.contains(&old) && !manifest.contains("\"d\""));
        let keys = SigningKeys::open_dir(&dir, 0).unwrap();
        assert!(keys.published().iter().all(|k| k.kid != old));
        assert_eq!(keys.verify(&record), Err(VerifyError::UnknownKey));
        let (_, payload) = keys.verify_historic(&record).unwrap();
        assert_eq!(payload, br#"{"n":1}"#);
        // The first key (archived by the second rotation) and the second (past its grace period
        // at load, its file not yet deleted) are both verify-only.
        let archived: Vec<String> = keys.archived().into_iter().map(|k| k.kid).collect();
        assert_eq!(archived.len(), 2);
        assert!(archived.contains(&old));
        // Tampering is still caught with an archived key.
        let mut tampered = record.clone().into_bytes();
        let i = record.find('.').unwrap() + 2;
        tampered[i] = if tampered[i] == b'a' { b'b' } else { b'a' };
        assert!(
            keys.verify_historic(&String::from_utf8(tampered).unwrap())
                .is_err()
        );
    }
}
