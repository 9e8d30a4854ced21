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

impl RelayError {
    /// The stable public code.
    pub fn code(&self) -> &'static str {
        match self {
            RelayError::UnknownAttribute(_) => "unknown_attribute",
            RelayError::InvalidValue(_) => "invalid_value",
            RelayError::NotAuthoritative(_) => "not_authoritative",
            RelayError::SubjectNotFound => "subject_not_found",
            RelayError::SubjectDeceased => "subject_deceased",
            RelayError::UnknownEvent(_) => "unknown_event",
            RelayError::EventMismatch { .. } => "event_attributes_mismatch",
            RelayError::NoAttributes => "no_attributes",
            RelayError::NotEditable(_) => "attribute_not_editable",
            RelayError::UnknownDelivery(_) => "delivery_not_found",
            RelayError::Citizen(_) | RelayError::Consents(_) => "internal_error",
        }
    }

    /// Whether the caller's input is at fault (shown again on a form).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, RelayError::Citizen(_) | RelayError::Consents(_))
    }
}
