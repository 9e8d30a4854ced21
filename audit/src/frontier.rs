//! The right edge of the tree: all an appender needs to extend it and compute its root.

use serde::{Deserialize, Serialize};

use crate::error::TreeError;
use crate::hash::{Hash, empty_root, node_hash};
use crate::merkle::{NodeId, NodeLookup};
use crate::record::{Record, StoredRecord};

/// The hashes of the perfect subtrees in the binary decomposition of the tree size, largest
/// (leftmost) first: one per set bit of `size`, at most 64.
///
/// The broker keeps it in its single "head" row ([`Frontier::to_bytes`], or the serde form),
/// reads it under the append lock, appends, and writes it back in the same transaction as the
/// record and the nodes [`Frontier::push`] returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FrontierWire", into = "FrontierWire")]
pub struct Frontier {
    size: u64,
    // INVARIANT: hashes.len() == size.count_ones(); hashes[i] is the node of the i-th highest set
    // bit of size, i.e. the perfect subtrees from left to right.
    hashes: Vec<Hash>,
}

/// What one [`Frontier::append`] produced: the row to insert and the nodes to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The record row (entry bytes, leaf hash and indexed columns).
    pub row: StoredRecord,
    /// Every node completed by this leaf, level 0 first.
    pub nodes: Vec<(NodeId, Hash)>,
}

impl Default for Frontier {
    fn default() -> Self {
        Self::new()
    }
}

impl Frontier {
    /// The empty tree.
    pub const fn new() -> Self {
        Self {
            size: 0,
            hashes: Vec::new(),
        }
    }

    /// Number of leaves.
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// The root, RFC 9162 `MTH` of all leaves; `SHA-256("")` when empty. O(log n) hashes.
    pub fn root(&self) -> Hash {
        crate::merkle::fold_right(self.hashes.iter().copied()).unwrap_or_else(empty_root)
    }

    /// The frontier's nodes with their hashes, left to right.
    pub fn nodes(&self) -> impl Iterator<Item = (NodeId, Hash)> + '_ {
        Self::node_ids(self.size)
            .into_iter()
            .zip(self.hashes.iter().copied())
    }

    /// The nodes making up the right edge of a tree of `size` leaves, left to right: what
    /// [`Frontier::from_nodes`] and a root at an old size need.
    pub fn node_ids(size: u64) -> Vec<NodeId> {
        let mut ids = Vec::with_capacity(size.count_ones() as usize);
        crate::merkle::decompose(0, size, &mut ids);
        ids
    }

    /// Rebuilds the frontier of a tree of `size` leaves from stored nodes.
    pub fn from_nodes(size: u64, nodes: &impl NodeLookup) -> Result<Self, TreeError> {
        let hashes = Self::node_ids(size)
            .into_iter()
            .map(|id| nodes.node(id).ok_or(TreeError::MissingNode(id)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { size, hashes })
    }

    /// Appends one leaf hash. Returns every node that became complete, level 0 (the leaf)
    /// first: store them all, they never change.
    pub fn push(&mut self, leaf: Hash) -> Result<Vec<(NodeId, Hash)>, TreeError> {
        let index = self.size;
        let new_size = index.checked_add(1).ok_or(TreeError::Full)?;
        // The leaf merges with one frontier node per trailing one bit of the old size.
        let merges = index.trailing_ones();
        let mut completed = Vec::with_capacity(merges as usize + 1);
        let mut hash = leaf;
        completed.push((NodeId::leaf(index), hash));
        for level in 1..=merges {
            let Some(left) = self.hashes.pop() else {
                return Err(TreeError::BadFrontier);
            };
            hash = node_hash(&left, &hash);
            // `level` <= 64 only when size was u64::MAX, refused above; new_size >> level >= 1.
            let id = NodeId::covering(((new_size >> level) - 1) << level, level as u8);
            completed.push((id, hash));
        }
        self.hashes.push(hash);
        self.size = new_size;
        Ok(completed)
    }

    /// Appends a record: sets its `seq` to the current size, encodes it, hashes the stored
    /// bytes and pushes the leaf. Do this under the single-writer lock, with the frontier read
    /// from the head row in the same transaction.
    pub fn append(&mut self, mut record: Record) -> Result<Appended, TreeError> {
        if self.size == u64::MAX {
            return Err(TreeError::Full);
        }
        record.seq = self.size;
        let row = StoredRecord::from_record(&record);
        let nodes = self.push(row.leaf_hash)?;
        Ok(Appended { row, nodes })
    }

    /// `size` as 8 big-endian bytes, then the hashes: `8 + 32·popcount(size)` bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 32 * self.hashes.len());
        out.extend_from_slice(&self.size.to_be_bytes());
        for hash in &self.hashes {
            out.extend_from_slice(hash.as_bytes());
        }
        out
    }

    /// Reads [`Frontier::to_bytes`] back, refusing any length that does not fit the size.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TreeError> {
        let (size, rest) = bytes
            .split_first_chunk::<8>()
            .ok_or(TreeError::BadFrontier)?;
        let size = u64::from_be_bytes(*size);
        if rest.len() != 32 * size.count_ones() as usize {
            return Err(TreeError::BadFrontier);
        }
        let hashes = rest
            .chunks_exact(32)
            .map(|c| Hash::from_slice(c).map_err(|_| TreeError::BadFrontier))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { size, hashes })
    }
}

/// The serde form: `{"size":N,"hashes":["hex",…]}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontierWire {
    size: u64,
    hashes: Vec<Hash>,
}

impl From<Frontier> for FrontierWire {
    fn from(f: Frontier) -> Self {
        Self {
            size: f.size,
            hashes: f.hashes,
        }
    }
}

impl TryFrom<FrontierWire> for Frontier {
    type Error = TreeError;

    fn try_from(w: FrontierWire) -> Result<Self, TreeError> {
        if w.hashes.len() != w.size.count_ones() as usize {
            return Err(TreeError::BadFrontier);
        }
        Ok(Self {
            size: w.size,
            hashes: w.hashes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::reference::root_of;
    use std::collections::HashMap;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn push_reports_each_completed_node_once_with_its_subtree_hash() {
        let leaves = leaves(70);
        let mut f = Frontier::new();
        let mut stored: HashMap<NodeId, Hash> = HashMap::new();
        for (i, leaf) in leaves.iter().enumerate() {
            let nodes = f.push(*leaf).unwrap();
            assert_eq!(nodes[0], (NodeId::leaf(i as u64), *leaf));
            assert_eq!(nodes.len(), (i as u64).trailing_ones() as usize + 1);
            for (id, hash) in nodes {
                let r = id.leaves();
                assert_eq!(r.end, i as u64 + 1, "{id} completes with leaf {i}");
                assert_eq!(hash, root_of(&leaves[r.start as usize..r.end as usize]));
                assert!(stored.insert(id, hash).is_none(), "{id} reported twice");
            }
            assert_eq!(f.size(), i as u64 + 1);
            assert_eq!(f.root(), root_of(&leaves[..=i]));
            let rebuilt = Frontier::from_nodes(f.size(), &stored).unwrap();
            assert_eq!(rebuilt, f);
        }
        // 2n - 1 perfect subtrees for n = 64, plus those of the last 6 leaves.
        assert_eq!(stored.len(), 127 + 6 + 3 + 1);
    }

    #[test]
    fn empty_frontier() {
        let f = Frontier::new();
        assert_eq!(f.root(), empty_root());
        assert_eq!(Frontier::from_bytes(&f.to_bytes()).unwrap(), f);
        assert_eq!(Frontier::from_nodes(0, &HashMap::new()).unwrap(), f);
    }

    #[test]
    fn from_nodes_names_the_missing_node() {
        let err = Frontier::from_nodes(6, &HashMap::new()).unwrap_err();
        assert_eq!(err, TreeError::MissingNode(NodeId::new(2, 0).unwrap()));
    }

    #[test]
    fn encodings_round_trip_and_reject_bad_lengths() {
        let mut f = Frontier::new();
        for leaf in leaves(11) {
            f.push(leaf).unwrap();
        }
        let bytes = f.to_bytes();
        assert_eq!(bytes.len(), 8 + 32 * 3);
        assert_eq!(Frontier::from_bytes(&bytes).unwrap(), f);
        assert_eq!(
            Frontier::from_bytes(&bytes[..bytes.len() - 1]),
            Err(TreeError::BadFrontier)
        );
        assert_eq!(
            Frontier::from_bytes(&bytes[..7]),
            Err(TreeError::BadFrontier)
        );
        let mut wrong_size = bytes.clone();
        wrong_size[7] = 12;
        assert_eq!(
            Frontier::from_bytes(&wrong_size),
            Err(TreeError::BadFrontier)
        );

        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(serde_json::from_str::<Frontier>(&json).unwrap(), f);
        let bad = json.replace("\"size\":11", "\"size\":12");
        assert!(serde_json::from_str::<Frontier>(&bad).is_err());
    }

    #[test]
    fn the_last_leaf_is_refused_not_wrapped() {
        let mut f = Frontier {
            size: u64::MAX,
            hashes: vec![empty_root(); 64],
        };
        assert_eq!(f.push(empty_root()), Err(TreeError::Full));
        assert_eq!(f.size(), u64::MAX);
    }
}
