//! `broker verify-bundle FILE [--jwks FILE]`: a citizen's takeout verified offline, with the keys
//! it carries or, pinned, the broker's published ones (`services::takeout::verify`).

use std::path::Path;

use services::keys::Jwk;
use services::takeout::verify::{Verified, verify};

use crate::cli::CliError;

#[derive(serde::Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

/// Reads and verifies the bundle at `path`; a refusal is [`CliError::BundleRefused`].
pub fn verify_file(path: &Path, jwks: Option<&Path>) -> Result<Verified, CliError> {
    let text = read(path)?;
    let pinned = jwks
        .map(|jwks_path| {
            serde_json::from_str::<JwkSet>(&read(jwks_path)?)
                .map(|set| set.keys)
                .map_err(|e| {
                    CliError::Other(format!(
                        "`{}` is not a JWKS: {}",
                        jwks_path.display(),
                        e.to_string().lines().next().unwrap_or("")
                    ))
                })
        })
        .transpose()?;
    verify(&text, pinned.as_deref()).map_err(|e| CliError::BundleRefused {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::File {
        what: "read",
        path: path.to_owned(),
        source,
    })
}
