//! Addressing the stored tree: every *perfect* subtree is a [`NodeId`], and its hash is stored
//! once, when it becomes complete, and never changes (the tree is append-only).
//!
//! Node `(level, index)` covers leaves `[index·2^level, (index+1)·2^level)`; level 0 is the leaf
//! hashes. For any tree size, the RFC 9162 `MTH` of an aligned power-of-two range equals the hash
//! of that perfect node, and every other range a proof needs is a right edge made of a few
//! perfect nodes, so proofs and roots need O(log n) stored nodes.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::ops::Range;

use crate::hash::{Hash, node_hash};

/// A perfect subtree: `level` 0 is a leaf, `index` counts subtrees of that level from the left.
///
/// Stored as two integer columns; build it back with [`NodeId::new`], which refuses ids no tree
/// can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    level: u8,
    index: u64,
}

impl NodeId {
    /// The node at `level` and `index`, if its leaves end within `u64` (every node of any
    /// tree this crate can build does).
    pub const fn new(level: u8, index: u64) -> Option<Self> {
        if level > 63 {
            return None;
        }
        // (index + 1) << level must not exceed u64::MAX.
        let end = (index as u128 + 1) << level;
        if end > u64::MAX as u128 {
            return None;
        }
        Some(Self { level, index })
    }

    /// Leaf `index` (level 0).
    pub const fn leaf(index: u64) -> Self {
        Self { level: 0, index }
    }

    /// The level: 0 for leaves, `l` for a subtree of `2^l` leaves.
    pub const fn level(self) -> u8 {
        self.level
    }

    /// The position among nodes of the same level.
    pub const fn index(self) -> u64 {
        self.index
    }

    /// The leaves it covers.
    pub const fn leaves(self) -> Range<u64> {
        // INVARIANT: level <= 63, and the end fits in u64 for every node but `leaf(u64::MAX)`,
        // which no tree has (its size would pass u64::MAX); saturate rather than overflow.
        let start = self.index << self.level;
        start..start.saturating_add(1u64 << self.level)
    }

    /// Builds the node for an aligned perfect range; callers guarantee alignment.
    pub(crate) const fn covering(start: u64, level: u8) -> Self {
        Self {
            level,
            index: start >> level,
        }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(level {}, index {})", self.level, self.index)
    }
}

/// Where stored node hashes come from: a map the broker filled from one query, or a closure.
pub trait NodeLookup {
    /// The stored hash of `id`, if any.
    fn node(&self, id: NodeId) -> Option<Hash>;
}

impl<S: BuildHasher> NodeLookup for HashMap<NodeId, Hash, S> {
    fn node(&self, id: NodeId) -> Option<Hash> {
        self.get(&id).copied()
    }
}

impl NodeLookup for BTreeMap<NodeId, Hash> {
    fn node(&self, id: NodeId) -> Option<Hash> {
        self.get(&id).copied()
    }
}

impl<F: Fn(NodeId) -> Option<Hash>> NodeLookup for F {
    fn node(&self, id: NodeId) -> Option<Hash> {
        self(id)
    }
}

/// The nodes of one level completed while leaves in some range were appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpan {
    /// The level.
    pub level: u8,
    /// The indexes, consecutive.
    pub indexes: Range<u64>,
}

/// Every node that became complete while the leaves `leaves` were appended, one span per level.
///
/// For verifying a batch of records against stored nodes with one query:
/// `WHERE (level = 0 AND idx >= a AND idx < b) OR (level = 1 AND …) …`.
pub fn completed_nodes(leaves: Range<u64>) -> Vec<NodeSpan> {
    let mut spans = Vec::new();
    if leaves.start >= leaves.end {
        return spans;
    }
    for level in 0u8..64 {
        let width = 1u128 << level;
        if width > u128::from(leaves.end) {
            break;
        }
        // Node i completes with leaf (i+1)·2^l − 1, so it is in the batch when
        // start < (i+1)·2^l <= end.
        let first = ((u128::from(leaves.start) + width) >> level) - 1;
        let end = u128::from(leaves.end) >> level;
        if first < end {
            // Both are at most end <= u64::MAX.
            let (Ok(first), Ok(end)) = (u64::try_from(first), u64::try_from(end)) else {
                break;
            };
            spans.push(NodeSpan {
                level,
                indexes: first..end,
            });
        }
    }
    spans
}

/// Splits `[start, end)` into the perfect subtrees RFC 9162's `MTH` recursion uses for it, largest
/// first, pushing them onto `out`.
///
/// Exact when `start` is a multiple of a power of two at least `end - start` — true for every
/// range a proof or root asks for (the recursion only ever splits at such points).
pub(crate) fn decompose(start: u64, end: u64, out: &mut Vec<NodeId>) {
    let mut at = start;
    while at < end {
        let len = end - at;
        // Largest power of two that fits in the remaining length and keeps alignment.
        let level = (63 - len.leading_zeros()).min(at.trailing_zeros());
        // `level` is at most 63, so the cast cannot truncate.
        out.push(NodeId::covering(at, level as u8));
        at += 1u64 << level;
    }
}

/// Folds decomposed subtrees (largest first) into the hash of their union, right to left.
pub(crate) fn fold_right(hashes: impl DoubleEndedIterator<Item = Hash>) -> Option<Hash> {
    let mut rev = hashes.rev();
    let last = rev.next()?;
    Some(rev.fold(last, |acc, left| node_hash(&left, &acc)))
}

/// Largest power of two strictly below `n`; `n >= 2`.
pub(crate) const fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ranges() {
        assert_eq!(NodeId::leaf(5).leaves(), 5..6);
        assert_eq!(NodeId::new(3, 2).unwrap().leaves(), 16..24);
        assert_eq!(NodeId::new(63, 1), None);
        assert_eq!(NodeId::new(64, 0), None);
        assert_eq!(NodeId::new(63, 0).unwrap().leaves(), 0..(1 << 63));
        assert_eq!(NodeId::new(0, u64::MAX), None);
        assert_eq!(NodeId::new(0, u64::MAX - 1).unwrap().leaves().end, u64::MAX);
    }

    #[test]
    fn split_points() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn decomposition_of_a_right_edge() {
        let mut out = Vec::new();
        decompose(8, 15, &mut out);
        let got: Vec<_> = out.iter().map(|n| (n.level(), n.index())).collect();
        assert_eq!(got, vec![(2, 2), (1, 6), (0, 14)]);
    }

    #[test]
    fn completed_nodes_match_a_brute_force_count() {
        for start in 0..40u64 {
            for end in start..40u64 {
                let mut expected: Vec<(u8, u64)> = Vec::new();
                for level in 0..6u8 {
                    for index in 0..40u64 {
                        let leaves = NodeId::new(level, index).unwrap().leaves();
                        if leaves.end > start && leaves.end <= end {
                            expected.push((level, index));
                        }
                    }
                }
                let got: Vec<(u8, u64)> = completed_nodes(start..end)
                    .into_iter()
                    .flat_map(|s| s.indexes.map(move |i| (s.level, i)))
                    .collect();
                assert_eq!(got, expected, "{start}..{end}");
            }
        }
    }
}
