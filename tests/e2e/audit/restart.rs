//! A database restart mid-run (issue 13, "Bad input and faults"). The real broker serves releases
//! and relays changes on a PostgreSQL server of the test's own (`broker_e2e::postgres`; the
//! suite's shared server is never touched) while that server is stopped with `immediate` and kept
//! down for a few seconds, then started again. `immediate` is a crash: every connection cut
//! mid-statement, no shutdown checkpoint, recovery from the write-ahead log at the next start;
//! `pg_ctl restart -m fast` would be gentler and over before requests had to wait on it. The
//! broker itself is never restarted. The test shows:
//! - during the outage every request is answered, within the pool's acquire timeout and a margin,
//!   with a 503 `database_unavailable` problem and `Retry-After` (not a 500: the request may
//!   succeed if sent again shortly); `/readyz` says 503, `/healthz` 200; the process stays up;
//! - it recovers by itself: `/readyz` is 200 again within seconds of the server, and releases and
//!   reports succeed again;
//! - nothing lost, nothing twice: every release answered 200 is in the tree once, the sequence
//!   has no gap, `broker audit verify` is clean; every change answered 202 — the first ones still
//!   waiting in the outbox at the crash (their department was failing) — reaches the department
//!   under one `jti`, accepted once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use broker_e2e::postgres::Cluster;
use broker_e2e::release::{RustClient, attributes_path, payload};
use consent::Mode;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::*;
use crate::relay::{
    BENEFITS, ESD, PENSION, REGISTRY_SECTOR, REVENUE, Relay, address, consent_given, event_of,
    fast_env,
};

const ESD_SECTOR: &str = "esd.gc.example";
/// How long a failed request may take: the pool's acquire timeout (5 s by default) and a margin.
const FAIL_WITHIN: Duration = Duration::from_secs(12);
/// A request not answered in this long hangs.
const NO_ANSWER: Duration = Duration::from_secs(30);

/// A request that did not succeed: its status (None: no answer), its problem's `code`, when it
/// was sent and how long it took.
#[derive(Debug)]
struct Failure {
    status: Option<u16>,
    code: String,
    retry_after: Option<String>,
    sent: Instant,
    took: Duration,
}

/// What the releases got: the `txn` of each one answered 200, and every failure.
#[derive(Debug, Default)]
struct Answers {
    released: Vec<String>,
    failed: Vec<Failure>,
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(NO_ANSWER)
        .build()
        .unwrap()
}

/// Sends `request`; (status, body) or the failure.
async fn send(request: reqwest::RequestBuilder) -> Result<(u16, String), Failure> {
    let started = Instant::now();
    let failure = |status, body: &str, retry_after: Option<String>| Failure {
        status,
        retry_after,
        code: serde_json::from_str::<Value>(body).unwrap_or_default()["code"]
            .as_str()
            .unwrap_or("(not a problem document)")
            .to_owned(),
        sent: started,
        took: started.elapsed(),
    };
    let Ok(res) = request.send().await else {
        return Err(failure(None, "", None));
    };
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Ok(body) = res.text().await else {
        return Err(failure(None, "", None));
    };
    if status >= 300 {
        return Err(failure(Some(status), &body, retry_after));
    }
    Ok((status, body))
}

/// Releases of `path` until `stop`, a few a second each.
fn load(
    base: String,
    token: String,
    path: String,
    answers: Arc<Mutex<Answers>>,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let http = http();
        while !*stop.borrow() {
            match send(http.get(format!("{base}{path}")).bearer_auth(&token)).await {
                Ok((_, jws)) => {
                    let txn = payload(&jws)["txn"].as_str().unwrap().to_owned();
                    answers.lock().unwrap().released.push(txn);
                }
                Err(failure) => answers.lock().unwrap().failed.push(failure),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

/// A citizen who moves once: their subject for the registry's reports, and their street.
struct Mover {
    sub: String,
    street: String,
}

impl Mover {
    /// A citizen with an ongoing address consent to the revenue agency: one move, one delivery
    /// (a second move would supersede the first while it waits).
    async fn new(relay: &Relay, n: usize) -> Mover {
        let citizen = relay.citizen(3).await;
        relay
            .ongoing(&citizen, REVENUE, BENEFITS, &["address"])
            .await;
        Mover {
            sub: relay.subject(REGISTRY_SECTOR, &citizen).await,
            street: format!("{n} Restart Road"),
        }
    }

    /// The registry reports the move.
    fn report(&self, relay: &Relay, token: &str) -> reqwest::RequestBuilder {
        let path = format!("/api/v1/subjects/{}/attributes", self.sub);
        http().post(relay.broker.url(&path)).bearer_auth(token).json(
            &json!({"event": "move", "attributes": {"address": address(&self.street)}, "loa": 3}),
        )
    }
}

async fn receiver_mode(relay: &Relay, path: &str, mode: &str) {
    let res = reqwest::Client::new()
        .post(format!("{}/control/mode", relay.receiver.url))
        .json(&json!({"path": path, "mode": mode}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
}

/// `GET /readyz` until it answers `status`; how long that took.
async fn readiness(relay: &Relay, status: u16, within: Duration) -> Duration {
    let started = Instant::now();
    let http = http();
    loop {
        let got = http
            .get(relay.broker.url("/readyz"))
            .send()
            .await
            .map(|res| res.status().as_u16());
        if got.as_ref().is_ok_and(|s| *s == status) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "/readyz did not answer {status} within {within:?} (last: {got:?}); broker log:\n{}",
            crate::relay::tail(&relay.broker.log_text(), 40)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The streets the revenue agency received, each with its `jti`s and how often each was
/// accepted (202).
async fn received_streets(relay: &Relay) -> BTreeMap<String, Vec<(String, usize)>> {
    let mut streets: BTreeMap<String, Vec<(String, usize)>> = BTreeMap::new();
    for entry in relay.received("revenue").await {
        let (_, event) = event_of(&entry);
        let street = event["verified_claims"]["claims"]["address"]["street_address"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let accepted = entry["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| **s == 202)
            .count();
        let jti = entry["jti"].as_str().unwrap().to_owned();
        streets.entry(street).or_default().push((jti, accepted));
    }
    streets
}

#[tokio::test]
async fn a_database_restart_loses_nothing_and_the_broker_recovers_by_itself() {
    if Backend::from_env() != Backend::Postgres {
        eprintln!("skipped: needs PostgreSQL (TUO_TEST_DATABASE=postgres)");
        return;
    }
    let cluster = Cluster::start();
    let db = TestDb::new_postgres_on(&cluster.admin_url()).await.unwrap();
    let env = fast_env()
        .set("BROKER_AUDIT__CHECKPOINT_EVERY_RECORDS", "16")
        // Changes wait out the outage in the outbox, however many attempts that takes.
        .set("BROKER_RELAY__MAX_ATTEMPTS", "1000");
    let mut relay = Relay::start_on(db, &[], env).await;

    // Releases: ESD reads a citizen's address for the pension, under a `once` consent.
    let reader = relay.citizen(3).await;
    relay
        .import(consent_given(
            &reader,
            ESD,
            PENSION,
            Mode::Once,
            &["address"],
        ))
        .await;
    let esd = RustClient::generate(ESD, "esd-app");
    esd.register(&relay.conn, &["attributes:read"]).await;
    relay
        .broker
        .registry_caught_up(&relay.conn, Duration::from_secs(10))
        .await;
    let path = attributes_path(
        &relay.subject(ESD_SECTOR, &reader).await,
        "address",
        PENSION,
    );
    // Relay: three moves before the crash, one tried during the outage, three after.
    let mut movers = Vec::new();
    for n in 0..7 {
        movers.push(Mover::new(&relay, n).await);
    }
    let (before, rest) = movers.split_at(3);
    let (during, after) = rest.split_at(1);
    let registry = relay.registry_token().await;
    let esd_token = esd.token(&relay.broker.base, None).await;

    // Before: the revenue agency fails every push, so the changes answered now are still in
    // the outbox when the database goes down.
    receiver_mode(&relay, "revenue", "fail-then-ok:1000000").await;
    let mut answered_streets = Vec::new();
    for mover in before {
        let (status, body) = send(mover.report(&relay, &registry)).await.unwrap();
        assert_eq!(status, 202, "{body}");
        answered_streets.push(mover.street.clone());
    }
    relay
        .wait_until(
            "a first attempt of each change",
            Duration::from_secs(20),
            || async { relay.received("revenue").await.len() == before.len() },
        )
        .await;
    let answers = Arc::new(Mutex::new(Answers::default()));
    let (stop, stopped) = watch::channel(false);
    let loads: Vec<_> = (0..2)
        .map(|_| {
            load(
                relay.broker.base.clone(),
                esd_token.clone(),
                path.clone(),
                answers.clone(),
                stopped.clone(),
            )
        })
        .collect();
    let released = || answers.lock().unwrap().released.len();
    let failed_since = |t: Instant| {
        let answers = answers.lock().unwrap();
        answers.failed.iter().filter(|f| f.sent > t).count()
    };
    relay
        .wait_until("releases under load", Duration::from_secs(30), || async {
            released() >= 20
        })
        .await;

    // The outage: requests fail, cleanly and within a bound; the process stays up.
    cluster.crash();
    let crashed = Instant::now();
    let at_crash = released();
    let reported_during = tokio::spawn(send(during[0].report(&relay, &registry)));
    let not_ready = readiness(&relay, 503, Duration::from_secs(10)).await;
    let alive = http()
        .get(relay.broker.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(alive.status(), 200);
    relay
        .wait_until(
            "releases sent after the crash failing",
            Duration::from_secs(30),
            || async { failed_since(crashed) >= 2 },
        )
        .await;
    let child = relay.broker.child.as_mut().unwrap();
    assert!(
        child.try_wait().unwrap().is_none(),
        "the broker exited during the outage; its log:\n{}",
        relay.broker.log_text()
    );

    // The server is back: the broker is ready again by itself, and serves.
    cluster.up();
    let down_for = crashed.elapsed();
    let ready_after = readiness(&relay, 200, Duration::from_secs(30)).await;
    receiver_mode(&relay, "revenue", "ok").await;
    for mover in after {
        let (status, body) = send(mover.report(&relay, &registry)).await.unwrap();
        assert_eq!(status, 202, "{body}");
        answered_streets.push(mover.street.clone());
    }
    let at_restart = released();
    relay
        .wait_until("releases again", Duration::from_secs(30), || async {
            released() >= at_restart + 20
        })
        .await;
    stop.send(true).unwrap();
    for l in loads {
        l.await.unwrap();
    }
    let during_answer = reported_during.await.unwrap();
    if let Ok((202, _)) = during_answer {
        answered_streets.push(during[0].street.clone());
    }

    // Every failure was a 5xx problem, in time, and nothing panicked.
    let log = relay.broker.log_text();
    assert!(!log.contains("panicked"), "{log}");
    let answers = std::mem::take(&mut *answers.lock().unwrap());
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let failures = answers
        .failed
        .iter()
        .chain(during_answer.as_ref().err())
        .collect::<Vec<_>>();
    for f in &failures {
        assert!(
            f.status == Some(503)
                && f.code == "database_unavailable"
                && f.retry_after.is_some()
                && f.took < FAIL_WITHIN,
            "not a clean failure: {f:?}"
        );
        *seen
            .entry(format!("{} {}", f.status.unwrap_or(0), f.code))
            .or_default() += 1;
    }
    let slowest = failures.iter().map(|f| f.took).max().unwrap_or_default();

    // Every release answered 200 is in the tree once, and the log verifies.
    broker_e2e::audit_settled(&relay.conn).await;
    let rows = tree_holds_each_once(&relay.conn, &answers.released).await;
    let (code, out, err) = run_cli(&relay.db, &relay.broker, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.starts_with(&format!("ok: {} records verified", rows.len())),
        "{out}"
    );

    // Every change answered 202 reaches the revenue agency under one jti, accepted once.
    relay
        .wait_until(
            "every answered change delivered",
            Duration::from_secs(30),
            || async {
                let streets = received_streets(&relay).await;
                answered_streets.iter().all(|s| {
                    streets
                        .get(s)
                        .is_some_and(|j| j.iter().any(|(_, a)| *a > 0))
                })
            },
        )
        .await;
    let streets = received_streets(&relay).await;
    for (street, jtis) in &streets {
        assert_eq!(jtis.len(), 1, "{street} sent as two changes: {jtis:?}");
        assert!(jtis[0].1 <= 1, "{street} accepted twice: {jtis:?}");
    }
    for street in &answered_streets {
        assert!(streets.contains_key(street), "{street} lost");
    }

    eprintln!(
        "database restart: {} releases answered ({at_crash} before the crash, {} after it); \
         failures {seen:?}, the slowest in {slowest:?}; /readyz 503 {not_ready:?} after the \
         crash; the server down {down_for:?}; /readyz 200 {ready_after:?} after it was back; \
         the move reported during the outage: {:?}; {} changes delivered",
        answers.released.len(),
        answers.released.len() - at_crash,
        during_answer.map_or_else(|f| f.status, |(status, _)| Some(status)),
        streets.len(),
    );
}
