//! Rendering: one minijinja environment with every embedded template, a `t(key, name=value…)`
//! function that reads the page's language, and [`Page`], the extractor handlers use to render in
//! the right language with the common page furniture (language toggle, navigation, CSRF token).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use minijinja::value::{Kwargs, Serde, Value};
use minijinja::{Environment, State};
use serde::Serialize;

use super::i18n::{Lang, Messages};
use super::session::{self, Role, Session};
use crate::problem::Error;
use crate::problem::Problem;

#[derive(Debug, thiserror::Error)]
pub enum PagesError {
    #[error("template `{name}` does not compile: {reason}")]
    Template { name: String, reason: String },
}

/// All page templates, ready to render.
#[derive(Debug)]
pub struct Pages {
    env: Environment<'static>,
    messages: Arc<Messages>,
}

impl Pages {
    pub fn new(messages: Arc<Messages>) -> Result<Self, PagesError> {
        let mut env = Environment::new();
        for (name, source) in super::embedded::TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| PagesError::Template {
                    name: (*name).to_owned(),
                    reason: e.to_string(),
                })?;
        }
        let for_t = messages.clone();
        env.add_function(
            "t",
            move |state: &State, key: &str, kwargs: Kwargs| -> Result<String, minijinja::Error> {
                let lang = state
                    .lookup("lang")
                    .and_then(|v| v.as_str().and_then(Lang::parse))
                    .unwrap_or_default();
                let text = for_t.get(lang, key);
                let mut args = Vec::new();
                for name in kwargs.args() {
                    let value: Value = kwargs.get(name)?;
                    args.push((name, value.to_string()));
                }
                Ok(super::i18n::interpolate(text, &args))
            },
        );
        env.add_filter("datetime", |ms: i64, lang: Option<&str>| {
            format_time(ms, lang.and_then(Lang::parse).unwrap_or_default())
        });
        // Text written in Markdown's inline style (the OpenAPI document's descriptions): escaped,
        // with `code` spans as <code>, never raw backticks.
        env.add_filter("inline_code", |text: &str| {
            Value::from_safe_string(inline_code(text))
        });
        Ok(Self { env, messages })
    }

    pub fn messages(&self) -> &Messages {
        &self.messages
    }

    /// Renders `template` with the common context and the page's own data.
    pub fn render(
        &self,
        template: &str,
        common: &Common,
        data: &impl Serialize,
    ) -> Result<String, Error> {
        let tmpl = self
            .env
            .get_template(template)
            .map_err(|e| services::Error::Internal(format!("template `{template}`: {e}")))?;
        let (common, data) = (Value::from(Serde(common)), Value::from(Serde(data)));
        // The common context takes precedence when both name a key, so a page field that shares a
        // name with one (`officer`, `lang`, …) would be silently ignored: refuse it instead.
        if let Ok(keys) = data.try_iter()
            && let Some(clash) = keys.into_iter().find(|k| {
                k.as_str()
                    .is_some_and(|k| common.get_attr(k).is_ok_and(|v| !v.is_undefined()))
            })
        {
            return Err(services::Error::Internal(format!(
                "template `{template}`: the page's `{clash}` is hidden by the common context"
            ))
            .into());
        }
        let ctx = minijinja::context! { ..common, ..data };
        tmpl.render(ctx)
            .map_err(|e| services::Error::Internal(format!("template `{template}`: {e}")).into())
    }
}

/// `2026-11-26 14:05 UTC` / `2026-11-26 14 h 05 UTC`.
pub fn format_time(ms: i64, lang: Lang) -> String {
    let Some(t) = chrono::DateTime::from_timestamp_millis(ms) else {
        return String::new();
    };
    match lang {
        Lang::En => t.format("%Y-%m-%d %H:%M UTC").to_string(),
        Lang::Fr => t.format("%Y-%m-%d %H h %M UTC").to_string(),
    }
}

/// What every page needs: language, where the toggle returns to, and who is signed in.
#[derive(Debug, Clone, Serialize)]
pub struct Common {
    pub lang: &'static str,
    pub other_lang: &'static str,
    /// Path and query of this page, for the language toggle.
    pub here: String,
    pub signed_in: bool,
    pub officer: bool,
    pub csrf_token: Option<String>,
    /// "Acting for …": the label of the person the signed-in citizen acts for (the banner).
    pub acting_label: Option<String>,
}

/// A page request: language, location and the session if there is one.
#[derive(Debug, Clone)]
pub struct Page {
    pub lang: Lang,
    pub common: Common,
    pub session: Option<Session>,
    pages: web::Data<Pages>,
}

impl Page {
    pub fn render(&self, template: &str, data: &impl Serialize) -> Result<HttpResponse, Error> {
        let html = self.pages.render(template, &self.common, data)?;
        Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(html))
    }

    pub fn render_status(
        &self,
        status: actix_web::http::StatusCode,
        template: &str,
        data: &impl Serialize,
    ) -> Result<HttpResponse, Error> {
        let html = self.pages.render(template, &self.common, data)?;
        Ok(HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(html))
    }

    pub fn t(&self, key: &str) -> String {
        self.pages.messages().get(self.lang, key).to_owned()
    }

    /// Every message, in both languages.
    pub fn messages(&self) -> &Messages {
        self.pages.messages()
    }
}

fn common_for(req: &HttpRequest, session: Option<&Session>) -> (Lang, Common) {
    let lang = super::lang::from_request(req);
    let here = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let common = Common {
        lang: lang.code(),
        other_lang: lang.other().code(),
        here,
        signed_in: session.is_some_and(|s| s.role == Role::Citizen),
        officer: session.is_some_and(|s| s.role == Role::Officer),
        csrf_token: session.map(|s| s.csrf_token.clone()),
        acting_label: session.and_then(|s| s.acting_for.as_ref().map(|a| a.label.clone())),
    };
    (lang, common)
}

impl FromRequest for Page {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        let maybe = session::MaybeSession::from_request(&req, payload);
        Box::pin(async move {
            let pages = req
                .app_data::<web::Data<Pages>>()
                .cloned()
                .ok_or_else(|| services::Error::Internal("the pages are not registered".into()))?;
            let session = maybe.await?.0;
            let (lang, common) = common_for(&req, session.as_ref());
            Ok(Page {
                lang,
                common,
                session,
                pages,
            })
        })
    }
}

#[derive(Serialize)]
struct ErrorPage<'a> {
    status: u16,
    code: &'a str,
    detail: &'a str,
}

/// Browsers get an HTML error page in their language instead of problem JSON; API clients (anything
/// not asking for HTML) keep the problem document.
pub async fn html_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let res = next.call(req).await?.map_into_boxed_body();
    if !wants_html {
        return Ok(res);
    }
    let Some(problem) = res.response().extensions().get::<Arc<Problem>>().cloned() else {
        return Ok(res);
    };
    let (req, res) = res.into_parts();
    let Some(pages) = req.app_data::<web::Data<Pages>>().cloned() else {
        return Ok(ServiceResponse::new(req, res));
    };
    let (lang, common) = common_for(&req, None);
    // The page's own words, in its language: the code's explanation, else one for its kind of
    // failure. A problem's `detail` is for API clients (English, and for extractor failures the
    // parser's own message): it is never shown on a page.
    let key = format!("error.codes.{}", problem.code);
    let messages = pages.messages();
    let detail = if messages.has(lang, &key) {
        messages.get(lang, &key)
    } else if problem.status >= 500 {
        messages.get(lang, "error.codes.internal_error")
    } else {
        messages.get(lang, "error.generic")
    };
    let page = ErrorPage {
        status: problem.status,
        code: &problem.code,
        detail,
    };
    match pages.render("error.html", &common, &page) {
        Ok(html) => {
            let mut out = HttpResponse::build(res.status())
                .content_type("text/html; charset=utf-8")
                .body(html);
            for (name, value) in res.headers() {
                if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                    out.headers_mut().append(name.clone(), value.clone());
                }
            }
            Ok(ServiceResponse::new(req, out))
        }
        Err(_) => Ok(ServiceResponse::new(req, res)),
    }
}

/// `text` HTML-escaped, with every pair of backticks turned into a `<code>` element.
pub fn inline_code(text: &str) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")
    };
    let mut out = String::with_capacity(text.len() + 16);
    let parts: Vec<&str> = text.split('`').collect();
    // An odd number of backticks: the last one opens nothing and stays a backtick.
    let unpaired_last = parts.len().is_multiple_of(2);
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if i % 2 == 1 && !(unpaired_last && last) {
            out.push_str("<code>");
            out.push_str(&escape(part));
            out.push_str("</code>");
        } else {
            if i % 2 == 1 {
                out.push('`');
            }
            out.push_str(&escape(part));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use actix_web::{App, test};
    use serde::Deserialize;

    use super::*;

    use crate::problem::extractors;

    #[derive(Deserialize)]
    struct Paging {
        #[allow(dead_code)]
        limit: u32,
    }

    async fn paged(_: web::Query<Paging>) -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    #[::core::prelude::v1::test]
    fn a_page_field_named_like_a_common_one_is_refused_not_hidden() {
        let pages = Pages::new(Arc::new(Messages::embedded().unwrap())).unwrap();
        let common = Common {
            lang: "en",
            other_lang: "fr",
            here: "/".into(),
            signed_in: false,
            officer: false,
            csrf_token: None,
            acting_label: None,
        };
        #[derive(Serialize)]
        struct Shadowing {
            officer: bool,
        }
        let refused = pages.render("error.html", &common, &Shadowing { officer: true });
        assert!(refused.is_err());
        #[derive(Serialize)]
        struct Own {
            officer_signin: bool,
        }
        assert!(
            pages
                .render(
                    "error.html",
                    &common,
                    &Own {
                        officer_signin: true
                    }
                )
                .is_ok()
        );
    }

    #[::core::prelude::v1::test]
    fn backticks_become_code_and_everything_is_escaped() {
        assert_eq!(
            inline_code("`limit` <= 500 & `a<b>`"),
            "<code>limit</code> &lt;= 500 &amp; <code>a&lt;b&gt;</code>"
        );
        assert_eq!(inline_code("one ` only"), "one ` only");
        assert_eq!(inline_code("no code"), "no code");
    }

    #[actix_web::test]
    async fn a_page_never_shows_a_parser_message_in_either_language() {
        let pages = Pages::new(Arc::new(Messages::embedded().unwrap())).unwrap();
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(pages))
                .app_data(extractors::query_config())
                .route("/list", web::get().to(paged))
                .wrap(actix_web::middleware::from_fn(html_errors)),
        )
        .await;
        for (lang, words) in [("en", "is not valid"), ("fr", "n’est pas valide")] {
            let req = test::TestRequest::get()
                .uri("/list?limit=-1")
                .insert_header((header::ACCEPT, "text/html"))
                .insert_header((header::ACCEPT_LANGUAGE, lang))
                .to_request();
            let res = test::call_service(&app, req).await;
            assert_eq!(res.status(), 400);
            let body = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
            assert!(body.contains(words), "{lang}: {body}");
            for parser in ["deserialize", "invalid digit", "Query"] {
                assert!(
                    !body.contains(parser),
                    "{lang} page shows `{parser}`: {body}"
                );
            }
        }
        // An API client keeps the problem document and its detail.
        let req = test::TestRequest::get().uri("/list?limit=-1").to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), 400);
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["code"], "malformed_query");
    }
}
