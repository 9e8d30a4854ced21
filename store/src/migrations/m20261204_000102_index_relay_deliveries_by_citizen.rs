//! An erasure or a death cancels, in its own transaction, every pending delivery of that citizen: the lookup must not walk the outbox.

use sea_orm_migration::prelude::*;

use super::index_name;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000102_index_relay_deliveries_by_citizen"
    }
}

const COLUMNS: [&str; 2] = ["citizen_id", "status"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut index = Index::create();
        index
            .name(index_name("relay_deliveries", &COLUMNS))
            .table("relay_deliveries");
        for column in COLUMNS {
            index.col(column);
        }
        manager.create_index(index.to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(index_name("relay_deliveries", &COLUMNS))
                    .table("relay_deliveries")
                    .to_owned(),
            )
            .await
    }
}
