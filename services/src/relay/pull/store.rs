//! The pull job's table, `relay_pull_sources`: one row per department with a pull source, holding
//! where its change feed was read up to, which broker polls it now, when it is next due, and its
//! run of failures.
//!
//! INVARIANT: every write but [`ensure`] and [`claim`] is conditional on `lease_owner` naming
//! the caller, so a broker whose lease was taken over (it stalled past `lease_until` and another
//! claimed the row) can no longer move the cursor. As in the delivery worker, a row stays ours
//! while `lease_owner` names us, even after `lease_until`: every claim rewrites the owner.

use sea_orm::sea_query::{Expr, LockBehavior, LockType, Order, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, Set,
};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "relay_pull_sources")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub department_id: String,
        /// A hash of the feed's `base_url` when `cursor` was stored: another feed starts afresh.
        pub source_key: Option<String>,
        /// The department's opaque cursor, stored only once the page before it is recorded.
        pub cursor: Option<String>,
        pub lease_owner: Option<String>,
        pub lease_until: Option<i64>,
        pub next_poll_at: i64,
        /// Failed polls since the last good one (the backoff's exponent).
        pub failures: i32,
        /// `code: our description` of the last failure; never a department's answer.
        pub last_error: Option<String>,
        pub last_success_at: Option<i64>,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{ActiveModel, Column as C, Entity, Model};

/// One department's pull state.
pub async fn get<C2: ConnectionTrait>(conn: &C2, department: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(department.to_owned()).one(conn).await
}

/// Adds a row, due at once, for each department that has none (several brokers may race: the
/// first insert wins, the others change nothing).
pub async fn ensure<C2: ConnectionTrait>(
    conn: &C2,
    departments: &[String],
    now: i64,
) -> Result<(), DbErr> {
    if departments.is_empty() {
        return Ok(());
    }
    let rows = departments.iter().map(|id| ActiveModel {
        department_id: Set(id.clone()),
        source_key: Set(None),
        cursor: Set(None),
        lease_owner: Set(None),
        lease_until: Set(None),
        next_poll_at: Set(now),
        failures: Set(0),
        last_error: Set(None),
        last_success_at: Set(None),
        updated_at: Set(now),
    });
    Entity::insert_many(rows)
        .on_conflict_do_nothing()
        .exec(conn)
        .await?;
    Ok(())
}

/// Due and not held by anyone: `next_poll_at` passed and no live lease.
fn claimable(now: i64) -> Condition {
    Condition::all().add(C::NextPollAt.lte(now)).add(
        Condition::any()
            .add(C::LeaseUntil.is_null())
            .add(C::LeaseUntil.lte(now)),
    )
}

/// Whether any of `departments` is due (a read, so that an idle broker does not take SQLite's
/// write lock on every tick).
pub async fn any_due<C2: ConnectionTrait>(
    conn: &C2,
    departments: &[String],
    now: i64,
) -> Result<bool, DbErr> {
    if departments.is_empty() {
        return Ok(false);
    }
    Ok(Entity::find()
        .filter(claimable(now))
        .filter(C::DepartmentId.is_in(departments.iter().cloned()))
        .count(conn)
        .await?
        > 0)
}

/// Claims the due rows among `departments` for `owner` until `now + lease_ms`, in one statement:
/// `UPDATE … WHERE department_id IN (SELECT … FOR UPDATE SKIP LOCKED) AND <still claimable>`,
/// as the delivery worker claims deliveries (SQLite drops the lock clause and runs it under its
/// single write lock).
pub async fn claim<C2: ConnectionTrait>(
    conn: &C2,
    owner: &str,
    departments: &[String],
    now: i64,
    lease_ms: i64,
) -> Result<Vec<Model>, DbErr> {
    use sea_orm::sea_query::ExprTrait;
    if departments.is_empty() {
        return Ok(Vec::new());
    }
    let due = Query::select()
        .column(C::DepartmentId)
        .from(Entity)
        .and_where(Expr::col(C::NextPollAt).lte(now))
        .cond_where(
            Condition::any()
                .add(Expr::col(C::LeaseUntil).is_null())
                .add(Expr::col(C::LeaseUntil).lte(now)),
        )
        .and_where(Expr::col(C::DepartmentId).is_in(departments.iter().cloned()))
        .order_by(C::NextPollAt, Order::Asc)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .to_owned();
    Entity::update_many()
        .col_expr(C::LeaseOwner, Expr::value(owner))
        .col_expr(C::LeaseUntil, Expr::value(now.saturating_add(lease_ms)))
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::DepartmentId.in_subquery(due))
        .filter(claimable(now))
        .exec_with_returning(conn)
        .await
}

/// An update of `department`'s row that applies only while `owner` holds it.
fn held(owner: &str, department: &str, now: i64) -> sea_orm::UpdateMany<Entity> {
    Entity::update_many()
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::DepartmentId.eq(department))
        .filter(C::LeaseOwner.eq(owner))
}

/// Lease given back: the row is free for whoever finds it due first.
fn released(update: sea_orm::UpdateMany<Entity>) -> sea_orm::UpdateMany<Entity> {
    update
        .col_expr(C::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(C::LeaseUntil, Expr::value(Option::<i64>::None))
}

/// Extends `owner`'s lease to `now + lease_ms`; false when the row is no longer ours.
pub async fn renew<C2: ConnectionTrait>(
    conn: &C2,
    owner: &str,
    department: &str,
    now: i64,
    lease_ms: i64,
) -> Result<bool, DbErr> {
    let result = held(owner, department, now)
        .col_expr(C::LeaseUntil, Expr::value(now.saturating_add(lease_ms)))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// A page was read and its changes recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance<'a> {
    pub source_key: &'a str,
    pub cursor: &'a str,
    pub next_poll_at: i64,
    /// Keep the lease until then (the department has more at once), or give it back.
    pub keep_until: Option<i64>,
}

/// Stores the cursor after a page's changes are recorded, clears the failures, and keeps or
/// gives back the lease; false when the row is no longer ours (nothing changes then).
pub async fn advance<C2: ConnectionTrait>(
    conn: &C2,
    owner: &str,
    department: &str,
    now: i64,
    next: &Advance<'_>,
) -> Result<bool, DbErr> {
    let mut update = held(owner, department, now)
        .col_expr(C::SourceKey, Expr::value(next.source_key))
        .col_expr(C::Cursor, Expr::value(next.cursor))
        .col_expr(C::NextPollAt, Expr::value(next.next_poll_at))
        .col_expr(C::Failures, Expr::value(0))
        .col_expr(C::LastError, Expr::value(Option::<String>::None))
        .col_expr(C::LastSuccessAt, Expr::value(now));
    update = match next.keep_until {
        Some(until) => update.col_expr(C::LeaseUntil, Expr::value(until)),
        None => released(update),
    };
    Ok(update.exec(conn).await?.rows_affected == 1)
}

/// Records a failed poll (the cursor stays where it was) and gives back the lease until
/// `next_poll_at`; false when the row is no longer ours.
pub async fn fail<C2: ConnectionTrait>(
    conn: &C2,
    owner: &str,
    department: &str,
    now: i64,
    failures: i32,
    error: &str,
    next_poll_at: i64,
) -> Result<bool, DbErr> {
    let error: String = error.chars().take(250).collect();
    let result = released(held(owner, department, now))
        .col_expr(C::Failures, Expr::value(failures))
        .col_expr(C::LastError, Expr::value(error))
        .col_expr(C::NextPollAt, Expr::value(next_poll_at))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Gives back the lease without reading (shutting down, or a page budget spent), due again at
/// `next_poll_at`.
pub async fn release<C2: ConnectionTrait>(
    conn: &C2,
    owner: &str,
    department: &str,
    now: i64,
    next_poll_at: i64,
) -> Result<bool, DbErr> {
    let result = released(held(owner, department, now))
        .col_expr(C::NextPollAt, Expr::value(next_poll_at))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

#[cfg(test)]
mod tests;
