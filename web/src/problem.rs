//! RFC 9457 problem responses. This is the one place where an error's class becomes an HTTP status
//! (its stable machine-readable `code` is chosen in `services::error`); handlers return [`Error`]
//! and never build error responses by hand.

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use services::oauth::BearerError;
use services::release::{Refusal, ReleaseError};
use services::{Error as ServiceError, ErrorClass, PublicError};

pub const PROBLEM_JSON: &str = "application/problem+json";
/// `Retry-After` (seconds) on a 503 while the database cannot be reached or the broker is not
/// ready: about a pool's acquire timeout.
const UNAVAILABLE_RETRY_AFTER_S: &str = "5";

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

/// A services error on its way to an HTTP response. Handlers return `Result<_, Error>` and use
/// `?` on any services error; this module alone turns its class into a status.
#[derive(Debug)]
pub struct Error(pub ServiceError);

impl<E: Into<ServiceError>> From<E> for Error {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The one mapping from an error's class to an HTTP status.
pub fn status_of(class: ErrorClass) -> StatusCode {
    match class {
        ErrorClass::BadRequest => StatusCode::BAD_REQUEST,
        ErrorClass::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorClass::Forbidden => StatusCode::FORBIDDEN,
        ErrorClass::NotFound => StatusCode::NOT_FOUND,
        ErrorClass::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorClass::Conflict => StatusCode::CONFLICT,
        ErrorClass::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorClass::UriTooLong => StatusCode::URI_TOO_LONG,
        ErrorClass::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorClass::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorClass::SignInRequired => StatusCode::SEE_OTHER,
        ErrorClass::UpstreamFailed => StatusCode::BAD_GATEWAY,
        ErrorClass::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorClass::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorClass::Pending => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl Error {
    /// Status and stable code.
    pub fn classify(&self) -> (StatusCode, &'static str) {
        (status_of(self.0.class()), self.0.code())
    }

    /// What the client is told. Server-side failures say nothing about their cause (it is logged).
    fn public_detail(&self, status: StatusCode) -> String {
        if status.is_server_error() {
            match &self.0 {
                ServiceError::NotReady(why) => format!("the broker is not ready: {why}"),
                _ if self.0.code() == services::error::DATABASE_UNAVAILABLE => {
                    "the broker's database cannot be reached now; try again shortly".to_owned()
                }
                ServiceError::SignIn(e) => e.to_string(),
                _ => "the broker could not complete the request; it has been logged".to_owned(),
            }
        } else {
            self.0.to_string()
        }
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        self.classify().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code) = self.classify();
        if let ServiceError::SignInRequired { to, next } = &self.0 {
            let location = format!(
                "{to}?next={}",
                url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            );
            return HttpResponse::SeeOther()
                .insert_header(("Location", location))
                .finish();
        }
        if let ServiceError::OAuth(e) = &self.0 {
            // RFC 6749 §5.2: what OAuth client libraries expect from a token endpoint. No
            // WWW-Authenticate: clients authenticate with an assertion, not an HTTP scheme.
            let description = if status.is_server_error() {
                log_server_error(&self.0, code);
                self.public_detail(status)
            } else {
                e.to_string()
            };
            let mut res = HttpResponse::build(status);
            res.insert_header(("Cache-Control", "no-store"));
            if self.0.class() == ErrorClass::Unavailable {
                res.insert_header(("Retry-After", UNAVAILABLE_RETRY_AFTER_S));
            }
            return res
                .json(serde_json::json!({ "error": code, "error_description": description }));
        }
        if let ServiceError::Provider(e) = &self.0 {
            // The OpenID Provider answers in OAuth terms (RFC 6749 §5.2), with the code's fixed
            // description or one naming the check, never what the client sent.
            let mut res = HttpResponse::build(status);
            res.insert_header(("Cache-Control", "no-store"));
            if e.at_resource && status == StatusCode::UNAUTHORIZED {
                // RFC 9449 §7.1: a DPoP challenge naming the error and the algorithms.
                res.insert_header((
                    "WWW-Authenticate",
                    format!(
                        "DPoP error=\"{code}\", algs=\"ES256 PS256 EdDSA\", error_description=\"{}\"",
                        e.description.replace(['"', '\\'], "")
                    ),
                ));
            }
            if status.is_server_error() {
                log_server_error(&self.0, code);
            }
            return res
                .json(serde_json::json!({ "error": code, "error_description": e.description }));
        }
        if self.0.class() == ErrorClass::Unavailable {
            // The database is out of reach, or the broker not ready: the same request may succeed
            // shortly (RFC 9110 §15.6.4).
            log_server_error(&self.0, code);
            let mut res = Problem::new(status, code, self.public_detail(status)).response();
            res.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from_static(UNAVAILABLE_RETRY_AFTER_S),
            );
            return res;
        }
        if let ServiceError::Bearer(e) = &self.0 {
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
            let mut res = Problem::new(status, code, self.0.to_string()).response();
            if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&challenge) {
                res.headers_mut()
                    .insert(actix_web::http::header::WWW_AUTHENTICATE, value);
            }
            return res;
        }
        if let ServiceError::Release(ReleaseError::Refused { refusal, txn }) = &self.0 {
            let mut problem = Problem::new(status, code, self.0.to_string());
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
        if self.0.class() == ErrorClass::Pending {
            // Not a failure: the thing exists and is ready within seconds (RFC 9110 §10.2.3).
            let mut res = Problem::new(status, code, self.0.to_string()).response();
            res.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from_static("1"),
            );
            return res;
        }
        if status.is_server_error() {
            log_server_error(&self.0, code);
        }
        Problem::new(status, code, self.public_detail(status)).response()
    }
}

/// A server-side failure's cause goes to the log (it names no values), never to the client. An
/// outage (`Unavailable`: the database out of reach, not ready) is expected while it lasts: a
/// warning, not an error.
fn log_server_error(e: &ServiceError, code: &str) {
    if e.class() == ErrorClass::Unavailable {
        tracing::warn!(code, error = %e, "request refused: unavailable");
    } else {
        tracing::error!(code, error = %e, "request failed");
    }
}

/// Error handlers that turn actix's own extractor failures into problem responses.
pub mod extractors {
    use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError, UrlencodedError};
    use actix_web::{HttpRequest, web};

    use crate::problem::Error;
    use services::InputError;

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
    pub(crate) fn describe_serde(e: &serde_json::Error) -> String {
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
