//! Access notices (issue 15 §1): every release of a citizen's facts, every denial that names
//! them, every consent a department asks of them and every change delivered on their behalf is
//! a notice on their dashboard, unread until they open their notices.
//!
//! A notice *is* the audit record (its id, its proof, its time): nothing is copied, so a notice
//! can never say something the log does not. This module owns only how far each citizen has
//! read (`notice_reads`: the sequence number of the newest notice seen), and reads the records
//! through `audit_log::about`. Records are notices once integrated (seconds; `audit.md`).
//!
//! INVARIANT: a notice carries no attribute value: records name attributes, never values.

mod entities;

use sea_orm::sea_query::Expr;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use crate::audit_log::entities::record;
use crate::audit_log::{Action, about};
use crate::error::Error;
use entities::notice_read;

/// What is a notice: uses of the citizen's data by departments, what departments asked, and who
/// may act in their name (a delegation a department registered, one accepted, one ended: acts
/// done under it are on the activity page, each naming the representative).
pub const ACTIONS: [Action; 7] = [
    Action::Release,
    Action::ReleaseDenied,
    Action::ConsentRequested,
    Action::DeliveryDelivered,
    Action::DelegationRegistered,
    Action::DelegationAccepted,
    Action::DelegationEnded,
];

/// Most notices shown at once.
pub const PAGE: u64 = 50;

/// The newest notice the citizen has seen (-1: none; the log's first record is 0).
async fn seen(db: &DatabaseConnection, citizen_id: &str) -> Result<i64, Error> {
    Ok(notice_read::Entity::find_by_id(citizen_id.to_owned())
        .one(db)
        .await?
        .map_or(-1, |r| r.seen_seq))
}

/// How many notices the citizen has not seen.
pub async fn unread(db: &DatabaseConnection, citizen_id: &str) -> Result<u64, Error> {
    let seen = seen(db, citizen_id).await?;
    Ok(about::count_after(db, citizen_id, &ACTIONS, seen).await?)
}

/// The newest notices, each with whether it is new, and marks them all seen.
pub async fn open(
    db: &DatabaseConnection,
    citizen_id: &str,
) -> Result<Vec<(record::Model, bool)>, Error> {
    let seen = seen(db, citizen_id).await?;
    let records = about::newest(db, citizen_id, &ACTIONS, PAGE).await?;
    if let Some(newest) = records.first().map(|r| r.seq)
        && newest > seen
    {
        mark_seen(db, citizen_id, newest).await?;
    }
    Ok(records
        .into_iter()
        .map(|r| {
            let new = r.seq > seen;
            (r, new)
        })
        .collect())
}

/// Records that the citizen has seen every notice up to `seq` (never moves back).
async fn mark_seen(db: &DatabaseConnection, citizen_id: &str, seq: i64) -> Result<(), Error> {
    let now = store::now_ms();
    let row = notice_read::ActiveModel {
        citizen_id: Set(citizen_id.to_owned()),
        seen_seq: Set(seq),
        updated_at: Set(now),
    };
    let inserted = notice_read::Entity::insert(row)
        .on_conflict(
            OnConflict::column(notice_read::Column::CitizenId)
                .do_nothing()
                .to_owned(),
        )
        .exec(db)
        .await;
    match inserted {
        Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => {}
        Err(e) => return Err(e.into()),
    }
    // Only forward: a page read with an older view never moves the mark back.
    notice_read::Entity::update_many()
        .col_expr(notice_read::Column::SeenSeq, Expr::value(seq))
        .col_expr(notice_read::Column::UpdatedAt, Expr::value(now))
        .filter(notice_read::Column::CitizenId.eq(citizen_id))
        .filter(notice_read::Column::SeenSeq.lt(seq))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
