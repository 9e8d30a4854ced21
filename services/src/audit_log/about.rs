//! The records about one citizen of some actions, read for their notices (`crate::notices`):
//! newest first, or counted past a sequence number. Served by the `(citizen_id, seq)` index.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::record;
use super::{Action, AuditError};

fn about(citizen_id: &str, actions: &[Action]) -> sea_orm::Select<record::Entity> {
    record::Entity::find()
        .filter(record::Column::CitizenId.eq(citizen_id))
        .filter(record::Column::Action.is_in(actions.iter().map(|a| a.as_str())))
}

/// The newest `limit` records about the citizen among `actions`.
pub async fn newest<C: ConnectionTrait>(
    conn: &C,
    citizen_id: &str,
    actions: &[Action],
    limit: u64,
) -> Result<Vec<record::Model>, AuditError> {
    Ok(about(citizen_id, actions)
        .order_by_desc(record::Column::Seq)
        .limit(limit)
        .all(conn)
        .await?)
}

/// How many records about the citizen among `actions` come after `after_seq`.
pub async fn count_after<C: ConnectionTrait>(
    conn: &C,
    citizen_id: &str,
    actions: &[Action],
    after_seq: i64,
) -> Result<u64, AuditError> {
    Ok(about(citizen_id, actions)
        .filter(record::Column::Seq.gt(after_seq))
        .count(conn)
        .await?)
}

/// The records about the citizen among `actions` with `after < seq <= up_to`, newest first, at
/// most `limit` (a digest's notices).
pub async fn between<C: ConnectionTrait>(
    conn: &C,
    citizen_id: &str,
    actions: &[Action],
    (after, up_to): (i64, i64),
    limit: u64,
) -> Result<Vec<record::Model>, AuditError> {
    Ok(about(citizen_id, actions)
        .filter(record::Column::Seq.gt(after))
        .filter(record::Column::Seq.lte(up_to))
        .order_by_desc(record::Column::Seq)
        .limit(limit)
        .all(conn)
        .await?)
}

/// How many records about the citizen among `actions` have `after < seq <= up_to`.
pub async fn count_between<C: ConnectionTrait>(
    conn: &C,
    citizen_id: &str,
    actions: &[Action],
    (after, up_to): (i64, i64),
) -> Result<u64, AuditError> {
    Ok(about(citizen_id, actions)
        .filter(record::Column::Seq.gt(after))
        .filter(record::Column::Seq.lte(up_to))
        .count(conn)
        .await?)
}

/// Every citizen some record among `actions` with `after < seq <= up_to` is about (a digest
/// pass's candidates), in no particular order.
pub async fn citizens_between<C: ConnectionTrait>(
    conn: &C,
    actions: &[Action],
    (after, up_to): (i64, i64),
) -> Result<Vec<String>, AuditError> {
    let ids: Vec<Option<String>> = record::Entity::find()
        .select_only()
        .column(record::Column::CitizenId)
        .distinct()
        .filter(record::Column::Seq.gt(after))
        .filter(record::Column::Seq.lte(up_to))
        .filter(record::Column::CitizenId.is_not_null())
        .filter(record::Column::Action.is_in(actions.iter().map(|a| a.as_str())))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(ids.into_iter().flatten().collect())
}

/// The newest integrated record's sequence number (-1: none), or the newest written before
/// `before_ms` when given.
pub async fn last_seq<C: ConnectionTrait>(
    conn: &C,
    before_ms: Option<i64>,
) -> Result<i64, AuditError> {
    let mut query = record::Entity::find()
        .select_only()
        .column(record::Column::Seq)
        .order_by_desc(record::Column::Seq)
        .limit(1);
    if let Some(before) = before_ms {
        query = query.filter(record::Column::TimeMs.lt(before));
    }
    let seq: Option<i64> = query.into_tuple().one(conn).await?;
    Ok(seq.unwrap_or(-1))
}
