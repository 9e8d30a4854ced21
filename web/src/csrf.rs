//! CSRF protection as a type: a handler that changes anything takes `Form<S>`, which yields the
//! session `S` and the posted fields only when the form's `csrf_token` equals the session's
//! (synchronizer token, compared in constant time). A missing or wrong token is a 403 and the
//! handler never runs, so nothing changes.

use services::Error as ServiceError;
use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};

use super::session::{CitizenSession, Me, OfficerSession, Session, Subject};
use crate::problem::Error;
use services::InputError;

/// Largest form body accepted.
const FORM_LIMIT: usize = 64 * 1024;

/// The posted fields, in order; repeated names (checkbox groups) keep every value.
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn parse(body: &[u8]) -> Result<Self, Error> {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map(Fields)
            .map_err(|_| InputError::MalformedForm("not a urlencoded form".into()).into())
    }
}

/// Something that carries a session: the kinds of signed-in request a form can come from.
pub trait HasSession {
    fn session(&self) -> &Session;
}

impl HasSession for CitizenSession {
    fn session(&self) -> &Session {
        &self.session
    }
}

impl HasSession for Me {
    fn session(&self) -> &Session {
        &self.session
    }
}

impl HasSession for Subject {
    fn session(&self) -> &Session {
        &self.session
    }
}

impl HasSession for OfficerSession {
    fn session(&self) -> &Session {
        &self.session
    }
}

/// A form posted by a signed-in user, with its CSRF token checked.
#[derive(Debug)]
pub struct Form<S> {
    pub who: S,
    pub fields: Fields,
}

/// Compares digests rather than the tokens, so timing reveals nothing about the expected token.
fn constant_time_eq(a: &str, b: &str) -> bool {
    let digest = |s: &str| ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    digest(a).as_ref() == digest(b).as_ref()
}

impl<S> FromRequest for Form<S>
where
    S: FromRequest<Error = Error> + HasSession + 'static,
{
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let who = S::from_request(req, payload);
        let body = web::Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let who = who.await?;
            let content_type = req
                .headers()
                .get(actix_web::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !content_type.starts_with("application/x-www-form-urlencoded") {
                return Err(ServiceError::Csrf.into());
            }
            let body = body
                .await
                .map_err(|_| Error::from(InputError::TooLarge { limit: FORM_LIMIT }))?;
            if body.len() > FORM_LIMIT {
                return Err(InputError::TooLarge { limit: FORM_LIMIT }.into());
            }
            let fields = Fields::parse(&body)?;
            match fields.get("csrf_token") {
                Some(token) if constant_time_eq(token, &who.session().csrf_token) => {
                    Ok(Form { who, fields })
                }
                _ => Err(ServiceError::Csrf.into()),
            }
        })
    }
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_keep_every_value() {
        let f = Fields::parse(b"a=1&attr=given_name&attr=birthdate&csrf_token=x").unwrap();
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.all("attr"), vec!["given_name", "birthdate"]);
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
