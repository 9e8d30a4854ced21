//! Crash safety and scale-out: the broker SIGKILLed while fanning out a large batch of
//! deliveries, then restarted, delivers every one (duplicates only as the same `jti`), in order
//! per (department, citizen); two brokers on one PostgreSQL deliver each (department, change)
//! once.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use sea_orm::{NotSet, Set, TransactionTrait};
use serde_json::json;

use super::*;

/// How many deliveries the crash test fans out (`TUO_RELAY_CRASH_DELIVERIES`, default 10 000).
fn crash_deliveries() -> usize {
    std::env::var("TUO_RELAY_CRASH_DELIVERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// Writes `citizens × changes × departments` deliveries straight into the outbox (as the
/// broker's own transactions would), each change a move to a new address version, each delivery
/// under the citizen's ongoing address consent to that department (the worker decides every
/// delivery again when it sends it). Returns jti → (department path, seq).
async fn preload(
    relay: &Relay,
    citizens_count: usize,
    changes: usize,
    departments: &[(&str, &str)],
) -> HashMap<String, (String, i64)> {
    let now = store::now_ms();
    let txn = relay.conn.begin().await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..citizens_count {
        let citizen = citizens::create(&txn, &relay.vault).await.unwrap();
        let mut versions = Vec::new();
        for c in 0..changes {
            let version = citizens::record(
                &txn,
                &relay.vault,
                &citizen,
                "address",
                &address(&format!("{c} Crash Lane")),
                &Provenance {
                    source_kind: SourceKind::Citizen,
                    source_id: "citizen".into(),
                    method: "self-declared".into(),
                    loa: 3,
                    verified: false,
                    recorded_at: now,
                },
            )
            .await
            .unwrap();
            versions.push(version);
        }
        ids.push((citizen, versions));
    }
    txn.commit().await.unwrap();
    // Each citizen's ongoing address consent to each department, through the ledger in one
    // transaction.
    let mut given = Vec::new();
    let mut inputs = Vec::new();
    for (citizen, _) in &ids {
        for (department, _) in departments {
            given.push((citizen.clone(), *department));
            inputs.push(consent_given(
                citizen,
                department,
                purpose_of(department),
                Mode::Ongoing,
                &["address"],
            ));
        }
    }
    let recorded = ledger::import_many(&relay.services.ledger, "test-fixture", inputs)
        .await
        .unwrap();
    let consents: HashMap<(String, &str), String> = given
        .into_iter()
        .zip(recorded)
        .map(|(key, (consent, _))| (key, consent.id().to_string()))
        .collect();
    // Changes in rounds so that per (department, citizen) the order is interleaved with others.
    let mut rows = Vec::new();
    let mut change_rows = Vec::new();
    for c in 0..changes {
        for (citizen, versions) in &ids {
            let change_id = Uuid::now_v7().to_string();
            change_rows.push(change::ActiveModel {
                id: Set(change_id.clone()),
                citizen_id: Set(citizen.clone()),
                kind: Set("move".into()),
                attributes: Set(json!([{"name": "address", "version": versions[c]}])),
                source_kind: Set("citizen".into()),
                source_id: Set("citizen".into()),
                loa: Set(3),
                txn: Set(Uuid::now_v7().to_string()),
                ended: Set(None),
                created_at: Set(now),
                delegate_id: Set(None),
            });
            for (department, _) in departments {
                rows.push(delivery_row::ActiveModel {
                    seq: NotSet,
                    id: Set(Uuid::now_v7().to_string()),
                    change_id: Set(change_id.clone()),
                    citizen_id: Set(citizen.clone()),
                    department_id: Set((*department).to_owned()),
                    event: Set("move".into()),
                    purpose: Set(Some(purpose_of(department).to_owned())),
                    consent_id: Set(Some(consents[&(citizen.clone(), *department)].clone())),
                    attributes: Set(json!(["address"])),
                    status: Set("pending".into()),
                    attempts: Set(0),
                    next_attempt_at: Set(now),
                    lease_owner: Set(None),
                    lease_until: Set(None),
                    last_error: Set(None),
                    delivered_at: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                });
            }
        }
    }
    let txn = relay.conn.begin().await.unwrap();
    for chunk in change_rows.chunks(500) {
        change::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await
            .unwrap();
    }
    for chunk in rows.chunks(500) {
        delivery_row::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await
            .unwrap();
    }
    txn.commit().await.unwrap();
    let paths: HashMap<&str, &str> = departments.iter().copied().collect();
    delivery_row::Entity::find()
        .all(&relay.conn)
        .await
        .unwrap()
        .into_iter()
        .map(|d| {
            let path = format!("/events/{}", paths[d.department_id.as_str()]);
            (d.id, (path, d.seq))
        })
        .collect()
}

async fn all_jtis(relay: &Relay) -> Vec<Value> {
    reqwest::get(format!("{}/control/received", relay.receiver.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn sigkill_during_a_large_fan_out_loses_nothing_and_keeps_the_order() {
    let total = crash_deliveries();
    let env = fast_env()
        .set("BROKER_RELAY__LEASE_SECS", "3")
        .set("BROKER_RELAY__BATCH_SIZE", "512");
    let mut relay = Relay::start(&[], env.clone()).await;
    let departments = [(REVENUE, "revenue"), (ESD, "esd")];
    let changes = 5;
    let citizens_count = total.div_ceil(changes * departments.len());
    let expected = preload(&relay, citizens_count, changes, &departments).await;
    let total = expected.len();
    // Let it get going, then kill it without warning.
    relay
        .wait_until(
            "a part of the fan-out",
            Duration::from_secs(120),
            || async {
                let r = relay.stats("revenue").await["posts"].as_u64().unwrap_or(0);
                let e = relay.stats("esd").await["posts"].as_u64().unwrap_or(0);
                r + e >= (total as u64) / 5
            },
        )
        .await;
    relay.broker.kill();
    let port = relay.broker.port;
    let data_dir = relay.broker.data_dir.clone();
    relay.broker = Broker::spawn_on(port, relay.db.url(), &data_dir, env, &["serve"]);
    relay.broker.wait_ready(Duration::from_secs(60)).await;
    relay
        .wait_until("every delivery", Duration::from_secs(600), || async {
            relay.count("delivered").await == total as u64
        })
        .await;
    let received = all_jtis(&relay).await;
    let mut seen = HashSet::new();
    let mut by_pair: HashMap<(String, String), Vec<i64>> = HashMap::new();
    let mut duplicates = 0;
    for entry in &received {
        let jti = entry["jti"].as_str().unwrap().to_owned();
        let (path, seq) = expected
            .get(&jti)
            .unwrap_or_else(|| panic!("unexpected jti {jti}"))
            .clone();
        assert_eq!(entry["path"], path.as_str());
        assert!(
            entry["statuses"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == 202),
            "{entry}"
        );
        duplicates += entry["count"].as_u64().unwrap() - 1;
        seen.insert(jti);
        by_pair
            .entry((path, entry["payload"]["sub"].as_str().unwrap().to_owned()))
            .or_default()
            .push(seq);
    }
    assert_eq!(
        seen.len(),
        total,
        "every delivery arrived, none twice under another jti"
    );
    for (pair, seqs) in by_pair {
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "{pair:?} out of order: {seqs:?}"
        );
    }
    eprintln!(
        "crash test: {total} deliveries, {duplicates} re-sent with the same jti after SIGKILL"
    );
}

#[tokio::test]
async fn two_brokers_on_one_postgresql_deliver_each_change_once() {
    let db = TestDb::new().await.unwrap();
    if db.backend() != Backend::Postgres {
        eprintln!("skipped: needs TUO_TEST_DATABASE=postgres");
        return;
    }
    let relay = Relay::start_on(db, &[], fast_env()).await;
    // Instances behind one name share its public URL (their SETs' `iss`) and their keys.
    let mut second = Broker::spawn_on(
        free_port(),
        relay.db.url(),
        &relay.broker.data_dir,
        fast_env().set("BROKER_PUBLIC_URL", relay.broker.base.clone()),
        &["serve"],
    );
    second.wait_ready(Duration::from_secs(60)).await;
    let expected = preload(&relay, 200, 5, &[(REVENUE, "revenue"), (ESD, "esd")]).await;
    let total = expected.len();
    relay
        .wait_until("every delivery", Duration::from_secs(300), || async {
            relay.count("delivered").await == total as u64
        })
        .await;
    let mut posts = 0;
    let mut distinct = 0;
    for path in ["revenue", "esd"] {
        let stats = relay.stats(path).await;
        posts += stats["posts"].as_u64().unwrap();
        distinct += stats["distinct"].as_u64().unwrap();
        assert_eq!(stats["accepted_more_than_once"], 0, "{stats}");
    }
    assert_eq!(distinct as usize, total);
    assert_eq!(
        posts as usize, total,
        "no (department, change) was sent twice"
    );
    // Each delivery was recorded (and audited) once. Which instance delivered is reported, not
    // asserted: one may drain a small batch before the other polls.
    use services::audit_log::entities::record;
    broker_e2e::audit_settled(&relay.conn).await;
    let delivered: Vec<audit::Record> = record::Entity::find()
        .all(&relay.conn)
        .await
        .unwrap()
        .into_iter()
        .map(|row| audit::Record::from_canonical(&row.entry).unwrap())
        .filter(|r| r.action == audit::Action::DeliveryDelivered)
        .collect();
    assert_eq!(delivered.len(), total);
    let workers: HashSet<&str> = delivered
        .iter()
        .filter_map(|r| r.detail.get("worker").map(String::as_str))
        .collect();
    eprintln!(
        "two brokers: {} deliveries by {} instance(s)",
        total,
        workers.len()
    );
    assert!(!workers.is_empty());
    drop(second);
}

/// A broker SIGKILLed while a delivery is in flight: the restarted broker takes the dead
/// worker's delivery over within one short lease (the worker renews its leases while it works,
/// so they can be short), and a change made after the restart follows it, both within 5 s of
/// the kill. Never from two workers at once: the new broker claims the row only once the dead
/// one's lease has run out.
#[tokio::test]
async fn a_killed_worker_s_delivery_is_taken_over_within_seconds() {
    let env = fast_env().set("BROKER_RELAY__LEASE_SECS", "3");
    let mut relay = Relay::start(&["revenue=never"], env.clone()).await;
    let citizen = relay.citizen(3).await;
    relay
        .ongoing(&citizen, REVENUE, BENEFITS, &["address"])
        .await;
    let sub = relay.subject(REGISTRY_SECTOR, &citizen).await;
    let token = relay.registry_token().await;
    let move_to =
        |street: &str| json!({"event": "move", "attributes": {"address": address(street)}});
    let (status, body) = relay.report(&token, &sub, &move_to("1 Before Crash")).await;
    assert_eq!(status, 202, "{body}");
    // In flight: the receiver has it and holds the connection open.
    relay
        .wait_until(
            "the delivery in flight",
            Duration::from_secs(10),
            || async { relay.stats("revenue").await["posts"].as_u64().unwrap_or(0) >= 1 },
        )
        .await;
    relay.broker.kill();
    let killed = Instant::now();
    let held = relay.deliveries("pending").await;
    assert_eq!(held.len(), 1);
    assert!(held[0].lease_owner.is_some(), "held by the dead worker");
    assert!(
        held[0].lease_until.unwrap() > store::now_ms(),
        "{:?}",
        held[0]
    );
    // The department's receiver answers again; the broker restarts.
    let res = reqwest::Client::new()
        .post(format!("{}/control/mode", relay.receiver.url))
        .json(&json!({"path": "revenue", "mode": "ok"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let port = relay.broker.port;
    let data_dir = relay.broker.data_dir.clone();
    relay.broker = Broker::spawn_on(port, relay.db.url(), &data_dir, env, &["serve"]);
    relay.broker.wait_ready(Duration::from_secs(30)).await;
    let (status, body) = relay
        .report(&token, &sub, &move_to("2 After Restart"))
        .await;
    assert_eq!(status, 202, "{body}");
    relay
        .wait_until(
            "both changes delivered",
            Duration::from_secs(10),
            || async { relay.deliveries("delivered").await.len() == 2 },
        )
        .await;
    let recovered = killed.elapsed();
    assert!(
        recovered < Duration::from_secs(5),
        "took {recovered:?} from the kill to the last delivery"
    );
    // In order, each accepted once; the first was re-sent with its jti (at least once).
    let accepted = relay.received("revenue").await;
    let streets: Vec<String> = accepted
        .iter()
        .filter(|e| e["statuses"].as_array().unwrap().iter().any(|s| s == 202))
        .map(|e| {
            let (_, body) = event_of(e);
            body["verified_claims"]["claims"]["address"]["street_address"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        streets,
        ["1 Before Crash", "2 After Restart"],
        "{accepted:#?}"
    );
    eprintln!("recovery: {recovered:?} from SIGKILL to the next delivery");
}
