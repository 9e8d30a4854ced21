//! Pushed authorization requests (issue 14, RFC 9126): stored under the SHA-256 of their
//! `request_uri` (never the value itself) until used once or expired.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_001000_create_provider_requests"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("provider_requests")
                    .col(string_len("key", 64).primary_key())
                    .col(string_len("client_id", 128))
                    .col(text("request"))
                    .col(big_integer("expires_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("provider_requests").to_owned())
            .await
    }
}
