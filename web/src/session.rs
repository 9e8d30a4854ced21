//! The browser side of sessions: the `tuo_session` cookie (32 random bytes; the database keeps
//! only their SHA-256, see `services::sessions`), and access control as types: a handler that
//! takes [`CitizenSession`] cannot run without a live citizen session, and one that takes
//! [`OfficerSession`] without an officer's.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{FromRequest, HttpRequest, web};
use consent::{Delegation, Power};
use services::Error as ServiceError;
use services::consents::Ledger;
use services::consents::delegations::{self, DelegationError};
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

/// A request from a signed-in citizen about their own data. Handlers taking this cannot run
/// without one, nor while the citizen acts for another person (they would otherwise operate on
/// the delegate's own data under the banner of the represented one): such a request is refused
/// with `acting_for_another`. Pages that work for a represented person take [`Subject`].
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
            let me = Me::extract(&req).await?;
            if me.session.acting_for.is_some() {
                return Err(DelegationError::ActingForAnother.into());
            }
            Ok(CitizenSession {
                session: me.session,
                citizen_id: me.citizen_id,
            })
        })
    }
}

/// A signed-in citizen, acting for another or not (the pages that choose whom to act for).
#[derive(Debug, Clone)]
pub struct Me {
    pub session: Session,
    pub citizen_id: String,
}

impl Me {
    async fn extract(req: &HttpRequest) -> Result<Self, Error> {
        match from_request(req).await? {
            Some(session) if session.role == Role::Citizen => match session.citizen_id.clone() {
                Some(citizen_id) => Ok(Me {
                    session,
                    citizen_id,
                }),
                None => Err(sign_in_required(req, "/signin")),
            },
            _ => Err(sign_in_required(req, "/signin")),
        }
    }
}

impl FromRequest for Me {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Me::extract(&req).await })
    }
}

/// The person a page operates on: the signed-in citizen themselves, or the person they act for
/// under a delegation that the ledger says is live *at this request* (a revoked or expired one
/// is refused at once with `delegation_not_live`). What the delegate may do there is bounded by
/// the delegation: [`Subject::may`].
#[derive(Debug, Clone)]
pub struct Subject {
    pub session: Session,
    /// The signed-in citizen (the actor).
    pub actor_id: String,
    /// Whose data it is.
    pub citizen_id: String,
    /// The delegation acted under, if the actor is not the subject.
    pub delegation: Option<Delegation>,
}

impl Subject {
    /// Whether this request may use `power` over `attribute`: always for one's own data.
    pub fn may(&self, power: Power, attribute: Option<&str>) -> Result<(), DelegationError> {
        match &self.delegation {
            None => Ok(()),
            Some(d) => Ok(d.allows(power, attribute, None)?),
        }
    }

    /// The attributes a page may show: all (`None`) for one's own, else the delegation's.
    pub fn visible(&self) -> Option<&std::collections::BTreeSet<String>> {
        self.delegation.as_ref().map(|d| &d.terms().attributes)
    }

    /// The audit actor: the signed-in citizen.
    pub fn actor(&self) -> audit::Actor {
        audit::Actor::new(audit::ActorKind::Citizen, self.actor_id.clone())
    }

    /// The delegation's id, when acting for another.
    pub fn delegation_id(&self) -> Option<String> {
        self.delegation.as_ref().map(|d| d.id().to_string())
    }
}

impl FromRequest for Subject {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let me = Me::extract(&req).await?;
            let Some(acting) = me.session.acting_for.clone() else {
                return Ok(Subject {
                    session: me.session,
                    actor_id: me.citizen_id.clone(),
                    citizen_id: me.citizen_id,
                    delegation: None,
                });
            };
            let Some(ledger) = req.app_data::<web::Data<Ledger>>() else {
                return Err(ServiceError::Internal("the ledger is not registered".into()).into());
            };
            let d = delegations::acting(ledger, &me.citizen_id, &acting.delegation_id).await?;
            Ok(Subject {
                session: me.session,
                actor_id: me.citizen_id,
                citizen_id: d.delegator().to_string(),
                delegation: Some(d),
            })
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
