//! The audit log's records: canonical entry bytes (hashed as RFC 9162 leaves) and indexed copies
//! of the fields officers search by. Append-only; `broker audit verify` detects any edit.

use sea_orm_migration::{prelude::*, schema::*};

use super::index_name;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000009_create_audit_records"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("audit_records")
                    .col(big_integer("seq").primary_key())
                    .col(string_len_uniq("id", 36))
                    .col(blob("entry"))
                    .col(blob("leaf_hash"))
                    .col(big_integer("time_ms"))
                    .col(string_len("action", 32))
                    .col(string_len("outcome", 16))
                    .col(string_len_null("citizen_id", 36))
                    .col(string_len_null("department_id", 64))
                    .col(string_len_null("purpose", 64))
                    .to_owned(),
            )
            .await?;
        for cols in [
            &["citizen_id", "time_ms"][..],
            &["department_id", "time_ms"],
            &["time_ms"],
            &["action", "time_ms"],
        ] {
            let mut index = Index::create();
            index
                .name(index_name("audit_records", cols))
                .table("audit_records");
            for c in cols {
                index.col(*c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("audit_records").to_owned())
            .await
    }
}
