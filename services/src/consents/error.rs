//! What can go wrong when a department, a citizen or the sweep changes the ledger, or when a
//! receipt is checked. Statuses and public codes are chosen in `http::problem`; [`LedgerError::code`]
//! is the same code, for pages that explain an error inside a form.
//!
//! INVARIANT: messages name attributes, purposes and departments (catalogue names, in backticks),
//! never an attribute value, a token or a secret.

use super::ConsentStoreError;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("attribute `{0}` is not in the catalogue")]
    UnknownAttribute(String),
    #[error("purpose `{0}` is not in the catalogue")]
    UnknownPurpose(String),
    #[error("department `{0}` is not in the catalogue")]
    UnknownDepartment(String),
    #[error("mode `{0}` is neither `once` nor `ongoing`")]
    UnknownMode(String),
    #[error("no citizen is known to you by this subject identifier")]
    UnknownSubject,
    #[error(
        "no policy lets department `{department}` receive `{attribute}` for purpose `{purpose}` with the citizen's consent"
    )]
    NotConsentable {
        department: String,
        purpose: String,
        attribute: String,
    },
    #[error("the duration is beyond the maximum of {max_days} days")]
    BeyondMaximum { max_days: i64 },
    #[error("the duration must be a whole number of days, at least 1")]
    InvalidDuration,
    #[error("choose at least one attribute")]
    NoAttributes,
    #[error("attribute `{0}` was not requested")]
    AttributeNotRequested(String),
    #[error("the consent would last longer than the department asked")]
    LongerThanRequested,
    #[error("`return_url` must be an absolute https URL (http only on 127.0.0.1 or localhost)")]
    InvalidReturnUrl,
    #[error("an identical consent is already pending or active")]
    Duplicate,
    #[error("this request has already been answered")]
    NotPending,
    #[error("this consent is not active")]
    NotActive,
    #[error("the consent changed at the same time; reload and try again")]
    Conflict,
    #[error("cannot import this consent: {0}")]
    InvalidImport(&'static str),
    #[error("the receipt is not a compact JWS consent receipt")]
    ReceiptMalformed,
    #[error("the receipt's signature does not verify against the broker's published keys")]
    ReceiptSignature,
    #[error("the receipt does not match the consent ledger")]
    ReceiptNotInLedger,
    #[error(transparent)]
    Store(#[from] ConsentStoreError),
}

/// Rule violations found by the `consent` crate, in this module's vocabulary.
impl From<consent::ConsentError> for LedgerError {
    fn from(e: consent::ConsentError) -> Self {
        use consent::ConsentError as C;
        match e {
            C::BeyondMaximum { max_days } => Self::BeyondMaximum { max_days },
            C::EmptyAttributeSet => Self::NoAttributes,
            C::AttributeNotRequested { attribute } => Self::AttributeNotRequested(attribute),
            C::GrantLongerThanRequested => Self::LongerThanRequested,
            C::ExpiryRequired | C::ExpiryInPast | C::DurationNotPositive => Self::InvalidDuration,
            other => Self::Store(ConsentStoreError::Rule(other)),
        }
    }
}

impl From<sea_orm::DbErr> for LedgerError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Store(ConsentStoreError::Db(e))
    }
}
