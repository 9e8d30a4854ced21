//! The append-only history of every consent. `(consent_id, seq)` is the key, so two concurrent
//! changes to one consent cannot both be recorded as its next event.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000014_create_consent_events"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("consent_events")
                    .col(string_len("consent_id", 36))
                    .col(big_integer("seq"))
                    .col(string_len("kind", 16))
                    .col(json("event"))
                    .col(big_integer("time_ms"))
                    .primary_key(Index::create().col("consent_id").col("seq"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_consent_events_consent")
                            .from("consent_events", "consent_id")
                            .to("consents", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("consent_events").to_owned())
            .await
    }
}
