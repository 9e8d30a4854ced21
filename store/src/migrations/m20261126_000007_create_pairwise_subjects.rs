//! Pairwise subject ids the broker has handed out, for reverse lookup within a sector.

use sea_orm_migration::{prelude::*, schema::*};

use super::index_name;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000007_create_pairwise_subjects"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("pairwise_subjects")
                    .col(string_len("sector_identifier", 255))
                    .col(string_len("subject", 64))
                    .col(string_len("citizen_id", 36))
                    .col(big_integer("created_at"))
                    .primary_key(Index::create().col("sector_identifier").col("subject"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(index_name("pairwise_subjects", &["citizen_id"]))
                    .table("pairwise_subjects")
                    .col("citizen_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("pairwise_subjects").to_owned())
            .await
    }
}
