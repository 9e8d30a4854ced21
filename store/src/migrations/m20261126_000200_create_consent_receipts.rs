//! Consent receipts: the signed JWS produced by each grant, kept so the citizen can download it
//! again and so a presented receipt can be checked against the ledger. One per grant, so one per
//! consent. `expires_at` is the grant's expiry, indexed for the expiry sweep.

use sea_orm_migration::{prelude::*, schema::*};

use super::index_name;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000200_create_consent_receipts"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("consent_receipts")
                    .col(string_len("id", 36).primary_key())
                    .col(string_len("consent_id", 36).unique_key())
                    .col(text("jws"))
                    .col(string_len("kid", 64))
                    .col(string_len("language", 8))
                    .col(small_integer("loa"))
                    .col(big_integer("granted_at"))
                    .col(big_integer("expires_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_consent_receipts_consent")
                            .from("consent_receipts", "consent_id")
                            .to("consents", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(index_name("consent_receipts", &["expires_at"]))
                    .table("consent_receipts")
                    .col("expires_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("consent_receipts").to_owned())
            .await
    }
}
