//! Errors. [`Error`] is the one type a caller can `?` everything into; each function returns the
//! narrower enum that says what can actually go wrong there. Messages are lowercase, without a
//! final period, and never carry record contents: at most ids, sizes and positions.

use crate::merkle::NodeId;
use crate::verify::VerifyError;

/// An error from a signer or verifier the broker supplies, kept as the source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Any error of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value given as text did not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// Stored canonical bytes did not decode.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// A tree operation was asked something impossible, or a node was not stored.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// A proof did not verify.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// Signing or checking a checkpoint failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Log verification found tampering.
    #[error(transparent)]
    Log(#[from] VerifyError),
}

/// A value given as text (hash, action, outcome, actor kind) did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The bytes decoded, but not to 32 of them.
    #[error("a hash is 32 bytes, not {0}")]
    HashLength(usize),
    /// Neither hex nor base64.
    #[error("a hash must be 64 hex digits or 44 base64 characters")]
    HashEncoding,
    /// Not one of [`crate::Action::ALL`].
    #[error("unknown audit action `{0}`")]
    Action(String),
    /// Not one of [`crate::Outcome::ALL`].
    #[error("unknown audit outcome `{0}`")]
    Outcome(String),
    /// Not one of [`crate::ActorKind::ALL`].
    #[error("unknown actor kind `{0}`")]
    ActorKind(String),
}

impl ParseError {
    /// Keeps user input in messages short: it is echoed in backticks.
    pub(crate) fn echo(input: &str) -> String {
        const MAX: usize = 48;
        match input.char_indices().nth(MAX) {
            Some((cut, _)) => format!("{}…", &input[..cut]),
            None => input.to_owned(),
        }
    }
}

/// Canonical bytes (an audit entry or a checkpoint payload) did not decode.
///
/// Positions only: the JSON parser's own messages can quote the input, so they are dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// Not JSON at all.
    #[error("not valid json at line {line}, column {column}")]
    Syntax {
        /// 1-based line of the first error.
        line: usize,
        /// 1-based column of the first error.
        column: usize,
    },
    /// JSON, but a field is missing, unknown, or of the wrong type or value.
    #[error("json does not have the expected fields at line {line}, column {column}")]
    Shape {
        /// 1-based line of the first error.
        line: usize,
        /// 1-based column of the first error.
        column: usize,
    },
    /// A format version this code does not know.
    #[error("unsupported format version {0}")]
    Version(u64),
    /// Decodes, but re-encoding gives other bytes (whitespace, key order, escapes, duplicates).
    #[error("valid json but not the canonical encoding")]
    NotCanonical,
}

impl EntryError {
    pub(crate) fn from_json(err: &serde_json::Error) -> Self {
        let (line, column) = (err.line(), err.column());
        match err.classify() {
            serde_json::error::Category::Data => Self::Shape { line, column },
            _ => Self::Syntax { line, column },
        }
    }
}

/// A tree operation that cannot be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError {
    /// An inclusion plan for a leaf the tree does not have.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency plan from a larger tree to a smaller one.
    #[error("tree size {old} is larger than tree size {new}")]
    SizeDecrease {
        /// The first size.
        old: u64,
        /// The second size.
        new: u64,
    },
    /// A node a plan or frontier needs was not supplied.
    #[error("tree node {0} is not stored")]
    MissingNode(NodeId),
    /// A serialised frontier does not decode.
    #[error("the stored frontier is malformed")]
    BadFrontier,
    /// The tree already holds `u64::MAX` leaves.
    #[error("the tree is full")]
    Full,
}

/// A proof that does not verify (RFC 9162 §2.1.3.2, §2.1.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The old size is larger than the new size.
    #[error("tree size {old} is larger than tree size {new}")]
    SizeDecrease {
        /// The first size.
        old: u64,
        /// The second size.
        new: u64,
    },
    /// More hashes than the tree shape allows.
    #[error("the proof has too many hashes")]
    TooLong,
    /// Fewer hashes than the tree shape needs.
    #[error("the proof has too few hashes")]
    TooShort,
    /// A proof between equal sizes, or from the empty tree, must be empty.
    #[error("the proof must be empty for these tree sizes")]
    NotEmpty,
    /// The path leads to another root.
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
    /// A consistency path that does not rebuild the old root.
    #[error("the proof does not lead to the old root")]
    OldRootMismatch,
}

/// Signing or checking a checkpoint failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The broker's signer failed.
    #[error("signing the checkpoint failed")]
    Sign(#[source] BoxError),
    /// The JWS did not verify under any key the verifier trusts.
    #[error("the checkpoint signature does not verify")]
    Signature(#[source] BoxError),
    /// The JWS verified, but its payload is not a checkpoint.
    #[error("the signed payload is not a checkpoint")]
    Payload(#[source] EntryError),
    /// The JWS verified, but it signs other values than the stored ones.
    #[error("the signed payload differs from the stored checkpoint")]
    Mismatch,
}
