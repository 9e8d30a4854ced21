//! The sign-in pages: choosing a provider (citizens and officers), starting the flow, the callback,
//! sign-out, and the error pages a failed sign-in ends on (with a way to try again).

use services::Error as ServiceError;
use std::future::Future;
use std::pin::Pin;

use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};

use actix_web::cookie::{Cookie, SameSite};
use services::signin::SignIn;
use services::signin::complete;
use services::signin::flow::{self, Purpose, StartRequest};

use crate::Site;
use crate::csrf::{Form, HasSession};
use crate::lang::safe_next;
use crate::pages::Page;
use crate::problem::Error;
use crate::session::{self, MaybeSession, Session};

#[derive(Debug, Deserialize)]
pub struct StartQuery {
    next: Option<String>,
    login_hint: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    /// Only providers giving at least this level of assurance (a department asked for it).
    loa: Option<u8>,
    /// Passed on to the provider chosen (a department's `login_hint`).
    login_hint: Option<String>,
}

#[derive(Serialize)]
struct ProviderChoice {
    id: String,
    name: String,
    href: String,
}

#[derive(Serialize)]
struct ChoosePage {
    officer_signin: bool,
    providers: Vec<ProviderChoice>,
    breadcrumbs: Vec<Crumb>,
}

#[derive(Serialize)]
pub(crate) struct Crumb {
    pub key: &'static str,
    pub href: Option<&'static str>,
}

#[derive(Serialize)]
struct FailurePage {
    /// The message key of the heading: a failed sign-in, or a change to linked sign-ins.
    heading: &'static str,
    status: u16,
    code: &'static str,
    message: String,
    retry_href: Option<String>,
    restart_href: &'static str,
    breadcrumbs: Vec<Crumb>,
}

fn wants_html(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

fn see_other(location: &str) -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::SeeOther();
    res.insert_header((header::LOCATION, location.to_owned()))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    res
}

/// A failed sign-in step: a page in the citizen's language that says what happened and offers a
/// way to try again (browsers), or the problem document (anything else).
pub(crate) fn failure(
    page: &Page,
    req: &HttpRequest,
    error: Error,
    restart: &'static str,
    retry: Option<String>,
) -> Result<HttpResponse, Error> {
    let (status, code) = error.classify();
    if status.is_server_error() {
        tracing::warn!(code, error = %error, "sign-in failed");
    } else {
        tracing::info!(code, error = %error, "sign-in refused");
    }
    if !wants_html(req) {
        return Err(error);
    }
    let key = format!("signin.errors.{code}");
    let messages = page.messages();
    let message = if messages.has(page.lang, &key) {
        messages.get(page.lang, &key).to_owned()
    } else {
        messages.get(page.lang, "signin.errors.generic").to_owned()
    };
    let retry_href = if status == StatusCode::BAD_GATEWAY {
        retry
    } else {
        None
    };
    page.render_status(
        status,
        "signin/error.html",
        &FailurePage {
            heading: if restart == Purpose::Link.restart_path() {
                "signin.change_error_heading"
            } else {
                "signin.error_heading"
            },
            status: status.as_u16(),
            code,
            message,
            retry_href,
            restart_href: restart,
            breadcrumbs: vec![Crumb {
                key: "signin.title",
                href: None,
            }],
        },
    )
}

fn choices(
    state: &SignIn,
    page: &Page,
    officer: bool,
    next: Option<&str>,
    minimum: Option<u8>,
    login_hint: Option<&str>,
) -> Vec<ProviderChoice> {
    let base = if officer {
        "/officer/signin/with"
    } else {
        "/signin/with"
    };
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(n) = next {
        query.append_pair("next", &safe_next(Some(n)));
    }
    if let Some(hint) = login_hint.filter(|h| !h.is_empty() && h.len() <= 256) {
        query.append_pair("login_hint", hint);
    }
    let query = query.finish();
    let suffix = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    state
        .providers
        .list
        .iter()
        .filter(|p| !officer || state.officers.iter().any(|o| o.provider == p.config.id))
        // A step-up: only providers that can give the level asked.
        .filter(|p| minimum.is_none_or(|m| p.config.acr_loa.values().any(|loa| *loa >= m)))
        .map(|p| ProviderChoice {
            id: p.config.id.clone(),
            name: p.config.name(page.lang).to_owned(),
            href: format!("{base}/{}{suffix}", p.config.id),
        })
        .collect()
}

/// The sign-in page: every configured credential provider.
#[utoipa::path(tag = "pages", params(
        ("next" = Option<String>, Query, description = "local path to return to"),
        ("loa" = Option<u8>, Query, minimum = 1, maximum = 4, description = "only providers giving at least this level of assurance (a department's step-up)"),
        ("login_hint" = Option<String>, Query, description = "passed on to the provider chosen")),
    responses((status = 200, description = "The providers to sign in with", content_type = "text/html")))]
#[get("/signin")]
pub async fn choose(
    state: web::Data<SignIn>,
    page: Page,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, Error> {
    if query.loa.is_some_and(|l| !(1..=4).contains(&l)) {
        return Err(services::Error::from(services::InputError::MalformedQuery(
            "`loa` must be a level of assurance from 1 to 4".into(),
        ))
        .into());
    }
    let providers = choices(
        &state,
        &page,
        false,
        query.next.as_deref(),
        query.loa,
        query.login_hint.as_deref(),
    );
    page.render(
        "signin/choose.html",
        &ChoosePage {
            officer_signin: false,
            providers,
            breadcrumbs: vec![Crumb {
                key: "signin.title",
                href: None,
            }],
        },
    )
}

/// The privacy officers' sign-in page: the providers officers are configured at.
#[utoipa::path(tag = "pages", params(("next" = Option<String>, Query, description = "local path to return to")),
    responses((status = 200, description = "The providers officers sign in with", content_type = "text/html")))]
#[get("/officer/signin")]
pub async fn choose_officer(
    state: web::Data<SignIn>,
    page: Page,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, Error> {
    let providers = choices(&state, &page, true, query.next.as_deref(), None, None);
    page.render(
        "signin/choose.html",
        &ChoosePage {
            officer_signin: true,
            providers,
            breadcrumbs: vec![Crumb {
                key: "signin.officer_title",
                href: None,
            }],
        },
    )
}

async fn start(
    state: &SignIn,
    site: &Site,
    page: &Page,
    req: &HttpRequest,
    provider_id: &str,
    purpose: Purpose,
    query: &StartQuery,
) -> Result<HttpResponse, Error> {
    let retry = format!("{}/with/{provider_id}", purpose.restart_path());
    let started = flow::start(
        state,
        binding(req).as_deref(),
        StartRequest {
            provider_id,
            purpose,
            session_hash: None,
            next: safe_next(query.next.as_deref()),
            login_hint: query.login_hint.as_deref(),
            lang: page.lang,
        },
    )
    .await;
    match started {
        Ok(started) => Ok(redirect_to_provider(site, started)),
        Err(e) => failure(page, req, e.into(), purpose.restart_path(), Some(retry)),
    }
}

pub(crate) fn redirect_to_provider(site: &Site, started: flow::Started) -> HttpResponse {
    let mut res = see_other(&started.location);
    if let Some(value) = started.new_binding {
        // Binds the sign-in to this browser (`services::signin::flow`).
        res.cookie(
            Cookie::build(flow::BINDING_COOKIE, value)
                .path("/")
                .http_only(true)
                .secure(site.secure_cookies)
                .same_site(SameSite::Lax)
                .finish(),
        );
    }
    res.finish()
}

/// The browser's sign-in binding (`tuo_signin` cookie), if it has one.
pub(crate) fn binding(req: &HttpRequest) -> Option<String> {
    req.cookie(flow::BINDING_COOKIE)
        .map(|c| c.value().to_owned())
}

/// Starts a citizen's sign-in at a provider (authorization code flow with PKCE).
#[utoipa::path(tag = "pages",
    params(("provider" = String, Path, description = "provider id"),
        ("next" = Option<String>, Query, description = "local path to return to"),
        ("login_hint" = Option<String>, Query, description = "passed to the provider as `login_hint`")),
    responses((status = 303, description = "To the provider's authorization endpoint"),
        (status = 404, description = "No such provider"),
        (status = 502, description = "The provider cannot be reached")))]
#[get("/signin/with/{provider}")]
pub async fn start_citizen(
    state: web::Data<SignIn>,
    site: web::Data<Site>,
    page: Page,
    req: HttpRequest,
    provider: web::Path<String>,
    query: web::Query<StartQuery>,
) -> Result<HttpResponse, Error> {
    start(
        &state,
        &site,
        &page,
        &req,
        &provider,
        Purpose::Citizen,
        &query,
    )
    .await
}

/// Starts a privacy officer's sign-in at a provider.
#[utoipa::path(tag = "pages",
    params(("provider" = String, Path, description = "provider id"),
        ("next" = Option<String>, Query, description = "local path to return to"),
        ("login_hint" = Option<String>, Query, description = "passed to the provider as `login_hint`")),
    responses((status = 303, description = "To the provider's authorization endpoint"),
        (status = 404, description = "No such provider"),
        (status = 502, description = "The provider cannot be reached")))]
#[get("/officer/signin/with/{provider}")]
pub async fn start_officer(
    state: web::Data<SignIn>,
    site: web::Data<Site>,
    page: Page,
    req: HttpRequest,
    provider: web::Path<String>,
    query: web::Query<StartQuery>,
) -> Result<HttpResponse, Error> {
    start(
        &state,
        &site,
        &page,
        &req,
        &provider,
        Purpose::Officer,
        &query,
    )
    .await
}

/// Where providers send the browser back (`redirect_uri`).
#[utoipa::path(tag = "pages",
    params(("code" = Option<String>, Query, description = "authorization code"),
        ("state" = String, Query, description = "the state sent with the request (without it, 400 `signin_state_missing`)"),
        ("iss" = Option<String>, Query, description = "RFC 9207 issuer identifier"),
        ("error" = Option<String>, Query, description = "the provider's error code")),
    responses((status = 303, description = "Signed in: to the dashboard (or `next`)"),
        (status = 400, description = "A check failed; nothing was created"),
        (status = 403, description = "Not a privacy officer"),
        (status = 502, description = "The provider failed")))]
#[get("/signin/callback")]
pub async fn callback(
    state: web::Data<SignIn>,
    site: web::Data<Site>,
    page: Page,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let binding = binding(&req);
    let authenticated = match flow::callback(&state, req.query_string(), binding.as_deref()).await {
        Ok(a) => a,
        Err(failed) => {
            let purpose = failed.purpose.unwrap_or(Purpose::Citizen);
            if let Some(provider) = &failed.provider {
                complete::audit_failure(&state, provider, purpose, &failed.error).await;
            }
            let retry = failed
                .provider
                .as_ref()
                .map(|p| format!("{}/with/{}", purpose.restart_path(), p.config.id));
            return failure(
                &page,
                &req,
                failed.error.into(),
                purpose.restart_path(),
                retry,
            );
        }
    };
    let purpose = authenticated.purpose;
    let current = req.cookie(session::SESSION_COOKIE);
    match complete::complete(&state, current.as_ref().map(|c| c.value()), authenticated).await {
        Ok(done) => {
            let mut res = see_other(&done.location);
            if let Some(token) = done.session_token {
                res.cookie(session::cookie(&site, &token));
            }
            Ok(res.finish())
        }
        Err(e) => failure(&page, &req, e.into(), purpose.restart_path(), None),
    }
}

/// Any signed-in user (citizen or officer): what sign-out needs.
#[derive(Debug)]
pub struct AnySession(pub Session);

impl HasSession for AnySession {
    fn session(&self) -> &Session {
        &self.0
    }
}

impl FromRequest for AnySession {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let maybe = MaybeSession::from_request(req, payload);
        Box::pin(async move {
            match maybe.await?.0 {
                Some(s) => Ok(AnySession(s)),
                None => Err(ServiceError::SignInRequired {
                    to: "/signin",
                    next: "/".into(),
                }
                .into()),
            }
        })
    }
}

/// Signs out: ends the broker session, then sends the browser to the provider's end-session
/// endpoint (RP-initiated logout) when it has one, or to the signed-out page.
#[utoipa::path(tag = "pages",
    request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf_token`"),
    responses((status = 303, description = "To the provider's end-session endpoint or the signed-out page"),
        (status = 403, description = "CSRF token missing or wrong")))]
#[post("/signout")]
pub async fn sign_out(
    state: web::Data<SignIn>,
    provider: web::Data<services::provider::Provider>,
    site: web::Data<Site>,
    form: Form<AnySession>,
) -> Result<HttpResponse, Error> {
    let done = format!("{}/signout/done", state.issuer);
    let location = complete::sign_out(&state, &form.who.0, &done)
        .await?
        .unwrap_or_else(|| "/signout/done".to_owned());
    // Every department application signed in from this session is told (back-channel logout).
    crate::provider::ended(&provider, &form.who.0).await;
    Ok(see_other(&location)
        .cookie(session::removal_cookie(&site))
        .finish())
}

#[derive(Serialize)]
struct SignedOutPage {
    breadcrumbs: Vec<Crumb>,
}

/// Where providers send the browser after sign-out (`post_logout_redirect_uri`).
#[utoipa::path(tag = "pages", responses((status = 200, description = "Signed out", content_type = "text/html")))]
#[get("/signout/done")]
pub async fn signed_out(page: Page) -> Result<HttpResponse, Error> {
    page.render(
        "signin/signed_out.html",
        &SignedOutPage {
            breadcrumbs: vec![Crumb {
                key: "signin.signed_out_title",
                href: None,
            }],
        },
    )
}
