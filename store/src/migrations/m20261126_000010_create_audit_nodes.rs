//! Every perfect subtree hash of the audit tree (level 0 = leaf hashes), so inclusion and
//! consistency proofs are O(log n) lookups.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000010_create_audit_nodes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("audit_nodes")
                    .col(small_integer("level"))
                    .col(big_integer("idx"))
                    .col(blob("hash"))
                    .primary_key(Index::create().col("level").col("idx"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("audit_nodes").to_owned())
            .await
    }
}
