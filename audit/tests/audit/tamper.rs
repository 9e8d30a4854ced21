//! Random tamperings of a stored log are all detected by `LogVerifier`, with the first bad
//! record named exactly wherever the evidence allows, and as the right range where it does not.

use std::cell::Cell;

use audit::{
    Checkpoint, Frontier, LogVerifier, NodeId, SignedCheckpoint, StoredRecord, TamperKind,
    VerifyError,
};
use proptest::prelude::*;

use crate::support::{HmacJws, Log, Options, build_log, record, reforge_tree, signer, verify};

#[derive(Debug, Clone, Copy)]
enum Tamper {
    EditEntryByte { k: u64, at: u64, xor: u8 },
    ChangeLeafHash { k: u64 },
    ChangeColumn { k: u64, column: u64 },
    DeleteRow { k: u64 },
    DeleteAndRenumber { k: u64 },
    Swap { i: u64, j: u64 },
    InsertForged { k: u64 },
    InsertDuplicate { k: u64 },
    Truncate { t: u64 },
    CheckpointRoot { c: u64 },
    CheckpointSignature { c: u64 },
    CheckpointSize { c: u64, delta: u64 },
    CheckpointOtherKey { c: u64 },
    CheckpointOtherPayload { c: u64, d: u64 },
    ForgeConsistently { k: u64, reforge_tree: bool },
    DeleteNode { pick: u64 },
    AlterNode { pick: u64 },
}

fn tamper() -> impl Strategy<Value = Tamper> {
    let r = any::<u64>;
    prop_oneof![
        (r(), r(), 1u8..=255).prop_map(|(k, at, xor)| Tamper::EditEntryByte { k, at, xor }),
        r().prop_map(|k| Tamper::ChangeLeafHash { k }),
        (r(), r()).prop_map(|(k, column)| Tamper::ChangeColumn { k, column }),
        r().prop_map(|k| Tamper::DeleteRow { k }),
        r().prop_map(|k| Tamper::DeleteAndRenumber { k }),
        (r(), r()).prop_map(|(i, j)| Tamper::Swap { i, j }),
        r().prop_map(|k| Tamper::InsertForged { k }),
        r().prop_map(|k| Tamper::InsertDuplicate { k }),
        r().prop_map(|t| Tamper::Truncate { t }),
        r().prop_map(|c| Tamper::CheckpointRoot { c }),
        r().prop_map(|c| Tamper::CheckpointSignature { c }),
        (r(), r()).prop_map(|(c, delta)| Tamper::CheckpointSize { c, delta }),
        r().prop_map(|c| Tamper::CheckpointOtherKey { c }),
        (r(), r()).prop_map(|(c, d)| Tamper::CheckpointOtherPayload { c, d }),
        (r(), any::<bool>())
            .prop_map(|(k, reforge_tree)| Tamper::ForgeConsistently { k, reforge_tree }),
        r().prop_map(|pick| Tamper::DeleteNode { pick }),
        r().prop_map(|pick| Tamper::AlterNode { pick }),
    ]
}

/// What the verifier must report.
#[derive(Debug, PartialEq)]
enum Expect {
    /// This kind, naming exactly this record.
    Exact(TamperKind, u64),
    /// This kind, naming the range `first..end`.
    Range(TamperKind, u64, u64),
    /// This kind, about a checkpoint row rather than records.
    Checkpoint(TamperKind),
    /// Nothing can tell (the change is after every signature).
    Undetected,
}

fn renumber(rows: &mut [StoredRecord], from: usize, up: bool) {
    for row in &mut rows[from..] {
        row.seq = if up { row.seq + 1 } else { row.seq - 1 };
    }
}

fn sorted_nodes(log: &Log) -> Vec<NodeId> {
    let mut ids: Vec<NodeId> = log.nodes.keys().copied().collect();
    ids.sort();
    ids
}

/// The largest checkpoint size at or below `k` (0 if none): records before it are proven.
fn proven_before(sizes: &[u64], k: u64) -> u64 {
    sizes.iter().copied().filter(|&s| s <= k).max().unwrap_or(0)
}

/// The smallest checkpoint size above `k`: the first signature a change at `k` breaks.
fn first_cover(sizes: &[u64], k: u64) -> Option<u64> {
    sizes.iter().copied().filter(|&s| s > k).min()
}

/// The head frontier's subtree holding leaf `k` in a tree of `n`.
fn head_range(n: u64, k: u64) -> (u64, u64) {
    let node = Frontier::node_ids(n)
        .into_iter()
        .find(|id| id.leaves().contains(&k))
        .unwrap();
    (node.leaves().start, node.leaves().end)
}

/// A rewrite of leaf `k` that no per-row check sees: the first checkpoint over it, else the head.
fn covered_rewrite(sizes: &[u64], n: u64, k: u64, head_intact: bool) -> Expect {
    match first_cover(sizes, k) {
        Some(end) => Expect::Range(
            TamperKind::CheckpointRootMismatch,
            proven_before(sizes, k),
            end,
        ),
        None if head_intact => {
            let (first, end) = head_range(n, k);
            Expect::Range(TamperKind::HeadMismatch, first, end)
        }
        None => Expect::Undetected,
    }
}

fn truncation(sizes: &[u64], records: u64, head: bool) -> Expect {
    if first_cover(sizes, records).is_some() || head {
        Expect::Exact(TamperKind::Truncated, records)
    } else {
        Expect::Undetected
    }
}

/// Applies `t` to `log`; returns what must be found, or `None` if `t` does not apply.
fn apply(t: Tamper, log: &mut Log, sizes: &[u64], o: Options) -> Option<Expect> {
    let n = log.rows.len() as u64;
    let rows = &mut log.rows;
    let cps = log.checkpoints.len() as u64;
    Some(match t {
        Tamper::EditEntryByte { k, at, xor } => {
            let row = &mut rows[(k % n) as usize];
            let len = row.entry.len() as u64;
            row.entry[(at % len) as usize] ^= xor;
            Expect::Exact(TamperKind::Edited, k % n)
        }
        Tamper::ChangeLeafHash { k } => {
            let row = &mut rows[(k % n) as usize];
            let mut bytes = *row.leaf_hash.as_bytes();
            bytes[0] ^= 1;
            row.leaf_hash = audit::Hash::from_bytes(bytes);
            Expect::Exact(TamperKind::Edited, k % n)
        }
        Tamper::ChangeColumn { k, column } => {
            let row = &mut rows[(k % n) as usize];
            match column % 7 {
                0 => row.id.push('x'),
                1 => row.time_ms += 1,
                2 => row.action = "release".into(),
                3 => row.outcome = "permit".into(),
                4 => row.citizen_id = Some("someone-else".into()),
                5 => row.department_id = None,
                _ => row.purpose = Some("other-purpose".into()),
            }
            // Some changes are no-ops (the value was already that); the entry still agrees.
            let record = audit::Record::from_canonical(&row.entry).unwrap();
            if StoredRecord::from_record(&record) == *row {
                return None;
            }
            Expect::Exact(TamperKind::ColumnMismatch, k % n)
        }
        Tamper::DeleteRow { k } | Tamper::DeleteAndRenumber { k } => {
            let k = k % n;
            rows.remove(k as usize);
            if matches!(t, Tamper::DeleteAndRenumber { .. }) {
                renumber(rows, k as usize, false);
            }
            if k == n - 1 {
                truncation(sizes, k, o.head)
            } else {
                Expect::Exact(TamperKind::Missing, k)
            }
        }
        Tamper::Swap { i, j } => {
            let (i, j) = (i % n, j % n);
            if i == j {
                return None;
            }
            let (a, b) = (i.min(j) as usize, i.max(j) as usize);
            let (sa, sb) = (rows[a].seq, rows[b].seq);
            rows.swap(a, b);
            rows[a].seq = sa;
            rows[b].seq = sb;
            Expect::Exact(TamperKind::Reordered, a as u64)
        }
        Tamper::InsertForged { k } => {
            let k = k % (n + 1);
            let mut forged = record(k, 1);
            forged.seq = k;
            rows.insert(k as usize, StoredRecord::from_record(&forged));
            renumber(rows, k as usize + 1, true);
            if k == n {
                // Appended after everything: only the head row or the nodes table know better.
                if o.head {
                    Expect::Exact(TamperKind::Inserted, n)
                } else if o.nodes {
                    Expect::Exact(TamperKind::NodeMismatch, n)
                } else {
                    Expect::Undetected
                }
            } else if o.nodes {
                // The stored leaf node at k is the real record's.
                Expect::Exact(TamperKind::Edited, k)
            } else if sizes.contains(&(k + 1)) {
                Expect::Range(
                    TamperKind::CheckpointRootMismatch,
                    proven_before(sizes, k),
                    k + 1,
                )
            } else if o.head && k + 1 == n {
                let (first, end) = head_range(n, k);
                Expect::Range(TamperKind::HeadMismatch, first, end)
            } else {
                Expect::Exact(TamperKind::Inserted, k)
            }
        }
        Tamper::InsertDuplicate { k } => {
            let k = k % n;
            let copy = rows[k as usize].clone();
            rows.insert(k as usize + 1, copy);
            Expect::Exact(TamperKind::Inserted, k)
        }
        Tamper::Truncate { t } => {
            let records = n - 1 - t % n;
            rows.truncate(records as usize);
            truncation(sizes, records, o.head)
        }
        Tamper::CheckpointRoot { c } if cps > 0 => {
            let cp = &mut log.checkpoints[(c % cps) as usize];
            cp.checkpoint.root_hash = audit::leaf_hash(b"not the root");
            Expect::Checkpoint(TamperKind::CheckpointAltered)
        }
        Tamper::CheckpointSignature { c } if cps > 0 => {
            let cp = &mut log.checkpoints[(c % cps) as usize];
            let at = cp.jws.rfind('.').unwrap() + 1;
            let first = if cp.jws.as_bytes()[at] == b'A' {
                "B"
            } else {
                "A"
            };
            cp.jws.replace_range(at..=at, first);
            Expect::Checkpoint(TamperKind::CheckpointSignatureInvalid)
        }
        Tamper::CheckpointSize { c, delta } if cps > 0 => {
            let cp = &mut log.checkpoints[(c % cps) as usize];
            let size = cp.checkpoint.tree_size;
            cp.checkpoint.tree_size = if delta % 2 == 0 {
                size + 1 + delta % 3
            } else {
                size.saturating_sub(1 + delta % 3)
            };
            Expect::Checkpoint(TamperKind::CheckpointAltered)
        }
        Tamper::CheckpointOtherKey { c } if cps > 0 => {
            let cp = &mut log.checkpoints[(c % cps) as usize];
            let resigned =
                SignedCheckpoint::sign(cp.checkpoint.clone(), &HmacJws::new(b"someone else"))
                    .unwrap();
            cp.jws = resigned.jws;
            Expect::Checkpoint(TamperKind::CheckpointSignatureInvalid)
        }
        Tamper::CheckpointOtherPayload { c, d } if cps > 1 => {
            let (c, d) = ((c % cps) as usize, (d % cps) as usize);
            if c == d {
                return None;
            }
            log.checkpoints[c].jws = log.checkpoints[d].jws.clone();
            Expect::Checkpoint(TamperKind::CheckpointAltered)
        }
        Tamper::ForgeConsistently {
            k,
            reforge_tree: reforge,
        } => {
            let k = k % n;
            let mut forged = record(k, 1);
            forged.seq = k;
            rows[k as usize] = StoredRecord::from_record(&forged);
            if reforge {
                reforge_tree(log);
            }
            if o.nodes && !reforge {
                Expect::Exact(TamperKind::Edited, k)
            } else {
                covered_rewrite(sizes, n, k, o.head && !reforge)
            }
        }
        Tamper::DeleteNode { pick } => {
            let ids = sorted_nodes(log);
            let node = ids[(pick % ids.len() as u64) as usize];
            log.nodes.remove(&node);
            let r = node.leaves();
            match (o.nodes, node.level()) {
                (false, _) => Expect::Undetected,
                (true, 0) => Expect::Exact(TamperKind::NodeMismatch, r.start),
                (true, _) => Expect::Range(TamperKind::NodeMismatch, r.start, r.end),
            }
        }
        Tamper::AlterNode { pick } => {
            let ids = sorted_nodes(log);
            let node = ids[(pick % ids.len() as u64) as usize];
            let mut bytes = *log.nodes[&node].as_bytes();
            bytes[31] ^= 0x80;
            log.nodes.insert(node, audit::Hash::from_bytes(bytes));
            match (o.nodes, node.level()) {
                (false, _) => Expect::Undetected,
                (true, 0) => Expect::Exact(TamperKind::Edited, node.index()),
                (true, _) => {
                    let r = node.leaves();
                    Expect::Range(TamperKind::NodeMismatch, r.start, r.end)
                }
            }
        }
        _ => return None,
    })
}

fn check(expect: &Expect, result: Result<audit::VerifySummary, VerifyError>, log: &Log) {
    let id_at = |seq: u64| {
        log.rows
            .iter()
            .find(|r| r.seq == seq)
            .map(|r| r.id.as_str())
    };
    match (expect, result) {
        (Expect::Undetected, Ok(_)) => {}
        (Expect::Undetected, Err(e)) => panic!("expected nothing to be found, got: {e}"),
        (_, Ok(_)) => panic!("tampering not detected, expected {expect:?}"),
        (expect, Err(e)) => {
            let message = e.to_string();
            match *expect {
                Expect::Exact(kind, seq) => {
                    assert_eq!(
                        (e.kind(), e.first_seq()),
                        (Some(kind), Some(seq)),
                        "{message}"
                    );
                    assert!(!e.is_range(), "{message}");
                    if let Some(id) = e.record_id() {
                        assert_eq!(Some(id), id_at(seq), "{message}");
                    }
                }
                Expect::Range(kind, first, end) => {
                    assert_eq!(e.kind(), Some(kind), "{message}");
                    assert_eq!(e.range(), Some(first..end), "{message}");
                    assert_eq!(e.first_seq(), Some(first), "{message}");
                    if kind == TamperKind::CheckpointRootMismatch {
                        assert_eq!(e.record_id(), id_at(first), "{message}");
                    }
                }
                Expect::Checkpoint(kind) => {
                    assert_eq!(e.kind(), Some(kind), "{message}");
                    assert_eq!(e.first_seq(), None, "{message}");
                }
                Expect::Undetected => unreachable!(),
            }
        }
    }
}

fn log_params() -> impl Strategy<Value = (u64, Vec<u64>)> {
    (1u64..40, proptest::collection::vec(any::<bool>(), 40)).prop_map(|(n, picks)| {
        let sizes = (1..=n).filter(|s| picks[*s as usize - 1]).collect();
        (n, sizes)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn every_tampering_is_found_where_the_evidence_allows(
        (n, sizes) in log_params(),
        t in tamper(),
        nodes in any::<bool>(),
        head in any::<bool>(),
    ) {
        let options = Options { nodes, head };
        let mut log = build_log(n, &sizes);
        let Some(expect) = apply(t, &mut log, &sizes, options) else {
            return Err(TestCaseError::reject("tampering does not apply"));
        };
        check(&expect, verify(&log, options), &log);
    }

    #[test]
    fn an_untouched_log_verifies_and_reports_progress(
        (n, sizes) in log_params(),
        every in 1u64..10,
        nodes in any::<bool>(),
    ) {
        let log = build_log(n, &sizes);
        let calls = Cell::new(0u64);
        let signer = signer();
        let mut v = LogVerifier::new(&signer, log.checkpoints.clone())
            .with_head(log.head.clone())
            .on_progress(every, |p| {
                calls.set(calls.get() + 1);
                assert_eq!(p.records % every, 0);
            });
        for row in &log.rows {
            if nodes {
                v.push_with_nodes(row.clone(), &log.nodes).unwrap();
            } else {
                v.push(row.clone()).unwrap();
            }
        }
        let summary = v.finish().unwrap();
        prop_assert_eq!(summary.records, n);
        prop_assert_eq!(summary.root, log.head.root());
        prop_assert_eq!(summary.checkpoints_verified, sizes.len() as u64);
        prop_assert_eq!(summary.last_checkpoint_size, sizes.last().copied());
        prop_assert_eq!(summary.unsigned_records(), n - sizes.last().copied().unwrap_or(0));
        let expected_nodes = if nodes { 2 * n - u64::from(n.count_ones()) } else { 0 };
        prop_assert_eq!(summary.nodes_checked, expected_nodes);
        prop_assert_eq!(calls.get(), n / every);
    }
}

#[test]
fn the_verifier_stops_at_the_first_failure() {
    let mut log = build_log(5, &[5]);
    log.rows[1].entry[3] ^= 1;
    let signer = signer();
    let mut v = LogVerifier::new(&signer, log.checkpoints.clone());
    v.push(log.rows[0].clone()).unwrap();
    let first = v.push(log.rows[1].clone()).unwrap_err();
    assert!(
        matches!(first, VerifyError::Edited { seq: 1, .. }),
        "{first}"
    );
    assert!(matches!(
        v.push(log.rows[2].clone()),
        Err(VerifyError::Halted)
    ));
    assert!(matches!(v.finish(), Err(VerifyError::Halted)));
}

#[test]
fn an_empty_log_with_a_checkpoint_of_size_zero_verifies() {
    let signer = signer();
    let empty = Checkpoint {
        tree_size: 0,
        root_hash: audit::empty_root(),
        time_ms: 0,
    };
    let cp = SignedCheckpoint::sign(empty, &signer).unwrap();
    let summary = LogVerifier::new(&signer, vec![cp.clone()])
        .finish()
        .unwrap();
    assert_eq!((summary.records, summary.checkpoints_verified), (0, 1));

    // A checkpoint claiming records that are not there.
    let log = build_log(3, &[3]);
    let err = LogVerifier::new(&signer, log.checkpoints.clone())
        .finish()
        .unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Truncated {
                records: 0,
                claimed: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn messages_name_ids_never_contents() {
    let mut log = build_log(6, &[6]);
    let secret = "Sesame Street 123";
    let mut r = record(2, 0);
    r.seq = 2;
    r.detail.insert("note".into(), secret.into());
    log.rows[2] = StoredRecord::from_record(&r);
    let with_nodes = Options {
        nodes: true,
        head: false,
    };
    let e = verify(&log, with_nodes).unwrap_err();
    let message = e.to_string();
    assert!(message.contains(&log.rows[2].id), "{message}");
    assert!(!message.contains("Sesame"), "{message}");
    let e = verify(
        &log,
        Options {
            nodes: false,
            head: false,
        },
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("records 0 to 5 do not match the signed checkpoint"),
        "{e}"
    );
}
