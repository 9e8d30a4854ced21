//! Tell us once on the web: an authoritative department's report (`api`), and the citizen's
//! "update my information" with its preview and per-department status (`pages`). The outbox and
//! the worker are `services::relay`.

pub mod api;
pub mod pages;

/// The relay's routes: the department API and the citizen's pages.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(api::report_change)
        .service(pages::update_form)
        .service(pages::preview)
        .service(pages::confirm)
        .service(pages::update_status);
}
