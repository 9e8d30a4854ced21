//! Delegations (issue 16): the delegation a citizen's session acts under ("acting for …"), and
//! the label its banner shows. Checked against the ledger at every request; never trusted alone.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261209_001701_add_sessions_acting_for"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table("sessions")
                    .add_column(string_len_null("acting_for", 36))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("sessions")
                    .add_column(string_len_null("acting_label", 80))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["acting_label", "acting_for"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("sessions")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
