//! Signed checkpoints: the tree size and root at a moment, signed with the broker's JWS keys.
//!
//! A checkpoint is what makes the log tamper-evident rather than merely hashed: whoever can
//! write the database can recompute hashes, but not sign. The payload is the canonical JSON
//! `{"root_hash":"<hex>","time_ms":T,"tree_size":N,"type":"audit-checkpoint","v":1}`;
//! the `type` member keeps a checkpoint signature from being mistaken for any other JWS the
//! same key signs (tokens, consent receipts).

use serde::{Deserialize, Serialize};

use crate::canonical::Object;
use crate::error::{BoxError, CheckpointError, EntryError};
use crate::hash::Hash;

/// The `type` member of every checkpoint payload.
pub const CHECKPOINT_TYPE: &str = "audit-checkpoint";
/// The payload format version.
pub const CHECKPOINT_FORMAT_VERSION: u64 = 1;

/// A tree head at a moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Number of records covered.
    pub tree_size: u64,
    /// `MTH` of those records.
    pub root_hash: Hash,
    /// When it was made, Unix milliseconds.
    pub time_ms: i64,
}

impl Checkpoint {
    /// The bytes to sign: canonical JSON (see the module docs).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        let mut o = Object::begin(&mut out);
        // INVARIANT: members in byte order of their names.
        o.str("root_hash", &self.root_hash.to_hex());
        o.i64("time_ms", self.time_ms);
        o.u64("tree_size", self.tree_size);
        o.str("type", CHECKPOINT_TYPE);
        o.u64("v", CHECKPOINT_FORMAT_VERSION);
        o.end();
        out
    }

    /// Decodes a payload, refusing anything but the exact canonical encoding.
    pub fn from_canonical(bytes: &[u8]) -> Result<Self, EntryError> {
        let wire: WireCheckpoint =
            serde_json::from_slice(bytes).map_err(|e| EntryError::from_json(&e))?;
        if wire.v != CHECKPOINT_FORMAT_VERSION {
            return Err(EntryError::Version(wire.v));
        }
        let checkpoint = Self {
            tree_size: wire.tree_size,
            root_hash: wire.root_hash,
            time_ms: wire.time_ms,
        };
        if wire.r#type != CHECKPOINT_TYPE || checkpoint.canonical_bytes() != bytes {
            return Err(EntryError::NotCanonical);
        }
        Ok(checkpoint)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireCheckpoint {
    root_hash: Hash,
    time_ms: i64,
    tree_size: u64,
    r#type: String,
    v: u64,
}

/// Signs checkpoint payloads; the broker implements it with its current JWS signing key.
pub trait CheckpointSigner {
    /// The signer's own error, kept as the source of [`CheckpointError::Sign`].
    type Error: std::error::Error + Send + Sync + 'static;

    /// A compact JWS over `payload` (the payload embedded, not detached).
    fn sign(&self, payload: &[u8]) -> Result<String, Self::Error>;
}

/// Checks checkpoint signatures; the broker implements it with its current and previous
/// public keys (a key rotation must not orphan old checkpoints).
pub trait CheckpointVerifier {
    /// The verifier's own error, kept as the source of [`CheckpointError::Signature`].
    type Error: std::error::Error + Send + Sync + 'static;

    /// Verifies a compact JWS and returns its payload. Must refuse `alg: none` and any key it
    /// does not hold.
    fn verify(&self, jws: &str) -> Result<Vec<u8>, Self::Error>;
}

impl<T: CheckpointSigner + ?Sized> CheckpointSigner for &T {
    type Error = T::Error;

    fn sign(&self, payload: &[u8]) -> Result<String, Self::Error> {
        (**self).sign(payload)
    }
}

impl<T: CheckpointVerifier + ?Sized> CheckpointVerifier for &T {
    type Error = T::Error;

    fn verify(&self, jws: &str) -> Result<Vec<u8>, Self::Error> {
        (**self).verify(jws)
    }
}

/// A checkpoint as stored: its fields in columns, and the JWS over them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCheckpoint {
    /// The fields, as stored in their columns.
    pub checkpoint: Checkpoint,
    /// Compact JWS whose payload is `checkpoint.canonical_bytes()`.
    pub jws: String,
}

impl SignedCheckpoint {
    /// Signs `checkpoint`.
    pub fn sign(
        checkpoint: Checkpoint,
        signer: &impl CheckpointSigner,
    ) -> Result<Self, CheckpointError> {
        let jws = signer
            .sign(&checkpoint.canonical_bytes())
            .map_err(|e| CheckpointError::Sign(Box::new(e)))?;
        Ok(Self { checkpoint, jws })
    }

    /// The checkpoint as signed, whatever the stored columns say: the value to trust.
    pub fn signed_checkpoint(
        &self,
        verifier: &impl CheckpointVerifier,
    ) -> Result<Checkpoint, CheckpointError> {
        let payload = verifier
            .verify(&self.jws)
            .map_err(|e| CheckpointError::Signature(boxed(e)))?;
        Checkpoint::from_canonical(&payload).map_err(CheckpointError::Payload)
    }

    /// Checks the signature and that it signs exactly the stored fields.
    pub fn verify(&self, verifier: &impl CheckpointVerifier) -> Result<(), CheckpointError> {
        if self.signed_checkpoint(verifier)? != self.checkpoint {
            return Err(CheckpointError::Mismatch);
        }
        Ok(())
    }
}

fn boxed(e: impl std::error::Error + Send + Sync + 'static) -> BoxError {
    Box::new(e)
}

/// When to sign the next checkpoint: after `every_records` new records or `every_ms` since the
/// last one, whichever comes first; 0 turns a trigger off.
///
/// Call [`CheckpointPolicy::due`] after each append *and* from a periodic task, so the tail of a
/// quiet log is covered too: records after the last checkpoint are only as safe as the
/// database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointPolicy {
    /// Sign after this many records since the last checkpoint (0: never by count).
    pub every_records: u64,
    /// Sign when the last checkpoint is this old and records were added since (0: never by age).
    pub every_ms: i64,
}

impl CheckpointPolicy {
    /// Whether a tree of `size` records needs a checkpoint now. Never for a tree with no new
    /// records; always for the first non-empty tree without one.
    pub fn due(&self, last: Option<&Checkpoint>, size: u64, now_ms: i64) -> bool {
        let Some(last) = last else {
            return size > 0;
        };
        if size <= last.tree_size {
            return false;
        }
        let by_count = self.every_records > 0 && size - last.tree_size >= self.every_records;
        let by_age = self.every_ms > 0 && now_ms.saturating_sub(last.time_ms) >= self.every_ms;
        by_count || by_age
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    fn cp(size: u64, time_ms: i64) -> Checkpoint {
        Checkpoint {
            tree_size: size,
            root_hash: leaf_hash(b"r"),
            time_ms,
        }
    }

    #[test]
    fn payload_is_pinned_and_round_trips() {
        let c = cp(42, -5);
        let bytes = c.canonical_bytes();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            format!(
                r#"{{"root_hash":"{}","time_ms":-5,"tree_size":42,"type":"audit-checkpoint","v":1}}"#,
                c.root_hash
            )
        );
        assert_eq!(Checkpoint::from_canonical(&bytes).unwrap(), c);
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(serde_json::to_vec(&value).unwrap(), bytes);
    }

    #[test]
    fn other_payloads_are_refused() {
        let good = String::from_utf8(cp(42, 0).canonical_bytes()).unwrap();
        let other_type = good.replace("audit-checkpoint", "consent-receipt");
        assert_eq!(
            Checkpoint::from_canonical(other_type.as_bytes()),
            Err(EntryError::NotCanonical)
        );
        let upper = good.replace(
            &cp(42, 0).root_hash.to_hex(),
            &cp(42, 0).root_hash.to_hex().to_uppercase(),
        );
        assert_eq!(
            Checkpoint::from_canonical(upper.as_bytes()),
            Err(EntryError::NotCanonical)
        );
        assert!(matches!(
            Checkpoint::from_canonical(br#"{"sub":"x"}"#),
            Err(EntryError::Shape { .. })
        ));
        let v2 = good.replace(r#""v":1"#, r#""v":2"#);
        assert_eq!(
            Checkpoint::from_canonical(v2.as_bytes()),
            Err(EntryError::Version(2))
        );
    }

    #[test]
    fn policy() {
        let p = CheckpointPolicy {
            every_records: 100,
            every_ms: 60_000,
        };
        assert!(!p.due(None, 0, 0));
        assert!(p.due(None, 1, 0));
        let last = cp(50, 1_000);
        assert!(!p.due(Some(&last), 50, 10_000_000), "nothing new");
        assert!(!p.due(Some(&last), 149, 60_999));
        assert!(p.due(Some(&last), 150, 1_001));
        assert!(p.due(Some(&last), 51, 61_000));
        let count_only = CheckpointPolicy {
            every_records: 10,
            every_ms: 0,
        };
        assert!(!count_only.due(Some(&last), 59, i64::MAX));
        assert!(count_only.due(Some(&last), 60, 0));
        let age_only = CheckpointPolicy {
            every_records: 0,
            every_ms: 5,
        };
        assert!(!age_only.due(Some(&last), u64::MAX, 1_004));
        assert!(age_only.due(Some(&last), 51, 1_005));
        assert!(!age_only.due(Some(&cp(50, i64::MAX)), 51, i64::MIN));
    }
}
