//! The department registry: who may receive what is the policies' business; this table says who
//! the departments are, their sector (for pairwise ids), what they are authoritative for and how
//! changes reach them.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000004_create_departments"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("departments")
                    .col(string_len("id", 64).primary_key())
                    .col(string_len("name_en", 200))
                    .col(string_len("name_fr", 200))
                    .col(string_len("sector_identifier", 255))
                    // active | disabled
                    .col(string_len("status", 16))
                    .col(json("authoritative_for"))
                    // the adapter settings for pushed changes, if any
                    .col(json_null("delivery"))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("departments").to_owned())
            .await
    }
}
