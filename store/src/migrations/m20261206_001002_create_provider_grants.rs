//! What a citizen's authorization of a department's web application gave (issue 14): the
//! authorization code, then the tokens issued from it, their DPoP key, the consent they rest on,
//! the refresh token (its SHA-256; rotated), and the broker session they came from (back-channel
//! logout). Revoking a grant revokes every token issued from it.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_001002_create_provider_grants"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("provider_grants")
                    .col(string_len("id", 36).primary_key())
                    .col(string_len("client_id", 128))
                    .col(string_len("department_id", 128))
                    .col(string_len("citizen_id", 36))
                    .col(text("request"))
                    .col(string_len_null("consent_id", 36))
                    .col(string_len("acr", 128))
                    .col(big_integer("auth_time"))
                    .col(string_len("sid", 64))
                    .col(string_len("session_hash", 64))
                    .col(string_len("code_hash", 64).unique_key())
                    .col(big_integer("code_expires_at"))
                    .col(big_integer_null("code_used_at"))
                    .col(string_len_null("dpop_jkt", 64))
                    .col(string_len_null("refresh_hash", 64).unique_key())
                    .col(string_len_null("previous_refresh_hash", 64))
                    .col(big_integer_null("refresh_expires_at"))
                    .col(big_integer("created_at"))
                    .col(big_integer_null("revoked_at"))
                    .col(string_len_null("revoked_reason", 64))
                    .col(big_integer_null("logged_out_at"))
                    .to_owned(),
            )
            .await?;
        for col in ["session_hash", "previous_refresh_hash", "consent_id"] {
            manager
                .create_index(
                    Index::create()
                        .name(super::index_name("provider_grants", &[col]))
                        .table("provider_grants")
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("provider_grants").to_owned())
            .await
    }
}
