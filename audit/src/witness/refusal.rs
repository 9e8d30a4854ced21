//! Why a witness did not cosign, and how the protocol answers each reason.

use super::request::conflict_body;
use crate::error::{NoteError, ProofError, TlogCheckpointError};
use crate::hash::Hash;

/// Why a witness did not cosign. Deliberately exhaustive: a new reason must be handled by
/// every caller.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The witness does not follow this origin.
    #[error("the witness does not follow the log `{0}`")]
    UnknownOrigin(String),
    /// No trusted key of the log signed the checkpoint, or one's signature is bad.
    #[error("the checkpoint is not signed by the log")]
    Unverified(#[source] NoteError),
    /// The log signed a text that is not a checkpoint body.
    #[error("the signed note is not a checkpoint")]
    Checkpoint(#[source] TlogCheckpointError),
    /// A signed checkpoint smaller than the one already cosigned: the log was rolled back (or
    /// the request is stale).
    #[error("rollback: the checkpoint's size {size} is below the {stored} already cosigned")]
    Rollback {
        /// The size cosigned.
        stored: u64,
        /// The checkpoint's size.
        size: u64,
        /// The request's old size.
        old: u64,
    },
    /// The old size is past the checkpoint's size.
    #[error("the old size {old} is larger than the checkpoint's size {size}")]
    OldSizeTooLarge {
        /// The request's old size.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The log's idea of the last cosigned size is not the witness's: it should retry from
    /// `stored`.
    #[error("the old size {old} is not the size {stored} last cosigned")]
    SizeConflict {
        /// The size cosigned.
        stored: u64,
        /// The request's old size.
        old: u64,
    },
    /// A signed checkpoint of the size already cosigned with another root: a split view.
    #[error("fork: the checkpoint of size {size} has another root than the one cosigned")]
    Fork {
        /// The size of both.
        size: u64,
        /// The root cosigned.
        stored_root: Hash,
        /// The checkpoint's root.
        root: Hash,
    },
    /// The consistency proof from the cosigned checkpoint does not verify: the new tree does
    /// not extend the old one (a fork), or the proof is wrong.
    #[error("the consistency proof from size {old} to {size} does not verify")]
    Inconsistent {
        /// The old size (the stored one).
        old: u64,
        /// The checkpoint's size.
        size: u64,
        /// What failed.
        #[source]
        source: ProofError,
    },
    /// The witness could not cosign (its clock is past `2^63 - 1`).
    #[error("the witness could not cosign")]
    Cosign(#[source] NoteError),
}

impl Refusal {
    /// The HTTP status `tlog-witness` prescribes.
    pub fn spec_status(&self) -> u16 {
        match self {
            Self::UnknownOrigin(_) => 404,
            Self::Unverified(_) => 403,
            Self::Checkpoint(_) | Self::OldSizeTooLarge { .. } => 400,
            // Old size past the new one is a 400; otherwise it cannot be the stored size.
            Self::Rollback { size, old, .. } if old > size => 400,
            Self::Rollback { .. } | Self::SizeConflict { .. } | Self::Fork { .. } => 409,
            Self::Inconsistent { .. } => 422,
            Self::Cosign(_) => 500,
        }
    }

    /// For a `409`: the body, the size of the latest cosigned checkpoint and a newline
    /// (`Content-Type: text/x.tlog.size`).
    pub fn conflict_body(&self) -> Option<String> {
        match self {
            Self::SizeConflict { stored, .. } => Some(conflict_body(*stored)),
            Self::Rollback { stored, .. } if self.spec_status() == 409 => {
                Some(conflict_body(*stored))
            }
            Self::Fork { size, .. } => Some(conflict_body(*size)),
            _ => None,
        }
    }

    /// Whether the request may prove the log misbehaved, and is worth keeping: a checkpoint
    /// validly signed by the log that contradicts the one cosigned. A fork at equal sizes is
    /// proof; a proof that does not verify may also be a mere bug in the log. A rollback is
    /// not: an old checkpoint sent again is signed honestly, only stale.
    pub fn worth_keeping(&self) -> bool {
        matches!(self, Self::Fork { .. } | Self::Inconsistent { .. })
    }
}
