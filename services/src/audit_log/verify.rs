//! `broker audit verify`: streams the stored records in seq order, with every stored checkpoint
//! (signatures checked with the broker's published keys), every stored tree node and the head
//! row, into an `audit::LogVerifier`, and reports the first row that is not what was appended.
//!
//! Reads only; works inside any connection or transaction (the tamper tests run it inside a
//! transaction they then roll back). Memory is one batch of rows plus the checkpoints.

use std::collections::HashMap;

use audit::{
    Checkpoint, Frontier, Hash, LogVerifier, NodeId, Prechecked, SignedCheckpoint, StoredRecord,
    VerifyError, VerifySummary, completed_nodes,
};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::{checkpoint, head, node, record};
use super::{AuditError, HEAD_ID, KeysVerifier};
use crate::keys::SigningKeys;

pub use audit::Progress;

/// Rows read per query.
pub const BATCH: u64 = 2_000;

/// What verification found: the log is intact, or the first thing that is not.
#[derive(Debug)]
pub enum Verdict {
    Clean(VerifySummary),
    Tampered(VerifyError),
}

/// A batch being hashed and decoded on a blocking thread, with the stored nodes it completes and
/// its last seq.
type Hashing = (
    tokio::task::JoinHandle<Vec<Result<Prechecked, VerifyError>>>,
    HashMap<NodeId, Hash>,
    i64,
);

/// How many records the log says it holds (for a progress bar's length).
pub async fn stored_count<C: ConnectionTrait>(conn: &C) -> Result<u64, AuditError> {
    Ok(record::Entity::find().count(conn).await?)
}

/// Verifies the whole stored log. `progress` is called every `every` records (0: never).
pub async fn verify<'p, C: ConnectionTrait>(
    conn: &C,
    keys: &SigningKeys,
    every: u64,
    progress: impl FnMut(&Progress) + 'p,
) -> Result<Verdict, AuditError> {
    verify_in_batches(conn, keys, BATCH, every, progress).await
}

/// [`verify`], reading `batch` rows a query (the tests vary it so that findings fall on batch
/// boundaries).
pub(crate) async fn verify_in_batches<'p, C: ConnectionTrait>(
    conn: &C,
    keys: &SigningKeys,
    batch: u64,
    every: u64,
    progress: impl FnMut(&Progress) + 'p,
) -> Result<Verdict, AuditError> {
    let checkpoints = match load_checkpoints(conn).await? {
        Ok(c) => c,
        Err(finding) => return Ok(Verdict::Tampered(finding)),
    };
    let mut verifier =
        LogVerifier::new(KeysVerifier(keys), checkpoints).on_progress(every, progress);
    if let Some(h) = head::Entity::find_by_id(HEAD_ID).one(conn).await? {
        match head_frontier(&h) {
            Some(frontier) => verifier = verifier.with_head(frontier),
            None => {
                return Ok(Verdict::Tampered(VerifyError::HeadMismatch {
                    first: 0,
                    end: u64::try_from(h.tree_size).unwrap_or(0),
                }));
            }
        }
    }
    // A three-stage pipeline: while the rows of one batch are fed in order to the verifier on
    // this task, the batch after it is hashed and decoded on a blocking thread and the one after
    // that is read from the database. Rows stay in seq order; at most three batches are held.
    let mut reading = read_batch(conn, None, batch).await?;
    let mut hashing: Option<Hashing> = None;
    loop {
        let started = reading.take().map(|(rows, nodes)| {
            let last = rows.last().map_or(0, |r| r.seq);
            let handle = tokio::task::spawn_blocking(move || {
                rows.into_iter().map(precheck).collect::<Vec<_>>()
            });
            (handle, nodes, last)
        });
        let ready = std::mem::replace(&mut hashing, started);
        let after = hashing.as_ref().map(|(_, _, last)| *last);
        let read_next = async {
            match after {
                Some(after) => read_batch(conn, Some(after), batch).await,
                None => Ok(None),
            }
        };
        let Some((handle, nodes, _)) = ready else {
            if hashing.is_none() {
                break;
            }
            reading = read_next.await?;
            continue;
        };
        // The read is polled first (its query goes out), then this batch is fed while the
        // database answers it.
        let feed = async {
            let checked = handle
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
            for row in checked {
                row.and_then(|row| verifier.push_prechecked(row, &nodes))?;
            }
            Ok::<(), VerifyError>(())
        };
        let (read, fed) = tokio::join!(read_next, feed);
        if let Err(finding) = fed {
            if let Some((h, _, _)) = hashing.take() {
                h.abort();
            }
            return Ok(Verdict::Tampered(finding));
        }
        reading = read?;
    }
    Ok(match verifier.finish() {
        Ok(summary) => Verdict::Clean(summary),
        Err(finding) => Verdict::Tampered(finding),
    })
}

/// Every stored checkpoint, or the first one whose row cannot even be read as one.
async fn load_checkpoints<C: ConnectionTrait>(
    conn: &C,
) -> Result<Result<Vec<SignedCheckpoint>, VerifyError>, AuditError> {
    let rows = checkpoint::Entity::find()
        .order_by_asc(checkpoint::Column::TreeSize)
        .all(conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let (Ok(tree_size), Ok(root_hash)) = (
            u64::try_from(row.tree_size),
            Hash::from_slice(&row.root_hash),
        ) else {
            return Ok(Err(VerifyError::CheckpointAltered {
                tree_size: u64::try_from(row.tree_size).unwrap_or(0),
            }));
        };
        out.push(SignedCheckpoint {
            checkpoint: Checkpoint {
                tree_size,
                root_hash,
                time_ms: row.time_ms,
            },
            jws: row.jws,
        });
    }
    Ok(Ok(out))
}

/// The head row's frontier, if its columns agree with each other.
fn head_frontier(h: &head::Model) -> Option<Frontier> {
    let frontier = Frontier::from_bytes(&h.frontier).ok()?;
    let consistent = u64::try_from(h.tree_size).ok() == Some(frontier.size())
        && Hash::from_slice(&h.root_hash).ok() == Some(frontier.root());
    consistent.then_some(frontier)
}

/// The rows after `after` (all from the first when `None`) and the stored nodes they complete;
/// `None` past the end.
async fn read_batch<C: ConnectionTrait>(
    conn: &C,
    after: Option<i64>,
    batch: u64,
) -> Result<Option<(Vec<record::Model>, HashMap<NodeId, Hash>)>, AuditError> {
    let mut query = record::Entity::find().order_by_asc(record::Column::Seq);
    if let Some(after) = after {
        query = query.filter(record::Column::Seq.gt(after));
    }
    let rows = query.limit(batch.max(1)).all(conn).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let nodes = batch_nodes(conn, &rows).await?;
    Ok(Some((rows, nodes)))
}

/// A row hashed and decoded, or the finding its stored columns already are.
fn precheck(row: record::Model) -> Result<Prechecked, VerifyError> {
    stored_record(row).map(Prechecked::new)
}

/// A stored row as the verifier reads it; a row that cannot be one is a finding about itself.
fn stored_record(row: record::Model) -> Result<StoredRecord, VerifyError> {
    let Ok(seq) = u64::try_from(row.seq) else {
        return Err(VerifyError::Inserted {
            seq: 0,
            id: Some(row.id),
        });
    };
    let Ok(leaf_hash) = Hash::from_slice(&row.leaf_hash) else {
        return Err(VerifyError::Edited { seq, id: row.id });
    };
    Ok(StoredRecord {
        seq,
        id: row.id,
        entry: row.entry,
        leaf_hash,
        time_ms: row.time_ms,
        action: row.action,
        outcome: row.outcome,
        citizen_id: row.citizen_id,
        department_id: row.department_id,
        purpose: row.purpose,
    })
}

/// The stored nodes a batch of rows completes, in one query.
async fn batch_nodes<C: ConnectionTrait>(
    conn: &C,
    rows: &[record::Model],
) -> Result<HashMap<NodeId, Hash>, AuditError> {
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok(HashMap::new());
    };
    let start = u64::try_from(first.seq).unwrap_or(0);
    let end = u64::try_from(last.seq).unwrap_or(0).saturating_add(1);
    let spans = completed_nodes(start..end.max(start));
    if spans.is_empty() {
        return Ok(HashMap::new());
    }
    let mut any = Condition::any();
    for span in &spans {
        any = any.add(
            Condition::all()
                .add(node::Column::Level.eq(i16::from(span.level)))
                .add(node::Column::Idx.gte(span.indexes.start as i64))
                .add(node::Column::Idx.lt(span.indexes.end as i64)),
        );
    }
    let found = node::Entity::find().filter(any).all(conn).await?;
    Ok(found
        .into_iter()
        .filter_map(|n| {
            let id = NodeId::new(u8::try_from(n.level).ok()?, u64::try_from(n.idx).ok()?)?;
            // A malformed stored hash reads as missing: the verifier names the node.
            Some((id, Hash::from_slice(&n.hash).ok()?))
        })
        .collect())
}
