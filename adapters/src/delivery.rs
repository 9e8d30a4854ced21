//! What the relay hands to an adapter and what it gets back.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed, sendable future: what keeps [`DeliveryAdapter`] object-safe without `async-trait`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One Security Event Token (RFC 8417) on its way to one department.
///
/// `Debug` shows the SET's length, never the SET: it carries attribute values.
#[derive(Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The SET's `jti`; receivers de-duplicate by it, so a retry re-sends the same value.
    pub jti: String,
    /// The receiving department, for the caller's bookkeeping; adapters are already per department.
    pub department_id: String,
    /// The signed SET as a compact JWS (`application/secevent+jwt`).
    pub set_jwt: String,
    /// The SET's event type URI (the key of its `events` claim).
    pub event_type: String,
    /// The SET's `iat`, in Unix milliseconds.
    pub issued_at_ms: i64,
}

impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing")
            .field("jti", &self.jti)
            .field("department_id", &self.department_id)
            .field("set_jwt", &format_args!("<{} bytes>", self.set_jwt.len()))
            .field("event_type", &self.event_type)
            .field("issued_at_ms", &self.issued_at_ms)
            .finish()
    }
}

/// What happened to one [`Outgoing`].
///
/// Codes and details are safe to store and show: status codes, RFC 8935 `err` codes, our own words
/// and a receiver's description cut short and scrubbed of anything that looks like a token. Not
/// `#[non_exhaustive]` on purpose: a new kind of outcome must break every caller's build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver took the event (RFC 8935: 202 Accepted; any 2xx counts).
    Delivered { detail: String },
    /// A transient failure: try again later, and no sooner than `retry_after` when the receiver
    /// gave one.
    Retry {
        error_code: String,
        detail: String,
        retry_after: Option<Duration>,
    },
    /// The receiver refused the event; retrying the same bytes will not help.
    Rejected { error_code: String, detail: String },
}

impl DeliveryOutcome {
    pub(crate) fn delivered(detail: impl Into<String>) -> Self {
        Self::Delivered {
            detail: detail.into(),
        }
    }

    pub(crate) fn retry(error_code: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Retry {
            error_code: error_code.into(),
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub(crate) fn rejected(error_code: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Rejected {
            error_code: error_code.into(),
            detail: detail.into(),
        }
    }

    /// Whether the receiver took the event.
    pub fn is_delivered(&self) -> bool {
        matches!(self, Self::Delivered { .. })
    }

    /// The stable error code (`timeout`, `http_503`, `invalid_key`, …); `None` when delivered.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Self::Delivered { .. } => None,
            Self::Retry { error_code, .. } | Self::Rejected { error_code, .. } => Some(error_code),
        }
    }

    /// The short, safe description of what happened.
    pub fn detail(&self) -> &str {
        match self {
            Self::Delivered { detail }
            | Self::Retry { detail, .. }
            | Self::Rejected { detail, .. } => detail,
        }
    }
}

/// When the relay should hand an adapter its due events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliverySchedule {
    /// As soon as an event is written (HTTP push).
    Immediate,
    /// Once per window: windows start every `interval` after the Unix epoch, shifted by `offset`
    /// (a file drop every 86 400 s with a 7 200 s offset runs nightly at 02:00 UTC).
    Windowed {
        interval: Duration,
        offset: Duration,
    },
}

impl DeliverySchedule {
    /// The earliest time (Unix ms, `>= now_ms`) at which an event written at `now_ms` is due.
    pub fn next_due_ms(&self, now_ms: i64) -> i64 {
        match *self {
            Self::Immediate => now_ms,
            Self::Windowed { interval, offset } => {
                let interval = i64::try_from(interval.as_millis())
                    .unwrap_or(i64::MAX)
                    .max(1);
                let offset = i64::try_from(offset.as_millis()).unwrap_or(0) % interval;
                let since_window = (now_ms - offset).rem_euclid(interval);
                if since_window == 0 {
                    now_ms
                } else {
                    now_ms.saturating_add(interval - since_window)
                }
            }
        }
    }
}

/// A way of getting Security Event Tokens to one department.
///
/// Object-safe: the relay holds adapters as `Arc<dyn DeliveryAdapter>`. Implementations never log
/// or return a SET and never block the caller's thread on file or network I/O.
pub trait DeliveryAdapter: Send + Sync {
    /// The registry kind this adapter was built from (`push`, `file-drop`, …).
    fn kind(&self) -> &'static str;

    /// When the relay should call [`deliver_batch`](Self::deliver_batch) for this department.
    fn schedule(&self) -> DeliverySchedule {
        DeliverySchedule::Immediate
    }

    /// Delivers every event of `batch`.
    ///
    /// INVARIANT: the result has exactly one outcome per event, in the order of `batch`.
    fn deliver_batch<'a>(&'a self, batch: &'a [Outgoing]) -> BoxFuture<'a, Vec<DeliveryOutcome>>;

    /// Delivers one event: a batch of one.
    fn deliver<'a>(&'a self, event: &'a Outgoing) -> BoxFuture<'a, DeliveryOutcome> {
        Box::pin(async move {
            self.deliver_batch(std::slice::from_ref(event))
                .await
                .into_iter()
                .next()
                .unwrap_or_else(|| {
                    DeliveryOutcome::retry("adapter_fault", "the adapter returned no outcome")
                })
        })
    }
}

impl fmt::Debug for dyn DeliveryAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeliveryAdapter({})", self.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_MS: i64 = 3_600_000;
    const DAY_MS: i64 = 24 * HOUR_MS;

    fn nightly_at_two() -> DeliverySchedule {
        DeliverySchedule::Windowed {
            interval: Duration::from_secs(86_400),
            offset: Duration::from_secs(7_200),
        }
    }

    #[test]
    fn immediate_is_due_now() {
        assert_eq!(DeliverySchedule::Immediate.next_due_ms(1_234), 1_234);
    }

    #[test]
    fn windowed_is_due_at_the_next_window_start() {
        let day = 20_000 * DAY_MS;
        let schedule = nightly_at_two();
        // 14:00 → 02:00 the next day
        assert_eq!(
            schedule.next_due_ms(day + 14 * HOUR_MS),
            day + DAY_MS + 2 * HOUR_MS
        );
        // 01:00 → 02:00 the same day
        assert_eq!(schedule.next_due_ms(day + HOUR_MS), day + 2 * HOUR_MS);
        // exactly 02:00 is already inside the window
        assert_eq!(schedule.next_due_ms(day + 2 * HOUR_MS), day + 2 * HOUR_MS);
        // one millisecond late waits a whole day
        assert_eq!(
            schedule.next_due_ms(day + 2 * HOUR_MS + 1),
            day + DAY_MS + 2 * HOUR_MS
        );
    }

    #[test]
    fn debug_never_shows_the_set() {
        let event = Outgoing {
            jti: "j1".into(),
            department_id: "revenue".into(),
            set_jwt: "eyJhbGciOiJFUzI1NiJ9.eyJhZGRyZXNzIjoiMSBNYWluIFN0In0.c2ln".into(),
            event_type: "urn:example:address-changed".into(),
            issued_at_ms: 1,
        };
        let shown = format!("{event:?}");
        assert!(!shown.contains("eyJ"), "{shown}");
        assert!(shown.contains("j1"));
    }

    struct CountingAdapter;

    impl DeliveryAdapter for CountingAdapter {
        fn kind(&self) -> &'static str {
            "counting"
        }

        fn deliver_batch<'a>(
            &'a self,
            batch: &'a [Outgoing],
        ) -> BoxFuture<'a, Vec<DeliveryOutcome>> {
            Box::pin(async move {
                batch
                    .iter()
                    .map(|event| DeliveryOutcome::delivered(event.jti.clone()))
                    .collect()
            })
        }
    }

    #[tokio::test]
    async fn deliver_is_a_batch_of_one_through_a_trait_object() {
        let adapter: std::sync::Arc<dyn DeliveryAdapter> = std::sync::Arc::new(CountingAdapter);
        let event = Outgoing {
            jti: "only".into(),
            department_id: "d".into(),
            set_jwt: "a.b.c".into(),
            event_type: "t".into(),
            issued_at_ms: 0,
        };
        assert_eq!(
            adapter.deliver(&event).await,
            DeliveryOutcome::delivered("only")
        );
        assert_eq!(adapter.schedule(), DeliverySchedule::Immediate);
    }
}
