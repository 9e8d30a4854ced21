//! Small shared pieces: strict base64url, a JSON reader that refuses duplicate members, SHA-256
//! digests, a comparison that does not stop at the first differing byte, and RFC 3339 times.
//!
//! Why a strict JSON reader: two parsers that disagree on `{"htu": "a", "htu": "b"}` (first wins,
//! last wins) would let one signed proof mean two things. Refusing duplicates keeps ours the only
//! reading.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

pub(crate) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict base64url: no padding, no whitespace, no non-zero trailing bits, so every byte string
/// has exactly one accepted encoding.
pub(crate) fn b64_decode(text: &str) -> Option<Vec<u8>> {
    if !is_b64url(text) {
        return None;
    }
    URL_SAFE_NO_PAD.decode(text).ok()
}

pub(crate) fn is_b64url(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// base64url(SHA-256(bytes)): the shape of `ath`, `jkt`, `dpop_jkt` and a PKCE S256 challenge.
pub fn sha256_b64(bytes: impl AsRef<[u8]>) -> String {
    b64(ring::digest::digest(&ring::digest::SHA256, bytes.as_ref()))
}

/// Equality whose running time does not depend on where two equal-length inputs differ, for
/// comparing values derived from secrets (PKCE challenges, thumbprints bound to tokens). The
/// length itself is public (these values have fixed lengths).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Parses JSON, refusing duplicate object members anywhere and anything after the value.
/// serde_json's own recursion limit (128) bounds nesting, so hostile input cannot exhaust the
/// stack.
pub(crate) fn parse_strict(bytes: &[u8]) -> Option<Value> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let Strict(value) = Strict::deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(value)
}

/// Parses a base64url segment holding a JSON object.
pub(crate) fn decode_object(segment: &str) -> Option<Map<String, Value>> {
    match parse_strict(&b64_decode(segment)?)? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom("duplicate member"));
            }
            let Strict(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

/// A JSON NumericDate (RFC 7519 §2) as whole seconds. Fractions are cut towards negative
/// infinity; anything that is not a finite number in `i64` range is `None`.
pub(crate) fn numeric_date(value: &Value) -> Option<i64> {
    if let Some(n) = value.as_i64() {
        return Some(n);
    }
    let f = value.as_f64()?;
    // INVARIANT: the bounds keep the cast exact; `as` would saturate silently otherwise.
    if f.is_finite() && f > -9.0e15 && f < 9.0e15 {
        Some(f.floor() as i64)
    } else {
        None
    }
}

/// Unix seconds as RFC 3339 UTC (`2026-01-01T00:00:00Z`), the form `verified_claims` uses for
/// `time`. Days to civil date after Howard Hinnant's `civil_from_days`.
pub fn rfc3339(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3_600,
        secs % 3_600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_members_are_refused_at_any_depth() {
        assert!(parse_strict(br#"{"a":1,"a":2}"#).is_none());
        assert!(parse_strict(br#"[{"b":{"c":1,"c":1}}]"#).is_none());
        assert_eq!(
            parse_strict(br#"{"a":[1,2.5,"x",null,true],"b":{}}"#),
            Some(serde_json::json!({"a": [1, 2.5, "x", null, true], "b": {}}))
        );
        assert!(parse_strict(br#"{"a":1} x"#).is_none(), "trailing input");
    }

    #[test]
    fn nesting_is_bounded_without_overflowing_the_stack() {
        let deep = "[".repeat(100_000);
        assert!(parse_strict(deep.as_bytes()).is_none());
    }

    #[test]
    fn base64url_is_canonical_only() {
        assert_eq!(b64_decode("YQ"), Some(b"a".to_vec()));
        assert!(b64_decode("YQ==").is_none(), "padding");
        assert!(b64_decode("YR").is_none(), "non-zero trailing bits");
        assert!(b64_decode("Y Q").is_none(), "whitespace");
        assert!(b64_decode("YQ+/").is_none(), "standard alphabet");
        assert!(b64_decode("").is_none(), "empty");
    }

    #[test]
    fn constant_time_eq_compares_whole_inputs() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn numeric_dates_accept_integers_and_fractions_only() {
        assert_eq!(
            numeric_date(&serde_json::json!(1_562_262_616)),
            Some(1_562_262_616)
        );
        assert_eq!(numeric_date(&serde_json::json!(1.9)), Some(1));
        assert_eq!(numeric_date(&serde_json::json!(-0.5)), Some(-1));
        assert_eq!(numeric_date(&serde_json::json!(1e300)), None);
        assert_eq!(numeric_date(&serde_json::json!("1")), None);
    }

    #[test]
    fn rfc3339_formats_utc_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_562_262_616), "2019-07-04T17:50:16Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
