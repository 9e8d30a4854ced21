//! The browser side of sessions: the `tuo_session` cookie (32 random bytes; the database keeps
//! only their SHA-256, see `services::sessions`), and access control as types: a handler that
//! takes [`CitizenSession`] cannot run without a live citizen session, and one that takes
//! [`OfficerSession`] without an officer's.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{FromRequest, HttpRequest, web};
use services::Error as ServiceError;
use services::sessions::Sessions;
pub use services::sessions::{Role, Session};

use crate::Site;
use crate::problem::Error;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "tuo_session";

/// The session cookie: `Secure` (unless switched off for loopback http), `HttpOnly`, `SameSite=Lax`.
pub fn cookie(site: &Site, token: &str) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token.to_owned())
        .path("/")
        .http_only(true)
        .secure(site.secure_cookies)
        .same_site(SameSite::Lax)
        .finish()
}

/// A cookie that removes the session cookie.
pub fn removal_cookie(site: &Site) -> Cookie<'static> {
    let mut c = cookie(site, "");
    c.make_removal();
    c
}

async fn from_request(req: &HttpRequest) -> Result<Option<Session>, Error> {
    let Some(sessions) = req.app_data::<web::Data<Sessions>>() else {
        return Err(ServiceError::Internal("the sessions service is not registered".into()).into());
    };
    let Some(token) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(sessions.find(token.value()).await?)
}

fn sign_in_required(req: &HttpRequest, path: &'static str) -> Error {
    let next = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    ServiceError::SignInRequired { to: path, next }.into()
}

/// A request from a signed-in citizen. Handlers taking this cannot run without one.
#[derive(Debug, Clone)]
pub struct CitizenSession {
    pub session: Session,
    pub citizen_id: String,
}

impl FromRequest for CitizenSession {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match from_request(&req).await? {
                Some(session) if session.role == Role::Citizen => {
                    match session.citizen_id.clone() {
                        Some(citizen_id) => Ok(CitizenSession {
                            session,
                            citizen_id,
                        }),
                        None => Err(sign_in_required(&req, "/signin")),
                    }
                }
                _ => Err(sign_in_required(&req, "/signin")),
            }
        })
    }
}

/// A request from a signed-in privacy officer.
#[derive(Debug, Clone)]
pub struct OfficerSession {
    pub session: Session,
}

impl FromRequest for OfficerSession {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match from_request(&req).await? {
                Some(session) if session.role == Role::Officer => Ok(OfficerSession { session }),
                _ => Err(sign_in_required(&req, "/officer/signin")),
            }
        })
    }
}

/// Any session, or none (pages that change with sign-in but do not need it).
#[derive(Debug, Clone)]
pub struct MaybeSession(pub Option<Session>);

impl FromRequest for MaybeSession {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(MaybeSession(from_request(&req).await?)) })
    }
}
