//! The `[relay]` configuration section: how the delivery worker claims, retries and gives up, and
//! whether the pull job reads departments' change feeds.

use serde::{Deserialize, Serialize};

/// `[relay]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelayConfig {
    /// Run the delivery worker in `broker serve` (turn off on instances that should only serve).
    pub worker: bool,
    /// Run the pull job in `broker serve`: read the change feeds of departments with a pull
    /// source (it uses `lease_secs`, `backoff_base_ms` and `backoff_max_secs` too).
    pub pull: bool,
    /// How often the worker looks for due deliveries, in milliseconds.
    pub poll_interval_ms: u64,
    /// Most deliveries claimed in one pass (across departments).
    pub batch_size: u64,
    /// How long a claimed delivery (or pull source) stays with its worker without a renewal;
    /// the worker renews every third of it while it works, so after a crash another worker (or
    /// the restarted broker) takes the rows over within this long.
    pub lease_secs: u64,
    /// Attempts before a delivery is dead-lettered (`failed`).
    pub max_attempts: u32,
    /// The first retry waits about this long; each next one twice as long (with jitter).
    pub backoff_base_ms: u64,
    /// The longest wait between two attempts.
    pub backoff_max_secs: u64,
    /// How long the worker waits for deliveries in flight at shutdown before leaving them to
    /// their lease.
    pub shutdown_grace_secs: u64,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            worker: true,
            pull: true,
            poll_interval_ms: 250,
            batch_size: 256,
            lease_secs: 10,
            max_attempts: 10,
            backoff_base_ms: 2_000,
            backoff_max_secs: 3_600,
            shutdown_grace_secs: 5,
        }
    }
}

impl RelayConfig {
    /// `lease_secs` in milliseconds.
    pub fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }
}
