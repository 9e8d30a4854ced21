//! Pull sources end to end: the real broker reads a department's change feed
//! (`tests/peers/pull-source.mjs`, a real HTTP server) page by page, records each change as the
//! department's report, pushes it to a department with an ongoing consent (the receiver peer),
//! skips and audits what fails a check, reads a page again after a crash without recording
//! anything twice, and retries a 503 without moving its cursor.

use std::time::Duration;

use broker_e2e::peers::Peer;
use broker_e2e::{Broker, run_broker};
use sea_orm::{ActiveModelTrait, Set};
use services::relay::pull::store::entity as pull_row;

use super::*;

/// The department's bearer secret for its feed: it must reach the feed and nothing else.
const TOKEN: &str = "pull-feed-token-3f9a";

async fn add_page(feed: &Peer, changes: Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/control/pages", feed.url))
        .json(&json!({ "changes": changes }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
}

async fn glitch(feed: &Peer, body: Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/control/glitch", feed.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
}

/// Every feed request: `{"since", "limit", "authorized", "status"}`.
async fn requests(feed: &Peer) -> Vec<Value> {
    reqwest::get(format!("{}/control/requests", feed.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn pull_state(relay: &Relay) -> Option<pull_row::Model> {
    pull_row::Entity::find_by_id(REGISTRY.to_owned())
        .one(&relay.conn)
        .await
        .unwrap()
}

async fn cursor(relay: &Relay) -> Option<String> {
    pull_state(relay).await.and_then(|row| row.cursor)
}

/// `broker <args>` against the running broker's database and data directory.
fn cli(relay: &Relay, args: &[&str]) -> (bool, String, String) {
    let env: Vec<(&str, &str)> = relay
        .broker
        .env
        .0
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, out, err) = run_broker(&env, args);
    (status.success(), out, err)
}

/// The audit records of pulled changes that were refused: (reason codes, attributes, citizen).
async fn skipped(relay: &Relay) -> Vec<(Vec<String>, Vec<String>, Option<String>)> {
    use sea_orm::QueryOrder;
    use services::audit_log::entities::record;
    broker_e2e::audit_settled(&relay.conn).await;
    record::Entity::find()
        .filter(record::Column::Outcome.eq("error"))
        .order_by_asc(record::Column::Seq)
        .all(&relay.conn)
        .await
        .unwrap()
        .into_iter()
        .map(|row| audit::Record::from_canonical(&row.entry).unwrap())
        .filter(|r| r.detail.get("source").map(String::as_str) == Some("pull"))
        .map(|r| {
            assert_eq!(r.department_id.as_deref(), Some(REGISTRY));
            (r.reasons, r.attributes, r.citizen_id)
        })
        .collect()
}

#[tokio::test]
async fn a_pulled_change_is_recorded_pushed_and_never_recorded_twice() {
    let mut relay = Relay::start(&[], fast_env()).await;
    let alice = relay.citizen(3).await;
    relay.ongoing(&alice, REVENUE, BENEFITS, &["address"]).await;
    let sub = relay.subject(REGISTRY_SECTOR, &alice).await;
    let feed = Peer::start("pull-source.mjs", &["--token".into(), TOKEN.into()]);
    let moved = address("2 Pulled Street");
    add_page(
        &feed,
        json!([
            {"subject": sub, "attribute": "address", "value": moved, "method": "registry_record"},
            {"subject": "nobody-has-this-id", "attribute": "address", "value": address("9 Nowhere Lane")},
            {"subject": sub, "attribute": "birthdate", "value": "1959-03-14"},
        ]),
    )
    .await;
    add_page(
        &feed,
        json!([{"subject": sub, "attribute": "email", "value": "alice@pulled.example"}]),
    )
    .await;

    // The operator points the registry at its feed.
    let settings = json!({"base_url": format!("{}/tuo", feed.url), "poll_interval_secs": 1,
        "timeout_ms": 1500, "authorization": TOKEN});
    let (ok, out, err) = cli(
        &relay,
        &[
            "departments",
            "add",
            REGISTRY,
            "--pull-source",
            &settings.to_string(),
        ],
    );
    assert!(ok, "{out}\n{err}");
    let (ok, out, err) = cli(&relay, &["departments", "show", REGISTRY]);
    assert!(ok, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["pull_source"]["kind"], "pull");
    assert_eq!(shown["pull_source"]["authorization"], "[redacted]");
    assert!(!out.contains(TOKEN), "{out}");

    // The move reaches the revenue agency, which holds an ongoing address consent.
    relay
        .wait_until(
            "the pulled move at the revenue agency",
            Duration::from_secs(30),
            || async { relay.received("revenue").await.len() == 1 },
        )
        .await;
    let received = relay.received("revenue").await;
    let (uri, event) = event_of(&received[0]);
    assert_eq!(uri, "urn:tell-us-once:secevent:move");
    assert_eq!(event["verified_claims"]["claims"]["address"], moved);
    let verification = &event["verified_claims"]["verification"];
    assert_eq!(verification["assurance_level"], "loa3");
    assert_eq!(verification["method"], "registry_record");

    // Page by page: the cursor of page 1 once page 0 is recorded, then page 1's.
    relay
        .wait_until(
            "the cursor after both pages",
            Duration::from_secs(30),
            || async { cursor(&relay).await.as_deref() == Some("c2") },
        )
        .await;
    let seen = requests(&feed).await;
    let sinces: Vec<&Value> = seen.iter().map(|r| &r["since"]).take(2).collect();
    assert_eq!(sinces, [&Value::Null, &json!("c1")], "{seen:#?}");
    assert!(
        seen.iter()
            .all(|r| r["authorized"] == true && r["limit"] == "100")
    );
    let email = citizens::current_fact(&relay.conn, &relay.vault, &alice, "email")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(email.value, json!("alice@pulled.example"));
    assert_eq!(email.provenance.source_id, REGISTRY);
    let address_fact = citizens::current_fact(&relay.conn, &relay.vault, &alice, "address")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(address_fact.value, moved);
    assert_eq!(address_fact.provenance.method, "registry_record");

    // What failed a check was skipped, audited with its code, and did not hold the feed up.
    let skips = skipped(&relay).await;
    assert_eq!(
        skips,
        [
            (
                vec!["subject_not_found".to_owned()],
                vec!["address".to_owned()],
                None
            ),
            (
                vec!["not_authoritative".to_owned()],
                vec!["birthdate".to_owned()],
                None
            ),
        ]
    );
    let before = relay.counts().await;
    assert_eq!(before[0], 2, "two changes: the move and the email");

    // A crash after page 0 was recorded but before its cursor was stored: the broker is killed,
    // its stored position rewound to before page 0, and it starts again.
    let first_log = relay.broker.log_text();
    relay.broker.kill();
    let mut row: pull_row::ActiveModel = pull_state(&relay).await.unwrap().into();
    row.cursor = Set(None);
    row.lease_owner = Set(None);
    row.lease_until = Set(None);
    row.next_poll_at = Set(0);
    row.update(&relay.conn).await.unwrap();
    let served = requests(&feed).await.len();
    let (port, data_dir, env) = (
        relay.broker.port,
        relay.broker.data_dir.clone(),
        relay.broker.env.clone(),
    );
    relay.broker = Broker::spawn_on(port, relay.db.url(), &data_dir, env, &["serve"]);
    relay.broker.wait_ready(Duration::from_secs(60)).await;
    relay
        .wait_until("both pages read again", Duration::from_secs(30), || async {
            let again = requests(&feed).await;
            again.len() > served + 1
                && again[served]["since"].is_null()
                && cursor(&relay).await.as_deref() == Some("c2")
        })
        .await;
    assert_eq!(relay.counts().await, before, "nothing recorded twice");
    let revenue = relay.stats("revenue").await;
    assert_eq!(
        (revenue["distinct"].clone(), revenue["posts"].clone()),
        (json!(1), json!(1))
    );

    // The feed fails twice with 503 (Retry-After: 1); the broker retries without moving on.
    let mark = requests(&feed).await.len();
    glitch(&feed, json!({"status": 503, "retry_after": 1, "times": 2})).await;
    add_page(
        &feed,
        json!([{"subject": sub, "attribute": "given_name", "value": "Alicia"}]),
    )
    .await;
    relay
        .wait_until(
            "the name after two 503s",
            Duration::from_secs(30),
            || async { cursor(&relay).await.as_deref() == Some("c3") },
        )
        .await;
    let name = citizens::current_fact(&relay.conn, &relay.vault, &alice, "given_name")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(name.value, json!("Alicia"));
    // (A poll already on its way when the glitch was set may come first, answered 200.)
    let after: Vec<(Value, Value)> = requests(&feed).await[mark..]
        .iter()
        .map(|r| (r["since"].clone(), r["status"].clone()))
        .skip_while(|(_, status)| *status != 503)
        .collect();
    assert_eq!(
        after[..3],
        [
            (json!("c2"), json!(503)),
            (json!("c2"), json!(503)),
            (json!("c2"), json!(200)),
        ],
        "the cursor stays at c2 until its page is read: {after:?}"
    );
    let state = pull_state(&relay).await.unwrap();
    assert_eq!((state.failures, state.last_error), (0, None));
    assert_eq!(relay.counts().await[0], before[0] + 1);

    // Logged once per failed poll as a structured WARN with its code, and never a value or the
    // department's secret.
    let log = format!("{first_log}\n{}", relay.broker.log_text());
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("http_503") && l.contains("WARN"))
        .collect();
    assert_eq!(warnings.len(), 2, "{}", tail(&log, 30));
    for secret in [
        TOKEN,
        "Pulled Street",
        "Nowhere Lane",
        "Alicia",
        "1959-03-14",
        "alice@pulled",
    ] {
        assert!(!log.contains(secret), "the log shows `{secret}`");
    }

    // The operator sees where the feed is read up to, and can stop it; bad input changes nothing.
    let (ok, out, err) = cli(&relay, &["departments", "show", REGISTRY]);
    assert!(ok, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["pull_state"]["cursor"], "c3");
    assert_eq!(shown["pull_state"]["failures"], 0);
    let (ok, _, err) = cli(
        &relay,
        &["departments", "add", REGISTRY, "--pull-source", "{not json"],
    );
    assert!(!ok && err.contains("not valid JSON"), "{err}");
    let (ok, _, err) = cli(
        &relay,
        &[
            "departments",
            "add",
            REGISTRY,
            "--pull-source",
            r#"{"base_url": "http://feed.example/tuo"}"#,
        ],
    );
    assert!(
        !ok && err.contains("`pull_source`") && err.contains("https"),
        "{err}"
    );
    let (_, out, _) = cli(&relay, &["departments", "show", REGISTRY]);
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        shown["pull_source"]["base_url"],
        format!("{}/tuo", feed.url)
    );
    let (ok, out, err) = cli(&relay, &["departments", "remove-pull-source", REGISTRY]);
    assert!(ok, "{out}\n{err}");
    let (_, out, _) = cli(&relay, &["departments", "show", REGISTRY]);
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["pull_source"], Value::Null);
    let (ok, _, err) = cli(&relay, &["departments", "remove-pull-source", REGISTRY]);
    assert!(!ok && err.contains("has no pull source"), "{err}");
}
