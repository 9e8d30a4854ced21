//! The background task that sends each new checkpoint to every configured witness.
//!
//! Per witness, every second: if the newest stored checkpoint is past the size the witness last
//! cosigned, post it with the consistency proof from that size; store the cosignature once it
//! verifies. A `409` naming another size (the witness knows a size this broker forgot, or a
//! restored database) is retried at once from that size; any other failure waits, doubling from
//! one second up to `audit.witness_retry_max_secs`. A witness that names a size past this log's
//! newest checkpoint has cosigned a longer history than the one stored: that is logged as an
//! error every attempt, because the log was rolled back or forked.

use std::sync::Arc;
use std::time::{Duration, Instant};

use audit::{AddCheckpoint, Note, cosignature_time, parse_conflict_body, parse_cosignatures};
use sea_orm::sea_query::OnConflict;
use sea_orm::{DatabaseConnection, EntityTrait, Set};

use super::{CheckpointNotes, LatestCosigned, Witness, consistency_proof, last_cosigned};
use crate::Shutdown;
use crate::audit_log::AuditError;
use crate::audit_log::entities::{checkpoint, cosignature};
use crate::audit_log::query::latest_checkpoint;

/// Why one attempt failed (logged, then retried with backoff).
#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("cannot reach the witness: {0}")]
    Http(String),
    #[error("the witness answered {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("the witness's answer holds no cosignature that verifies with its configured key")]
    BadCosignature,
    #[error(
        "the witness has cosigned size {witness} of this log, past its newest checkpoint ({ours}): the log was rolled back or forked"
    )]
    WitnessAhead { witness: u64, ours: u64 },
    #[error("the witness keeps naming other sizes ({0}); giving up for now")]
    Conflicts(u64),
}

/// Where one witness stands, in this process.
#[derive(Debug)]
struct Progress {
    witness: Witness,
    /// A size the witness named in a `409`, to start the next proof from.
    told: Option<u64>,
    failures: u32,
    next: Instant,
}

/// Sends checkpoints to `witnesses` until `stop`.
pub async fn run(
    db: DatabaseConnection,
    notes: Arc<CheckpointNotes>,
    witnesses: Vec<Witness>,
    http: reqwest::Client,
    retry_max: Duration,
    latest: LatestCosigned,
    mut stop: Shutdown,
) {
    if witnesses.is_empty() {
        return;
    }
    let mut progress: Vec<Progress> = witnesses
        .into_iter()
        .map(|witness| Progress {
            witness,
            told: None,
            failures: 0,
            next: Instant::now(),
        })
        .collect();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        for p in &mut progress {
            if Instant::now() < p.next {
                continue;
            }
            match send(&db, &notes, &http, &latest, p).await {
                Ok(Some(size)) => {
                    p.failures = 0;
                    tracing::info!(witness = %p.witness.name, size, "audit checkpoint cosigned");
                }
                Ok(None) => p.failures = 0,
                Err(e) => {
                    p.failures = p.failures.saturating_add(1);
                    let wait = Duration::from_secs(1u64 << p.failures.min(16)).min(retry_max);
                    p.next = Instant::now() + wait;
                    if matches!(e, SendError::WitnessAhead { .. }) {
                        tracing::error!(witness = %p.witness.name, error = %e, "audit witness");
                    } else {
                        tracing::warn!(witness = %p.witness.name, error = %e, retry_in_secs = wait.as_secs(), "cannot have an audit checkpoint cosigned");
                    }
                }
            }
        }
    }
}

/// One round to every witness now, not in the background (the demo, before it prints where the
/// cosigned checkpoint is): the newest checkpoint some witness cosigned, if any.
pub async fn cosign_once(
    db: &DatabaseConnection,
    notes: &CheckpointNotes,
    witnesses: Vec<Witness>,
    http: &reqwest::Client,
    latest: &LatestCosigned,
) -> Result<Option<(u64, audit::Hash)>, String> {
    for witness in witnesses {
        let mut p = Progress {
            witness,
            told: None,
            failures: 0,
            next: Instant::now(),
        };
        send(db, notes, http, latest, &mut p)
            .await
            .map_err(|e| format!("witness `{}`: {e}", p.witness.name))?;
    }
    Ok(latest.get())
}

/// At most this many `409`s in a row before backing off.
const MAX_CONFLICTS: u64 = 3;

/// One round for one witness: `Some(size)` when a checkpoint of that size was cosigned, `None`
/// when the witness is up to date.
async fn send(
    db: &DatabaseConnection,
    notes: &CheckpointNotes,
    http: &reqwest::Client,
    cosigned: &LatestCosigned,
    p: &mut Progress,
) -> Result<Option<u64>, SendError> {
    let last = last_cosigned(db, &p.witness.name).await?;
    if let Some(row) = &last {
        cosigned.offer_row(row);
    }
    let stored = last.map_or(0, |c| u64::try_from(c.tree_size).unwrap_or(0));
    let Some(latest) = latest_checkpoint(db).await? else {
        return Ok(None);
    };
    let ours = u64::try_from(latest.tree_size).unwrap_or(0);
    for _ in 0..MAX_CONFLICTS {
        let old = p.told.unwrap_or(stored);
        if old > ours {
            return Err(SendError::WitnessAhead { witness: old, ours });
        }
        if old == ours && p.told.is_none() {
            return Ok(None);
        }
        match post(db, notes, http, &p.witness, &latest, old).await? {
            Posted::Cosigned => {
                p.told = None;
                if let Ok(root) = audit::Hash::from_slice(&latest.root_hash) {
                    cosigned.offer(ours, root);
                }
                return Ok(Some(ours));
            }
            // A 409 naming the size just sent is not a size conflict: the witness holds
            // another root at that size (a fork).
            Posted::Conflict(size) if size == old => {
                return Err(SendError::Refused {
                    status: 409,
                    body: format!("another checkpoint of size {size} was cosigned (a fork)"),
                });
            }
            Posted::Conflict(size) => p.told = Some(size),
        }
    }
    Err(SendError::Conflicts(p.told.unwrap_or(stored)))
}

enum Posted {
    Cosigned,
    Conflict(u64),
}

async fn post(
    db: &DatabaseConnection,
    notes: &CheckpointNotes,
    http: &reqwest::Client,
    witness: &Witness,
    latest: &checkpoint::Model,
    old: u64,
) -> Result<Posted, SendError> {
    let size = u64::try_from(latest.tree_size).unwrap_or(0);
    let proof = if old == 0 {
        Vec::new()
    } else {
        consistency_proof(db, old, size).await?
    };
    let note = notes.note(latest)?;
    let request = AddCheckpoint::new(old, proof, note.clone())
        .map_err(|e| SendError::Http(format!("cannot build the request: {e}")))?;
    let response = http
        .post(format!("{}/add-checkpoint", witness.url))
        .body(request.to_bytes())
        .send()
        .await
        .map_err(|e| SendError::Http(e.to_string()))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|e| SendError::Http(e.to_string()))?;
    match status {
        200 => {
            let cosigned = verified_cosignature(&note, &body, witness)?;
            store(db, witness, latest, &cosigned).await?;
            Ok(Posted::Cosigned)
        }
        409 => match parse_conflict_body(&body) {
            Ok(size) => Ok(Posted::Conflict(size)),
            Err(_) => Err(refused(status, &body)),
        },
        _ => Err(refused(status, &body)),
    }
}

fn refused(status: u16, body: &[u8]) -> SendError {
    let body = String::from_utf8_lossy(&body[..body.len().min(200)])
        .trim()
        .to_owned();
    SendError::Refused { status, body }
}

/// The first cosignature line in `body` by the witness's key that verifies over `note`.
fn verified_cosignature(
    note: &Note,
    body: &[u8],
    witness: &Witness,
) -> Result<audit::NoteSignature, SendError> {
    let lines = parse_cosignatures(body).map_err(|_| SendError::BadCosignature)?;
    lines
        .into_iter()
        .filter(|s| s.name() == witness.key.name() && s.key_id() == witness.key.key_id())
        .find(|s| {
            let mut cosigned = Note::new(note.text()).ok();
            cosigned.as_mut().is_some_and(|n| {
                n.add_signature(s.clone()).is_ok()
                    && n.verify(std::slice::from_ref(&witness.key)).is_ok()
            })
        })
        .ok_or(SendError::BadCosignature)
}

async fn store(
    db: &DatabaseConnection,
    witness: &Witness,
    latest: &checkpoint::Model,
    signature: &audit::NoteSignature,
) -> Result<(), AuditError> {
    let cosigned_at = cosignature_time(signature)
        .and_then(|t| i64::try_from(t).ok())
        .unwrap_or(0);
    cosignature::Entity::insert(cosignature::ActiveModel {
        witness: Set(witness.name.clone()),
        tree_size: Set(latest.tree_size),
        root_hash: Set(latest.root_hash.clone()),
        signature: Set(signature.to_line()),
        cosigned_at: Set(cosigned_at),
        received_ms: Set(store::now_ms()),
    })
    .on_conflict(
        OnConflict::columns([cosignature::Column::Witness, cosignature::Column::TreeSize])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}
