//! A department may have a pull source: the adapter settings the broker uses to fetch its changes
//! from its REST API (`adapters::pull`). Separate from `delivery` (how pushed changes reach it): a
//! department may have both.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000300_add_departments_pull_source"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("departments")
                    .add_column(json_null("pull_source"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("departments")
                    .drop_column("pull_source")
                    .to_owned(),
            )
            .await
    }
}
