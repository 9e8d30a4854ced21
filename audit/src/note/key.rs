//! Public note keys: names, key IDs and verifier keys (`<name>+<hex id>+<base64 type || key>`,
//! Go's `golang.org/x/mod/sumdb/note` encoding). Private keys are in `signer`.
//!
//! Both signature types implemented here are Ed25519: `0x01` signs the note text itself,
//! `0x04` (C2SP `tlog-cosignature` v1) signs a timestamped statement about a checkpoint. The
//! type byte is part of the key ID, so one key pair gets a different ID under each type and a
//! signature of one type can never be taken for the other.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::digest::{Context, SHA256};
use ring::signature::{ED25519, UnparsedPublicKey};

use crate::error::{NoteError, ParseError};

/// The signature types this crate implements (signed-note, "Signature types").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureType {
    /// `0x01`: Ed25519 over the note text.
    Ed25519,
    /// `0x04`: timestamped Ed25519 witness cosignature (C2SP `tlog-cosignature` v1).
    CosignatureV1,
}

impl SignatureType {
    /// The identifier byte.
    pub const fn byte(self) -> u8 {
        match self {
            Self::Ed25519 => 0x01,
            Self::CosignatureV1 => 0x04,
        }
    }

    /// The type of an identifier byte, if implemented here.
    pub const fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0x01 => Some(Self::Ed25519),
            0x04 => Some(Self::CosignatureV1),
            _ => None,
        }
    }
}

/// A key name: non-empty, without Unicode spaces, control characters or `+`.
///
/// Names are conventionally schema-less URLs (`broker.example/audit`); nothing here requires
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyName(String);

impl KeyName {
    /// Checks and wraps a name.
    pub fn new(name: impl Into<String>) -> Result<Self, NoteError> {
        let name = name.into();
        if is_valid_name(&name) {
            Ok(Self(name))
        } else {
            Err(NoteError::KeyName(ParseError::echo(&name)))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_valid_name(name: &str) -> bool {
    // `char::is_whitespace` is Unicode's White_Space, the set Go's `unicode.IsSpace` tests.
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+')
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for KeyName {
    type Err = NoteError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::new(name)
    }
}

/// The 32-bit key ID that starts every signature, shown as 8 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(u32);

impl KeyId {
    /// Wraps a raw ID.
    pub const fn new(id: u32) -> Self {
        Self(id)
    }

    /// The raw ID.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// `SHA-256(name || 0x0A || type || public key)[:4]`, big-endian.
    pub fn derive(name: &KeyName, signature_type: SignatureType, public_key: &[u8]) -> Self {
        let mut ctx = Context::new(&SHA256);
        ctx.update(name.as_str().as_bytes());
        ctx.update(b"\n");
        ctx.update(&[signature_type.byte()]);
        ctx.update(public_key);
        let digest = ctx.finish();
        let mut id = [0u8; 4];
        for (dst, src) in id.iter_mut().zip(digest.as_ref()) {
            *dst = *src;
        }
        Self(u32::from_be_bytes(id))
    }

    pub(super) fn parse_hex(text: &str) -> Option<Self> {
        // Lowercase only, so that parse-then-print gives back the same text.
        let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if text.len() != 8 || !text.bytes().all(lower_hex) {
            return None;
        }
        u32::from_str_radix(text, 16).ok().map(Self)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A public key that checks note signatures, with its name and ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: KeyName,
    id: KeyId,
    kind: SignatureType,
    public_key: [u8; 32],
}

impl VerifierKey {
    /// A key of `kind` for a raw 32-byte Ed25519 public key; its ID is derived.
    pub fn new(name: KeyName, kind: SignatureType, public_key: [u8; 32]) -> Self {
        let id = KeyId::derive(&name, kind, &public_key);
        Self {
            name,
            id,
            kind,
            public_key,
        }
    }

    /// Parses `<name>+<8 lowercase hex digits>+<base64(type || public key)>`, refusing a key
    /// ID that the rest does not derive.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::KeyFormat);
        };
        let name = KeyName::new(name)?;
        let written = KeyId::parse_hex(id).ok_or(NoteError::KeyFormat)?;
        let (kind, public_key) = split_typed_key(key)?;
        let parsed = Self::new(name, kind, public_key);
        if parsed.id != written {
            return Err(NoteError::KeyIdMismatch {
                written,
                derived: parsed.id,
            });
        }
        Ok(parsed)
    }

    /// The key name.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> KeyId {
        self.id
    }

    /// The signature type.
    pub fn signature_type(&self) -> SignatureType {
        self.kind
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public_key
    }

    /// A key claiming another ID, as an attacker's colliding key would.
    #[cfg(test)]
    pub(crate) fn with_id(mut self, id: KeyId) -> Self {
        self.id = id;
        self
    }

    /// Whether `signature` (without the key ID) is this key's over the note text `text`.
    pub fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        let key = UnparsedPublicKey::new(&ED25519, &self.public_key);
        match self.kind {
            SignatureType::Ed25519 => key.verify(text, signature).is_ok(),
            SignatureType::CosignatureV1 => {
                let Some((time, signature)) = crate::cosignature::split(signature) else {
                    return false;
                };
                let message = crate::cosignature::signed_message(time, text);
                key.verify(&message, signature).is_ok()
            }
        }
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut typed = Vec::with_capacity(33);
        typed.push(self.kind.byte());
        typed.extend_from_slice(&self.public_key);
        write!(f, "{}+{}+{}", self.name, self.id, STANDARD.encode(typed))
    }
}

impl FromStr for VerifierKey {
    type Err = NoteError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// Decodes `base64(type || 32 bytes)`.
pub(super) fn split_typed_key(text: &str) -> Result<(SignatureType, [u8; 32]), NoteError> {
    let raw = STANDARD.decode(text).map_err(|_| NoteError::KeyFormat)?;
    let Some((&kind, key)) = raw.split_first() else {
        return Err(NoteError::KeyFormat);
    };
    let kind = SignatureType::from_byte(kind).ok_or(NoteError::SignatureType(kind))?;
    let key = <[u8; 32]>::try_from(key).map_err(|_| NoteError::KeyLength(key.len()))?;
    Ok((kind, key))
}

#[cfg(test)]
mod tests {
    use super::super::signer::Ed25519Key;
    use super::*;

    // golang.org/x/mod/sumdb/note, note_test.go.
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";

    #[test]
    fn names() {
        for good in ["a", "example.com/log42", "oid/1.3.6.1.4.1", "DEV:w-été"] {
            assert_eq!(KeyName::new(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "a b",
            "a+b",
            "a\u{a0}b",
            "a\u{2003}b",
            "a\tb",
            "a\u{1}b",
            "\u{3000}",
        ] {
            assert!(
                matches!(KeyName::new(bad), Err(NoteError::KeyName(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn go_verifier_key_round_trips() {
        let key = VerifierKey::parse(PETER_VKEY).unwrap();
        assert_eq!(key.name().as_str(), "PeterNeumann");
        assert_eq!(key.key_id(), KeyId::new(0xc74f20a3));
        assert_eq!(key.signature_type(), SignatureType::Ed25519);
        assert_eq!(key.to_string(), PETER_VKEY);
    }

    #[test]
    fn every_mangling_of_a_verifier_key_is_refused() {
        // As Go's TestNewVerifier: every proper substring, and every byte moved by one.
        let b = PETER_VKEY.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if (i, j) != (0, b.len()) {
                    let cut = String::from_utf8_lossy(&b[i..j]);
                    assert!(VerifierKey::parse(&cut).is_err(), "{cut}");
                }
            }
        }
        let mut m = b.to_vec();
        for i in 0..m.len() {
            m[i] += 1;
            let text = String::from_utf8_lossy(&m).into_owned();
            assert!(VerifierKey::parse(&text).is_err(), "{text}");
            m[i] -= 1;
        }
        // Go's two extra cases: a wrong-length key and an unknown type, IDs adjusted. The
        // first has non-zero trailing bits, which Go's decoder takes and this one does not.
        assert!(matches!(
            VerifierKey::parse(
                "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
            ),
            Err(NoteError::KeyFormat)
        ));
        assert!(matches!(
            VerifierKey::parse(
                "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEQ=="
            ),
            Err(NoteError::KeyLength(36))
        ));
        assert!(matches!(
            VerifierKey::parse(
                "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            ),
            Err(NoteError::SignatureType(0x65))
        ));
        assert!(matches!(
            VerifierKey::parse(
                "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            ),
            Err(NoteError::KeyFormat)
        ));
    }

    #[test]
    fn go_signer_key_matches_its_verifier_key() {
        let key = Ed25519Key::parse(PETER_SKEY, SignatureType::Ed25519).unwrap();
        assert_eq!(key.verifier_key().to_string(), PETER_VKEY);
        assert!(format!("{key:?}").starts_with("Ed25519Key(PeterNeumann+c74f20a3"));
        // The same seed as a cosigner: same public key, type 0x04, another ID.
        let cosigner = Ed25519Key::parse(PETER_SKEY, SignatureType::CosignatureV1).unwrap();
        let vkey = cosigner.verifier_key();
        assert_eq!(vkey.public_key(), key.verifier_key().public_key());
        assert_eq!(vkey.signature_type(), SignatureType::CosignatureV1);
        assert_ne!(vkey.key_id(), key.id());
        // A cosigner key cannot sign plain notes.
        let (_, skey) = Ed25519Key::generate(
            KeyName::new("w").unwrap(),
            SignatureType::CosignatureV1,
            &ring::rand::SystemRandom::new(),
        )
        .unwrap();
        assert!(matches!(
            Ed25519Key::parse(skey.expose(), SignatureType::Ed25519),
            Err(NoteError::SignatureType(0x04))
        ));
        assert_eq!(format!("{skey:?}"), "SecretSignerKey(…)");
    }

    #[test]
    fn every_mangling_of_a_signer_key_is_refused() {
        let b = PETER_SKEY.as_bytes();
        let mut m = b.to_vec();
        for i in 0..m.len() {
            m[i] += 1;
            let text = String::from_utf8_lossy(&m).into_owned();
            assert!(
                Ed25519Key::parse(&text, SignatureType::Ed25519).is_err(),
                "{text}"
            );
            m[i] -= 1;
        }
        for j in 0..b.len() {
            let cut = String::from_utf8_lossy(&b[..j]);
            assert!(Ed25519Key::parse(&cut, SignatureType::Ed25519).is_err());
        }
    }

    #[test]
    fn generated_keys_load_back() {
        let rng = ring::rand::SystemRandom::new();
        let name = KeyName::new("broker.example/audit").unwrap();
        let (key, skey) = Ed25519Key::generate(name, SignatureType::Ed25519, &rng).unwrap();
        let again = Ed25519Key::parse(skey.expose(), SignatureType::Ed25519).unwrap();
        assert_eq!(again.verifier_key(), key.verifier_key());
        let vkey = VerifierKey::parse(&key.verifier_key().to_string()).unwrap();
        assert!(vkey.verify(b"hi\n", &key.sign(b"hi\n")));
        assert!(!vkey.verify(b"ho\n", &key.sign(b"hi\n")));
    }
}
