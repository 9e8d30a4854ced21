//! Refused department calls: who is recorded, who is only counted.
//!
//! A refusal whose caller a signature proves — a client assertion that verified against the
//! client's registered keys, or an access token the broker signed — is appended to the audit log
//! as `access-refused` with its code, so an officer sees a replayed assertion, an expired token
//! or a disabled department still calling. A refusal that proves nobody (no token, a bad
//! signature, an unknown client) is never logged: anyone could send those, and logging them would
//! let anyone write to the log at will. They are counted in
//! `broker_refusals_unidentified_total{endpoint, code}`, whose labels come from closed sets.

use audit::{Action, Actor, ActorKind, Outcome};

use super::OAuth;
use super::assertion::AssertionError;
use super::bearer::{Identified, Unauthenticated};
use super::token::{ClientAuthError, OAuthError};
use crate::audit_log::AuditLog;
use crate::error::{Error, ErrorClass, PublicError};
use crate::metrics::Metrics;

/// The counter of refusals that identified nobody.
pub const UNIDENTIFIED: &str = "broker_refusals_unidentified_total";

/// Where a department call was refused. A closed set: it labels a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /oauth2/token`.
    Token,
    /// `POST /oauth2/par`.
    Par,
    /// `GET|POST /oauth2/userinfo`.
    Userinfo,
    /// `GET /api/v1/subjects/{sub}/attributes`.
    AttributesRead,
    /// `POST /api/v1/subjects/{sub}/attributes`.
    AttributesWrite,
    /// `POST /api/v1/consent-requests`.
    ConsentRequest,
    /// `GET /api/v1/consent-requests/{id}`.
    ConsentRequestRead,
    /// `GET /api/v1/audit/records`.
    AuditRecords,
    /// `GET /api/v1/audit/records/{id}/proof`.
    AuditProof,
    /// Any other route that takes a bearer token.
    Other,
}

impl Endpoint {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Par => "par",
            Self::Userinfo => "userinfo",
            Self::AttributesRead => "attributes-read",
            Self::AttributesWrite => "attributes-write",
            Self::ConsentRequest => "consent-request",
            Self::ConsentRequestRead => "consent-request-read",
            Self::AuditRecords => "audit-records",
            Self::AuditProof => "audit-proof",
            Self::Other => "other",
        }
    }
}

/// What an officer needs beyond the public code, which at the token endpoint is `invalid_client`
/// for every failed client authentication (RFC 6749 §5.2): which check refused it. Stable
/// strings, kept in the record's `reasons` after the code.
pub fn cause(error: &Error) -> Option<&'static str> {
    match error {
        Error::OAuth(OAuthError::InvalidClient(ClientAuthError::Replayed)) => {
            Some("assertion_replayed")
        }
        Error::OAuth(OAuthError::InvalidClient(ClientAuthError::DepartmentDisabled)) => {
            Some("department_disabled")
        }
        Error::OAuth(OAuthError::InvalidClient(ClientAuthError::Assertion(e))) => Some(match e {
            AssertionError::Expired => "assertion_expired",
            AssertionError::Audience => "assertion_audience",
            AssertionError::IssuerSubject => "assertion_issuer_subject",
            AssertionError::TooLong(_) => "assertion_lifetime",
            AssertionError::NotYetValid => "assertion_not_yet_valid",
            AssertionError::NoJti => "assertion_no_jti",
            AssertionError::Actor => "assertion_act",
            AssertionError::Malformed => "assertion_malformed",
            AssertionError::Algorithm(_) => "assertion_algorithm",
            AssertionError::NoClient => "assertion_no_client",
            AssertionError::UnknownKey => "assertion_unknown_key",
            AssertionError::Signature => "assertion_signature",
        }),
        Error::OAuth(OAuthError::InvalidScope(_)) => Some("scope_not_held"),
        _ => None,
    }
}

/// The `access-refused` record of an identified caller's refusal with `code`.
pub fn record_of(who: &Identified, endpoint: Endpoint, code: &str) -> audit::Record {
    let mut record = AuditLog::record(
        Action::AccessRefused,
        Outcome::Deny,
        Actor::new(ActorKind::Department, &who.department_id),
    );
    record.department_id = Some(who.department_id.clone());
    record.client_id = Some(who.client_id.clone());
    record.reasons.push(code.to_owned());
    record
        .detail
        .insert("endpoint".into(), endpoint.as_str().to_owned());
    if !who.token_id.is_empty() {
        // The access token's `jti` on the API, the client assertion's at the token endpoint:
        // identifiers, never the credentials themselves.
        let key = if matches!(endpoint, Endpoint::Token | Endpoint::Par) {
            "assertion"
        } else {
            "token"
        };
        record.detail.insert(key.into(), who.token_id.clone());
    }
    record
}

/// Whether `error` is a refusal of the caller (rather than the broker failing).
fn is_refusal(error: &Error) -> bool {
    !matches!(
        error.class(),
        ErrorClass::Internal | ErrorClass::Unavailable | ErrorClass::UpstreamFailed
    )
}

/// Counts a refusal that identified nobody.
pub fn count_unidentified(metrics: &Metrics, endpoint: Endpoint, code: &'static str) {
    metrics.inc(
        UNIDENTIFIED,
        format!("endpoint=\"{}\",code=\"{code}\"", endpoint.as_str()),
    );
}

/// Records (identified) or counts (unidentified) a refusal, and returns the error to answer
/// with. If the record cannot be written, the request fails with that error instead: a refusal
/// is never answered without its record.
pub async fn settle(state: &OAuth, endpoint: Endpoint, refused: Unauthenticated) -> Error {
    let Unauthenticated { error, identified } = refused;
    if !is_refusal(&error) {
        return error;
    }
    match identified {
        Some(who) => {
            let mut record = record_of(&who, endpoint, error.code());
            record.reasons.extend(cause(&error).map(str::to_owned));
            match state.audit.append(record).await {
                Ok(_) => error,
                Err(e) => e.into(),
            }
        }
        None => {
            count_unidentified(&state.metrics, endpoint, error.code());
            error
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_record_names_the_caller_the_code_and_the_place_never_a_credential() {
        let who = Identified {
            client_id: "esd-app".into(),
            department_id: "esd".into(),
            token_id: "jti-1".into(),
        };
        let r = record_of(&who, Endpoint::Token, "invalid_client");
        assert_eq!(r.action, Action::AccessRefused);
        assert_eq!(r.outcome, Outcome::Deny);
        assert_eq!(r.department_id.as_deref(), Some("esd"));
        assert_eq!(r.client_id.as_deref(), Some("esd-app"));
        assert_eq!(r.reasons, ["invalid_client"]);
        assert_eq!(r.detail.get("endpoint").map(String::as_str), Some("token"));
        assert_eq!(r.detail.get("assertion").map(String::as_str), Some("jti-1"));
        let r = record_of(&who, Endpoint::AuditProof, "insufficient_scope");
        assert_eq!(r.detail.get("token").map(String::as_str), Some("jti-1"));
    }

    #[test]
    fn unidentified_refusals_are_counted_under_closed_labels() {
        let m = Metrics::default();
        count_unidentified(&m, Endpoint::Token, "invalid_client");
        count_unidentified(&m, Endpoint::Token, "invalid_client");
        let text = m.render((0, 0));
        assert!(
            text.contains(
                "broker_refusals_unidentified_total{endpoint=\"token\",code=\"invalid_client\"} 2"
            ),
            "{text}"
        );
    }
}
