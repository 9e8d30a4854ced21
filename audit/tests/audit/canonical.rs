//! Canonical bytes: exact round trip, determinism, one byte string per record, JCS form.

use std::collections::BTreeMap;

use audit::{Action, Actor, ActorKind, Outcome, Record, leaf_hash};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    // Any Unicode scalar, control characters and quotes included.
    proptest::collection::vec(any::<char>(), 0..12).prop_map(|c| c.into_iter().collect())
}

fn record() -> impl Strategy<Value = Record> {
    (
        (
            any::<u64>(),
            text(),
            any::<i64>(),
            0..Action::ALL.len(),
            0..Outcome::ALL.len(),
            0..ActorKind::ALL.len(),
            text(),
        ),
        proptest::collection::vec(proptest::option::of(text()), 6),
        proptest::collection::vec(text(), 0..4),
        proptest::collection::vec(text(), 0..3),
        proptest::collection::btree_map(text(), text(), 0..4),
    )
        .prop_map(
            |((seq, id, time, a, o, k, actor), opts, attributes, reasons, detail)| {
                let mut r = Record::new(
                    id,
                    time,
                    Action::ALL[a],
                    Outcome::ALL[o],
                    Actor::new(ActorKind::ALL[k], actor),
                );
                r.seq = seq;
                r.citizen_id = opts[0].clone();
                r.department_id = opts[1].clone();
                r.client_id = opts[2].clone();
                r.purpose = opts[3].clone();
                r.consent_id = opts[4].clone();
                r.request_id = opts[5].clone();
                r.attributes = attributes;
                r.reasons = reasons;
                r.detail = detail;
                r
            },
        )
}

fn utf16_sorted(map: &BTreeMap<String, String>) -> bool {
    map.keys().all(|k| k.chars().all(|c| c < '\u{e000}'))
}

proptest! {
    #[test]
    fn round_trip_is_exact(r in record()) {
        let bytes = r.canonical_bytes();
        let back = Record::from_canonical(&bytes).unwrap();
        prop_assert_eq!(&back, &r);
        prop_assert_eq!(back.canonical_bytes(), bytes.clone());
        // Determinism: a clone encodes to the same bytes, so the same leaf hash.
        prop_assert_eq!(leaf_hash(&r.clone().canonical_bytes()), leaf_hash(&bytes));
        // Compact, sorted JSON: what any JCS implementation produces for it. (serde_json sorts
        // keys by UTF-8 bytes, which is JCS's UTF-16 order unless keys reach U+E000.)
        if utf16_sorted(&r.detail) {
            let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            prop_assert_eq!(serde_json::to_vec(&value).unwrap(), bytes);
        }
    }

    #[test]
    fn different_records_have_different_bytes(a in record(), b in record()) {
        prop_assume!(a != b);
        prop_assert_ne!(a.canonical_bytes(), b.canonical_bytes());
    }

    #[test]
    fn a_changed_byte_never_decodes_to_the_same_record(
        r in record(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let bytes = r.canonical_bytes();
        let mut changed = bytes.clone();
        let i = at.index(changed.len());
        prop_assume!(changed[i] != byte);
        changed[i] = byte;
        // Either refused, or a different record whose canonical bytes are exactly these.
        if let Ok(other) = Record::from_canonical(&changed) {
            prop_assert_ne!(&other, &r);
            prop_assert_eq!(other.canonical_bytes(), changed);
        }
    }
}
