//! Inclusion and consistency proofs from stored nodes, and their verification.
//!
//! A proof is served in two steps so the broker makes one query: a *plan* lists the stored
//! nodes the proof needs ([`ProofPlan::nodes`], O(log n) of them, no duplicates), the broker
//! fetches exactly those, and [`ProofPlan::assemble`] folds them into the RFC 9162 path. Each
//! path element is `MTH` of some leaf range; an aligned power-of-two range is one stored node,
//! and the one range per proof that ends at the tree's right edge is the fold of a few.

use std::ops::Range;

use crate::error::{ProofError, TreeError};
use crate::hash::{Hash, empty_root, node_hash};
use crate::merkle::{NodeId, NodeLookup, decompose, fold_right, split_point};

/// The stored nodes one proof needs, and how they fold into its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofPlan {
    nodes: Vec<NodeId>,
    // INVARIANT: consecutive, non-empty ranges covering `nodes`; element i of the path is the
    // right fold of nodes[elements[i]].
    elements: Vec<Range<usize>>,
}

impl ProofPlan {
    fn from_ranges(ranges: impl DoubleEndedIterator<Item = (u64, u64)>) -> Self {
        let mut plan = Self {
            nodes: Vec::new(),
            elements: Vec::new(),
        };
        // The walks below go from the root down; paths list hashes from the leaf up.
        for (start, end) in ranges.rev() {
            let first = plan.nodes.len();
            decompose(start, end, &mut plan.nodes);
            plan.elements.push(first..plan.nodes.len());
        }
        plan
    }

    /// The nodes to fetch, each once.
    pub fn nodes(&self) -> &[NodeId] {
        &self.nodes
    }

    /// Number of hashes in the assembled path.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// True when the proof is empty (one-leaf tree, or equal sizes).
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    /// The RFC 9162 path, from the fetched nodes.
    pub fn assemble(&self, stored: &impl NodeLookup) -> Result<Vec<Hash>, TreeError> {
        let mut hashes = Vec::with_capacity(self.nodes.len());
        for &id in &self.nodes {
            hashes.push(stored.node(id).ok_or(TreeError::MissingNode(id))?);
        }
        let mut path = Vec::with_capacity(self.elements.len());
        for range in &self.elements {
            let element = hashes
                .get(range.clone())
                .and_then(|h| fold_right(h.iter().copied()));
            // Ranges are non-empty and in bounds by construction; a miss would be a bug here.
            path.push(element.ok_or(TreeError::BadFrontier)?);
        }
        Ok(path)
    }
}

/// The nodes for `PATH(index, D[size])`, RFC 9162 §2.1.3.1.
pub fn inclusion_plan(index: u64, size: u64) -> Result<ProofPlan, TreeError> {
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    // Walk down from the root; each step's sibling is one path element.
    let mut siblings = Vec::new();
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index - lo < k {
            siblings.push((lo + k, hi));
            hi = lo + k;
        } else {
            siblings.push((lo, lo + k));
            lo += k;
        }
    }
    Ok(ProofPlan::from_ranges(siblings.into_iter()))
}

/// The nodes for `PROOF(old_size, D[new_size])`, RFC 9162 §2.1.4.1. Empty when `old_size` is 0
/// or equals `new_size`.
pub fn consistency_plan(old_size: u64, new_size: u64) -> Result<ProofPlan, TreeError> {
    if old_size > new_size {
        return Err(TreeError::SizeDecrease {
            old: old_size,
            new: new_size,
        });
    }
    let mut elements = Vec::new();
    if old_size > 0 && old_size < new_size {
        // SUBPROOF(m, D[lo:hi], b), unrolled.
        let (mut lo, mut hi, mut m, mut b) = (0u64, new_size, old_size, true);
        loop {
            let n = hi - lo;
            if m == n {
                if !b {
                    elements.push((lo, hi));
                }
                break;
            }
            let k = split_point(n);
            if m <= k {
                elements.push((lo + k, hi));
                hi = lo + k;
            } else {
                elements.push((lo, lo + k));
                lo += k;
                m -= k;
                b = false;
            }
        }
    }
    Ok(ProofPlan::from_ranges(elements.into_iter()))
}

/// Checks an inclusion proof, RFC 9162 §2.1.3.2.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    path: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in path {
        if sn == 0 {
            return Err(ProofError::TooLong);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::TooShort);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks a consistency proof, RFC 9162 §2.1.4.2.
///
/// The RFC's algorithm is for `0 < old_size < new_size`. Around it: equal sizes need an empty
/// path and equal roots; the empty tree is consistent with every tree, with an empty path and
/// `old_root` the empty-tree root.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    path: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizeDecrease {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == new_size || old_size == 0 {
        if !path.is_empty() {
            return Err(ProofError::NotEmpty);
        }
        if old_size == 0 && *old_root != empty_root() {
            return Err(ProofError::OldRootMismatch);
        }
        if old_size == new_size && old_root != new_root {
            return Err(ProofError::RootMismatch);
        }
        return Ok(());
    }
    // 1. An empty path fails.
    let Some((first, rest)) = path.split_first() else {
        return Err(ProofError::TooShort);
    };
    // 2. If old_size is a power of two, old_root is the (implicit) first element.
    let (start, rest) = if old_size.is_power_of_two() {
        (old_root, path)
    } else {
        (first, rest)
    };
    // 3, 4.
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5.
    let (mut fr, mut sr) = (*start, *start);
    // 6.
    for c in rest {
        if sn == 0 {
            return Err(ProofError::TooLong);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // 7.
    if sn != 0 {
        return Err(ProofError::TooShort);
    }
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontier::Frontier;
    use crate::hash::leaf_hash;
    use crate::reference;
    use std::collections::HashMap;

    fn tree(n: u64) -> (Vec<Hash>, HashMap<NodeId, Hash>) {
        let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let mut f = Frontier::new();
        let mut stored = HashMap::new();
        for leaf in &leaves {
            stored.extend(f.push(*leaf).unwrap());
        }
        (leaves, stored)
    }

    #[test]
    fn plans_equal_the_recursive_definitions() {
        let (leaves, stored) = tree(70);
        for n in 1..=70u64 {
            let slice = &leaves[..n as usize];
            for i in 0..n {
                let plan = inclusion_plan(i, n).unwrap();
                assert!(plan.nodes().iter().all(|id| id.leaves().end <= n));
                let path = plan.assemble(&stored).unwrap();
                assert_eq!(path, reference::inclusion_proof(slice, i).unwrap());
                assert_eq!(plan.len(), path.len());
            }
            for m in 0..=n {
                let plan = consistency_plan(m, n).unwrap();
                assert!(plan.nodes().iter().all(|id| id.leaves().end <= n));
                let path = plan.assemble(&stored).unwrap();
                assert_eq!(path, reference::consistency_proof(slice, m).unwrap());
            }
        }
    }

    #[test]
    fn plans_need_logarithmically_many_nodes() {
        for &n in &[1u64 << 20, (1 << 40) + 12345, u64::MAX - 1] {
            for &i in &[0, 1, n / 3, n - 2, n - 1] {
                let nodes = inclusion_plan(i, n).unwrap().nodes().len();
                assert!(nodes <= 2 * 64, "{i} of {n}: {nodes}");
            }
            for &m in &[1, 7, n / 2, n - 1] {
                let nodes = consistency_plan(m, n).unwrap().nodes().len();
                assert!(nodes <= 2 * 64 + 1, "{m}->{n}: {nodes}");
            }
        }
    }

    #[test]
    fn impossible_plans_and_missing_nodes_are_errors() {
        assert_eq!(
            inclusion_plan(5, 5),
            Err(TreeError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert_eq!(
            consistency_plan(6, 5),
            Err(TreeError::SizeDecrease { old: 6, new: 5 })
        );
        let plan = inclusion_plan(0, 4).unwrap();
        assert_eq!(
            plan.assemble(&HashMap::new()),
            Err(TreeError::MissingNode(NodeId::leaf(1)))
        );
        assert!(inclusion_plan(0, 1).unwrap().is_empty());
        assert!(consistency_plan(3, 3).unwrap().is_empty());
        assert!(consistency_plan(0, 3).unwrap().is_empty());
    }

    #[test]
    fn verification_rejects_bad_proofs() {
        let (leaves, stored) = tree(13);
        let root = reference::root_of(&leaves);
        let path = inclusion_plan(5, 13).unwrap().assemble(&stored).unwrap();
        assert_eq!(verify_inclusion(&leaves[5], 5, 13, &path, &root), Ok(()));
        assert_eq!(
            verify_inclusion(&leaves[5], 13, 13, &path, &root),
            Err(ProofError::IndexOutOfRange {
                index: 13,
                size: 13
            })
        );
        assert_eq!(
            verify_inclusion(&leaves[5], 5, 13, &path[..path.len() - 1], &root),
            Err(ProofError::TooShort)
        );
        let mut long = path.clone();
        long.push(root);
        assert_eq!(
            verify_inclusion(&leaves[5], 5, 13, &long, &root),
            Err(ProofError::TooLong)
        );
        assert_eq!(
            verify_inclusion(&leaves[4], 5, 13, &path, &root),
            Err(ProofError::RootMismatch)
        );

        let old_root = reference::root_of(&leaves[..6]);
        let proof = consistency_plan(6, 13).unwrap().assemble(&stored).unwrap();
        assert_eq!(verify_consistency(6, 13, &old_root, &root, &proof), Ok(()));
        assert_eq!(
            verify_consistency(6, 13, &root, &root, &proof),
            Err(ProofError::OldRootMismatch)
        );
        assert_eq!(
            verify_consistency(6, 13, &old_root, &old_root, &proof),
            Err(ProofError::RootMismatch)
        );
        assert_eq!(
            verify_consistency(6, 13, &old_root, &root, &[]),
            Err(ProofError::TooShort)
        );
        assert_eq!(
            verify_consistency(13, 6, &old_root, &root, &proof),
            Err(ProofError::SizeDecrease { old: 13, new: 6 })
        );
        assert_eq!(verify_consistency(13, 13, &root, &root, &[]), Ok(()));
        assert_eq!(
            verify_consistency(13, 13, &root, &old_root, &[]),
            Err(ProofError::RootMismatch)
        );
        assert_eq!(
            verify_consistency(13, 13, &root, &root, &[root]),
            Err(ProofError::NotEmpty)
        );
        assert_eq!(verify_consistency(0, 13, &empty_root(), &root, &[]), Ok(()));
        assert_eq!(
            verify_consistency(0, 13, &root, &root, &[]),
            Err(ProofError::OldRootMismatch)
        );
    }
}
