//! `broker audit verify`: replay the stored log and find the first row that is not what was
//! appended.
//!
//! [`LogVerifier`] is fed the stored records in seq order (in batches, from a cursor) and knows
//! the stored checkpoints; it keeps only the frontier, so memory is O(log n + checkpoints). For
//! each record it checks, in this order: the seq is the next one (a gap is a deletion, a repeat
//! an insertion); the entry hashes to the stored leaf hash; the entry decodes as a canonical
//! record; the entry's own seq is its position; the indexed columns equal the entry; then it
//! appends the leaf, compares every node this completes with the stored node (when given), and,
//! at each checkpoint's size, checks the signature and the signed root. See the crate docs for
//! what this can and cannot localise.

mod finding;

use std::collections::VecDeque;

pub use self::finding::{Evidence, TamperKind, VerifyError};
use crate::checkpoint::{Checkpoint, CheckpointVerifier, SignedCheckpoint};
use crate::frontier::Frontier;
use crate::hash::{Hash, leaf_hash};
use crate::merkle::{NodeId, NodeLookup};
use crate::record::{Record, StoredRecord};

/// Reported every K records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Records verified so far.
    pub records: u64,
    /// Checkpoints verified so far.
    pub checkpoints_verified: u64,
    /// Stored nodes compared so far.
    pub nodes_checked: u64,
}

/// What a clean verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifySummary {
    /// Records verified.
    pub records: u64,
    /// The rebuilt root over all of them.
    pub root: Hash,
    /// Checkpoints whose signature and root verified.
    pub checkpoints_verified: u64,
    /// Size of the largest verified checkpoint.
    pub last_checkpoint_size: Option<u64>,
    /// Stored nodes compared.
    pub nodes_checked: u64,
}

impl VerifySummary {
    /// Records after the last checkpoint: hashed, but not yet signed, so not yet tamper-evident.
    pub fn unsigned_records(&self) -> u64 {
        self.records - self.last_checkpoint_size.unwrap_or(0)
    }
}

/// The checks of one row that need nothing but the row itself: does its entry hash to its stored
/// leaf hash, does the entry decode as a canonical record, at which seq does it say it belongs,
/// and do the indexed columns equal it. They are independent of every other row, so a reader can
/// run them on other threads while the next rows load ([`Prechecked::new`] is `Send`), then feed
/// the results in seq order to [`LogVerifier::push_prechecked`], which does only what depends on
/// the order (positions, the tree, stored nodes, checkpoints). The verdict is the same as
/// [`LogVerifier::push`]'s, finding for finding.
#[derive(Debug)]
pub struct Prechecked {
    row: StoredRecord,
    hash_ok: bool,
    // The entry's own seq and the first indexed column that differs from it.
    entry: Result<(u64, Option<&'static str>), crate::EntryError>,
}

impl Prechecked {
    /// Hashes and decodes `row`.
    pub fn new(row: StoredRecord) -> Self {
        let hash_ok = leaf_hash(&row.entry) == row.leaf_hash;
        let entry = Record::from_canonical(&row.entry)
            .map(|record| (record.seq, row.column_mismatch(&record)));
        Self {
            row,
            hash_ok,
            entry,
        }
    }
}

/// How many recent ids to keep for naming an inserted record found a few rows late.
const RECENT_IDS: usize = 64;

/// A record whose entry says it belongs elsewhere; the next row tells which tampering it is.
struct Suspect {
    seq: u64,
    id: String,
    entry_seq: u64,
}

/// What the row after a [`Suspect`] says.
enum Next {
    Row { shift: i128, entry_seq: u64 },
    End,
    Unknown,
}

type ProgressFn<'a> = Box<dyn FnMut(&Progress) + 'a>;

/// Streaming verifier of a stored log. Feed rows with [`LogVerifier::push`] (or
/// [`LogVerifier::push_with_nodes`]) in seq order, then call [`LogVerifier::finish`]. The first
/// failure is returned as soon as it is certain; after it, every call returns
/// [`VerifyError::Halted`].
pub struct LogVerifier<'a, V> {
    verifier: V,
    // INVARIANT: sorted by stored tree_size; those before `next_checkpoint` are verified.
    checkpoints: Vec<SignedCheckpoint>,
    next_checkpoint: usize,
    head: Option<Frontier>,
    tree: Frontier,
    // The size at the last verified checkpoint, and the id of the record at that seq.
    range_start: u64,
    range_first_id: Option<String>,
    last_checkpoint_size: Option<u64>,
    recent: VecDeque<(u64, String)>,
    suspect: Option<Suspect>,
    progress: Option<(u64, ProgressFn<'a>)>,
    checkpoints_verified: u64,
    nodes_checked: u64,
    halted: bool,
}

impl<'a, V: CheckpointVerifier> LogVerifier<'a, V> {
    /// A verifier trusting `verifier`'s keys, with every stored checkpoint (any order).
    pub fn new(verifier: V, mut checkpoints: Vec<SignedCheckpoint>) -> Self {
        checkpoints.sort_by_key(|c| c.checkpoint.tree_size);
        Self {
            verifier,
            checkpoints,
            next_checkpoint: 0,
            head: None,
            tree: Frontier::new(),
            range_start: 0,
            range_first_id: None,
            last_checkpoint_size: None,
            recent: VecDeque::with_capacity(RECENT_IDS),
            suspect: None,
            progress: None,
            checkpoints_verified: 0,
            nodes_checked: 0,
            halted: false,
        }
    }

    /// Also compares the broker's head row: records beyond it are insertions, fewer records a
    /// truncation, a different frontier a rewrite since the last checkpoint. The head is
    /// unsigned, so this only catches tampering that did not also rewrite it.
    pub fn with_head(mut self, head: Frontier) -> Self {
        self.head = Some(head);
        self
    }

    /// Calls `callback` after every `every` records (0: never).
    pub fn on_progress(mut self, every: u64, callback: impl FnMut(&Progress) + 'a) -> Self {
        self.progress = (every > 0).then(|| (every, Box::new(callback) as ProgressFn<'a>));
        self
    }

    /// Verifies the next row.
    pub fn push(&mut self, row: StoredRecord) -> Result<(), VerifyError> {
        let row = Prechecked::new(row);
        self.guarded(|v| v.step(row, None::<&NoNodes>))
    }

    /// Verifies the next row and compares every node it completes with `stored` (a missing
    /// node is a finding). [`crate::completed_nodes`] lists which nodes a batch needs.
    pub fn push_with_nodes(
        &mut self,
        row: StoredRecord,
        stored: &impl NodeLookup,
    ) -> Result<(), VerifyError> {
        self.push_prechecked(Prechecked::new(row), stored)
    }

    /// Verifies the next row, hashed and decoded beforehand, comparing every node it completes
    /// with `stored` as [`LogVerifier::push_with_nodes`] does.
    pub fn push_prechecked(
        &mut self,
        row: Prechecked,
        stored: &impl NodeLookup,
    ) -> Result<(), VerifyError> {
        self.guarded(|v| v.step(row, Some(stored)))
    }

    /// Ends verification: settles a pending finding, then checks that no checkpoint (and no
    /// head row) claims more records than were fed.
    pub fn finish(mut self) -> Result<VerifySummary, VerifyError> {
        self.guarded(Self::settle_end)?;
        Ok(VerifySummary {
            records: self.tree.size(),
            root: self.tree.root(),
            checkpoints_verified: self.checkpoints_verified,
            last_checkpoint_size: self.last_checkpoint_size,
            nodes_checked: self.nodes_checked,
        })
    }

    fn guarded(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(), VerifyError>,
    ) -> Result<(), VerifyError> {
        if self.halted {
            return Err(VerifyError::Halted);
        }
        let result = f(self);
        self.halted = result.is_err();
        result
    }

    fn step<L: NodeLookup>(
        &mut self,
        pre: Prechecked,
        stored: Option<&L>,
    ) -> Result<(), VerifyError> {
        let Prechecked {
            row,
            hash_ok,
            entry,
        } = pre;
        if let Some(suspect) = self.suspect.take() {
            let next = next_of(row.seq, &entry, suspect.seq);
            return Err(self.classify(suspect, next));
        }
        // Checkpoints of size 0 are due before the first record.
        self.settle_checkpoints()?;
        let expected = self.tree.size();
        let (seq, id) = (row.seq, row.id.clone());
        if seq > expected {
            return Err(VerifyError::Missing {
                seq: expected,
                count: seq - expected,
                next_id: id,
            });
        }
        if seq < expected {
            return Err(if seq + 1 == expected {
                VerifyError::Inserted { seq, id: Some(id) }
            } else {
                VerifyError::OutOfOrder {
                    seq,
                    id,
                    after: expected - 1,
                }
            });
        }
        if !hash_ok {
            return Err(VerifyError::Edited { seq, id });
        }
        let (entry_seq, mismatch) = entry.map_err(|source| VerifyError::Unreadable {
            seq,
            id: id.clone(),
            source,
        })?;
        if entry_seq != seq {
            // Swapped, or renumbered after a deletion or insertion: the next row decides.
            self.suspect = Some(Suspect { seq, id, entry_seq });
            return Ok(());
        }
        if let Some(column) = mismatch {
            return Err(VerifyError::ColumnMismatch { seq, id, column });
        }
        let beyond_head = self.head.as_ref().is_some_and(|h| seq >= h.size());
        if beyond_head || seq == u64::MAX {
            return Err(VerifyError::Inserted { seq, id: Some(id) });
        }
        if seq == self.range_start {
            self.range_first_id = Some(id.clone());
        }
        let completed = self
            .tree
            .push(row.leaf_hash)
            .map_err(|_| VerifyError::Inserted {
                seq,
                id: Some(id.clone()),
            })?;
        if let Some(stored) = stored {
            self.compare_nodes(&completed, stored, seq, &id)?;
        }
        if self.recent.len() == RECENT_IDS {
            self.recent.pop_front();
        }
        self.recent.push_back((seq, id));
        self.settle_checkpoints()?;
        self.compare_head()?;
        self.report_progress();
        Ok(())
    }

    fn compare_nodes(
        &mut self,
        completed: &[(NodeId, Hash)],
        stored: &impl NodeLookup,
        seq: u64,
        id: &str,
    ) -> Result<(), VerifyError> {
        // Level 0 first: a rewritten leaf is named before the parents it also breaks.
        for &(node, hash) in completed {
            self.nodes_checked += 1;
            match stored.node(node) {
                None => return Err(VerifyError::NodeMissing { node }),
                Some(found) if found == hash => {}
                Some(_) if node.level() == 0 => {
                    return Err(VerifyError::Rewritten {
                        seq,
                        id: id.to_owned(),
                    });
                }
                Some(_) => return Err(VerifyError::NodeMismatch { node }),
            }
        }
        Ok(())
    }

    /// Verifies every checkpoint whose size the tree has reached.
    fn settle_checkpoints(&mut self) -> Result<(), VerifyError> {
        let size = self.tree.size();
        while let Some(stored) = self.checkpoints.get(self.next_checkpoint) {
            if stored.checkpoint.tree_size > size {
                break;
            }
            let signed = signed_payload(&self.verifier, stored)?;
            if signed.root_hash != self.tree.root() {
                return Err(VerifyError::CheckpointRootMismatch {
                    first: self.range_start,
                    end: size,
                    first_id: self.range_first_id.clone(),
                });
            }
            if signed != stored.checkpoint {
                return Err(VerifyError::CheckpointAltered {
                    tree_size: stored.checkpoint.tree_size,
                });
            }
            self.next_checkpoint += 1;
            self.checkpoints_verified += 1;
            self.last_checkpoint_size = Some(size);
            if self.range_start != size {
                self.range_start = size;
                self.range_first_id = None;
            }
        }
        Ok(())
    }

    fn compare_head(&self) -> Result<(), VerifyError> {
        let Some(head) = &self.head else {
            return Ok(());
        };
        if head.size() != self.tree.size() {
            return Ok(());
        }
        let differs = self
            .tree
            .nodes()
            .zip(head.nodes())
            .find(|(ours, theirs)| ours != theirs);
        match differs {
            Some(((node, _), _)) => {
                let leaves = node.leaves();
                Err(VerifyError::HeadMismatch {
                    first: leaves.start,
                    end: leaves.end,
                })
            }
            None => Ok(()),
        }
    }

    fn settle_end(&mut self) -> Result<(), VerifyError> {
        if let Some(suspect) = self.suspect.take() {
            return Err(self.classify(suspect, Next::End));
        }
        self.settle_checkpoints()?;
        let records = self.tree.size();
        // Checkpoints beyond the records: a real one proves truncation, a forged one is forged.
        if let Some(stored) = self.checkpoints.get(self.next_checkpoint) {
            if signed_payload(&self.verifier, stored)? != stored.checkpoint {
                return Err(VerifyError::CheckpointAltered {
                    tree_size: stored.checkpoint.tree_size,
                });
            }
            return Err(VerifyError::Truncated {
                records,
                claimed: stored.checkpoint.tree_size,
                evidence: Evidence::Checkpoint,
            });
        }
        match &self.head {
            Some(head) if head.size() > records => Err(VerifyError::Truncated {
                records,
                claimed: head.size(),
                evidence: Evidence::Head,
            }),
            _ => Ok(()),
        }
    }

    /// Names a [`Suspect`] from the row after it. The seq is exact; the kind is the likeliest
    /// explanation of the pattern (swap, renumbered deletion, renumbered insertion).
    fn classify(&self, s: Suspect, next: Next) -> VerifyError {
        let shift = i128::from(s.entry_seq) - i128::from(s.seq);
        if let Next::Row { entry_seq, .. } = next
            && s.entry_seq == s.seq + 1
            && entry_seq == s.seq
        {
            // Two neighbours swapped.
            return reordered(s);
        }
        let same_shift = match next {
            Next::Row {
                shift: next_shift, ..
            } => next_shift == shift,
            Next::End => true,
            Next::Unknown => false,
        };
        if same_shift && shift > 0 {
            // Everything from here on moved down: records were deleted and the rest renumbered.
            return VerifyError::Missing {
                seq: s.seq,
                count: s.entry_seq - s.seq,
                next_id: s.id,
            };
        }
        if same_shift {
            // Everything from here on moved up: the rows just before were inserted; the first
            // of them sits where this record's entry says it belongs.
            let id = self
                .recent
                .iter()
                .find(|(seq, _)| *seq == s.entry_seq)
                .map(|(_, id)| id.clone());
            return VerifyError::Inserted {
                seq: s.entry_seq,
                id,
            };
        }
        if matches!(next, Next::Row { shift: -1, .. }) {
            // The rest moved up by one from the next row on: this row was inserted.
            return VerifyError::Inserted {
                seq: s.seq,
                id: Some(s.id),
            };
        }
        reordered(s)
    }

    fn report_progress(&mut self) {
        let records = self.tree.size();
        let snapshot = Progress {
            records,
            checkpoints_verified: self.checkpoints_verified,
            nodes_checked: self.nodes_checked,
        };
        if let Some((every, callback)) = &mut self.progress
            && records.is_multiple_of(*every)
        {
            callback(&snapshot);
        }
    }
}

fn reordered(s: Suspect) -> VerifyError {
    VerifyError::Reordered {
        seq: s.seq,
        id: s.id,
        entry_seq: s.entry_seq,
    }
}

/// What the row after a suspect at `suspect_seq` (stored at `seq`, its entry decoded as `entry`)
/// says about its own position.
fn next_of(
    seq: u64,
    entry: &Result<(u64, Option<&'static str>), crate::EntryError>,
    suspect_seq: u64,
) -> Next {
    if Some(seq) != suspect_seq.checked_add(1) {
        return Next::Unknown;
    }
    match entry {
        Ok((entry_seq, _)) => Next::Row {
            shift: i128::from(*entry_seq) - i128::from(seq),
            entry_seq: *entry_seq,
        },
        Err(_) => Next::Unknown,
    }
}

/// The checkpoint as signed, or why its stored row cannot be trusted.
fn signed_payload(
    verifier: &impl CheckpointVerifier,
    stored: &SignedCheckpoint,
) -> Result<Checkpoint, VerifyError> {
    let tree_size = stored.checkpoint.tree_size;
    let payload = verifier
        .verify(&stored.jws)
        .map_err(|e| VerifyError::CheckpointSignature {
            tree_size,
            source: Box::new(e),
        })?;
    let signed = Checkpoint::from_canonical(&payload)
        .map_err(|_| VerifyError::CheckpointAltered { tree_size })?;
    // A payload for another size was moved onto this row.
    if signed.tree_size != tree_size {
        return Err(VerifyError::CheckpointAltered { tree_size });
    }
    Ok(signed)
}

/// The lookup used when nodes are not checked; never consulted.
struct NoNodes;

impl NodeLookup for NoNodes {
    fn node(&self, _: NodeId) -> Option<Hash> {
        None
    }
}
