//! The integrator moves when its holder dies. Two broker processes on one PostgreSQL answer
//! releases while the one holding the integrator lease is SIGKILLed: the other takes the lease
//! over, integrates what the dead one queued and everything after, and the log keeps growing with
//! nothing lost (every answered `txn` is in the tree), nothing twice, no gap in the sequence, and
//! `broker audit verify` clean.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use broker_e2e::release::*;
use serde_json::json;

use super::*;

const ESD: &str = "employment-social-development";
const PENSION: &str = "pension-enrolment";

/// `broker_audit_integrator_leader` as `broker` reports it (None while it does not answer).
async fn leader(broker: &Broker) -> Option<bool> {
    let text = reqwest::get(broker.url("/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("broker_audit_integrator_leader "))
        .map(|v| v.trim() == "1")
}

/// Waits until exactly one of `brokers` holds the lease; its index.
async fn the_leader(brokers: &[&Broker]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut holders = Vec::new();
        for (i, b) in brokers.iter().enumerate() {
            if leader(b).await == Some(true) {
                holders.push(i);
            }
        }
        if holders.len() == 1 {
            return holders[0];
        }
        assert!(
            Instant::now() < deadline,
            "no single integrator after 15 s: {holders:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Releases against `broker` until `stop`; the `txn` of every answered one goes into `answered`.
fn load(
    broker: &Broker,
    client: Arc<RustClient>,
    path: String,
    answered: Arc<Mutex<Vec<String>>>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let base = broker.base.clone();
    tokio::spawn(async move {
        // Before the kill: both instances answer.
        let token = client.token(&base, None).await;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        while !*stop.borrow() {
            let Ok(res) = http
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await
            else {
                // The killed instance: its calls fail from now on.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            if res.status().as_u16() != 200 {
                continue;
            }
            let Ok(jws) = res.text().await else { continue };
            let txn = payload(&jws)["txn"].as_str().unwrap().to_owned();
            answered.lock().unwrap().push(txn);
        }
    })
}

#[tokio::test]
async fn a_killed_integrator_is_replaced_and_the_log_keeps_every_answered_record_once() {
    let world = World::new().await;
    if world.db.backend() != Backend::Postgres {
        eprintln!("skipped: needs PostgreSQL (TUO_TEST_DATABASE=postgres)");
        return;
    }
    let citizen = world
        .citizen(&[FactSpec::provider("given_name", json!("Alice"), 2)])
        .await;
    let sub = world.subject(ESD, &citizen).await;
    world
        .grant(&citizen, ESD, PENSION, &["given_name"], 30)
        .await;
    let client = Arc::new(RustClient::generate(ESD, "esd-app"));
    client.register(&world.conn, &["attributes:read"]).await;
    let path = attributes_path(&sub, "given_name", PENSION);

    // Two instances sharing keys and database, as a deployment runs them (the world's data
    // directory: the keys that signed the consent's receipt).
    let dir = &world.dir;
    let env = || secrets_env().set("BROKER_AUDIT__CHECKPOINT_EVERY_RECORDS", "16");
    let mut a = Broker::spawn(world.db.url(), dir.path(), env(), &["serve"]);
    a.wait_ready(Duration::from_secs(60)).await;
    let mut b = Broker::spawn(world.db.url(), dir.path(), env(), &["serve"]);
    b.wait_ready(Duration::from_secs(60)).await;
    let holder = the_leader(&[&a, &b]).await;

    let answered = Arc::new(Mutex::new(Vec::new()));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut loads = Vec::new();
    for broker in [&a, &b] {
        for _ in 0..3 {
            loads.push(load(
                broker,
                client.clone(),
                path.clone(),
                answered.clone(),
                stopped.clone(),
            ));
        }
    }
    // Under load, the holder dies without a chance to give the lease up.
    let wait_for = |n: usize| {
        let answered = answered.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            while answered.lock().unwrap().len() < n {
                assert!(Instant::now() < deadline, "the load stalled");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    wait_for(60).await;
    let (dead, survivor) = if holder == 0 {
        a.kill();
        (&a, &b)
    } else {
        b.kill();
        (&b, &a)
    };
    let at_kill = answered.lock().unwrap().len();
    // The survivor keeps answering and takes the lease over (a lease and a poll: about 3.5 s).
    let deadline = Instant::now() + Duration::from_secs(15);
    while leader(survivor).await != Some(true) {
        assert!(
            Instant::now() < deadline,
            "the survivor never took the lease over; its log:\n{}",
            survivor.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for(at_kill + 60).await;
    stop.send(true).unwrap();
    for l in loads {
        l.await.unwrap();
    }
    broker_e2e::audit_settled(&world.conn).await;

    // Every answered release is in the tree exactly once, and the sequence has no gap.
    let answered = answered.lock().unwrap().clone();
    let rows = tree_holds_each_once(&world.conn, &answered).await;
    let survivor_log = survivor.log_text();
    assert!(
        survivor_log.contains("this instance holds the lease"),
        "{survivor_log}"
    );
    assert!(dead.child.is_none());

    let data_dir = dir.path().display().to_string();
    let (status, out, err) = run_broker(
        &[
            ("BROKER_DATABASE_URL", world.db.url()),
            ("BROKER_DATA_DIR", &data_dir),
        ],
        &["audit", "verify"],
    );
    assert!(status.success(), "{out}\n{err}");
    assert!(
        out.starts_with(&format!("ok: {} records verified", rows.len())),
        "{out}"
    );
}
