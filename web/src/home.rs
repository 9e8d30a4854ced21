//! The front page: what the service is, and where to go.

use actix_web::{HttpResponse, get};
use serde::Serialize;

use crate::pages::Page;
use crate::problem::Error;

#[derive(Serialize)]
struct Home {}

/// The front page.
#[utoipa::path(tag = "pages", responses((status = 200, description = "Front page", content_type = "text/html")))]
#[get("/")]
pub async fn home(page: Page) -> Result<HttpResponse, Error> {
    page.render("home.html", &Home {})
}
