//! The tamper-evident audit log: canonical records, the RFC 9162 Merkle tree over them,
//! inclusion and consistency proofs, signed checkpoints, and verification of a stored log.
//!
//! This crate owns the *meaning* of the log; `broker` owns its storage. It knows no database,
//! no HTTP and no async runtime, does no I/O, and never sees an attribute value: records carry
//! attribute names and ids only. JWS checkpoints are signed by a trait the broker implements
//! with its keys; signed notes are signed with Ed25519 keys from `ring` that the broker hands
//! in (or with its own [`NoteSigner`]). Nothing here reads a clock or a random generator on
//! its own: times and generators are arguments.
//!
//! # How the broker uses it
//!
//! **Append** (one writer at a time: advisory lock or a single sequencer task), in one
//! transaction: read the head row ([`Frontier::from_bytes`]), [`Frontier::append`] the
//! [`Record`], insert the returned [`StoredRecord`] row and every returned `(NodeId, Hash)`,
//! write the head back ([`Frontier::to_bytes`], plus its size and [`Frontier::root`]). If
//! [`CheckpointPolicy::due`], sign `Checkpoint { tree_size, root_hash: frontier.root(), time_ms }`
//! with [`SignedCheckpoint::sign`] and insert it. Assumed tables:
//!
//! | table | columns |
//! |---|---|
//! | `audit_record` | `seq` BIGINT PK, `id` TEXT UNIQUE, `entry` BLOB, `leaf_hash` BLOB(32), `time_ms` BIGINT, `action` TEXT, `outcome` TEXT, `citizen_id`, `department_id`, `purpose` TEXT NULL (indexed) |
//! | `audit_node` | `level` SMALLINT, `idx` BIGINT, `hash` BLOB(32), PK (`level`, `idx`); level 0 included |
//! | `audit_head` | one row: `tree_size` BIGINT, `root_hash` BLOB(32), `frontier` BLOB |
//! | `audit_checkpoint` | `tree_size` BIGINT PK, `root_hash` BLOB(32), `time_ms` BIGINT, `jws` TEXT |
//!
//! **Prove**: [`inclusion_plan`] / [`consistency_plan`] name the O(log n) nodes needed; fetch
//! them in one query; [`ProofPlan::assemble`] gives the RFC 9162 path. Prove against a
//! checkpoint's size so the client can check the root's signature. Anyone can check the result
//! with [`verify_inclusion`] / [`verify_consistency`].
//!
//! **Verify** (`broker audit verify`): stream rows in seq order into a [`LogVerifier`] with all
//! checkpoints (and optionally the stored nodes and the head row), then [`LogVerifier::finish`].
//!
//! # Witnessed checkpoints (C2SP)
//!
//! For witnesses outside the broker, the same tree heads are also published in the C2SP
//! transparency-log formats, implemented here byte for byte:
//!
//! | spec | here |
//! |---|---|
//! | `c2sp.org/signed-note` v1.0.0 | [`Note`], [`NoteSignature`], [`KeyName`], [`KeyId`], [`VerifierKey`] (`<name>+<hex id>+<base64>`), [`Ed25519Signer`] (type `0x01`) |
//! | `c2sp.org/tlog-checkpoint` v1.0.0 | [`TlogCheckpoint`], built from a [`Checkpoint`] by [`TlogCheckpoint::from_checkpoint`] |
//! | `c2sp.org/tlog-cosignature` v1 (Ed25519, type `0x04`) | [`CosignatureSigner`], [`VerifierKey::verify`], [`cosignature_time`] |
//! | `c2sp.org/tlog-witness` (`add-checkpoint`) | [`AddCheckpoint`] (request body), [`Witness`] (the decision), [`Refusal`] (typed refusals and their protocol status), [`conflict_body`], [`parse_cosignatures`] |
//!
//! **Publish**: `TlogCheckpoint::from_checkpoint(origin, &checkpoint)?.sign(&note_key)?` gives
//! the checkpoint note; **submit**: `AddCheckpoint::new(witness_size, consistency_proof,
//! note)?.to_bytes()`, then add the lines of a `200` answer to the note and
//! [`Note::verify`] them with the witness keys, or retry from [`parse_conflict_body`] after a
//! `409`. **Witness**: [`Witness::add_checkpoint`] with the stored [`LogState`], atomically
//! with storing the new one (see [`Witness`]).
//!
//! # What verification can and cannot say
//!
//! It reports the **first** failure in seq order and stops there.
//! - An entry edited without fixing its leaf hash, an indexed column changed, a gap or repeat
//!   in seq, or a record whose entry says it belongs elsewhere is named **exactly** (seq and
//!   id). After renumbering (rows deleted or inserted and the later seqs shifted to hide it), the
//!   seq is exact and the kind is inferred from the next row; an inserted record more than 64
//!   rows back is named without its id.
//! - An entry rewritten **together with** its leaf hash is named exactly if the stored nodes
//!   are checked and were left alone ([`VerifyError::Rewritten`]).
//! - If entry, leaf hash and nodes were all rewritten consistently, only a signature can tell:
//!   the first checkpoint whose signed root does not match fails, and the finding is the
//!   **range** since the previous good checkpoint ([`VerifyError::CheckpointRootMismatch`]);
//!   the records in it cannot be told apart, so the first of the range is named.
//! - Records after the last checkpoint are not protected by any signature: rewriting or
//!   deleting them consistently (head row included) is undetectable until a checkpoint covers
//!   them. Checkpoint often; [`VerifySummary::unsigned_records`] says how many are exposed.
//! - A stream stops at the first finding: a consistent rewrite earlier in the same checkpoint
//!   range as a plain edit shows up only once the edit is dealt with.
//! - Whoever holds a checkpoint signing key can re-sign a rewritten log. Checkpoints kept
//!   outside the database (by citizens, departments, witnesses) and consistency proofs against
//!   them are the defence; this verifier trusts exactly the keys it is given.

mod canonical;
mod checkpoint;
mod cosignature;
mod error;
mod frontier;
mod hash;
mod merkle;
mod note;
mod proof;
mod record;
pub mod reference;
mod tlog_checkpoint;
mod verify;
mod witness;

pub use checkpoint::{
    CHECKPOINT_FORMAT_VERSION, CHECKPOINT_TYPE, Checkpoint, CheckpointPolicy, CheckpointSigner,
    CheckpointVerifier, SignedCheckpoint,
};
pub use cosignature::{
    COSIGNATURE_V1_HEADER, CosignatureSigner, MAX_COSIGNATURE_TIME, cosignature_time,
    signed_message as cosignature_message,
};
pub use error::{
    BoxError, CheckpointError, EntryError, Error, NoteError, ParseError, ProofError, RequestError,
    TlogCheckpointError, TreeError,
};
pub use frontier::{Appended, Frontier};
pub use hash::{Hash, empty_root, leaf_hash, node_hash};
pub use merkle::{NodeId, NodeLookup, NodeSpan, completed_nodes};
pub use note::{
    Ed25519Signer, KeyId, KeyName, MAX_NOTE_SIGNATURES, Note, NoteSignature, NoteSigner,
    SecretSignerKey, SignatureType, VerifierKey,
};
pub use proof::{
    ProofPlan, consistency_plan, inclusion_plan, verify_consistency, verify_inclusion,
};
pub use record::{Action, Actor, ActorKind, Outcome, RECORD_FORMAT_VERSION, Record, StoredRecord};
pub use tlog_checkpoint::TlogCheckpoint;
pub use verify::{
    Evidence, LogVerifier, Prechecked, Progress, TamperKind, VerifyError, VerifySummary,
};
pub use witness::{
    AddCheckpoint, Cosigned, LogState, MAX_PROOF_LINES, Refusal, Witness, conflict_body,
    parse_conflict_body, parse_cosignatures,
};
