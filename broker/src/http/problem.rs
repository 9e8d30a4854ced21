//! RFC 9457 problem responses. This is the one place where an error becomes an HTTP status and a
//! stable machine-readable `code`; handlers return `crate::error::Error` and never build error
//! responses by hand.

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::{Error, InputError};
use crate::oauth::{BearerError, OAuthError};
use crate::release::query::QueryError;
use crate::release::{Refusal, ReleaseError};
use crate::store::StoreError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The body of a problem response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type: `/problems/<code>`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    /// A human-readable explanation; never contains attribute values, tokens or secrets.
    pub detail: String,
    /// Stable, machine-readable error code.
    pub code: String,
    /// Extension members (RFC 9457 §3.2), e.g. a denial's `codes`, `withheld` and `txn`.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            type_: format!("/problems/{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            extensions: serde_json::Map::new(),
        }
    }

    /// The response, with the problem also kept in its extensions so that browsers can be shown an
    /// HTML page instead (`web::pages::html_errors`).
    pub fn response(self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = HttpResponse::build(status)
            .insert_header(ContentType(PROBLEM_JSON.parse().unwrap_or(mime_json())))
            .json(&self);
        res.extensions_mut().insert(std::sync::Arc::new(self));
        res
    }
}

fn mime_json() -> actix_web::mime::Mime {
    actix_web::mime::APPLICATION_JSON
}

impl Error {
    /// Status and stable code for every error the broker can return.
    pub fn classify(&self) -> (StatusCode, &'static str) {
        match self {
            Error::Input(input) => match input {
                InputError::MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
                InputError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
                InputError::UnsupportedMediaType { .. } => {
                    (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
                }
                InputError::MalformedQuery(_) => (StatusCode::BAD_REQUEST, "malformed_query"),
                InputError::MalformedForm(_) => (StatusCode::BAD_REQUEST, "malformed_form"),
                InputError::MalformedPath(_) => (StatusCode::BAD_REQUEST, "malformed_path"),
            },
            Error::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Error::SignInRequired { .. } => (StatusCode::SEE_OTHER, "sign_in_required"),
            Error::Csrf => (StatusCode::FORBIDDEN, "csrf_failed"),
            Error::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Error::NotReady(_) => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
            Error::OAuth(e) => match e {
                OAuthError::InvalidClient(_) => (StatusCode::UNAUTHORIZED, e.error_code()),
                _ => (StatusCode::BAD_REQUEST, e.error_code()),
            },
            Error::Bearer(e) => match e {
                BearerError::Missing | BearerError::Invalid => {
                    (StatusCode::UNAUTHORIZED, "invalid_token")
                }
                BearerError::Expired => (StatusCode::UNAUTHORIZED, "token_expired"),
                BearerError::Revoked => (StatusCode::UNAUTHORIZED, "token_revoked"),
                BearerError::InsufficientScope(_) => (StatusCode::FORBIDDEN, "insufficient_scope"),
            },
            Error::Release(ReleaseError::Refused { refusal, .. }) => match refusal {
                Refusal::Query(QueryError::TooLarge) => (StatusCode::URI_TOO_LONG, refusal.code()),
                Refusal::Query(_) => (StatusCode::BAD_REQUEST, refusal.code()),
                Refusal::SubjectNotFound => (StatusCode::NOT_FOUND, refusal.code()),
                Refusal::Denied { .. } => (StatusCode::FORBIDDEN, refusal.code()),
            },
            Error::Release(ReleaseError::Citizen(_) | ReleaseError::Consents(_)) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
            }
            Error::Consent(e) => (consent_status(e), e.code()),
            Error::Relay(e) => (relay_status(e), e.code()),
            Error::Store(StoreError::Connect { .. }) => {
                (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable")
            }
            Error::Store(_) | Error::Db(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
            Error::SignIn(e) => {
                use crate::signin::SignInError as S;
                match e {
                    S::UnknownProvider(_) => (StatusCode::NOT_FOUND, "signin_unknown_provider"),
                    S::ProviderUnavailable { .. } => {
                        (StatusCode::BAD_GATEWAY, "signin_provider_unavailable")
                    }
                    S::StateMissing => (StatusCode::BAD_REQUEST, "signin_state_missing"),
                    S::StateInvalid => (StatusCode::BAD_REQUEST, "signin_state_invalid"),
                    S::StateExpired => (StatusCode::BAD_REQUEST, "signin_state_expired"),
                    S::StateUsed => (StatusCode::BAD_REQUEST, "signin_state_used"),
                    S::CallbackMalformed(_) => {
                        (StatusCode::BAD_REQUEST, "signin_callback_malformed")
                    }
                    S::IssuerMismatch => (StatusCode::BAD_REQUEST, "signin_issuer_mismatch"),
                    S::ProviderRefused(_) => (StatusCode::BAD_REQUEST, "signin_cancelled"),
                    S::CodeRejected => (StatusCode::BAD_REQUEST, "signin_code_rejected"),
                    S::IdToken(_) => (StatusCode::BAD_REQUEST, "signin_id_token_invalid"),
                    S::UserinfoSubject => (StatusCode::BAD_REQUEST, "signin_userinfo_mismatch"),
                    S::SubjectInvalid => (StatusCode::BAD_REQUEST, "signin_subject_invalid"),
                    S::NotAnOfficer => (StatusCode::FORBIDDEN, "officer_not_authorised"),
                    S::LinkedElsewhere => (StatusCode::CONFLICT, "identity_linked_elsewhere"),
                    S::ProviderAlreadyLinked => {
                        (StatusCode::CONFLICT, "identity_provider_already_linked")
                    }
                    S::LinkSessionEnded => (StatusCode::BAD_REQUEST, "identity_link_session_ended"),
                    S::LinkNotFound(_) => (StatusCode::NOT_FOUND, "identity_link_not_found"),
                    S::LastLink => (StatusCode::CONFLICT, "identity_last_link"),
                    S::LinkInUse => (StatusCode::CONFLICT, "identity_link_in_use"),
                    S::CitizenUnavailable => (StatusCode::FORBIDDEN, "citizen_unavailable"),
                }
            }
            Error::AuditQuery(e) => (StatusCode::BAD_REQUEST, e.code()),
            Error::Audit(_) | Error::Sign(_) | Error::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
            }
        }
    }

    /// What the client is told. Server-side failures say nothing about their cause (it is logged).
    fn public_detail(&self, status: StatusCode) -> String {
        if status.is_server_error() {
            match self {
                Error::NotReady(why) => format!("the broker is not ready: {why}"),
                Error::SignIn(e) => e.to_string(),
                _ => "the broker could not complete the request; it has been logged".to_owned(),
            }
        } else {
            self.to_string()
        }
    }
}

/// The status of each relay error (its code is `RelayError::code`).
fn relay_status(e: &crate::relay::RelayError) -> StatusCode {
    use crate::relay::RelayError as R;
    match e {
        R::UnknownAttribute(_)
        | R::InvalidValue(_)
        | R::UnknownEvent(_)
        | R::EventMismatch { .. }
        | R::NoAttributes
        | R::NotEditable(_) => StatusCode::BAD_REQUEST,
        R::NotAuthoritative(_) => StatusCode::FORBIDDEN,
        R::SubjectNotFound | R::UnknownDelivery(_) => StatusCode::NOT_FOUND,
        R::SubjectDeceased => StatusCode::CONFLICT,
        R::Citizen(_) | R::Consents(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The status of each consent ledger error (its code is `LedgerError::code`).
fn consent_status(e: &crate::consents::LedgerError) -> StatusCode {
    use crate::consents::LedgerError as L;
    match e {
        L::Duplicate | L::NotPending | L::NotActive | L::Conflict => StatusCode::CONFLICT,
        L::Store(crate::consents::ConsentStoreError::Conflict) => StatusCode::CONFLICT,
        L::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
        | L::ReceiptMalformed
        | L::ReceiptSignature
        | L::ReceiptNotInLedger => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        self.classify().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code) = self.classify();
        if let Error::SignInRequired { to, next } = self {
            let location = format!(
                "{to}?next={}",
                url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            );
            return HttpResponse::SeeOther()
                .insert_header(("Location", location))
                .finish();
        }
        if let Error::OAuth(e) = self {
            // RFC 6749 §5.2: what OAuth client libraries expect from a token endpoint. No
            // WWW-Authenticate: clients authenticate with an assertion, not an HTTP scheme.
            return HttpResponse::build(status)
                .insert_header(("Cache-Control", "no-store"))
                .json(serde_json::json!({ "error": code, "error_description": e.to_string() }));
        }
        if let Error::Bearer(e) = self {
            // RFC 6750 §3: the challenge says what went wrong, never echoing the token.
            let challenge = match e {
                BearerError::Missing => "Bearer realm=\"broker\"".to_owned(),
                BearerError::InsufficientScope(scope) => {
                    format!(
                        "Bearer realm=\"broker\", error=\"insufficient_scope\", scope=\"{scope}\""
                    )
                }
                _ => "Bearer realm=\"broker\", error=\"invalid_token\"".to_owned(),
            };
            let mut res = Problem::new(status, code, self.to_string()).response();
            if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&challenge) {
                res.headers_mut()
                    .insert(actix_web::http::header::WWW_AUTHENTICATE, value);
            }
            return res;
        }
        if let Error::Release(ReleaseError::Refused { refusal, txn }) = self {
            let mut problem = Problem::new(status, code, self.to_string());
            problem.extensions.insert("txn".into(), txn.clone().into());
            if let Refusal::Denied { codes, withheld } = refusal {
                problem
                    .extensions
                    .insert("codes".into(), serde_json::json!(codes));
                problem
                    .extensions
                    .insert("withheld".into(), serde_json::json!(withheld));
            }
            return problem.response();
        }
        if status.is_server_error() {
            // The cause goes to the log (it names no values: see error.rs), never to the client.
            tracing::error!(code, error = %self, "request failed");
        }
        Problem::new(status, code, self.public_detail(status)).response()
    }
}

/// Error handlers that turn actix's own extractor failures into problem responses.
pub mod extractors {
    use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError, UrlencodedError};
    use actix_web::{HttpRequest, web};

    use crate::error::{Error, InputError};

    pub fn json_config(limit: usize) -> web::JsonConfig {
        web::JsonConfig::default()
            .limit(limit)
            .error_handler(move |err, _req: &HttpRequest| {
                let input = match &err {
                    JsonPayloadError::Overflow { .. }
                    | JsonPayloadError::OverflowKnownLength { .. } => {
                        InputError::TooLarge { limit }
                    }
                    JsonPayloadError::ContentType => InputError::UnsupportedMediaType {
                        expected: "application/json",
                    },
                    JsonPayloadError::Deserialize(e) => {
                        InputError::MalformedJson(describe_serde(e))
                    }
                    _ => InputError::MalformedJson("unreadable body".to_owned()),
                };
                Error::from(input).into()
            })
    }

    pub fn form_config(limit: usize) -> web::FormConfig {
        web::FormConfig::default()
            .limit(limit)
            .error_handler(move |err, _req| {
                let input = match &err {
                    UrlencodedError::Overflow { .. } => InputError::TooLarge { limit },
                    UrlencodedError::ContentType => InputError::UnsupportedMediaType {
                        expected: "application/x-www-form-urlencoded",
                    },
                    other => InputError::MalformedForm(first_line(&other.to_string())),
                };
                Error::from(input).into()
            })
    }

    pub fn query_config() -> web::QueryConfig {
        web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req| {
            Error::from(InputError::MalformedQuery(first_line(&err.to_string()))).into()
        })
    }

    pub fn path_config() -> web::PathConfig {
        web::PathConfig::default().error_handler(|err: PathError, _req| {
            Error::from(InputError::MalformedPath(first_line(&err.to_string()))).into()
        })
    }

    /// serde names fields and expected types, but its "invalid type/value" messages quote the
    /// value that was sent, which may be personal data: those become a position only.
    fn describe_serde(e: &serde_json::Error) -> String {
        let text = e.to_string();
        if ["invalid type", "invalid value", "invalid length"]
            .iter()
            .any(|m| text.contains(m))
        {
            format!(
                "a field has the wrong type or value (line {}, column {})",
                e.line(),
                e.column()
            )
        } else {
            first_line(&text)
        }
    }

    fn first_line(text: &str) -> String {
        text.lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect()
    }
}
