//! The e-mail digest of notices (issue 15): one row per period a digest pass ran for
//! (`weekly:2026-W49`, `monthly:2026-11`), with the audit log positions it covers (after
//! `from_seq`, up to `up_to_seq`). The
//! first instance to start a pass fixes its bound; a pass interrupted by a restart is finished with
//! the same bound, so no notice is left out and none is sent twice.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261208_001601_create_digest_passes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("digest_passes")
                    .col(string_len("period", 48).primary_key())
                    .col(string_len("frequency", 16))
                    .col(big_integer("from_seq"))
                    .col(big_integer("up_to_seq"))
                    .col(big_integer("started_at"))
                    .col(big_integer_null("completed_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("digest_passes").to_owned())
            .await
    }
}
