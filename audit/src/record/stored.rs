//! A record as the broker stores it: entry bytes, leaf hash, and indexed copies of some fields.

use crate::hash::{Hash, leaf_hash};
use crate::record::Record;

/// One stored record row: the entry bytes, their leaf hash, and the columns the broker indexes
/// for officer searches (copies of entry fields, checked against it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Leaf index, the primary key.
    pub seq: u64,
    /// Record id (unique).
    pub id: String,
    /// [`Record::canonical_bytes`], stored verbatim.
    pub entry: Vec<u8>,
    /// `leaf_hash(entry)`.
    pub leaf_hash: Hash,
    /// Indexed copy of `time_ms`.
    pub time_ms: i64,
    /// Indexed copy of `action`, as its string form.
    pub action: String,
    /// Indexed copy of `outcome`, as its string form.
    pub outcome: String,
    /// Indexed copy of `citizen_id`.
    pub citizen_id: Option<String>,
    /// Indexed copy of `department_id`.
    pub department_id: Option<String>,
    /// Indexed copy of `purpose`.
    pub purpose: Option<String>,
}

impl StoredRecord {
    /// The row for `record` (its `seq` already assigned): what [`crate::Frontier::append`] returns.
    pub fn from_record(record: &Record) -> Self {
        let entry = record.canonical_bytes();
        Self {
            seq: record.seq,
            id: record.id.clone(),
            leaf_hash: leaf_hash(&entry),
            entry,
            time_ms: record.time_ms,
            action: record.action.as_str().to_owned(),
            outcome: record.outcome.as_str().to_owned(),
            citizen_id: record.citizen_id.clone(),
            department_id: record.department_id.clone(),
            purpose: record.purpose.clone(),
        }
    }

    /// The first column that differs from `record`, by column name.
    pub(crate) fn column_mismatch(&self, record: &Record) -> Option<&'static str> {
        [
            ("id", self.id == record.id),
            ("time_ms", self.time_ms == record.time_ms),
            ("action", self.action == record.action.as_str()),
            ("outcome", self.outcome == record.outcome.as_str()),
            ("citizen_id", self.citizen_id == record.citizen_id),
            ("department_id", self.department_id == record.department_id),
            ("purpose", self.purpose == record.purpose),
        ]
        .into_iter()
        .find_map(|(column, same)| (!same).then_some(column))
    }
}
