//! Delegations (issue 16): the delegate who entered a change for the person they act for, so
//! that every SET the change leads to names them (RFC 8693 `act`, in the recipient's pairwise
//! terms). Empty for a change the citizen or a department made.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261209_001702_add_relay_changes_delegate_id"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("relay_changes")
                    .add_column(string_len_null("delegate_id", 36))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("relay_changes")
                    .drop_column("delegate_id")
                    .to_owned(),
            )
            .await
    }
}
