//! A department's systems: each authenticates with `private_key_jwt` against keys registered here
//! (inline JWKS or a `jwks_uri`) and may request only its allowed scopes.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000005_create_department_clients"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("department_clients")
                    .col(string_len("client_id", 128).primary_key())
                    .col(string_len("department_id", 64))
                    .col(json_null("jwks"))
                    .col(string_len_null("jwks_uri", 1024))
                    .col(json("scopes"))
                    .col(big_integer("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_department_clients_department")
                            .from("department_clients", "department_id")
                            .to("departments", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("department_clients").to_owned())
            .await
    }
}
