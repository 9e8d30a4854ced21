//! The audit log's group commit (`store::group`): appends that arrive together share one
//! transaction, and each caller is answered only after it committed.

use audit::Record;
use sea_orm::{DbErr, TransactionTrait};

use super::{AuditError, AuditLog, AuditReceipt};
use store::group::{GroupCommit, WriterGone};

/// Most records in one transaction.
pub const MAX_BATCH: usize = 256;

pub(super) type Appends = GroupCommit<Record, AuditReceipt, AuditError>;

impl From<WriterGone> for AuditError {
    fn from(e: WriterGone) -> Self {
        AuditError::Db(DbErr::Custom(e.to_string()))
    }
}

impl AuditLog {
    /// Appends in a transaction shared with the appends that arrive at the same time; durable
    /// when this returns.
    pub async fn append(&self, record: Record) -> Result<AuditReceipt, AuditError> {
        let log = self.clone();
        self.group
            .submit(record, move |records| {
                let log = log.clone();
                async move { log.write(records).await }
            })
            .await
    }

    /// How many group-commit transactions this log has written.
    pub fn group_commits(&self) -> u64 {
        self.group.commits()
    }

    async fn write(&self, records: Vec<Record>) -> Result<Vec<AuditReceipt>, AuditError> {
        let txn = self.db.begin().await?;
        let receipts = self.append_many_in(&txn, records).await?;
        txn.commit().await?;
        Ok(receipts)
    }
}
