//! Layered configuration: defaults → TOML file (`--config`) → `BROKER_*` environment variables
//! (`__` nests: `BROKER_DATABASE__MAX_CONNECTIONS`) → `BROKER_*_FILE` variables whose file holds a
//! secret (`BROKER_KEYS__PAIRWISE_SECRET_FILE=/run/secrets/pairwise`).
//!
//! Every struct denies unknown fields, so a misspelt key stops start-up with its name. Secrets are
//! [`Secret`] values: they never appear in `Debug`, in logs or in `broker config check`.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

pub use services::audit_log::AuditConfig;
pub use services::consents::settings::ConsentConfig;
pub use services::departments::DepartmentsConfig;
pub use services::keys::KeysConfig;
pub use services::policy::CatalogueConfig;
pub use services::relay::settings::RelayConfig;
pub use services::secret::Secret;
pub use services::sessions::SessionsConfig;
pub use services::signin::settings::{OfficerConfig, ProviderConfig, SignInConfig};
pub use store::{DatabaseConfig, DatabaseUrl, SqliteSynchronous, redact_url_password};
pub use web::ServerConfig;

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
    pub providers: Vec<ProviderConfig>,
    /// Upstream identities that get a privacy officer session.
    pub officers: Vec<OfficerConfig>,
    pub signin: SignInConfig,
    /// `[consent]`: durations, the expiry sweep, the controller named in receipts.
    pub consent: ConsentConfig,
    pub departments: DepartmentsConfig,
    /// `[relay]`: the delivery worker (tell us once).
    pub relay: RelayConfig,
    /// `[openid_provider]`: the OpenID Provider to departments' web applications.
    pub openid_provider: services::provider::OpenIdProviderConfig,
    /// `[digest]`: the e-mail digest of notices, and its SMTP server.
    pub digest: services::digests::DigestConfig,
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
            relay: RelayConfig::default(),
            consent: ConsentConfig::default(),
            providers: Vec::new(),
            officers: Vec::new(),
            signin: SignInConfig::default(),
            openid_provider: services::provider::OpenIdProviderConfig::default(),
            digest: services::digests::DigestConfig::default(),
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
        let text = match file {
            Some(path) => {
                Some(
                    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                        path: path.to_owned(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        Self::from_layers(text.as_deref(), env)
    }

    /// Like [`Config::load`], with the configuration file's text already read.
    pub fn from_layers(
        toml: Option<&str>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(text) = toml {
            figment = figment.merge(Toml::string(text));
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
        self.openid_provider.check().map_err(ConfigError::Invalid)?;
        self.digest.check().map_err(ConfigError::Invalid)?;
        if let Some(current) = &self.keys.current_master_key
            && !self.keys.master_keys.contains_key(current)
        {
            return Err(ConfigError::Invalid(format!(
                "`keys.current_master_key` `{current}` is not one of `keys.master_keys`"
            )));
        }
        services::signin::settings::validate(services::signin::settings::Sections {
            providers: &self.providers,
            officers: &self.officers,
            signin: &self.signin,
        })
        .map_err(ConfigError::Invalid)?;
        Ok(())
    }

    /// Cookies carry `Secure` unless explicitly switched off for loopback http.
    pub fn secure_cookies(&self) -> bool {
        !self.server.insecure_cookies
    }

    /// The database URL in effect: the configured one or the embedded SQLite file.
    pub fn effective_database_url(&self) -> String {
        DatabaseUrl::effective(self.database_url.as_ref(), &self.data_dir)
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

/// Environment pairs (prefix already stripped) as a figment provider: lowercased, `__` nests.
/// Values parse as figment's own env provider parses them (numbers, booleans, arrays, else text).
/// Secrets read from `*_FILE` are always text, never parsed.
fn env_provider(pairs: Vec<(String, String)>, parse: bool) -> Figment {
    let mut figment = Figment::new();
    for (key, raw) in pairs {
        let path = key.to_ascii_lowercase().replace("__", ".");
        let value: figment::value::Value = if parse && !trips_figment(&raw) {
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

/// figment 0.10's value parser slices a quoted string at a character index as if it were a byte
/// index, and panics when a backslash follows a non-ASCII character (`"é\n"`, found by
/// `config::proptests`). Such a value is taken as the text it is.
fn trips_figment(raw: &str) -> bool {
    raw.contains('\\') && !raw.is_ascii()
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
mod proptests;
#[cfg(test)]
mod tests;
