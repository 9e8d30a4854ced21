//! The `add-checkpoint` request body, and the bodies a witness answers with.
//!
//! ```text
//! old <size of the checkpoint the log thinks the witness last cosigned>
//! <consistency proof hash, base64>        (0 to 63 lines)
//! <empty line>
//! <the signed checkpoint note>
//! ```

use std::fmt;

use crate::error::RequestError;
use crate::hash::Hash;
use crate::note::{Note, NoteSignature};
use crate::tlog_checkpoint::parse_size;

/// The most consistency proof lines a request may carry.
pub const MAX_PROOF_LINES: usize = 63;

/// A parsed `add-checkpoint` request. The checkpoint's signatures are not checked yet: that is
/// [`crate::Witness::add_checkpoint`]'s first step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    old_size: u64,
    // INVARIANT: at most MAX_PROOF_LINES hashes.
    proof: Vec<Hash>,
    checkpoint: Note,
}

impl AddCheckpoint {
    /// A request for `checkpoint` with a consistency proof from `old_size`, the size of the
    /// checkpoint the witness last cosigned (0 if none).
    pub fn new(old_size: u64, proof: Vec<Hash>, checkpoint: Note) -> Result<Self, RequestError> {
        if proof.len() > MAX_PROOF_LINES {
            return Err(RequestError::ProofTooLong {
                max: MAX_PROOF_LINES,
            });
        }
        Ok(Self {
            old_size,
            proof,
            checkpoint,
        })
    }

    /// Parses a request body.
    pub fn parse(body: &[u8]) -> Result<Self, RequestError> {
        let (old, mut rest) = split_line(body).ok_or(RequestError::OldSize)?;
        let old_size = std::str::from_utf8(old)
            .ok()
            .and_then(|line| line.strip_prefix("old "))
            .and_then(parse_size)
            .ok_or(RequestError::OldSize)?;
        let mut proof = Vec::new();
        loop {
            let (line, next) = split_line(rest).ok_or(RequestError::MissingEmptyLine)?;
            rest = next;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(RequestError::ProofTooLong {
                    max: MAX_PROOF_LINES,
                });
            }
            let number = proof.len() + 1;
            proof.push(parse_hash(line).ok_or(RequestError::ProofLine(number))?);
        }
        let checkpoint = Note::parse(rest).map_err(RequestError::Checkpoint)?;
        Ok(Self {
            old_size,
            proof,
            checkpoint,
        })
    }

    /// The `old` size.
    pub fn old_size(&self) -> u64 {
        self.old_size
    }

    /// The consistency proof from the old size to the checkpoint's.
    pub fn proof(&self) -> &[Hash] {
        &self.proof
    }

    /// The checkpoint note, as submitted.
    pub fn checkpoint(&self) -> &Note {
        &self.checkpoint
    }

    /// The origin the checkpoint claims (its first line), to look the stored state up by.
    /// Unverified: [`crate::Witness::add_checkpoint`] checks the log's signature.
    pub fn origin(&self) -> &str {
        self.checkpoint.first_line()
    }

    /// The encoded body.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for AddCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "old {}", self.old_size)?;
        for hash in &self.proof {
            writeln!(f, "{}", hash.to_base64())?;
        }
        writeln!(f)?;
        write!(f, "{}", self.checkpoint)
    }
}

/// The line up to the next newline, and what follows it.
fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|&b| b == b'\n')?;
    Some((&bytes[..at], &bytes[at + 1..]))
}

/// Exactly the 44-character padded base64 of 32 bytes.
fn parse_hash(line: &[u8]) -> Option<Hash> {
    let line = std::str::from_utf8(line).ok()?;
    (line.len() == 44).then(|| Hash::from_base64(line).ok())?
}

/// The body of a `409 Conflict` answer: the size of the latest cosigned checkpoint.
pub fn conflict_body(stored_size: u64) -> String {
    format!("{stored_size}\n")
}

/// Reads a `409 Conflict` body (`text/x.tlog.size`), so the log can retry from that size.
pub fn parse_conflict_body(body: &[u8]) -> Result<u64, RequestError> {
    std::str::from_utf8(body)
        .ok()
        .and_then(|text| text.strip_suffix('\n'))
        .and_then(parse_size)
        .ok_or(RequestError::ConflictBody)
}

/// Reads a `200` body: one or more signature lines. Check them by adding them to the
/// checkpoint note and calling [`Note::verify`] with the witness keys.
pub fn parse_cosignatures(body: &[u8]) -> Result<Vec<NoteSignature>, RequestError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| RequestError::Cosignatures(crate::NoteError::NotUtf8(e.valid_up_to())))?;
    NoteSignature::parse_lines(text).map_err(RequestError::Cosignatures)
}

#[cfg(test)]
mod tests {
    use super::*;

    // c2sp.org/tlog-witness, the example request body.
    const SPEC_REQUEST: &str = "old 20852014
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=
";

    // c2sp.org/tlog-witness, the example response body.
    const SPEC_RESPONSE: &str = "— witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==
— witness.example/w1 I7rEps0pvK2UqkS2gSpVUDhrhVtQV9lgF6pRrWAvjJHjyWpW7VcE3SiOlVlbQNt64vWhO+DlkL0+UfzuOBMh9ChdMkP1vi/lCAsmlw==
— witness.example/w2 AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZgrrKbYKA7nC3HNJhm/kWl7oJlqU3rXXvpysAdyP3wQ==
";

    #[test]
    fn spec_request_round_trips() {
        let request = AddCheckpoint::parse(SPEC_REQUEST.as_bytes()).unwrap();
        assert_eq!(request.old_size(), 20_852_014);
        assert_eq!(request.proof().len(), 4);
        assert_eq!(
            request.proof()[3].to_base64(),
            "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0="
        );
        assert_eq!(request.origin(), "example.com/behind-the-sofa");
        assert_eq!(request.checkpoint().signatures().len(), 2);
        assert_eq!(request.to_bytes(), SPEC_REQUEST.as_bytes());
        let rebuilt = AddCheckpoint::new(
            request.old_size(),
            request.proof().to_vec(),
            request.checkpoint().clone(),
        )
        .unwrap();
        assert_eq!(rebuilt, request);
    }

    #[test]
    fn spec_response_parses() {
        let lines = parse_cosignatures(SPEC_RESPONSE.as_bytes()).unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[2].name().as_str(), "witness.example/w2");
        let again: String = lines.iter().map(NoteSignature::to_line).collect();
        assert_eq!(again, SPEC_RESPONSE);
        assert!(parse_cosignatures(b"").is_err());
        assert!(parse_cosignatures(b"\xff\n").is_err());
    }

    #[test]
    fn conflict_bodies() {
        assert_eq!(conflict_body(20_852_163), "20852163\n");
        assert_eq!(parse_conflict_body(b"20852163\n").unwrap(), 20_852_163);
        assert_eq!(parse_conflict_body(b"0\n").unwrap(), 0);
        for bad in [&b"12"[..], b"012\n", b"-1\n", b"\n", b"1 \n", b"\xff\n"] {
            assert!(parse_conflict_body(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn malformed_requests_are_refused() {
        let (head, rest) = SPEC_REQUEST.split_once("\n\n").unwrap();
        let body = |head: &str| format!("{head}\n\n{rest}");
        assert!(AddCheckpoint::parse(body(head).as_bytes()).is_ok());
        type Expect = fn(&RequestError) -> bool;
        let cases: Vec<(String, Expect)> = vec![
            (body("old 01"), |e| matches!(e, RequestError::OldSize)),
            (body("old  1"), |e| matches!(e, RequestError::OldSize)),
            (body("old -1"), |e| matches!(e, RequestError::OldSize)),
            (body("new 1"), |e| matches!(e, RequestError::OldSize)),
            (body("old"), |e| matches!(e, RequestError::OldSize)),
            ("old 1".to_owned(), |e| matches!(e, RequestError::OldSize)),
            ("old 1\n".to_owned(), |e| {
                matches!(e, RequestError::MissingEmptyLine)
            }),
            (body("old 1\nAAAA"), |e| {
                matches!(e, RequestError::ProofLine(1))
            }),
            (
                body(&format!("old 1\n{}", crate::hash::empty_root().to_hex())),
                |e| matches!(e, RequestError::ProofLine(1)),
            ),
            (
                body(&format!(
                    "old 1{}",
                    "\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=".repeat(64)
                )),
                |e| matches!(e, RequestError::ProofTooLong { max: 63 }),
            ),
            ("old 1\n\nnot a note\n".to_owned(), |e| {
                matches!(e, RequestError::Checkpoint(_))
            }),
        ];
        for (text, expected) in cases {
            let err = AddCheckpoint::parse(text.as_bytes()).unwrap_err();
            assert!(expected(&err), "{text:?}: {err}");
        }
        let max = body(&format!(
            "old 1{}",
            "\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=".repeat(63)
        ));
        assert_eq!(
            AddCheckpoint::parse(max.as_bytes()).unwrap().proof().len(),
            63
        );
        assert!(matches!(
            AddCheckpoint::new(
                0,
                vec![crate::hash::empty_root(); 64],
                Note::new("x\n").unwrap()
            ),
            Err(RequestError::ProofTooLong { max: 63 })
        ));
    }
}
