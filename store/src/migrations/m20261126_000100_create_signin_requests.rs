//! Sign-ins in progress: one row per authorization request sent to a credential provider, found
//! again by the SHA-256 of its `state`, bound to the browser that started it, used at most once.

use sea_orm_migration::{prelude::*, schema::*};

use super::index_name;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000100_create_signin_requests"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("signin_requests")
                    // SHA-256 (hex) of the `state` sent to the provider
                    .col(string_len("state_hash", 64).primary_key())
                    // SHA-256 (hex) of the browser-binding cookie
                    .col(string_len("binding_hash", 64))
                    .col(string_len("provider_id", 64))
                    // citizen | officer | link
                    .col(string_len("purpose", 16))
                    // for `link`: the session (id hash) that asked to link another sign-in
                    .col(string_len_null("session_hash", 64))
                    .col(string_len("nonce", 128))
                    .col(string_len("pkce_verifier", 128))
                    .col(text("next"))
                    .col(big_integer("created_at"))
                    .col(big_integer("expires_at"))
                    .col(big_integer_null("consumed_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(index_name("signin_requests", &["expires_at"]))
                    .table("signin_requests")
                    .col("expires_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("signin_requests").to_owned())
            .await
    }
}
