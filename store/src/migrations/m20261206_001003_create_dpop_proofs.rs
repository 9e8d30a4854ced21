//! DPoP proofs seen (issue 14, RFC 9449 §11.1): each proof's replay key (a SHA-256 of its target
//! URI and `jti`) until the proof would be refused as stale anyway.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_001003_create_dpop_proofs"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("dpop_proofs")
                    .col(string_len("replay_key", 64).primary_key())
                    .col(big_integer("expires_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("dpop_proofs").to_owned())
            .await
    }
}
