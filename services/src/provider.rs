//! The broker as an OpenID Provider to departments' web applications, under the FAPI 2.0
//! Security Profile: pushed authorization requests, the citizen's way through sign-in and the
//! consent screen, the token endpoint's `authorization_code` and `refresh_token` grants with
//! DPoP-bound tokens, userinfo, and logout (RP-initiated and back-channel).
//!
//! The protocol rules are the `fapi` crate's; this module stores what they decide and answers
//! from the same consent ledger, policies, pairwise ids and audit log as the attribute API:
//! a consent given on the consent screen is a ledger consent with its receipt, every value in an
//! ID token or a userinfo answer leaves through a `ReleaseGrant` and an audit record.
//!
//! **Owns:** `provider_requests` (pushed requests, by the SHA-256 of their `request_uri`),
//! `provider_interactions` (a citizen's way through one request), `provider_grants` (codes,
//! the tokens issued from them, refresh tokens by their SHA-256) and `dpop_proofs` (replay).
//!
//! INVARIANT: a token issued from a grant is honoured only while the grant is not revoked and,
//! for a grant resting on a consent, while that consent is active: withdrawing the consent stops
//! userinfo and refresh at once, with no write here (the ledger is the one source of truth).

pub mod authorize;
pub mod dpop;
mod entities;
pub mod logout;
pub mod push;
pub mod settings;
pub mod token;
pub mod userinfo;

use std::borrow::Cow;
use std::sync::Arc;

use fapi::ErrorCode;
use fapi::acr::AcrMapping;
use ring::rand::{SecureRandom, SystemRandom};

pub use settings::OpenIdProviderConfig;

use crate::consents::Ledger;
use crate::error::Error;
use crate::jose::b64;
use crate::keys::Secrets;
use crate::oauth::OAuth;
use crate::release::Release;
use crate::sessions::Sessions;

/// The OpenID Provider: what its endpoints use, and nothing else.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Client authentication (`private_key_jwt`), the registry, signing keys, the audit log.
    pub oauth: OAuth,
    /// Consents given on the consent screen, and whether one covers a request.
    pub ledger: Ledger,
    /// Release decisions and values (policy, vault).
    pub release: Release,
    /// Browser sessions (back-channel logout ends them).
    pub sessions: Sessions,
    /// The pairwise secret.
    pub secrets: Arc<Secrets>,
    pub settings: Arc<OpenIdProviderConfig>,
    pub acr: Arc<AcrMapping>,
    /// Outgoing HTTP for back-channel logout (never follows redirects).
    pub http: reqwest::Client,
}

impl Provider {
    pub fn issuer(&self) -> &str {
        &self.oauth.issuer
    }

    /// An endpoint's absolute URL (`fapi::metadata::paths`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer().trim_end_matches('/'))
    }

    /// The discovery document.
    pub fn metadata(&self) -> Result<fapi::metadata::ProviderMetadata, Error> {
        let claims: Vec<String> = self
            .release
            .policy
            .catalogue()
            .attributes()
            .iter()
            .map(|a| a.name.clone())
            .collect();
        fapi::metadata::ProviderMetadata::new(&fapi::metadata::ProviderConfig {
            issuer: self.issuer(),
            claims_supported: &claims,
            acr: &self.acr,
            extra_grant_types: &["client_credentials"],
            extra_scopes: &crate::oauth::scope::ALL,
            client_algorithms: &fapi::jws::Algorithm::FAPI,
        })
        .map_err(|e| Error::Internal(format!("provider metadata: {e}")))
    }
}

/// A request the provider refuses, in OAuth terms: the standard `error` code and a fixed
/// description that never carries what the client sent.
#[derive(Debug, thiserror::Error)]
#[error("{description}")]
pub struct ProviderError {
    pub code: ErrorCode,
    pub description: Cow<'static, str>,
    /// Refused at a protected resource (userinfo): answered 401 with a `DPoP` challenge.
    pub at_resource: bool,
}

impl ProviderError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
            at_resource: false,
        }
    }

    /// The code's own fixed description.
    pub fn code(code: ErrorCode) -> Self {
        Self::new(code, code.description())
    }

    pub fn at_resource(mut self) -> Self {
        self.at_resource = true;
        self
    }
}

impl From<ProviderError> for Error {
    fn from(e: ProviderError) -> Self {
        Error::Provider(e)
    }
}

impl From<fapi::par::ParError> for ProviderError {
    fn from(e: fapi::par::ParError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<fapi::dpop::DpopError> for ProviderError {
    fn from(e: fapi::dpop::DpopError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<fapi::pkce::PkceError> for ProviderError {
    fn from(e: fapi::pkce::PkceError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

/// 32 random bytes, base64url: codes, refresh tokens, interaction ids.
pub(crate) fn random_token() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Internal("random source failed".into()))?;
    Ok(b64(bytes))
}

/// What is stored instead of a bearer value: base64url(SHA-256(value)).
pub(crate) fn hash(value: &str) -> String {
    fapi::sha256_b64(value.as_bytes())
}

/// The `sid` a department sees for one broker session: stable for the session and client, and
/// revealing nothing of the session's cookie or its stored hash.
pub(crate) fn session_id(session_hash: &str, client_id: &str) -> String {
    let mut input = Vec::with_capacity(session_hash.len() + client_id.len() + 5);
    input.extend_from_slice(b"sid\0");
    input.extend_from_slice(session_hash.as_bytes());
    input.push(0);
    input.extend_from_slice(client_id.as_bytes());
    fapi::sha256_b64(&input)
}

/// Forgets pushed requests, interactions and DPoP proofs past their time, and grants whose code
/// expired unused or whose refresh token expired (the background sweep).
pub async fn purge_expired(db: &sea_orm::DatabaseConnection) -> Result<u64, sea_orm::DbErr> {
    use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};
    let now = store::now_ms();
    let mut purged = 0;
    purged += entities::request::Entity::delete_many()
        .filter(entities::request::Column::ExpiresAt.lt(now / 1000))
        .exec(db)
        .await?
        .rows_affected;
    purged += entities::interaction::Entity::delete_many()
        .filter(entities::interaction::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?
        .rows_affected;
    purged += entities::dpop_proof::Entity::delete_many()
        .filter(entities::dpop_proof::Column::ExpiresAt.lt(now / 1000))
        .exec(db)
        .await?
        .rows_affected;
    // A grant is kept while a token from it may still be presented: its code, its refresh
    // token, or an access token (at most a day after its code was used).
    let day = 86_400_000;
    purged += entities::grant::Entity::delete_many()
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(entities::grant::Column::CodeUsedAt.is_null())
                        .add(entities::grant::Column::CodeExpiresAt.lt(now - day)),
                )
                .add(
                    Condition::all()
                        .add(entities::grant::Column::RefreshHash.is_null())
                        .add(entities::grant::Column::CodeUsedAt.lt(now - day)),
                )
                .add(entities::grant::Column::RefreshExpiresAt.lt(now - day)),
        )
        .exec(db)
        .await?
        .rows_affected;
    Ok(purged)
}

#[cfg(test)]
mod tests;
