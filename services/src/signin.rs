//! Citizen and officer sign-in: the broker as an OpenID Connect relying party to any number of
//! upstream credential providers (bank sign-in partners, provincial digital IDs, a government
//! credential), identity links, provenance of asserted claims, and the citizen's own pages.
//!
//! Start reading at [`flow`] (the authorization request and the callback's checks), then
//! [`complete`] (what a proven identity leads to). [`providers`] holds discovery, keys and ID token
//! verification; [`links`] the identity links; [`claims`] turns claims into attribute values.
//!
//! INVARIANT: no citizen, link or session is created unless every check passed: `state` (bound to
//! the browser, unused, unexpired), RFC 9207 `iss`, the code exchange with the PKCE verifier, the
//! ID token (asymmetric signature by the provider's keys, `iss`, `aud`, `azp`, `exp`, `iat`,
//! `nonce`) and, when fetched, userinfo's `sub`.
//!
//! INVARIANT: identities are linked only by proof (signing in), never by matching claims.
//!
//! INVARIANT: no token, secret or claim value is logged or put in an error.

pub mod claims;
pub mod complete;
pub mod entities;
pub mod error;
pub mod flow;
pub mod links;
pub mod providers;
pub mod settings;

use std::sync::Arc;
use std::time::Duration;

use policies::PolicyEngine;
use sea_orm::DatabaseConnection;
use tokio::task::JoinSet;

pub use error::{SignInError, TokenFault};
pub use providers::Providers;

use crate::Shutdown;
use crate::audit_log::AuditLog;
use crate::sessions::Sessions;
use crate::vault::Vault;
use settings::{OfficerConfig, SignInConfig};

/// Sign-in: what the relying-party flow and its completion use, and nothing else.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub db: DatabaseConnection,
    pub providers: Arc<Providers>,
    /// Asserted claims are stored encrypted.
    pub vault: Arc<Vault>,
    /// The catalogue's validators, for asserted claims.
    pub policy: Arc<PolicyEngine>,
    pub audit: AuditLog,
    pub sessions: Sessions,
    pub settings: Arc<SignInConfig>,
    /// Upstream identities that get a privacy officer session.
    pub officers: Arc<[OfficerConfig]>,
    /// The broker's issuer identifier (its callback URL is built on it).
    pub issuer: Arc<str>,
}

/// Builds the provider registry from the configuration (secrets and keys read here).
pub fn providers(
    providers: &[settings::ProviderConfig],
    signin: &SignInConfig,
) -> Result<Arc<Providers>, providers::ProviderSetupError> {
    Ok(Arc::new(Providers::new(providers, signin)?))
}

/// Discovery at start and on a schedule; expired sign-in requests purged.
pub fn spawn_background(tasks: &mut JoinSet<()>, state: &SignIn, shutdown: &Shutdown) {
    let providers = state.providers.clone();
    let db = state.db.clone();
    let mut stop = shutdown.clone();
    // Often enough to pick up a provider that was down at start; `refresh_all` only asks those
    // whose metadata is missing or older than `signin.discovery_refresh_secs`.
    let every = Duration::from_secs(state.settings.discovery_refresh_secs.clamp(1, 30));
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(every);
        let mut purge = tokio::time::interval(Duration::from_secs(300));
        loop {
            tokio::select! {
                _ = tick.tick() => providers.refresh_all().await,
                _ = purge.tick() => {
                    if let Err(e) = flow::purge_expired(&db).await {
                        tracing::warn!(error = %e, "cannot purge expired sign-in requests");
                    }
                }
                _ = stop.changed() => break,
            }
        }
    });
}

#[cfg(test)]
mod tests;
