//! Never stale: a delivery whose values a newer change of the same attributes, for the same
//! citizen and department, has replaced is not sent after it.
//!
//! When a change queues its deliveries ([`super::outbox::record`]), every older delivery of
//! values to the same department about the same citizen that is still pending, not held by a
//! worker, and whose attributes the new deliveries to that department all cover, is marked
//! `superseded` in the same transaction (with a `delivery-cancelled` audit record, reason
//! `superseded`). A delivery held by a worker at that moment goes out first, as its order says,
//! and the newer one follows it. A dead letter is left as it is, but `broker deliveries retry`
//! refuses to send one that [`superseded_by`] names a newer delivery for, unless forced.
//!
//! INVARIANT: runs under the citizen's lock (the outbox takes it first), so no other change of
//! this citizen queues or supersedes in between.

use std::collections::{BTreeSet, HashMap};

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::EventKind;
use super::entities::delivery;
use super::worker::PENDING;
use crate::audit_log::AuditLog;
use crate::error::Error;

/// A delivery is `superseded`: never sent, a newer change of its attributes replaced it. Its
/// `last_error` is `superseded: <the newer delivery's id>`.
pub const SUPERSEDED: &str = "superseded";
/// The reason code (audit `reasons`, and the start of `last_error`).
pub const REASON: &str = "superseded";

/// A delivery of values just queued: its id, department and attribute names.
#[derive(Debug, Clone)]
pub struct Fresh {
    pub id: String,
    pub department_id: String,
    pub attributes: Vec<String>,
}

/// The event words of deliveries that carry values (only those are superseded).
fn value_events() -> [&'static str; 4] {
    [
        EventKind::Update,
        EventKind::Move,
        EventKind::NameChange,
        EventKind::Death,
    ]
    .map(EventKind::as_str)
}

fn names(row: &delivery::Model) -> BTreeSet<String> {
    serde_json::from_value::<Vec<String>>(row.attributes.clone())
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// Marks `superseded` the older pending deliveries of `citizen_id` that `fresh` replaces (see
/// the module docs), each with its audit record, in the caller's transaction. Returns them.
pub async fn supersede<C: ConnectionTrait>(
    conn: &C,
    log: &AuditLog,
    citizen_id: &str,
    fresh: &[Fresh],
    now: i64,
) -> Result<Vec<delivery::Model>, Error> {
    use delivery::Column as C;
    if fresh.is_empty() {
        return Ok(Vec::new());
    }
    // Per department: every attribute the new deliveries carry, and which delivery carries each.
    let mut covered: HashMap<&str, HashMap<&str, &str>> = HashMap::new();
    for f in fresh {
        let by_name = covered.entry(f.department_id.as_str()).or_default();
        for name in &f.attributes {
            by_name.entry(name.as_str()).or_insert(f.id.as_str());
        }
    }
    let not_held = || {
        Condition::any()
            .add(C::LeaseUntil.is_null())
            .add(C::LeaseUntil.lte(now))
    };
    let candidates = delivery::Entity::find()
        .filter(C::CitizenId.eq(citizen_id))
        .filter(C::DepartmentId.is_in(covered.keys().copied()))
        .filter(C::Status.eq(PENDING))
        .filter(C::Event.is_in(value_events()))
        .filter(C::Id.is_not_in(fresh.iter().map(|f| f.id.clone())))
        .filter(not_held())
        .all(conn)
        .await?;
    let mut replaced: Vec<(i64, String)> = Vec::new();
    for row in &candidates {
        let Some(by_name) = covered.get(row.department_id.as_str()) else {
            continue;
        };
        let attributes = names(row);
        if attributes.is_empty() || !attributes.iter().all(|a| by_name.contains_key(a.as_str())) {
            continue;
        }
        let by = attributes
            .iter()
            .find_map(|a| by_name.get(a.as_str()))
            .copied()
            .unwrap_or_default();
        replaced.push((row.seq, by.to_owned()));
    }
    let mut done = Vec::with_capacity(replaced.len());
    let mut records = Vec::with_capacity(replaced.len());
    for (seq, by) in replaced {
        // Still pending and unheld: a worker that claimed it since sends it (before the new one).
        let rows = delivery::Entity::update_many()
            .col_expr(C::Status, Expr::value(SUPERSEDED))
            .col_expr(C::LastError, Expr::value(format!("{REASON}: {by}")))
            .col_expr(C::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(C::LeaseUntil, Expr::value(Option::<i64>::None))
            .col_expr(C::UpdatedAt, Expr::value(now))
            .filter(C::Seq.eq(seq))
            .filter(C::Status.eq(PENDING))
            .filter(not_held())
            .exec_with_returning(conn)
            .await?;
        for row in rows {
            let mut record = super::outbox::cancelled_record(&row, REASON);
            record.detail.insert("superseded_by".into(), by.clone());
            records.push(record);
            done.push(row);
        }
    }
    log.append_many_in(conn, records).await?;
    Ok(done)
}

/// The newest later delivery of values to the same department about the same citizen that
/// carries every attribute `row` carries (whatever became of it): `row`'s change is then
/// superseded, and sending it now would put an old value after a newer one.
pub async fn superseded_by<C: ConnectionTrait>(
    conn: &C,
    row: &delivery::Model,
) -> Result<Option<delivery::Model>, sea_orm::DbErr> {
    use delivery::Column as C;
    let attributes = names(row);
    if attributes.is_empty() || !value_events().contains(&row.event.as_str()) {
        return Ok(None);
    }
    let later = delivery::Entity::find()
        .filter(C::CitizenId.eq(row.citizen_id.clone()))
        .filter(C::DepartmentId.eq(row.department_id.clone()))
        .filter(C::Event.is_in(value_events()))
        .filter(C::Seq.gt(row.seq))
        .order_by_desc(C::Seq)
        .all(conn)
        .await?;
    // Any later delivery (or several, one per consent) that together carry every attribute.
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut newest = None;
    for other in later {
        let theirs = names(&other);
        if theirs.iter().any(|a| attributes.contains(a)) {
            seen.extend(theirs);
            newest.get_or_insert(other);
        }
    }
    Ok(attributes
        .iter()
        .all(|a| seen.contains(a))
        .then_some(newest)
        .flatten())
}
