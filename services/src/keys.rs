//! The broker's keys.
//!
//! - Signing keys (ES256, ring, PKCS#8): the current key signs; previous keys stay published in
//!   `/jwks.json` for a grace period after `broker keys rotate`. Kept in `<data_dir>/keys/signing/`
//!   (mode 0600) with a small `keyset.json` naming the current key, or one configured key file.
//! - The pairwise secret (HMAC-SHA-256 key for pairwise subject ids).
//! - Master keys that wrap each citizen's data key (see [`crate::vault`]).
//! - The checkpoint note key (Ed25519): signs the audit log's C2SP checkpoints, the ones
//!   witnesses cosign. Its 32-byte seed is `<data_dir>/keys/checkpoint-note.seed`; its name is
//!   the log's origin. It is never rotated by the broker: witnesses are configured with its
//!   public half, so a new one is a new log for them (see docs/audit.md).
//!
//! Missing secrets are generated into the data directory on first start. Several broker instances
//! must share them (a shared volume or configured secrets); see docs/operations.md.
//!
//! INVARIANT: no private key or secret is ever logged or returned; `Debug` shows key ids only.

mod files;
mod settings;
pub(crate) mod signing;

pub use settings::KeysConfig;
pub use signing::{Jwk, SignError, SigningKey, SigningKeys, VerifyError};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write key file `{path}`: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file `{path}` is not a valid {what}")]
    Invalid { path: PathBuf, what: &'static str },
    #[error("master key `{kid}` is not 32 bytes of base64")]
    InvalidMasterKey { kid: String },
    #[error("the keyset in `{path}` names key `{kid}`, which is missing")]
    MissingKey { path: PathBuf, kid: String },
    #[error(
        "a signing key is configured (`keys.signing_key_file`); rotate it by replacing that file"
    )]
    ConfiguredKey,
    #[error("the audit origin `{origin}` cannot name a key (no spaces, no `+`)")]
    InvalidOrigin { origin: String },
    #[error("cannot generate a key: the system random source failed")]
    Random,
}

/// The secrets other than signing keys.
#[derive(Clone)]
pub struct Secrets {
    pub pairwise: Vec<u8>,
    /// key id → 32-byte AES-256 key
    pub master_keys: BTreeMap<String, [u8; 32]>,
    pub current_master_key: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field(
                "master_key_ids",
                &self.master_keys.keys().collect::<Vec<_>>(),
            )
            .field("current_master_key", &self.current_master_key)
            .finish_non_exhaustive()
    }
}

/// Where generated keys and secrets live: `<data_dir>/keys`.
pub fn keys_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("keys")
}

/// Loads the configured secrets, generating whatever is missing into `<data_dir>/keys`.
pub fn load_secrets(config: &KeysConfig, data_dir: &Path) -> Result<Secrets, KeyError> {
    let dir = keys_dir(data_dir);
    let pairwise = if config.pairwise_secret.is_empty() {
        files::load_or_generate_secret(&dir.join("pairwise.secret"), 32)?
    } else {
        config.pairwise_secret.expose().as_bytes().to_vec()
    };
    let mut master_keys = BTreeMap::new();
    for (kid, secret) in &config.master_keys {
        master_keys.insert(kid.clone(), decode_master_key(kid, secret.expose())?);
    }
    let current_master_key = if master_keys.is_empty() {
        let generated = files::load_or_generate_master_keys(&dir.join("master"))?;
        let newest = generated.keys().next_back().cloned().unwrap_or_default();
        master_keys = generated;
        config.current_master_key.clone().unwrap_or(newest)
    } else {
        match &config.current_master_key {
            Some(kid) => kid.clone(),
            None => master_keys.keys().next_back().cloned().unwrap_or_default(),
        }
    };
    Ok(Secrets {
        pairwise,
        master_keys,
        current_master_key,
    })
}

/// Adds a new generated master key (for `broker keys rotate-data`) and returns its id. Only for
/// generated keys; configured master keys are rotated by configuration.
pub fn generate_master_key(data_dir: &Path) -> Result<String, KeyError> {
    files::generate_master_key(&keys_dir(data_dir).join("master"))
}

fn decode_master_key(kid: &str, text: &str) -> Result<[u8; 32], KeyError> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.trim()))
        .map_err(|_| KeyError::InvalidMasterKey {
            kid: kid.to_owned(),
        })?;
    bytes.try_into().map_err(|_| KeyError::InvalidMasterKey {
        kid: kid.to_owned(),
    })
}

/// The checkpoint note key named `origin`, generated into `<data_dir>/keys` on first use.
pub fn open_note_key(data_dir: &Path, origin: &str) -> Result<audit::Ed25519Signer, KeyError> {
    let path = keys_dir(data_dir).join("checkpoint-note.seed");
    let invalid = || KeyError::Invalid {
        path: path.clone(),
        what: "checkpoint note key (32 bytes)",
    };
    let seed: [u8; 32] = files::load_or_generate_secret(&path, 32)?
        .try_into()
        .map_err(|_| invalid())?;
    let name = audit::KeyName::new(origin).map_err(|_| KeyError::InvalidOrigin {
        origin: origin.to_owned(),
    })?;
    audit::Ed25519Signer::from_seed(name, &seed).map_err(|_| invalid())
}

/// Opens the signing keyset for this configuration, generating a first key when none exists.
pub fn open_signing_keys(config: &KeysConfig, data_dir: &Path) -> Result<SigningKeys, KeyError> {
    match &config.signing_key_file {
        Some(path) => SigningKeys::from_configured_file(path),
        None => SigningKeys::open_dir(
            &keys_dir(data_dir).join("signing"),
            config.rotation_grace_secs,
        ),
    }
}

/// `broker keys rotate`: a new current key; the old one stays published for the grace period.
pub fn rotate_signing_key(config: &KeysConfig, data_dir: &Path) -> Result<String, KeyError> {
    if config.signing_key_file.is_some() {
        return Err(KeyError::ConfiguredKey);
    }
    signing::rotate(
        &keys_dir(data_dir).join("signing"),
        config.rotation_grace_secs,
    )
}

/// Rotates the signing keyset in `dir` (tests and tools that hold a keyset directory).
pub fn rotate_dir(dir: &Path, grace_secs: u64) -> Result<String, KeyError> {
    signing::rotate(dir, grace_secs)
}

pub(crate) fn ensure_dir(dir: &Path) -> Result<(), KeyError> {
    std::fs::create_dir_all(dir).map_err(|source| KeyError::Write {
        path: dir.to_owned(),
        source,
    })
}
