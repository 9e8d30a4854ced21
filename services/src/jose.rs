//! JOSE plumbing: a ring-backed crypto provider for `jsonwebtoken` (installed once per process,
//! the one process-wide setting we allow) and base64url helpers.
//!
//! The broker signs its own tokens directly with a cached ring key pair ([`crate::keys`]); it uses
//! `jsonwebtoken` to verify what others sign (department client assertions) with full claim
//! validation.

mod ring_provider;

use std::sync::Once;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

static INSTALL: Once = Once::new();

/// Installs the ring-backed provider. Idempotent; every entry point (binary, tests) calls it.
pub fn install_crypto_provider() {
    INSTALL.call_once(|| {
        // A second install can only happen if another crate installed one first; keep theirs.
        let _ = ring_provider::PROVIDER.install_default();
    });
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_NO_PAD.decode(text)
}

/// Splits a compact JWS into its three parts without interpreting them.
pub fn split_compact(token: &str) -> Option<(&str, &str, &str)> {
    let mut parts = token.split('.');
    let header = parts.next()?;
    let payload = parts.next()?;
    let signature = parts.next()?;
    if parts.next().is_some() || header.is_empty() || payload.is_empty() {
        return None;
    }
    Some((header, payload, signature))
}

#[cfg(test)]
mod proptests;
