//! Where a department's web application receives logout tokens when a citizen signs out at the
//! broker (OpenID Connect Back-Channel Logout 1.0), if it wants them.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_001402_add_department_clients_backchannel_logout_uri"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("department_clients")
                    .add_column(string_len_null("backchannel_logout_uri", 2048))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("department_clients")
                    .drop_column("backchannel_logout_uri")
                    .to_owned(),
            )
            .await
    }
}
