//! The HTTP application: every route, listed once, and the services each handler may take.
//!
//! Start reading here to see every route the broker serves. Each area offers a `routes(cfg)`
//! function and an `Api` OpenAPI part. [`Web`] holds what the application is built from: each
//! service registered on its own (`web::Data<Ledger>`, `web::Data<Release>`, …), so a handler
//! takes the one or two it uses and nothing else.

use std::sync::Arc;

use actix_web::middleware::from_fn;
use actix_web::{App, web};
use services::Services;
use services::audit_log::{AuditLog, Records};
use services::consents::Ledger;
use services::keys::SigningKeys;
use services::metrics::Metrics;
use services::oauth::OAuth;
use services::provider::Provider;
use services::relay::Relay;
use services::release::Release;
use services::sessions::Sessions;
use services::signin::SignIn;
use services::takeout::Takeout;

use crate::i18n::Messages;
use crate::openapi::OpenApiDocument;
use crate::pages::Pages;
use crate::problem::extractors;
use crate::settings::ServerConfig;

/// What the site itself needs to know: its public URL and whether cookies may go without
/// `Secure` (loopback http only).
#[derive(Debug, Clone)]
pub struct Site {
    /// The broker's public base URL, also its issuer identifier.
    pub public_url: Arc<str>,
    pub secure_cookies: bool,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
}

impl Site {
    pub fn new(public_url: &str, server: &ServerConfig) -> Self {
        Self {
            public_url: Arc::from(public_url),
            secure_cookies: !server.insecure_cookies,
            max_body_bytes: server.max_body_bytes,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Messages(#[from] crate::i18n::MessagesError),
    #[error(transparent)]
    Pages(#[from] crate::pages::PagesError),
    #[error("cannot render the API document: {0}")]
    OpenApi(String),
}

/// Everything the application is built from, each piece registered on its own.
#[derive(Debug, Clone)]
pub struct Web {
    pub site: web::Data<Site>,
    pub pages: web::Data<Pages>,
    pub openapi: web::Data<OpenApiDocument>,
    pub metrics: web::Data<Metrics>,
    pub db: web::Data<sea_orm::DatabaseConnection>,
    pub keys: web::Data<SigningKeys>,
    pub sessions: web::Data<Sessions>,
    pub ledger: web::Data<Ledger>,
    pub relay: web::Data<Relay>,
    pub release: web::Data<Release>,
    pub oauth: web::Data<OAuth>,
    pub signin: web::Data<SignIn>,
    pub audit: web::Data<AuditLog>,
    pub records: web::Data<Records>,
    pub provider: web::Data<Provider>,
    pub takeout: web::Data<Takeout>,
    pub digests: web::Data<services::digests::Digests>,
    /// The methods of every documented path (`Allow` of a 405).
    pub allowed: web::Data<crate::methods::Allowed>,
}

impl Web {
    pub fn new(services: &Services, site: Site) -> Result<Self, StartError> {
        let messages = Arc::new(Messages::embedded()?);
        let pages = Pages::new(messages)?;
        let document = crate::openapi::document();
        let allowed = crate::methods::Allowed::from_document(&document);
        let openapi =
            crate::openapi::published(&document).map_err(|e| StartError::OpenApi(e.to_string()))?;
        Ok(Self {
            site: web::Data::new(site),
            pages: web::Data::new(pages),
            openapi: web::Data::new(OpenApiDocument(openapi.into())),
            metrics: web::Data::from(services.metrics.clone()),
            db: web::Data::new(services.db.clone()),
            keys: web::Data::from(services.keys.clone()),
            sessions: web::Data::new(services.sessions.clone()),
            ledger: web::Data::new(services.ledger.clone()),
            relay: web::Data::new(services.relay.clone()),
            release: web::Data::new(services.release.clone()),
            oauth: web::Data::new(services.oauth.clone()),
            signin: web::Data::new(services.signin.clone()),
            audit: web::Data::new(services.audit.clone()),
            records: web::Data::new(services.records.clone()),
            provider: web::Data::new(services.provider.clone()),
            takeout: web::Data::new(services.takeout.clone()),
            digests: web::Data::new(services.digests.clone()),
            allowed: web::Data::new(allowed),
        })
    }
}

/// The OpenAPI parts of every area (beyond the foundation's own).
pub fn api_parts() -> Vec<utoipa::openapi::OpenApi> {
    use utoipa::OpenApi;
    vec![
        crate::oauth::Api::openapi(),
        crate::release::Api::openapi(),
        crate::consents::api::Api::openapi(),
        crate::signin::Api::openapi(),
        crate::relay::api::Api::openapi(),
        crate::audit::Api::openapi(),
        crate::provider::Api::openapi(),
        crate::takeout::Api::openapi(),
        crate::delegation::Api::openapi(),
    ]
}

/// Every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use crate::{discovery, health, openapi};
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .service(discovery::jwks)
        .service(discovery::openid_configuration)
        .service(discovery::oauth_authorization_server)
        .service(openapi::openapi_json)
        .service(openapi::api_reference)
        .service(crate::lang::switch)
        .service(crate::assets::asset)
        .service(crate::assets::favicon)
        .service(crate::home::home)
        .service(crate::oauth::token)
        .service(crate::release::attributes)
        .configure(crate::consents::api::routes)
        .configure(crate::audit::routes)
        .service(crate::takeout::export);
    crate::signin::routes(cfg);
    crate::relay::routes(cfg);
    crate::provider::routes(cfg);
    crate::delegation::routes(cfg);
}

/// Builds the actix application (used by `broker serve` and by in-process tests).
pub fn app(
    w: Web,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let limit = w.site.max_body_bytes;
    App::new()
        .app_data(w.site.clone())
        .app_data(w.pages.clone())
        .app_data(w.openapi.clone())
        .app_data(w.allowed.clone())
        .app_data(w.metrics.clone())
        .app_data(w.db.clone())
        .app_data(w.keys.clone())
        .app_data(w.sessions.clone())
        .app_data(w.ledger.clone())
        .app_data(w.relay.clone())
        .app_data(w.release.clone())
        .app_data(w.oauth.clone())
        .app_data(w.signin.clone())
        .app_data(w.audit.clone())
        .app_data(w.records.clone())
        .app_data(w.provider.clone())
        .app_data(w.takeout.clone())
        .app_data(w.digests.clone())
        .app_data(extractors::json_config(limit))
        .app_data(extractors::form_config(limit))
        .app_data(extractors::query_config())
        .app_data(extractors::path_config())
        .app_data(web::PayloadConfig::new(limit))
        .configure(routes)
        .default_service(web::to(crate::methods::unmatched))
        .wrap(from_fn(crate::methods::head_as_get))
        .wrap(from_fn(crate::pages::html_errors))
        .wrap(from_fn(crate::observe::observe))
}
