//! The pull job's state, one row per department with a pull source: where its change feed was
//! read up to (`cursor`, opaque, stored only once the page's changes are recorded), which broker
//! polls it now (`lease_owner`, `lease_until`: one at a time, even with several brokers on one
//! database), when it is next due, and its run of failures with the last error code (never a
//! department's answer). `source_key` (a hash of the feed's base url) resets the cursor when an
//! operator points the department at another feed.

use sea_orm_migration::{prelude::*, schema::*};

use super::index_name;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000301_create_relay_pull_sources"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("relay_pull_sources")
                    .col(string_len("department_id", 64).primary_key())
                    .col(string_len_null("source_key", 64))
                    .col(string_len_null("cursor", 1024))
                    .col(string_len_null("lease_owner", 64))
                    .col(big_integer_null("lease_until"))
                    .col(big_integer("next_poll_at"))
                    .col(integer("failures"))
                    .col(string_len_null("last_error", 255))
                    .col(big_integer_null("last_success_at"))
                    .col(big_integer("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(index_name("relay_pull_sources", &["next_poll_at"]))
                    .table("relay_pull_sources")
                    .col("next_poll_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("relay_pull_sources").to_owned())
            .await
    }
}
