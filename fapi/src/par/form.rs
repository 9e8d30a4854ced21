//! `application/x-www-form-urlencoded` bodies and query strings (RFC 6749 Appendix B), read
//! strictly: UTF-8 only, no malformed percent escapes, bounded in count and size. RFC 6749 §3.1:
//! a parameter without a value is as if omitted, and a parameter may not appear twice — which is
//! enforced for the parameters this crate reads (unknown ones, ignored, may repeat: RFC 8707's
//! `resource`, for one, legitimately does).

use super::ParError;

/// The most parameters one request may carry.
pub const MAX_PARAMETERS: usize = 64;
/// The longest single parameter (name or value) after decoding, in bytes.
pub const MAX_PARAMETER_LEN: usize = 16_384;

/// Decoded name/value pairs, in order.
#[derive(Debug, Default)]
pub(crate) struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub(crate) fn parse(body: &[u8]) -> Result<Self, ParError> {
        let mut pairs = Vec::new();
        for part in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            if pairs.len() == MAX_PARAMETERS {
                return Err(ParError::TooManyParameters);
            }
            let (name, value) = match part.iter().position(|b| *b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &part[part.len()..]),
            };
            pairs.push((decode(name)?, decode(value)?));
        }
        Ok(Self { pairs })
    }

    /// The one value of a known parameter: `None` if absent or empty, an error if repeated
    /// (RFC 6749 §3.1, counting empty occurrences too).
    pub(crate) fn get(&self, name: &'static str) -> Result<Option<&str>, ParError> {
        let mut found = self.pairs.iter().filter(|(n, _)| n == name);
        let first = found.next();
        if found.next().is_some() {
            return Err(ParError::Repeated(name));
        }
        Ok(first.map(|(_, v)| v.as_str()).filter(|v| !v.is_empty()))
    }

    pub(crate) fn require(&self, name: &'static str) -> Result<&str, ParError> {
        self.get(name)?.ok_or(ParError::Missing(name))
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode(raw: &[u8]) -> Result<String, ParError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let byte = raw
                    .get(i + 1)
                    .and_then(|h| hex(*h))
                    .zip(raw.get(i + 2).and_then(|l| hex(*l)))
                    .map(|(h, l)| h * 16 + l)
                    .ok_or(ParError::MalformedBody)?;
                out.push(byte);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
        if out.len() > MAX_PARAMETER_LEN {
            return Err(ParError::ParameterTooLong);
        }
    }
    String::from_utf8(out).map_err(|_| ParError::MalformedBody)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_decoded_in_order() {
        let form = Form::parse(b"a=1&b=x+y%20z&c=&d&e=%C3%A9").unwrap();
        assert_eq!(form.get("a").unwrap(), Some("1"));
        assert_eq!(form.get("b").unwrap(), Some("x y z"));
        assert_eq!(form.get("c").unwrap(), None, "empty is omitted");
        assert_eq!(form.get("d").unwrap(), None);
        assert_eq!(form.get("e").unwrap(), Some("é"));
        assert_eq!(form.get("missing").unwrap(), None);
        assert_eq!(
            form.require("missing").unwrap_err(),
            ParError::Missing("missing")
        );
    }

    #[test]
    fn repeats_malformed_escapes_and_bad_utf8_are_refused() {
        let form = Form::parse(b"scope=openid&scope=").unwrap();
        assert_eq!(form.get("scope"), Err(ParError::Repeated("scope")));
        for body in [&b"a=%zz"[..], b"a=%4", b"a=%C3", b"a=\xff"] {
            assert_eq!(Form::parse(body).unwrap_err(), ParError::MalformedBody);
        }
    }

    #[test]
    fn counts_and_sizes_are_bounded() {
        let many = vec!["x=1"; MAX_PARAMETERS + 1].join("&");
        assert_eq!(
            Form::parse(many.as_bytes()).unwrap_err(),
            ParError::TooManyParameters
        );
        let long = format!("a={}", "b".repeat(MAX_PARAMETER_LEN + 1));
        assert_eq!(
            Form::parse(long.as_bytes()).unwrap_err(),
            ParError::ParameterTooLong
        );
    }
}
