//! `broker consent verify-receipt FILE`: a consent receipt's signature (current and archived
//! keys) and its match with the ledger, from the command line.

use services::consents::receipts::{Verified, verify};
use services::keys;

use crate::cli::CliError;
use crate::config::Config;

/// `broker consent verify-receipt FILE`: the same check, from the command line.
pub async fn verify_file(config: &Config, path: &std::path::Path) -> Result<Verified, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::File {
        what: "read",
        path: path.to_owned(),
        source,
    })?;
    // Never generate a keyset here: a verifier pointed at the wrong data directory must fail,
    // not create keys that verify nothing.
    let dir = keys::keys_dir(&config.data_dir);
    let keyset = dir.join("signing").join("keyset.json");
    if config.keys.signing_key_file.is_none() && !keyset.exists() {
        return Err(CliError::Other(format!(
            "no signing keys in `{}`: set `data_dir` to the broker's",
            dir.display()
        )));
    }
    let db = crate::cli::connect(config).await?;
    store::ensure_current(&db).await?;
    let keys = keys::open_signing_keys(&config.keys, &config.data_dir)?;
    verify(&db, &keys, &text, store::now_ms())
        .await
        .map_err(|e| CliError::Receipt {
            path: path.to_owned(),
            reason: e.to_string(),
        })
}
