//! `broker consent verify-receipt FILE`: a consent receipt's signature (current and archived
//! keys) and its match with the ledger, from the command line. `broker consent import FILE`:
//! consents citizens gave outside the broker, recorded through the ledger.

use std::path::Path;

use serde::Deserialize;
use services::consents::ledger::{self, ImportInput};
use services::consents::receipts::{Verified, verify};
use services::keys;
use services::lang::Lang;

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
    require_keys(config)?;
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

/// Refuses a data directory without the broker's signing keys (rather than generate new ones).
fn require_keys(config: &Config) -> Result<(), CliError> {
    let dir = keys::keys_dir(&config.data_dir);
    let keyset = dir.join("signing").join("keyset.json");
    if config.keys.signing_key_file.is_none() && !keyset.exists() {
        return Err(CliError::Other(format!(
            "no signing keys in `{}`: set `data_dir` to the broker's",
            dir.display()
        )));
    }
    Ok(())
}

/// One line of an import file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportLine {
    citizen: String,
    department: String,
    purpose: String,
    mode: String,
    attributes: Vec<String>,
    granted_at: String,
    expires_at: String,
    loa: u8,
    #[serde(default)]
    language: Option<String>,
}

impl ImportLine {
    fn into_input(self) -> Result<ImportInput, String> {
        let time = |field: &str, text: &str| {
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| t.timestamp_millis())
                .map_err(|_| format!("`{field}` is not an RFC 3339 time"))
        };
        let lang = match self.language.as_deref() {
            None => Lang::En,
            Some(code) => {
                Lang::parse(code).ok_or_else(|| "`language` is neither `en` nor `fr`".to_owned())?
            }
        };
        Ok(ImportInput {
            mode: self
                .mode
                .parse()
                .map_err(|_| "`mode` is neither `once` nor `ongoing`".to_owned())?,
            granted_at_ms: time("granted_at", &self.granted_at)?,
            expires_at_ms: time("expires_at", &self.expires_at)?,
            citizen: self.citizen,
            department: self.department,
            purpose: self.purpose,
            attributes: self.attributes,
            loa: self.loa,
            lang,
        })
    }
}

/// The consents of an import file (JSON Lines; blank lines skipped), each with its line number;
/// or the first line that is not one, with why.
fn read_import(text: &str) -> Result<Vec<(usize, ImportInput)>, (usize, String)> {
    let mut inputs = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        // A line holds ids and catalogue names, never an attribute value, so serde's message
        // (naming the field, perhaps quoting what it found) may be shown.
        let line: ImportLine =
            serde_json::from_str(raw).map_err(|e| (n + 1, format!("not a consent: {e}")))?;
        inputs.push((n + 1, line.into_input().map_err(|why| (n + 1, why))?));
    }
    Ok(inputs)
}

/// `broker consent import FILE`: every line read and checked, then all recorded through the
/// ledger in one transaction (nothing when one is refused). Returns how many were recorded.
pub async fn import_file(config: &Config, path: &Path, source: &str) -> Result<usize, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::File {
        what: "read",
        path: path.to_owned(),
        source,
    })?;
    let at = |line: usize, why: String| {
        CliError::Other(format!(
            "`{}` line {line}: {why}; nothing imported",
            path.display()
        ))
    };
    let (lines, inputs): (Vec<usize>, Vec<ImportInput>) = read_import(&text)
        .map_err(|(line, why)| at(line, why))?
        .into_iter()
        .unzip();
    // Receipts are signed with the broker's keys, and name the citizen by pairwise ids under its
    // secret: never generated here.
    require_keys(config)?;
    let db = crate::cli::connect(config).await?;
    store::ensure_current(&db).await?;
    let assembled = crate::serve::command_services(config, &db)?;
    let recorded = ledger::import_many(&assembled.ledger, source, inputs)
        .await
        .map_err(|e| match e.index {
            Some(i) => at(lines[i], e.error.to_string()),
            None => CliError::Other(format!("{}; nothing imported", e.error)),
        })?;
    Ok(recorded.len())
}

#[cfg(test)]
mod proptests;
