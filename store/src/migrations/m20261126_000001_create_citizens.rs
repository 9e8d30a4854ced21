//! Citizens: the internal identity every link, value and consent hangs from. The id is never shown
//! to a department (departments see pairwise ids).

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000001_create_citizens"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("citizens")
                    .col(string_len("id", 36).primary_key())
                    // active | deceased | erased
                    .col(string_len("status", 16))
                    .col(big_integer("created_at"))
                    .col(big_integer_null("deceased_at"))
                    .col(big_integer_null("erased_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("citizens").to_owned())
            .await
    }
}
