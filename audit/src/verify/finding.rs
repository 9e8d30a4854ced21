//! What log verification reports when the log is not what was written.

use std::fmt;
use std::ops::Range;

use crate::error::{BoxError, EntryError};
use crate::merkle::NodeId;

/// The first thing in the log, in seq order, that does not match. Ids only, never contents.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The entry does not hash to the stored leaf hash: the entry (or the hash) was changed.
    #[error("record {seq} (`{id}`) was edited: its entry does not hash to its stored leaf hash")]
    Edited {
        /// The record.
        seq: u64,
        /// Its id column.
        id: String,
    },
    /// The entry hashes right but is not a canonical record: both were changed.
    #[error("record {seq} (`{id}`) was edited: its entry is not a canonical audit record")]
    Unreadable {
        /// The record.
        seq: u64,
        /// Its id column.
        id: String,
        /// Why it does not decode.
        #[source]
        source: EntryError,
    },
    /// Entry and leaf hash were rewritten together, but the stored level-0 node still holds
    /// the original leaf hash.
    #[error(
        "record {seq} (`{id}`) was rewritten: its entry and leaf hash agree but its stored tree node does not"
    )]
    Rewritten {
        /// The record.
        seq: u64,
        /// Its id column.
        id: String,
    },
    /// An indexed column no longer says what the entry says (searches would mislead).
    #[error("record {seq} (`{id}`): the stored `{column}` column differs from the entry")]
    ColumnMismatch {
        /// The record.
        seq: u64,
        /// Its id column.
        id: String,
        /// The column.
        column: &'static str,
    },
    /// Records were deleted: a gap in seq, or later records renumbered to close it.
    #[error(
        "record {seq} is missing: {count} record(s) deleted before the record now stored as `{next_id}`"
    )]
    Missing {
        /// The first missing record.
        seq: u64,
        /// How many are missing.
        count: u64,
        /// The record found in their place.
        next_id: String,
    },
    /// A record that was never appended: a repeated seq, later records renumbered to make
    /// room, or a record beyond the head row.
    #[error("record {seq} ({}) was inserted", IdOrUnknown(.id.as_deref()))]
    Inserted {
        /// The inserted record's position.
        seq: u64,
        /// Its id, when still known.
        id: Option<String>,
    },
    /// A record sits where another should be (rows swapped).
    #[error("record {seq} (`{id}`) is out of place: its entry is record {entry_seq}")]
    Reordered {
        /// Where it is stored.
        seq: u64,
        /// Its id column.
        id: String,
        /// Where its entry says it belongs.
        entry_seq: u64,
    },
    /// Rows were fed out of seq order (a query without `ORDER BY seq`, or seq columns swapped).
    #[error("record {seq} (`{id}`) came after record {after}: records must be in seq order")]
    OutOfOrder {
        /// The record fed.
        seq: u64,
        /// Its id column.
        id: String,
        /// The record fed before it.
        after: u64,
    },
    /// The log ends before something that saw it said it did.
    #[error("the log was truncated: it holds {records} records but {evidence} covers {claimed}")]
    Truncated {
        /// Records found.
        records: u64,
        /// Records claimed.
        claimed: u64,
        /// Who claims them.
        evidence: Evidence,
    },
    /// The checkpoint's JWS does not verify: forged or altered checkpoint row.
    #[error("checkpoint at tree size {tree_size}: the signature does not verify")]
    CheckpointSignature {
        /// The checkpoint's stored size.
        tree_size: u64,
        /// The verifier's error.
        #[source]
        source: BoxError,
    },
    /// The JWS verifies, but the stored columns say something else than the signed payload.
    #[error("checkpoint at tree size {tree_size}: the stored fields differ from what was signed")]
    CheckpointAltered {
        /// The checkpoint's stored size.
        tree_size: u64,
    },
    /// The records do not hash to the signed root: some record in the range since the previous
    /// good checkpoint was rewritten consistently (entry, leaf hash and nodes). A range, not a
    /// record: no finer evidence survives such a rewrite.
    #[error(
        "records {first} to {} do not match the signed checkpoint at tree size {end}; one of them was rewritten, starting at most at record {first} ({})",
        .end.saturating_sub(1), IdOrUnknown(.first_id.as_deref())
    )]
    CheckpointRootMismatch {
        /// First record of the range (the previous good checkpoint's size).
        first: u64,
        /// The failing checkpoint's size (exclusive end).
        end: u64,
        /// Id of record `first`, when known.
        first_id: Option<String>,
    },
    /// A stored node differs from the records under it, whose own nodes all match: the node
    /// was altered (proofs served from it would be wrong).
    #[error("stored tree node {node} does not match the records it covers")]
    NodeMismatch {
        /// The node.
        node: NodeId,
    },
    /// A node that must be stored is not.
    #[error("stored tree node {node} is missing")]
    NodeMissing {
        /// The node.
        node: NodeId,
    },
    /// The head row's frontier differs from the rebuilt one: a record in that range was
    /// rewritten after the last checkpoint, or the head row was altered.
    #[error("records {first} to {} do not match the head row", .end.saturating_sub(1))]
    HeadMismatch {
        /// First record of the first differing subtree.
        first: u64,
        /// End of it (exclusive).
        end: u64,
    },
    /// A call after a failure: the verifier stops at the first one.
    #[error("verification already stopped at an earlier failure")]
    Halted,
}

/// Who says the log was longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// A checkpoint whose signature verifies.
    Checkpoint,
    /// The broker's head row (unsigned).
    Head,
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Checkpoint => "a signed checkpoint",
            Self::Head => "the head row",
        })
    }
}

struct IdOrUnknown<'a>(Option<&'a str>);

impl fmt::Display for IdOrUnknown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, "`{id}`"),
            None => f.write_str("id unknown"),
        }
    }
}

/// The kind of tampering, for exit codes, filters and translations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TamperKind {
    /// A record's contents changed.
    Edited,
    /// An indexed column disagrees with its entry.
    ColumnMismatch,
    /// Records deleted from the middle.
    Missing,
    /// A record added that was never appended.
    Inserted,
    /// Records out of place.
    Reordered,
    /// Records deleted from the end.
    Truncated,
    /// A checkpoint's signature does not verify.
    CheckpointSignatureInvalid,
    /// A checkpoint row differs from what was signed.
    CheckpointAltered,
    /// Records do not hash to a signed root.
    CheckpointRootMismatch,
    /// The stored tree nodes were altered or deleted.
    NodeMismatch,
    /// The head row disagrees with the records.
    HeadMismatch,
}

impl VerifyError {
    /// The kind; `None` only for [`VerifyError::Halted`].
    pub fn kind(&self) -> Option<TamperKind> {
        Some(match self {
            Self::Edited { .. } | Self::Unreadable { .. } | Self::Rewritten { .. } => {
                TamperKind::Edited
            }
            Self::ColumnMismatch { .. } => TamperKind::ColumnMismatch,
            Self::Missing { .. } => TamperKind::Missing,
            Self::Inserted { .. } => TamperKind::Inserted,
            Self::Reordered { .. } | Self::OutOfOrder { .. } => TamperKind::Reordered,
            Self::Truncated { .. } => TamperKind::Truncated,
            Self::CheckpointSignature { .. } => TamperKind::CheckpointSignatureInvalid,
            Self::CheckpointAltered { .. } => TamperKind::CheckpointAltered,
            Self::CheckpointRootMismatch { .. } => TamperKind::CheckpointRootMismatch,
            Self::NodeMismatch { .. } | Self::NodeMissing { .. } => TamperKind::NodeMismatch,
            Self::HeadMismatch { .. } => TamperKind::HeadMismatch,
            Self::Halted => return None,
        })
    }

    /// The first record known to be bad; for a range finding, the first record of the range.
    /// `None` when the finding is about a checkpoint row rather than records.
    pub fn first_seq(&self) -> Option<u64> {
        match self {
            Self::Edited { seq, .. }
            | Self::Unreadable { seq, .. }
            | Self::Rewritten { seq, .. }
            | Self::ColumnMismatch { seq, .. }
            | Self::Missing { seq, .. }
            | Self::Inserted { seq, .. }
            | Self::Reordered { seq, .. }
            | Self::OutOfOrder { seq, .. } => Some(*seq),
            Self::Truncated { records, .. } => Some(*records),
            Self::CheckpointRootMismatch { first, .. } | Self::HeadMismatch { first, .. } => {
                Some(*first)
            }
            Self::NodeMismatch { node } | Self::NodeMissing { node } => Some(node.leaves().start),
            Self::CheckpointSignature { .. } | Self::CheckpointAltered { .. } | Self::Halted => {
                None
            }
        }
    }

    /// The id of the record [`VerifyError::first_seq`] names, when known.
    pub fn record_id(&self) -> Option<&str> {
        match self {
            Self::Edited { id, .. }
            | Self::Unreadable { id, .. }
            | Self::Rewritten { id, .. }
            | Self::ColumnMismatch { id, .. }
            | Self::Reordered { id, .. }
            | Self::OutOfOrder { id, .. } => Some(id),
            Self::Inserted { id, .. } => id.as_deref(),
            Self::CheckpointRootMismatch { first_id, .. } => first_id.as_deref(),
            _ => None,
        }
    }

    /// For findings that can only name a range of records: that range. `None` when the finding
    /// names one record exactly (or none).
    pub fn range(&self) -> Option<Range<u64>> {
        match self {
            Self::CheckpointRootMismatch { first, end, .. } | Self::HeadMismatch { first, end } => {
                Some(*first..*end)
            }
            Self::NodeMismatch { node } | Self::NodeMissing { node } if node.level() > 0 => {
                Some(node.leaves())
            }
            _ => None,
        }
    }

    /// True when [`VerifyError::first_seq`] is the start of a range, not an exact record.
    pub fn is_range(&self) -> bool {
        self.range().is_some()
    }
}
