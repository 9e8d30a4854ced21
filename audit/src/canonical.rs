//! The canonical JSON writer shared by records and checkpoints.
//!
//! The output is the RFC 8785 (JSON Canonicalization Scheme) form of the value, as long as every
//! integer is within ±2^53 (JCS goes through IEEE doubles; we print integers exactly): no
//! whitespace, object members sorted by their UTF-16 code units, strings escaped only where JSON
//! requires (`"`, `\`, control characters; `\b \f \n \r \t` short forms, other controls as
//! lowercase `\u00xx`), everything else as raw UTF-8. A third party can therefore recompute a
//! leaf hash with any JCS library. Callers write members in sorted order themselves; the tests
//! check every encoder against a generic sorted re-serialisation.

use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Writes one JSON object, member by member. Keys must come in sorted order.
pub(crate) struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    pub(crate) fn begin(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        write_str(self.out, key);
        self.out.push(b':');
        self.out
    }

    pub(crate) fn str(&mut self, key: &str, value: &str) {
        write_str(self.key(key), value);
    }

    pub(crate) fn opt_str(&mut self, key: &str, value: Option<&str>) {
        let out = self.key(key);
        match value {
            Some(value) => write_str(out, value),
            None => out.extend_from_slice(b"null"),
        }
    }

    pub(crate) fn u64(&mut self, key: &str, value: u64) {
        write_u64(self.key(key), value);
    }

    pub(crate) fn i64(&mut self, key: &str, value: i64) {
        let out = self.key(key);
        if value < 0 {
            out.push(b'-');
        }
        write_u64(out, value.unsigned_abs());
    }

    pub(crate) fn str_array(&mut self, key: &str, values: &[String]) {
        let out = self.key(key);
        out.push(b'[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, value);
        }
        out.push(b']');
    }

    /// A string-to-string map, members sorted by UTF-16 code units as JCS requires.
    pub(crate) fn str_map(&mut self, key: &str, map: &BTreeMap<String, String>) {
        let out = self.key(key);
        let mut inner = Object::begin(out);
        if map.keys().all(|k| k.chars().all(|c| c < '\u{e000}')) {
            // Fast path: below U+E000, UTF-8 byte order (the map's order) equals UTF-16 order.
            for (k, v) in map {
                inner.str(k, v);
            }
        } else {
            let mut members: Vec<(&String, &String)> = map.iter().collect();
            members.sort_by(|a, b| utf16_cmp(a.0, b.0));
            for (k, v) in members {
                inner.str(k, v);
            }
        }
        inner.end();
    }

    /// Opens a nested object as the value of `key`.
    pub(crate) fn object(&mut self, key: &str) -> Object<'_> {
        Object::begin(self.key(key))
    }

    pub(crate) fn end(self) {
        self.out.push(b'}');
    }
}

fn utf16_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn write_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        // `value % 10` is below 10, so the cast cannot truncate.
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

fn write_str(out: &mut Vec<u8>, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let short = match byte {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x0c => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x00..=0x1f => 0,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if short == 0 {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0x0f)]);
        } else {
            out.push(b'\\');
            out.push(short);
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(f: impl FnOnce(&mut Object<'_>)) -> String {
        let mut out = Vec::new();
        let mut obj = Object::begin(&mut out);
        f(&mut obj);
        obj.end();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_escape_like_jcs() {
        let s = encode(|o| o.str("k", "a\"b\\c\u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f}é€😀\u{2028}"));
        assert_eq!(
            s,
            "{\"k\":\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\u{7f}é€😀\u{2028}\"}"
        );
        // serde_json escapes the same way, so a generic re-serialisation is byte-identical.
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), s);
    }

    #[test]
    fn integers_are_exact() {
        let s = encode(|o| {
            o.i64("a", i64::MIN);
            o.i64("b", -1);
            o.i64("c", 0);
            o.u64("d", u64::MAX);
        });
        assert_eq!(
            s,
            "{\"a\":-9223372036854775808,\"b\":-1,\"c\":0,\"d\":18446744073709551615}"
        );
    }

    #[test]
    fn maps_sort_by_utf16_code_units() {
        // U+FF61 sorts before U+1F600 in UTF-8 byte order but after it in UTF-16.
        let map: BTreeMap<String, String> = [("😀", "1"), ("｡", "2"), ("a", "3")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let s = encode(|o| o.str_map("m", &map));
        assert_eq!(s, "{\"m\":{\"a\":\"3\",\"😀\":\"1\",\"｡\":\"2\"}}");
    }
}
