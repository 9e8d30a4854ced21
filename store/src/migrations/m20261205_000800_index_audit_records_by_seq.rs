//! The audit log is searched newest first (`ORDER BY seq DESC LIMIT n`) by citizen, department
//! and action. With those columns indexed together with `time_ms`, the planner found the matching
//! rows through one index and then sorted all of them to keep the newest `n`: a search for a
//! department's releases read and sorted every release ever recorded (in the benchmark's mixed run
//! on PostgreSQL, sessions reading `audit_records` were the top wait events and releases fell to a
//! tenth; on SQLite, `USE TEMP B-TREE FOR ORDER BY` over the action index, and eight such searches
//! held the whole pool). Indexes ending in `seq` serve the filter and the order at once, so a page
//! reads at most its own rows (and a department's releases have their own index). Time-range
//! filters apply to those rows; `time_ms` alone keeps its index.

use sea_orm_migration::prelude::*;

use super::index_name;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000800_index_audit_records_by_seq"
    }
}

const TABLE: &str = "audit_records";
const OLD: &[&[&str]] = &[
    &["citizen_id", "time_ms"],
    &["department_id", "time_ms"],
    &["action", "time_ms"],
];
const NEW: &[&[&str]] = &[
    &["citizen_id", "seq"],
    &["department_id", "seq"],
    &["action", "seq"],
    &["department_id", "action", "seq"],
];

async fn replace(
    manager: &SchemaManager<'_>,
    from: &[&[&'static str]],
    to: &[&[&'static str]],
) -> Result<(), DbErr> {
    for cols in to {
        let mut index = Index::create();
        index.name(index_name(TABLE, cols)).table(TABLE);
        for c in *cols {
            index.col(*c);
        }
        manager.create_index(index.to_owned()).await?;
    }
    for cols in from {
        manager
            .drop_index(
                Index::drop()
                    .name(index_name(TABLE, cols))
                    .table(TABLE)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace(manager, OLD, NEW).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace(manager, NEW, OLD).await
    }
}
