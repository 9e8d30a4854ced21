//! Pull sources: for a department that cannot push its changes, the broker reads them from the
//! department's change feed (`GET {base_url}/changes?since=<cursor>`, see `adapters::pull`) on a
//! schedule, and records each one as if the department had reported it through the API.
//!
//! The job runs inside `broker serve` (`relay.pull`). Each tick it makes sure every active
//! department with a `pull_source` has a row in `relay_pull_sources` ([`store`]), claims the
//! due rows with a lease (several brokers may share one database; one polls a department at a
//! time), and polls each claimed department in a task of its own: a page, its changes
//! ([`ingest`]), then the cursor, at once again while the department says `has_more`, otherwise
//! after its `poll_interval_secs`.
//!
//! INVARIANT: the cursor is stored only after every change of its page is recorded (or skipped
//! with its audit record), so a broker that dies mid-page reads the page again; a change whose
//! value already is the citizen's current value from that department is not recorded again.
//! A failed poll (network, 5xx, 429, 4xx, a malformed feed, the broker's own database) keeps
//! the cursor, backs off exponentially and stores an error code, never a department's answer.

pub mod ingest;
pub mod store;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters::{AdapterConfig, AdapterError, ClientOptions, PullSource, Registry};
use tokio::task::JoinSet;

use self::ingest::Ingested;
use super::Relay;
use crate::Shutdown;
use crate::departments::{self, Department};
use ::store::now_ms;

/// Pages read in one go before the lease is given back (a feed that always has more must not
/// hold its department forever; the next tick takes it again at once).
const PAGES_PER_CLAIM: usize = 50;

/// Departments' pull sources, built once per settings and kept (they share one HTTP client).
struct Sources {
    registry: Registry,
    built: Mutex<HashMap<String, (serde_json::Value, Arc<PullSource>)>>,
}

impl Sources {
    fn new() -> Result<Self, AdapterError> {
        Ok(Self {
            registry: Registry::new(&ClientOptions::default())?,
            built: Mutex::new(HashMap::new()),
        })
    }

    fn get(
        &self,
        department: &str,
        settings: &serde_json::Value,
    ) -> Result<Arc<PullSource>, AdapterError> {
        if let Ok(built) = self.built.lock()
            && let Some((seen, source)) = built.get(department)
            && seen == settings
        {
            return Ok(source.clone());
        }
        let source = self
            .registry
            .pull_source(&AdapterConfig::from_json(settings.clone())?)?;
        if let Ok(mut built) = self.built.lock() {
            built.insert(department.to_owned(), (settings.clone(), source.clone()));
        }
        Ok(source)
    }
}

/// Identifies the feed a cursor belongs to: a hash of the settings' `base_url`, so that pointing
/// a department at another feed starts that feed from its beginning.
pub fn source_key(settings: &serde_json::Value) -> String {
    let base_url = settings
        .get("base_url")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    ring::digest::digest(&ring::digest::SHA256, base_url.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A stable code for a failed poll (stored in `last_error` and logged); the department's answer
/// is never part of it.
pub fn error_code(error: &AdapterError) -> String {
    match error {
        AdapterError::Timeout { .. } => "timeout".into(),
        AdapterError::Connect => "connect_failed".into(),
        AdapterError::Request => "request_failed".into(),
        AdapterError::Status { status, .. } => format!("http_{status}"),
        AdapterError::ResponseTooLarge { .. } => "response_too_large".into(),
        AdapterError::MalformedResponse { .. } => "malformed_feed".into(),
        AdapterError::InvalidArgument { .. } => "invalid_cursor".into(),
        _ => "adapter_config".into(),
    }
}

fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

/// When to poll again after `failures` failed polls in a row: the delivery worker's backoff
/// (`relay.backoff_base_ms`, doubling, capped at `relay.backoff_max_secs`, never sooner than the
/// department's `Retry-After`).
pub fn retry_at(state: &Relay, now: i64, failures: i32, retry_after: Option<Duration>) -> i64 {
    let settings = &state.settings;
    let wait = super::worker::backoff_ms(
        u32::try_from(failures).unwrap_or(1),
        settings.backoff_base_ms,
        settings.backoff_max_secs.saturating_mul(1000),
        jitter(),
        retry_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    );
    now.saturating_add(i64::try_from(wait).unwrap_or(i64::MAX))
}

/// Runs the pull job until shutdown; polls in flight then get `relay.shutdown_grace_secs` to
/// finish their page (what is left waits for its lease).
pub async fn run(state: Relay, mut stop: Shutdown) {
    let sources = match Sources::new() {
        Ok(sources) => Arc::new(sources),
        Err(e) => {
            tracing::error!(error = %e, "pull sources disabled: cannot build the http client");
            return;
        }
    };
    let owner = format!("pull-{}", uuid::Uuid::new_v4().simple());
    let busy: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut known: HashSet<String> = HashSet::new();
    let mut tasks = JoinSet::new();
    let tick = Duration::from_millis(state.settings.poll_interval_ms.clamp(10, 1_000));
    tracing::info!(%owner, "pull job started");
    loop {
        while tasks.try_join_next().is_some() {}
        match claim_due(&state, &owner, &busy, &mut known).await {
            Ok(claimed) => {
                for (department, settings, row) in claimed {
                    let (state, owner, busy, sources, stop) = (
                        state.clone(),
                        owner.clone(),
                        busy.clone(),
                        sources.clone(),
                        stop.clone(),
                    );
                    tasks.spawn(async move {
                        let id = department.id.clone();
                        poll(&state, &owner, &sources, &department, &settings, row, &stop).await;
                        if let Ok(mut b) = busy.lock() {
                            b.remove(&id);
                        }
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "pull: cannot claim due departments"),
        }
        tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep(tick) => {}
        }
    }
    let grace = Duration::from_secs(state.settings.shutdown_grace_secs);
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, drain).await.is_err() {
        tasks.abort_all();
        tracing::info!("pull job stopped; unfinished polls wait for their lease");
    } else {
        tracing::info!("pull job stopped");
    }
}

type Claimed = (Department, serde_json::Value, store::entity::Model);

/// The departments this broker polls now: active, with a pull source, due, not already being
/// polled here, and claimed.
async fn claim_due(
    state: &Relay,
    owner: &str,
    busy: &Mutex<HashSet<String>>,
    known: &mut HashSet<String>,
) -> Result<Vec<Claimed>, sea_orm::DbErr> {
    let now = now_ms();
    let mut active = departments::active_pull_sources(&state.db).await?;
    let new: Vec<String> = active
        .iter()
        .map(|(d, _)| d.id.clone())
        .filter(|id| !known.contains(id))
        .collect();
    store::ensure(&state.db, &new, now).await?;
    known.extend(new);
    if let Ok(b) = busy.lock() {
        active.retain(|(d, _)| !b.contains(&d.id));
    }
    let ids: Vec<String> = active.iter().map(|(d, _)| d.id.clone()).collect();
    if !store::any_due(&state.db, &ids, now).await? {
        return Ok(Vec::new());
    }
    let rows = store::claim(&state.db, owner, &ids, now, state.settings.lease_ms()).await?;
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(at) = active.iter().position(|(d, _)| d.id == row.department_id) {
            let (department, settings) = active.swap_remove(at);
            if let Ok(mut b) = busy.lock() {
                b.insert(department.id.clone());
            }
            claimed.push((department, settings, row));
        }
    }
    Ok(claimed)
}

/// How one page went.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    recorded: usize,
    unchanged: usize,
    skipped: usize,
}

/// Why a poll failed, in the broker's own words.
struct Failure {
    code: String,
    description: String,
    retry_after: Option<Duration>,
}

impl Failure {
    /// The feed could not be read (the adapter's errors never carry what the department sent).
    fn adapter(error: &AdapterError) -> Self {
        Self {
            code: error_code(error),
            description: error.to_string(),
            retry_after: error.retry_after(),
        }
    }

    /// The broker's own failure (its database, vault or audit log).
    fn own(code: &str, error: &dyn std::fmt::Display) -> Self {
        Self {
            code: code.to_owned(),
            description: error.to_string(),
            retry_after: None,
        }
    }
}

/// Records a failed poll: the cursor stays, the lease is given back, and the department is due
/// again after the backoff; one WARN says so.
async fn failed(
    state: &Relay,
    owner: &str,
    department: &str,
    failed_before: i32,
    failure: Failure,
) {
    let failures = failed_before.saturating_add(1);
    let now = now_ms();
    let next = retry_at(state, now, failures, failure.retry_after);
    tracing::warn!(
        department,
        code = %failure.code,
        error = %failure.description,
        failures,
        retry_in_ms = next - now,
        "pull: cannot read the department's changes; the cursor stays and the poll is retried"
    );
    let error = format!("{}: {}", failure.code, failure.description);
    if let Err(e) = store::fail(&state.db, owner, department, now, failures, &error, next).await {
        tracing::warn!(department, error = %e, "pull: cannot record a failed poll");
    }
}

/// Polls one claimed department: pages until it has no more (or the budget is spent, or the
/// broker stops), each page's changes recorded before its cursor is stored.
async fn poll(
    state: &Relay,
    owner: &str,
    sources: &Sources,
    department: &Department,
    settings: &serde_json::Value,
    row: store::entity::Model,
    stop: &Shutdown,
) {
    let id = department.id.as_str();
    // Failed polls in a row before this one; a page read resets it.
    let mut failed_before = row.failures;
    let source = match sources.get(id, settings) {
        Ok(source) => source,
        Err(e) => return failed(state, owner, id, failed_before, Failure::adapter(&e)).await,
    };
    let key = source_key(settings);
    let mut cursor = row
        .cursor
        .filter(|_| row.source_key.as_deref() == Some(&key));
    for _ in 0..PAGES_PER_CLAIM {
        let outcome = page(state, owner, department, &source, &key, cursor.as_deref()).await;
        let next_cursor = match outcome {
            Ok(Some(next_cursor)) => next_cursor,
            Ok(None) => return, // read to the end, or another broker holds it now
            Err(failure) => return failed(state, owner, id, failed_before, failure).await,
        };
        failed_before = 0;
        if *stop.borrow() {
            break;
        }
        cursor = Some(next_cursor);
    }
    if let Err(e) = store::release(&state.db, owner, id, now_ms(), now_ms()).await {
        tracing::warn!(department = id, error = %e, "pull: cannot give back a lease");
    }
}

/// Reads one page, records its changes, then stores its cursor. `Ok(Some(cursor))` when the
/// department has more at once (the lease is kept), `Ok(None)` when it has not (the lease is
/// given back until the next poll) or the row is no longer ours.
async fn page(
    state: &Relay,
    owner: &str,
    department: &Department,
    source: &PullSource,
    key: &str,
    cursor: Option<&str>,
) -> Result<Option<String>, Failure> {
    let id = department.id.as_str();
    let lease_ms = state.settings.lease_ms();
    let db_failure = |e: sea_orm::DbErr| Failure::own("database_error", &e);
    if !store::renew(&state.db, owner, id, now_ms(), lease_ms)
        .await
        .map_err(db_failure)?
    {
        return Ok(None);
    }
    let page = source
        .changes_since(cursor)
        .await
        .map_err(|e| Failure::adapter(&e))?;
    let mut tally = Tally::default();
    let mut renewed_at = now_ms();
    for change in ingest::latest_per_subject(page.changes) {
        // A long page keeps its lease: were it to run out, another broker could read the same
        // page at the same time, and both could record a change before either did.
        if now_ms().saturating_sub(renewed_at) > lease_ms / 3 {
            renewed_at = now_ms();
            if !store::renew(&state.db, owner, id, renewed_at, lease_ms)
                .await
                .map_err(db_failure)?
            {
                return Ok(None);
            }
        }
        match ingest::ingest(state, department, source.loa(), &change).await {
            Ok(Ingested::Recorded { .. }) => tally.recorded += 1,
            Ok(Ingested::Unchanged) => tally.unchanged += 1,
            Ok(Ingested::Skipped(_)) => tally.skipped += 1,
            Err(e) => return Err(Failure::own("internal_error", &e)),
        }
    }
    // A feed that says "more" without moving its cursor would be read forever.
    let more = page.has_more && cursor != Some(page.next_cursor.as_str());
    let now = now_ms();
    let interval = i64::try_from(source.poll_interval().as_millis()).unwrap_or(i64::MAX);
    let next = store::Advance {
        source_key: key,
        cursor: &page.next_cursor,
        next_poll_at: if more {
            now
        } else {
            now.saturating_add(interval)
        },
        keep_until: more.then(|| now.saturating_add(lease_ms)),
    };
    if !store::advance(&state.db, owner, id, now, &next)
        .await
        .map_err(db_failure)?
    {
        return Ok(None);
    }
    if tally == Tally::default() {
        tracing::debug!(department = id, more, "pull: nothing new");
    } else {
        tracing::info!(
            department = id,
            recorded = tally.recorded,
            unchanged = tally.unchanged,
            skipped = tally.skipped,
            more,
            "pull: page recorded"
        );
    }
    Ok(more.then_some(page.next_cursor))
}

#[cfg(test)]
mod feed_tests;
#[cfg(test)]
mod tests;
