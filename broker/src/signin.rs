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
pub mod me;
pub mod pages;
pub mod providers;
pub mod settings;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use tokio::task::JoinSet;

pub use error::{SignInError, TokenFault};
pub use providers::Providers;

use crate::server::{AppState, Shutdown};

/// The OpenAPI part for sign-in and the citizen's own pages.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    pages::choose,
    pages::choose_officer,
    pages::start_citizen,
    pages::start_officer,
    pages::callback,
    pages::sign_out,
    pages::signed_out,
    me::dashboard,
    me::information,
    me::link_another,
    me::confirm_unlink,
    me::unlink,
))]
pub struct Api;

/// Every sign-in route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(pages::choose)
        .service(pages::callback)
        .service(pages::start_citizen)
        .service(pages::choose_officer)
        .service(pages::start_officer)
        .service(pages::sign_out)
        .service(pages::signed_out)
        .service(me::dashboard)
        .service(me::information)
        .service(me::link_another)
        .service(me::confirm_unlink)
        .service(me::unlink);
}

/// Builds the provider registry from the configuration (secrets and keys read here).
pub fn providers(
    config: &crate::config::Config,
) -> Result<Arc<Providers>, providers::ProviderSetupError> {
    Ok(Arc::new(Providers::new(&config.providers, &config.signin)?))
}

/// Discovery at start and on a schedule; expired sign-in requests purged.
pub fn spawn_background(tasks: &mut JoinSet<()>, state: &AppState, shutdown: &Shutdown) {
    let providers = state.providers.clone();
    let db = state.db.clone();
    let mut stop = shutdown.clone();
    // Often enough to pick up a provider that was down at start; `refresh_all` only asks those
    // whose metadata is missing or older than `signin.discovery_refresh_secs`.
    let every = Duration::from_secs(state.config.signin.discovery_refresh_secs.clamp(1, 30));
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
