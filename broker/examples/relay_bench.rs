//! Relay benchmark (used by scripts/bench): the real outbox (`relay::outbox::record`) and the real
//! delivery worker (`relay::worker::run`) pushing SETs over HTTP to 20 local receivers.
//!
//! The 20 receiving departments are `bench-receiver-01` … `bench-receiver-20`: the catalogue has
//! only five departments and the Cedar policies name each recipient, so this tool writes a
//! catalogue (the built-in one plus these 20) and a policy directory (the built-in policies plus
//! one `release`/`receive` permit of `address` under `benefit-eligibility` per bench department,
//! so the consent ledger accepts an ongoing consent to each) into the
//! data directory and builds the broker's state on them. Each seeded citizen holds an ongoing
//! address consent to all 20, with their pairwise ids already issued, so each change (a `move`)
//! fans out to 20 deliveries. The receivers are one actix server listening on 20 ports of
//! 127.0.0.1 (one per department, so each has its own connection pool) answering 202; each notes
//! the SET's `jti` and the time it arrived.
//!
//! `relay_bench run <database url> <data dir> <changes> <rate> <citizens>` (fresh database):
//! 1. *backlog*: records `changes` changes (4 concurrent recorders, worker stopped), then starts
//!    the worker and times the drain: deliveries per second from the worker's start to the last
//!    delivery;
//! 2. *paced*: with the worker running, records `changes` more at `rate` changes per second
//!    (20 × `rate` deliveries per second offered) and measures, per change, the time from the
//!    start of its `record` call to the arrival of its last delivery (p50, p99, max).
//!
//! Prints one JSON object on stdout.
//!
//! `relay_bench feed <database url> <data dir> <rate> <citizens>`: against the database of a
//! running broker (same data dir, so the same keys): registers the bench departments with this
//! process's receivers, seeds citizens, prints `READY`, then records `rate` changes per second
//! until SIGTERM; the broker's own worker delivers them. Then prints one JSON object (changes
//! recorded, deliveries received) and exits.
//!
//! `relay_bench policy <data dir>`: only writes the bench catalogue and policies (the built-in ones
//! and the 20 receivers) into the data dir and prints their two directories, for a broker that
//! serves the feed's changes (its worker decides each delivery again under its own policies).
//!
//! Attribute values (the synthetic addresses) are never printed or logged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use broker::config::{CatalogueConfig, Config, DatabaseUrl};
use consent::Mode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};
use services::citizens::{self, Provenance, SourceKind};
use services::consents::Ledger;
use services::consents::ledger::{self, ImportInput};
use services::departments::{self, Department};
use services::relay::Relay;
use services::relay::entities::delivery;
use services::relay::outbox::{self, NewChange};
use services::relay::{EventKind, supersede, worker};
use tokio::sync::{Semaphore, watch};

const RECEIVERS: usize = 20;
const PURPOSE: &str = "benefit-eligibility";
const RECORDERS: usize = 4;

fn department_id(i: usize) -> String {
    format!("bench-receiver-{:02}", i + 1)
}

/// Wall-clock microseconds (the recorders and the receivers share this process's clock).
fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("run") if args.len() >= 7 => {
            run(
                &args[2],
                Path::new(&args[3]),
                args[4].parse().unwrap(),
                args[5].parse().unwrap(),
                args[6].parse().unwrap(),
            )
            .await
        }
        Some("feed") if args.len() >= 6 => {
            feed(
                &args[2],
                Path::new(&args[3]),
                args[4].parse().unwrap(),
                args[5].parse().unwrap(),
            )
            .await
        }
        Some("policy") if args.len() >= 3 => {
            let (catalogue, policies) = write_policy(Path::new(&args[2]));
            println!("{}\n{}", catalogue.display(), policies.display());
        }
        _ => panic!(
            "usage: relay_bench run <db url> <data dir> <changes> <rate> <citizens> | feed <db url> <data dir> <rate> <citizens> | policy <data dir>"
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Receivers

#[derive(Default)]
struct Received {
    /// (jti, arrival in µs), in arrival order.
    log: Mutex<Vec<(String, i64)>>,
    count: AtomicU64,
}

impl Received {
    fn take(&self) -> Vec<(String, i64)> {
        self.count.store(0, Ordering::SeqCst);
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

async fn receive(received: web::Data<Received>, body: web::Bytes) -> HttpResponse {
    let at = now_us();
    // The SET's jti (no signature check: the receivers stand in for departments, and what is
    // measured is the broker's side). Nothing else of the SET is read.
    let jti = std::str::from_utf8(&body)
        .ok()
        .and_then(|jws| jws.split('.').nth(1))
        .and_then(|p| services::jose::b64_decode(p).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|v| v["jti"].as_str().map(str::to_owned));
    let Some(jti) = jti else {
        return HttpResponse::BadRequest()
            .json(serde_json::json!({"err": "invalid_request", "description": "not a SET"}));
    };
    received.log.lock().unwrap().push((jti, at));
    received.count.fetch_add(1, Ordering::SeqCst);
    HttpResponse::Accepted().finish()
}

/// One actix server (one worker thread) on `RECEIVERS` ports; returns the ports.
fn start_receivers(received: Arc<Received>) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..RECEIVERS)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let data = web::Data::from(received);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/events", web::post().to(receive))
    })
    .workers(1)
    .disable_signals();
    for l in listeners {
        server = server.listen(l).unwrap();
    }
    tokio::spawn(server.run());
    ports
}

// ---------------------------------------------------------------------------------------------
// Catalogue, policies, state, citizens

/// Writes the built-in catalogue and policies plus the 20 bench departments and their permits.
fn write_policy(data_dir: &Path) -> (PathBuf, PathBuf) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let catalogue = data_dir.join("bench-catalogue");
    let cedar = data_dir.join("bench-policies");
    for (from, to) in [("catalogue", &catalogue), ("cedar", &cedar)] {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(source.join(from)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    let mut departments = std::fs::read_to_string(catalogue.join("departments.toml")).unwrap();
    let mut permits = String::from(
        "// Benchmark receivers only (written by broker/examples/relay_bench.rs), never deployed.\n",
    );
    for i in 0..RECEIVERS {
        let id = department_id(i);
        departments.push_str(&format!(
            "\n[[department]]\nid = \"{id}\"\nname_en = \"Benchmark receiver {n}\"\nname_fr = \"Récepteur d'essai {n}\"\nsector_identifier = \"{id}.bench.example\"\nauthoritative_for = []\n",
            n = i + 1
        ));
        permits.push_str(&format!(
            "\n@id(\"{id}-address\")\n@legal_basis(\"None: a benchmark receiver (illustrative, not legal advice)\")\n@consent(\"required\")\n@min_loa(\"2\")\npermit (\n  principal == Department::\"{id}\",\n  action in [Action::\"release\", Action::\"receive\"],\n  resource == Attribute::\"address\"\n) when {{\n  context.purpose == Purpose::\"{PURPOSE}\" &&\n  context.consent == \"active\" &&\n  context.loa >= 2\n}};\n"
        ));
    }
    std::fs::write(catalogue.join("departments.toml"), departments).unwrap();
    std::fs::write(cedar.join("bench-receivers.cedar"), permits).unwrap();
    (catalogue, cedar)
}

/// Connects, migrates, builds the broker's state on the bench catalogue and registers the bench
/// departments with push delivery to `ports`. Returns the relay and the consent ledger.
async fn state(db_url: &str, data_dir: &Path, ports: &[u16]) -> (Relay, Ledger) {
    let (dir, policy_dir) = write_policy(data_dir);
    let config = Config {
        data_dir: data_dir.to_owned(),
        database_url: Some(DatabaseUrl::new(db_url)),
        catalogue: CatalogueConfig {
            dir: Some(dir),
            policy_dir: Some(policy_dir),
        },
        ..Config::default()
    };
    let db = broker::cli::connect(&config).await.unwrap();
    store::migrate(&db).await.unwrap();
    let services = broker::serve::services(&config, &db).unwrap();
    let state = services.relay;
    departments::sync_catalogue(&state.db, state.policy.catalogue().departments())
        .await
        .unwrap();
    for (i, port) in ports.iter().enumerate() {
        let id = department_id(i);
        let mut d = departments::get(&state.db, &id).await.unwrap().unwrap();
        d.delivery = Some(serde_json::json!({
            "kind": "push",
            "endpoint": format!("http://127.0.0.1:{port}/events"),
        }));
        departments::upsert(&state.db, &d).await.unwrap();
    }
    (state, services.ledger)
}

fn provenance() -> Provenance {
    Provenance {
        source_kind: SourceKind::Citizen,
        source_id: "self-declared".into(),
        method: "self-declared".into(),
        loa: 2,
        verified: false,
        recorded_at: store::now_ms(),
    }
}

fn address(n: u64) -> serde_json::Value {
    serde_json::json!({"street_address": format!("{} Bench St", n + 1), "locality": "Ottawa", "region": "ON", "postal_code": "K1A 0B1", "country": "CA"})
}

/// `n` citizens, each with an address, an ongoing address consent to every bench department and
/// their pairwise ids (so the worker measures delivery, not first-time id issuance). The consents
/// are recorded through the ledger (imports, each with its receipt and audit record).
async fn seed(state: &Relay, consents: &Ledger, n: usize) -> Vec<String> {
    let departments: Vec<Department> = departments::list(&state.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.id.starts_with("bench-receiver-"))
        .collect();
    let now = store::now_ms();
    let year = 365 * 86_400_000_i64;
    let workers = 8;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (state, consents, departments) = (state.clone(), consents.clone(), departments.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            let mut given = Vec::new();
            for i in (w..n).step_by(workers) {
                let txn = sea_orm::TransactionTrait::begin(&state.db).await.unwrap();
                let id = citizens::create(&txn, &state.vault).await.unwrap();
                citizens::record(
                    &txn,
                    &state.vault,
                    &id,
                    "address",
                    &address(i as u64),
                    &provenance(),
                )
                .await
                .unwrap();
                for d in &departments {
                    given.push(ImportInput {
                        citizen: id.clone(),
                        department: d.id.clone(),
                        purpose: PURPOSE.into(),
                        mode: Mode::Ongoing,
                        attributes: vec!["address".into()],
                        granted_at_ms: now,
                        expires_at_ms: now + year,
                        loa: 2,
                        lang: services::lang::Lang::En,
                    });
                    citizens::pairwise::subject_for(
                        &txn,
                        &state.secrets.pairwise,
                        &d.sector_identifier,
                        &id,
                    )
                    .await
                    .unwrap();
                }
                txn.commit().await.unwrap();
                ids.push(id);
                if given.len() >= 500 {
                    ledger::import_many(&consents, "relay-bench", std::mem::take(&mut given))
                        .await
                        .unwrap();
                }
            }
            ledger::import_many(&consents, "relay-bench", given)
                .await
                .unwrap();
            ids
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    ids
}

/// Records one move for `citizen`; returns (change id, start µs, deliveries owed).
async fn record_one(state: &Relay, citizen: &str, n: u64) -> (String, i64, usize) {
    let started = now_us();
    let recorded = outbox::record(
        state,
        NewChange {
            citizen_id: citizen.to_owned(),
            kind: EventKind::Move,
            values: vec![("address".into(), address(n))],
            provenance: provenance(),
            actor: audit::Actor::new(audit::ActorKind::Citizen, citizen),
            department_id: None,
            client_id: None,
            delegation_id: None,
        },
    )
    .await
    .unwrap();
    (recorded.change_id, started, recorded.recipients.len())
}

/// Waits until `expected` deliveries arrived, or nothing arrived for 30 s.
/// Deliveries marked superseded so far.
async fn superseded(state: &Relay) -> usize {
    let n = delivery::Entity::find()
        .filter(delivery::Column::Status.eq(supersede::SUPERSEDED))
        .count(&state.db)
        .await
        .unwrap();
    usize::try_from(n).unwrap()
}

async fn wait_for(received: &Received, expected: u64) {
    let mut last = (received.count.load(Ordering::SeqCst), Instant::now());
    loop {
        let now = received.count.load(Ordering::SeqCst);
        if now >= expected {
            return;
        }
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(30) {
            eprintln!("relay: stalled at {now} of {expected} deliveries");
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// jti → change id for every delivery row.
async fn delivery_changes(state: &Relay) -> HashMap<String, String> {
    delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Id)
        .column(delivery::Column::ChangeId)
        .into_tuple::<(String, String)>()
        .all(&state.db)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied()
}

/// Per change: ms from the start of its `record` to its last delivery's first arrival.
fn latencies(
    starts: &HashMap<String, i64>,
    arrivals: &[(String, i64)],
    changes: &HashMap<String, String>,
) -> (Vec<f64>, u64) {
    let mut first: HashMap<&str, i64> = HashMap::new();
    let mut duplicates = 0;
    for (jti, at) in arrivals {
        if first.insert(jti, *at).is_some() {
            duplicates += 1;
        }
    }
    let mut last: HashMap<&str, i64> = HashMap::new();
    for (jti, at) in first {
        if let Some(change) = changes.get(jti) {
            let e = last.entry(change.as_str()).or_insert(at);
            *e = (*e).max(at);
        }
    }
    let mut out: Vec<f64> = starts
        .iter()
        .filter_map(|(change, start)| {
            last.get(change.as_str())
                .map(|at| (at - start) as f64 / 1000.0)
        })
        .collect();
    out.sort_by(f64::total_cmp);
    (out, duplicates)
}

async fn start_worker(state: &Relay) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, rx) = watch::channel(false);
    let handle = tokio::spawn(worker::run(state.clone(), rx));
    (stop, handle)
}

async fn run(db_url: &str, data_dir: &Path, changes: usize, rate: f64, citizens: usize) {
    let received = Arc::new(Received::default());
    let ports = start_receivers(received.clone());
    let (state, consents) = state(db_url, data_dir, &ports).await;
    let seeding = Instant::now();
    let ids = Arc::new(seed(&state, &consents, citizens.max(1)).await);
    let seed_seconds = seeding.elapsed().as_secs_f64();
    eprintln!(
        "relay: seeded {} citizens in {seed_seconds:.1} s",
        ids.len()
    );

    // 1. Backlog: record, then drain.
    eprintln!("relay: recording {changes} changes (worker stopped)");
    let recording = Instant::now();
    let mut tasks = Vec::new();
    for r in 0..RECORDERS {
        let (state, ids) = (state.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            let mut owed = 0;
            for i in (r..changes).step_by(RECORDERS) {
                owed += record_one(&state, &ids[i % ids.len()], i as u64).await.2;
            }
            owed
        }));
    }
    let mut owed = 0;
    for t in tasks {
        owed += t.await.unwrap();
    }
    let record_seconds = recording.elapsed().as_secs_f64();
    // A citizen's later change supersedes the earlier one's pending deliveries (never stale):
    // those are not owed.
    let superseded = superseded(&state).await;
    let owed = owed - superseded;
    eprintln!("relay: draining {owed} deliveries ({superseded} superseded)");
    let drain_start = now_us();
    let (stop, handle) = start_worker(&state).await;
    wait_for(&received, owed as u64).await;
    let arrivals = received.take();
    let drain_end = arrivals
        .iter()
        .map(|(_, at)| *at)
        .max()
        .unwrap_or(drain_start);
    let drain_seconds = (drain_end - drain_start) as f64 / 1e6;
    let backlog = serde_json::json!({
        "changes": changes,
        "deliveries_superseded": superseded,
        "deliveries_owed": owed,
        "deliveries_received": arrivals.len(),
        "record_seconds": record_seconds,
        "changes_recorded_per_second": changes as f64 / record_seconds,
        "drain_seconds": drain_seconds,
        "deliveries_per_second": arrivals.len() as f64 / drain_seconds.max(1e-6),
    });

    // 2. Paced: changes at `rate` per second with the worker running.
    eprintln!("relay: {changes} changes at {rate}/s (worker running)");
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let in_flight = Arc::new(Semaphore::new(16));
    let mut tasks = Vec::new();
    let paced_start = Instant::now();
    for i in 0..changes {
        ticker.tick().await;
        let permit = in_flight.clone().acquire_owned().await.unwrap();
        let (state, ids) = (state.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            let out = record_one(&state, &ids[i % ids.len()], (changes + i) as u64).await;
            drop(permit);
            out
        }));
    }
    let mut starts = HashMap::new();
    let mut owed = 0;
    for t in tasks {
        let (change, start, n) = t.await.unwrap();
        starts.insert(change, start);
        owed += n;
    }
    let offered_seconds = paced_start.elapsed().as_secs_f64();
    wait_for(&received, owed as u64).await;
    let arrivals = received.take();
    let changes_map = delivery_changes(&state).await;
    let (lat, duplicates) = latencies(&starts, &arrivals, &changes_map);
    let first_start = starts.values().copied().min().unwrap_or(0);
    let last_arrival = arrivals
        .iter()
        .map(|(_, at)| *at)
        .max()
        .unwrap_or(first_start);
    let paced = serde_json::json!({
        "changes": changes,
        "rate_changes_per_second": rate,
        "offered_deliveries_per_second": rate * owed as f64 / changes.max(1) as f64,
        "achieved_changes_per_second": changes as f64 / offered_seconds,
        "deliveries_owed": owed,
        "deliveries_received": arrivals.len(),
        "duplicates": duplicates,
        "deliveries_per_second": arrivals.len() as f64 / ((last_arrival - first_start) as f64 / 1e6).max(1e-6),
        "changes_complete": lat.len(),
        "latency_p50_ms": percentile(&lat, 0.50),
        "latency_p99_ms": percentile(&lat, 0.99),
        "latency_max_ms": lat.last(),
    });
    let _ = stop.send(true);
    let _ = handle.await;
    let pending = delivery::Entity::find()
        .filter(delivery::Column::Status.ne(worker::DELIVERED))
        .filter(delivery::Column::Status.ne(supersede::SUPERSEDED))
        .count(&state.db)
        .await
        .unwrap();
    let out = serde_json::json!({
        "receivers": RECEIVERS,
        "citizens": ids.len(),
        "seed_seconds": seed_seconds,
        "worker": {
            "batch_size": state.settings.batch_size,
            "poll_interval_ms": state.settings.poll_interval_ms,
            "push_max_concurrency": 4,
        },
        "backlog": backlog,
        "paced": paced,
        "not_delivered": pending,
    });
    println!("{out}");
}

async fn feed(db_url: &str, data_dir: &Path, rate: f64, citizens: usize) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).unwrap();
    let received = Arc::new(Received::default());
    let ports = start_receivers(received.clone());
    let (state, consents) = state(db_url, data_dir, &ports).await;
    let ids = Arc::new(seed(&state, &consents, citizens.max(1)).await);
    println!("READY");
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let in_flight = Arc::new(Semaphore::new(16));
    let owed = Arc::new(AtomicU64::new(0));
    let recorded = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut i = 0usize;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = ticker.tick() => {}
        }
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break;
        };
        let (state, ids, owed, recorded) =
            (state.clone(), ids.clone(), owed.clone(), recorded.clone());
        tokio::spawn(async move {
            let (_, _, n) = record_one(&state, &ids[i % ids.len()], i as u64).await;
            owed.fetch_add(n as u64, Ordering::SeqCst);
            recorded.fetch_add(1, Ordering::SeqCst);
            drop(permit);
        });
        i += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    let _ = in_flight.acquire_many(16).await;
    let out = serde_json::json!({
        "receivers": RECEIVERS,
        "rate_changes_per_second": rate,
        "seconds": seconds,
        "changes_recorded": recorded.load(Ordering::SeqCst),
        "changes_per_second": recorded.load(Ordering::SeqCst) as f64 / seconds,
        "deliveries_owed": owed.load(Ordering::SeqCst),
        "deliveries_received": received.count.load(Ordering::SeqCst),
        "deliveries_per_second": received.count.load(Ordering::SeqCst) as f64 / seconds,
    });
    println!("{out}");
}
