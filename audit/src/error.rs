//! Errors. [`Error`] is the one type a caller can `?` everything into; each function returns the
//! narrower enum that says what can actually go wrong there. Messages are lowercase, without a
//! final period, and never carry record contents: at most ids, sizes and positions.

use crate::merkle::NodeId;
use crate::note::KeyId;
use crate::verify::VerifyError;
use crate::witness::Refusal;

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
    /// A signed note, a note key or a signature did not parse or verify.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// A checkpoint note's text is not a C2SP `tlog-checkpoint`.
    #[error(transparent)]
    TlogCheckpoint(#[from] TlogCheckpointError),
    /// A witness request or response body did not parse.
    #[error(transparent)]
    WitnessRequest(#[from] RequestError),
    /// A witness refused a checkpoint.
    #[error(transparent)]
    Refusal(#[from] Refusal),
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

/// A signed note, a note key or a signature did not parse or verify (C2SP `signed-note`).
///
/// Key names are echoed shortened; signatures and key material never are.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The bytes are not UTF-8.
    #[error("a signed note must be utf-8 (byte {0})")]
    NotUtf8(usize),
    /// A control character other than newline.
    #[error("a signed note must not contain control characters other than newline (byte {0})")]
    ControlCharacter(usize),
    /// The text does not end with a newline.
    #[error("note text must end with a newline")]
    TextNewline,
    /// No empty line followed by signature lines.
    #[error("a signed note needs its text, an empty line and at least one signature line")]
    NoSignatures,
    /// A signature line (numbered from 1) is not `— <name> <base64>` ending in a newline.
    #[error("signature line {0} is malformed")]
    SignatureLine(usize),
    /// More signature lines than [`crate::MAX_NOTE_SIGNATURES`].
    #[error("a note carries at most {max} signatures")]
    TooManySignatures {
        /// The limit.
        max: usize,
    },
    /// A key name that is empty or holds a space, a control character or `+`.
    #[error("key name `{0}` must be non-empty, without spaces, control characters or `+`")]
    KeyName(String),
    /// A verifier or signer key not of the form `<name>+<8 hex digits>+<base64>`.
    #[error("a key must read `<name>+<8 lowercase hex digits>+<base64 of type and key>`")]
    KeyFormat,
    /// A key of a signature type this crate does not implement.
    #[error("unsupported signature type 0x{0:02x}")]
    SignatureType(u8),
    /// An Ed25519 key (public, or a private seed) that is not 32 bytes.
    #[error("an ed25519 key is 32 bytes, not {0}")]
    KeyLength(usize),
    /// The key ID written in a key is not the one its name, type and key derive.
    #[error("key id {written} does not match the key, which derives {derived}")]
    KeyIdMismatch {
        /// The ID in the text.
        written: KeyId,
        /// `SHA-256(name || 0x0A || type || public key)[:4]`.
        derived: KeyId,
    },
    /// The cryptographic library refused a private key.
    #[error("the private key was rejected")]
    KeyRejected,
    /// The random generator failed while making a key.
    #[error("no randomness for a new key")]
    Random,
    /// A signature by a trusted key that does not verify: the whole note is refused.
    #[error("the signature by key `{name}+{id}` does not verify")]
    InvalidSignature {
        /// The key's name.
        name: String,
        /// The key's ID.
        id: KeyId,
    },
    /// Two different trusted keys share a name and key ID.
    #[error("two trusted keys share the name `{name}` and key id {id}")]
    AmbiguousKey {
        /// The shared name.
        name: String,
        /// The shared ID.
        id: KeyId,
    },
    /// No signature by a trusted key: the note text must be ignored.
    #[error("the note has no signature by a trusted key")]
    Unverified,
    /// A cosignature timestamp above `2^63 - 1`.
    #[error("a cosignature timestamp must not exceed 2^63 - 1")]
    Timestamp,
    /// A signer supplied by the caller failed.
    #[error("signing the note failed")]
    Sign(#[source] BoxError),
}

/// A note text that is not a C2SP `tlog-checkpoint` body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogCheckpointError {
    /// The text does not end with a newline.
    #[error("a checkpoint body must end with a newline")]
    MissingNewline,
    /// Fewer than the origin, size and root hash lines.
    #[error("a checkpoint body has an origin, a tree size and a root hash line")]
    TooFewLines,
    /// The origin line is empty or holds a control character.
    #[error("the checkpoint origin must be a non-empty line without control characters")]
    Origin,
    /// The size line is not a decimal without leading zeroes that fits 64 bits.
    #[error("the tree size `{0}` must be a decimal number without leading zeroes")]
    Size(String),
    /// The root hash line is not the standard padded base64 of 32 bytes.
    #[error("the root hash must be the base64 of 32 bytes")]
    RootHash,
    /// An extension line (numbered from 1) that is empty or holds a control character.
    #[error("extension line {0} must be non-empty and without control characters")]
    Extension(usize),
}

/// A `tlog-witness` request or response body that does not parse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The first line is not `old <size>` with a decimal size without leading zeroes.
    #[error("the body must start with `old <size>` and a newline")]
    OldSize,
    /// A consistency proof line (numbered from 1) is not the base64 of 32 bytes.
    #[error("consistency proof line {0} must be the base64 of a 32-byte hash")]
    ProofLine(usize),
    /// More proof lines than the protocol allows.
    #[error("a consistency proof has at most {max} lines")]
    ProofTooLong {
        /// The limit.
        max: usize,
    },
    /// No empty line after the proof.
    #[error("the consistency proof must end with an empty line")]
    MissingEmptyLine,
    /// The checkpoint after the empty line is not a signed note.
    #[error("the checkpoint is not a signed note")]
    Checkpoint(#[source] NoteError),
    /// A `409` body that is not a tree size and a newline.
    #[error("a conflict body is a decimal tree size and a newline")]
    ConflictBody,
    /// A `200` body that is not signature lines.
    #[error("a cosignature body is note signature lines")]
    Cosignatures(#[source] NoteError),
}
