//! Signed checkpoints of the audit tree: tree size, root hash, time, and the broker's JWS over them.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000012_create_audit_checkpoints"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("audit_checkpoints")
                    .col(big_integer("tree_size").primary_key())
                    .col(blob("root_hash"))
                    .col(big_integer("time_ms"))
                    .col(text("jws"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("audit_checkpoints").to_owned())
            .await
    }
}
