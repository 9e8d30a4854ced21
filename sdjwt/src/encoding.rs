//! Base64url, the SD-JWT digest, and a JSON reader that refuses duplicate members.
//!
//! Why a strict reader: two JSON parsers that disagree on `{"_sd": [..], "_sd": [..]}` (first
//! wins, last wins) would let one signed payload mean two things. Refusing duplicates keeps this
//! verifier's reading the only reading.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The only `_sd_alg` this crate issues and accepts (RFC 9901 §4.1.1: the default, and the one
/// every implementation must support).
pub const SD_ALG: &str = "sha-256";

pub(crate) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict base64url: no padding, no whitespace, no non-zero trailing bits (so every byte string
/// has exactly one encoding that decodes).
pub(crate) fn b64_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

pub(crate) fn is_b64url(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The base64url SHA-256 digest of `text`'s ASCII bytes: how a disclosure is referenced
/// (RFC 9901 §4.2.3) and how `sd_hash` binds a KB-JWT to a presentation (§4.3.1).
pub fn digest(text: &str) -> String {
    b64(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()))
}

/// Parses JSON, refusing duplicate object members anywhere (and anything after the value).
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
    }

    #[test]
    fn trailing_input_is_refused() {
        assert!(parse_strict(br#"{"a":1} x"#).is_none());
        assert!(parse_strict(br#"{"a":1}{"b":2}"#).is_none());
    }

    #[test]
    fn base64url_is_canonical_only() {
        assert_eq!(b64_decode("YQ"), Some(b"a".to_vec()));
        assert!(b64_decode("YQ==").is_none(), "padding");
        assert!(b64_decode("YR").is_none(), "non-zero trailing bits");
        assert!(b64_decode("Y Q").is_none(), "whitespace");
        assert!(b64_decode("YQ+/").is_none(), "standard alphabet");
    }

    #[test]
    fn digest_is_over_the_encoded_text() {
        // RFC 9901 §4.2.3.
        assert_eq!(
            digest("WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0"),
            "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0"
        );
    }
}
