//! The broker's error type. Each layer has its own enum; this one gathers them so that HTTP status
//! and the stable public `code` are chosen in exactly one place (`http::problem`).
//!
//! INVARIANT: no message here contains an attribute value, a token or a secret.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A page needs a signed-in user; the browser is sent to `to` and back to `next` after.
    #[error("sign-in required")]
    SignInRequired { to: &'static str, next: String },
    #[error("the form's CSRF token is missing or wrong; reload the page and try again")]
    Csrf,
    #[error("not ready: {0}")]
    NotReady(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database error")]
    Db(#[from] sea_orm::DbErr),
    #[error(transparent)]
    OAuth(crate::oauth::OAuthError),
    #[error(transparent)]
    Bearer(crate::oauth::BearerError),
    #[error(transparent)]
    Release(crate::release::ReleaseError),
    #[error(transparent)]
    Audit(#[from] crate::audit_log::AuditError),
    #[error(transparent)]
    AuditQuery(#[from] crate::audit_log::query::QueryError),
    #[error(transparent)]
    Consent(#[from] crate::consents::LedgerError),
    #[error(transparent)]
    SignIn(#[from] crate::signin::SignInError),
    #[error(transparent)]
    Relay(#[from] crate::relay::RelayError),
    #[error("signing failed")]
    Sign(#[from] crate::keys::SignError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// A request the broker cannot act on as sent. Each variant has a stable code.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("the request body is not valid JSON for this endpoint: {0}")]
    MalformedJson(String),
    #[error("the request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the request body must be `{expected}`")]
    UnsupportedMediaType { expected: &'static str },
    #[error("the query string is invalid: {0}")]
    MalformedQuery(String),
    #[error("the form is invalid: {0}")]
    MalformedForm(String),
    #[error("the path is invalid: {0}")]
    MalformedPath(String),
}
