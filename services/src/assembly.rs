//! Building every service once, from the settings of each area. The binary reads its
//! configuration and hands each area its part ([`Setup`]); tests use [`Setup::defaults`].
//!
//! [`Services`] exists only for wiring: the web layer registers each service on its own, and a
//! handler takes the one or two it uses, never the bundle.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::audit_log::{AuditConfig, AuditLog, Records};
use crate::consents::Ledger;
use crate::consents::settings::ConsentConfig;
use crate::digests::{DigestConfig, Digests};
use crate::keys::{KeysConfig, Secrets, SigningKeys};
use crate::metrics::Metrics;
use crate::oauth::OAuth;
use crate::policy::CatalogueConfig;
use crate::provider::{OpenIdProviderConfig, Provider};
use crate::relay::settings::RelayConfig;
use crate::relay::{Adapters, Relay};
use crate::release::Release;
use crate::sessions::{Sessions, SessionsConfig};
use crate::signin::SignIn;
use crate::signin::settings::{OfficerConfig, ProviderConfig, SignInConfig};
use crate::takeout::Takeout;
use crate::vault::Vault;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyError),
    #[error(transparent)]
    Policy(#[from] policies::PolicyError),
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
    #[error(transparent)]
    SignIn(#[from] crate::signin::providers::ProviderSetupError),
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
    #[error(transparent)]
    Adapters(#[from] adapters::AdapterError),
    #[error("{0}")]
    OpenIdProvider(String),
    #[error(transparent)]
    Digest(#[from] crate::digests::mailer::MailerError),
}

/// What the services are built from: the database and each area's settings.
#[derive(Debug, Clone, Copy)]
pub struct Setup<'a> {
    pub db: &'a DatabaseConnection,
    /// Where generated keys and secrets live.
    pub data_dir: &'a Path,
    /// The broker's public URL, its issuer identifier.
    pub issuer: &'a str,
    pub keys: &'a KeysConfig,
    pub catalogue: &'a CatalogueConfig,
    pub audit: &'a AuditConfig,
    pub sessions: &'a SessionsConfig,
    pub consent: &'a ConsentConfig,
    pub relay: &'a RelayConfig,
    pub providers: &'a [ProviderConfig],
    pub officers: &'a [OfficerConfig],
    pub signin: &'a SignInConfig,
    pub openid_provider: &'a OpenIdProviderConfig,
    pub digest: &'a DigestConfig,
}

/// Default settings for every area (tests, tools): only the database, data directory and issuer
/// are given.
#[derive(Debug, Default)]
pub struct Defaults {
    pub keys: KeysConfig,
    pub catalogue: CatalogueConfig,
    pub audit: AuditConfig,
    pub sessions: SessionsConfig,
    pub consent: ConsentConfig,
    pub relay: RelayConfig,
    pub signin: SignInConfig,
    pub openid_provider: OpenIdProviderConfig,
    pub digest: DigestConfig,
}

impl Defaults {
    pub fn setup<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        data_dir: &'a Path,
        issuer: &'a str,
    ) -> Setup<'a> {
        Setup {
            db,
            data_dir,
            issuer,
            keys: &self.keys,
            catalogue: &self.catalogue,
            audit: &self.audit,
            sessions: &self.sessions,
            consent: &self.consent,
            relay: &self.relay,
            providers: &[],
            officers: &[],
            signin: &self.signin,
            openid_provider: &self.openid_provider,
            digest: &self.digest,
        }
    }
}

/// Every service, built once and shared (each is cheap to clone).
#[derive(Debug, Clone)]
pub struct Services {
    pub db: DatabaseConnection,
    pub keys: Arc<SigningKeys>,
    pub secrets: Arc<Secrets>,
    pub vault: Arc<Vault>,
    pub policy: Arc<policies::PolicyEngine>,
    pub audit: AuditLog,
    pub records: Records,
    pub metrics: Arc<Metrics>,
    pub sessions: Sessions,
    pub relay: Relay,
    pub ledger: Ledger,
    pub release: Release,
    pub oauth: OAuth,
    pub signin: SignIn,
    /// The OpenID Provider to departments' web applications.
    pub provider: Provider,
    /// Outgoing HTTP for departments' keys and providers (never follows redirects).
    pub http: reqwest::Client,
    /// The citizen's signed takeout.
    pub takeout: Takeout,
    /// The e-mail digest of notices.
    pub digests: Digests,
}

impl Services {
    pub fn build(setup: Setup<'_>) -> Result<Self, BuildError> {
        crate::jose::install_crypto_provider();
        let db = setup.db.clone();
        let issuer: Arc<str> = Arc::from(setup.issuer);
        let keys = Arc::new(crate::keys::open_signing_keys(setup.keys, setup.data_dir)?);
        let secrets = Arc::new(crate::keys::load_secrets(setup.keys, setup.data_dir)?);
        let vault = Arc::new(Vault::new(&secrets)?);
        let policy = Arc::new(crate::policy::load(setup.catalogue)?);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| BuildError::Http(e.to_string()))?;
        let audit = AuditLog::new(db.clone(), keys.clone(), setup.audit.checkpoint_policy());
        let origin = crate::audit_log::origin(setup.audit.origin.as_deref(), setup.issuer);
        let notes = Arc::new(crate::audit_log::witnesses::CheckpointNotes::new(
            origin.clone(),
            crate::keys::open_note_key(setup.data_dir, &origin)?,
        ));
        let cosigned = crate::audit_log::witnesses::LatestCosigned::default();
        let sessions = Sessions {
            db: db.clone(),
            settings: Arc::new(setup.sessions.clone()),
        };
        let metrics: Arc<Metrics> = Arc::default();
        let relay = Relay {
            db: db.clone(),
            policy: policy.clone(),
            audit: audit.clone(),
            keys: keys.clone(),
            secrets: secrets.clone(),
            vault: vault.clone(),
            adapters: Arc::new(Adapters::new()?),
            relay_wake: Arc::default(),
            settings: Arc::new(setup.relay.clone()),
            issuer: issuer.clone(),
            metrics: metrics.clone(),
        };
        let ledger = Ledger {
            db: db.clone(),
            policy: policy.clone(),
            audit: audit.clone(),
            keys: keys.clone(),
            secrets: secrets.clone(),
            relay: relay.clone(),
            settings: Arc::new(setup.consent.clone()),
            issuer: issuer.clone(),
        };
        let registry = crate::departments::Registry::default();
        let client_keys = Arc::new(crate::oauth::client_keys::ClientKeyCache::new(http.clone()));
        let release = Release {
            db: db.clone(),
            policy: policy.clone(),
            audit: audit.clone(),
            keys: keys.clone(),
            vault: vault.clone(),
            issuer: issuer.clone(),
            cosigned: cosigned.clone(),
            registry: registry.clone(),
            client_keys: client_keys.clone(),
            secrets: secrets.clone(),
        };
        let takeout = Takeout {
            db: db.clone(),
            vault: vault.clone(),
            keys: keys.clone(),
            audit: audit.clone(),
            issuer: issuer.clone(),
        };
        let mailer = if setup.digest.enabled {
            Some(crate::digests::mailer::Mailer::new(
                &setup.digest.smtp,
                &setup.digest.from,
                setup.issuer,
            )?)
        } else {
            None
        };
        let digests = Digests {
            db: db.clone(),
            vault: vault.clone(),
            policy: policy.clone(),
            issuer: issuer.clone(),
            settings: Arc::new(setup.digest.clone()),
            mailer,
            metrics: metrics.clone(),
        };
        let oauth = OAuth {
            db: db.clone(),
            registry,
            keys: keys.clone(),
            client_keys,
            assertions: Arc::new(crate::oauth::token::SeenAssertions::new(
                crate::oauth::token::SEEN_BATCH,
            )),
            tokens: Arc::default(),
            audit: audit.clone(),
            metrics: metrics.clone(),
            issuer: issuer.clone(),
        };
        let signin = SignIn {
            db: db.clone(),
            providers: crate::signin::providers(setup.providers, setup.signin)?,
            vault: vault.clone(),
            policy: policy.clone(),
            audit: audit.clone(),
            sessions: sessions.clone(),
            settings: Arc::new(setup.signin.clone()),
            officers: Arc::from(setup.officers.to_vec()),
            issuer,
        };
        let acr = setup
            .openid_provider
            .check()
            .map_err(BuildError::OpenIdProvider)?;
        let provider = Provider {
            oauth: oauth.clone(),
            ledger: ledger.clone(),
            release: release.clone(),
            sessions: sessions.clone(),
            secrets: secrets.clone(),
            settings: Arc::new(setup.openid_provider.clone()),
            acr: Arc::new(acr),
            http: http.clone(),
        };
        let records = Records {
            db: db.clone(),
            audit: audit.clone(),
            keys: keys.clone(),
            policy: policy.clone(),
            settings: Arc::new(setup.audit.clone()),
            notes,
            cosigned,
        };
        Ok(Self {
            records,
            db,
            keys,
            secrets,
            vault,
            policy,
            audit,
            metrics,
            sessions,
            relay,
            ledger,
            release,
            oauth,
            signin,
            provider,
            http,
            takeout,
            digests,
        })
    }
}
