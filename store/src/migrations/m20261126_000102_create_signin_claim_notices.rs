//! Values a provider asserted at sign-in that were not taken because a department had verified the
//! current value at a higher level of assurance: shown to the citizen. Names only, never values.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000102_create_signin_claim_notices"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("signin_claim_notices")
                    .col(string_len("citizen_id", 36))
                    .col(string_len("attribute", 64))
                    .col(string_len("provider_id", 64))
                    .col(small_integer("provider_loa"))
                    // the source whose value was kept, and its level of assurance
                    .col(string_len("kept_source_id", 64))
                    .col(small_integer("kept_loa"))
                    .col(big_integer("noticed_at"))
                    .primary_key(
                        Index::create()
                            .col("citizen_id")
                            .col("attribute")
                            .col("provider_id"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("signin_claim_notices").to_owned())
            .await
    }
}
