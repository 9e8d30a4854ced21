//! `[server]`: the HTTP server.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// HTTP worker threads; 0 means one per CPU.
    pub workers: usize,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub shutdown_timeout_secs: u64,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Serve cookies without `Secure`. Allowed only when `public_url` is `http://127.0.0.1…`
    /// (demo and tests); refused otherwise.
    pub insecure_cookies: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            workers: 0,
            shutdown_timeout_secs: 30,
            max_body_bytes: 64 * 1024,
            insecure_cookies: false,
        }
    }
}
