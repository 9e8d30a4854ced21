//! What the relay refuses, with stable codes. Messages name attributes and events, never values.

use crate::citizens::CitizenError;

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("no attribute `{0}` in the catalogue")]
    UnknownAttribute(String),
    #[error(transparent)]
    InvalidValue(#[from] policies::ValueError),
    #[error("the department is not authoritative for `{0}`")]
    NotAuthoritative(String),
    #[error("no such subject")]
    SubjectNotFound,
    #[error("the subject is deceased; no further change is accepted")]
    SubjectDeceased,
    #[error("unknown life event `{0}`; expected `move`, `name-change` or `death`")]
    UnknownEvent(String),
    #[error("the `{event}` event carries {expected}")]
    EventMismatch {
        event: &'static str,
        expected: &'static str,
    },
    #[error("no attribute given")]
    NoAttributes,
    #[error("the attribute `{0}` cannot be changed here")]
    NotEditable(String),
    #[error("no delivery `{0}`")]
    UnknownDelivery(String),
    #[error("cannot read the citizen's facts: {0}")]
    Citizen(#[from] CitizenError),
    #[error("cannot read the citizen's consents: {0}")]
    Consents(#[from] crate::consents::ConsentStoreError),
}
