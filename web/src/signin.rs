//! Sign-in on the web: the provider choice, the start and callback endpoints, sign-out
//! (`pages`), and the citizen's own pages (`me`: dashboard, information with provenance, linked
//! sign-ins). The relying-party flow itself is `services::signin`.

pub mod me;
pub mod pages;

use actix_web::web;

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
