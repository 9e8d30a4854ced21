//! Group commit: small durable writes that arrive together are written in one transaction, and
//! each caller is answered only after that transaction has committed. Used by the audit log's
//! appends and by the token endpoint's single-use assertion ids.
//!
//! Each caller queues its item, then waits for the writer lock. Whoever holds it takes everything
//! queued (up to `max_batch`) and writes it with one call of the writer; callers whose item was in
//! that batch find their answer waiting when they get the lock and return at once. A durable
//! commit costs about the same for one row as for fifty, so under load this multiplies throughput,
//! and alone it costs one uncontended lock.
//!
//! INVARIANT: an answer is sent only after the write holding the item returned (committed or
//! failed). The batch runs in a task of its own, so a caller that goes away mid-batch (a dropped
//! request) cannot abandon the others' items half-written. A batch that fails is retried one item
//! at a time, so one bad item fails only its own caller.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::oneshot;

/// The writer went away (its task panicked or the runtime is shutting down).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the group-commit writer stopped")]
pub struct WriterGone;

impl From<WriterGone> for sea_orm::DbErr {
    fn from(e: WriterGone) -> Self {
        sea_orm::DbErr::Custom(e.to_string())
    }
}

struct Pending<T, A, E> {
    item: T,
    done: oneshot::Sender<Result<A, E>>,
}

pub struct GroupCommit<T, A, E> {
    queue: Mutex<Vec<Pending<T, A, E>>>,
    writer: tokio::sync::Mutex<()>,
    max_batch: usize,
    /// Batches written (for tests and metrics).
    commits: AtomicU64,
}

impl<T, A, E> std::fmt::Debug for GroupCommit<T, A, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("max_batch", &self.max_batch)
            .field("commits", &self.commits.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<T, A, E> GroupCommit<T, A, E>
where
    T: Clone + Send + 'static,
    A: Send + 'static,
    E: From<WriterGone> + Send + 'static,
{
    pub fn new(max_batch: usize) -> Self {
        Self {
            queue: Mutex::new(Vec::new()),
            writer: tokio::sync::Mutex::new(()),
            max_batch: max_batch.max(1),
            commits: AtomicU64::new(0),
        }
    }

    /// How many batches have been written.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Queues `item` and returns its answer once the batch holding it is written. `write` gets
    /// the batch in queue order and must return one answer per item, in that order, or fail as a
    /// whole (then each item is written again on its own).
    pub async fn submit<W, Fut>(&self, item: T, write: W) -> Result<A, E>
    where
        W: Fn(Vec<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<A>, E>> + Send + 'static,
    {
        let (done, mut answer) = oneshot::channel();
        self.queue
            .lock()
            .map_err(|_| WriterGone)?
            .push(Pending { item, done });
        let write = std::sync::Arc::new(write);
        loop {
            let _writer = self.writer.lock().await;
            match answer.try_recv() {
                Ok(result) => return result,
                Err(oneshot::error::TryRecvError::Closed) => return Err(WriterGone.into()),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let batch: Vec<Pending<T, A, E>> = {
                let mut queue = self.queue.lock().map_err(|_| WriterGone)?;
                let n = queue.len().min(self.max_batch);
                queue.drain(..n).collect()
            };
            if batch.is_empty() {
                continue;
            }
            let write = write.clone();
            tokio::spawn(async move { commit_batch(batch, &*write).await })
                .await
                .map_err(|_| WriterGone)?;
            self.commits.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn commit_batch<T, A, E, W, Fut>(batch: Vec<Pending<T, A, E>>, write: &W)
where
    T: Clone,
    W: Fn(Vec<T>) -> Fut,
    Fut: Future<Output = Result<Vec<A>, E>>,
    E: From<WriterGone>,
{
    let items: Vec<T> = batch.iter().map(|p| p.item.clone()).collect();
    let n = items.len();
    match write(items).await {
        Ok(answers) if answers.len() == n => {
            for (p, a) in batch.into_iter().zip(answers) {
                let _ = p.done.send(Ok(a));
            }
        }
        Ok(_) => {
            for p in batch {
                let _ = p.done.send(Err(WriterGone.into()));
            }
        }
        Err(e) if n == 1 => {
            if let Some(p) = batch.into_iter().next() {
                let _ = p.done.send(Err(e));
            }
        }
        Err(_) => {
            for p in batch {
                let result = write(vec![p.item])
                    .await
                    .and_then(|mut a| a.pop().ok_or_else(|| WriterGone.into()));
                let _ = p.done.send(result);
            }
        }
    }
}
