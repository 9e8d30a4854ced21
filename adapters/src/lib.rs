//! Delivery adapters for the relay, and pull sources for departments that cannot push.
//!
//! **Owns:** getting a signed Security Event Token (RFC 8417) to a department — HTTP push
//! (RFC 8935), file drop (JSON Lines batches) — and fetching values from an authoritative
//! department's REST API (pull source); the registry that builds either from a department's config.
//!
//! **Never:** logs or returns a SET, a bearer secret or an attribute value (errors and outcomes
//! carry status codes, RFC 8935 `err` codes and scrubbed short descriptions only); follows a
//! redirect; reads an unbounded response; knows the database, the outbox or actix-web. The relay
//! owns retries, backoff, idempotency and dead letters; an adapter makes one attempt per event.
//!
//! # Using it from the broker
//!
//! ```no_run
//! # async fn relay(sets: Vec<adapters::Outgoing>) -> Result<(), adapters::AdapterError> {
//! use adapters::{AdapterConfig, ClientOptions, DeliveryOutcome, Registry};
//!
//! let registry = Registry::new(&ClientOptions::default())?; // once per process
//! let config = AdapterConfig::from_json_str(
//!     r#"{"kind": "push", "endpoint": "https://revenue.example/tuo/events", "timeout_ms": 5000}"#,
//! )?;
//! // An Arc<dyn DeliveryAdapter>: build it once per department and keep it.
//! let adapter = registry.delivery_adapter(&config)?;
//! let due_at = adapter.schedule().next_due_ms(1_767_225_600_000); // when to claim the row
//! for (event, outcome) in sets.iter().zip(adapter.deliver_batch(&sets).await) {
//!     match outcome {
//!         DeliveryOutcome::Delivered { .. } => { /* mark delivered */ }
//!         DeliveryOutcome::Retry { retry_after, .. } => { /* back off, at least retry_after */ }
//!         DeliveryOutcome::Rejected { error_code, .. } => { /* dead letter with error_code */ }
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Adapter configs
//!
//! | `kind` | settings (defaults) |
//! |---|---|
//! | `push` | `endpoint` (https; http only for loopback or with `allow_plain_http`), `timeout_ms` (5000), `max_concurrency` (4), `authorization` (bearer secret, optional) |
//! | `file-drop` | `directory` (absolute), `batch_interval_secs` (86400), `window_offset_secs` (0) |
//! | `pull` | `base_url`, `timeout_ms` (5000), `authorization`, `poll_interval_secs` (300), `page_size` (100), `max_response_bytes` (65536), `loa` (3: the level of assurance recorded for its values), `allow_plain_http` |
//!
//! Unknown settings are refused. See [`registry`] to add a kind.
//!
//! # The department API a pull source expects
//!
//! All requests are `GET` with `Accept: application/json` and, when configured,
//! `Authorization: Bearer <secret>`. `{sub}` is the department's pairwise subject id for the
//! citizen, percent-encoded; `{attribute}` a catalogue name (`date_of_death`). Bodies larger than
//! `max_response_bytes` are refused; redirects are not followed.
//!
//! `GET {base_url}/subjects/{sub}/attributes/{attribute}`
//! - `200` with `{"value": <JSON, not null>, "verified_at": "<RFC 3339>"?, "method": "<code>"?}`
//! - `404` when the department holds no value; any other status is an error (`5xx`, `408`, `429`
//!   are transient and may carry `Retry-After`).
//!
//! `GET {base_url}/changes?since=<cursor>&limit=<page_size>` (no `since` on the first call)
//! - `200` with `{"changes": [{"subject": "<sub>", "attribute": "<name>", "value": <JSON>,
//!   "verified_at"?, "method"?, "changed_at": "<RFC 3339>"?}, …], "next_cursor": "<opaque>",
//!   "has_more": <bool>?}`. The broker stores the changes, then polls again with `next_cursor`:
//!   at once when `has_more`, otherwise after `poll_interval_secs`. The cursor is opaque to the
//!   broker, 1–1024 visible ASCII characters, and returned unchanged when nothing changed.
//!
//! Unknown members are ignored so a department can add some; a missing or mistyped documented
//! member makes the whole response an error.
//!
//! # File drop format
//!
//! One file per batch, `<UTC time>-<first jti>.jsonl` (e.g. `20260101T020000.000Z-0193….jsonl`,
//! sorting by write time), one JSON object per line:
//! `{"jti": "…", "event_type": "…", "issued_at": "<RFC 3339>", "set": "<compact JWS>"}`. The `set`
//! is the authority: the batch system verifies it with the broker's JWKS. Files appear only
//! complete (written as `.jsonl.tmp`, synced, renamed); readers must ignore `*.tmp`.

mod config;
mod delivery;
mod error;
pub mod file_drop;
mod http;
pub mod pull;
pub mod push;
pub mod registry;

#[cfg(test)]
mod test_receiver;

pub use config::{AdapterConfig, BearerToken};
pub use delivery::{BoxFuture, DeliveryAdapter, DeliveryOutcome, DeliverySchedule, Outgoing};
pub use error::AdapterError;
pub use file_drop::{FileDropAdapter, FileDropConfig};
pub use http::{ClientOptions, HttpClient};
pub use pull::{ChangesPage, PullConfig, PullSource, PulledChange, PulledValue};
pub use push::{PushAdapter, PushConfig};
pub use registry::{Adapter, Registry};
