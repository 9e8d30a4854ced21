//! The e-mail digest of notices (issue 15): each digest, once per citizen and period (the primary
//! key), covering the notices after `from_seq` up to `to_seq`, and what became of it: `pending`
//! (to send, or to retry at `next_attempt_at`), `sending` (claimed by one instance), `sent`, or a
//! final `failed`, `interrupted`, `no_address` or `cancelled`. No address and no value is stored.

use sea_orm_migration::{prelude::*, schema::*};

use crate::migrations::index_name;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261208_001602_create_digests"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("digests")
                    .col(string_len("citizen_id", 36))
                    .col(string_len("period", 48))
                    .col(string_len("id", 36).unique_key())
                    .col(big_integer("from_seq"))
                    .col(big_integer("to_seq"))
                    .col(string_len("status", 16))
                    .col(integer("attempts"))
                    .col(big_integer("next_attempt_at"))
                    .col(big_integer_null("claimed_at"))
                    .col(big_integer_null("sent_at"))
                    .col(string_len_null("last_error", 200))
                    .col(big_integer("created_at"))
                    .primary_key(Index::create().col("citizen_id").col("period"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(index_name("digests", &["status", "next_attempt_at"]))
                    .table("digests")
                    .col("status")
                    .col("next_attempt_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("digests").to_owned())
            .await
    }
}
