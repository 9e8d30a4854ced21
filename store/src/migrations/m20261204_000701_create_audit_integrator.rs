//! Who integrates the audit queue: one broker instance at a time holds this lease (renewed while it
//! works, taken over by another when it runs out, e.g. after the holder was killed).

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000701_create_audit_integrator"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("audit_integrator")
                    .col(small_integer("id").primary_key())
                    .col(string_len("owner", 64))
                    .col(big_integer("lease_until"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("audit_integrator").to_owned())
            .await
    }
}
