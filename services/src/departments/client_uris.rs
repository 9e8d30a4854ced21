//! The URIs a department's web application registers for signing citizens in and out: where the
//! broker sends the citizen back (`redirect_uris`), where it may send them after signing out
//! (`post_logout_redirect_uris`), and where it posts logout tokens (`backchannel_logout_uri`).
//! One check for all three, used by the registry file and so by `broker departments add`.
//!
//! INVARIANT: a URI is stored exactly as given, never normalised: the provider compares a
//! request's redirect URI character for character (FAPI 2.0, RFC 9700 §4.1.3). So a URI the URL
//! parser would read differently from how it is written (spaces, control characters, `https:x`
//! without `//`) is refused rather than cleaned.
//!
//! Errors never quote more than 64 characters of a URI, and never one that carries a user name or
//! password.

/// At most this many URIs in one list.
pub const MAX_URIS: usize = 10;
/// At most this many characters in one URI.
pub const MAX_URI_CHARS: usize = 2048;
/// How much of a refused URI an error quotes.
const QUOTED_CHARS: usize = 64;

/// Why a client's URI is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    #[error("`{0}` is not an absolute URL")]
    NotAbsolute(String),
    #[error("`{0}` holds a space or a control character")]
    Unprintable(String),
    #[error("`{0}` must use https (plain http only on 127.0.0.1, localhost or [::1])")]
    NotHttps(String),
    #[error("`{0}` has a fragment (`#`)")]
    Fragment(String),
    /// The URI is not quoted: its user name or password may be a secret.
    #[error("a URI carries a user name or password")]
    Userinfo,
    #[error("`{0}…` is longer than {MAX_URI_CHARS} characters")]
    TooLong(String),
    #[error("{0} URIs, at most {MAX_URIS} allowed")]
    TooMany(usize),
    #[error("`{0}` is listed twice")]
    Duplicate(String),
}

fn quoted(uri: &str) -> String {
    uri.chars().take(QUOTED_CHARS).collect()
}

/// Plain http on a loopback host (a developer's machine, the tests): the only http allowed.
pub(crate) fn is_loopback_http(url: &url::Url) -> bool {
    url.scheme() == "http"
        && matches!(
            url.host_str(),
            Some("127.0.0.1") | Some("localhost") | Some("[::1]")
        )
}

/// Checks one URI: absolute, `https` (or `http` on a loopback host), with a host, no fragment, no
/// user name or password, at most [`MAX_URI_CHARS`] characters, written as the parser reads it.
pub fn check_uri(uri: &str) -> Result<(), UriError> {
    if uri.chars().count() > MAX_URI_CHARS {
        return Err(UriError::TooLong(quoted(uri)));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UriError::Unprintable(quoted(uri)));
    }
    let parsed = url::Url::parse(uri).map_err(|_| UriError::NotAbsolute(quoted(uri)))?;
    // The parser reads `https:x` as `https://x/`: the stored text must say what it means.
    let scheme_end = parsed.scheme().len();
    let authority = uri
        .get(scheme_end..)
        .and_then(|rest| rest.strip_prefix("://"))
        .filter(|_| parsed.host_str().is_some_and(|h| !h.is_empty()))
        .ok_or_else(|| UriError::NotAbsolute(quoted(uri)))?;
    // `https://@host/` parses with an empty user name: look at the text as well.
    let authority = authority.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(UriError::Userinfo);
    }
    if parsed.scheme() != "https" && !is_loopback_http(&parsed) {
        return Err(UriError::NotHttps(quoted(uri)));
    }
    if parsed.fragment().is_some() {
        return Err(UriError::Fragment(quoted(uri)));
    }
    Ok(())
}

/// Checks a list: at most [`MAX_URIS`], none twice, each as [`check_uri`].
pub fn check_uris(uris: &[String]) -> Result<(), UriError> {
    if uris.len() > MAX_URIS {
        return Err(UriError::TooMany(uris.len()));
    }
    for (i, uri) in uris.iter().enumerate() {
        check_uri(uri)?;
        if uris[..i].contains(uri) {
            return Err(UriError::Duplicate(quoted(uri)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_and_loopback_http_are_accepted_as_written() {
        for ok in [
            "https://app.example/callback",
            "https://app.example:8443/cb?tenant=a&x=1",
            "https://app.example",
            "http://127.0.0.1:3000/cb",
            "http://localhost/cb",
            "http://[::1]:8080/cb",
        ] {
            assert_eq!(check_uri(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn each_rule_refuses_with_its_reason() {
        let long = format!("https://app.example/{}", "a".repeat(MAX_URI_CHARS));
        let cases: [(&str, fn(&UriError) -> bool); 14] = [
            ("http://app.example/cb", |e| {
                matches!(e, UriError::NotHttps(_))
            }),
            ("http://127.0.0.1.example/cb", |e| {
                matches!(e, UriError::NotHttps(_))
            }),
            ("ftp://app.example/cb", |e| {
                matches!(e, UriError::NotHttps(_))
            }),
            ("https://app.example/cb#top", |e| {
                matches!(e, UriError::Fragment(_))
            }),
            ("https://app.example/cb#", |e| {
                matches!(e, UriError::Fragment(_))
            }),
            ("https://user:pw@app.example/cb", |e| {
                *e == UriError::Userinfo
            }),
            ("https://user@app.example/cb", |e| *e == UriError::Userinfo),
            ("https://@app.example/cb", |e| *e == UriError::Userinfo),
            ("/callback", |e| matches!(e, UriError::NotAbsolute(_))),
            ("callback", |e| matches!(e, UriError::NotAbsolute(_))),
            ("https:app.example/cb", |e| {
                matches!(e, UriError::NotAbsolute(_))
            }),
            ("urn:example:cb", |e| matches!(e, UriError::NotAbsolute(_))),
            (" https://app.example/cb", |e| {
                matches!(e, UriError::Unprintable(_))
            }),
            (long.as_str(), |e| matches!(e, UriError::TooLong(_))),
        ];
        for (uri, expected) in cases {
            let err = check_uri(uri).expect_err(uri);
            assert!(expected(&err), "{uri}: {err:?}");
            let message = err.to_string();
            assert!(message.chars().count() < 64 + 80, "{message}");
            assert!(!message.contains("pw@"), "{message}");
        }
    }

    #[test]
    fn a_list_is_refused_when_too_long_or_repeating() {
        let eleven: Vec<String> = (0..=MAX_URIS)
            .map(|i| format!("https://app.example/cb{i}"))
            .collect();
        assert_eq!(check_uris(&eleven[..MAX_URIS]), Ok(()));
        assert_eq!(check_uris(&eleven), Err(UriError::TooMany(MAX_URIS + 1)));
        let twice = vec![
            "https://app.example/a".to_owned(),
            "https://app.example/b".to_owned(),
            "https://app.example/a".to_owned(),
        ];
        assert_eq!(
            check_uris(&twice),
            Err(UriError::Duplicate("https://app.example/a".into()))
        );
        // Compared as written: a trailing slash makes another URI.
        let distinct = vec![
            "https://app.example/a".to_owned(),
            "https://app.example/a/".to_owned(),
        ];
        assert_eq!(check_uris(&distinct), Ok(()));
        assert_eq!(check_uris(&[]), Ok(()));
    }
}
