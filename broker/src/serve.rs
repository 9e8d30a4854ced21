//! `broker serve`: wiring. Builds every service from the configuration, the web application over
//! them, and the background work beside it (the relay worker and pull sources, the consent expiry
//! sweep, audit checkpoints, key reloads, provider discovery); runs until SIGTERM or SIGINT, then
//! lets in-flight requests finish and stops the background work cleanly.

use std::time::Duration;

use actix_web::HttpServer;
use actix_web::dev::ServerHandle;
use sea_orm::DatabaseConnection;
use services::{Services, Shutdown};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Services(#[from] services::assembly::BuildError),
    #[error(transparent)]
    Web(#[from] web::StartError),
    #[error("cannot listen on `{addr}`: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Witness(services::audit_log::AuditError),
    #[error("cannot load the department registry: {0}")]
    Registry(sea_orm::DbErr),
}

/// Every service, from the configuration's sections.
pub fn services(config: &Config, db: &DatabaseConnection) -> Result<Services, StartError> {
    Ok(Services::build(setup(config, db))?)
}

/// The services of a one-shot command (an import, a seeding tool): the ledger's audit records are
/// integrated as they are written, never left queued for a broker that may not be running.
pub fn command_services(config: &Config, db: &DatabaseConnection) -> Result<Services, StartError> {
    let mut assembled = services(config, db)?;
    assembled.ledger.audit = services::audit_log::AuditLog::for_command(
        db.clone(),
        assembled.keys.clone(),
        config.audit.checkpoint_policy(),
    );
    Ok(assembled)
}

/// The services' settings, read from the configuration.
pub fn setup<'a>(config: &'a Config, db: &'a DatabaseConnection) -> services::Setup<'a> {
    services::Setup {
        db,
        data_dir: &config.data_dir,
        issuer: &config.public_url,
        keys: &config.keys,
        catalogue: &config.catalogue,
        audit: &config.audit,
        sessions: &config.sessions,
        consent: &config.consent,
        relay: &config.relay,
        providers: &config.providers,
        officers: &config.officers,
        signin: &config.signin,
        openid_provider: &config.openid_provider,
        digest: &config.digest,
    }
}

/// The web application's own settings.
pub fn site(config: &Config) -> web::Site {
    web::Site::new(&config.public_url, &config.server)
}

fn spawn_background(
    tasks: &mut JoinSet<()>,
    services: &Services,
    config: &Config,
    shutdown: &Shutdown,
) {
    services::signin::spawn_background(tasks, &services.signin, shutdown);
    // Pick up `broker keys rotate` run by an operator while the server is up.
    let keys = services.keys.clone();
    let mut stop = shutdown.clone();
    // Cover the tail of a quiet audit log with a signed checkpoint.
    let log = services.audit.clone();
    let every = config.audit.checkpoint_every_secs.max(1);
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
    let db = services.db.clone();
    let mut stop_purge = shutdown.clone();
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = services::oauth::token::purge_expired_jtis(&db).await {
                        tracing::warn!(error = %e, "cannot purge expired assertion ids");
                    }
                    if let Err(e) = services::provider::purge_expired(&db).await {
                        tracing::warn!(error = %e, "cannot purge expired provider requests");
                    }
                }
                _ = stop_purge.changed() => break,
            }
        }
    });
    // Keep this instance's copy of the department registry current (NOTIFY / version polling).
    tasks.spawn(services::departments::registry::watch(
        services.oauth.registry.clone(),
        services.db.clone(),
        services.metrics.clone(),
        shutdown.clone(),
    ));
    // Have each new checkpoint cosigned by the configured witnesses (checked at start-up).
    if let Ok(witnesses) = services::audit_log::witnesses::configured(&config.audit.witnesses) {
        tasks.spawn(services::audit_log::witnesses::run(
            services.db.clone(),
            services.records.notes.clone(),
            witnesses,
            services.http.clone(),
            Duration::from_secs(config.audit.witness_retry_max_secs.max(1)),
            services.records.cosigned.clone(),
            shutdown.clone(),
        ));
    }
    // Sequence and integrate queued audit records (PostgreSQL; one instance at a time).
    tasks.spawn(services::audit_log::integrate::run(
        services.audit.clone(),
        services.metrics.clone(),
        shutdown.clone(),
    ));
    // Deliver the relay's outbox (tell us once).
    if config.relay.worker {
        tasks.spawn(services::relay::worker::run(
            services.relay.clone(),
            shutdown.clone(),
        ));
    }
    // Read the change feeds of departments that cannot push (pull sources).
    if config.relay.pull {
        tasks.spawn(services::relay::pull::run(
            services.relay.clone(),
            shutdown.clone(),
        ));
    }
    // Send the notice digests due (`[digest] enabled`).
    if config.digest.enabled {
        tasks.spawn(services.digests.clone().run(shutdown.clone()));
    }
    // Record the expiry of lapsed consents (releases already treat them as expired).
    tasks.spawn(services::consents::expiry::run(
        services.ledger.clone(),
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

/// Serves `services` until a signal.
pub async fn serve(config: &Config, services: Services) -> Result<(), StartError> {
    // A witness key that does not parse stops start-up (one line naming the witness).
    services::audit_log::witnesses::configured(&config.audit.witnesses)
        .map_err(StartError::Witness)?;
    // The first request is served from the registry copy already.
    services
        .oauth
        .registry
        .reload(&services.db)
        .await
        .map_err(StartError::Registry)?;
    // `/metrics` holds the relay's gauges from the first scrape, not from the worker's first turn
    // (it refreshes them every second after).
    if config.relay.worker
        && let Err(e) = services::relay::telemetry::refresh_gauges(
            &services.db,
            &services.metrics,
            store::now_ms(),
        )
        .await
    {
        tracing::warn!(error = %e, "relay: cannot read the queue for its gauges");
    }
    let wiring = web::Web::new(&services, site(config))?;
    let mut server = HttpServer::new(move || web::app(wiring.clone()))
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
    spawn_background(&mut tasks, &services, config, &stop_rx);
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
