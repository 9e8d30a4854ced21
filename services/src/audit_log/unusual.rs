//! "Unusual access": departments whose releases or denials in the last hour or the last day
//! exceed their own recent baseline by a configured factor (`[audit] unusual_*`), and departments
//! whose calls are refused again and again (`access-refused`: replayed assertions, a disabled
//! department still calling, a scope it does not hold).
//!
//! Refusals are judged without a baseline: a client refused `unusual_min_count` times in an hour
//! or a day is unusual however often that happened before, because a department that keeps
//! knocking on a closed door is exactly what an officer must see — a baseline would teach the
//! view to accept it.
//!
//! The baseline of a department is its average per hour and per day over the
//! `unusual_baseline_days` days before the last day, so a burst does not raise its own bar. A
//! department with no history has a baseline of zero: any count from `unusual_min_count` up is
//! flagged.

use std::collections::BTreeMap;

use audit::Action;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;

use super::AuditConfig;
use super::AuditError;
use super::entities::record;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// One department and action, with its counts and whether it stands out.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Activity {
    pub department_id: String,
    /// `release`, `release-denied` or `access-refused`.
    pub action: String,
    pub last_hour: u64,
    pub last_day: u64,
    /// Average per hour over the baseline window.
    pub hourly_baseline: f64,
    /// Average per day over the baseline window.
    pub daily_baseline: f64,
    pub hour_unusual: bool,
    pub day_unusual: bool,
}

impl Activity {
    pub fn unusual(&self) -> bool {
        self.hour_unusual || self.day_unusual
    }
}

type Counts = BTreeMap<(String, String), u64>;

async fn counts<C: ConnectionTrait>(conn: &C, from: i64, to: i64) -> Result<Counts, AuditError> {
    let rows: Vec<(Option<String>, String, i64)> = record::Entity::find()
        .select_only()
        .column(record::Column::DepartmentId)
        .column(record::Column::Action)
        .expr_as(Func::count(Expr::col(record::Column::Seq)), "n")
        .filter(record::Column::TimeMs.gte(from))
        .filter(record::Column::TimeMs.lt(to))
        .filter(record::Column::DepartmentId.is_not_null())
        .filter(record::Column::Action.is_in([
            Action::Release.as_str(),
            Action::ReleaseDenied.as_str(),
            Action::AccessRefused.as_str(),
        ]))
        .group_by(record::Column::DepartmentId)
        .group_by(record::Column::Action)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(d, a, n)| Some(((d?, a), u64::try_from(n).unwrap_or(0))))
        .collect())
}

/// Every department and action seen in the last day or the baseline, most unusual first.
pub async fn activity<C: ConnectionTrait>(
    conn: &C,
    config: &AuditConfig,
    now_ms: i64,
) -> Result<Vec<Activity>, AuditError> {
    let days = config.unusual_baseline_days.max(1);
    let baseline_end = now_ms - DAY_MS;
    let baseline_start = baseline_end - (days as i64) * DAY_MS;
    let hour = counts(conn, now_ms - HOUR_MS, now_ms + 1).await?;
    let day = counts(conn, baseline_end, now_ms + 1).await?;
    let base = counts(conn, baseline_start, baseline_end).await?;
    let mut keys: Vec<&(String, String)> = day.keys().chain(base.keys()).collect();
    keys.sort();
    keys.dedup();
    let flag = |action: &str, count: u64, baseline: f64| {
        count >= config.unusual_min_count
            && (action == Action::AccessRefused.as_str()
                || (count as f64) > config.unusual_factor * baseline)
    };
    let mut out: Vec<Activity> = keys
        .into_iter()
        .map(|key| {
            let base_total = base.get(key).copied().unwrap_or(0) as f64;
            let hourly_baseline = base_total / (days as f64 * 24.0);
            let daily_baseline = base_total / days as f64;
            let last_hour = hour.get(key).copied().unwrap_or(0);
            let last_day = day.get(key).copied().unwrap_or(0);
            Activity {
                department_id: key.0.clone(),
                action: key.1.clone(),
                last_hour,
                last_day,
                hourly_baseline,
                daily_baseline,
                hour_unusual: flag(key.1.as_str(), last_hour, hourly_baseline),
                day_unusual: flag(key.1.as_str(), last_day, daily_baseline),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.unusual()
            .cmp(&a.unusual())
            .then(b.last_hour.cmp(&a.last_hour))
            .then(b.last_day.cmp(&a.last_day))
            .then(a.department_id.cmp(&b.department_id))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use audit::{Actor, ActorKind, CheckpointPolicy, Outcome};

    use super::*;
    use crate::audit_log::AuditLog;
    use store::testdb::TestDb;

    #[tokio::test]
    async fn a_burst_above_a_departments_own_baseline_is_flagged_and_steady_traffic_is_not() {
        let test = TestDb::new().await.unwrap();
        let db = test.migrated().await.unwrap();
        let dir = std::env::temp_dir().join(format!("tuo-unusual-{}", uuid::Uuid::now_v7()));
        let keys = Arc::new(crate::keys::SigningKeys::open_dir(&dir, 60).unwrap());
        let log = AuditLog::new(
            db.clone(),
            keys,
            CheckpointPolicy {
                every_records: 0,
                every_ms: 0,
            },
        );
        let now = 1_800_000_000_000;
        let append = |dept: &'static str, action: Action, at: i64| {
            let log = log.clone();
            async move {
                let mut r = AuditLog::record(
                    action,
                    Outcome::Permit,
                    Actor::new(ActorKind::Department, dept),
                );
                r.time_ms = at;
                r.department_id = Some(dept.into());
                log.append(r).await.unwrap();
            }
        };
        // Both: 20 releases a day over the baseline week (20 / 24 ≈ 0.83 an hour).
        for day in 1..=7 {
            for i in 0..20 {
                let at = now - DAY_MS - day * DAY_MS + i * HOUR_MS;
                append("revenue-agency", Action::Release, at).await;
                append("passport-office", Action::Release, at).await;
            }
        }
        // The revenue agency: 12 releases in the last hour (far above 3 × 0.83, under 3 × 20 a day).
        for i in 0..12 {
            append("revenue-agency", Action::Release, now - 60_000 * i - 1).await;
        }
        // The passport office: its usual pace (1 in the last hour, 18 in the day).
        for i in 0..18 {
            append("passport-office", Action::Release, now - i * HOUR_MS - 1).await;
        }
        // Denials below the minimum count are never flagged, whatever the baseline.
        for i in 0..3 {
            append("passport-office", Action::ReleaseDenied, now - i - 1).await;
        }
        log.settle().await.unwrap();
        let config = AuditConfig::default();
        let all = activity(&db, &config, now).await.unwrap();
        let get = |d: &str, a: Action| {
            all.iter()
                .find(|x| x.department_id == d && x.action == a.as_str())
                .unwrap()
                .clone()
        };
        let revenue = get("revenue-agency", Action::Release);
        assert_eq!((revenue.last_hour, revenue.last_day), (12, 12));
        assert!((revenue.daily_baseline - 20.0).abs() < 1e-9);
        assert!(revenue.hour_unusual && !revenue.day_unusual, "{revenue:?}");
        let passport = get("passport-office", Action::Release);
        assert_eq!(passport.last_day, 18);
        assert!(!passport.unusual(), "{passport:?}");
        let denied = get("passport-office", Action::ReleaseDenied);
        assert_eq!(denied.last_hour, 3);
        assert!(!denied.unusual(), "3 is under the minimum count");
        assert_eq!(all[0], revenue, "the unusual come first");
        // Refusals are flagged once repeated, whatever their own history: the revenue agency
        // was refused as often every day of the baseline week and is still flagged.
        for day in 1..=7 {
            for i in 0..6 {
                let at = now - DAY_MS - day * DAY_MS + i * HOUR_MS;
                append("revenue-agency", Action::AccessRefused, at).await;
            }
        }
        for i in 0..12 {
            append("revenue-agency", Action::AccessRefused, now - i - 1).await;
            append("passport-office", Action::AccessRefused, now - i - 1).await;
        }
        // Under the minimum count: not flagged.
        append("vital-statistics", Action::AccessRefused, now - 1).await;
        log.settle().await.unwrap();
        let all = activity(&db, &config, now).await.unwrap();
        let get = |d: &str, a: Action| {
            all.iter()
                .find(|x| x.department_id == d && x.action == a.as_str())
                .unwrap()
                .clone()
        };
        let knocking = get("revenue-agency", Action::AccessRefused);
        assert_eq!(knocking.last_hour, 12);
        // 12 a day is under 3 × its usual 6: only the refusal rule flags the day.
        assert!((knocking.daily_baseline - 6.0).abs() < 1e-9, "{knocking:?}");
        assert!(
            knocking.hour_unusual && knocking.day_unusual,
            "{knocking:?}"
        );
        assert!(get("passport-office", Action::AccessRefused).unusual());
        assert!(!get("vital-statistics", Action::AccessRefused).unusual());
        // A lower factor makes the passport office's day unusual too (18 > 0.5 × 20).
        let strict = AuditConfig {
            unusual_factor: 0.5,
            ..AuditConfig::default()
        };
        let all = activity(&db, &strict, now).await.unwrap();
        assert!(
            all.iter()
                .any(|a| a.department_id == "passport-office" && a.day_unusual)
        );
    }
}
