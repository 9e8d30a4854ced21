//! Ed25519 private keys: the note signer (signature type `0x01`), what a log signs its
//! checkpoints with, and the key pair under a name that it and the cosigner share.

use std::convert::Infallible;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SecureRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};

use super::NoteSigner;
use super::key::{KeyId, KeyName, SignatureType, VerifierKey, split_typed_key};
use crate::error::NoteError;

/// An Ed25519 private key under a name, signing note texts (signature type `0x01`).
///
/// `Debug` shows the name and ID only.
#[derive(Debug)]
pub struct Ed25519Signer {
    key: Ed25519Key,
}

impl Ed25519Signer {
    /// The key whose RFC 8032 private seed is `seed`.
    pub fn from_seed(name: KeyName, seed: &[u8; 32]) -> Result<Self, NoteError> {
        Ed25519Key::from_seed(name, SignatureType::Ed25519, seed).map(|key| Self { key })
    }

    /// A fresh key, and its encoding to keep as a secret (see [`Ed25519Signer::parse`]).
    pub fn generate(
        name: KeyName,
        rng: &dyn SecureRandom,
    ) -> Result<(Self, SecretSignerKey), NoteError> {
        let (key, secret) = Ed25519Key::generate(name, SignatureType::Ed25519, rng)?;
        Ok((Self { key }, secret))
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>` (Go's `note.NewSigner`),
    /// refusing an ID that the key does not derive.
    pub fn parse(secret: &str) -> Result<Self, NoteError> {
        Ed25519Key::parse(secret, SignatureType::Ed25519).map(|key| Self { key })
    }

    /// The verifier key to publish.
    pub fn verifier_key(&self) -> VerifierKey {
        self.key.verifier_key()
    }
}

impl NoteSigner for Ed25519Signer {
    type Error = Infallible;

    fn name(&self) -> &KeyName {
        self.key.name()
    }

    fn key_id(&self) -> KeyId {
        self.key.id()
    }

    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, Self::Error> {
        Ok(self.key.sign(text))
    }
}

/// An encoded signer key. It holds the private key: keep it secret; `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretSignerKey(String);

impl SecretSignerKey {
    /// The encoded key, to be stored as a secret.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretSignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretSignerKey(…)")
    }
}

/// An Ed25519 key pair under a name, signing as one signature type.
pub(crate) struct Ed25519Key {
    name: KeyName,
    id: KeyId,
    kind: SignatureType,
    pair: Ed25519KeyPair,
}

impl Ed25519Key {
    pub(crate) fn from_seed(
        name: KeyName,
        kind: SignatureType,
        seed: &[u8; 32],
    ) -> Result<Self, NoteError> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| NoteError::KeyRejected)?;
        let id = KeyId::derive(&name, kind, pair.public_key().as_ref());
        Ok(Self {
            name,
            id,
            kind,
            pair,
        })
    }

    /// A fresh key and its encoding.
    pub(crate) fn generate(
        name: KeyName,
        kind: SignatureType,
        rng: &dyn SecureRandom,
    ) -> Result<(Self, SecretSignerKey), NoteError> {
        let mut seed = [0u8; 32];
        rng.fill(&mut seed).map_err(|_| NoteError::Random)?;
        let key = Self::from_seed(name, kind, &seed)?;
        let mut typed = Vec::with_capacity(33);
        typed.push(kind.byte());
        typed.extend_from_slice(&seed);
        let encoded = format!(
            "PRIVATE+KEY+{}+{}+{}",
            key.name,
            key.id,
            STANDARD.encode(typed)
        );
        Ok((key, SecretSignerKey(encoded)))
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+<base64(type || seed)>`, checking the ID against
    /// the derived public key, and signs as `kind`. A type `0x01` key may be loaded as a
    /// cosigner (as Go's `transparency-dev/formats` allows): its ID is then derived anew.
    pub(crate) fn parse(text: &str, kind: SignatureType) -> Result<Self, NoteError> {
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::KeyFormat)?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::KeyFormat);
        };
        let name = KeyName::new(name)?;
        let written = KeyId::parse_hex(id).ok_or(NoteError::KeyFormat)?;
        let (written_kind, seed) = split_typed_key(key)?;
        let as_written = Self::from_seed(name.clone(), written_kind, &seed)?;
        if as_written.id != written {
            return Err(NoteError::KeyIdMismatch {
                written,
                derived: as_written.id,
            });
        }
        match (written_kind, kind) {
            (w, k) if w == k => Ok(as_written),
            (SignatureType::Ed25519, SignatureType::CosignatureV1) => {
                Self::from_seed(name, kind, &seed)
            }
            (w, _) => Err(NoteError::SignatureType(w.byte())),
        }
    }

    pub(crate) fn name(&self) -> &KeyName {
        &self.name
    }

    pub(crate) fn id(&self) -> KeyId {
        self.id
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }

    pub(crate) fn verifier_key(&self) -> VerifierKey {
        let mut public_key = [0u8; 32];
        for (dst, src) in public_key.iter_mut().zip(self.pair.public_key().as_ref()) {
            *dst = *src;
        }
        VerifierKey::new(self.name.clone(), self.kind, public_key)
    }
}

impl fmt::Debug for Ed25519Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519Key({}+{}, {:?})", self.name, self.id, self.kind)
    }
}
