//! The RFC 9162 §2.1 definitions, written as the RFC states them: recursive, over all leaves in
//! memory, O(n). For tests, for small trees and as the statement the stored-tree code
//! ([`crate::Frontier`], [`crate::ProofPlan`]) is held to.

use crate::error::TreeError;
use crate::hash::{Hash, empty_root, node_hash};
use crate::merkle::split_point;

/// `MTH(D[n])` over leaf hashes (§2.1.1).
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [leaf] => *leaf,
        _ => {
            let k = split_at(leaves.len());
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// `PATH(m, D[n])`, the inclusion proof of leaf `index` (§2.1.3.1).
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, TreeError> {
    let size = leaves.len() as u64;
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    let mut path = Vec::new();
    path_into(leaves, index as usize, &mut path);
    Ok(path)
}

fn path_into(leaves: &[Hash], m: usize, path: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split_at(leaves.len());
    if m < k {
        path_into(&leaves[..k], m, path);
        path.push(root_of(&leaves[k..]));
    } else {
        path_into(&leaves[k..], m - k, path);
        path.push(root_of(&leaves[..k]));
    }
}

/// `PROOF(m, D[n])`, the consistency proof from the first `m` leaves to all of them (§2.1.4.1).
/// Empty when `m` is 0 or `n`.
pub fn consistency_proof(leaves: &[Hash], m: u64) -> Result<Vec<Hash>, TreeError> {
    let n = leaves.len() as u64;
    if m > n {
        return Err(TreeError::SizeDecrease { old: m, new: n });
    }
    let mut proof = Vec::new();
    if m > 0 && m < n {
        subproof_into(m as usize, leaves, true, &mut proof);
    }
    Ok(proof)
}

fn subproof_into(m: usize, leaves: &[Hash], b: bool, proof: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !b {
            proof.push(root_of(leaves));
        }
        return;
    }
    let k = split_at(n);
    if m <= k {
        subproof_into(m, &leaves[..k], b, proof);
        proof.push(root_of(&leaves[k..]));
    } else {
        subproof_into(m - k, &leaves[k..], false, proof);
        proof.push(root_of(&leaves[..k]));
    }
}

/// The largest power of two below `n` (n >= 2), as an index into a slice of length `n`.
fn split_at(n: usize) -> usize {
    // A slice length fits in u64 and the split point is below it, so both casts are exact.
    split_point(n as u64) as usize
}
