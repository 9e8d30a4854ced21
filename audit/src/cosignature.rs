//! C2SP `tlog-cosignature` v1 with Ed25519 (signature type `0x04`): a witness's timestamped
//! statement that, as of a time, the checkpoint is the largest consistent one it has seen for
//! the log.
//!
//! The signature line's bytes after the key ID are `timestamp (u64, big-endian) || Ed25519
//! signature`, and the signed message is
//!
//! ```text
//! cosignature/v1
//! time <timestamp, decimal seconds>
//! <the whole checkpoint note text>
//! ```
//!
//! The v1 message does not commit to the cosigner's name: one key must serve one cosigner. The
//! ML-DSA-44 `subtree/v1` cosignatures of the same spec are not implemented (no ML-DSA in
//! `ring`).

use ring::rand::SecureRandom;

use crate::error::NoteError;
use crate::note::{
    Ed25519Key, KeyId, KeyName, NoteSignature, SecretSignerKey, SignatureType, VerifierKey,
};
use crate::tlog_checkpoint::TlogCheckpoint;

/// The header line of the signed message: domain separation from every other signature.
pub const COSIGNATURE_V1_HEADER: &str = "cosignature/v1";

/// The largest timestamp a cosignature may carry, `2^63 - 1`.
pub const MAX_COSIGNATURE_TIME: u64 = i64::MAX as u64;

const TIMESTAMP_LEN: usize = 8;
const ED25519_SIGNATURE_LEN: usize = 64;

/// The message a v1 cosignature signs, for a note text `body` (final newline included).
pub fn signed_message(time: u64, body: &[u8]) -> Vec<u8> {
    let mut message = format!("{COSIGNATURE_V1_HEADER}\ntime {time}\n").into_bytes();
    message.extend_from_slice(body);
    message
}

/// Splits a cosignature's bytes into its timestamp and Ed25519 signature, if well formed.
pub(crate) fn split(signature: &[u8]) -> Option<(u64, &[u8])> {
    if signature.len() != TIMESTAMP_LEN + ED25519_SIGNATURE_LEN {
        return None;
    }
    let (time, signature) = signature.split_at(TIMESTAMP_LEN);
    let time = u64::from_be_bytes(<[u8; TIMESTAMP_LEN]>::try_from(time).ok()?);
    (time <= MAX_COSIGNATURE_TIME).then_some((time, signature))
}

/// The timestamp of a v1 cosignature line (POSIX seconds), if it has the v1 shape. Says nothing
/// about whether it verifies.
pub fn cosignature_time(signature: &NoteSignature) -> Option<u64> {
    split(signature.signature()).map(|(time, _)| time)
}

/// A witness's Ed25519 cosigning key under its name. `Debug` shows the name and ID only.
#[derive(Debug)]
pub struct CosignatureSigner {
    key: Ed25519Key,
}

impl CosignatureSigner {
    /// The key whose RFC 8032 private seed is `seed`.
    pub fn from_seed(name: KeyName, seed: &[u8; 32]) -> Result<Self, NoteError> {
        Ed25519Key::from_seed(name, SignatureType::CosignatureV1, seed).map(|key| Self { key })
    }

    /// A fresh key, and its encoding to keep as a secret (see [`CosignatureSigner::parse`]).
    pub fn generate(
        name: KeyName,
        rng: &dyn SecureRandom,
    ) -> Result<(Self, SecretSignerKey), NoteError> {
        let (key, secret) = Ed25519Key::generate(name, SignatureType::CosignatureV1, rng)?;
        Ok((Self { key }, secret))
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+<base64(type || seed)>` with type `0x04`, or `0x01`
    /// (a plain note key turned cosigner, as Go's `transparency-dev/formats` allows; its ID is
    /// then derived anew for type `0x04`).
    pub fn parse(secret: &str) -> Result<Self, NoteError> {
        Ed25519Key::parse(secret, SignatureType::CosignatureV1).map(|key| Self { key })
    }

    /// The cosigner's name.
    pub fn name(&self) -> &KeyName {
        self.key.name()
    }

    /// The cosigner's key ID.
    pub fn key_id(&self) -> KeyId {
        self.key.id()
    }

    /// The verifier key (type `0x04`) to give to the logs and their clients.
    pub fn verifier_key(&self) -> VerifierKey {
        self.key.verifier_key()
    }

    /// Cosigns `checkpoint` at `time` (POSIX seconds, at most `2^63 - 1`).
    pub fn cosign(
        &self,
        checkpoint: &TlogCheckpoint,
        time: u64,
    ) -> Result<NoteSignature, NoteError> {
        self.cosign_text(checkpoint.to_text().as_bytes(), time)
    }

    /// Cosigns a note text known to be a checkpoint body.
    pub(crate) fn cosign_text(&self, text: &[u8], time: u64) -> Result<NoteSignature, NoteError> {
        if time > MAX_COSIGNATURE_TIME {
            return Err(NoteError::Timestamp);
        }
        let mut signature = Vec::with_capacity(TIMESTAMP_LEN + ED25519_SIGNATURE_LEN);
        signature.extend_from_slice(&time.to_be_bytes());
        signature.extend_from_slice(&self.key.sign(&signed_message(time, text)));
        Ok(NoteSignature::new(
            self.key.name().clone(),
            self.key.id(),
            signature,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::Note;

    // c2sp.org/tlog-cosignature, the example checkpoint, its witness line and signed message.
    const BODY: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    const SPEC_NOTE: &str = "example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==
";
    const SPEC_MESSAGE: &str = "cosignature/v1
time 1679315147
example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
";

    #[test]
    fn spec_example_parses_and_its_message_is_byte_exact() {
        let note = Note::parse(SPEC_NOTE.as_bytes()).unwrap();
        assert_eq!(note.to_bytes(), SPEC_NOTE.as_bytes());
        assert_eq!(note.text(), BODY);
        let witness = &note.signatures()[1];
        assert_eq!(witness.name().as_str(), "witness.example.com/w1");
        assert_eq!(witness.key_id(), KeyId::new(0x8d66cf3f));
        assert_eq!(cosignature_time(witness), Some(1_679_315_147));
        // The log's line is a plain Ed25519 signature, not a cosignature.
        assert_eq!(cosignature_time(&note.signatures()[0]), None);
        assert_eq!(
            signed_message(1_679_315_147, note.text().as_bytes()),
            SPEC_MESSAGE.as_bytes()
        );
    }

    #[test]
    fn cosign_and_verify() {
        let name = KeyName::new("witness.example/w1").unwrap();
        let signer = CosignatureSigner::from_seed(name, &[42; 32]).unwrap();
        let checkpoint = TlogCheckpoint::parse(BODY).unwrap();
        let line = signer.cosign(&checkpoint, 1_700_000_000).unwrap();
        assert_eq!(cosignature_time(&line), Some(1_700_000_000));
        let key = signer.verifier_key();
        assert_eq!(key.signature_type(), SignatureType::CosignatureV1);
        assert_eq!(key.key_id(), signer.key_id());
        assert!(key.verify(BODY.as_bytes(), line.signature()));
        // Another checkpoint, another time, or the bare Ed25519 signature do not verify.
        assert!(!key.verify(BODY.replace("163", "164").as_bytes(), line.signature()));
        let mut later = line.signature().to_vec();
        later[7] ^= 1;
        assert!(!key.verify(BODY.as_bytes(), &later));
        assert!(!key.verify(BODY.as_bytes(), &line.signature()[8..]));
        // A plain note key over the same public key does not accept it either.
        let plain = VerifierKey::new(
            key.name().clone(),
            SignatureType::Ed25519,
            *key.public_key(),
        );
        assert!(!plain.verify(BODY.as_bytes(), line.signature()));

        assert!(matches!(
            signer.cosign(&checkpoint, MAX_COSIGNATURE_TIME + 1),
            Err(NoteError::Timestamp)
        ));
        let last = signer.cosign(&checkpoint, MAX_COSIGNATURE_TIME).unwrap();
        assert!(key.verify(BODY.as_bytes(), last.signature()));
        // A timestamp past 2^63 - 1 is refused even with a valid signature over its message.
        let mut forged = (MAX_COSIGNATURE_TIME + 1).to_be_bytes().to_vec();
        forged.extend_from_slice(
            &signer
                .key
                .sign(&signed_message(MAX_COSIGNATURE_TIME + 1, BODY.as_bytes())),
        );
        assert!(!key.verify(BODY.as_bytes(), &forged));
    }

    #[test]
    fn signer_keys() {
        let rng = ring::rand::SystemRandom::new();
        let (signer, secret) =
            CosignatureSigner::generate(KeyName::new("w").unwrap(), &rng).unwrap();
        assert!(secret.expose().starts_with("PRIVATE+KEY+w+"));
        let again = CosignatureSigner::parse(secret.expose()).unwrap();
        assert_eq!(again.verifier_key(), signer.verifier_key());
        assert_eq!(again.name().as_str(), "w");
        assert_eq!(
            VerifierKey::parse(&signer.verifier_key().to_string()).unwrap(),
            signer.verifier_key()
        );
        // Go's PeterNeumann note key (type 0x01) loads as a cosigner with a type-0x04 ID.
        let peter = CosignatureSigner::parse(
            "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        )
        .unwrap();
        assert_ne!(peter.key_id(), KeyId::new(0xc74f20a3));
        assert_eq!(
            peter.verifier_key().to_string(),
            format!(
                "PeterNeumann+{}+BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                peter.key_id()
            )
        );
    }
}
