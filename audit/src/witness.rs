//! A C2SP `tlog-witness` witness as a pure state machine: it decides an `add-checkpoint`
//! request against the latest checkpoint it cosigned for that log, and either cosigns (giving
//! the new state to store) or refuses with a typed [`Refusal`].
//!
//! No storage, clock or HTTP here: see [`Witness`] for what the caller does around it.

mod refusal;
mod request;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use self::refusal::Refusal;
pub use self::request::{
    AddCheckpoint, MAX_PROOF_LINES, conflict_body, parse_conflict_body, parse_cosignatures,
};
use crate::cosignature::CosignatureSigner;
use crate::error::ParseError;
use crate::hash::{Hash, empty_root};
use crate::note::{NoteSignature, VerifierKey};
use crate::proof::verify_consistency;
use crate::tlog_checkpoint::TlogCheckpoint;

/// What a witness keeps per log: the latest checkpoint it cosigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogState {
    /// Its tree size.
    pub size: u64,
    /// Its root hash.
    pub root_hash: Hash,
}

/// A witness: its cosigning key and the logs it follows, each an origin and the public keys
/// that may sign its checkpoints.
///
/// Around it, the caller:
/// 1. parses the body ([`AddCheckpoint::parse`]; a failure is `400 Bad Request`);
/// 2. **in one transaction or under one lock per origin**, loads the stored [`LogState`] for
///    [`AddCheckpoint::origin`], calls [`Witness::add_checkpoint`] with the current time, and on
///    success stores [`Cosigned::state`] *before* answering with [`Cosigned::response_body`].
///    Checking and storing must be atomic, or two concurrent requests can roll the state back
///    (the spec's race: N+K stored, then N stored over it);
/// 3. answers a refusal with [`Refusal::spec_status`] (and [`Refusal::conflict_body`] for
///    `409`), and keeps the request of any refusal for which [`Refusal::worth_keeping`] holds:
///    a checkpoint validly signed by the log that contradicts what was cosigned may be proof
///    of the log's misbehaviour.
///
/// Order of checks, as the spec lists them: the origin is known (`404`), a trusted log key
/// signed the checkpoint (`403`), the body is a checkpoint (`400`), the checkpoint does not
/// shrink the log (rollback: `409` with the stored size, `400` if the old size is past the
/// checkpoint's), the old size is not past the checkpoint's (`400`), the old size
/// is the stored one (`409`, body: the stored size), at equal sizes the root is the stored one
/// (fork, `409`), and the RFC 9162 consistency proof from the stored checkpoint verifies
/// (`422`).
#[derive(Debug)]
pub struct Witness {
    cosigner: CosignatureSigner,
    logs: BTreeMap<String, Vec<VerifierKey>>,
}

impl Witness {
    /// A witness that follows no log yet.
    pub fn new(cosigner: CosignatureSigner) -> Self {
        Self {
            cosigner,
            logs: BTreeMap::new(),
        }
    }

    /// Follows the log `origin`, whose checkpoints `key` signs. Call again with more keys for
    /// one origin (a key rotation).
    pub fn follow(mut self, origin: impl Into<String>, key: VerifierKey) -> Self {
        self.logs.entry(origin.into()).or_default().push(key);
        self
    }

    /// The witness's own verifier key, for logs and their clients.
    pub fn verifier_key(&self) -> VerifierKey {
        self.cosigner.verifier_key()
    }

    /// Whether the witness follows `origin`.
    pub fn follows(&self, origin: &str) -> bool {
        self.logs.contains_key(origin)
    }

    /// Decides `request`, given the checkpoint last cosigned for its origin (`None` if
    /// none), at `now` (POSIX seconds, at most `2^63 - 1`, the cosignature's timestamp).
    pub fn add_checkpoint(
        &self,
        request: &AddCheckpoint,
        stored: Option<&LogState>,
        now: u64,
    ) -> Result<Cosigned, Refusal> {
        let note = request.checkpoint();
        let origin = request.origin();
        let keys = self
            .logs
            .get(origin)
            .ok_or_else(|| Refusal::UnknownOrigin(ParseError::echo(origin)))?;
        note.verify(keys).map_err(Refusal::Unverified)?;
        let checkpoint = TlogCheckpoint::parse(note.text()).map_err(Refusal::Checkpoint)?;
        let (old, size, root_hash) = (
            request.old_size(),
            checkpoint.size(),
            checkpoint.root_hash(),
        );
        let last = stored.copied().unwrap_or(LogState {
            size: 0,
            root_hash: empty_root(),
        });
        if size < last.size {
            return Err(Refusal::Rollback {
                stored: last.size,
                size,
                old,
            });
        }
        if old > size {
            return Err(Refusal::OldSizeTooLarge { old, size });
        }
        if old != last.size {
            return Err(Refusal::SizeConflict {
                stored: last.size,
                old,
            });
        }
        if stored.is_some() && size == last.size && root_hash != last.root_hash {
            return Err(Refusal::Fork {
                size,
                stored_root: last.root_hash,
                root: root_hash,
            });
        }
        verify_consistency(old, size, &last.root_hash, &root_hash, request.proof())
            .map_err(|source| Refusal::Inconsistent { old, size, source })?;
        let cosignature = self
            .cosigner
            .cosign_text(note.text().as_bytes(), now)
            .map_err(Refusal::Cosign)?;
        Ok(Cosigned {
            state: LogState { size, root_hash },
            checkpoint,
            cosignature,
        })
    }
}

/// An accepted checkpoint: the state to store, then the answer to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// The new latest cosigned checkpoint for the origin; store it before answering.
    pub state: LogState,
    /// The checkpoint cosigned.
    pub checkpoint: TlogCheckpoint,
    /// The witness's cosignature line.
    pub cosignature: NoteSignature,
}

impl Cosigned {
    /// The `200` body: the cosignature line.
    pub fn response_body(&self) -> String {
        self.cosignature.to_line()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{NoteError, ProofError, TlogCheckpointError};
    use crate::hash::leaf_hash;
    use crate::note::{Ed25519Signer, KeyName, Note};
    use crate::reference;

    const ORIGIN: &str = "broker.example/audit";
    const NOW: u64 = 1_767_225_600;

    /// A log: its note key and its leaves; `fork` changes one leaf to rewrite history.
    struct Log {
        signer: Ed25519Signer,
        leaves: Vec<Hash>,
    }

    impl Log {
        fn new(seed: u8, size: u64) -> Self {
            let name = KeyName::new(ORIGIN).unwrap();
            Self {
                signer: Ed25519Signer::from_seed(name, &[seed; 32]).unwrap(),
                leaves: (0..size).map(|i| leaf_hash(&i.to_be_bytes())).collect(),
            }
        }

        fn forked_at(mut self, index: usize) -> Self {
            self.leaves[index] = leaf_hash(b"rewritten");
            self
        }

        fn head(&self, size: u64) -> TlogCheckpoint {
            let root = reference::root_of(&self.leaves[..size as usize]);
            TlogCheckpoint::new(ORIGIN, size, root).unwrap()
        }

        fn request(&self, old: u64, size: u64) -> AddCheckpoint {
            let proof = reference::consistency_proof(&self.leaves[..size as usize], old).unwrap();
            let note = self.head(size).sign(&self.signer).unwrap();
            AddCheckpoint::new(old, proof, note).unwrap()
        }

        fn state(&self, size: u64) -> LogState {
            LogState {
                size,
                root_hash: reference::root_of(&self.leaves[..size as usize]),
            }
        }
    }

    fn witness(log: &Log) -> Witness {
        let name = KeyName::new("witness.example/w1").unwrap();
        let cosigner = CosignatureSigner::from_seed(name, &[9; 32]).unwrap();
        Witness::new(cosigner).follow(ORIGIN, log.signer.verifier_key())
    }

    /// Goes through the wire format both ways, as a real exchange would.
    fn submit(
        w: &Witness,
        request: &AddCheckpoint,
        stored: Option<LogState>,
    ) -> Result<Cosigned, Refusal> {
        let request = AddCheckpoint::parse(&request.to_bytes()).unwrap();
        w.add_checkpoint(&request, stored.as_ref(), NOW)
    }

    #[test]
    fn first_checkpoint_growth_and_resubmission_are_cosigned() {
        let log = Log::new(1, 40);
        let w = witness(&log);
        let first = submit(&w, &log.request(0, 5), None).unwrap();
        assert_eq!(first.state, log.state(5));
        assert_eq!(first.checkpoint, log.head(5));
        assert_eq!(crate::cosignature_time(&first.cosignature), Some(NOW));

        // The log reads the answer and checks it as a client would.
        let mut note = log.request(0, 5).checkpoint().clone();
        for line in parse_cosignatures(first.response_body().as_bytes()).unwrap() {
            note.add_signature(line).unwrap();
        }
        let note = Note::parse(&note.to_bytes()).unwrap();
        assert_eq!(
            note.verify(&[w.verifier_key()]).unwrap(),
            std::slice::from_ref(&first.cosignature)
        );
        assert_eq!(
            note.verify(&[w.verifier_key(), log.signer.verifier_key()])
                .unwrap()
                .len(),
            2
        );

        for (old, size) in [(5, 6), (6, 8), (8, 8), (8, 21), (21, 40)] {
            let next = submit(&w, &log.request(old, size), Some(log.state(old))).unwrap();
            assert_eq!(next.state, log.state(size), "{old} -> {size}");
        }
    }

    #[test]
    fn a_stale_old_size_is_a_conflict_with_the_stored_size() {
        let log = Log::new(1, 20);
        let w = witness(&log);
        for (stored, old) in [(Some(12), 5), (Some(12), 0), (None, 3)] {
            let state = stored.map(|s| log.state(s));
            let refusal = submit(&w, &log.request(old, 20), state).unwrap_err();
            let expected = stored.unwrap_or(0);
            assert!(
                matches!(refusal, Refusal::SizeConflict { stored, old: o } if stored == expected && o == old),
                "{refusal}"
            );
            assert_eq!(refusal.spec_status(), 409);
            let body = refusal.conflict_body().unwrap();
            assert_eq!(parse_conflict_body(body.as_bytes()).unwrap(), expected);
            assert!(!refusal.worth_keeping());
        }
    }

    #[test]
    fn rollback_is_refused() {
        let log = Log::new(1, 20);
        let w = witness(&log);
        let stored = Some(log.state(12));
        // An older head, honestly signed, sent again: 409 with the stored size.
        let stale = submit(&w, &log.request(8, 8), stored).unwrap_err();
        assert!(matches!(
            stale,
            Refusal::Rollback {
                stored: 12,
                size: 8,
                old: 8
            }
        ));
        assert_eq!(
            (stale.spec_status(), stale.conflict_body()),
            (409, Some("12\n".into()))
        );
        // Claiming the stored size as old: a 400 in the protocol, still a rollback.
        let request =
            AddCheckpoint::new(12, vec![], log.request(8, 8).checkpoint().clone()).unwrap();
        let truncated = submit(&w, &request, stored).unwrap_err();
        assert!(matches!(
            truncated,
            Refusal::Rollback {
                stored: 12,
                size: 8,
                old: 12
            }
        ));
        assert_eq!(
            (truncated.spec_status(), truncated.conflict_body()),
            (400, None)
        );
        // Truncated and grown again with another history, still short of the stored size.
        let rewritten = Log::new(1, 10).forked_at(9);
        let refusal = submit(&w, &rewritten.request(0, 10), stored).unwrap_err();
        assert!(matches!(
            refusal,
            Refusal::Rollback {
                stored: 12,
                size: 10,
                ..
            }
        ));
    }

    #[test]
    fn forks_are_refused_and_worth_keeping() {
        let log = Log::new(1, 30);
        let w = witness(&log);
        let stored = Some(log.state(12));
        let forked = Log::new(1, 30).forked_at(3);

        // Same size, another root.
        let same = submit(&w, &forked.request(12, 12), stored).unwrap_err();
        assert!(matches!(same, Refusal::Fork { size: 12, .. }));
        assert_eq!(same.spec_status(), 409);
        assert!(same.worth_keeping());

        // Larger, with the forked log's own (valid for it) proof from 12.
        let grown = submit(&w, &forked.request(12, 30), stored).unwrap_err();
        assert!(matches!(
            grown,
            Refusal::Inconsistent {
                old: 12,
                size: 30,
                source: ProofError::OldRootMismatch
            }
        ));
        assert_eq!(grown.spec_status(), 422);
        assert!(grown.worth_keeping());

        // A history rewritten only after the stored size is consistent: not a fork.
        let appended = Log::new(1, 30).forked_at(20);
        assert!(submit(&w, &appended.request(12, 30), stored).is_ok());
    }

    #[test]
    fn bad_proofs_are_refused() {
        let log = Log::new(1, 30);
        let w = witness(&log);
        let stored = Some(log.state(12));
        let good = log.request(12, 30);
        let mut proof = good.proof().to_vec();
        proof[0] = leaf_hash(b"garbage");
        let cases = [
            (proof, ProofError::OldRootMismatch),
            (good.proof()[1..].to_vec(), ProofError::TooShort),
            (vec![], ProofError::TooShort),
        ];
        for (proof, expected) in cases {
            let request = AddCheckpoint::new(12, proof, good.checkpoint().clone()).unwrap();
            let refusal = submit(&w, &request, stored).unwrap_err();
            assert!(
                matches!(refusal, Refusal::Inconsistent { source, .. } if source == expected),
                "{refusal:?}"
            );
        }
        // From nothing, the proof must be empty; at equal sizes too.
        let request =
            AddCheckpoint::new(0, vec![leaf_hash(b"x")], good.checkpoint().clone()).unwrap();
        let refusal = submit(&w, &request, None).unwrap_err();
        assert!(matches!(
            refusal,
            Refusal::Inconsistent {
                source: ProofError::NotEmpty,
                ..
            }
        ));
        let again = log.request(12, 12);
        let request =
            AddCheckpoint::new(12, vec![leaf_hash(b"x")], again.checkpoint().clone()).unwrap();
        let refusal = submit(&w, &request, stored).unwrap_err();
        assert!(matches!(
            refusal,
            Refusal::Inconsistent {
                source: ProofError::NotEmpty,
                ..
            }
        ));
        // An empty tree whose root is not SHA-256 of nothing.
        let bogus = TlogCheckpoint::new(ORIGIN, 0, leaf_hash(b"x")).unwrap();
        let request = AddCheckpoint::new(0, vec![], bogus.sign(&log.signer).unwrap()).unwrap();
        let refusal = submit(&w, &request, None).unwrap_err();
        assert!(matches!(
            refusal,
            Refusal::Inconsistent {
                source: ProofError::RootMismatch,
                ..
            }
        ));
    }

    #[test]
    fn only_followed_logs_with_their_keys_are_cosigned() {
        let log = Log::new(1, 10);
        let w = witness(&log);
        let stranger = Log::new(2, 10);

        let refusal = submit(&w, &stranger.request(0, 10), None).unwrap_err();
        assert!(matches!(
            refusal,
            Refusal::Unverified(NoteError::Unverified)
        ));
        assert_eq!(refusal.spec_status(), 403);

        let other = TlogCheckpoint::new("other.example/log", 1, leaf_hash(b"a")).unwrap();
        let request = AddCheckpoint::new(0, vec![], other.sign(&log.signer).unwrap()).unwrap();
        let refusal = submit(&w, &request, None).unwrap_err();
        assert!(matches!(&refusal, Refusal::UnknownOrigin(o) if o == "other.example/log"));
        assert_eq!(refusal.spec_status(), 404);

        // The log's key over text that is not a checkpoint.
        let mut note = Note::new(format!("{ORIGIN}\nten\nroot\n")).unwrap();
        note.sign(&log.signer).unwrap();
        let request = AddCheckpoint::new(0, vec![], note).unwrap();
        let refusal = submit(&w, &request, None).unwrap_err();
        assert!(matches!(
            refusal,
            Refusal::Checkpoint(TlogCheckpointError::Size(_))
        ));
        assert_eq!(refusal.spec_status(), 400);

        // A bad signature by the trusted key, next to a good one by a stranger.
        let mut note = log.request(0, 10).checkpoint().clone();
        note.sign(&stranger.signer).unwrap();
        let tampered = note.to_string().replacen("\n10\n", "\n11\n", 1);
        let tampered = Note::parse(tampered.as_bytes()).unwrap();
        let request = AddCheckpoint::new(0, vec![], tampered).unwrap();
        let refusal = submit(&w, &request, None).unwrap_err();
        assert!(matches!(
            refusal,
            Refusal::Unverified(NoteError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn old_size_past_the_checkpoint_is_a_bad_request() {
        let log = Log::new(1, 10);
        let w = witness(&log);
        let request =
            AddCheckpoint::new(9, vec![], log.request(0, 7).checkpoint().clone()).unwrap();
        let refusal = submit(&w, &request, Some(log.state(5))).unwrap_err();
        assert!(matches!(
            refusal,
            Refusal::OldSizeTooLarge { old: 9, size: 7 }
        ));
        assert_eq!(
            (refusal.spec_status(), refusal.conflict_body()),
            (400, None)
        );
    }

    #[test]
    fn rotated_log_keys_and_the_clock() {
        let old_key = Log::new(1, 10);
        let new_key = Log::new(3, 10);
        let w = witness(&old_key).follow(ORIGIN, new_key.signer.verifier_key());
        assert!(w.follows(ORIGIN) && !w.follows("x"));
        assert!(submit(&w, &new_key.request(0, 10), None).is_ok());
        assert!(submit(&w, &old_key.request(0, 10), None).is_ok());
        let refusal = w
            .add_checkpoint(&old_key.request(0, 10), None, u64::MAX)
            .unwrap_err();
        assert!(matches!(refusal, Refusal::Cosign(NoteError::Timestamp)));
        assert_eq!(refusal.spec_status(), 500);
    }
}
