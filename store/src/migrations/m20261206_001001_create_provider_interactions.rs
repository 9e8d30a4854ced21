//! A citizen's way through one authorization request at the broker (issue 14): from the
//! authorization endpoint through sign-in and the consent screen to the answer. Keyed by the
//! SHA-256 of the random id in the page's URL; the redeemed request is kept here, not in the URL.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_001001_create_provider_interactions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("provider_interactions")
                    .col(string_len("id_hash", 64).primary_key())
                    .col(string_len("client_id", 128))
                    .col(text("request"))
                    .col(big_integer_null("sign_in_sent_at"))
                    .col(big_integer_null("consented_at"))
                    .col(big_integer("created_at"))
                    .col(big_integer("expires_at"))
                    .col(big_integer_null("ended_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("provider_interactions").to_owned())
            .await
    }
}
