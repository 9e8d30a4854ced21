//! Which configured privacy officer an officer session belongs to (the audit log's actor).

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000103_create_officer_sessions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("officer_sessions")
                    // the session's id hash (`sessions.id_hash`)
                    .col(string_len("session_hash", 64).primary_key())
                    .col(string_len("officer_id", 64))
                    .col(string_len("provider_id", 64))
                    .col(big_integer("created_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("officer_sessions").to_owned())
            .await
    }
}
