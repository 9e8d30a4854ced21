//! Reading the log back: filters (from the API, the console and `broker audit export`), cursor
//! pages in seq order, records as shown to officers and citizens, and inclusion proofs against
//! the latest signed checkpoint.

use std::collections::BTreeMap;
use std::str::FromStr;

use audit::{Action, Hash, Outcome, Record};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use super::AuditError;
use super::entities::{checkpoint, node, record};

/// A request for records the broker cannot act on. Each variant has a stable code.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("the filter `{field}` is invalid: {reason}")]
    InvalidFilter { field: &'static str, reason: String },
    #[error("the cursor is invalid; use the `next_cursor` of a previous page")]
    InvalidCursor,
}

/// Most records per page.
pub const MAX_LIMIT: u64 = 500;
/// Records per page when the caller does not say.
pub const DEFAULT_LIMIT: u64 = 50;

/// The filters as sent (query string or form); empty strings mean "any".
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterParams {
    /// Internal citizen id.
    pub citizen: Option<String>,
    /// Department id.
    pub department: Option<String>,
    /// Purpose code.
    pub purpose: Option<String>,
    /// Action (`release`, `release-denied`, `consent-granted`, …).
    pub action: Option<String>,
    /// Outcome (`permit`, `deny`, `ok`, `error`).
    pub outcome: Option<String>,
    /// A reason code among the record's `reasons` (`no_consent`, `consent_revoked`,
    /// `policy_denied`, `insufficient_scope`, `assertion_replayed`, …).
    pub reason: Option<String>,
    /// From this time (RFC 3339, or a date meaning its start, UTC), inclusive.
    pub from: Option<String>,
    /// Until this time (RFC 3339, exclusive; or a date, the whole day included).
    pub to: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9]{0,19}$")]
    pub cursor: Option<String>,
    /// Records per page (1 to 500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// Checked filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub citizen_id: Option<String>,
    pub department_id: Option<String>,
    pub purpose: Option<String>,
    pub action: Option<Action>,
    pub outcome: Option<Outcome>,
    /// A reason code the record must carry. Reasons live in the canonical entry, not in an
    /// indexed column: this criterion is applied to the rows the others select (see
    /// [`newest_first`]).
    pub reason: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn id_filter(field: &'static str, v: &Option<String>) -> Result<Option<String>, QueryError> {
    let Some(v) = nonempty(v) else {
        return Ok(None);
    };
    if v.len() > 64
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
    {
        return Err(QueryError::InvalidFilter {
            field,
            reason: "use letters, digits, `-`, `_`, `.` or `:` (at most 64)".into(),
        });
    }
    Ok(Some(v))
}

/// Parses a time bound: RFC 3339, or a date (`YYYY-MM-DD`, UTC) meaning its start, or for an
/// end bound the start of the next day (so the whole day is included).
pub fn parse_time(field: &'static str, text: &str, end: bool) -> Result<i64, QueryError> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    let day =
        NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| QueryError::InvalidFilter {
            field,
            reason: "use an RFC 3339 time (`2026-11-26T14:05:00Z`) or a date (`2026-11-26`)".into(),
        })?;
    let day = if end {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    Ok(day
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or(0))
}

impl FilterParams {
    pub fn filter(&self) -> Result<Filter, QueryError> {
        let action = nonempty(&self.action)
            .map(|a| {
                Action::from_str(&a).map_err(|_| QueryError::InvalidFilter {
                    field: "action",
                    reason: "not an audit action".into(),
                })
            })
            .transpose()?;
        let outcome = nonempty(&self.outcome)
            .map(|o| {
                Outcome::from_str(&o).map_err(|_| QueryError::InvalidFilter {
                    field: "outcome",
                    reason: "use `permit`, `deny`, `ok` or `error`".into(),
                })
            })
            .transpose()?;
        let from_ms = nonempty(&self.from)
            .map(|t| parse_time("from", &t, false))
            .transpose()?;
        let to_ms = nonempty(&self.to)
            .map(|t| parse_time("to", &t, true))
            .transpose()?;
        if let (Some(f), Some(t)) = (from_ms, to_ms)
            && f >= t
        {
            return Err(QueryError::InvalidFilter {
                field: "to",
                reason: "must be after `from`".into(),
            });
        }
        let reason = nonempty(&self.reason)
            .map(|r| {
                let code = r.len() <= 64
                    && r.starts_with(|c: char| c.is_ascii_lowercase())
                    && r.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                code.then_some(r).ok_or_else(|| QueryError::InvalidFilter {
                    field: "reason",
                    reason:
                        "use a reason code such as `no_consent` (lowercase letters, digits, `_`)"
                            .into(),
                })
            })
            .transpose()?;
        Ok(Filter {
            citizen_id: id_filter("citizen", &self.citizen)?,
            department_id: id_filter("department", &self.department)?,
            purpose: id_filter("purpose", &self.purpose)?,
            action,
            outcome,
            reason,
            from_ms,
            to_ms,
        })
    }

    pub fn limit(&self) -> Result<u64, QueryError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(QueryError::InvalidFilter {
                field: "limit",
                reason: format!("use 1 to {MAX_LIMIT}"),
            }),
        }
    }

    /// The seq to continue below (newest first).
    pub fn cursor(&self) -> Result<Option<u64>, QueryError> {
        parse_cursor(self.cursor.as_deref())
    }
}

/// Most digits in a cursor: a seq or tree size is an `i64`, so 19 (the documented pattern,
/// `^[0-9]{0,19}$`).
const MAX_CURSOR_DIGITS: usize = 19;

/// A page's cursor exactly as issued (digits only: no sign, no spaces, at most 19), or none or
/// empty for the first page.
pub fn parse_cursor(cursor: Option<&str>) -> Result<Option<u64>, QueryError> {
    cursor
        .filter(|c| !c.is_empty())
        .map(|c| {
            (c.len() <= MAX_CURSOR_DIGITS && c.bytes().all(|b| b.is_ascii_digit()))
                .then(|| c.parse::<u64>().ok())
                .flatten()
                .ok_or(QueryError::InvalidCursor)
        })
        .transpose()
}

impl Filter {
    /// The filters as small facts for the audit record of a search (ids and codes, no values).
    pub fn describe(&self) -> BTreeMap<String, String> {
        let mut d = BTreeMap::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                d.insert(format!("filter_{k}"), v);
            }
        };
        put("citizen", self.citizen_id.clone());
        put("department", self.department_id.clone());
        put("purpose", self.purpose.clone());
        put("action", self.action.map(|a| a.as_str().to_owned()));
        put("outcome", self.outcome.map(|o| o.as_str().to_owned()));
        put("reason", self.reason.clone());
        put("from_ms", self.from_ms.map(|t| t.to_string()));
        put("to_ms", self.to_ms.map(|t| t.to_string()));
        d
    }

    /// Whether `row` passes the criteria that are not columns (the reason).
    pub fn admits(&self, row: &record::Model) -> bool {
        match &self.reason {
            None => true,
            Some(reason) => Record::from_canonical(&row.entry)
                .is_ok_and(|r| r.reasons.iter().any(|x| x == reason)),
        }
    }

    fn condition(&self) -> Condition {
        let mut c = Condition::all();
        if let Some(v) = &self.citizen_id {
            c = c.add(record::Column::CitizenId.eq(v.clone()));
        }
        if let Some(v) = &self.department_id {
            c = c.add(record::Column::DepartmentId.eq(v.clone()));
        }
        if let Some(v) = &self.purpose {
            c = c.add(record::Column::Purpose.eq(v.clone()));
        }
        if let Some(v) = self.action {
            c = c.add(record::Column::Action.eq(v.as_str()));
        }
        if let Some(v) = self.outcome {
            c = c.add(record::Column::Outcome.eq(v.as_str()));
        }
        if let Some(v) = self.from_ms {
            c = c.add(record::Column::TimeMs.gte(v));
        }
        if let Some(v) = self.to_ms {
            c = c.add(record::Column::TimeMs.lt(v));
        }
        c
    }
}

/// One page, newest first: records below `before` (a seq), at most `limit`, and the cursor of
/// the next page when there may be one.
pub async fn newest_first<C: ConnectionTrait>(
    conn: &C,
    filter: &Filter,
    before: Option<u64>,
    limit: u64,
) -> Result<(Vec<record::Model>, Option<String>), AuditError> {
    let mut below = before.map(|b| i64::try_from(b).unwrap_or(i64::MAX));
    let mut rows = Vec::new();
    // Without a reason, one query. With one, the column criteria select rows in batches, newest
    // first, until a page and one more are found or none are left.
    let batch = if filter.reason.is_some() {
        REASON_SCAN_BATCH.max(limit + 1)
    } else {
        limit + 1
    };
    loop {
        let mut c = filter.condition();
        if let Some(b) = below {
            c = c.add(record::Column::Seq.lt(b));
        }
        let found = record::Entity::find()
            .filter(c)
            .order_by_desc(record::Column::Seq)
            .limit(batch)
            .all(conn)
            .await?;
        let exhausted = (found.len() as u64) < batch;
        for row in found {
            below = Some(row.seq);
            if filter.admits(&row) {
                rows.push(row);
                if rows.len() as u64 > limit {
                    break;
                }
            }
        }
        if exhausted || rows.len() as u64 > limit {
            break;
        }
    }
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next = more
        .then(|| rows.last().map(|r| r.seq.to_string()))
        .flatten();
    Ok((rows, next))
}

/// Rows read per query when searching by reason (see [`Filter::reason`]).
const REASON_SCAN_BATCH: u64 = 512;

/// Records matching `filter`'s column criteria in seq order, after `after` (a seq), at most
/// `limit`. The reason is not applied here: callers page on these rows and keep those
/// [`Filter::admits`].
pub async fn oldest_first<C: ConnectionTrait>(
    conn: &C,
    filter: &Filter,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<record::Model>, AuditError> {
    let mut c = filter.condition();
    if let Some(a) = after {
        c = c.add(record::Column::Seq.gt(a));
    }
    Ok(record::Entity::find()
        .filter(c)
        .order_by_asc(record::Column::Seq)
        .limit(limit)
        .all(conn)
        .await?)
}

pub async fn by_id<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<record::Model>, AuditError> {
    Ok(record::Entity::find()
        .filter(record::Column::Id.eq(id))
        .one(conn)
        .await?)
}

/// A record as officers, machines and the citizen it is about see it (names, never values).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecordView {
    pub seq: u64,
    pub id: String,
    /// RFC 3339, UTC.
    pub time: String,
    pub time_ms: i64,
    pub action: String,
    pub outcome: String,
    pub actor_kind: String,
    pub actor_id: String,
    pub citizen_id: Option<String>,
    pub department_id: Option<String>,
    pub client_id: Option<String>,
    pub purpose: Option<String>,
    pub consent_id: Option<String>,
    pub request_id: Option<String>,
    pub attributes: Vec<String>,
    pub reasons: Vec<String>,
    pub detail: BTreeMap<String, String>,
    /// `SHA-256(0x00 ‖ entry)`, hex: the leaf an inclusion proof starts from.
    pub leaf_hash: String,
    /// The canonical entry bytes (base64url), exactly as hashed, so anyone can recompute the leaf.
    pub entry: String,
}

impl RecordView {
    pub fn of(row: &record::Model) -> Self {
        let record = Record::from_canonical(&row.entry).ok();
        let r = record.as_ref();
        Self {
            seq: u64::try_from(row.seq).unwrap_or(0),
            id: row.id.clone(),
            time: rfc3339(row.time_ms),
            time_ms: row.time_ms,
            action: row.action.clone(),
            outcome: row.outcome.clone(),
            actor_kind: r
                .map(|r| r.actor.kind.as_str().to_owned())
                .unwrap_or_default(),
            actor_id: r.map(|r| r.actor.id.clone()).unwrap_or_default(),
            citizen_id: row.citizen_id.clone(),
            department_id: row.department_id.clone(),
            client_id: r.and_then(|r| r.client_id.clone()),
            purpose: row.purpose.clone(),
            consent_id: r.and_then(|r| r.consent_id.clone()),
            request_id: r.and_then(|r| r.request_id.clone()),
            attributes: r.map(|r| r.attributes.clone()).unwrap_or_default(),
            reasons: r.map(|r| r.reasons.clone()).unwrap_or_default(),
            detail: r.map(|r| r.detail.clone()).unwrap_or_default(),
            leaf_hash: hex::encode(&row.leaf_hash),
            entry: crate::jose::b64(&row.entry),
        }
    }
}

pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// A signed checkpoint as published.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CheckpointView {
    pub tree_size: u64,
    /// Hex.
    pub root_hash: String,
    pub time: String,
    pub time_ms: i64,
    /// Compact JWS (ES256, key in `/jwks.json`) whose payload is the canonical checkpoint.
    pub jws: String,
}

impl CheckpointView {
    pub fn of(row: &checkpoint::Model) -> Self {
        Self {
            tree_size: u64::try_from(row.tree_size).unwrap_or(0),
            root_hash: hex::encode(&row.root_hash),
            time: rfc3339(row.time_ms),
            time_ms: row.time_ms,
            jws: row.jws.clone(),
        }
    }
}

/// An RFC 9162 inclusion proof of one record in the tree of a signed checkpoint.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InclusionProof {
    /// The record's leaf index (its seq).
    pub leaf_index: u64,
    /// Hex `SHA-256(0x00 ‖ entry)`.
    pub leaf_hash: String,
    /// Sibling hashes from the leaf up (hex), RFC 9162 §2.1.3.
    pub path: Vec<String>,
    /// The checkpoint the path leads to.
    pub checkpoint: CheckpointView,
}

/// The newest checkpoint.
pub async fn latest_checkpoint<C: ConnectionTrait>(
    conn: &C,
) -> Result<Option<checkpoint::Model>, AuditError> {
    Ok(checkpoint::Entity::find()
        .order_by_desc(checkpoint::Column::TreeSize)
        .one(conn)
        .await?)
}

/// Checkpoints newest first, below `before` (a tree size).
pub async fn checkpoints<C: ConnectionTrait>(
    conn: &C,
    before: Option<u64>,
    limit: u64,
) -> Result<(Vec<checkpoint::Model>, Option<String>), AuditError> {
    let mut q = checkpoint::Entity::find().order_by_desc(checkpoint::Column::TreeSize);
    if let Some(b) = before {
        q = q.filter(checkpoint::Column::TreeSize.lt(i64::try_from(b).unwrap_or(i64::MAX)));
    }
    let mut rows = q.limit(limit + 1).all(conn).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next = more
        .then(|| rows.last().map(|r| r.tree_size.to_string()))
        .flatten();
    Ok((rows, next))
}

/// The inclusion proof of `row` against `cp`, or `None` when the checkpoint does not cover it.
pub async fn inclusion<C: ConnectionTrait>(
    conn: &C,
    row: &record::Model,
    cp: &checkpoint::Model,
) -> Result<Option<InclusionProof>, AuditError> {
    let (Ok(seq), Ok(size)) = (u64::try_from(row.seq), u64::try_from(cp.tree_size)) else {
        return Ok(None);
    };
    if seq >= size {
        return Ok(None);
    }
    let plan = audit::inclusion_plan(seq, size)?;
    let mut any = Condition::any();
    for id in plan.nodes() {
        any = any.add(
            Condition::all()
                .add(node::Column::Level.eq(i16::from(id.level())))
                .add(node::Column::Idx.eq(id.index() as i64)),
        );
    }
    let nodes: BTreeMap<audit::NodeId, Hash> = if plan.nodes().is_empty() {
        BTreeMap::new()
    } else {
        node::Entity::find()
            .filter(any)
            .all(conn)
            .await?
            .into_iter()
            .filter_map(|n| {
                let id =
                    audit::NodeId::new(u8::try_from(n.level).ok()?, u64::try_from(n.idx).ok()?)?;
                Some((id, Hash::from_slice(&n.hash).ok()?))
            })
            .collect()
    };
    let path = plan.assemble(&nodes)?;
    Ok(Some(InclusionProof {
        leaf_index: seq,
        leaf_hash: hex::encode(&row.leaf_hash),
        path: path.iter().map(Hash::to_hex).collect(),
        checkpoint: CheckpointView::of(cp),
    }))
}

#[cfg(test)]
mod proptests;
