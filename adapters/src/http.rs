//! The one HTTP client every adapter shares, and careful handling of what departments send back:
//! bounded bodies, `Retry-After`, and scrubbing anything a receiver says before we repeat it.

use std::time::Duration;

use reqwest::Response;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use url::{Host, Url};

use crate::AdapterError;
use crate::config::Settings;

/// How the shared HTTP client is built. Per-adapter settings (total timeout, concurrency, secret)
/// live in each adapter's config.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Upper bound on establishing a TCP + TLS connection, for every adapter.
    pub connect_timeout: Duration,
    /// Honour `HTTPS_PROXY`/`NO_PROXY` from the environment (an outbound proxy in production).
    pub use_system_proxy: bool,
    /// Sent as `User-Agent`.
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            use_system_proxy: true,
            user_agent: concat!("tell-us-once-broker/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// The shared client: rustls, redirects never followed (a redirect could carry a SET to a host
/// nobody registered), connection pooling across adapters. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
}

impl HttpClient {
    pub fn new(options: &ClientOptions) -> Result<Self, AdapterError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(options.connect_timeout)
            .user_agent(options.user_agent.clone());
        if !options.use_system_proxy {
            builder = builder.no_proxy();
        }
        let inner = builder.build().map_err(AdapterError::HttpClient)?;
        Ok(Self { inner })
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.inner
    }
}

/// Reads an `http`/`https` URL setting. Plain `http` is accepted only for loopback hosts unless the
/// operator opts in: a SET or a pulled value carries personal data.
pub(crate) fn url_setting(
    settings: &mut Settings<'_>,
    field: &'static str,
) -> Result<Url, AdapterError> {
    let raw = settings.required_string(field)?;
    let allow_plain_http = settings.boolean("allow_plain_http", false)?;
    let url = Url::parse(raw).map_err(|_| settings.invalid(field, "must be an absolute url"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(settings.invalid(field, "must not carry credentials; use `authorization`"));
    }
    if url.fragment().is_some() {
        return Err(settings.invalid(field, "must not have a fragment"));
    }
    match url.scheme() {
        "https" => {}
        "http" if allow_plain_http || is_loopback(&url) => {}
        "http" => {
            return Err(settings.invalid(
                field,
                "must use https (plain http only for loopback hosts or with `allow_plain_http`)",
            ));
        }
        _ => return Err(settings.invalid(field, "must be an http or https url")),
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Statuses worth trying again: 408, 429 and every 5xx.
pub(crate) fn is_transient_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..=599).contains(&status)
}

/// Why a body could not be read whole.
pub(crate) enum BodyError {
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads at most `limit` bytes of body, refusing rather than truncating anything longer, whether
/// or not the department declared a `Content-Length`.
pub(crate) async fn read_bounded(
    response: &mut Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    let declared = response.content_length().unwrap_or(0);
    if usize::try_from(declared).map_or(true, |declared| declared > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// What a transport failure means, without any of reqwest's text (it names the URL).
pub(crate) fn transport_error(error: &reqwest::Error, timeout: Duration) -> AdapterError {
    if error.is_timeout() {
        AdapterError::Timeout { timeout }
    } else if error.is_connect() {
        AdapterError::Connect
    } else {
        AdapterError::Request
    }
}

/// The `Retry-After` header as a delay: delta-seconds or an HTTP date, capped at a day so a
/// receiver cannot park a delivery forever.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    const CAP: Duration = Duration::from_secs(86_400);
    let raw = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let delay = if let Ok(seconds) = raw.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let at = chrono::DateTime::parse_from_rfc2822(raw).ok()?;
        (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
    };
    Some(delay.min(CAP))
}

/// A receiver's error code if it looks like one (`invalid_key`): 1–64 of `[A-Za-z0-9_.-]`.
pub(crate) fn sanitize_code(raw: &str) -> Option<String> {
    let ok = (1..=64).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    ok.then(|| raw.to_owned())
}

/// A receiver's free text made safe to store and show: control characters become spaces, any
/// word that could be a token (long, or a piece of what we sent) is replaced, and the result is
/// cut to `max_chars`.
pub(crate) fn sanitize_text(raw: &str, sent: &str, max_chars: usize) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let words: Vec<&str> = cleaned
        .split_whitespace()
        .map(|word| {
            if looks_like_secret(word, sent) {
                "[redacted]"
            } else {
                word
            }
        })
        .collect();
    let joined = words.join(" ");
    if joined.chars().count() <= max_chars {
        joined
    } else {
        let mut cut: String = joined.chars().take(max_chars.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

fn looks_like_secret(word: &str, sent: &str) -> bool {
    const LONGEST_PLAIN_WORD: usize = 32;
    if word.chars().count() > LONGEST_PLAIN_WORD {
        return true;
    }
    // Any run of 8+ token characters that also occurs in what we sent is an echo of it.
    word.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .any(|piece| piece.len() >= 8 && sent.contains(piece))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;
    use serde_json::json;

    use super::*;

    fn url_from(settings: serde_json::Value) -> Result<Url, AdapterError> {
        let map = settings.as_object().unwrap().clone();
        let mut settings = Settings::new("push", &map);
        url_setting(&mut settings, "endpoint")
    }

    #[test]
    fn urls_must_be_https_unless_loopback_or_allowed() {
        assert!(url_from(json!({"endpoint": "https://dept.example/events"})).is_ok());
        assert!(url_from(json!({"endpoint": "http://127.0.0.1:9000/events"})).is_ok());
        assert!(url_from(json!({"endpoint": "http://localhost/events"})).is_ok());
        assert!(url_from(json!({"endpoint": "http://[::1]:80/events"})).is_ok());
        let error = url_from(json!({"endpoint": "http://dept.example/events"}))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`endpoint`") && error.contains("https"),
            "{error}"
        );
        assert!(
            url_from(json!({"endpoint": "http://dept.example/e", "allow_plain_http": true}))
                .is_ok()
        );
        assert!(url_from(json!({"endpoint": "ftp://dept.example/e"})).is_err());
        assert!(url_from(json!({"endpoint": "/relative"})).is_err());
        assert!(url_from(json!({"endpoint": "https://dept.example/e#frag"})).is_err());
    }

    #[test]
    fn urls_with_credentials_are_refused_without_repeating_them() {
        let error = url_from(json!({"endpoint": "https://user:pa55word@dept.example/e"}))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`endpoint`") && error.contains("credentials"),
            "{error}"
        );
        assert!(!error.contains("pa55word"));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_and_caps_them() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(120)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("99999999"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(86_400)));
        let soon = (chrono::Utc::now() + chrono::TimeDelta::seconds(600))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&soon).unwrap());
        let delay = retry_after(&headers).unwrap();
        assert!(delay > Duration::from_secs(590) && delay <= Duration::from_secs(600));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("later"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn codes_are_kept_only_when_they_look_like_codes() {
        assert_eq!(sanitize_code("invalid_key").as_deref(), Some("invalid_key"));
        assert_eq!(sanitize_code("bad code"), None);
        assert_eq!(sanitize_code(""), None);
        assert_eq!(sanitize_code(&"x".repeat(65)), None);
    }

    #[test]
    fn text_is_scrubbed_of_echoes_tokens_and_control_characters() {
        let sent = "eyJhbGciOiJFUzI1NiJ9.eyJldmVudHMiOnt9fQ.c2lnbmF0dXJlc2ln";
        let said = "bad\nsignature on eyJhbGciOiJFUzI1NiJ9 and c2lnbmF0dXJlc2ln\u{7}";
        let text = sanitize_text(said, sent, 200);
        assert_eq!(text, "bad signature on [redacted] and [redacted]");
        let long = sanitize_text(&"word ".repeat(100), sent, 20);
        assert_eq!(long.chars().count(), 20);
        assert!(long.ends_with('…'));
        assert_eq!(sanitize_text(&"a".repeat(40), sent, 200), "[redacted]");
    }
}
