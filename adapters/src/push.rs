//! HTTP push (RFC 8935): each SET is POSTed to the department's endpoint as
//! `application/secevent+jwt`; `202 Accepted` (any 2xx) means delivered.
//!
//! Each adapter has its own concurrency limit, so a department whose receiver never answers uses up
//! only its own slots: other departments' deliveries do not queue behind it.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde::Deserialize;
use tokio::sync::Semaphore;
use url::Url;

use crate::config::{BearerToken, Settings};
use crate::http::{self, HttpClient};
use crate::registry::Adapter;
use crate::{AdapterError, BoxFuture, DeliveryAdapter, DeliveryOutcome, Outgoing};

/// The registry key.
pub const KIND: &str = "push";

/// The media type of a SET (RFC 8417 §2.3).
pub const SECEVENT_JWT: &str = "application/secevent+jwt";

// An RFC 8935 error body is a few hundred bytes; anything longer is not one.
const ERROR_BODY_LIMIT: usize = 4 * 1024;
const DESCRIPTION_CHARS: usize = 120;

/// A push adapter's settings:
/// `{"kind": "push", "endpoint": "https://…", "timeout_ms": 5000, "max_concurrency": 4,
///   "authorization": "<bearer secret>", "allow_plain_http": false}`.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// Where SETs are POSTed.
    pub endpoint: Url,
    /// Total time for one delivery, connection to last byte (`timeout_ms`, default 5000).
    pub timeout: Duration,
    /// Requests in flight to this department at once (`max_concurrency`, default 4).
    pub max_concurrency: usize,
    /// Sent as `Authorization: Bearer …` when the receiver wants it.
    pub authorization: Option<BearerToken>,
}

impl PushConfig {
    fn from_settings(settings: &mut Settings<'_>) -> Result<Self, AdapterError> {
        let endpoint = http::url_setting(settings, "endpoint")?;
        let timeout_ms = settings.integer("timeout_ms", 100, 120_000, 5_000)?;
        let max_concurrency = settings.integer("max_concurrency", 1, 64, 4)?;
        let authorization = settings.bearer("authorization")?;
        Ok(Self {
            endpoint,
            timeout: Duration::from_millis(timeout_ms),
            max_concurrency: usize::try_from(max_concurrency).unwrap_or(1),
            authorization,
        })
    }
}

/// Registration: see [`crate::registry`].
pub(crate) fn build(
    settings: &mut Settings<'_>,
    http: &HttpClient,
) -> Result<Adapter, AdapterError> {
    let config = PushConfig::from_settings(settings)?;
    Ok(Adapter::delivery(PushAdapter::new(http, config)))
}

/// Delivers SETs to one department's RFC 8935 endpoint.
#[derive(Debug)]
pub struct PushAdapter {
    http: reqwest::Client,
    config: PushConfig,
    slots: Semaphore,
}

impl PushAdapter {
    pub fn new(http: &HttpClient, config: PushConfig) -> Self {
        let slots = Semaphore::new(config.max_concurrency.max(1));
        Self {
            http: http.client().clone(),
            config,
            slots,
        }
    }

    /// One event: wait for a slot (bounded by the timeout too, so a batch behind a stuck receiver
    /// ends in about twice the timeout), POST, classify.
    async fn deliver_one(&self, event: &Outgoing) -> DeliveryOutcome {
        let timeout = self.config.timeout;
        let _slot = match tokio::time::timeout(timeout, self.slots.acquire()).await {
            Ok(Ok(slot)) => slot,
            Ok(Err(_)) => return DeliveryOutcome::retry("adapter_closed", "the adapter shut down"),
            Err(_) => {
                return DeliveryOutcome::retry(
                    "receiver_busy",
                    format!(
                        "all {} connections to the receiver stayed busy for {} ms",
                        self.config.max_concurrency,
                        timeout.as_millis()
                    ),
                );
            }
        };
        let mut request = self
            .http
            .post(self.config.endpoint.clone())
            .timeout(timeout)
            .header(CONTENT_TYPE, SECEVENT_JWT)
            .header(ACCEPT, "application/json")
            .body(event.set_jwt.clone());
        if let Some(token) = &self.config.authorization {
            request = request.header(AUTHORIZATION, token.header_value());
        }
        match request.send().await {
            Ok(response) => classify(response, &event.set_jwt).await,
            Err(error) => transport_outcome(&http::transport_error(&error, timeout)),
        }
    }
}

impl DeliveryAdapter for PushAdapter {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn deliver_batch<'a>(&'a self, batch: &'a [Outgoing]) -> BoxFuture<'a, Vec<DeliveryOutcome>> {
        // join_all keeps the order of `batch`; the semaphore keeps the concurrency.
        Box::pin(join_all(batch.iter().map(|event| self.deliver_one(event))))
    }
}

fn transport_outcome(error: &AdapterError) -> DeliveryOutcome {
    let code = match error {
        AdapterError::Timeout { .. } => "timeout",
        AdapterError::Connect => "connect_failed",
        _ => "request_failed",
    };
    DeliveryOutcome::retry(code, error.to_string())
}

/// An RFC 8935 §2.3 error body; every other member is ignored.
#[derive(Deserialize)]
struct ErrorBody {
    err: Option<String>,
    description: Option<String>,
}

/// Maps the receiver's answer to an outcome. Only 4xx bodies are read, bounded, and only their
/// `err` code and a scrubbed `description` survive.
async fn classify(mut response: reqwest::Response, sent: &str) -> DeliveryOutcome {
    let status = response.status();
    let code = status.as_u16();
    let fallback_code = format!("http_{code}");
    if status.is_success() {
        return DeliveryOutcome::delivered(format!("accepted with http status {code}"));
    }
    if http::is_transient_status(code) || !status.is_client_error() {
        let detail = if status.is_redirection() {
            format!("http status {code}: the receiver redirected and redirects are not followed")
        } else {
            format!("http status {code}")
        };
        return DeliveryOutcome::Retry {
            error_code: fallback_code,
            detail,
            retry_after: http::retry_after(response.headers()),
        };
    }
    // A body too long or cut off is no RFC 8935 error: the status alone decides.
    let body = http::read_bounded(&mut response, ERROR_BODY_LIMIT)
        .await
        .ok();
    let parsed = body.and_then(|body| serde_json::from_slice::<ErrorBody>(&body).ok());
    let error_code = parsed
        .as_ref()
        .and_then(|body| body.err.as_deref())
        .and_then(http::sanitize_code)
        .unwrap_or(fallback_code);
    let detail = match parsed.and_then(|body| body.description) {
        Some(description) => format!(
            "http status {code}: {}",
            http::sanitize_text(&description, sent, DESCRIPTION_CHARS)
        ),
        None => format!("http status {code}"),
    };
    // Only 4xx other than 408 and 429 get here: the receiver refused these bytes for good.
    DeliveryOutcome::rejected(error_code, detail)
}

#[cfg(test)]
mod tests;
