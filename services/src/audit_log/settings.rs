//! `[audit]`: when checkpoints are signed, and what the officers' "unusual access" view flags.

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
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            checkpoint_every_records: 256,
            checkpoint_every_secs: 10,
            unusual_factor: 3.0,
            unusual_baseline_days: 7,
            unusual_min_count: 10,
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
