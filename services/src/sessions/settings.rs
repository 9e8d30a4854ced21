//! `[sessions]`: how long a browser session lives.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionsConfig {
    /// A browser session ends after this long without a request.
    pub idle_timeout_secs: u64,
    /// A browser session ends this long after sign-in, whatever happens.
    pub absolute_timeout_secs: u64,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        Self {
            idle_timeout_secs: 20 * 60,
            absolute_timeout_secs: 8 * 3600,
        }
    }
}
