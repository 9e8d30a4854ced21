//! `[digest]`: the e-mail digest of notices — whether it is sent, how often by default, and the
//! SMTP server it goes through.

use serde::{Deserialize, Serialize};

use super::Frequency;
use crate::secret::Secret;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DigestConfig {
    /// Send digests (`broker serve` runs the job; `[digest.smtp]` must name a server).
    pub enabled: bool,
    /// How often a citizen who has not chosen gets a digest: `never`, `weekly` or `monthly`.
    pub default_frequency: Frequency,
    /// How often the job looks for digests due and pending ones to send.
    pub check_every_secs: u64,
    /// The sender (`Name <address>`).
    pub from: String,
    /// A digest that could not be handed to the SMTP server is tried again after this many
    /// seconds, then after twice as long each time (at most 6 h)…
    pub retry_after_secs: u64,
    /// …at most this many times in all.
    pub max_attempts: u32,
    /// Demonstrations and tests only: a "week" lasts this many seconds and a "month" four of
    /// them, counted from the Unix epoch (0: calendar weeks, Monday to Sunday UTC, and months).
    pub compressed_week_secs: u64,
    pub smtp: SmtpConfig,
}

impl Default for DigestConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            default_frequency: Frequency::Monthly,
            check_every_secs: 300,
            from: "Tell Us Once <no-reply@localhost>".to_owned(),
            retry_after_secs: 60,
            max_attempts: 8,
            compressed_week_secs: 0,
            smtp: SmtpConfig::default(),
        }
    }
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain SMTP: only for a relay on the same host or a development mail catcher.
    None,
    /// STARTTLS required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// `[digest.smtp]`: the SMTP server (a relay the operator runs or a provider's submission port).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// Authentication, when the server asks for it (`BROKER_DIGEST__SMTP__PASSWORD_FILE`).
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// The longest a send may take (connection, each command).
    pub timeout_secs: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: "localhost".to_owned(),
            port: 587,
            security: SmtpSecurity::Starttls,
            username: None,
            password: None,
            timeout_secs: 30,
        }
    }
}

impl DigestConfig {
    /// What start-up refuses: a sender that is not a mailbox, or plain SMTP beyond this host.
    pub fn check(&self) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(format!(
                "`digest.from` `{}` is not a mailbox (`Name <address>`)",
                self.from
            ));
        }
        let loopback = matches!(self.smtp.host.as_str(), "localhost" | "127.0.0.1" | "::1");
        if self.smtp.security == SmtpSecurity::None && !loopback {
            return Err(format!(
                "`digest.smtp.security = \"none\"` sends in clear text: allowed only to a relay on this host, not `{}`",
                self.smtp.host
            ));
        }
        if self.max_attempts == 0 {
            return Err("`digest.max_attempts` must be at least 1".to_owned());
        }
        Ok(())
    }
}
