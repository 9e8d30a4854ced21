//! The e-mail digest of notices (issue 15): how often each citizen wants one and in which
//! language. A citizen without a row gets the configured default. No address is stored here: the
//! digest goes to the citizen's current `email` fact.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261208_001600_create_digest_preferences"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("digest_preferences")
                    .col(string_len("citizen_id", 36).primary_key())
                    .col(string_len("frequency", 16))
                    .col(string_len("lang", 8))
                    .col(big_integer("updated_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("digest_preferences").to_owned())
            .await
    }
}
