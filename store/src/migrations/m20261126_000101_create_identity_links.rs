//! Identity links: an upstream identity (issuer, sub) → the citizen it signs in as.

use sea_orm_migration::{prelude::*, schema::*};

use super::index_name;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000101_create_identity_links"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("identity_links")
                    .col(string_len("id", 36).primary_key())
                    .col(string_len("citizen_id", 36))
                    .col(string_len("provider_id", 64))
                    .col(string_len("issuer", 512))
                    .col(string_len("subject", 255))
                    .col(big_integer("created_at"))
                    .col(big_integer("last_signin_at"))
                    .to_owned(),
            )
            .await?;
        // One citizen per upstream identity.
        manager
            .create_index(
                Index::create()
                    .name(index_name("identity_links", &["issuer", "subject"]))
                    .table("identity_links")
                    .col("issuer")
                    .col("subject")
                    .unique()
                    .to_owned(),
            )
            .await?;
        // At most one identity per provider for a citizen.
        manager
            .create_index(
                Index::create()
                    .name(index_name("identity_links", &["citizen_id", "issuer"]))
                    .table("identity_links")
                    .col("citizen_id")
                    .col("issuer")
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("identity_links").to_owned())
            .await
    }
}
