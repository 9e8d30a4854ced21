//! Static assets (CSS, images), embedded at build time and served with long caching.

use actix_web::{HttpResponse, get, web};
use services::Error as ServiceError;

use super::embedded::ASSETS;
use crate::problem::Error;

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// A static asset embedded in the binary.
#[utoipa::path(
    tag = "pages",
    params(("name" = String, Path, description = "asset file name")),
    responses((status = 200, description = "The asset"), (status = 404, description = "No such asset"))
)]
#[get("/assets/{name}")]
pub async fn asset(name: web::Path<String>) -> Result<HttpResponse, Error> {
    let (name, bytes) = ASSETS
        .iter()
        .find(|(n, _)| *n == name.as_str())
        .ok_or(ServiceError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type(content_type(name))
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(*bytes))
}

/// The site's icon where browsers look for it without being told.
#[utoipa::path(tag = "pages", responses((status = 200, description = "The site icon")))]
#[get("/favicon.ico")]
pub async fn favicon() -> Result<HttpResponse, Error> {
    let (_, bytes) = ASSETS
        .iter()
        .find(|(n, _)| *n == "favicon.ico")
        .ok_or(ServiceError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type(content_type("favicon.ico"))
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(*bytes))
}
