//! How a consent ended, as its own column of the consent-ended change (`revoked` or `expired`),
//! instead of reusing the provenance field `source_id` as a flag. Existing rows are filled from
//! that field, which held exactly those two words for `consent-revoked` changes.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000100_add_relay_changes_ended"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("relay_changes")
                    .add_column(string_len_null("ended", 16))
                    .to_owned(),
            )
            .await?;
        let fill = Query::update()
            .table("relay_changes")
            .value("ended", Expr::col("source_id"))
            .and_where(Expr::col("kind").eq("consent-revoked"))
            .to_owned();
        manager.exec_stmt(fill).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("relay_changes")
                    .drop_column("ended")
                    .to_owned(),
            )
            .await
    }
}
