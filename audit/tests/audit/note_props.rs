//! Properties of the note parsers: no input makes them panic; whatever they accept prints back
//! to the very bytes given (one encoding per value); a signed note survives the round trip and
//! no edit of one yields a verified note with another text.
//!
//! Random bytes almost never parse, so most inputs are valid encodings with a few edits:
//! that is where a lenient or panicking parser would show.

use audit::{
    AddCheckpoint, CosignatureSigner, Ed25519Signer, Hash, KeyName, Note, NoteSignature,
    TlogCheckpoint, VerifierKey, parse_conflict_body, parse_cosignatures,
};
use proptest::prelude::*;

const PIECES: [&str; 12] = [
    "\n", "\n\n", "— ", "\u{2014}", " ", "+", "=", "0", "A", "/", "\u{a0}", "\r",
];

#[derive(Debug, Clone)]
enum Edit {
    Replace(prop::sample::Index, u8),
    Insert(prop::sample::Index, usize),
    Delete(prop::sample::Index, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Replace(i, b)),
        (any::<prop::sample::Index>(), 0..PIECES.len()).prop_map(|(i, p)| Edit::Insert(i, p)),
        (any::<prop::sample::Index>(), 1..4usize).prop_map(|(i, n)| Edit::Delete(i, n)),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        match *e {
            Edit::Replace(i, b) if !bytes.is_empty() => {
                let i = i.index(bytes.len());
                bytes[i] = b;
            }
            Edit::Insert(i, p) => {
                let i = i.index(bytes.len() + 1);
                bytes.splice(i..i, PIECES[p].bytes());
            }
            Edit::Delete(i, n) if !bytes.is_empty() => {
                let i = i.index(bytes.len());
                bytes.drain(i..(i + n).min(bytes.len()));
            }
            _ => {}
        }
    }
    bytes
}

/// A valid encoding with 0 to 3 edits, or plain random bytes.
fn edited(valid: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (valid, proptest::collection::vec(edit(), 0..4)).prop_map(|(v, e)| apply(v, &e)),
        1 => proptest::collection::vec(any::<u8>(), 0..128),
    ]
}

fn name() -> impl Strategy<Value = KeyName> {
    "[a-z0-9./:-]{1,16}|[^\\s+\\x00-\\x1f\\x7f-\\x9f]{1,8}".prop_map(|n| KeyName::new(n).unwrap())
}

/// Note text: lines without control characters, each ending in a newline.
fn note_text() -> impl Strategy<Value = String> {
    proptest::collection::vec("[^\\x00-\\x1f]{0,20}", 1..6)
        .prop_map(|lines| lines.iter().map(|l| format!("{l}\n")).collect())
}

fn signature() -> impl Strategy<Value = NoteSignature> {
    (
        name(),
        any::<u32>(),
        proptest::collection::vec(any::<u8>(), 1..80),
    )
        .prop_map(|(n, id, sig)| NoteSignature::new(n, audit::KeyId::new(id), sig))
}

fn note() -> impl Strategy<Value = Note> {
    (note_text(), proptest::collection::vec(signature(), 1..4)).prop_map(|(text, sigs)| {
        let mut note = Note::new(text).unwrap();
        for s in sigs {
            note.add_signature(s).unwrap();
        }
        note
    })
}

fn checkpoint() -> impl Strategy<Value = TlogCheckpoint> {
    (
        "[^\\x00-\\x1f]{1,30}",
        any::<u64>(),
        any::<[u8; 32]>(),
        proptest::collection::vec("[^\\x00-\\x1f]{1,10}", 0..3),
    )
        .prop_map(|(origin, size, root, ext)| {
            let mut c = TlogCheckpoint::new(origin, size, Hash::from_bytes(root)).unwrap();
            for line in ext {
                c = c.with_extension(line).unwrap();
            }
            c
        })
}

fn request() -> impl Strategy<Value = AddCheckpoint> {
    let proof = proptest::collection::vec(any::<[u8; 32]>().prop_map(Hash::from_bytes), 0..5);
    (
        any::<u64>(),
        proof,
        checkpoint(),
        proptest::collection::vec(signature(), 1..3),
    )
        .prop_map(|(old, proof, c, sigs)| {
            let mut note = c.to_note();
            for s in sigs {
                note.add_signature(s).unwrap();
            }
            AddCheckpoint::new(old, proof, note).unwrap()
        })
}

fn vkey() -> impl Strategy<Value = String> {
    (name(), any::<[u8; 32]>(), any::<bool>()).prop_map(|(n, key, cosigner)| {
        let kind = if cosigner {
            audit::SignatureType::CosignatureV1
        } else {
            audit::SignatureType::Ed25519
        };
        VerifierKey::new(n, kind, key).to_string()
    })
}

fn signer() -> Ed25519Signer {
    Ed25519Signer::from_seed(KeyName::new("broker.example/audit").unwrap(), &[5; 32]).unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn note_parse_accepts_only_what_it_prints(input in edited(note().prop_map(|n| n.to_bytes()))) {
        if let Ok(note) = Note::parse(&input) {
            prop_assert_eq!(note.to_bytes(), input);
        }
    }

    #[test]
    fn key_parsers_accept_only_what_they_print(input in edited(vkey().prop_map(String::into_bytes))) {
        let input = text(&input);
        if let Ok(key) = VerifierKey::parse(&input) {
            prop_assert_eq!(key.to_string(), input.clone());
        }
        let secret = format!("PRIVATE+KEY+{input}");
        let _ = Ed25519Signer::parse(&secret);
        let _ = CosignatureSigner::parse(&secret);
        let _ = KeyName::new(input);
    }

    #[test]
    fn checkpoint_parse_accepts_only_what_it_prints(
        input in edited(checkpoint().prop_map(|c| c.to_text().into_bytes()))
    ) {
        let input = text(&input);
        if let Ok(checkpoint) = TlogCheckpoint::parse(&input) {
            prop_assert_eq!(checkpoint.to_text(), input);
        }
    }

    #[test]
    fn witness_request_parse_accepts_only_what_it_prints(
        input in edited(request().prop_map(|r| r.to_bytes()))
    ) {
        if let Ok(request) = AddCheckpoint::parse(&input) {
            prop_assert_eq!(request.to_bytes(), input);
        }
    }

    #[test]
    fn witness_response_parsers_accept_only_what_they_print(
        size in edited(any::<u64>().prop_map(|s| format!("{s}\n").into_bytes())),
        lines in edited(proptest::collection::vec(signature(), 1..4)
            .prop_map(|l| l.iter().map(NoteSignature::to_line).collect::<String>().into_bytes())),
    ) {
        if let Ok(parsed) = parse_conflict_body(&size) {
            prop_assert_eq!(format!("{parsed}\n").into_bytes(), size);
        }
        if let Ok(parsed) = parse_cosignatures(&lines) {
            let printed: String = parsed.iter().map(NoteSignature::to_line).collect();
            prop_assert_eq!(printed.into_bytes(), lines);
        }
    }

    #[test]
    fn signed_notes_round_trip(text in note_text()) {
        let mut note = Note::new(text.clone()).unwrap();
        note.sign(&signer()).unwrap();
        let parsed = Note::parse(&note.to_bytes()).unwrap();
        prop_assert_eq!(&parsed, &note);
        prop_assert_eq!(parsed.text(), text.as_str());
        prop_assert_eq!(parsed.verify(&[signer().verifier_key()]).unwrap().len(), 1);
    }

    #[test]
    fn no_edit_of_a_signed_note_verifies_with_another_text(
        text in note_text(),
        edits in proptest::collection::vec(edit(), 1..4),
    ) {
        let mut note = Note::new(text.clone()).unwrap();
        note.sign(&signer()).unwrap();
        let bytes = apply(note.to_bytes(), &edits);
        if let Ok(edited) = Note::parse(&bytes)
            && edited.verify(&[signer().verifier_key()]).is_ok()
        {
            prop_assert_eq!(edited.text(), text.as_str());
        }
    }

    #[test]
    fn signed_checkpoints_round_trip(checkpoint in checkpoint()) {
        let note = checkpoint.sign(&signer()).unwrap();
        let parsed = Note::parse(&note.to_bytes()).unwrap();
        parsed.verify(&[signer().verifier_key()]).unwrap();
        prop_assert_eq!(TlogCheckpoint::parse(parsed.text()).unwrap(), checkpoint);
    }
}
