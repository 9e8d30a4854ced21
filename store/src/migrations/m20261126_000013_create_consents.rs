//! Consents: the identity of each one (citizen, recipient department, purpose, mode). Everything
//! that changes is an event in `consent_events`; the state is derived, never stored.

use sea_orm_migration::{prelude::*, schema::*};

use super::index_name;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000013_create_consents"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("consents")
                    .col(string_len("id", 36).primary_key())
                    .col(string_len("citizen_id", 36))
                    .col(string_len("department_id", 64))
                    .col(string_len("purpose", 64))
                    .col(string_len("mode", 16))
                    .col(big_integer("created_at"))
                    .to_owned(),
            )
            .await?;
        for cols in [
            &["citizen_id", "department_id", "purpose"][..],
            &["department_id", "created_at"],
        ] {
            let mut index = Index::create();
            index.name(index_name("consents", cols)).table("consents");
            for c in cols {
                index.col(*c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("consents").to_owned())
            .await
    }
}
