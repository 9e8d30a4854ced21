//! RFC 9162 §2.1 hashing: the 32-byte [`Hash`] and the three functions every tree hash is made of.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::digest::{Context, SHA256};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ParseError;

/// A SHA-256 value: a leaf hash, a tree node or a root.
///
/// Displayed and serialised as 64 lowercase hex digits; [`Hash::to_base64`] gives the padded
/// standard base64 form RFC 9162 uses in JSON, and [`Hash::parse`] accepts either.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash([u8; 32]);

impl Hash {
    /// Length of a hash in bytes.
    pub const LEN: usize = 32;

    /// Wraps 32 raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Takes exactly 32 bytes, as read from a `BLOB`/`bytea` column.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ParseError> {
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| ParseError::HashLength(bytes.len()))
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Standard base64 with padding (44 characters).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(text: &str) -> Result<Self, ParseError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| ParseError::HashEncoding)?;
        Ok(Self(bytes))
    }

    /// Parses standard base64 with padding.
    pub fn from_base64(text: &str) -> Result<Self, ParseError> {
        let bytes = STANDARD
            .decode(text)
            .map_err(|_| ParseError::HashEncoding)?;
        Self::from_slice(&bytes)
    }

    /// Parses either form: 64 characters are hex, anything else is tried as base64.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        if text.len() == 64 {
            Self::from_hex(text)
        } else {
            Self::from_base64(text)
        }
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl FromStr for Hash {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl From<[u8; 32]> for Hash {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// Domain-separation prefixes of RFC 9162 §2.1.1: without them a leaf could pose as a node.
const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// `SHA-256(0x00 || entry)`: the hash of one audit entry (its canonical bytes).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut ctx = Context::new(&SHA256);
    ctx.update(&[LEAF_PREFIX]);
    ctx.update(entry);
    finish(ctx)
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut ctx = Context::new(&SHA256);
    ctx.update(&[NODE_PREFIX]);
    ctx.update(&left.0);
    ctx.update(&right.0);
    finish(ctx)
}

/// The root of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    finish(Context::new(&SHA256))
}

fn finish(ctx: Context) -> Hash {
    let digest = ctx.finish();
    let mut out = [0u8; 32];
    // SHA-256 always yields 32 bytes; copying through a fixed array avoids a fallible conversion.
    for (dst, src) in out.iter_mut().zip(digest.as_ref()) {
        *dst = *src;
    }
    Hash(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            empty_root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn leaf_of_empty_entry_matches_rfc6962_vector() {
        assert_eq!(
            leaf_hash(b"").to_hex(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn node_hash_is_not_leaf_hash_of_concatenation() {
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        let mut joined = a.as_bytes().to_vec();
        joined.extend_from_slice(b.as_bytes());
        assert_ne!(node_hash(&a, &b), leaf_hash(&joined));
        assert_ne!(node_hash(&a, &b), node_hash(&b, &a));
    }

    #[test]
    fn text_forms_round_trip() {
        let h = leaf_hash(b"round trip");
        assert_eq!(Hash::from_hex(&h.to_hex()).unwrap(), h);
        assert_eq!(Hash::from_hex(&h.to_hex().to_uppercase()).unwrap(), h);
        assert_eq!(Hash::from_base64(&h.to_base64()).unwrap(), h);
        assert_eq!(h.to_base64().len(), 44);
        assert_eq!(h.to_string(), h.to_hex());
        assert_eq!(h.to_string().parse::<Hash>().unwrap(), h);
        assert_eq!(h.to_base64().parse::<Hash>().unwrap(), h);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{}\"", h.to_hex()));
        assert_eq!(serde_json::from_str::<Hash>(&json).unwrap(), h);
    }

    #[test]
    fn bad_text_is_refused() {
        assert!(matches!(
            Hash::from_hex("00"),
            Err(ParseError::HashEncoding)
        ));
        assert!(matches!(
            Hash::from_hex(&"zz".repeat(32)),
            Err(ParseError::HashEncoding)
        ));
        assert!(matches!(
            Hash::from_base64("AAAA"),
            Err(ParseError::HashLength(3))
        ));
        assert!(matches!(
            Hash::from_slice(&[0; 31]),
            Err(ParseError::HashLength(31))
        ));
        assert!(serde_json::from_str::<Hash>("\"abc\"").is_err());
    }
}
