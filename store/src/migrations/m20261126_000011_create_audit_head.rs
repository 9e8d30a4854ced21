//! The single row every append locks first: the tree's size, root and right edge (frontier), and
//! when the last checkpoint was signed. Locking it serialises appends across broker instances.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000011_create_audit_head"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("audit_head")
                    .col(small_integer("id").primary_key())
                    .col(big_integer("tree_size"))
                    .col(blob("root_hash"))
                    .col(blob("frontier"))
                    .col(big_integer("checkpoint_size"))
                    .col(big_integer("checkpoint_ms"))
                    .col(big_integer("locked_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("audit_head").to_owned())
            .await
    }
}
