//! The HTTP application: shared state, routes, and `broker serve` with graceful shutdown.
//!
//! Start reading here to see every route the broker serves. Each feature module offers a
//! `routes(cfg)` function and an `api()` OpenAPI part; this file lists them once.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use sea_orm::DatabaseConnection;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::error::Error;
use crate::http::metrics::Metrics;
use crate::http::problem::extractors;
use crate::keys::{Secrets, SigningKeys};
use crate::web::i18n::Messages;
use crate::web::pages::Pages;

/// Everything a request handler may use. Cheap to clone (all shared).
#[derive(Debug, Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: DatabaseConnection,
    pub keys: Arc<SigningKeys>,
    pub secrets: Arc<Secrets>,
    /// Encryption of attribute values at rest.
    pub vault: Arc<crate::vault::Vault>,
    pub metrics: Arc<Metrics>,
    pub pages: Arc<Pages>,
    /// Catalogues (attributes, purposes, departments) and the Cedar release policies.
    pub policy: Arc<policies::PolicyEngine>,
    /// The tamper-evident audit log.
    pub audit: crate::audit_log::AuditLog,
    /// Verified access tokens, remembered until they expire.
    pub tokens: Arc<crate::oauth::bearer::TokenVerifier>,
    /// Departments' client keys (inline, or fetched from their `jwks_uri`).
    pub client_keys: Arc<crate::oauth::client_keys::ClientKeyCache>,
    /// Outgoing HTTP (never follows redirects).
    pub http: reqwest::Client,
    /// The OpenAPI document, rendered once at start.
    pub openapi_json: web::Bytes,
    /// Upstream credential providers (discovery, keys, the relying-party client).
    pub providers: Arc<crate::signin::Providers>,
    /// Departments' delivery adapters for the relay.
    pub adapters: Arc<crate::relay::Adapters>,
    /// Wakes this instance's relay worker when a transaction queues deliveries (other instances
    /// find them at their next poll).
    pub relay_wake: Arc<tokio::sync::Notify>,
    /// Client assertion ids seen by the token endpoint (stored in group commits).
    pub assertions: Arc<crate::oauth::token::SeenAssertions>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyError),
    #[error(transparent)]
    Policy(#[from] policies::PolicyError),
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
    #[error(transparent)]
    Messages(#[from] crate::web::i18n::MessagesError),
    #[error(transparent)]
    Pages(#[from] crate::web::pages::PagesError),
    #[error("cannot listen on `{addr}`: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
    #[error("cannot render the API document: {0}")]
    OpenApi(String),
    #[error(transparent)]
    SignIn(#[from] crate::signin::providers::ProviderSetupError),
}

impl AppState {
    /// Builds the state for a configuration over an open, migrated database.
    pub fn build(config: Arc<Config>, db: DatabaseConnection) -> Result<Self, StartError> {
        crate::jose::install_crypto_provider();
        let keys = Arc::new(crate::keys::open_signing_keys(&config)?);
        let secrets = Arc::new(crate::keys::load_secrets(&config)?);
        let vault = Arc::new(crate::vault::Vault::new(&secrets)?);
        let messages = Arc::new(Messages::embedded()?);
        let pages = Arc::new(Pages::new(messages)?);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| StartError::Http(e.to_string()))?;
        let openapi_json = crate::http::openapi::document()
            .to_json()
            .map_err(|e| StartError::OpenApi(e.to_string()))?;
        let policy = Arc::new(load_policy(&config)?);
        let providers = crate::signin::providers(&config)?;
        let adapters =
            Arc::new(crate::relay::Adapters::new().map_err(|e| StartError::Http(e.to_string()))?);
        let audit = crate::audit_log::AuditLog::new(
            db.clone(),
            keys.clone(),
            audit::CheckpointPolicy {
                every_records: config.audit.checkpoint_every_records,
                every_ms: (config.audit.checkpoint_every_secs as i64) * 1000,
            },
        );
        Ok(Self {
            config,
            policy,
            audit,
            db,
            keys,
            secrets,
            vault,
            metrics: Arc::new(Metrics::default()),
            pages,
            tokens: Arc::new(crate::oauth::bearer::TokenVerifier::default()),
            client_keys: Arc::new(crate::oauth::client_keys::ClientKeyCache::new(http.clone())),
            http,
            openapi_json: openapi_json.into(),
            providers,
            adapters,
            relay_wake: Arc::default(),
            assertions: Arc::new(crate::oauth::token::SeenAssertions::new(
                crate::oauth::token::SEEN_BATCH,
            )),
        })
    }
}

/// Loads the catalogues and policies named by the configuration (the built-in ones by default).
pub fn load_policy(config: &Config) -> Result<policies::PolicyEngine, policies::PolicyError> {
    policies::PolicyEngine::load(policies::PolicySource {
        catalogue_dir: config.catalogue.dir.as_deref(),
        policy_dir: config.catalogue.policy_dir.as_deref(),
    })
}

/// The OpenAPI parts of every feature (beyond the foundation's own).
pub fn api_parts() -> Vec<utoipa::openapi::OpenApi> {
    use utoipa::OpenApi;
    vec![
        crate::oauth::Api::openapi(),
        crate::release::Api::openapi(),
        crate::consents::api::Api::openapi(),
        crate::signin::Api::openapi(),
        crate::relay::api::Api::openapi(),
        crate::audit_log::Api::openapi(),
    ]
}

/// Every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use crate::http::{discovery, health, openapi};
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .service(discovery::jwks)
        .service(discovery::openid_configuration)
        .service(openapi::openapi_json)
        .service(openapi::api_reference)
        .service(crate::web::lang::switch)
        .service(crate::web::assets::asset)
        .service(crate::home::home)
        .service(crate::oauth::token::token)
        .service(crate::release::attributes)
        .configure(crate::consents::api::routes)
        .configure(crate::audit_log::routes);
    crate::signin::routes(cfg);
    crate::relay::routes(cfg);
}

async fn not_found() -> Result<actix_web::HttpResponse, Error> {
    Err(Error::NotFound)
}

/// Builds the actix application for `state` (used by `serve` and by in-process tests).
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let limit = state.config.server.max_body_bytes;
    App::new()
        .app_data(state)
        .app_data(extractors::json_config(limit))
        .app_data(extractors::form_config(limit))
        .app_data(extractors::query_config())
        .app_data(extractors::path_config())
        .app_data(web::PayloadConfig::new(limit))
        .configure(routes)
        .default_service(web::to(not_found))
        .wrap(from_fn(crate::web::pages::html_errors))
        .wrap(from_fn(crate::http::observe::observe))
}

/// Work that runs beside the HTTP server until shutdown.
pub type Shutdown = watch::Receiver<bool>;

fn spawn_background(tasks: &mut JoinSet<()>, state: &AppState, shutdown: &Shutdown) {
    crate::signin::spawn_background(tasks, state, shutdown);
    // Pick up `broker keys rotate` run by an operator while the server is up.
    let keys = state.keys.clone();
    let mut stop = shutdown.clone();
    // Cover the tail of a quiet audit log with a signed checkpoint.
    let log = state.audit.clone();
    let every = state.config.audit.checkpoint_every_secs.max(1);
    let mut stop_checkpoints = shutdown.clone();
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(every));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = log.checkpoint_now_if_due().await {
                        tracing::warn!(error = %e, "cannot sign an audit checkpoint");
                    }
                }
                _ = stop_checkpoints.changed() => break,
            }
        }
    });
    let db = state.db.clone();
    let mut stop_purge = shutdown.clone();
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = crate::oauth::token::purge_expired_jtis(&db).await {
                        tracing::warn!(error = %e, "cannot purge expired assertion ids");
                    }
                }
                _ = stop_purge.changed() => break,
            }
        }
    });
    // Deliver the relay's outbox (tell us once).
    if state.config.relay.worker {
        tasks.spawn(crate::relay::worker::run(state.clone(), shutdown.clone()));
    }
    // Read the change feeds of departments that cannot push (pull sources).
    if state.config.relay.pull {
        tasks.spawn(crate::relay::pull::run(state.clone(), shutdown.clone()));
    }
    // Record the expiry of lapsed consents (releases already treat them as expired).
    tasks.spawn(crate::consents::expiry::run(
        state.clone(),
        shutdown.clone(),
    ));
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = keys.reload() {
                        tracing::warn!(error = %e, "cannot reload signing keys");
                    }
                }
                _ = stop.changed() => break,
            }
        }
    });
}

/// `broker serve`: runs until SIGTERM or SIGINT, then lets in-flight requests finish and stops
/// background tasks cleanly.
pub async fn serve(state: AppState) -> Result<(), StartError> {
    let config = state.config.clone();
    let data = web::Data::new(state.clone());
    let mut server = HttpServer::new(move || app(data.clone()))
        .disable_signals()
        .shutdown_timeout(config.server.shutdown_timeout_secs);
    if config.server.workers > 0 {
        server = server.workers(config.server.workers);
    }
    let server = server
        .bind(&config.bind)
        .map_err(|source| StartError::Bind {
            addr: config.bind.clone(),
            source,
        })?;
    for addr in server.addrs() {
        tracing::info!(%addr, public_url = %config.public_url, "listening");
    }
    let server = server.run();
    let handle = server.handle();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    spawn_background(&mut tasks, &state, &stop_rx);
    tokio::spawn(stop_on_signal(handle, stop_tx));
    server.await.map_err(StartError::Serve)?;
    // The HTTP server has drained; background tasks were told to stop by the signal handler.
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(10), drain)
        .await
        .is_err()
    {
        tracing::warn!("background tasks did not stop within 10 s; aborting them");
    }
    tracing::info!("stopped");
    Ok(())
}

async fn stop_on_signal(handle: ServerHandle, stop: watch::Sender<bool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    let which = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    tracing::info!(
        signal = which,
        "shutting down: finishing in-flight requests"
    );
    let _ = stop.send(true);
    handle.stop(true).await;
}
