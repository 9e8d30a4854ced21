//! Relay changes: one row per change that may reach departments (a citizen's update, an
//! authoritative department's report or life event, a consent that ended). It names the attribute
//! versions it carries (never the values: those stay encrypted in `attribute_values`).

use sea_orm_migration::{prelude::*, schema::*};

use super::index_name;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000500_create_relay_changes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("relay_changes")
                    .col(string_len("id", 36).primary_key())
                    .col(string_len("citizen_id", 36))
                    .col(string_len("kind", 32))
                    .col(json("attributes"))
                    .col(string_len("source_kind", 16))
                    .col(string_len("source_id", 128))
                    .col(small_integer("loa"))
                    .col(string_len("txn", 36))
                    .col(big_integer("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(index_name("relay_changes", &["citizen_id", "created_at"]))
                    .table("relay_changes")
                    .col("citizen_id")
                    .col("created_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("relay_changes").to_owned())
            .await
    }
}
