//! Pull source: the broker fetches values from an authoritative department that cannot push them.
//! The department API it expects is documented in the crate docs.
//!
//! Every response is bounded in size and checked for shape before anything is returned; nothing a
//! department sends is logged or repeated in an error.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde_json::{Map, Value};
use url::Url;

use crate::AdapterError;
use crate::config::{BearerToken, Settings};
use crate::http::{self, BodyError, HttpClient};
use crate::registry::Adapter;

/// The registry key.
pub const KIND: &str = "pull";

const MAX_SUBJECT_LEN: usize = 255;
const MAX_CURSOR_LEN: usize = 1024;
const MAX_METHOD_LEN: usize = 64;

/// A pull source's settings:
/// `{"kind": "pull", "base_url": "https://vitalstats.example/tuo", "timeout_ms": 5000,
///   "authorization": "<bearer secret>", "poll_interval_secs": 300, "page_size": 100,
///   "max_response_bytes": 65536, "loa": 3, "allow_plain_http": false}`.
#[derive(Debug, Clone)]
pub struct PullConfig {
    /// The department API's root; paths are appended to it.
    pub base_url: Url,
    /// Total time for one request (`timeout_ms`, default 5000).
    pub timeout: Duration,
    /// Sent as `Authorization: Bearer …` when the department wants it.
    pub authorization: Option<BearerToken>,
    /// How often the broker should call [`PullSource::changes_since`] (`poll_interval_secs`,
    /// default 300).
    pub poll_interval: Duration,
    /// The `limit` asked of `GET /changes` (`page_size`, default 100).
    pub page_size: u32,
    /// Largest response body accepted (`max_response_bytes`, default 64 KiB).
    pub max_response_bytes: usize,
    /// The level of assurance (1–4) the broker records for values from this source (`loa`,
    /// default 3): the operator's judgement of the department's registry, not the department's.
    pub loa: u8,
}

impl PullConfig {
    fn from_settings(settings: &mut Settings<'_>) -> Result<Self, AdapterError> {
        let base_url = http::url_setting(settings, "base_url")?;
        if base_url.query().is_some() || base_url.cannot_be_a_base() {
            return Err(settings.invalid("base_url", "must be a base url without a query"));
        }
        let timeout_ms = settings.integer("timeout_ms", 100, 120_000, 5_000)?;
        let authorization = settings.bearer("authorization")?;
        let poll_interval = settings.integer("poll_interval_secs", 1, 7 * 86_400, 300)?;
        let page_size = settings.integer("page_size", 1, 1_000, 100)?;
        let max_bytes =
            settings.integer("max_response_bytes", 1_024, 8 * 1024 * 1024, 64 * 1024)?;
        let loa = settings.integer("loa", 1, 4, 3)?;
        Ok(Self {
            base_url,
            timeout: Duration::from_millis(timeout_ms),
            authorization,
            poll_interval: Duration::from_secs(poll_interval),
            page_size: u32::try_from(page_size).unwrap_or(100),
            max_response_bytes: usize::try_from(max_bytes).unwrap_or(64 * 1024),
            loa: u8::try_from(loa).unwrap_or(3),
        })
    }
}

/// Registration: see [`crate::registry`].
pub(crate) fn build(
    settings: &mut Settings<'_>,
    http: &HttpClient,
) -> Result<Adapter, AdapterError> {
    let config = PullConfig::from_settings(settings)?;
    Ok(Adapter::source(PullSource::new(http, config)))
}

/// A value as the department holds it. `Debug` hides the value.
#[derive(Clone, PartialEq)]
pub struct PulledValue {
    /// Any JSON but `null`; its type is checked against the attribute catalogue by the caller.
    pub value: Value,
    /// When the department verified it (RFC 3339), if it says.
    pub verified_at: Option<String>,
    /// How the department verified it (a short code such as `document_check`), if it says.
    pub method: Option<String>,
}

/// One change from the department's change feed. `Debug` hides the value.
#[derive(Clone, PartialEq)]
pub struct PulledChange {
    /// The department's pairwise subject id for the citizen.
    pub subject: String,
    /// The attribute name, in the catalogue's spelling (`date_of_death`).
    pub attribute: String,
    pub value: PulledValue,
    /// When the change happened at the department (RFC 3339), if it says.
    pub changed_at: Option<String>,
}

/// One page of the change feed.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangesPage {
    pub changes: Vec<PulledChange>,
    /// Opaque; pass it to the next [`PullSource::changes_since`] once these changes are stored.
    pub next_cursor: String,
    /// The department has more changes right now: ask again without waiting for the interval.
    pub has_more: bool,
}

/// Fetches values from one authoritative department.
#[derive(Debug)]
pub struct PullSource {
    http: reqwest::Client,
    config: PullConfig,
}

impl PullSource {
    pub fn new(http: &HttpClient, config: PullConfig) -> Self {
        Self {
            http: http.client().clone(),
            config,
        }
    }

    /// How often the broker should poll [`changes_since`](Self::changes_since).
    pub fn poll_interval(&self) -> Duration {
        self.config.poll_interval
    }

    /// The level of assurance (1–4) to record for values from this source.
    pub fn loa(&self) -> u8 {
        self.config.loa
    }

    /// `GET {base_url}/subjects/{subject}/attributes/{attribute}`: the department's current value,
    /// or `None` when it answers 404.
    pub async fn fetch(
        &self,
        subject: &str,
        attribute: &str,
    ) -> Result<Option<PulledValue>, AdapterError> {
        if !is_subject(subject) {
            return Err(AdapterError::InvalidArgument {
                field: "subject",
                reason: "must be 1 to 255 visible ascii characters",
            });
        }
        if !is_attribute(attribute) {
            return Err(AdapterError::InvalidArgument {
                field: "attribute",
                reason: "must be a catalogue name: lowercase letters, digits and `_`",
            });
        }
        let url = self.url(&["subjects", subject, "attributes", attribute])?;
        match self.get_json(url).await? {
            None => Ok(None),
            Some(Value::Object(body)) => pulled_value(&body, "").map(Some),
            Some(_) => Err(AdapterError::malformed("expected a JSON object")),
        }
    }

    /// `GET {base_url}/changes?since={cursor}&limit={page_size}` (no `since` on the first poll).
    pub async fn changes_since(&self, cursor: Option<&str>) -> Result<ChangesPage, AdapterError> {
        let mut url = self.url(&["changes"])?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(cursor) = cursor {
                if !is_cursor(cursor) {
                    return Err(AdapterError::InvalidArgument {
                        field: "cursor",
                        reason: "must be 1 to 1024 visible ascii characters",
                    });
                }
                query.append_pair("since", cursor);
            }
            query.append_pair("limit", &self.config.page_size.to_string());
        }
        match self.get_json(url).await? {
            Some(Value::Object(body)) => changes_page(&body),
            Some(_) => Err(AdapterError::malformed("expected a JSON object")),
            None => Err(AdapterError::Status {
                status: StatusCode::NOT_FOUND.as_u16(),
                retry_after: None,
            }),
        }
    }

    fn url(&self, segments: &[&str]) -> Result<Url, AdapterError> {
        let mut url = self.config.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| AdapterError::InvalidArgument {
                field: "base_url",
                reason: "must be a base url",
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// GET, bounded, parsed: `Ok(None)` for 404, an error for any other non-200.
    async fn get_json(&self, url: Url) -> Result<Option<Value>, AdapterError> {
        let timeout = self.config.timeout;
        let mut request = self
            .http
            .get(url)
            .timeout(timeout)
            .header(ACCEPT, "application/json");
        if let Some(token) = &self.config.authorization {
            request = request.header(AUTHORIZATION, token.header_value());
        }
        let mut response = request
            .send()
            .await
            .map_err(|error| http::transport_error(&error, timeout))?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            status => {
                return Err(AdapterError::Status {
                    status: status.as_u16(),
                    retry_after: http::retry_after(response.headers()),
                });
            }
        }
        let limit = self.config.max_response_bytes;
        let body = http::read_bounded(&mut response, limit)
            .await
            .map_err(|error| match error {
                BodyError::TooLarge => AdapterError::ResponseTooLarge { limit },
                BodyError::Transport(error) => http::transport_error(&error, timeout),
            })?;
        serde_json::from_slice(&body).map(Some).map_err(|error| {
            AdapterError::malformed(format!(
                "not valid JSON (line {}, column {})",
                error.line(),
                error.column()
            ))
        })
    }
}

fn changes_page(body: &Map<String, Value>) -> Result<ChangesPage, AdapterError> {
    let Some(Value::Array(items)) = body.get("changes") else {
        return Err(AdapterError::malformed("`changes` must be an array"));
    };
    let next_cursor = match body.get("next_cursor") {
        Some(Value::String(cursor)) if is_cursor(cursor) => cursor.clone(),
        _ => {
            return Err(AdapterError::malformed(
                "`next_cursor` must be 1 to 1024 visible ascii characters",
            ));
        }
    };
    let has_more = match body.get("has_more") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(more)) => *more,
        Some(_) => return Err(AdapterError::malformed("`has_more` must be a boolean")),
    };
    let changes = items
        .iter()
        .enumerate()
        .map(|(index, item)| pulled_change(item, index))
        .collect::<Result<_, _>>()?;
    Ok(ChangesPage {
        changes,
        next_cursor,
        has_more,
    })
}

fn pulled_change(item: &Value, index: usize) -> Result<PulledChange, AdapterError> {
    let at = format!("change {index}: ");
    let Value::Object(item) = item else {
        return Err(AdapterError::malformed(format!(
            "{at}expected a JSON object"
        )));
    };
    let subject = match item.get("subject") {
        Some(Value::String(subject)) if is_subject(subject) => subject.clone(),
        _ => {
            return Err(AdapterError::malformed(format!(
                "{at}`subject` is missing or invalid"
            )));
        }
    };
    let attribute = match item.get("attribute") {
        Some(Value::String(name)) if is_attribute(name) => name.clone(),
        _ => {
            return Err(AdapterError::malformed(format!(
                "{at}`attribute` is missing or invalid"
            )));
        }
    };
    let changed_at = timestamp(item, "changed_at", &at)?;
    Ok(PulledChange {
        subject,
        attribute,
        value: pulled_value(item, &at)?,
        changed_at,
    })
}

/// `{"value": …, "verified_at": "…", "method": "…"}`; other members are ignored so departments
/// can add some without breaking the broker.
fn pulled_value(body: &Map<String, Value>, at: &str) -> Result<PulledValue, AdapterError> {
    let value = match body.get("value") {
        None | Some(Value::Null) => {
            return Err(AdapterError::malformed(format!(
                "{at}`value` is missing (answer 404 when there is none)"
            )));
        }
        Some(value) => value.clone(),
    };
    let method = match body.get("method") {
        None | Some(Value::Null) => None,
        Some(Value::String(method)) if is_method(method) => Some(method.clone()),
        Some(_) => {
            return Err(AdapterError::malformed(format!(
                "{at}`method` must be a short code of letters, digits, `_`, `-` or `.`"
            )));
        }
    };
    Ok(PulledValue {
        value,
        verified_at: timestamp(body, "verified_at", at)?,
        method,
    })
}

fn timestamp(
    body: &Map<String, Value>,
    field: &'static str,
    at: &str,
) -> Result<Option<String>, AdapterError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if chrono::DateTime::parse_from_rfc3339(text).is_ok() => {
            Ok(Some(text.clone()))
        }
        Some(_) => Err(AdapterError::malformed(format!(
            "{at}`{field}` must be an RFC 3339 timestamp"
        ))),
    }
}

fn is_subject(subject: &str) -> bool {
    (1..=MAX_SUBJECT_LEN).contains(&subject.len()) && subject.bytes().all(|b| b.is_ascii_graphic())
}

fn is_cursor(cursor: &str) -> bool {
    (1..=MAX_CURSOR_LEN).contains(&cursor.len()) && cursor.bytes().all(|b| b.is_ascii_graphic())
}

fn is_attribute(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 64
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn is_method(method: &str) -> bool {
    (1..=MAX_METHOD_LEN).contains(&method.len())
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl fmt::Debug for PulledValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PulledValue")
            .field("value", &format_args!("<redacted>"))
            .field("verified_at", &self.verified_at)
            .field("method", &self.method)
            .finish()
    }
}

impl fmt::Debug for PulledChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PulledChange")
            .field("subject", &self.subject)
            .field("attribute", &self.attribute)
            .field("value", &self.value)
            .field("changed_at", &self.changed_at)
            .finish()
    }
}

#[cfg(test)]
mod tests;
