//! Client assertion ids already used, kept until the assertion expires, so that a replay is refused
//! on any broker instance.

use sea_orm_migration::{prelude::*, schema::*};

use super::index_name;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000008_create_client_assertion_jtis"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("client_assertion_jtis")
                    .col(string_len("client_id", 128))
                    .col(string_len("jti", 256))
                    .col(big_integer("expires_at"))
                    .primary_key(Index::create().col("client_id").col("jti"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(index_name("client_assertion_jtis", &["expires_at"]))
                    .table("client_assertion_jtis")
                    .col("expires_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("client_assertion_jtis").to_owned())
            .await
    }
}
