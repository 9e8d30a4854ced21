//! Storage of the tamper-evident audit log (the `audit` crate owns its meaning). Every release,
//! denial, consent change, delivery outcome, sign-in, identity link and administrative action is
//! appended here as an `audit::Record`.
//!
//! INVARIANT: an append is durable before the caller's response is sent: [`AuditLog::append`]
//! returns only after the transaction holding its record commits (appends that arrive together
//! share one transaction: `group`), and [`AuditLog::append_in`] writes inside the
//! caller's transaction, so the record commits with the change it records or not at all.
//!
//! Two write paths behind one interface (issue 13, after Trillian Tessera's sequencing vs
//! integration):
//! - **Queued** (PostgreSQL, several broker instances): an append inserts the record into
//!   `audit_queue` — no log-wide lock, so no transaction of any instance waits on another's. The
//!   integrator ([`integrate`], one instance at a time under a lease) takes queued records in
//!   batches, gives them their sequence numbers, integrates them into the tree and deletes them
//!   from the queue, in one short transaction that alone holds the `audit_head` row. A record's id
//!   (a release's `txn`) is valid the moment it is queued; its inclusion proof once integrated.
//! - **Direct** (SQLite, one writer anyway): an append integrates at once in the caller's
//!   transaction, under the database's single write lock.
//!
//! INVARIANT: the tree's frontier is read and written by one writer at a time: every integration
//! (queued batch or direct append) first updates the single `audit_head` row (a row lock on
//! PostgreSQL, the write lock on SQLite) and holds it until its commit; a queued record is
//! integrated exactly once because it is deleted from the queue in that same transaction.

mod settings;
pub use settings::{AuditConfig, WitnessConfig, origin};
pub mod about;
pub mod entities;
pub mod export;
mod group;
pub mod integrate;
pub mod query;
pub mod unusual;
pub mod verify;
pub mod witnesses;

use std::sync::Arc;

use audit::{
    Checkpoint, CheckpointPolicy, CheckpointSigner, CheckpointVerifier, Frontier, Record,
    SignedCheckpoint,
};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set,
    TransactionTrait,
};

use crate::keys::{SignError, SigningKeys, VerifyError};
use entities::{checkpoint, head, node, queue, record};
use store::now_ms;

pub use audit::{Action, Actor, ActorKind, Outcome};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the audit tree is inconsistent: {0}")]
    Tree(#[from] audit::TreeError),
    #[error("cannot sign an audit checkpoint: {0}")]
    Checkpoint(#[from] audit::CheckpointError),
    #[error("audit storage: {0}")]
    Db(#[from] DbErr),
    #[error("cannot sign a checkpoint note: {0}")]
    Note(#[from] audit::NoteError),
    #[error("cannot write a checkpoint note: {0}")]
    TlogCheckpoint(#[from] audit::TlogCheckpointError),
    #[error("witness `{name}` has no valid key: {reason}")]
    WitnessKey { name: String, reason: String },
}

/// What an append returns: the record's id (a release's `txn`) and its leaf index once
/// integrated (`None` while it waits in the queue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReceipt {
    pub id: String,
    pub seq: Option<u64>,
}

/// How appends reach the tree (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePath {
    /// Integrated at once, in the caller's transaction (SQLite).
    Direct,
    /// Queued in the caller's transaction, integrated in batches by the integrator (PostgreSQL).
    Queued,
}

/// Signs checkpoints with the broker's current signing key.
pub struct KeysSigner<'a>(pub &'a SigningKeys);

impl CheckpointSigner for KeysSigner<'_> {
    type Error = SignError;
    fn sign(&self, payload: &[u8]) -> Result<String, SignError> {
        self.0.sign_bytes(Some("checkpoint+jws"), payload)
    }
}

/// Verifies checkpoints with any key the broker ever signed with (current, in its grace period,
/// or archived after it: checkpoints outlive keys).
pub struct KeysVerifier<'a>(pub &'a SigningKeys);

impl CheckpointVerifier for KeysVerifier<'_> {
    type Error = VerifyError;
    fn verify(&self, jws: &str) -> Result<Vec<u8>, VerifyError> {
        self.0.verify_historic(jws).map(|(_, payload)| payload)
    }
}

/// The audit log's read side as officers, privacy offices and citizens see it: searches,
/// proofs, checkpoints, exports and the unusual-access view.
#[derive(Debug, Clone)]
pub struct Records {
    pub db: DatabaseConnection,
    /// Reading is recorded too (officers' searches and views).
    pub audit: AuditLog,
    /// Checkpoints and archived keys are verified and published with these.
    pub keys: Arc<SigningKeys>,
    /// Catalogue names for display.
    pub policy: Arc<policies::PolicyEngine>,
    pub settings: Arc<AuditConfig>,
    /// The log's C2SP checkpoints: origin and note key.
    pub notes: Arc<witnesses::CheckpointNotes>,
    /// The newest witnessed checkpoint (kept current by the witness sender, read by releases).
    pub cosigned: witnesses::LatestCosigned,
}

/// The audit log of one broker instance (several may share a database).
#[derive(Debug, Clone)]
pub struct AuditLog {
    db: DatabaseConnection,
    keys: Arc<SigningKeys>,
    policy: CheckpointPolicy,
    group: Arc<group::Appends>,
    path: WritePath,
    /// Wakes this instance's integrator when it queued records.
    queued: Arc<tokio::sync::Notify>,
}

const HEAD_ID: i16 = 1;

impl AuditLog {
    /// A log over `db`, on the write path its backend calls for (queued on PostgreSQL, where
    /// several instances write; direct on SQLite, which has one writer anyway).
    pub fn new(db: DatabaseConnection, keys: Arc<SigningKeys>, policy: CheckpointPolicy) -> Self {
        let path = match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => WritePath::Queued,
            _ => WritePath::Direct,
        };
        Self::with_path(db, keys, policy, path)
    }

    /// The log of a one-shot process (a CLI command): it integrates its records as it appends
    /// them, on either backend, so it leaves nothing queued for a broker that may not be running.
    /// Safe beside running integrators: both take the head row first.
    pub fn for_command(
        db: DatabaseConnection,
        keys: Arc<SigningKeys>,
        policy: CheckpointPolicy,
    ) -> Self {
        Self::with_path(db, keys, policy, WritePath::Direct)
    }

    /// A log on a given write path (tests run both on either backend).
    pub fn with_path(
        db: DatabaseConnection,
        keys: Arc<SigningKeys>,
        policy: CheckpointPolicy,
        path: WritePath,
    ) -> Self {
        Self {
            db,
            keys,
            policy,
            group: Arc::new(group::Appends::new(group::MAX_BATCH)),
            path,
            queued: Arc::default(),
        }
    }

    pub fn write_path(&self) -> WritePath {
        self.path
    }

    /// A new record with a fresh id and the current time.
    pub fn record(action: Action, outcome: Outcome, actor: Actor) -> Record {
        Record::new(
            uuid::Uuid::now_v7().to_string(),
            now_ms(),
            action,
            outcome,
            actor,
        )
    }

    /// Appends inside the caller's transaction (which must be one): the record commits with the
    /// change it describes, or not at all.
    pub async fn append_in<C: ConnectionTrait>(
        &self,
        conn: &C,
        record: Record,
    ) -> Result<AuditReceipt, AuditError> {
        self.append_many_in(conn, vec![record])
            .await?
            .pop()
            .ok_or_else(|| AuditError::Db(DbErr::Custom("no audit receipt".into())))
    }

    /// Appends `records` in this order inside the caller's transaction: queued (one multi-row
    /// insert, no lock) or integrated at once, per the log's write path.
    pub async fn append_many_in<C: ConnectionTrait>(
        &self,
        conn: &C,
        records: Vec<Record>,
    ) -> Result<Vec<AuditReceipt>, AuditError> {
        match self.path {
            WritePath::Direct => self.integrate_in(conn, records).await,
            WritePath::Queued => self.queue_in(conn, records).await,
        }
    }

    /// Queues `records` inside the caller's transaction, and wakes this instance's integrator
    /// (it finds them once that transaction commits).
    async fn queue_in<C: ConnectionTrait>(
        &self,
        conn: &C,
        records: Vec<Record>,
    ) -> Result<Vec<AuditReceipt>, AuditError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let receipts = records
            .iter()
            .map(|r| AuditReceipt {
                id: r.id.clone(),
                seq: None,
            })
            .collect();
        let rows: Vec<queue::ActiveModel> = records
            .into_iter()
            .map(|mut r| {
                r.seq = 0;
                queue::ActiveModel {
                    qid: sea_orm::NotSet,
                    id: Set(r.id.clone()),
                    entry: Set(r.canonical_bytes()),
                    queued_at: Set(now),
                }
            })
            .collect();
        for chunk in rows.chunks(RECORDS_PER_INSERT) {
            queue::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(conn)
                .await?;
        }
        self.queued.notify_one();
        Ok(receipts)
    }

    /// Integrates `records` in this order inside the caller's transaction, with one lock of the
    /// head, one multi-row insert per table and one head update however many there are. A
    /// checkpoint the policy makes due part-way (by count) is signed at that tree size, as if the
    /// records had been appended one at a time.
    pub(crate) async fn integrate_in<C: ConnectionTrait>(
        &self,
        conn: &C,
        records: Vec<Record>,
    ) -> Result<Vec<AuditReceipt>, AuditError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let mut head = lock_head(conn).await?;
        let mut frontier = Frontier::from_bytes(&head.frontier)?;
        let mut receipts = Vec::with_capacity(records.len());
        let mut rows = Vec::with_capacity(records.len());
        let mut nodes = Vec::new();
        let mut checkpoints = Vec::new();
        for record in records {
            let id = record.id.clone();
            let appended = frontier.append(record)?;
            let row = appended.row;
            receipts.push(AuditReceipt {
                id,
                seq: Some(row.seq),
            });
            rows.push(record::ActiveModel {
                seq: Set(row.seq as i64),
                id: Set(row.id),
                entry: Set(row.entry),
                leaf_hash: Set(row.leaf_hash.as_bytes().to_vec()),
                time_ms: Set(row.time_ms),
                action: Set(row.action),
                outcome: Set(row.outcome),
                citizen_id: Set(row.citizen_id),
                department_id: Set(row.department_id),
                purpose: Set(row.purpose),
            });
            nodes.extend(
                appended
                    .nodes
                    .into_iter()
                    .map(|(id, hash)| node::ActiveModel {
                        level: Set(i16::from(id.level())),
                        idx: Set(id.index() as i64),
                        hash: Set(hash.as_bytes().to_vec()),
                    }),
            );
            head.tree_size = frontier.size() as i64;
            if let Some(signed) = self.checkpoint_if(&mut head, false, || Ok(frontier.root()))? {
                checkpoints.push(signed);
            }
        }
        head.root_hash = frontier.root().as_bytes().to_vec();
        // Bind parameters per statement stay well under SQLite's and PostgreSQL's limits.
        for chunk in rows.chunks(RECORDS_PER_INSERT) {
            record::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(conn)
                .await?;
        }
        for chunk in nodes.chunks(NODES_PER_INSERT) {
            node::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(conn)
                .await?;
        }
        head.frontier = frontier.to_bytes();
        save_checkpoints(conn, checkpoints).await?;
        save_head(conn, &head).await?;
        Ok(receipts)
    }

    /// Signs a checkpoint over the current tree if the policy says one is due (called by a
    /// periodic task, so a quiet log's tail is covered too).
    pub async fn checkpoint_now_if_due(&self) -> Result<Option<Checkpoint>, AuditError> {
        self.checkpoint_locked(false).await
    }

    /// Signs a checkpoint over the current tree now if records were added since the last one
    /// (so a proof can be served for a record the policy has not covered yet).
    pub async fn checkpoint_now(&self) -> Result<Option<Checkpoint>, AuditError> {
        self.checkpoint_locked(true).await
    }

    async fn checkpoint_locked(&self, force: bool) -> Result<Option<Checkpoint>, AuditError> {
        let txn = self.db.begin().await?;
        let mut head = lock_head(&txn).await?;
        let stored = head.root_hash.clone();
        let signed = self.checkpoint_if(&mut head, force, || {
            audit::Hash::from_slice(&stored).map_err(|_| audit::TreeError::BadFrontier.into())
        })?;
        let checkpoint = signed.as_ref().map(|s| s.checkpoint.clone());
        save_checkpoints(&txn, signed.into_iter().collect()).await?;
        save_head(&txn, &head).await?;
        txn.commit().await?;
        Ok(checkpoint)
    }

    /// A checkpoint over `head`'s tree (of root `root()`, computed only when one is signed),
    /// signed, when the policy makes one due (or `force` and records were added since the last);
    /// `head` then names it as the last checkpoint.
    fn checkpoint_if(
        &self,
        head: &mut head::Model,
        force: bool,
        root: impl FnOnce() -> Result<audit::Hash, AuditError>,
    ) -> Result<Option<SignedCheckpoint>, AuditError> {
        let now = now_ms();
        let last = (head.checkpoint_size > 0).then(|| Checkpoint {
            tree_size: head.checkpoint_size as u64,
            root_hash: audit::empty_root(),
            time_ms: head.checkpoint_ms,
        });
        let forced = force && head.tree_size > head.checkpoint_size;
        if !forced && !self.policy.due(last.as_ref(), head.tree_size as u64, now) {
            return Ok(None);
        }
        let cp = Checkpoint {
            tree_size: head.tree_size as u64,
            root_hash: root()?,
            time_ms: now,
        };
        let signed = SignedCheckpoint::sign(cp, &KeysSigner(&self.keys))?;
        head.checkpoint_size = head.tree_size;
        head.checkpoint_ms = now;
        Ok(Some(signed))
    }
}

/// Records per multi-row insert (about 650 bytes each). Every statement stays under 16 KB, one TLS
/// record: sqlx leaves Nagle's algorithm on, so a statement split over two TLS records waits for
/// the server's delayed ACK (40 ms on Linux) before its tail is sent. Measured: 16 records a
/// statement, 10,000 appends/s; 24, 530/s.
const RECORDS_PER_INSERT: usize = 16;
/// Tree nodes per multi-row insert (about 60 bytes each; under 16 KB as above).
const NODES_PER_INSERT: usize = 200;

/// Stores signed checkpoints (a size already stored is kept as it is).
async fn save_checkpoints<C: ConnectionTrait>(
    conn: &C,
    signed: Vec<SignedCheckpoint>,
) -> Result<(), AuditError> {
    if signed.is_empty() {
        return Ok(());
    }
    let rows = signed.into_iter().map(|s| checkpoint::ActiveModel {
        tree_size: Set(s.checkpoint.tree_size as i64),
        root_hash: Set(s.checkpoint.root_hash.as_bytes().to_vec()),
        time_ms: Set(s.checkpoint.time_ms),
        jws: Set(s.jws),
    });
    checkpoint::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(checkpoint::Column::TreeSize)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Takes the single-writer lock: the first statement writes the head row, so the lock is held
/// from here to commit on both backends. Creates the head on first use.
pub(crate) async fn lock_head<C: ConnectionTrait>(conn: &C) -> Result<head::Model, AuditError> {
    for _ in 0..2 {
        let locked = head::Entity::update_many()
            .col_expr(head::Column::LockedAt, Expr::value(now_ms()))
            .filter(head::Column::Id.eq(HEAD_ID))
            .exec(conn)
            .await?;
        if locked.rows_affected == 1 {
            return head::Entity::find_by_id(HEAD_ID)
                .one(conn)
                .await?
                .ok_or_else(|| AuditError::Db(DbErr::RecordNotFound("audit head".into())));
        }
        let empty = Frontier::new();
        head::Entity::insert(head::ActiveModel {
            id: Set(HEAD_ID),
            tree_size: Set(0),
            root_hash: Set(empty.root().as_bytes().to_vec()),
            frontier: Set(empty.to_bytes()),
            checkpoint_size: Set(0),
            checkpoint_ms: Set(0),
            locked_at: Set(0),
        })
        .on_conflict(OnConflict::column(head::Column::Id).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await?;
    }
    Err(AuditError::Db(DbErr::RecordNotFound("audit head".into())))
}

async fn save_head<C: ConnectionTrait>(conn: &C, h: &head::Model) -> Result<(), AuditError> {
    head::Entity::update_many()
        .col_expr(head::Column::TreeSize, Expr::value(h.tree_size))
        .col_expr(head::Column::RootHash, Expr::value(h.root_hash.clone()))
        .col_expr(head::Column::Frontier, Expr::value(h.frontier.clone()))
        .col_expr(head::Column::CheckpointSize, Expr::value(h.checkpoint_size))
        .col_expr(head::Column::CheckpointMs, Expr::value(h.checkpoint_ms))
        .filter(head::Column::Id.eq(HEAD_ID))
        .exec(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod integrate_tests;
#[cfg(test)]
mod tamper_tests;
#[cfg(test)]
mod tests;
