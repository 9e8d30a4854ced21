//! The audit log on the web: the API for privacy offices (`api`), the officers' console
//! (`console`) and the citizen's "my activity" (`activity`). Reading and verifying the log is
//! `services::audit_log`; these modules only speak HTTP and render.

pub mod activity;
pub mod api;
pub mod console;
pub mod digest;
pub mod notices;
#[cfg(test)]
mod web_tests;

use services::audit_log::query;

/// The OpenAPI part for the audit log: its API and pages.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        api::records,
        api::proof,
        api::checkpoints,
        api::checkpoint_note,
        api::signing_keys,
        console::search,
        console::download,
        console::unusual_access,
        activity::list,
        activity::detail,
        activity::download,
        notices::list,
        digest::settings,
        digest::choose,
    ),
    components(schemas(
        api::RecordPage,
        api::ProofResponse,
        api::CheckpointPage,
        query::RecordView,
        query::CheckpointView,
        query::InclusionProof,
    )),
    tags((name = "audit", description = "The tamper-evident audit log: search, proofs, checkpoints"))
)]
pub struct Api;

/// Registers the audit API, the officer console and the citizen's activity pages.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(api::records)
        .service(api::proof)
        .service(api::signing_keys)
        .service(api::checkpoints)
        .service(api::checkpoint_note)
        .service(console::search)
        .service(console::download)
        .service(console::unusual_access)
        .service(activity::list)
        .service(activity::download)
        .service(activity::detail)
        .service(notices::list)
        .service(digest::settings)
        .service(digest::choose);
}
