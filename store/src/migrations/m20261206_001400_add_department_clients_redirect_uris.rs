//! A department client may be a web application that signs citizens in through the broker as
//! OpenID Provider: the redirect URIs it registers (a JSON array of strings). Existing clients get
//! `[]`, none.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_001400_add_department_clients_redirect_uris"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("department_clients")
                    .add_column(json("redirect_uris").default("[]"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("department_clients")
                    .drop_column("redirect_uris")
                    .to_owned(),
            )
            .await
    }
}
