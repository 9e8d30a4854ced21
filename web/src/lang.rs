//! Which language a page is shown in: the `lang` cookie (set by the toggle on every page), else the
//! browser's `Accept-Language`, else English. The toggle is a plain link, so it works without
//! JavaScript.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;

use super::i18n::Lang;
use crate::Site;

pub const LANG_COOKIE: &str = "lang";

pub fn from_request(req: &HttpRequest) -> Lang {
    if let Some(lang) = req.cookie(LANG_COOKIE).and_then(|c| Lang::parse(c.value())) {
        return lang;
    }
    req.headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::from_accept_language)
        .unwrap_or_default()
}

#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

pub use services::lang::safe_next;

/// Switches the page language and returns to the page the citizen was on.
#[utoipa::path(
    tag = "pages",
    params(("code" = String, Path, description = "`en` or `fr`"), ("next" = Option<String>, Query, description = "local path to return to")),
    responses((status = 303, description = "Back to the page, in the chosen language"))
)]
#[get("/lang/{code}")]
pub async fn switch(
    site: web::Data<Site>,
    code: web::Path<String>,
    query: web::Query<Next>,
) -> HttpResponse {
    let lang = Lang::parse(&code).unwrap_or_default();
    let cookie = Cookie::build(LANG_COOKIE, lang.code())
        .path("/")
        .http_only(true)
        .secure(site.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::days(365))
        .finish();
    HttpResponse::SeeOther()
        .cookie(cookie)
        .insert_header((header::LOCATION, safe_next(query.next.as_deref())))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_must_stay_on_this_site() {
        assert_eq!(safe_next(Some("/consents?x=1")), "/consents?x=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
