//! Group commit: appends that arrive together are written in one transaction, and each caller is
//! answered only after that transaction has committed.
//!
//! Each caller queues its record, then waits for the writer lock. Whoever holds it takes
//! everything queued (up to [`MAX_BATCH`]) and writes it in one transaction; callers whose record
//! was in that batch find their answer waiting when they get the lock and return at once. Durable
//! commits cost about the same for one row as for ten, so under load this multiplies throughput,
//! and alone it costs one uncontended lock.
//!
//! INVARIANT: an answer is sent only after the transaction holding the record committed (or failed).
//! The batch runs in a task of its own, so a caller that goes away mid-batch (a dropped request)
//! cannot abandon the others' records half-written. A batch that fails is retried one record at a
//! time, so one bad record fails only its own caller.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use audit::Record;
use sea_orm::{DbErr, TransactionTrait};
use tokio::sync::oneshot;

use super::{AuditError, AuditLog, AuditReceipt};

/// Most records in one transaction.
pub const MAX_BATCH: usize = 256;

type Answer = Result<AuditReceipt, AuditError>;

struct Pending {
    record: Record,
    done: oneshot::Sender<Answer>,
}

#[derive(Default)]
pub(super) struct GroupCommit {
    queue: Mutex<Vec<Pending>>,
    writer: tokio::sync::Mutex<()>,
    /// Transactions committed by group commit (for tests and metrics).
    commits: AtomicU64,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("commits", &self.commits.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn gone() -> AuditError {
    AuditError::Db(DbErr::Custom("the audit writer stopped".into()))
}

impl AuditLog {
    /// Appends in a transaction shared with the appends that arrive at the same time; durable
    /// when this returns.
    pub async fn append(&self, record: Record) -> Result<AuditReceipt, AuditError> {
        let (done, mut answer) = oneshot::channel();
        self.group
            .queue
            .lock()
            .map_err(|_| gone())?
            .push(Pending { record, done });
        loop {
            let _writer = self.group.writer.lock().await;
            match answer.try_recv() {
                Ok(result) => return result,
                Err(oneshot::error::TryRecvError::Closed) => return Err(gone()),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let batch: Vec<Pending> = {
                let mut queue = self.group.queue.lock().map_err(|_| gone())?;
                let n = queue.len().min(MAX_BATCH);
                queue.drain(..n).collect()
            };
            if batch.is_empty() {
                continue;
            }
            let log = self.clone();
            tokio::spawn(async move { log.commit_batch(batch).await })
                .await
                .map_err(|_| gone())?;
        }
    }

    /// How many group-commit transactions this log has committed.
    pub fn group_commits(&self) -> u64 {
        self.group.commits.load(Ordering::Relaxed)
    }

    async fn commit_batch(&self, batch: Vec<Pending>) {
        let records: Vec<Record> = batch.iter().map(|p| p.record.clone()).collect();
        match self.write(records).await {
            Ok(receipts) => {
                for (p, r) in batch.into_iter().zip(receipts) {
                    let _ = p.done.send(Ok(r));
                }
            }
            Err(e) if batch.len() == 1 => {
                if let Some(p) = batch.into_iter().next() {
                    let _ = p.done.send(Err(e));
                }
            }
            Err(_) => {
                for p in batch {
                    let result = self.write(vec![p.record]).await.and_then(|mut r| {
                        r.pop()
                            .ok_or_else(|| AuditError::Db(DbErr::Custom("no receipt".into())))
                    });
                    let _ = p.done.send(result);
                }
            }
        }
    }

    async fn write(&self, records: Vec<Record>) -> Result<Vec<AuditReceipt>, AuditError> {
        let txn = self.db.begin().await?;
        let receipts = self.append_many_in(&txn, records).await?;
        txn.commit().await?;
        self.group.commits.fetch_add(1, Ordering::Relaxed);
        Ok(receipts)
    }
}
