//! Layered configuration: defaults → TOML file (`--config`) → `BROKER_*` environment variables
//! (`__` nests: `BROKER_DATABASE__MAX_CONNECTIONS`) → `BROKER_*_FILE` variables whose file holds a
//! secret (`BROKER_KEYS__PAIRWISE_SECRET_FILE=/run/secrets/pairwise`).
//!
//! Every struct denies unknown fields, so a misspelt key stops start-up with its name. Secrets are
//! [`Secret`] values: they never appear in `Debug`, in logs or in `broker config check`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Environment variables with this prefix configure the broker.
pub const ENV_PREFIX: &str = "BROKER_";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read secret file `{path}` named by `{var}`: {source}")]
    SecretFile {
        var: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// A secret value: redacted in `Debug` and when the configuration is printed.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself. Call sites are the only places that may touch it: never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.0.is_empty() { "" } else { "[redacted]" })
    }
}

/// A database URL: its password is redacted wherever it is shown.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }
    /// The URL with its password: only for connecting.
    pub fn expose(&self) -> &str {
        &self.0
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable on a terminal, JSON otherwise.
    #[default]
    Auto,
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the embedded database, generated keys and other state live.
    pub data_dir: PathBuf,
    /// The broker's public base URL; also its OpenID issuer identifier.
    pub public_url: String,
    /// Address the HTTP server listens on.
    pub bind: String,
    /// `postgres://…` or `sqlite://…`; empty means SQLite at `<data_dir>/broker.db`.
    pub database_url: Option<DatabaseUrl>,
    pub log_format: LogFormat,
    /// A tracing filter directive, e.g. `info` or `broker=debug,info`.
    pub log_level: String,
    pub database: DatabaseConfig,
    pub server: ServerConfig,
    pub keys: KeysConfig,
    pub catalogue: CatalogueConfig,
    pub sessions: SessionsConfig,
    pub audit: AuditConfig,
    /// Upstream credential providers citizens (and officers) sign in with.
    pub providers: Vec<crate::signin::settings::ProviderConfig>,
    /// Upstream identities that get a privacy officer session.
    pub officers: Vec<crate::signin::settings::OfficerConfig>,
    pub signin: crate::signin::settings::SignInConfig,
    /// `[consent]`: durations, the expiry sweep, the controller named in receipts.
    pub consent: crate::consents::settings::ConsentConfig,
    pub departments: DepartmentsConfig,
    /// `[relay]`: the delivery worker (tell us once).
    pub relay: crate::relay::settings::RelayConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DepartmentsConfig {
    /// A registry file (TOML) applied at every start after the catalogue: departments beyond
    /// the catalogue, clients with their keys and scopes, delivery settings. See
    /// docs/departments.md. (Not `…_file`: a `BROKER_…_FILE` variable names a secret file.)
    pub registry_path: Option<PathBuf>,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// A PKCS#8 ES256 signing key to use instead of the generated one in `<data_dir>/keys`.
    pub signing_key_file: Option<PathBuf>,
    /// How long a rotated-out signing key stays published in `/jwks.json`.
    pub rotation_grace_secs: u64,
    /// Secret for pairwise subject identifiers (HMAC-SHA-256). Generated into the data directory
    /// when empty.
    pub pairwise_secret: Secret,
    /// Master keys (base64, 32 bytes) by key id, wrapping each citizen's data key. Generated into
    /// the data directory when empty.
    pub master_keys: BTreeMap<String, Secret>,
    /// Which master key wraps new data keys; the newest generated one when unset.
    pub current_master_key: Option<String>,
}

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

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogueConfig {
    /// A directory with `attributes.toml`, `purposes.toml` and `departments.toml`; the built-in
    /// catalogue when unset.
    pub dir: Option<PathBuf>,
    /// A directory with the Cedar schema and policies; the built-in policies when unset.
    pub policy_dir: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("."),
            public_url: "http://127.0.0.1:8080".into(),
            bind: "127.0.0.1:8080".into(),
            database_url: None,
            log_format: LogFormat::Auto,
            log_level: "info".into(),
            database: DatabaseConfig::default(),
            server: ServerConfig::default(),
            keys: KeysConfig::default(),
            catalogue: CatalogueConfig::default(),
            sessions: SessionsConfig::default(),
            audit: AuditConfig::default(),
            departments: DepartmentsConfig::default(),
            relay: crate::relay::settings::RelayConfig::default(),
            consent: crate::consents::settings::ConsentConfig::default(),
            providers: Vec::new(),
            officers: Vec::new(),
            signin: crate::signin::settings::SignInConfig::default(),
        }
    }
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

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            signing_key_file: None,
            rotation_grace_secs: 7 * 24 * 3600,
            pairwise_secret: Secret::default(),
            master_keys: BTreeMap::new(),
            current_master_key: None,
        }
    }
}

impl Config {
    /// Loads the layers in order. `env` is the process environment (passed in so tests can supply
    /// their own without touching the real one).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            figment = figment.merge(Toml::string(&text));
        }
        let mut plain = Vec::new();
        let mut secrets = Vec::new();
        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if let Some(key) = rest.strip_suffix("_FILE") {
                let path = PathBuf::from(&value);
                let content =
                    std::fs::read_to_string(&path).map_err(|source| ConfigError::SecretFile {
                        var: name.clone(),
                        path,
                        source,
                    })?;
                secrets.push((
                    key.to_owned(),
                    content.trim_end_matches(['\n', '\r']).to_owned(),
                ));
            } else {
                plain.push((rest.to_owned(), value));
            }
        }
        figment = figment
            .merge(env_provider(plain, true))
            .merge(env_provider(secrets, false));
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(describe_figment_error(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks that hold across fields.
    fn validate(&self) -> Result<(), ConfigError> {
        let url = url::Url::parse(&self.public_url).map_err(|e| {
            ConfigError::Invalid(format!(
                "`public_url` `{}` is not a URL: {e}",
                self.public_url
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConfigError::Invalid(format!(
                "`public_url` must be http or https, not `{}`",
                url.scheme()
            )));
        }
        if self.public_url.ends_with('/') {
            return Err(ConfigError::Invalid(
                "`public_url` must not end with `/`".to_owned(),
            ));
        }
        if self.server.insecure_cookies && !is_loopback_http(&url) {
            return Err(ConfigError::Invalid(
                "`server.insecure_cookies` is allowed only for an http://127.0.0.1 public_url"
                    .to_owned(),
            ));
        }
        if url.scheme() == "http" && !is_loopback_http(&url) {
            return Err(ConfigError::Invalid(format!(
                "`public_url` `{}` must use https (plain http is allowed only on 127.0.0.1)",
                self.public_url
            )));
        }
        if let Some(db) = self.database_url.as_ref().map(DatabaseUrl::expose)
            && !(db.starts_with("postgres://")
                || db.starts_with("postgresql://")
                || db.starts_with("sqlite:"))
        {
            return Err(ConfigError::Invalid(
                "`database_url` must start with postgres://, postgresql:// or sqlite:".to_owned(),
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "`database.max_connections` must be at least 1".to_owned(),
            ));
        }
        self.consent.validate().map_err(ConfigError::Invalid)?;
        if let Some(current) = &self.keys.current_master_key
            && !self.keys.master_keys.contains_key(current)
        {
            return Err(ConfigError::Invalid(format!(
                "`keys.current_master_key` `{current}` is not one of `keys.master_keys`"
            )));
        }
        crate::signin::settings::validate(self)?;
        Ok(())
    }

    /// Cookies carry `Secure` unless explicitly switched off for loopback http.
    pub fn secure_cookies(&self) -> bool {
        !self.server.insecure_cookies
    }

    /// The database URL in effect: the configured one or the embedded SQLite file.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.0.is_empty() => url.0.clone(),
            _ => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("broker.db").display()
            ),
        }
    }

    /// The effective configuration as TOML, secrets redacted (`broker config check`).
    pub fn to_redacted_toml(&self) -> Result<String, ConfigError> {
        toml::to_string_pretty(self).map_err(|e| ConfigError::Invalid(e.to_string()))
    }
}

fn is_loopback_http(url: &url::Url) -> bool {
    url.scheme() == "http"
        && matches!(
            url.host_str(),
            Some("127.0.0.1") | Some("localhost") | Some("[::1]")
        )
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

/// Environment pairs (prefix already stripped) as a figment provider: lowercased, `__` nests.
/// Values parse as figment's own env provider parses them (numbers, booleans, arrays, else text).
/// Secrets read from `*_FILE` are always text, never parsed.
fn env_provider(pairs: Vec<(String, String)>, parse: bool) -> Figment {
    let mut figment = Figment::new();
    for (key, raw) in pairs {
        let path = key.to_ascii_lowercase().replace("__", ".");
        let value: figment::value::Value = if parse {
            match raw.parse() {
                Ok(value) => value,
                Err(never) => match never {},
            }
        } else {
            figment::value::Value::from(raw)
        };
        figment = figment.merge(Serialized::global(&path, value));
    }
    figment
}

fn describe_figment_error(error: figment::Error) -> String {
    let mut parts = Vec::new();
    for e in error {
        let key = if e.path.is_empty() {
            String::new()
        } else {
            format!(" at `{}`", e.path.join("."))
        };
        let kind = match &e.kind {
            figment::error::Kind::UnknownField(field, _) => {
                // figment's path already ends with the unknown field.
                let name = if e.path.is_empty() {
                    field.clone()
                } else {
                    e.path.join(".")
                };
                parts.push(format!("unknown key `{name}`"));
                continue;
            }
            other => other.to_string(),
        };
        parts.push(format!("{kind}{key}"));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests;
