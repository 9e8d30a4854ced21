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
