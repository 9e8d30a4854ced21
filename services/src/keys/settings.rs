//! `[keys]`: signing keys, the pairwise secret and the master keys that wrap citizens' data keys.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// A PKCS#8 ES256 signing key to use instead of the generated one in `<data_dir>/keys`.
    pub signing_key_file: Option<PathBuf>,
    /// How long a rotated-out signing key stays published in `/jwks.json`.
    pub rotation_grace_secs: u64,
    /// Secret for pairwise subject identifiers (HMAC-SHA-256). Generated into the data directory
    /// when empty.
    pub pairwise_secret: Secret,
    /// Master keys (base64, 32 bytes) by key id, wrapping each citizen's data key. Generated into
    /// the data directory when empty.
    pub master_keys: BTreeMap<String, Secret>,
    /// Which master key wraps new data keys; the newest generated one when unset.
    pub current_master_key: Option<String>,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            signing_key_file: None,
            rotation_grace_secs: 7 * 24 * 3600,
            pairwise_secret: Secret::default(),
            master_keys: BTreeMap::new(),
            current_master_key: None,
        }
    }
}
