//! Versioned, encrypted attribute values with provenance. A new value is a new version; nothing is
//! overwritten. `ciphertext` is AES-256-GCM under the citizen's data key.

use sea_orm_migration::{prelude::*, schema::*};

use super::index_name;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000003_create_attribute_values"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("attribute_values")
                    .col(string_len("id", 36).primary_key())
                    .col(string_len("citizen_id", 36))
                    .col(string_len("attribute", 64))
                    .col(integer("version"))
                    .col(blob("nonce"))
                    .col(blob("ciphertext"))
                    // provider | department | citizen
                    .col(string_len("source_kind", 16))
                    .col(string_len("source_id", 128))
                    // e.g. asserted, registry, document, self-declared
                    .col(string_len("method", 64))
                    .col(small_integer("loa"))
                    .col(boolean("verified"))
                    .col(big_integer("recorded_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_attribute_values_citizen")
                            .from("attribute_values", "citizen_id")
                            .to("citizens", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(index_name(
                        "attribute_values",
                        &["citizen_id", "attribute", "version"],
                    ))
                    .table("attribute_values")
                    .col("citizen_id")
                    .col("attribute")
                    .col("version")
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("attribute_values").to_owned())
            .await
    }
}
