//! Access notices (issue 15): how far each citizen has read their notices, as the audit log
//! sequence number of the newest notice they have seen. The notices themselves are the audit
//! records about the citizen; nothing is copied.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_001500_create_notice_reads"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("notice_reads")
                    .col(string_len("citizen_id", 36).primary_key())
                    .col(big_integer("seen_seq"))
                    .col(big_integer("updated_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("notice_reads").to_owned())
            .await
    }
}
