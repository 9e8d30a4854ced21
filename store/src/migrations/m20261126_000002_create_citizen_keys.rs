//! Each citizen's data key, wrapped (AES-256-GCM) by a master key named by id. Deleting the row is
//! crypto-erasure: the citizen's stored values can no longer be decrypted.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000002_create_citizen_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("citizen_keys")
                    .col(string_len("citizen_id", 36).primary_key())
                    .col(string_len("master_key_id", 64))
                    .col(blob("wrapped_key"))
                    .col(big_integer("created_at"))
                    .col(big_integer("wrapped_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_citizen_keys_citizen")
                            .from("citizen_keys", "citizen_id")
                            .to("citizens", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("citizen_keys").to_owned())
            .await
    }
}
