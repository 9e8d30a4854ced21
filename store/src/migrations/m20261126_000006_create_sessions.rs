//! Server-side browser sessions, so sign-out and revocation are real. The cookie carries a random
//! token; only its SHA-256 is stored.

use sea_orm_migration::{prelude::*, schema::*};

use super::index_name;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000006_create_sessions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("sessions")
                    .col(string_len("id_hash", 64).primary_key())
                    .col(string_len_null("citizen_id", 36))
                    // citizen | officer
                    .col(string_len("role", 16))
                    // compared in constant time with the token in every form
                    .col(string_len("csrf_token", 64))
                    .col(string_len_null("provider_id", 64))
                    .col(small_integer("loa"))
                    // the upstream ID token hint for RP-initiated logout; never logged
                    .col(text_null("id_token_hint"))
                    .col(big_integer("created_at"))
                    .col(big_integer("last_seen_at"))
                    .col(big_integer("idle_expires_at"))
                    .col(big_integer("absolute_expires_at"))
                    .col(big_integer_null("ended_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(index_name("sessions", &["citizen_id"]))
                    .table("sessions")
                    .col("citizen_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("sessions").to_owned())
            .await
    }
}
