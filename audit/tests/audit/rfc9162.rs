//! The crate's stored-tree proofs checked by a verifier that shares no code with it: hashing
//! straight from `ring`, `MTH` from RFC 9162 §2.1.1, and the verification algorithms transcribed
//! step by step from §2.1.3.2 and §2.1.4.2. Nothing here calls `audit::verify_*`, except the
//! checks at the end that the crate's verifiers agree with this one.

use std::collections::HashMap;
use std::sync::OnceLock;

use audit::{Frontier, Hash, NodeId, consistency_plan, inclusion_plan, reference};
use ring::digest::{SHA256, digest};

use crate::support::Rng;

type H = [u8; 32];

fn sha256(bytes: &[u8]) -> H {
    let d = digest(&SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// HASH(0x00 || entry)
fn hash_leaf(entry: &[u8]) -> H {
    let mut input = vec![0x00];
    input.extend_from_slice(entry);
    sha256(&input)
}

/// HASH(0x01 || left || right)
fn hash_children(left: &H, right: &H) -> H {
    let mut input = vec![0x01];
    input.extend_from_slice(left);
    input.extend_from_slice(right);
    sha256(&input)
}

/// MTH(D[n]) over leaf hashes, §2.1.1.
fn mth(leaves: &[H]) -> H {
    match leaves.len() {
        0 => sha256(b""),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            hash_children(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

fn lsb(x: u64) -> bool {
    x & 1 == 1
}

/// RFC 9162 §2.1.3.2, step by step.
fn rfc_verify_inclusion(leaf_index: u64, tree_size: u64, hash: &H, path: &[H], root: &H) -> bool {
    // 1. leaf_index >= tree_size fails.
    if leaf_index >= tree_size {
        return false;
    }
    // 2.
    let mut fn_ = leaf_index;
    let mut sn = tree_size - 1;
    // 3.
    let mut r = *hash;
    // 4.
    for p in path {
        // a.
        if sn == 0 {
            return false;
        }
        // b.
        if lsb(fn_) || fn_ == sn {
            // 1.
            r = hash_children(p, &r);
            // 2.
            if !lsb(fn_) {
                while !(lsb(fn_) || fn_ == 0) {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            // Otherwise 1.
            r = hash_children(&r, p);
        }
        // c.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5.
    sn == 0 && r == *root
}

/// RFC 9162 §2.1.4.2, step by step, for 0 < first < second; the trivial cases around it as
/// §2.1.4 implies (equal sizes: equal roots, no proof; the empty tree: no proof).
fn rfc_verify_consistency(
    first: u64,
    second: u64,
    first_hash: &H,
    second_hash: &H,
    path: &[H],
) -> bool {
    if first > second {
        return false;
    }
    if first == second {
        return path.is_empty() && first_hash == second_hash;
    }
    if first == 0 {
        return path.is_empty() && *first_hash == sha256(b"");
    }
    // 1.
    if path.is_empty() {
        return false;
    }
    // 2.
    let mut path: Vec<H> = path.to_vec();
    if first.is_power_of_two() {
        path.insert(0, *first_hash);
    }
    // 3.
    let mut fn_ = first - 1;
    let mut sn = second - 1;
    // 4.
    if lsb(fn_) {
        while lsb(fn_) {
            fn_ >>= 1;
            sn >>= 1;
        }
    }
    // 5.
    let mut fr = path[0];
    let mut sr = path[0];
    // 6.
    for c in &path[1..] {
        // a.
        if sn == 0 {
            return false;
        }
        // b.
        if lsb(fn_) || fn_ == sn {
            // 1., 2.
            fr = hash_children(c, &fr);
            sr = hash_children(c, &sr);
            // 3.
            if !lsb(fn_) {
                while !(lsb(fn_) || fn_ == 0) {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            // Otherwise 1.
            sr = hash_children(&sr, c);
        }
        // c.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 7.
    fr == *first_hash && sr == *second_hash && sn == 0
}

const MAX: u64 = 1000;

/// Leaves 0..MAX appended through the crate's frontier, every returned node stored as the
/// broker would, and the independent root of every prefix.
struct World {
    leaves: Vec<H>,
    stored: HashMap<NodeId, Hash>,
    roots: Vec<H>,
}

/// Built once and shared: it is the expensive part.
fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(build_world)
}

fn build_world() -> World {
    let mut leaves = Vec::new();
    let mut stored = HashMap::new();
    let mut roots = vec![sha256(b"")];
    let mut frontier = Frontier::new();
    for i in 0..MAX {
        let entry = format!("entry {i}");
        let leaf = hash_leaf(entry.as_bytes());
        assert_eq!(*audit::leaf_hash(entry.as_bytes()).as_bytes(), leaf);
        leaves.push(leaf);
        stored.extend(frontier.push(Hash::from_bytes(leaf)).unwrap());
        let independent = mth(&leaves);
        assert_eq!(
            *frontier.root().as_bytes(),
            independent,
            "root of size {}",
            i + 1
        );
        roots.push(independent);
    }
    World {
        leaves,
        stored,
        roots,
    }
}

fn bytes(path: &[Hash]) -> Vec<H> {
    path.iter().map(|h| *h.as_bytes()).collect()
}

#[test]
fn crate_roots_equal_the_recursive_mth_for_every_size() {
    let w = world();
    let crate_leaves: Vec<Hash> = w.leaves.iter().map(|l| Hash::from_bytes(*l)).collect();
    for n in 0..=MAX as usize {
        assert_eq!(
            *reference::root_of(&crate_leaves[..n]).as_bytes(),
            w.roots[n],
            "size {n}"
        );
        let rebuilt = Frontier::from_nodes(n as u64, &w.stored).unwrap();
        assert_eq!(
            *rebuilt.root().as_bytes(),
            w.roots[n],
            "size {n} from stored nodes"
        );
    }
}

#[test]
fn every_inclusion_proof_up_to_1000_leaves_verifies_independently() {
    let w = world();
    let mut checked = 0u64;
    for n in 1..=MAX {
        let root = &w.roots[n as usize];
        for i in 0..n {
            let plan = inclusion_plan(i, n).unwrap();
            // A broker at size n holds only nodes within the first n leaves.
            assert!(
                plan.nodes().iter().all(|id| id.leaves().end <= n),
                "{i} of {n}"
            );
            let path = bytes(&plan.assemble(&w.stored).unwrap());
            assert!(
                rfc_verify_inclusion(i, n, &w.leaves[i as usize], &path, root),
                "leaf {i} of {n}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, MAX * (MAX + 1) / 2);
}

/// (m, n) pairs: every m for every n up to 64 and for sizes around powers of two, plus random.
fn consistency_pairs() -> Vec<(u64, u64)> {
    let mut sizes: Vec<u64> = (1..=64).collect();
    sizes.extend([127, 128, 129, 255, 256, 257, 511, 512, 513, 700, 999, 1000]);
    let mut pairs: Vec<(u64, u64)> = sizes
        .iter()
        .flat_map(|&n| (0..=n).map(move |m| (m, n)))
        .collect();
    let mut rng = Rng(9162);
    for _ in 0..20_000 {
        let n = 1 + rng.below(MAX);
        pairs.push((rng.below(n + 1), n));
    }
    pairs
}

#[test]
fn consistency_proofs_verify_independently_for_dense_pairs() {
    let w = world();
    for (m, n) in consistency_pairs() {
        let plan = consistency_plan(m, n).unwrap();
        assert!(
            plan.nodes().iter().all(|id| id.leaves().end <= n),
            "{m}->{n}"
        );
        let path = bytes(&plan.assemble(&w.stored).unwrap());
        assert!(
            rfc_verify_consistency(m, n, &w.roots[m as usize], &w.roots[n as usize], &path),
            "{m} -> {n}"
        );
    }
}

#[test]
fn the_independent_verifier_is_not_vacuous_and_the_crate_agrees_with_it() {
    let w = world();
    let mut rng = Rng(6962);
    let h = |x: &H| Hash::from_bytes(*x);
    for _ in 0..3_000 {
        let n = 2 + rng.below(MAX - 1);
        let i = rng.below(n);
        let (leaf, root) = (w.leaves[i as usize], w.roots[n as usize]);
        let path = bytes(&inclusion_plan(i, n).unwrap().assemble(&w.stored).unwrap());
        let crate_path: Vec<Hash> = path.iter().map(h).collect();
        assert!(audit::verify_inclusion(&h(&leaf), i, n, &crate_path, &h(&root)).is_ok());
        let mut bad = path.clone();
        let k = rng.below(bad.len() as u64) as usize;
        bad[k][rng.below(32) as usize] ^= 1 << rng.below(8);
        let mut longer = path.clone();
        longer.push(root);
        let probes: [(u64, u64, &[H]); 5] = [
            (i, n, &bad),
            (i, n, &path[..path.len() - 1]),
            (i, n, &longer),
            (i ^ 1, n, &path),
            (i, n * 2, &path),
        ];
        for (pi, pn, pp) in probes {
            let crate_pp: Vec<Hash> = pp.iter().map(h).collect();
            assert!(
                !rfc_verify_inclusion(pi, pn, &leaf, pp, &root),
                "{pi} of {pn}"
            );
            assert!(audit::verify_inclusion(&h(&leaf), pi, pn, &crate_pp, &h(&root)).is_err());
        }

        let m = 1 + rng.below(n - 1);
        let (old, new) = (w.roots[m as usize], w.roots[n as usize]);
        let proof = bytes(&consistency_plan(m, n).unwrap().assemble(&w.stored).unwrap());
        let crate_proof: Vec<Hash> = proof.iter().map(h).collect();
        assert!(audit::verify_consistency(m, n, &h(&old), &h(&new), &crate_proof).is_ok());
        let mut bad = proof.clone();
        let k = rng.below(bad.len() as u64) as usize;
        bad[k][rng.below(32) as usize] ^= 1 << rng.below(8);
        let mut longer = proof.clone();
        longer.push(new);
        let probes: [(u64, u64, H, H, &[H]); 6] = [
            (m, n, old, new, &bad),
            (m, n, old, new, &proof[..proof.len() - 1]),
            (m, n, old, new, &longer),
            (m, n, new, old, &proof),
            (m + 1, n, old, new, &proof),
            (m, n, old, new, &[]),
        ];
        for (pm, pn, po, pw, pp) in probes {
            let crate_pp: Vec<Hash> = pp.iter().map(h).collect();
            assert!(!rfc_verify_consistency(pm, pn, &po, &pw, pp), "{pm}->{pn}");
            assert!(audit::verify_consistency(pm, pn, &h(&po), &h(&pw), &crate_pp).is_err());
        }
    }
}

#[test]
fn assembled_proofs_equal_the_recursive_definitions() {
    let w = world();
    let crate_leaves: Vec<Hash> = w.leaves.iter().map(|l| Hash::from_bytes(*l)).collect();
    for (m, n) in consistency_pairs().into_iter().step_by(7) {
        let slice = &crate_leaves[..n as usize];
        let proof = consistency_plan(m, n).unwrap().assemble(&w.stored).unwrap();
        assert_eq!(
            proof,
            reference::consistency_proof(slice, m).unwrap(),
            "{m}->{n}"
        );
        let i = m.min(n - 1);
        let path = inclusion_plan(i, n).unwrap().assemble(&w.stored).unwrap();
        assert_eq!(
            path,
            reference::inclusion_proof(slice, i).unwrap(),
            "{i} of {n}"
        );
    }
}
