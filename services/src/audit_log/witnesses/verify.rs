//! `broker audit verify`, the witnesses' part: every stored cosignature must verify with its
//! witness's configured key over the checkpoint it names, and that checkpoint must be one of the
//! stored log's: no larger than the tree (else the log was rolled back) and with the root the
//! stored tree has at that size (else it was forked, or rewritten and re-signed).
//!
//! Run after the log itself verified clean, so that the stored nodes the roots are computed from
//! are known to match the records.

use std::collections::BTreeMap;

use audit::{Hash, Note, NoteSignature};
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};

use super::{CheckpointNotes, Witness, root_at};
use crate::audit_log::AuditError;
use crate::audit_log::entities::cosignature;

/// A cosignature that contradicts the stored log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessFinding {
    #[error(
        "witness `{witness}` cosigned a checkpoint of size {size}, but the log holds only {tree_size} records: it was rolled back"
    )]
    RolledBack {
        witness: String,
        size: u64,
        tree_size: u64,
    },
    #[error(
        "witness `{witness}` cosigned root {cosigned} at size {size}, but the stored log's root at that size is {stored}: it was forked or rewritten"
    )]
    Forked {
        witness: String,
        size: u64,
        cosigned: String,
        stored: String,
    },
    #[error(
        "the stored cosignature of witness `{witness}` at size {size} does not verify with its configured key"
    )]
    BadCosignature { witness: String, size: u64 },
}

/// What the witnesses' part checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WitnessSummary {
    /// Cosignatures verified.
    pub verified: u64,
    /// Per configured witness, the largest size it cosigned.
    pub latest: BTreeMap<String, u64>,
    /// Cosignatures by witnesses no longer configured (their key unknown here, not checked).
    pub unconfigured: u64,
}

/// Checks every stored cosignature against the stored tree of `tree_size` records.
pub async fn verify_cosignatures<C: ConnectionTrait>(
    conn: &C,
    notes: &CheckpointNotes,
    witnesses: &[Witness],
    tree_size: u64,
) -> Result<Result<WitnessSummary, WitnessFinding>, AuditError> {
    let rows = cosignature::Entity::find()
        .order_by_asc(cosignature::Column::TreeSize)
        .all(conn)
        .await?;
    let mut summary = WitnessSummary::default();
    let mut roots: BTreeMap<u64, Hash> = BTreeMap::new();
    for row in rows {
        let Some(witness) = witnesses.iter().find(|w| w.name == row.witness) else {
            summary.unconfigured += 1;
            continue;
        };
        let size = u64::try_from(row.tree_size).unwrap_or(u64::MAX);
        let bad = || WitnessFinding::BadCosignature {
            witness: row.witness.clone(),
            size,
        };
        let Ok(cosigned) = Hash::from_slice(&row.root_hash) else {
            return Ok(Err(bad()));
        };
        if !cosignature_verifies(notes, witness, size, cosigned, &row.signature)? {
            return Ok(Err(bad()));
        }
        if size > tree_size {
            return Ok(Err(WitnessFinding::RolledBack {
                witness: row.witness,
                size,
                tree_size,
            }));
        }
        let stored = match roots.get(&size) {
            Some(root) => *root,
            None => {
                let root = root_at(conn, size).await?;
                roots.insert(size, root);
                root
            }
        };
        if stored != cosigned {
            return Ok(Err(WitnessFinding::Forked {
                witness: row.witness,
                size,
                cosigned: cosigned.to_hex(),
                stored: stored.to_hex(),
            }));
        }
        summary.verified += 1;
        let latest = summary.latest.entry(row.witness).or_default();
        *latest = (*latest).max(size);
    }
    Ok(Ok(summary))
}

/// Whether `line` is `witness`'s valid cosignature of this log's checkpoint of `size`, `root`.
fn cosignature_verifies(
    notes: &CheckpointNotes,
    witness: &Witness,
    size: u64,
    root: Hash,
    line: &str,
) -> Result<bool, AuditError> {
    let Ok(mut signatures) = NoteSignature::parse_lines(line) else {
        return Ok(false);
    };
    let (Some(signature), true) = (signatures.pop(), signatures.is_empty()) else {
        return Ok(false);
    };
    if signature.name() != witness.key.name() || signature.key_id() != witness.key.key_id() {
        return Ok(false);
    }
    let mut note = Note::new(notes.body(size, root)?.to_text())?;
    note.add_signature(signature)?;
    Ok(note.verify(std::slice::from_ref(&witness.key)).is_ok())
}
