//! `[audit]`: when checkpoints are signed, the log's origin and its witnesses, and what the
//! officers' "unusual access" view flags.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Sign a checkpoint after this many new records (0: never by count).
    pub checkpoint_every_records: u64,
    /// Sign a checkpoint when the last is this old and records were added since (0: never by age).
    pub checkpoint_every_secs: u64,
    /// The officer console's "unusual access" view flags a department whose releases (or
    /// denials) in the last hour or day exceed this many times its own recent baseline.
    pub unusual_factor: f64,
    /// The baseline: the department's average per hour and per day over this many days before
    /// the last day.
    pub unusual_baseline_days: u64,
    /// Counts below this are never flagged (a department going from 0 to 2 is not unusual).
    pub unusual_min_count: u64,
    /// The log's origin in its C2SP checkpoints (`GET /api/v1/audit/checkpoint`), also the name
    /// of the note key that signs them. Unset: the public URL without its scheme, then `/audit`
    /// (`broker.example/audit`). Witnesses follow a log by origin: never change it once they do.
    pub origin: Option<String>,
    /// Independent witnesses that cosign the log's checkpoints (C2SP `tlog-witness`).
    pub witnesses: Vec<WitnessConfig>,
    /// The longest wait between two attempts to reach a witness that failed (backoff doubles
    /// from one second up to this).
    pub witness_retry_max_secs: u64,
}

/// `[[audit.witnesses]]`: one witness the broker sends its checkpoints to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// The witness's name, as its cosignatures are stored and reported (its key's name need not
    /// be the same).
    pub name: String,
    /// The witness's URL prefix: the broker posts to `<url>/add-checkpoint`.
    pub url: String,
    /// The witness's C2SP verifier key (`<name>+<hex id>+<base64>`, cosignature type `0x04`).
    pub key: String,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            checkpoint_every_records: 256,
            checkpoint_every_secs: 10,
            unusual_factor: 3.0,
            unusual_baseline_days: 7,
            unusual_min_count: 10,
            origin: None,
            witnesses: Vec::new(),
            witness_retry_max_secs: 300,
        }
    }
}

impl AuditConfig {
    /// When the log signs a checkpoint, from these settings.
    pub fn checkpoint_policy(&self) -> audit::CheckpointPolicy {
        audit::CheckpointPolicy {
            every_records: self.checkpoint_every_records,
            every_ms: (self.checkpoint_every_secs as i64).saturating_mul(1000),
        }
    }
}

/// The origin the log's checkpoints name: the configured one, or the public URL without its
/// scheme or trailing slash, then `/audit`.
pub fn origin(configured: Option<&str>, issuer: &str) -> String {
    match configured {
        Some(origin) => origin.to_owned(),
        None => {
            let bare = issuer
                .split_once("://")
                .map_or(issuer, |(_, rest)| rest)
                .trim_end_matches('/');
            format!("{bare}/audit")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::origin;

    #[test]
    fn the_origin_is_the_public_url_without_scheme_then_audit_unless_configured() {
        assert_eq!(
            origin(None, "https://broker.example/"),
            "broker.example/audit"
        );
        assert_eq!(
            origin(None, "http://127.0.0.1:8080"),
            "127.0.0.1:8080/audit"
        );
        assert_eq!(origin(Some("tuo.gc.ca/log"), "https://x"), "tuo.gc.ca/log");
    }
}
