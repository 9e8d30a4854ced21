//! The demo's sample department web application: the employment and social development
//! department's Old Age Security pension form, a development sample served by `broker demo` on
//! the port after the development receiver. It signs the applicant in through the broker as a
//! real OpenID Connect client under FAPI 2.0 — pushed authorization request, PKCE S256,
//! `private_key_jwt`, DPoP-bound tokens, RFC 9207 `iss` — and fills the form from the
//! `verified_claims` userinfo returns, each value with its source and level of assurance. It
//! receives back-channel logout tokens and signs out through the broker's end-session endpoint.
//!
//! Sessions are kept in memory, keyed by a random cookie. Nothing here logs a token, a claim
//! value or a cookie.

mod keys;
mod oidc;
mod page;
mod sessions;
mod tokens;

use std::net::TcpListener;
use std::path::Path;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, get, post, web};
use serde::Deserialize;

use self::keys::EsKey;
use self::oidc::{FlowError, RelyingParty};
use self::page::{Lang, Notice, View};
use self::sessions::{Account, Session, Sessions, same};
use super::Seeding;
use crate::cli::CliError;
use services::departments::{self, Client, ClientKeys};
use services::oauth::scope;

pub const DEPARTMENT: &str = "employment-social-development";
pub const CLIENT_ID: &str = "esd-pension-web";
pub const PURPOSE: &str = "pension-enrolment";

const COOKIE: &str = "pension_sample_session";

fn other(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::Other(format!("demo: {what}: {e}"))
}

/// A running sample application: where it listens and the key set to register for it.
#[derive(Debug)]
pub struct Running {
    pub base: String,
    pub jwks: serde_json::Value,
}

impl Running {
    pub fn redirect_uri(&self) -> String {
        format!("{}/callback", self.base)
    }

    pub fn post_logout_redirect_uri(&self) -> String {
        format!("{}/", self.base)
    }

    pub fn backchannel_logout_uri(&self) -> String {
        format!("{}/backchannel-logout", self.base)
    }
}

/// Registers the sample application as a client of the pension office (idempotent): its public
/// key, and the redirect, post-logout and back-channel logout URIs of where it runs.
pub async fn prepare(state: &Seeding, running: &Running) -> Result<(), CliError> {
    departments::upsert_client(
        &state.db,
        &Client {
            client_id: CLIENT_ID.into(),
            department_id: DEPARTMENT.into(),
            keys: ClientKeys::Inline(running.jwks.clone()),
            scopes: vec![scope::ATTRIBUTES_READ.to_owned()],
            redirect_uris: vec![running.redirect_uri()],
            post_logout_redirect_uris: vec![running.post_logout_redirect_uri()],
            backchannel_logout_uri: Some(running.backchannel_logout_uri()),
        },
    )
    .await?;
    Ok(())
}

/// Starts the sample application on `port` (any free port if that one is taken) as a client of
/// the broker at `issuer`, with its client key kept in `<data_dir>/demo`.
pub fn start(port: u16, issuer: &str, data_dir: &Path) -> Result<Running, CliError> {
    let dir = data_dir.join("demo");
    std::fs::create_dir_all(&dir)
        .map_err(|e| other(&format!("cannot create `{}`", dir.display()), e))?;
    let client_key = EsKey::load_or_generate(&dir.join(format!("{CLIENT_ID}.es256.p8")))
        .map_err(|e| other("the sample application's key", e))?;
    let dpop_key = EsKey::generate().map_err(|e| other("the sample application's key", e))?;
    let jwks = client_key.registration_jwks();
    let listener = TcpListener::bind(("127.0.0.1", port))
        .or_else(|_| TcpListener::bind(("127.0.0.1", 0)))
        .map_err(|e| other("cannot start the sample application", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| other("the sample application", e))?;
    let base = format!("http://{addr}");
    let relying_party = RelyingParty::new(
        issuer.to_owned(),
        CLIENT_ID.to_owned(),
        format!("{base}/callback"),
        client_key,
        dpop_key,
    )
    .map_err(|e| other("the sample application's HTTP client", e))?;
    let app = web::Data::new(SampleApp {
        rp: relying_party,
        base: base.clone(),
        sessions: Sessions::default(),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(app.clone())
            .app_data(web::FormConfig::default().limit(16 * 1024))
            .service(form_page)
            .service(login)
            .service(callback)
            .service(sign_out)
            .service(backchannel_logout)
            .service(apply)
    })
    // One worker: the in-memory sessions and the HTTP client's connections stay on one runtime.
    .workers(1)
    .disable_signals()
    .listen(listener)
    .map_err(|e| other("cannot start the sample application", e))?;
    tokio::spawn(server.run());
    Ok(Running { base, jwks })
}

/// For the banner.
pub fn describe(running: &Running) -> String {
    format!(
        "  Sample department   {}/  (development sample: an old-age pension form that signs in through the broker)",
        running.base
    )
}

struct SampleApp {
    rp: RelyingParty,
    base: String,
    sessions: Sessions,
}

impl SampleApp {
    fn with_session<T>(
        &self,
        req: &HttpRequest,
        f: impl FnOnce(&mut Session) -> T,
    ) -> Option<(T, Option<String>)> {
        let cookie = req.cookie(COOKIE);
        self.sessions.with(cookie.as_ref().map(|c| c.value()), f)
    }

    fn with_form_session<T>(
        &self,
        req: &HttpRequest,
        csrf: &str,
        f: impl FnOnce(&mut Session) -> T,
    ) -> Option<T> {
        let cookie = req.cookie(COOKIE);
        self.sessions
            .with_form(cookie.as_ref().map(|c| c.value()), csrf, f)
    }
}

fn page_response(html: String, new_cookie: Option<String>) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    if let Some(id) = new_cookie {
        response.cookie(
            Cookie::build(COOKIE, id)
                .path("/")
                .http_only(true)
                .same_site(SameSite::Lax)
                .finish(),
        );
    }
    response.body(html)
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .content_type("text/plain; charset=utf-8")
        .body("The sample application cannot keep sessions right now.")
}

fn stale_form() -> HttpResponse {
    // No session or another session's form: start again from the page.
    see_other("/")
}

#[derive(Deserialize)]
struct PageQuery {
    lang: Option<String>,
}

#[get("/")]
async fn form_page(
    app: web::Data<SampleApp>,
    req: HttpRequest,
    query: web::Query<PageQuery>,
) -> HttpResponse {
    let chosen = query.lang.as_deref().and_then(Lang::parse);
    let rendered = app.with_session(&req, |session| {
        if let Some(lang) = chosen {
            session.lang = lang;
        }
        let notice = session.notice.take();
        page::render(&View {
            lang: session.lang,
            csrf: &session.csrf,
            signed_in: session
                .account
                .as_ref()
                .map(|a| (a.filled.as_slice(), a.acr.as_deref())),
            notice: notice.as_ref(),
        })
    });
    match rendered {
        Some((html, cookie)) => page_response(html, cookie),
        None => unavailable(),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf_token: String,
}

/// What a failed step leaves on the page.
fn notice_for(error: &FlowError) -> Notice {
    tracing::warn!(%error, "sample application: the sign-in did not finish");
    match error {
        FlowError::Refused { code, .. } => Notice::AuthorizationError(code.clone()),
        _ => Notice::Failed,
    }
}

#[post("/login")]
async fn login(
    app: web::Data<SampleApp>,
    req: HttpRequest,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let Some(lang) = app.with_form_session(&req, &form.csrf_token, |s| s.lang) else {
        return stale_form();
    };
    let pushed = app.rp.push_authorization_request(lang.code()).await;
    let location = app.with_form_session(&req, &form.csrf_token, |session| match pushed {
        Ok((location, pending)) => {
            session.pending = Some(pending);
            location
        }
        Err(error) => {
            session.notice = Some(notice_for(&error));
            "/".to_owned()
        }
    });
    location.map_or_else(stale_form, |l| see_other(&l))
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

#[get("/callback")]
async fn callback(
    app: web::Data<SampleApp>,
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    // The pending request is taken out whatever happens next: a state is good for one answer.
    let pending = app
        .with_session(&req, |s| s.pending.take())
        .and_then(|(p, _)| p);
    let set_notice = |notice: Notice| {
        let _ = app.with_session(&req, |s| s.notice = Some(notice));
        see_other("/")
    };
    let Some(pending) = pending else {
        tracing::warn!("sample application: an authorization response without a pending request");
        return set_notice(Notice::Failed);
    };
    let state_matches = query
        .state
        .as_deref()
        .is_some_and(|s| same(s, &pending.state));
    // RFC 9207: the answer must name the issuer the request was sent to (mix-up defence).
    let issuer_matches = query.iss.as_deref() == Some(app.rp.issuer.as_str());
    if !state_matches || !issuer_matches {
        tracing::warn!(
            state_matches,
            issuer_matches,
            "sample application: an authorization response refused"
        );
        return set_notice(Notice::Failed);
    }
    if let Some(error) = &query.error {
        let notice = if error == "access_denied" {
            Notice::Refused
        } else {
            let code: String = error
                .chars()
                .filter(|c| c.is_ascii_lowercase() || *c == '_')
                .take(64)
                .collect();
            Notice::AuthorizationError(code)
        };
        return set_notice(notice);
    }
    let Some(code) = &query.code else {
        return set_notice(Notice::Failed);
    };
    match app.rp.finish(&pending, code).await {
        Ok(signed_in) => {
            let account = Account {
                id_token: signed_in.id_token,
                sub: signed_in.claims.sub,
                sid: signed_in.claims.sid,
                acr: signed_in.claims.acr,
                filled: page::filled_from(&signed_in.userinfo),
                end_session_endpoint: pending.discovery.end_session_endpoint.clone(),
            };
            let _ = app.with_session(&req, |s| s.account = Some(account));
            see_other("/")
        }
        Err(error) => set_notice(notice_for(&error)),
    }
}

#[post("/logout")]
async fn sign_out(
    app: web::Data<SampleApp>,
    req: HttpRequest,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let account = app.with_form_session(&req, &form.csrf_token, |s| {
        s.notice = Some(Notice::SignedOut);
        s.account.take()
    });
    let Some(Some(account)) = account else {
        return stale_form();
    };
    // RP-initiated logout: the broker ends its session too and comes back here.
    let end = account
        .end_session_endpoint
        .as_deref()
        .and_then(|e| url::Url::parse(e).ok());
    match end {
        Some(mut end) => {
            end.query_pairs_mut()
                .append_pair("id_token_hint", &account.id_token)
                .append_pair("client_id", CLIENT_ID)
                .append_pair("post_logout_redirect_uri", &format!("{}/", app.base));
            see_other(end.as_str())
        }
        None => see_other("/"),
    }
}

#[derive(Deserialize)]
struct LogoutTokenForm {
    logout_token: String,
}

/// Back-Channel Logout 1.0 §2.5–2.8: the broker says a citizen signed out; forget the
/// sessions it names.
#[post("/backchannel-logout")]
async fn backchannel_logout(
    app: web::Data<SampleApp>,
    form: web::Form<LogoutTokenForm>,
) -> HttpResponse {
    let logout = match app.rp.verify_logout_token(&form.logout_token).await {
        Ok(logout) => logout,
        Err(error) => {
            tracing::warn!(%error, "sample application: a logout token refused");
            return HttpResponse::BadRequest()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(serde_json::json!({"error": "invalid_request"}));
        }
    };
    let forgotten = app.sessions.forget(&logout);
    tracing::info!(
        forgotten,
        "sample application: back-channel logout received"
    );
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

#[post("/apply")]
async fn apply(
    app: web::Data<SampleApp>,
    req: HttpRequest,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    // A sample: the application goes nowhere.
    let _ = app.with_form_session(&req, &form.csrf_token, |s| {
        s.notice = Some(Notice::Submitted)
    });
    see_other("/")
}
