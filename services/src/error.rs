//! The broker's error type, and the one place that decides every stable public error code.
//!
//! Each area has its own enum (`LedgerError`, `RelayError`, `ReleaseError`, `SignInError`, …);
//! [`Error`] gathers them. [`PublicError`] gives each the stable machine-readable `code` a caller
//! sees and a [`ErrorClass`] saying whose fault it is and how; every `impl PublicError` is in this
//! module, so a code is chosen here and nowhere else. The web layer alone turns a class into an
//! HTTP status (`web::problem`); pages use the same code to choose their words.
//!
//! INVARIANT: no message here contains an attribute value, a token or a secret.

use store::StoreError;

use crate::audit_log::query::QueryError;
use crate::consents::{ConsentStoreError, LedgerError};
use crate::oauth::{BearerError, OAuthError};
use crate::relay::RelayError;
use crate::release::query::QueryError as ReleaseQueryError;
use crate::release::{Refusal, ReleaseError};
use crate::signin::SignInError;

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
    /// A refusal of the OpenID Provider, in OAuth terms.
    #[error(transparent)]
    Provider(crate::provider::ProviderError),
    #[error(transparent)]
    Release(crate::release::ReleaseError),
    #[error(transparent)]
    Audit(#[from] crate::audit_log::AuditError),
    #[error(transparent)]
    AuditQuery(#[from] crate::audit_log::query::QueryError),
    #[error(transparent)]
    Consent(#[from] crate::consents::LedgerError),
    #[error(transparent)]
    Delegation(#[from] crate::consents::delegations::DelegationError),
    #[error(transparent)]
    SignIn(#[from] crate::signin::SignInError),
    #[error(transparent)]
    Relay(#[from] crate::relay::RelayError),
    #[error("signing failed")]
    Sign(#[from] crate::keys::SignError),
    /// A citizen's stored record could not be read (an unknown status, a broken key, …).
    #[error(transparent)]
    Citizen(#[from] crate::citizens::CitizenError),
    /// A stored id that is not the UUID it must be.
    #[error("a stored id is not a UUID")]
    StoredId,
    /// The audit record exists but waits in the queue: its inclusion proof is ready within
    /// seconds.
    #[error("the record is queued for the log; its proof is ready within seconds")]
    AuditPending,
    #[error("internal error: {0}")]
    Internal(String),
}

/// Whose fault an error is, and what kind: the web layer maps each class to one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request is malformed or names something invalid.
    BadRequest,
    /// The caller did not prove who it is (or its proof is no longer good).
    Unauthenticated,
    /// The caller is known and may not do this.
    Forbidden,
    NotFound,
    MethodNotAllowed,
    /// The request conflicts with the current state (a duplicate, an answered request, …).
    Conflict,
    PayloadTooLarge,
    UriTooLong,
    UnsupportedMediaType,
    /// Well-formed, but its content does not check (a receipt that does not verify).
    Unprocessable,
    /// A page needs a signed-in user: the browser is sent to sign in.
    SignInRequired,
    /// A service the broker depends on (a credential provider) failed.
    UpstreamFailed,
    /// The broker cannot serve now (the database is down, not ready).
    Unavailable,
    /// The broker failed: the cause is logged, never shown.
    Internal,
    /// What was asked for exists but is not ready yet: ask again shortly (`Retry-After`).
    Pending,
}

impl ErrorClass {
    /// Whether the caller's request is at fault (a 4xx), as opposed to the broker or its upstream.
    pub fn is_client_error(self) -> bool {
        !matches!(
            self,
            ErrorClass::Internal
                | ErrorClass::Unavailable
                | ErrorClass::UpstreamFailed
                | ErrorClass::Pending
        )
    }
}

/// An error a caller may be shown: its stable code and its class.
pub trait PublicError {
    /// The stable, machine-readable code (`consent_duplicate`, `invalid_token`, …).
    fn code(&self) -> &'static str;
    /// Whose fault it is, and what kind.
    fn class(&self) -> ErrorClass;
}

const INTERNAL: (ErrorClass, &str) = (ErrorClass::Internal, "internal_error");
/// The code of every failure caused by a database that cannot be reached now.
pub const DATABASE_UNAVAILABLE: &str = "database_unavailable";

impl Error {
    fn public(&self) -> (ErrorClass, &'static str) {
        use ErrorClass as C;
        // Whatever failed, if it failed because the database cannot be reached now, that is
        // what the caller is told: try again shortly.
        if !matches!(self, Error::NotReady(_)) && store::is_unavailable(self) {
            return (C::Unavailable, DATABASE_UNAVAILABLE);
        }
        match self {
            Error::Input(e) => (e.class(), e.code()),
            Error::NotFound => (C::NotFound, "not_found"),
            Error::SignInRequired { .. } => (C::SignInRequired, "sign_in_required"),
            Error::Csrf => (C::Forbidden, "csrf_failed"),
            Error::MethodNotAllowed => (C::MethodNotAllowed, "method_not_allowed"),
            Error::NotReady(_) => (C::Unavailable, "not_ready"),
            Error::AuditPending => (C::Pending, "audit_record_pending"),
            Error::OAuth(e) => (e.class(), e.code()),
            Error::Bearer(e) => (e.class(), e.code()),
            Error::Provider(e) => (e.class(), e.code()),
            Error::Release(e) => (e.class(), e.code()),
            Error::Consent(e) => (e.class(), e.code()),
            Error::Delegation(e) => (e.class(), e.code()),
            Error::Relay(e) => (e.class(), e.code()),
            Error::SignIn(e) => (e.class(), e.code()),
            Error::AuditQuery(e) => (e.class(), e.code()),
            Error::Store(e) => (e.class(), e.code()),
            Error::Db(_)
            | Error::Audit(_)
            | Error::Sign(_)
            | Error::Citizen(_)
            | Error::StoredId
            | Error::Internal(_) => INTERNAL,
        }
    }
}

impl From<crate::takeout::TakeoutError> for Error {
    fn from(e: crate::takeout::TakeoutError) -> Self {
        use crate::takeout::TakeoutError as T;
        match e {
            T::Citizen(e) => Error::Citizen(e),
            T::Consents(e) => Error::Consent(e.into()),
            T::Audit(e) => Error::Audit(e),
            T::Sign(e) => Error::Sign(e),
            T::Db(e) => Error::Db(e),
            // Its proof is ready within seconds, like any queued record's.
            T::Pending => Error::AuditPending,
            T::NoCheckpoint => Error::Internal(e.to_string()),
        }
    }
}

impl PublicError for Error {
    fn code(&self) -> &'static str {
        self.public().1
    }
    fn class(&self) -> ErrorClass {
        self.public().0
    }
}

impl PublicError for InputError {
    fn code(&self) -> &'static str {
        match self {
            InputError::MalformedJson(_) => "malformed_json",
            InputError::TooLarge { .. } => "payload_too_large",
            InputError::UnsupportedMediaType { .. } => "unsupported_media_type",
            InputError::MalformedQuery(_) => "malformed_query",
            InputError::MalformedForm(_) => "malformed_form",
            InputError::MalformedPath(_) => "malformed_path",
        }
    }
    fn class(&self) -> ErrorClass {
        match self {
            InputError::TooLarge { .. } => ErrorClass::PayloadTooLarge,
            InputError::UnsupportedMediaType { .. } => ErrorClass::UnsupportedMediaType,
            _ => ErrorClass::BadRequest,
        }
    }
}

impl PublicError for StoreError {
    fn code(&self) -> &'static str {
        match self {
            StoreError::Connect { .. } => DATABASE_UNAVAILABLE,
            _ => INTERNAL.1,
        }
    }
    fn class(&self) -> ErrorClass {
        match self {
            StoreError::Connect { .. } => ErrorClass::Unavailable,
            _ => ErrorClass::Internal,
        }
    }
}

impl PublicError for crate::provider::ProviderError {
    fn code(&self) -> &'static str {
        self.code.as_str()
    }
    fn class(&self) -> ErrorClass {
        use fapi::ErrorCode as C;
        match self.code {
            C::InvalidClient => ErrorClass::Unauthenticated,
            C::InvalidToken | C::InvalidDpopProof | C::UseDpopNonce if self.at_resource => {
                ErrorClass::Unauthenticated
            }
            C::InsufficientScope => ErrorClass::Forbidden,
            C::ServerError => ErrorClass::Internal,
            C::TemporarilyUnavailable => ErrorClass::Unavailable,
            _ => ErrorClass::BadRequest,
        }
    }
}

impl PublicError for OAuthError {
    /// The RFC 6749 `error` value.
    fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::InvalidClient(_) => "invalid_client",
            OAuthError::InvalidScope(_) => "invalid_scope",
        }
    }
    fn class(&self) -> ErrorClass {
        match self {
            OAuthError::InvalidClient(_) => ErrorClass::Unauthenticated,
            _ => ErrorClass::BadRequest,
        }
    }
}

impl PublicError for BearerError {
    fn code(&self) -> &'static str {
        match self {
            BearerError::Missing | BearerError::Invalid => "invalid_token",
            BearerError::Expired => "token_expired",
            BearerError::Revoked => "token_revoked",
            BearerError::InsufficientScope(_) => "insufficient_scope",
            BearerError::DpopRequired => "invalid_token",
            BearerError::DpopProof(_) => "invalid_dpop_proof",
        }
    }
    fn class(&self) -> ErrorClass {
        match self {
            BearerError::InsufficientScope(_) => ErrorClass::Forbidden,
            _ => ErrorClass::Unauthenticated,
        }
    }
}

impl PublicError for Refusal {
    fn code(&self) -> &'static str {
        match self {
            Refusal::Query(ReleaseQueryError::TooLarge) => "query_too_large",
            Refusal::Query(_) => "malformed_query",
            Refusal::SubjectNotFound => "subject_not_found",
            // The first reason the policies gave (a `policies::WithheldCode`, stable itself).
            Refusal::Denied { codes, .. } => codes.first().copied().unwrap_or("policy_denied"),
            Refusal::HolderKey(_) => "holder_key_unavailable",
        }
    }
    fn class(&self) -> ErrorClass {
        match self {
            Refusal::Query(ReleaseQueryError::TooLarge) => ErrorClass::UriTooLong,
            Refusal::Query(_) => ErrorClass::BadRequest,
            Refusal::SubjectNotFound => ErrorClass::NotFound,
            Refusal::Denied { .. } => ErrorClass::Forbidden,
            // Well-formed, but the client's registration holds no key to bind.
            Refusal::HolderKey(_) => ErrorClass::Unprocessable,
        }
    }
}

impl PublicError for ReleaseError {
    fn code(&self) -> &'static str {
        match self {
            ReleaseError::Refused { refusal, .. } => refusal.code(),
            ReleaseError::Citizen(_) | ReleaseError::Consents(_) | ReleaseError::SdJwt(_) => {
                INTERNAL.1
            }
        }
    }
    fn class(&self) -> ErrorClass {
        match self {
            ReleaseError::Refused { refusal, .. } => refusal.class(),
            ReleaseError::Citizen(_) | ReleaseError::Consents(_) | ReleaseError::SdJwt(_) => {
                ErrorClass::Internal
            }
        }
    }
}

impl PublicError for LedgerError {
    fn code(&self) -> &'static str {
        use LedgerError as L;
        match self {
            L::UnknownAttribute(_) => "unknown_attribute",
            L::UnknownPurpose(_) => "unknown_purpose",
            L::UnknownDepartment(_) => "unknown_department",
            L::UnknownMode(_) => "unknown_mode",
            L::UnknownSubject => "unknown_subject",
            L::NotConsentable { .. } => "not_consentable",
            L::BeyondMaximum { .. } => "duration_beyond_maximum",
            L::InvalidDuration => "invalid_duration",
            L::NoAttributes => "no_attributes",
            L::AttributeNotRequested(_) => "attribute_not_requested",
            L::LongerThanRequested => "duration_beyond_request",
            L::InvalidReturnUrl => "invalid_return_url",
            L::Duplicate => "consent_duplicate",
            L::NotPending => "request_not_pending",
            L::NotActive => "consent_not_active",
            L::Conflict | L::Store(ConsentStoreError::Conflict) => "consent_conflict",
            L::InvalidImport(_) => "invalid_import",
            L::ReceiptMalformed => "receipt_malformed",
            L::ReceiptSignature => "receipt_signature_invalid",
            L::ReceiptNotInLedger => "receipt_not_in_ledger",
            L::Store(_) => INTERNAL.1,
        }
    }
    fn class(&self) -> ErrorClass {
        use LedgerError as L;
        match self {
            L::Duplicate
            | L::NotPending
            | L::NotActive
            | L::Conflict
            | L::Store(ConsentStoreError::Conflict) => ErrorClass::Conflict,
            L::Store(_) => ErrorClass::Internal,
            L::UnknownAttribute(_)
            | L::UnknownPurpose(_)
            | L::UnknownDepartment(_)
            | L::UnknownMode(_)
            | L::UnknownSubject
            | L::NotConsentable { .. }
            | L::BeyondMaximum { .. }
            | L::InvalidDuration
            | L::NoAttributes
            | L::AttributeNotRequested(_)
            | L::LongerThanRequested
            | L::InvalidReturnUrl
            | L::InvalidImport(_)
            | L::ReceiptMalformed
            | L::ReceiptSignature
            | L::ReceiptNotInLedger => ErrorClass::Unprocessable,
        }
    }
}

impl PublicError for crate::consents::delegations::DelegationError {
    fn code(&self) -> &'static str {
        use crate::consents::delegations::DelegationError as D;
        use consent::{Beyond, DelegationRuleError as R};
        match self {
            D::UnknownAttribute(_) => "unknown_attribute",
            D::UnknownPurpose(_) => "unknown_purpose",
            D::UnknownPower(_) => "unknown_power",
            D::UnknownSubject(_) => "unknown_subject",
            D::LegalBasisRequired => "legal_basis_required",
            D::ToSelf => "delegation_to_self",
            D::InvalidDuration | D::Rule(R::InvalidPeriod) => "invalid_duration",
            D::Rule(R::BeyondMaximum { .. }) => "duration_beyond_maximum",
            D::Rule(R::NoAttributes) => "no_attributes",
            D::Rule(R::Label) => "invalid_label",
            D::Rule(_) => "invalid_delegation",
            D::InvitationInvalid => "invitation_invalid",
            D::NotLive => "delegation_not_live",
            D::Beyond(Beyond::Power(_)) => "delegation_power_missing",
            D::Beyond(Beyond::Attribute(_)) => "delegation_attribute_not_covered",
            D::Beyond(Beyond::Purpose(_)) => "delegation_purpose_not_covered",
            D::OnwardNotPermitted => "delegation_onward_not_permitted",
            D::NotActive => "delegation_not_active",
            D::Conflict => "delegation_conflict",
            D::ActingForAnother => "acting_for_another",
            D::Corrupt(_) | D::Db(_) => INTERNAL.1,
        }
    }
    fn class(&self) -> ErrorClass {
        use crate::consents::delegations::DelegationError as D;
        match self {
            D::NotLive | D::Beyond(_) | D::OnwardNotPermitted | D::ActingForAnother => {
                ErrorClass::Forbidden
            }
            D::NotActive | D::Conflict => ErrorClass::Conflict,
            D::Corrupt(_) | D::Db(_) => ErrorClass::Internal,
            D::UnknownAttribute(_)
            | D::UnknownPurpose(_)
            | D::UnknownPower(_)
            | D::UnknownSubject(_)
            | D::LegalBasisRequired
            | D::ToSelf
            | D::InvalidDuration
            | D::Rule(_)
            | D::InvitationInvalid => ErrorClass::Unprocessable,
        }
    }
}

impl PublicError for RelayError {
    fn code(&self) -> &'static str {
        use RelayError as R;
        match self {
            R::UnknownAttribute(_) => "unknown_attribute",
            R::InvalidValue(_) => "invalid_value",
            R::NotAuthoritative(_) => "not_authoritative",
            R::SubjectNotFound => "subject_not_found",
            R::SubjectDeceased => "subject_deceased",
            R::UnknownEvent(_) => "unknown_event",
            R::EventMismatch { .. } => "event_attributes_mismatch",
            R::NoAttributes => "no_attributes",
            R::NotEditable(_) => "attribute_not_editable",
            R::UnknownDelivery(_) => "delivery_not_found",
            R::Citizen(_) | R::Consents(_) => INTERNAL.1,
        }
    }
    fn class(&self) -> ErrorClass {
        use RelayError as R;
        match self {
            R::UnknownAttribute(_)
            | R::InvalidValue(_)
            | R::UnknownEvent(_)
            | R::EventMismatch { .. }
            | R::NoAttributes
            | R::NotEditable(_) => ErrorClass::BadRequest,
            R::NotAuthoritative(_) => ErrorClass::Forbidden,
            R::SubjectNotFound | R::UnknownDelivery(_) => ErrorClass::NotFound,
            R::SubjectDeceased => ErrorClass::Conflict,
            R::Citizen(_) | R::Consents(_) => ErrorClass::Internal,
        }
    }
}

impl PublicError for QueryError {
    fn code(&self) -> &'static str {
        match self {
            QueryError::InvalidFilter { .. } => "audit_invalid_filter",
            QueryError::InvalidCursor => "audit_invalid_cursor",
        }
    }
    fn class(&self) -> ErrorClass {
        ErrorClass::BadRequest
    }
}

impl PublicError for SignInError {
    fn code(&self) -> &'static str {
        use SignInError as S;
        match self {
            S::UnknownProvider(_) => "signin_unknown_provider",
            S::ProviderUnavailable { .. } => "signin_provider_unavailable",
            S::StateMissing => "signin_state_missing",
            S::StateInvalid => "signin_state_invalid",
            S::StateExpired => "signin_state_expired",
            S::StateUsed => "signin_state_used",
            S::CallbackMalformed(_) => "signin_callback_malformed",
            S::IssuerMismatch => "signin_issuer_mismatch",
            S::ProviderRefused(_) => "signin_cancelled",
            S::CodeRejected => "signin_code_rejected",
            S::IdToken(_) => "signin_id_token_invalid",
            S::UserinfoSubject => "signin_userinfo_mismatch",
            S::SubjectInvalid => "signin_subject_invalid",
            S::NotAnOfficer => "officer_not_authorised",
            S::LinkedElsewhere => "identity_linked_elsewhere",
            S::ProviderAlreadyLinked => "identity_provider_already_linked",
            S::LinkSessionEnded => "identity_link_session_ended",
            S::LinkNotFound(_) => "identity_link_not_found",
            S::LastLink => "identity_last_link",
            S::LinkInUse => "identity_link_in_use",
            S::CitizenUnavailable => "citizen_unavailable",
        }
    }
    fn class(&self) -> ErrorClass {
        use SignInError as S;
        match self {
            S::UnknownProvider(_) | S::LinkNotFound(_) => ErrorClass::NotFound,
            S::ProviderUnavailable { .. } => ErrorClass::UpstreamFailed,
            S::NotAnOfficer | S::CitizenUnavailable => ErrorClass::Forbidden,
            S::LinkedElsewhere | S::ProviderAlreadyLinked | S::LastLink | S::LinkInUse => {
                ErrorClass::Conflict
            }
            S::StateMissing
            | S::StateInvalid
            | S::StateExpired
            | S::StateUsed
            | S::CallbackMalformed(_)
            | S::IssuerMismatch
            | S::ProviderRefused(_)
            | S::CodeRejected
            | S::IdToken(_)
            | S::UserinfoSubject
            | S::SubjectInvalid
            | S::LinkSessionEnded => ErrorClass::BadRequest,
        }
    }
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
