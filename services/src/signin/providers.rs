//! The configured credential providers, as the relying party sees them: discovery (at start, on a
//! schedule, and on demand when a sign-in finds none), the provider's keys (fetched again on an
//! unknown `kid`, at most once per `signin.jwks_min_refresh_secs`), the broker's client
//! authentication (`client_secret_basic` or `private_key_jwt`), and ID token verification.
//!
//! The `openidconnect` crate does the protocol work; this module configures it strictly:
//! only asymmetric signature algorithms (never `none` or an HMAC keyed with the client secret),
//! `iat` no further ahead than the allowed clock skew, and `azp` checked when present or needed.
//!
//! INVARIANT: nothing here logs a token, a secret or a claim value.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod, CoreGrantType,
    CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier, CoreJsonWebKey, CoreJsonWebKeySet,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, ClaimsVerificationError, ClientId, ClientSecret, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, LogoutProviderMetadata, Nonce, ProviderMetadata,
    RedirectUrl, SignatureVerificationError,
};
use serde::{Deserialize, Serialize};

use super::error::{SignInError, TokenFault};
use super::settings::{ProviderConfig, SignInConfig};
use crate::keys::SigningKeys;

/// RFC 9207's discovery flag, beside RP-initiated logout's `end_session_endpoint`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssParameter {
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: Option<bool>,
}

impl AdditionalProviderMetadata for IssParameter {}

/// Provider metadata as discovered.
pub type Metadata = ProviderMetadata<
    LogoutProviderMetadata<IssParameter>,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The client type `from_provider_metadata` builds.
pub type RpClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Signature algorithms accepted on ID tokens: asymmetric only.
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 10] = [
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EcdsaP521Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Marks the `iat` failure so it can be told apart from `exp` (both are `Expired` upstream).
const IAT_FUTURE: &str = "issued in the future";

/// How the broker authenticates to a provider's token endpoint.
pub enum ClientAuth {
    Secret(ClientSecret),
    PrivateKeyJwt(SigningKeys),
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientAuth::Secret(_) => f.write_str("client_secret_basic"),
            ClientAuth::PrivateKeyJwt(_) => f.write_str("private_key_jwt"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderSetupError {
    #[error("provider `{provider}`: cannot read `client_secret_file` `{path}`: {source}")]
    SecretFile {
        provider: String,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("provider `{provider}`: {source}")]
    Key {
        provider: String,
        source: crate::keys::KeyError,
    },
    #[error("provider `{provider}`: `issuer` is not a valid issuer URL")]
    Issuer { provider: String },
    #[error("cannot build the HTTP client for providers: {0}")]
    Http(String),
}

/// What discovery found, with the keys fetched from its `jwks_uri`.
#[derive(Debug, Clone)]
pub struct Discovered {
    pub metadata: Metadata,
    pub fetched_at: Instant,
}

impl Discovered {
    pub fn end_session_endpoint(&self) -> Option<&openidconnect::EndSessionUrl> {
        self.metadata
            .additional_metadata()
            .end_session_endpoint
            .as_ref()
    }

    /// RFC 9207 §2.4: when the provider says it sends `iss`, a response without it is refused.
    pub fn requires_iss_parameter(&self) -> bool {
        self.metadata
            .additional_metadata()
            .additional_metadata
            .authorization_response_iss_parameter_supported
            == Some(true)
    }
}

/// One configured provider and what the broker knows about it now.
#[derive(Debug)]
pub struct Provider {
    pub config: ProviderConfig,
    pub issuer: IssuerUrl,
    auth: ClientAuth,
    discovered: RwLock<Option<Arc<Discovered>>>,
    /// One discovery at a time per provider; holds when the last one failed.
    discovery: tokio::sync::Mutex<Option<Instant>>,
    last_jwks_fetch: Mutex<Option<Instant>>,
}

/// Every configured provider.
#[derive(Debug)]
pub struct Providers {
    pub list: Vec<Arc<Provider>>,
    http: reqwest::Client,
    settings: SignInConfig,
}

/// Don't ask a provider that just failed discovery again for this long (pages retry on demand).
const DISCOVERY_RETRY_FLOOR: Duration = Duration::from_secs(2);

impl Providers {
    pub fn new(
        configs: &[ProviderConfig],
        settings: &SignInConfig,
    ) -> Result<Self, ProviderSetupError> {
        // Providers are reached like any outside service: no redirects followed, a timeout.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(settings.http_timeout_secs))
            .connect_timeout(Duration::from_secs(settings.http_timeout_secs))
            .build()
            .map_err(|e| ProviderSetupError::Http(e.to_string()))?;
        let mut list = Vec::new();
        for config in configs {
            let auth = if let Some(path) = &config.private_key_file {
                ClientAuth::PrivateKeyJwt(SigningKeys::from_configured_file(path).map_err(
                    |source| ProviderSetupError::Key {
                        provider: config.id.clone(),
                        source,
                    },
                )?)
            } else if let Some(path) = &config.client_secret_file {
                let text = std::fs::read_to_string(path).map_err(|source| {
                    ProviderSetupError::SecretFile {
                        provider: config.id.clone(),
                        path: path.clone(),
                        source,
                    }
                })?;
                ClientAuth::Secret(ClientSecret::new(
                    text.trim_end_matches(['\n', '\r']).to_owned(),
                ))
            } else {
                ClientAuth::Secret(ClientSecret::new(config.client_secret.expose().to_owned()))
            };
            let issuer =
                IssuerUrl::new(config.issuer.clone()).map_err(|_| ProviderSetupError::Issuer {
                    provider: config.id.clone(),
                })?;
            list.push(Arc::new(Provider {
                config: config.clone(),
                issuer,
                auth,
                discovered: RwLock::new(None),
                discovery: tokio::sync::Mutex::new(None),
                last_jwks_fetch: Mutex::new(None),
            }));
        }
        Ok(Self {
            list,
            http,
            settings: settings.clone(),
        })
    }

    pub fn get(&self, id: &str) -> Result<Arc<Provider>, SignInError> {
        self.list
            .iter()
            .find(|p| p.config.id == id)
            .cloned()
            .ok_or_else(|| SignInError::UnknownProvider(id.to_owned()))
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Discovers every provider whose metadata is missing or older than the refresh interval
    /// (the background task calls this).
    pub async fn refresh_all(&self) {
        let every = Duration::from_secs(self.settings.discovery_refresh_secs);
        for provider in &self.list {
            let stale = provider
                .current()
                .is_none_or(|d| d.fetched_at.elapsed() >= every);
            if stale {
                let mut last_failure = provider.discovery.lock().await;
                if let Err(e) = self.discover(provider, &mut last_failure).await {
                    tracing::warn!(provider = %provider.config.id, error = %e, "provider discovery failed");
                }
            }
        }
    }

    /// The provider's metadata, discovering it now if the broker has none yet (waiting for a
    /// discovery already under way rather than starting another).
    pub async fn ensure(&self, provider: &Provider) -> Result<Arc<Discovered>, SignInError> {
        if let Some(d) = provider.current() {
            return Ok(d);
        }
        let mut last_failure = provider.discovery.lock().await;
        if let Some(d) = provider.current() {
            return Ok(d);
        }
        if last_failure.is_some_and(|t| t.elapsed() < DISCOVERY_RETRY_FLOOR) {
            return Err(unavailable(provider, "discovery failed"));
        }
        self.discover(provider, &mut last_failure).await
    }

    async fn discover(
        &self,
        provider: &Provider,
        last_failure: &mut Option<Instant>,
    ) -> Result<Arc<Discovered>, SignInError> {
        let metadata = Metadata::discover_async(provider.issuer.clone(), &self.http)
            .await
            .map_err(|e| {
                *last_failure = Some(Instant::now());
                tracing::warn!(provider = %provider.config.id, error = %short(&e), "discovery failed");
                unavailable(provider, "discovery failed")
            })?;
        *last_failure = None;
        if let Ok(mut t) = provider.last_jwks_fetch.lock() {
            *t = Some(Instant::now());
        }
        let discovered = Arc::new(Discovered {
            metadata,
            fetched_at: Instant::now(),
        });
        provider.store(discovered.clone());
        tracing::info!(provider = %provider.config.id, "provider discovered");
        Ok(discovered)
    }

    /// Fetches the provider's JWKS again, unless that was done within the minimum interval.
    /// Returns the refreshed metadata, or `None` when rate-limited or the fetch failed.
    async fn refresh_keys(&self, provider: &Provider, d: &Discovered) -> Option<Arc<Discovered>> {
        let min = Duration::from_secs(self.settings.jwks_min_refresh_secs);
        {
            let mut last = provider.last_jwks_fetch.lock().ok()?;
            if last.is_some_and(|t| t.elapsed() < min) {
                tracing::info!(provider = %provider.config.id, "unknown key id; JWKS refresh rate-limited");
                return None;
            }
            *last = Some(Instant::now());
        }
        match CoreJsonWebKeySet::fetch_async(d.metadata.jwks_uri(), &self.http).await {
            Ok(jwks) => {
                let refreshed = Arc::new(Discovered {
                    metadata: d.metadata.clone().set_jwks(jwks),
                    fetched_at: d.fetched_at,
                });
                provider.store(refreshed.clone());
                tracing::info!(provider = %provider.config.id, "unknown key id; JWKS fetched again");
                Some(refreshed)
            }
            Err(e) => {
                tracing::warn!(provider = %provider.config.id, error = %short(&e), "JWKS refresh failed");
                None
            }
        }
    }

    /// An openidconnect client for this provider with the broker's redirect URI.
    pub fn client(&self, provider: &Provider, d: &Discovered, redirect: RedirectUrl) -> RpClient {
        let secret = match &provider.auth {
            ClientAuth::Secret(s) => Some(s.clone()),
            ClientAuth::PrivateKeyJwt(_) => None,
        };
        let client = CoreClient::from_provider_metadata(
            d.metadata.clone(),
            ClientId::new(provider.config.client_id.clone()),
            secret,
        )
        .set_redirect_uri(redirect);
        match &provider.auth {
            ClientAuth::Secret(_) => client.set_auth_type(openidconnect::AuthType::BasicAuth),
            ClientAuth::PrivateKeyJwt(_) => {
                client.set_auth_type(openidconnect::AuthType::RequestBody)
            }
        }
    }

    /// For `private_key_jwt`: the client assertion (RFC 7523) for this provider's token endpoint.
    pub fn client_assertion(
        &self,
        provider: &Provider,
        d: &Discovered,
    ) -> Result<Option<String>, SignInError> {
        let ClientAuth::PrivateKeyJwt(keys) = &provider.auth else {
            return Ok(None);
        };
        let Some(token_endpoint) = d.metadata.token_endpoint() else {
            return Err(unavailable(provider, "no token endpoint"));
        };
        let now = chrono::Utc::now().timestamp();
        let claims = serde_json::json!({
            "iss": provider.config.client_id,
            "sub": provider.config.client_id,
            "aud": token_endpoint.as_str(),
            "jti": uuid::Uuid::new_v4().to_string(),
            "iat": now,
            "exp": now + 60,
        });
        keys.sign(Some("JWT"), &claims)
            .map(Some)
            .map_err(|_| unavailable(provider, "cannot sign the client assertion"))
    }

    /// Verifies an ID token from the token endpoint: signature with the provider's keys (fetched
    /// again once on an unknown `kid`), `iss`, `aud`, `azp`, `exp`, `iat` and `nonce`.
    pub async fn verify_id_token(
        &self,
        provider: &Provider,
        d: Arc<Discovered>,
        token: &CoreIdToken,
        nonce: &Nonce,
    ) -> Result<CoreIdTokenClaims, SignInError> {
        match self.verify_with(provider, &d, token, nonce) {
            Err(TokenFault::UnknownKey) => match self.refresh_keys(provider, &d).await {
                Some(refreshed) => self
                    .verify_with(provider, &refreshed, token, nonce)
                    .map_err(SignInError::IdToken),
                None => Err(SignInError::IdToken(TokenFault::UnknownKey)),
            },
            other => other.map_err(SignInError::IdToken),
        }
    }

    fn verify_with(
        &self,
        provider: &Provider,
        d: &Discovered,
        token: &CoreIdToken,
        nonce: &Nonce,
    ) -> Result<CoreIdTokenClaims, TokenFault> {
        let skew = chrono::Duration::seconds(
            i64::try_from(self.settings.clock_skew_secs).unwrap_or(i64::MAX / 2),
        );
        let client_id = ClientId::new(provider.config.client_id.clone());
        // A public-client verifier holds no secret, so an HMAC "signature" can never verify; the
        // algorithm list refuses HMACs (and `none`) before that anyway.
        let verifier = CoreIdTokenVerifier::new_public_client(
            client_id.clone(),
            d.metadata.issuer().clone(),
            d.metadata.jwks().clone(),
        )
        .set_allowed_algs(ALLOWED_ALGS)
        .set_time_fn(move || chrono::Utc::now() - skew)
        .set_issue_time_verifier_fn(move |iat| {
            if iat > chrono::Utc::now() + skew {
                Err(IAT_FUTURE.to_owned())
            } else {
                Ok(())
            }
        });
        let claims = token
            .claims(&verifier, nonce)
            .map_err(|e| fault(&e))?
            .clone();
        // OpenID Connect Core §3.1.3.7 (4, 5): several audiences need an `azp`, and an `azp`
        // must be the broker (openidconnect leaves this to the client).
        let several = claims.audiences().len() > 1;
        match claims.authorized_party() {
            Some(azp) if azp.as_str() != client_id.as_str() => {
                return Err(TokenFault::AuthorizedParty);
            }
            None if several => return Err(TokenFault::AuthorizedParty),
            _ => {}
        }
        Ok(claims)
    }
}

impl Provider {
    pub fn current(&self) -> Option<Arc<Discovered>> {
        match self.discovered.read() {
            Ok(d) => d.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn store(&self, d: Arc<Discovered>) {
        match self.discovered.write() {
            Ok(mut slot) => *slot = Some(d),
            Err(poisoned) => *poisoned.into_inner() = Some(d),
        }
    }
}

pub fn unavailable(provider: &Provider, why: &'static str) -> SignInError {
    SignInError::ProviderUnavailable {
        provider: provider.config.id.clone(),
        why,
    }
}

/// The first line of an error, for logs (the crate's messages name URLs, never tokens).
fn short(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.chars().take(300).collect()
}

fn fault(e: &ClaimsVerificationError) -> TokenFault {
    use SignatureVerificationError as S;
    match e {
        ClaimsVerificationError::Expired(why) if why == IAT_FUTURE => TokenFault::IssuedInFuture,
        ClaimsVerificationError::Expired(_) => TokenFault::Expired,
        ClaimsVerificationError::InvalidAudience(_) => TokenFault::Audience,
        ClaimsVerificationError::InvalidIssuer(_) => TokenFault::Issuer,
        ClaimsVerificationError::InvalidNonce(_) => TokenFault::Nonce,
        ClaimsVerificationError::SignatureVerification(s) => match s {
            S::NoMatchingKey | S::AmbiguousKeyId(_) => TokenFault::UnknownKey,
            S::DisallowedAlg(_) | S::UnsupportedAlg(_) | S::NoSignature => TokenFault::Algorithm,
            _ => TokenFault::Signature,
        },
        _ => TokenFault::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openidconnect::JwsSigningAlgorithm;

    #[test]
    fn only_asymmetric_signature_algorithms_are_allowed() {
        assert!(ALLOWED_ALGS.iter().all(|alg| !alg.uses_shared_secret()));
        for refused in [
            CoreJwsSigningAlgorithm::HmacSha256,
            CoreJwsSigningAlgorithm::HmacSha384,
            CoreJwsSigningAlgorithm::HmacSha512,
        ] {
            assert!(!ALLOWED_ALGS.contains(&refused));
        }
    }

    #[test]
    fn verification_failures_map_to_the_check_that_failed() {
        use SignatureVerificationError as S;
        let cases = [
            (
                ClaimsVerificationError::Expired(IAT_FUTURE.into()),
                TokenFault::IssuedInFuture,
            ),
            (
                ClaimsVerificationError::Expired("exp".into()),
                TokenFault::Expired,
            ),
            (
                ClaimsVerificationError::InvalidAudience(String::new()),
                TokenFault::Audience,
            ),
            (
                ClaimsVerificationError::InvalidIssuer(String::new()),
                TokenFault::Issuer,
            ),
            (
                ClaimsVerificationError::InvalidNonce(String::new()),
                TokenFault::Nonce,
            ),
            (
                ClaimsVerificationError::SignatureVerification(S::NoMatchingKey),
                TokenFault::UnknownKey,
            ),
            (
                ClaimsVerificationError::SignatureVerification(S::NoSignature),
                TokenFault::Algorithm,
            ),
            (
                ClaimsVerificationError::SignatureVerification(S::CryptoError(String::new())),
                TokenFault::Signature,
            ),
            (
                ClaimsVerificationError::Unsupported(String::new()),
                TokenFault::Malformed,
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(fault(&error), expected, "{error}");
        }
    }
}
