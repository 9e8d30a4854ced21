//! C2SP `tlog-checkpoint` (v1.0.0): the note text a transparency log signs for a tree head.
//!
//! ```text
//! <origin>
//! <tree size, decimal>
//! <root hash, base64>
//! [extension lines]
//! ```
//!
//! The broker's own tree heads are [`Checkpoint`]s signed as JWS; [`TlogCheckpoint::from_checkpoint`]
//! gives the same tree head as this body, to be signed as a note with an [`crate::Ed25519Signer`]
//! whose key name is the origin, and cosigned by witnesses. The time is not part of the body:
//! the cosignatures carry theirs. Parsing accepts exactly what [`TlogCheckpoint::to_text`]
//! prints.

use std::fmt;

use crate::checkpoint::Checkpoint;
use crate::error::{NoteError, ParseError, TlogCheckpointError};
use crate::hash::Hash;
use crate::note::{Note, NoteSigner};

/// A checkpoint body: the log's origin, a tree size and root hash, and opaque extension lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TlogCheckpoint {
    // INVARIANT: origin and extensions are non-empty, without characters below U+0020.
    origin: String,
    size: u64,
    root_hash: Hash,
    extensions: Vec<String>,
}

impl TlogCheckpoint {
    /// A body without extension lines. The origin should be a schema-less URL such as
    /// `broker.example/audit`; it must be a non-empty line without control characters below
    /// U+0020.
    pub fn new(
        origin: impl Into<String>,
        size: u64,
        root_hash: Hash,
    ) -> Result<Self, TlogCheckpointError> {
        let origin = origin.into();
        if !is_line(&origin) {
            return Err(TlogCheckpointError::Origin);
        }
        Ok(Self {
            origin,
            size,
            root_hash,
            extensions: Vec::new(),
        })
    }

    /// The broker's tree head `checkpoint` as published under `origin`.
    pub fn from_checkpoint(
        origin: impl Into<String>,
        checkpoint: &Checkpoint,
    ) -> Result<Self, TlogCheckpointError> {
        Self::new(origin, checkpoint.tree_size, checkpoint.root_hash)
    }

    /// Adds an extension line (discouraged by the spec: monitors cannot audit them).
    pub fn with_extension(mut self, line: impl Into<String>) -> Result<Self, TlogCheckpointError> {
        let line = line.into();
        if !is_line(&line) {
            return Err(TlogCheckpointError::Extension(self.extensions.len() + 1));
        }
        self.extensions.push(line);
        Ok(self)
    }

    /// Parses a note text as a checkpoint body.
    pub fn parse(text: &str) -> Result<Self, TlogCheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(TlogCheckpointError::MissingNewline)?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(TlogCheckpointError::TooFewLines);
        };
        let size =
            parse_size(size).ok_or_else(|| TlogCheckpointError::Size(ParseError::echo(size)))?;
        // Exactly 44 characters: Hash::from_base64 alone would also take other lengths of
        // padded base64 and report them by decoded length.
        let root_hash = (root.len() == 44)
            .then(|| Hash::from_base64(root).ok())
            .flatten()
            .ok_or(TlogCheckpointError::RootHash)?;
        let mut checkpoint = Self::new(origin, size, root_hash)?;
        for line in lines {
            checkpoint = checkpoint.with_extension(line)?;
        }
        Ok(checkpoint)
    }

    /// The origin line: the log's identity.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash at that size.
    pub fn root_hash(&self) -> Hash {
        self.root_hash
    }

    /// The extension lines, if any.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The note text: each line followed by a newline.
    pub fn to_text(&self) -> String {
        self.to_string()
    }

    /// The body as an unsigned note.
    pub fn to_note(&self) -> Note {
        // The lines were checked when the body was built, and the text ends in a newline.
        Note::from_valid_text(self.to_text())
    }

    /// The body signed by the log's key (whose name should be the origin).
    pub fn sign<S: NoteSigner + ?Sized>(&self, signer: &S) -> Result<Note, NoteError> {
        let mut note = self.to_note();
        note.sign(signer)?;
        Ok(note)
    }
}

impl fmt::Display for TlogCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.origin)?;
        writeln!(f, "{}", self.size)?;
        writeln!(f, "{}", self.root_hash.to_base64())?;
        for line in &self.extensions {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

/// What a note allows on one line: no control character below U+0020 (newline included).
fn is_line(line: &str) -> bool {
    !line.is_empty() && !line.bytes().any(|b| b < 0x20)
}

/// ASCII decimal, no sign, no leading zero unless the size is `0`.
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    // c2sp.org/tlog-checkpoint, the example.
    const SPEC: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    #[test]
    fn spec_body_round_trips() {
        let c = TlogCheckpoint::parse(SPEC).unwrap();
        assert_eq!(c.origin(), "example.com/behind-the-sofa");
        assert_eq!(c.size(), 20_852_163);
        assert_eq!(
            c.root_hash().to_base64(),
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
        );
        assert!(c.extensions().is_empty());
        assert_eq!(c.to_text(), SPEC);
        let ext = format!("{SPEC}ext one\nabc\n");
        let c = TlogCheckpoint::parse(&ext).unwrap();
        assert_eq!(c.extensions(), ["ext one", "abc"]);
        assert_eq!(c.to_text(), ext);
    }

    #[test]
    fn built_from_the_broker_tree_head() {
        let head = Checkpoint {
            tree_size: 7,
            root_hash: leaf_hash(b"root"),
            time_ms: 1_700_000_000_000,
        };
        let c = TlogCheckpoint::from_checkpoint("broker.example/audit", &head).unwrap();
        assert_eq!(
            c.to_text(),
            format!("broker.example/audit\n7\n{}\n", head.root_hash.to_base64())
        );
        assert_eq!(c.to_note().text(), c.to_text());
        let empty = TlogCheckpoint::new("o", 0, crate::hash::empty_root()).unwrap();
        assert_eq!(TlogCheckpoint::parse(&empty.to_text()).unwrap(), empty);
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
        let cases = [
            ("o\n1\nx".to_owned(), TlogCheckpointError::MissingNewline),
            ("o\n1\n".to_owned(), TlogCheckpointError::TooFewLines),
            (format!("\n1\n{root}\n"), TlogCheckpointError::Origin),
            (format!("o\u{1}\n1\n{root}\n"), TlogCheckpointError::Origin),
            (
                format!("o\n01\n{root}\n"),
                TlogCheckpointError::Size("01".into()),
            ),
            (
                format!("o\n+1\n{root}\n"),
                TlogCheckpointError::Size("+1".into()),
            ),
            (
                format!("o\n\n{root}\n"),
                TlogCheckpointError::Size(String::new()),
            ),
            (
                format!("o\n18446744073709551616\n{root}\n"),
                TlogCheckpointError::Size("18446744073709551616".into()),
            ),
            (
                format!("o\n1\n{}\n", &root[..43]),
                TlogCheckpointError::RootHash,
            ),
            (
                format!("o\n1\n{}\n", root.replace("2I=", "2J=")),
                TlogCheckpointError::RootHash,
            ),
            (
                format!("o\n1\n{}\n", leaf_hash(b"x").to_hex()),
                TlogCheckpointError::RootHash,
            ),
            (
                format!("o\n1\n{root}\n\n"),
                TlogCheckpointError::Extension(1),
            ),
            (
                format!("o\n1\n{root}\na\n\n"),
                TlogCheckpointError::Extension(2),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(TlogCheckpoint::parse(&text), Err(expected), "{text:?}");
        }
        assert!(TlogCheckpoint::parse(&format!("o\n18446744073709551615\n{root}\n")).is_ok());
        assert_eq!(
            TlogCheckpoint::new("a\nb", 1, leaf_hash(b"")),
            Err(TlogCheckpointError::Origin)
        );
    }
}
