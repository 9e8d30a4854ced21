//! What the relay tells operators: Prometheus series (through [`Metrics`]) and one structured
//! WARN per failed attempt and per dead letter.
//!
//! INVARIANT: label values come from closed sets only: department ids from the registry (the
//! worker's claimed rows name registered departments; the gauges are set for the registry's
//! departments only), outcomes and error classes from the enums below. No citizen id, delivery
//! id, value or receiver text is ever a label; the WARN lines name the delivery id and the
//! error class, never a value or what the receiver answered.

use std::collections::HashMap;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect};

use super::entities::delivery;
use super::worker::{FAILED, PENDING};
use crate::metrics::{Metrics, label_value};

/// Settled deliveries, by `department` and `outcome` ([`Settled`]).
pub const DELIVERIES: &str = "broker_relay_deliveries_total";
/// Attempts handed to (or failed before) the department's adapter, by `department` and `result`
/// (`delivered`, or the [`ErrorClass`] of the failure).
pub const ATTEMPTS: &str = "broker_relay_attempts_total";
/// Deliveries moved to the dead letter, by `department` and `class`.
pub const DEAD_LETTERS: &str = "broker_relay_dead_letters_total";
/// Pending deliveries per `department` (refreshed by the worker).
pub const QUEUE_DEPTH: &str = "broker_relay_queue_depth";
/// Age in seconds of the oldest pending delivery per `department` (0 when none).
pub const OLDEST_PENDING: &str = "broker_relay_oldest_pending_age_seconds";
/// Dead letters stored now (status `failed`) per `department`: survives restarts, unlike the
/// counter, and falls when an operator retries them.
pub const DEAD_LETTERS_STORED: &str = "broker_relay_dead_letters";
/// Seconds from the change being recorded to its delivery being accepted, per `department`.
pub const LATENCY: &str = "broker_relay_delivery_latency_seconds";
const LATENCY_HELP: &str = "Time from a change being recorded to its delivery being accepted.";
/// From a fast push (tens of milliseconds) to retries over hours and a nightly file drop.
const LATENCY_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0,
];

/// How a delivery was settled (the `outcome` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Delivered,
    /// A failed attempt, to be tried again.
    Retried,
    DeadLettered,
    Cancelled,
    /// Replaced by a newer change of the same attributes before it was sent.
    Superseded,
}

impl Settled {
    pub fn as_str(self) -> &'static str {
        match self {
            Settled::Delivered => "delivered",
            Settled::Retried => "retried",
            Settled::DeadLettered => "dead_lettered",
            Settled::Cancelled => "cancelled",
            Settled::Superseded => "superseded",
        }
    }
}

/// What kind of failure an attempt met: what an operator (and the citizen's page) needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The department's receiver answered and refused it for good (a 4xx other than 408/429).
    Refused,
    /// The receiver could not be reached or did not accept it: no connection, a timeout, a
    /// redirect, 5xx, 408, 429, a drop directory that cannot be written.
    Unreachable,
    /// The broker's own failure (its database, the department's settings, building the SET).
    Broker,
}

/// Codes the broker gives its own failures (the worker's, the SET builder's, the adapters'
/// configuration); anything else is the department's side.
const BROKER_CODES: &[&str] = &[
    "database_error",
    "internal_error",
    "department_unknown",
    "no_adapter",
    "adapter_config",
    "adapter_fault",
    "change_missing",
    "lease_lost",
    "signing_failed",
    "value_missing",
    "citizen_erased",
    "change_unreadable",
];

impl ErrorClass {
    /// The class of a failed attempt with `code`; `final_refusal` when the outcome was a
    /// rejection (not to be retried).
    pub fn of(code: &str, final_refusal: bool) -> Self {
        if BROKER_CODES.contains(&code) {
            ErrorClass::Broker
        } else if final_refusal {
            ErrorClass::Refused
        } else {
            ErrorClass::Unreachable
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Refused => "refused",
            ErrorClass::Unreachable => "unreachable",
            ErrorClass::Broker => "broker",
        }
    }

    /// The stored word back (`last_error` starts with it), `None` for older rows.
    pub fn parse(s: &str) -> Option<Self> {
        [
            ErrorClass::Refused,
            ErrorClass::Unreachable,
            ErrorClass::Broker,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// How many characters of a failure's description are kept in `last_error`.
pub const EXCERPT_CHARS: usize = 120;
/// How many characters of its code.
const CODE_CHARS: usize = 48;

/// What `last_error` keeps of a failed attempt: `<class>: <code>: <excerpt>`, where the code is
/// reduced to `[a-z0-9_.-]` and the excerpt to [`EXCERPT_CHARS`] characters with no control or
/// bidirectional-formatting character and whitespace collapsed. Never a value: the description
/// is the adapter's (already scrubbed of anything it sent), and this is the last line of defence
/// against a receiver's long or hostile text.
pub fn stored_error(class: ErrorClass, code: &str, description: &str) -> String {
    let code: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        .take(CODE_CHARS)
        .collect::<String>()
        .to_ascii_lowercase();
    let code = if code.is_empty() { "error" } else { &code };
    format!("{}: {code}: {}", class.as_str(), excerpt(description))
}

/// `text` without control or formatting characters, whitespace collapsed, cut to
/// [`EXCERPT_CHARS`] characters (the last one `…` when cut).
pub fn excerpt(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if invisible(c) { ' ' } else { c })
        .collect();
    let joined = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= EXCERPT_CHARS {
        return joined;
    }
    let mut cut: String = joined.chars().take(EXCERPT_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Control characters, and the zero-width and bidirectional formatting ones that can make a
/// line read differently from what it holds.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
}

/// The class and code of a stored `last_error` (`None` for a cancellation's bare reason code or
/// a row stored before classes were).
pub fn parse_stored(last_error: &str) -> Option<(ErrorClass, &str)> {
    let mut parts = last_error.splitn(3, ": ");
    let class = ErrorClass::parse(parts.next()?)?;
    Some((class, parts.next()?))
}

/// One settled delivery, told to the metrics and (when it failed) the log after its outcome is
/// committed.
#[derive(Debug, Clone)]
pub struct Told {
    pub department: String,
    pub delivery: String,
    pub settled: Settled,
    /// For a failure: its class and the broker's code for it.
    pub failure: Option<(ErrorClass, String)>,
    pub attempt: i32,
    /// For a retry: when the next attempt is due, in milliseconds from now.
    pub retry_in_ms: Option<u64>,
    /// For a delivery: milliseconds since the change was recorded.
    pub latency_ms: Option<i64>,
}

/// Counts each settled delivery, and logs each failure once.
pub fn tell(metrics: &Metrics, told: &[Told]) {
    for t in told {
        let department = label_value(&t.department);
        metrics.inc(
            DELIVERIES,
            format!(
                "department=\"{department}\",outcome=\"{}\"",
                t.settled.as_str()
            ),
        );
        if matches!(t.settled, Settled::Cancelled | Settled::Superseded) {
            continue;
        }
        let result = t.failure.as_ref().map_or("delivered", |(c, _)| c.as_str());
        metrics.inc(
            ATTEMPTS,
            format!("department=\"{department}\",result=\"{result}\""),
        );
        if t.settled == Settled::Delivered
            && let Some(ms) = t.latency_ms
        {
            metrics.observe_in(
                LATENCY,
                LATENCY_HELP,
                LATENCY_BUCKETS,
                format!("department=\"{department}\""),
                ms.max(0) as f64 / 1000.0,
            );
        }
        let Some((class, code)) = &t.failure else {
            continue;
        };
        // The code is the broker's word (`timeout`, `http_503`, …) unless the receiver refused:
        // then it came from the receiver's body, and only the class is logged.
        let code = if *class == ErrorClass::Refused {
            "refused_by_receiver"
        } else {
            code.as_str()
        };
        match t.settled {
            Settled::DeadLettered => {
                metrics.inc(
                    DEAD_LETTERS,
                    format!("department=\"{department}\",class=\"{}\"", class.as_str()),
                );
                tracing::warn!(
                    department = %t.department,
                    delivery = %t.delivery,
                    error_class = class.as_str(),
                    code,
                    attempts = t.attempt,
                    "relay: delivery dead-lettered"
                );
            }
            _ => tracing::warn!(
                department = %t.department,
                delivery = %t.delivery,
                error_class = class.as_str(),
                code,
                attempt = t.attempt,
                retry_in_ms = t.retry_in_ms.unwrap_or(0),
                "relay: delivery attempt failed"
            ),
        }
    }
}

/// Per department: (pending, oldest pending `created_at`, stored dead letters).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Queue {
    pub pending: i64,
    pub oldest_pending_at: Option<i64>,
    pub dead_letters: i64,
}

/// The queue of every department that has pending or dead-lettered deliveries (one grouped read).
pub async fn queues(db: &DatabaseConnection) -> Result<HashMap<String, Queue>, DbErr> {
    use delivery::Column as C;
    use sea_orm::sea_query::ExprTrait;
    let rows: Vec<(String, String, i64, Option<i64>)> = delivery::Entity::find()
        .select_only()
        .column(C::DepartmentId)
        .column(C::Status)
        .column_as(Expr::col(C::Seq).count(), "n")
        .column_as(Expr::col(C::CreatedAt).min(), "oldest")
        .filter(C::Status.is_in([PENDING, FAILED]))
        .group_by(C::DepartmentId)
        .group_by(C::Status)
        .into_tuple()
        .all(db)
        .await?;
    let mut out: HashMap<String, Queue> = HashMap::new();
    for (department, status, n, oldest) in rows {
        let queue = out.entry(department).or_default();
        if status == PENDING {
            queue.pending = n;
            queue.oldest_pending_at = oldest;
        } else {
            queue.dead_letters = n;
        }
    }
    Ok(out)
}

/// Refreshes the queue gauges for every department in the registry (0 for an empty queue).
pub async fn refresh_gauges(
    db: &DatabaseConnection,
    metrics: &Metrics,
    now: i64,
) -> Result<(), DbErr> {
    let departments = crate::departments::list(db).await?;
    let queues = queues(db).await?;
    for department in departments {
        let queue = queues.get(&department.id).copied().unwrap_or_default();
        let labels = format!("department=\"{}\"", label_value(&department.id));
        metrics.set_gauge(QUEUE_DEPTH, labels.clone(), queue.pending);
        let age = queue
            .oldest_pending_at
            .map_or(0, |at| now.saturating_sub(at).max(0) / 1000);
        metrics.set_gauge(OLDEST_PENDING, labels.clone(), age);
        metrics.set_gauge(DEAD_LETTERS_STORED, labels, queue.dead_letters);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_who_failed() {
        assert_eq!(ErrorClass::of("http_503", false), ErrorClass::Unreachable);
        assert_eq!(ErrorClass::of("timeout", false), ErrorClass::Unreachable);
        assert_eq!(ErrorClass::of("access_denied", true), ErrorClass::Refused);
        assert_eq!(ErrorClass::of("http_400", true), ErrorClass::Refused);
        assert_eq!(ErrorClass::of("database_error", false), ErrorClass::Broker);
        assert_eq!(ErrorClass::of("no_adapter", true), ErrorClass::Broker);
        for class in [
            ErrorClass::Refused,
            ErrorClass::Unreachable,
            ErrorClass::Broker,
        ] {
            assert_eq!(ErrorClass::parse(class.as_str()), Some(class));
        }
    }

    #[test]
    fn a_stored_error_is_a_class_a_code_and_a_short_clean_excerpt() {
        let hostile = format!(
            "bad\r\nX-Injected: 1\u{1b}[31m red \u{202E}desrever\u{0} {}",
            "long ".repeat(100)
        );
        let stored = stored_error(ErrorClass::Refused, "Access Denied\n", &hostile);
        assert!(
            stored.starts_with("refused: accessdenied: bad X-Injected: 1 [31m red desrever long"),
            "{stored}"
        );
        assert!(!stored.chars().any(invisible), "{stored:?}");
        let excerpt = stored.splitn(3, ": ").nth(2).unwrap();
        assert_eq!(excerpt.chars().count(), EXCERPT_CHARS);
        assert!(excerpt.ends_with('…'));
        assert!(stored.len() < 255, "fits the column: {}", stored.len());
        assert_eq!(
            parse_stored(&stored),
            Some((ErrorClass::Refused, "accessdenied"))
        );
        assert_eq!(
            stored_error(
                ErrorClass::Unreachable,
                "timeout",
                "no answer within 1500 ms"
            ),
            "unreachable: timeout: no answer within 1500 ms"
        );
        assert_eq!(parse_stored("consent_revoked"), None);
        assert_eq!(parse_stored("timeout: old format"), None);
    }

    #[test]
    fn settled_deliveries_are_counted_by_closed_labels() {
        let metrics = Metrics::default();
        let told = |settled, failure: Option<(ErrorClass, &str)>| Told {
            department: "revenue-agency".into(),
            delivery: "0193-d".into(),
            settled,
            failure: failure.map(|(c, s)| (c, s.to_owned())),
            attempt: 1,
            retry_in_ms: Some(200),
            latency_ms: Some(1500),
        };
        tell(
            &metrics,
            &[
                told(
                    Settled::Retried,
                    Some((ErrorClass::Unreachable, "http_500")),
                ),
                told(Settled::Delivered, None),
                told(Settled::DeadLettered, Some((ErrorClass::Refused, "denied"))),
                told(Settled::Cancelled, None),
            ],
        );
        let text = metrics.render((0, 0));
        for line in [
            r#"broker_relay_deliveries_total{department="revenue-agency",outcome="retried"} 1"#,
            r#"broker_relay_deliveries_total{department="revenue-agency",outcome="delivered"} 1"#,
            r#"broker_relay_deliveries_total{department="revenue-agency",outcome="dead_lettered"} 1"#,
            r#"broker_relay_deliveries_total{department="revenue-agency",outcome="cancelled"} 1"#,
            r#"broker_relay_attempts_total{department="revenue-agency",result="unreachable"} 1"#,
            r#"broker_relay_attempts_total{department="revenue-agency",result="delivered"} 1"#,
            r#"broker_relay_attempts_total{department="revenue-agency",result="refused"} 1"#,
            r#"broker_relay_dead_letters_total{department="revenue-agency",class="refused"} 1"#,
            r#"broker_relay_delivery_latency_seconds_bucket{department="revenue-agency",le="2.5"} 1"#,
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        // No delivery id or receiver code ever becomes a label.
        assert!(!text.contains("0193-d"), "{text}");
        assert!(!text.contains("denied"), "{text}");
    }
}
