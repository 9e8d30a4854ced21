//! Known answers from the C2SP specifications (`signed-note`, `tlog-checkpoint`,
//! `tlog-cosignature`, `tlog-witness`), from Go's `golang.org/x/mod/sumdb/note` tests, and from
//! a real checkpoint of a public log cosigned by four public witnesses. Ed25519 is
//! deterministic, so a key with its private half given must sign to the very same bytes.

use audit::{
    AddCheckpoint, CosignatureSigner, Ed25519Signer, KeyId, KeyName, Note, NoteError, Refusal,
    SignatureType, TlogCheckpoint, VerifierKey, Witness, cosignature_time,
};

/// c2sp.org/signed-note, the opening example (its key is not published: parse only).
const QUASIMODO: &str = "Ognuno sta solo sul cuor della terra
trafitto da un raggio di sole:

ed è subito sera.

— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=
";

/// c2sp.org/signed-note, "Verifier keys": the example key and the note it signed.
const EXAMPLE_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const EXAMPLE_NOTE: &str = "This is an example message.

— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=
";

/// golang.org/x/mod/sumdb/note, note_test.go (TestSign, TestOpen).
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,
then you don't know what your problem is.
";
const GO_PETER: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const GO_ENOCH: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

/// c2sp.org/tlog-checkpoint, the example (its key is not published: parse only).
const SOFA: &str = "example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
";

/// A checkpoint of the public static-ct log arche2025h1.staging.ct.transparency.dev, signed by
/// the log (an RFC 6962 tree head signature, type 0x05, and an Ed25519 note signature) and
/// cosigned (v1) by four public witnesses, with their published verifier keys.
const ARCHE: &str = "arche2025h1.staging.ct.transparency.dev
1432088532
U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=

— arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=
— arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=
— transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==
— witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==
— remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==
— witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==
";
const ARCHE_LOG: &str =
    "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f";
const ARCHE_WITNESSES: [&str; 4] = [
    "transparency.dev/DEV:witness-little-garden+d8042a87+BCtusOxINQNUTN5Oj8HObRkh2yHf/MwYaGX4CPdiVEPM",
    "witness1.smartit.nu/witness1+a48c820f+BPSFWg9G6KPiO7QPryYO5Xq4oYJJ+kAvLKLSimDhoxMO",
    "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
    "witness.stagemole.eu+67f7aea0+BEqSG3yu9YrmcM3BHvQYTxwFj3uSWakQepafafpUqklv",
];

fn vkey(text: &str) -> VerifierKey {
    VerifierKey::parse(text).unwrap()
}

#[test]
fn signed_note_opening_example_round_trips() {
    let note = Note::parse(QUASIMODO.as_bytes()).unwrap();
    assert_eq!(note.to_bytes(), QUASIMODO.as_bytes());
    // The text keeps its own empty line: the last one separates the signatures.
    assert_eq!(
        note.text(),
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    );
    let [signature] = note.signatures() else {
        panic!("one signature line")
    };
    assert_eq!(signature.name().as_str(), "quasimodo.example/salvatore");
    assert_eq!(signature.key_id(), KeyId::new(0x367b_a04b));
    assert_eq!(signature.signature().len(), 64);
    assert!(matches!(
        note.verify(&[vkey(EXAMPLE_VKEY)]),
        Err(NoteError::Unverified)
    ));
}

#[test]
fn signed_note_verifier_key_example_verifies() {
    let key = vkey(EXAMPLE_VKEY);
    assert_eq!(key.name().as_str(), "example.com/foo");
    assert_eq!(key.key_id(), KeyId::new(0x530d_903a));
    assert_eq!(key.signature_type(), SignatureType::Ed25519);
    assert_eq!(
        hex::encode(key.public_key()),
        "e932791ae6e7a840a46164c904786426d5e7821dd8b29a00d61cae72afdd4da4"
    );
    assert_eq!(
        KeyId::derive(key.name(), SignatureType::Ed25519, key.public_key()),
        key.key_id()
    );
    assert_eq!(key.to_string(), EXAMPLE_VKEY);

    let note = Note::parse(EXAMPLE_NOTE.as_bytes()).unwrap();
    assert_eq!(note.to_bytes(), EXAMPLE_NOTE.as_bytes());
    assert_eq!(note.text(), "This is an example message.\n");
    assert_eq!(note.verify(std::slice::from_ref(&key)).unwrap().len(), 1);
    let altered = EXAMPLE_NOTE.replace("example message", "exemplary message");
    assert!(matches!(
        Note::parse(altered.as_bytes()).unwrap().verify(&[key]),
        Err(NoteError::InvalidSignature { .. })
    ));
}

#[test]
fn go_sumdb_signature_is_reproduced_byte_for_byte() {
    let signer = Ed25519Signer::parse(PETER_SKEY).unwrap();
    assert_eq!(signer.verifier_key().to_string(), PETER_VKEY);
    let mut note = Note::new(GO_TEXT).unwrap();
    note.sign(&signer).unwrap();
    assert_eq!(
        String::from_utf8(note.to_bytes()).unwrap(),
        format!("{GO_TEXT}\n{GO_PETER}")
    );

    let both = Note::parse(format!("{GO_TEXT}\n{GO_PETER}{GO_ENOCH}").as_bytes()).unwrap();
    assert_eq!(
        both.verify(&[vkey(PETER_VKEY), vkey(ENOCH_VKEY)])
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn tlog_checkpoint_example_round_trips() {
    let note = Note::parse(SOFA.as_bytes()).unwrap();
    assert_eq!(note.to_bytes(), SOFA.as_bytes());
    let checkpoint = TlogCheckpoint::parse(note.text()).unwrap();
    assert_eq!(checkpoint.origin(), "example.com/behind-the-sofa");
    assert_eq!(checkpoint.size(), 20_852_163);
    assert_eq!(checkpoint.to_text(), note.text());
    assert_eq!(checkpoint.to_note().text(), note.text());
    assert_eq!(note.signatures()[0].key_id(), KeyId::new(0x033d_e0ae));
}

#[test]
fn a_real_cosigned_checkpoint_verifies() {
    let note = Note::parse(ARCHE.as_bytes()).unwrap();
    assert_eq!(note.to_bytes(), ARCHE.as_bytes());
    let checkpoint = TlogCheckpoint::parse(note.text()).unwrap();
    assert_eq!(checkpoint.size(), 1_432_088_532);

    // The log's Ed25519 line verifies; its type-0x05 line (same name, other ID) is ignored.
    let log = vkey(ARCHE_LOG);
    let verified = note.verify(std::slice::from_ref(&log)).unwrap();
    assert_eq!(verified, [note.signatures()[1].clone()]);

    // Each witness's v1 cosignature verifies on its own.
    for (i, text) in ARCHE_WITNESSES.iter().enumerate() {
        let key = vkey(text);
        assert_eq!(key.signature_type(), SignatureType::CosignatureV1);
        assert_eq!(key.to_string(), *text);
        let verified = note.verify(std::slice::from_ref(&key)).unwrap();
        assert_eq!(verified, [note.signatures()[i + 2].clone()], "{text}");
        let time = cosignature_time(&verified[0]).unwrap();
        assert_eq!(time, 0x6a12_2120, "{text}");
    }
    let mut all: Vec<VerifierKey> = ARCHE_WITNESSES.iter().map(|k| vkey(k)).collect();
    all.push(log);
    assert_eq!(note.verify(&all).unwrap().len(), 5);

    // One digit changed: every trusted signature fails.
    let altered = ARCHE.replace("1432088532", "1432088533");
    let altered = Note::parse(altered.as_bytes()).unwrap();
    for key in &all {
        assert!(matches!(
            altered.verify(std::slice::from_ref(key)),
            Err(NoteError::InvalidSignature { .. })
        ));
    }
}

#[test]
fn a_witness_refuses_the_spec_request_without_the_log_key() {
    let request = AddCheckpoint::parse(format!("old 20852014\n\n{SOFA}").as_bytes()).unwrap();
    let name = KeyName::new("witness.example/w1").unwrap();
    let cosigner = CosignatureSigner::from_seed(name, &[1; 32]).unwrap();
    let stranger = Ed25519Signer::from_seed(
        KeyName::new("example.com/behind-the-sofa").unwrap(),
        &[2; 32],
    )
    .unwrap();
    let witness = Witness::new(cosigner);
    let refusal = witness.add_checkpoint(&request, None, 0).unwrap_err();
    assert!(matches!(refusal, Refusal::UnknownOrigin(_)));
    let witness = witness.follow("example.com/behind-the-sofa", stranger.verifier_key());
    let refusal = witness.add_checkpoint(&request, None, 0).unwrap_err();
    assert!(matches!(
        refusal,
        Refusal::Unverified(NoteError::Unverified)
    ));
}
