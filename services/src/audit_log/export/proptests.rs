//! The export formats: what we write reads back, with any CSV or JSON reader, as the same records
//! and fields, whatever the values hold (commas, quotes, newlines, non-ASCII, control characters).

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::audit_log::query::CheckpointView;
use crate::testing::proptest_cases;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![
                Just(","),
                Just("\""),
                Just("\n"),
                Just("\r\n"),
                Just("\r"),
                Just(" "),
                Just("é"),
                Just("日本"),
                Just("'"),
                Just("="),
                Just("\u{0}"),
                Just("\u{feff}"),
                Just("a"),
                Just("\\"),
            ],
            0..12,
        )
        .prop_map(|parts| parts.concat()),
    ]
}

/// Names as the catalogue and reason codes spell them: no spaces, not empty (the CSV joins them
/// with spaces).
fn names() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec("[a-z_]{1,12}", 0..4)
}

fn view() -> impl Strategy<Value = RecordView> {
    (
        (
            any::<u64>(),
            text(),
            text(),
            any::<i64>(),
            text(),
            text(),
            text(),
            text(),
        ),
        proptest::collection::vec(proptest::option::of(text()), 6),
        (
            names(),
            names(),
            proptest::collection::btree_map(text(), text(), 0..3),
        ),
        ("[0-9a-f]{64}", "[A-Za-z0-9_-]{0,40}"),
    )
        .prop_map(
            |(
                (seq, id, time, time_ms, action, outcome, actor_kind, actor_id),
                o,
                (attributes, reasons, detail),
                (leaf_hash, entry),
            )| RecordView {
                seq,
                id,
                time,
                time_ms,
                action,
                outcome,
                actor_kind,
                actor_id,
                citizen_id: o[0].clone(),
                department_id: o[1].clone(),
                client_id: o[2].clone(),
                purpose: o[3].clone(),
                consent_id: o[4].clone(),
                request_id: o[5].clone(),
                attributes,
                reasons,
                detail,
                leaf_hash,
                entry,
            },
        )
}

fn proof() -> impl Strategy<Value = InclusionProof> {
    (
        any::<u64>(),
        proptest::collection::vec("[0-9a-f]{64}", 0..4),
        any::<u64>(),
        text(),
    )
        .prop_map(|(leaf_index, path, tree_size, jws)| InclusionProof {
            leaf_index,
            leaf_hash: "00".repeat(32),
            path,
            checkpoint: CheckpointView {
                tree_size,
                root_hash: "11".repeat(32),
                time: "2026-11-26T14:05:00.000Z".into(),
                time_ms: 0,
                jws,
            },
        })
}

fn records() -> impl Strategy<Value = (bool, Vec<(RecordView, Option<InclusionProof>)>)> {
    (
        any::<bool>(),
        proptest::collection::vec((view(), proptest::option::of(proof())), 1..4),
    )
}

fn written(
    format: Format,
    proofs: bool,
    records: &[(RecordView, Option<InclusionProof>)],
) -> Vec<u8> {
    let mut out = header(format, proofs).unwrap();
    for (view, proof) in records {
        write_record(&mut out, format, proofs, view, proof.as_ref()).unwrap();
    }
    out
}

fn split(joined: &str) -> Vec<String> {
    if joined.is_empty() {
        Vec::new()
    } else {
        joined.split(' ').map(str::to_owned).collect()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(128)))]

    #[test]
    fn csv_reads_back_as_the_same_fields((proofs, records) in records()) {
        let bytes = written(Format::Csv, proofs, &records);
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes.as_slice());
        let columns: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
        prop_assert_eq!(columns.len(), if proofs { 19 } else { 16 });
        let rows: Vec<BTreeMap<String, String>> = reader
            .records()
            .map(|r| columns.iter().cloned().zip(r.unwrap().iter().map(str::to_owned)).collect())
            .collect();
        prop_assert_eq!(rows.len(), records.len());
        for (row, (v, p)) in rows.iter().zip(&records) {
            let f = |name: &str| row[name].clone();
            prop_assert_eq!(f("seq").parse::<u64>().ok(), Some(v.seq));
            prop_assert_eq!(
                [f("id"), f("time"), f("action"), f("outcome"), f("actor_kind"), f("actor_id"), f("leaf_hash")],
                [v.id.clone(), v.time.clone(), v.action.clone(), v.outcome.clone(), v.actor_kind.clone(), v.actor_id.clone(), v.leaf_hash.clone()]
            );
            for (name, value) in [
                ("citizen_id", &v.citizen_id), ("department_id", &v.department_id), ("client_id", &v.client_id),
                ("purpose", &v.purpose), ("consent_id", &v.consent_id), ("request_id", &v.request_id),
            ] {
                prop_assert_eq!(f(name), value.clone().unwrap_or_default());
            }
            prop_assert_eq!(split(&f("attributes")), v.attributes.clone());
            prop_assert_eq!(split(&f("reasons")), v.reasons.clone());
            if proofs {
                let p = p.as_ref();
                prop_assert_eq!(f("proof_tree_size"), p.map(|p| p.checkpoint.tree_size.to_string()).unwrap_or_default());
                prop_assert_eq!(split(&f("proof_path")), p.map(|p| p.path.clone()).unwrap_or_default());
                prop_assert_eq!(f("checkpoint_jws"), p.map(|p| p.checkpoint.jws.clone()).unwrap_or_default());
            }
        }
    }

    #[test]
    fn jsonl_is_one_line_per_record_reading_back_as_the_same_object((proofs, records) in records()) {
        let bytes = written(Format::Jsonl, proofs, &records);
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        prop_assert_eq!(lines.len(), records.len());
        prop_assert!(text.ends_with('\n'));
        for (line, (v, p)) in lines.iter().zip(&records) {
            let back: serde_json::Value = serde_json::from_str(line).unwrap();
            let mut expected = serde_json::to_value(v).unwrap();
            if let Some(p) = p {
                expected["proof"] = serde_json::to_value(p).unwrap();
            }
            prop_assert_eq!(back, expected);
        }
    }
}
