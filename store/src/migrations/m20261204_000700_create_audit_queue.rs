//! The audit log's queue (issue 13): a record is written here, in the transaction of the change it
//! records, with no lock on anything log-wide; the integrator (one at a time) gives queued records
//! their sequence numbers in batches, integrates them into the Merkle tree (`audit_records`,
//! `audit_nodes`, `audit_head`) and deletes them from here in the same transaction.
//! `entry` is the record's canonical encoding with `seq` 0 (it is encoded again once sequenced).

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000700_create_audit_queue"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("audit_queue")
                    .col(big_integer("qid").auto_increment().primary_key())
                    .col(string_len_uniq("id", 36))
                    .col(blob("entry"))
                    .col(big_integer("queued_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("audit_queue").to_owned())
            .await
    }
}
