//! The relay's transactional outbox: one row per (change, receiving department), written in the
//! change's transaction. `seq` orders deliveries per (department, citizen); the lease columns let
//! one worker at a time hold a row (claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL, by the
//! single writer on SQLite); a lease that runs out (a crashed broker) makes the row claimable again.

use sea_orm_migration::{prelude::*, schema::*};

use super::index_name;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000501_create_relay_deliveries"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("relay_deliveries")
                    .col(big_integer("seq").auto_increment().primary_key())
                    .col(string_len("id", 36).unique_key())
                    .col(string_len("change_id", 36))
                    .col(string_len("citizen_id", 36))
                    .col(string_len("department_id", 128))
                    .col(string_len("event", 32))
                    .col(string_len_null("purpose", 128))
                    .col(string_len_null("consent_id", 36))
                    .col(json("attributes"))
                    .col(string_len("status", 16))
                    .col(integer("attempts"))
                    .col(big_integer("next_attempt_at"))
                    .col(string_len_null("lease_owner", 64))
                    .col(big_integer_null("lease_until"))
                    .col(string_len_null("last_error", 255))
                    .col(big_integer_null("delivered_at"))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_relay_deliveries_change")
                            .from("relay_deliveries", "change_id")
                            .to("relay_changes", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for columns in [
            &["status", "next_attempt_at"][..],
            &["department_id", "citizen_id", "status", "seq"][..],
            &["change_id"][..],
        ] {
            let mut index = Index::create();
            index
                .name(index_name("relay_deliveries", columns))
                .table("relay_deliveries");
            for column in columns {
                index.col(*column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("relay_deliveries").to_owned())
            .await
    }
}
