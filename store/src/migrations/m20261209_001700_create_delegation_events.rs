//! Delegations (issue 16): acting for another citizen. A delegation is an append-only list of
//! events, like a consent's; every row repeats the delegator, and the rows that name the
//! delegate (acceptance, registration) or carry the invitation's hash (the offer) say so in
//! their own columns, so each side's list and an invitation are found by an index.

use sea_orm_migration::{prelude::*, schema::*};

use super::index_name;

pub struct Migration;

const TABLE: &str = "delegation_events";

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261209_001700_create_delegation_events"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TABLE)
                    .col(string_len("delegation_id", 36))
                    .col(big_integer("seq"))
                    .col(string_len("kind", 16))
                    .col(string_len("delegator_id", 36))
                    .col(string_len_null("delegate_id", 36))
                    .col(string_len_null("invitation_hash", 64))
                    .col(json("event"))
                    .col(text_null("receipt"))
                    .col(big_integer("time_ms"))
                    .primary_key(Index::create().col("delegation_id").col("seq"))
                    .to_owned(),
            )
            .await?;
        for column in ["delegator_id", "delegate_id", "invitation_hash"] {
            manager
                .create_index(
                    Index::create()
                        .name(index_name(TABLE, &[column]))
                        .table(TABLE)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TABLE).to_owned())
            .await
    }
}
