//! The crate's one error type.
//!
//! Messages are lowercase, carry no final period, put what the operator typed (a kind, a field
//! name) in backticks and never contain a Security Event Token, a bearer secret or an attribute
//! value: a department's answer is described by its status code and our own words only.

use std::time::Duration;

/// Everything that can go wrong when building an adapter or fetching from a pull source.
///
/// Delivery failures are not errors: [`DeliveryAdapter`](crate::DeliveryAdapter) reports them as a
/// [`DeliveryOutcome`](crate::DeliveryOutcome) per event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// The delivery config is not an object with a string `kind`.
    #[error("invalid adapter config: {reason}")]
    InvalidConfig { reason: &'static str },
    /// No adapter is registered under this kind.
    #[error("unknown adapter kind `{kind}`; expected one of {expected}")]
    UnknownKind { kind: String, expected: String },
    /// A required setting is absent.
    #[error("missing `{field}` in the `{kind}` adapter settings")]
    MissingSetting {
        kind: &'static str,
        field: &'static str,
    },
    /// A setting is present but unusable. `reason` is ours and never repeats the value.
    #[error("invalid `{field}` in the `{kind}` adapter settings: {reason}")]
    InvalidSetting {
        kind: &'static str,
        field: &'static str,
        reason: String,
    },
    /// A setting this adapter does not know (likely a typo); refusing it beats ignoring it.
    #[error("unknown setting `{field}` for the `{kind}` adapter")]
    UnknownSetting { kind: &'static str, field: String },
    /// The config names an adapter that does not deliver events (a pull source).
    #[error("the `{kind}` adapter does not deliver events")]
    NotADeliveryAdapter { kind: &'static str },
    /// The config names an adapter that is not a pull source.
    #[error("the `{kind}` adapter is not a pull source")]
    NotAPullSource { kind: &'static str },
    /// The shared HTTP client could not be built (TLS roots, system configuration).
    #[error("the http client could not be built")]
    HttpClient(#[source] reqwest::Error),
    /// A caller passed an argument this crate refuses to put on the wire.
    #[error("invalid `{field}`: {reason}")]
    InvalidArgument {
        field: &'static str,
        reason: &'static str,
    },
    /// The department did not answer in time.
    #[error("the department did not answer within {} ms", .timeout.as_millis())]
    Timeout { timeout: Duration },
    /// No connection could be made to the department.
    #[error("could not connect to the department")]
    Connect,
    /// The request failed for another transport reason (TLS, protocol, reset).
    #[error("the request to the department failed")]
    Request,
    /// The department answered with an unexpected status.
    #[error("the department answered with http status {status}")]
    Status {
        status: u16,
        /// The department's `Retry-After`, when it sent a usable one.
        retry_after: Option<Duration>,
    },
    /// The department's response body is larger than the configured bound.
    #[error("the department's response exceeds {limit} bytes")]
    ResponseTooLarge { limit: usize },
    /// The department's response is not the documented JSON shape. `reason` is ours.
    #[error("the department's response is malformed: {reason}")]
    MalformedResponse { reason: String },
}

impl AdapterError {
    /// Whether trying again later may succeed (timeouts, connection failures, 5xx, 408, 429).
    ///
    /// Config errors, refusals and malformed answers stay wrong until someone changes something.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Connect | Self::Request => true,
            Self::Status { status, .. } => crate::http::is_transient_status(*status),
            Self::InvalidConfig { .. }
            | Self::UnknownKind { .. }
            | Self::MissingSetting { .. }
            | Self::InvalidSetting { .. }
            | Self::UnknownSetting { .. }
            | Self::NotADeliveryAdapter { .. }
            | Self::NotAPullSource { .. }
            | Self::HttpClient(_)
            | Self::InvalidArgument { .. }
            | Self::ResponseTooLarge { .. }
            | Self::MalformedResponse { .. } => false,
        }
    }

    /// The department's `Retry-After` hint, if the error carries one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        Self::MalformedResponse {
            reason: reason.into(),
        }
    }
}
