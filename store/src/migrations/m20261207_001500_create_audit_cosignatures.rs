//! Witnesses' cosignatures of the audit log's C2SP checkpoints: one row per witness and tree size
//! it cosigned, never updated or deleted. A witness's latest row is the size it last cosigned
//! (where the next consistency proof sent to it starts).

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_001500_create_audit_cosignatures"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("audit_cosignatures")
                    .col(text("witness"))
                    .col(big_integer("tree_size"))
                    .col(blob("root_hash"))
                    .col(text("signature"))
                    .col(big_integer("cosigned_at"))
                    .col(big_integer("received_ms"))
                    .primary_key(Index::create().col("witness").col("tree_size"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("audit_cosignatures").to_owned())
            .await
    }
}
