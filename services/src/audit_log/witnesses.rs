//! Witnessed checkpoints (C2SP): the log's checkpoints as `tlog-checkpoint` signed notes, sent
//! with a consistency proof to the configured witnesses (`tlog-witness` `add-checkpoint`), their
//! cosignatures stored in `audit_cosignatures`, and checked by `broker audit verify`.
//!
//! INVARIANT: a cosignature is stored only after it verified with the witness's configured key
//! over the exact checkpoint sent; rows are only ever inserted.
//!
//! The sender keeps no state of its own worth losing: where the next proof starts is the size of
//! the witness's latest stored cosignature (0 before the first), corrected by the size a `409`
//! names. A restart resumes from the table.

mod send;
mod verify;

pub use send::{cosign_once, run};
pub use verify::{WitnessFinding, WitnessSummary, verify_cosignatures};

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use audit::{Ed25519Signer, Frontier, Hash, NodeId, Note, TlogCheckpoint, VerifierKey};
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::AuditError;
use super::entities::{checkpoint, cosignature, node};
use super::settings::WitnessConfig;

/// The log's C2SP identity: its origin and the Ed25519 note key that signs its checkpoints.
#[derive(Debug)]
pub struct CheckpointNotes {
    origin: String,
    signer: Ed25519Signer,
}

impl CheckpointNotes {
    /// `signer` is named `origin` (see `keys::open_note_key`).
    pub fn new(origin: String, signer: Ed25519Signer) -> Self {
        Self { origin, signer }
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The public half, to give to witnesses: `<origin>+<hex id>+<base64>`.
    pub fn verifier_key(&self) -> VerifierKey {
        self.signer.verifier_key()
    }

    /// The checkpoint body of a tree of `size` and `root` under this origin.
    pub fn body(&self, size: u64, root: Hash) -> Result<TlogCheckpoint, AuditError> {
        Ok(TlogCheckpoint::new(self.origin.clone(), size, root)?)
    }

    /// The signed note of a stored checkpoint. Ed25519 is deterministic: the same checkpoint
    /// always gives the same bytes, so notes need not be stored.
    pub fn note(&self, row: &checkpoint::Model) -> Result<Note, AuditError> {
        let root = Hash::from_slice(&row.root_hash).map_err(|_| audit::TreeError::BadFrontier)?;
        let size = u64::try_from(row.tree_size).map_err(|_| audit::TreeError::BadFrontier)?;
        Ok(self.body(size, root)?.sign(&self.signer)?)
    }
}

/// The newest checkpoint a configured witness cosigned, as this instance's sender last saw it
/// (read from the table every second, so it follows what other instances stored too). Releases
/// carry it; `None` until the first cosignature.
#[derive(Debug, Clone, Default)]
pub struct LatestCosigned(Arc<RwLock<Option<(u64, Hash)>>>);

impl LatestCosigned {
    pub fn get(&self) -> Option<(u64, Hash)> {
        match self.0.read() {
            Ok(latest) => *latest,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    /// Keeps `(size, root)` if it is newer than what is held.
    pub fn offer(&self, size: u64, root: Hash) {
        let mut latest = match self.0.write() {
            Ok(latest) => latest,
            Err(poisoned) => poisoned.into_inner(),
        };
        if latest.is_none_or(|(held, _)| held < size) {
            *latest = Some((size, root));
        }
    }

    /// Offers a stored cosignature row.
    pub(crate) fn offer_row(&self, row: &cosignature::Model) {
        if let (Ok(size), Ok(root)) = (
            u64::try_from(row.tree_size),
            Hash::from_slice(&row.root_hash),
        ) {
            self.offer(size, root);
        }
    }
}

/// A configured witness: its name, where it listens, and the key its cosignatures verify with.
#[derive(Debug, Clone)]
pub struct Witness {
    pub name: String,
    pub url: String,
    pub key: VerifierKey,
}

/// The configured witnesses, their keys parsed.
pub fn configured(witnesses: &[WitnessConfig]) -> Result<Vec<Witness>, AuditError> {
    witnesses
        .iter()
        .map(|w| {
            let key = VerifierKey::parse(&w.key).map_err(|e| AuditError::WitnessKey {
                name: w.name.clone(),
                reason: e.to_string(),
            })?;
            Ok(Witness {
                name: w.name.clone(),
                url: w.url.trim_end_matches('/').to_owned(),
                key,
            })
        })
        .collect()
}

/// The newest stored cosignature by `witness`.
pub async fn last_cosigned<C: ConnectionTrait>(
    conn: &C,
    witness: &str,
) -> Result<Option<cosignature::Model>, AuditError> {
    Ok(cosignature::Entity::find()
        .filter(cosignature::Column::Witness.eq(witness))
        .order_by_desc(cosignature::Column::TreeSize)
        .one(conn)
        .await?)
}

/// The stored nodes named by `ids`.
async fn nodes<C: ConnectionTrait>(
    conn: &C,
    ids: &[NodeId],
) -> Result<BTreeMap<NodeId, Hash>, AuditError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut found = BTreeMap::new();
    // A few dozen nodes at most (O(log n)); one query.
    let mut any = Condition::any();
    for id in ids {
        any = any.add(
            Condition::all()
                .add(node::Column::Level.eq(i16::from(id.level())))
                .add(node::Column::Idx.eq(id.index() as i64)),
        );
    }
    for n in node::Entity::find().filter(any).all(conn).await? {
        let (Ok(level), Ok(idx)) = (u8::try_from(n.level), u64::try_from(n.idx)) else {
            continue;
        };
        if let (Some(id), Ok(hash)) = (NodeId::new(level, idx), Hash::from_slice(&n.hash)) {
            found.insert(id, hash);
        }
    }
    Ok(found)
}

/// The RFC 9162 consistency proof from the tree of `old` leaves to the tree of `new`, from the
/// stored nodes.
pub async fn consistency_proof<C: ConnectionTrait>(
    conn: &C,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, AuditError> {
    let plan = audit::consistency_plan(old, new)?;
    let stored = nodes(conn, plan.nodes()).await?;
    Ok(plan.assemble(&stored)?)
}

/// The root of the stored tree's first `size` leaves, from the stored nodes.
pub async fn root_at<C: ConnectionTrait>(conn: &C, size: u64) -> Result<Hash, AuditError> {
    let ids = Frontier::node_ids(size);
    let stored = nodes(conn, &ids).await?;
    Ok(Frontier::from_nodes(size, &stored)?.root())
}

#[cfg(test)]
mod tests;
