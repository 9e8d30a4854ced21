//! The database settings (`database_url` and `[database]` in the broker's configuration): what
//! this crate needs to open a pool, and the URL type that never shows its password.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A database URL: its password is redacted wherever it is shown.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// An empty value means "the embedded SQLite file" (see [`DatabaseUrl::effective`]).
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }
    /// The URL with its password: only for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL in effect: this one, or the embedded SQLite file in `data_dir` when empty or unset.
    pub fn effective(url: Option<&DatabaseUrl>, data_dir: &std::path::Path) -> String {
        match url {
            Some(url) if !url.0.is_empty() => url.0.clone(),
            _ => format!("sqlite://{}?mode=rwc", data_dir.join("broker.db").display()),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url_password(&self.0))
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&redact_url_password(&self.0))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// Apply pending migrations when `broker serve` starts.
    pub migrate_on_start: bool,
    /// SQLite durability: `full` (every commit reaches the disk) or `normal` (WAL, may lose the last
    /// commits on power loss but never corrupts).
    pub sqlite_synchronous: SqliteSynchronous,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    Full,
    Normal,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            max_connections: 16,
            min_connections: 1,
            acquire_timeout_ms: 5_000,
            connect_timeout_ms: 5_000,
            migrate_on_start: true,
            sqlite_synchronous: SqliteSynchronous::Full,
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:[redacted]@host/db`.
pub fn redact_url_password(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("[redacted]"));
            url.to_string()
        }
        _ => raw.to_owned(),
    }
}
