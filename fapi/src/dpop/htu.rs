//! The `htu` comparison of RFC 9449 §4.3: the HTTP target URI without query and fragment, after
//! syntax-based (RFC 3986 §6.2.2) and scheme-based (§6.2.3) normalisation, as the RFC says
//! servers SHOULD do "to reduce the likelihood of false negatives".
//!
//! The `url` crate (WHATWG parsing) already lowercases scheme and host, removes a default port,
//! resolves dot segments and turns an empty path into `/`. What it leaves is percent-encoding:
//! here unreserved characters are decoded and the hex digits of the remaining escapes
//! uppercased, so `/%7Euser` and `/~user` compare equal while `/a%2Fb` and `/a/b` stay different.

use url::Url;

/// The normalised form `scheme://host[:port]/path`, or `None` for anything that is not an
/// absolute `http`/`https` URI with a host, or that carries user information (a target URI
/// never does; a proof naming one is not for this request).
pub(crate) fn normalize(uri: &str) -> Option<String> {
    let url = Url::parse(uri).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    let host = url.host_str()?;
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    Some(format!(
        "{}://{host}{port}{}",
        url.scheme(),
        normalize_percent_encoding(url.path())
    ))
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn normalize_percent_encoding(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex_value(*hi).zip(hex_value(*lo)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match escape {
            Some(decoded) if is_unreserved(decoded) => {
                out.push(char::from(decoded));
                i += 3;
            }
            Some(decoded) => {
                out.push_str(&format!("%{decoded:02X}"));
                i += 3;
            }
            None => {
                // INVARIANT: `path` is ASCII (the url crate percent-encodes everything else), so
                // each byte is one char.
                out.push(char::from(bytes[i]));
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn normalising_any_text_never_panics_and_is_idempotent(uri in "\\PC{0,120}") {
            if let Some(normal) = normalize(&uri) {
                prop_assert_eq!(normalize(&normal), Some(normal.clone()));
            }
        }

        #[test]
        fn normalising_uri_shaped_text_never_panics(
            scheme in prop_oneof![Just("http"), Just("https"), Just("HTTPS"), Just("ftp")],
            host in "[A-Za-z0-9.%-]{0,20}",
            path in "[A-Za-z0-9/%.~_!$&'()*+,;=:@-]{0,40}",
        ) {
            let uri = format!("{scheme}://{host}/{path}");
            if let Some(normal) = normalize(&uri) {
                prop_assert_eq!(normalize(&normal), Some(normal.clone()));
            }
        }
    }

    #[test]
    fn query_fragment_case_and_default_ports_are_normalised_away() {
        let base = Some("https://server.example.com/token".to_string());
        for same in [
            "https://server.example.com/token",
            "https://server.example.com/token?x=1",
            "https://server.example.com/token#frag",
            "HTTPS://Server.Example.COM/token",
            "https://server.example.com:443/token",
            "https://server.example.com/a/../token",
            "https://server.example.com/./token",
            "https://server.example.com/%74oken",
        ] {
            assert_eq!(normalize(same), base, "{same}");
        }
        assert_eq!(
            normalize("http://localhost:80"),
            Some("http://localhost/".to_string())
        );
    }

    #[test]
    fn what_changes_the_resource_stays_different() {
        let base = normalize("https://server.example.com/token");
        for different in [
            "http://server.example.com/token",
            "https://server.example.com:8443/token",
            "https://server.example.com/Token",
            "https://server.example.com/token/",
            "https://other.example.com/token",
        ] {
            assert_ne!(normalize(different), base, "{different}");
        }
        assert_ne!(
            normalize("https://a.example/x%2Fy"),
            normalize("https://a.example/x/y")
        );
        assert_eq!(
            normalize("https://a.example/x%2fy"),
            normalize("https://a.example/x%2Fy")
        );
    }

    #[test]
    fn non_http_relative_and_credentialed_uris_have_no_normal_form() {
        for bad in [
            "/token",
            "server.example.com/token",
            "ftp://server.example.com/token",
            "urn:ietf:params:oauth:request_uri:abc",
            "https://user:pass@server.example.com/token",
            "https://user@server.example.com/token",
            "",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }
}
