//! C2SP signed notes (`c2sp.org/signed-note`, v1.0.0), the envelope of checkpoints and
//! cosignatures.
//!
//! ```text
//! <text, ending in a newline>
//! <empty line>
//! — <key name> <base64(key ID || signature)>
//! — …
//! ```
//!
//! Parsing is strict and exact: [`Note::parse`] accepts UTF-8 without control characters other
//! than newline, splits at the **last** empty line, and takes only signature lines of the form
//! above with canonical padded base64; [`Note::to_bytes`] gives back the very bytes parsed. A
//! note's text means nothing until [`Note::verify`] has found a signature by a trusted key:
//! signatures by unknown keys are ignored, a bad signature by a trusted key refuses the whole
//! note, and a note with no trusted signature is refused. This follows Go's
//! `golang.org/x/mod/sumdb/note` (`Open`, `Sign`), the reference implementation.

mod key;
mod signer;

use std::collections::HashSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

pub use self::key::{KeyId, KeyName, SignatureType, VerifierKey};
pub(crate) use self::signer::Ed25519Key;
pub use self::signer::{Ed25519Signer, SecretSignerKey};
use crate::error::{NoteError, ParseError};

/// The most signature lines a note may carry (the spec asks for at least 16; Go takes 100).
pub const MAX_NOTE_SIGNATURES: usize = 100;

/// Em dash (U+2014) and a space: the start of every signature line.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// One signature line: the key's name and ID, and the signature bytes after the ID.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NoteSignature {
    name: KeyName,
    id: KeyId,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// A signature by key `name`/`id`; `signature` is what follows the 4-byte ID.
    pub fn new(name: KeyName, id: KeyId, signature: Vec<u8>) -> Self {
        Self {
            name,
            id,
            signature,
        }
    }

    /// The signing key's name.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The signing key's ID.
    pub fn key_id(&self) -> KeyId {
        self.id
    }

    /// The signature bytes (without the key ID).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// `— <name> <base64(id || signature)>` and a newline.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.id.get().to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, STANDARD.encode(raw))
    }

    /// Parses one line without its newline; `number` (from 1) goes into the error.
    fn parse_line(line: &str, number: usize) -> Result<Self, NoteError> {
        let bad = || NoteError::SignatureLine(number);
        let rest = line.strip_prefix(SIGNATURE_PREFIX).ok_or_else(bad)?;
        let (name, encoded) = rest.split_once(' ').ok_or_else(bad)?;
        let name = KeyName::new(name).map_err(|_| bad())?;
        // STANDARD refuses missing padding and non-zero trailing bits: one encoding per value,
        // so a parsed note prints back byte for byte.
        let raw = STANDARD.decode(encoded).map_err(|_| bad())?;
        if raw.len() < 5 {
            return Err(bad());
        }
        let (id, signature) = raw.split_at(4);
        let id = KeyId::new(u32::from_be_bytes([id[0], id[1], id[2], id[3]]));
        Ok(Self::new(name, id, signature.to_vec()))
    }

    /// Parses signature lines, each ending in a newline (a witness's `200` response body).
    pub fn parse_lines(block: &str) -> Result<Vec<Self>, NoteError> {
        let Some(body) = block.strip_suffix('\n') else {
            return Err(NoteError::SignatureLine(1));
        };
        let mut signatures = Vec::new();
        for (i, line) in body.split('\n').enumerate() {
            if i == MAX_NOTE_SIGNATURES {
                return Err(NoteError::TooManySignatures {
                    max: MAX_NOTE_SIGNATURES,
                });
            }
            signatures.push(Self::parse_line(line, i + 1)?);
        }
        Ok(signatures)
    }
}

/// Signs note texts; implemented by [`crate::Ed25519Signer`], or by the broker for keys it
/// keeps elsewhere.
pub trait NoteSigner {
    /// The signer's own error, kept as the source of [`NoteError::Sign`].
    type Error: std::error::Error + Send + Sync + 'static;

    /// The key name written on the signature line.
    fn name(&self) -> &KeyName;

    /// The key ID written before the signature.
    fn key_id(&self) -> KeyId;

    /// The signature over the note text (the bytes after the key ID).
    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, Self::Error>;
}

/// A text and its signature lines. Built by [`Note::new`] + [`Note::sign`], or read by
/// [`Note::parse`]; either way the text is valid note text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    // INVARIANT: ends with a newline, no control characters other than newline.
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// An unsigned note over `text`, which must end with a newline and hold no control
    /// characters other than newlines.
    pub fn new(text: impl Into<String>) -> Result<Self, NoteError> {
        let text = text.into();
        check_characters(text.as_bytes())?;
        if !text.ends_with('\n') {
            return Err(NoteError::TextNewline);
        }
        Ok(Self::from_valid_text(text))
    }

    /// For texts built from checked parts (a checkpoint body).
    pub(crate) fn from_valid_text(text: String) -> Self {
        Self {
            text,
            signatures: Vec::new(),
        }
    }

    /// Parses a signed note; nothing is verified (see [`Note::verify`]).
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        let message = check_characters(bytes)?;
        let split = message.rfind("\n\n").ok_or(NoteError::NoSignatures)?;
        let (text, block) = (&message[..=split], &message[split + 2..]);
        if block.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let Some(block) = block.strip_suffix('\n') else {
            return Err(NoteError::SignatureLine(block.split('\n').count()));
        };
        let mut signatures = Vec::new();
        for (i, line) in block.split('\n').enumerate() {
            // Stop early: parsing thousands of lines is work an attacker should not buy.
            if i == MAX_NOTE_SIGNATURES {
                return Err(NoteError::TooManySignatures {
                    max: MAX_NOTE_SIGNATURES,
                });
            }
            signatures.push(NoteSignature::parse_line(line, i + 1)?);
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The text, final newline included (not the empty line after it).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The first line of the text: a checkpoint's origin. Unverified until [`Note::verify`].
    pub fn first_line(&self) -> &str {
        self.text.split('\n').next().unwrap_or_default()
    }

    /// The signature lines, in order, verified or not.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds a signature line after the others, replacing any by the same name and key ID (as
    /// Go's `note.Sign` does).
    pub fn add_signature(&mut self, signature: NoteSignature) -> Result<(), NoteError> {
        self.signatures
            .retain(|s| (&s.name, s.id) != (&signature.name, signature.id));
        if self.signatures.len() == MAX_NOTE_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                max: MAX_NOTE_SIGNATURES,
            });
        }
        self.signatures.push(signature);
        Ok(())
    }

    /// Signs the text and adds the signature (see [`Note::add_signature`]).
    pub fn sign<S: NoteSigner + ?Sized>(&mut self, signer: &S) -> Result<(), NoteError> {
        let signature = signer
            .sign(self.text.as_bytes())
            .map_err(|e| NoteError::Sign(Box::new(e)))?;
        self.add_signature(NoteSignature::new(
            signer.name().clone(),
            signer.key_id(),
            signature,
        ))
    }

    /// The encoded note: text, empty line, signature lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// Checks the signatures against the trusted `keys` and returns those that verified, one
    /// per key, in note order.
    ///
    /// Signatures whose name and key ID match no trusted key are ignored (another log's
    /// key, a witness the caller does not follow). A signature by a trusted key that does not
    /// verify refuses the note ([`NoteError::InvalidSignature`]), and so does a note with no
    /// verified signature ([`NoteError::Unverified`]).
    pub fn verify(&self, keys: &[VerifierKey]) -> Result<Vec<NoteSignature>, NoteError> {
        let mut verified = Vec::new();
        let mut seen = HashSet::new();
        for signature in &self.signatures {
            let mut matching = keys
                .iter()
                .filter(|k| k.name() == &signature.name && k.key_id() == signature.id);
            let Some(key) = matching.next() else {
                continue;
            };
            // Two configured keys colliding on name and ID: refuse rather than guess.
            if matching.any(|other| other != key) {
                return Err(NoteError::AmbiguousKey {
                    name: ParseError::echo(signature.name.as_str()),
                    id: signature.id,
                });
            }
            if !key.verify(self.text.as_bytes(), &signature.signature) {
                return Err(NoteError::InvalidSignature {
                    name: ParseError::echo(signature.name.as_str()),
                    id: signature.id,
                });
            }
            if seen.insert((signature.name.clone(), signature.id)) {
                verified.push(signature.clone());
            }
        }
        if verified.is_empty() {
            return Err(NoteError::Unverified);
        }
        Ok(verified)
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for signature in &self.signatures {
            f.write_str(&signature.to_line())?;
        }
        Ok(())
    }
}

/// UTF-8 with no control character but newline.
fn check_characters(bytes: &[u8]) -> Result<&str, NoteError> {
    let text = std::str::from_utf8(bytes).map_err(|e| NoteError::NotUtf8(e.valid_up_to()))?;
    // Control characters are ASCII, so a byte scan finds them and their offsets.
    match bytes.iter().position(|&b| b < 0x20 && b != b'\n') {
        Some(at) => Err(NoteError::ControlCharacter(at)),
        None => Ok(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // golang.org/x/mod/sumdb/note, note_test.go.
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";
    const PETER: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const ENOCH: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";

    fn keys(list: &[&str]) -> Vec<VerifierKey> {
        list.iter()
            .map(|k| VerifierKey::parse(k).unwrap())
            .collect()
    }

    #[test]
    fn go_open_cases() {
        let both = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        let note = Note::parse(both.as_bytes()).unwrap();
        assert_eq!(note.text(), TEXT);
        assert_eq!(note.to_bytes(), both.as_bytes());
        let one = note.verify(&keys(&[PETER])).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].key_id(), KeyId::new(0xc74f20a3));
        assert_eq!(note.verify(&keys(&[PETER, ENOCH])).unwrap().len(), 2);
        assert!(matches!(note.verify(&[]), Err(NoteError::Unverified)));

        // A bad signature by a trusted key refuses the note; by an unknown key it is ignored.
        let broken = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        let broken = Note::parse(broken.as_bytes()).unwrap();
        assert!(matches!(
            broken.verify(&keys(&[PETER])),
            Err(NoteError::InvalidSignature { .. })
        ));
        let mixed = format!(
            "{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{}ABCD{}",
            &ENOCH_SIG[..60],
            &ENOCH_SIG[60..]
        );
        let mixed = Note::parse(mixed.as_bytes()).unwrap();
        assert_eq!(mixed.signatures().len(), 4);
        assert_eq!(mixed.verify(&keys(&[PETER])).unwrap().len(), 1);
    }

    #[test]
    fn malformed_notes_are_refused() {
        type Expect = fn(&NoteError) -> bool;
        let cases: Vec<(String, Expect)> = vec![
            (TEXT.to_owned(), |e| matches!(e, NoteError::NoSignatures)),
            (format!("{TEXT}\n"), |e| {
                matches!(e, NoteError::NoSignatures)
            }),
            (format!("{TEXT}\n{}", PETER_SIG.trim_end()), |e| {
                matches!(e, NoteError::SignatureLine(1))
            }),
            (format!("\u{1}{TEXT}\n{PETER_SIG}"), |e| {
                matches!(e, NoteError::ControlCharacter(0))
            }),
            (
                format!("{TEXT}\n{}", PETER_SIG.replace("PeterNeumann", "Bad Name")),
                |e| matches!(e, NoteError::SignatureLine(1)),
            ),
            (format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"), |e| {
                matches!(e, NoteError::SignatureLine(2))
            }),
            (
                format!("{TEXT}\n{}", PETER_SIG.replace("— ", "- ")),
                |e| matches!(e, NoteError::SignatureLine(1)),
            ),
            (
                format!("{TEXT}\n{}", PETER_SIG.replace("AM=", "AN=")),
                |e| matches!(e, NoteError::SignatureLine(1)),
            ),
            (format!("{TEXT}\n{}", PETER_SIG.replace("=\n", "\n")), |e| {
                matches!(e, NoteError::SignatureLine(1))
            }),
            (format!("{TEXT}\n— PeterNeumann AAAAAA==\n"), |e| {
                matches!(e, NoteError::SignatureLine(1))
            }),
            (format!("{TEXT}\n{}", PETER_SIG.repeat(101)), |e| {
                matches!(e, NoteError::TooManySignatures { max: 100 })
            }),
        ];
        for (msg, expected) in cases {
            let err = Note::parse(msg.as_bytes()).unwrap_err();
            assert!(expected(&err), "{msg:?}: {err}");
        }
        let mut bytes = format!("{TEXT}\n{PETER_SIG}").into_bytes();
        bytes.insert(0, 0xff);
        assert!(matches!(Note::parse(&bytes), Err(NoteError::NotUtf8(0))));
        assert!(Note::parse(format!("{TEXT}\n{}", PETER_SIG.repeat(100)).as_bytes()).is_ok());
    }

    #[test]
    fn texts_and_signing() {
        assert!(matches!(Note::new("abc"), Err(NoteError::TextNewline)));
        assert!(matches!(
            Note::new("a\rb\n"),
            Err(NoteError::ControlCharacter(1))
        ));
        // A text may hold empty lines, even end with one: the last empty line separates.
        let signer = crate::Ed25519Signer::from_seed(KeyName::new("k").unwrap(), &[7; 32]).unwrap();
        for text in ["\n", "a\n\nb\n", "a\n\n", "x\n\n— y z\n"] {
            let mut note = Note::new(text).unwrap();
            note.sign(&signer).unwrap();
            let parsed = Note::parse(&note.to_bytes()).unwrap();
            assert_eq!(parsed, note, "{text:?}");
            parsed.verify(&[signer.verifier_key()]).unwrap();
        }
        // Signing again replaces the old signature by the same key, and moves it last.
        let mut note = Note::parse(format!("{TEXT}\n{PETER_SIG}").as_bytes()).unwrap();
        note.sign(&signer).unwrap();
        note.sign(&signer).unwrap();
        assert_eq!(note.signatures().len(), 2);
        assert_eq!(note.signatures()[1].name().as_str(), "k");
    }

    #[test]
    fn colliding_trusted_keys_are_ambiguous() {
        let peter = VerifierKey::parse(PETER).unwrap();
        let mut impostor_key = *peter.public_key();
        impostor_key[0] ^= 1;
        let note = Note::parse(format!("{TEXT}\n{PETER_SIG}").as_bytes()).unwrap();
        // Its derived ID differs: not matched, no ambiguity.
        let honest = VerifierKey::new(peter.name().clone(), SignatureType::Ed25519, impostor_key);
        assert_eq!(note.verify(&[peter.clone(), honest]).unwrap().len(), 1);
        // The same key twice is not ambiguous.
        assert_eq!(
            note.verify(&[peter.clone(), peter.clone()]).unwrap().len(),
            1
        );
        // A key ground to collide on name and ID (an attacker can: IDs are 32 bits) is.
        let forged = VerifierKey::new(peter.name().clone(), SignatureType::Ed25519, impostor_key)
            .with_id(peter.key_id());
        assert!(matches!(
            note.verify(&[peter, forged]),
            Err(NoteError::AmbiguousKey { .. })
        ));
    }

    #[test]
    fn response_lines() {
        let lines = NoteSignature::parse_lines(&format!("{PETER_SIG}{ENOCH_SIG}")).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines.iter().map(NoteSignature::to_line).collect::<String>(),
            format!("{PETER_SIG}{ENOCH_SIG}")
        );
        assert!(NoteSignature::parse_lines("").is_err());
        assert!(NoteSignature::parse_lines(PETER_SIG.trim_end()).is_err());
        assert!(NoteSignature::parse_lines(&format!("{PETER_SIG}\n")).is_err());
    }
}
