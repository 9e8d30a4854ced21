//! One department's poll against a change feed served over HTTP on 127.0.0.1: pages read in turn
//! with the cursor stored after each, failures that keep the cursor and back off, and a page
//! read again after a lost cursor recording nothing twice.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::sync::watch;

use super::tests::{Harness, REGISTRY, address};
use super::*;

/// What the feed answers instead of a page, once each.
enum Glitch {
    Status(u16, Option<u64>),
    Garbage,
    /// Served as usual (to reach a later request).
    Pass,
}

#[derive(Default)]
struct Feed {
    /// Page `n` is served for `since=c{n}` (page 0 without `since`), with `next_cursor` `c{n+1}`.
    pages: Vec<Vec<Value>>,
    glitches: VecDeque<Glitch>,
    /// The `since` of every request, in order.
    requests: Vec<Option<String>>,
}

/// The feed's answer to `GET /tuo/changes?…`.
fn changes(feed: &Mutex<Feed>, target: &str) -> crate::testing::Answer {
    let Ok(mut feed) = feed.lock() else {
        return (500, Vec::new(), String::new());
    };
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let since = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "since")
        .map(|(_, v)| v.into_owned());
    feed.requests.push(since.clone());
    match feed.glitches.pop_front() {
        Some(Glitch::Status(status, retry_after)) => {
            let headers = retry_after
                .map(|secs| vec![("Retry-After".to_owned(), secs.to_string())])
                .unwrap_or_default();
            return (status, headers, "upstream says: 9 Secret Lane".to_owned());
        }
        Some(Glitch::Garbage) => {
            return (
                200,
                vec![("Content-Type".to_owned(), "application/json".to_owned())],
                r#"{"changes": "9 Secret Lane"}"#.to_owned(),
            );
        }
        Some(Glitch::Pass) | None => {}
    }
    let at: usize = since
        .as_deref()
        .and_then(|c| c.strip_prefix('c'))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let (page, next) = match feed.pages.get(at) {
        Some(page) => (page.clone(), at + 1),
        None => (Vec::new(), at),
    };
    let body = json!({
        "changes": page, "next_cursor": format!("c{next}"), "has_more": next < feed.pages.len(),
    });
    (
        200,
        vec![("Content-Type".to_owned(), "application/json".to_owned())],
        body.to_string(),
    )
}

fn serve(feed: Arc<Mutex<Feed>>) -> String {
    let base = crate::testing::serve(Arc::new(move |target| changes(&feed, target)));
    format!("{base}/tuo")
}

fn item(sub: &str, attribute: &str, value: Value) -> Value {
    json!({"subject": sub, "attribute": attribute, "value": value, "method": "registry_record"})
}

struct Run {
    h: Harness,
    feed: Arc<Mutex<Feed>>,
    settings: Value,
    sources: Sources,
    stop: watch::Receiver<bool>,
    _stop: watch::Sender<bool>,
}

impl Run {
    async fn new(pages: Vec<Vec<Value>>) -> Run {
        let h = Harness::new().await;
        let feed = Arc::new(Mutex::new(Feed {
            pages,
            ..Feed::default()
        }));
        let base_url = serve(feed.clone());
        let settings = json!({"kind": "pull", "base_url": base_url, "poll_interval_secs": 60,
            "timeout_ms": 2000});
        departments::set_pull_source(&h.state.db, REGISTRY, Some(&settings))
            .await
            .unwrap();
        store::ensure(&h.state.db, &[REGISTRY.to_owned()], 0)
            .await
            .unwrap();
        let (tx, rx) = watch::channel(false);
        Run {
            h,
            feed,
            settings,
            sources: Sources::new().unwrap(),
            stop: rx,
            _stop: tx,
        }
    }

    async fn poll(&self) -> store::entity::Model {
        self.poll_with(&self.settings).await
    }

    /// Makes the department due, claims it as the job would, and polls it with `settings`.
    async fn poll_with(&self, settings: &Value) -> store::entity::Model {
        let db = &self.h.state.db;
        use sea_orm::{ActiveModelTrait, Set};
        let mut row: store::entity::ActiveModel =
            store::get(db, REGISTRY).await.unwrap().unwrap().into();
        row.next_poll_at = Set(0);
        row.update(db).await.unwrap();
        let mut claimed = store::claim(db, "job", &[REGISTRY.to_owned()], now_ms(), 30_000)
            .await
            .unwrap();
        let row = claimed.pop().expect("due and free");
        poll(
            &self.h.state,
            "job",
            &self.sources,
            &self.h.registry,
            settings,
            row,
            &self.stop,
        )
        .await;
        store::get(db, REGISTRY).await.unwrap().unwrap()
    }

    fn requests(&self) -> Vec<Option<String>> {
        self.feed.lock().unwrap().requests.clone()
    }

    fn glitch(&self, glitch: Glitch) {
        self.feed.lock().unwrap().glitches.push_back(glitch);
    }
}

#[tokio::test]
async fn pages_are_read_in_turn_and_failures_keep_the_cursor() {
    let run = Run::new(Vec::new()).await;
    let (_, alice) = run.h.citizen().await;
    let (_, bob) = run.h.citizen().await;
    run.feed.lock().unwrap().pages = vec![
        vec![
            item(&alice, "address", address("2 New Street")),
            item("no-such-subject", "address", address("9 Secret Lane")),
        ],
        vec![item(&bob, "given_name", json!("Robert"))],
    ];
    let before = now_ms();
    let row = run.poll().await;
    // Both pages at once (the first said `has_more`), the cursor stored after each.
    assert_eq!(run.requests(), [None, Some("c1".to_owned())]);
    assert_eq!(row.cursor.as_deref(), Some("c2"));
    assert_eq!(
        row.source_key.as_deref(),
        Some(source_key(&run.settings).as_str())
    );
    assert_eq!((row.lease_owner, row.failures), (None, 0));
    assert!(
        row.next_poll_at >= before + 60_000,
        "then every poll_interval_secs"
    );
    assert_eq!(run.h.changes().await, 2);
    assert_eq!(run.h.skips().await.len(), 1);

    // 503 with Retry-After: the cursor stays, the next poll waits at least that long.
    run.glitch(Glitch::Status(503, Some(30)));
    let before = now_ms();
    let row = run.poll().await;
    assert_eq!(run.requests().last(), Some(&Some("c2".to_owned())));
    assert_eq!(row.cursor.as_deref(), Some("c2"));
    assert_eq!(row.failures, 1);
    let error = row.last_error.unwrap_or_default();
    assert!(error.starts_with("http_503"), "{error}");
    assert!(!error.contains("Secret"), "{error}");
    assert!(row.next_poll_at >= before + 30_000);
    assert_eq!(row.lease_owner, None);

    // A malformed feed is backed off the same way, with its own code.
    run.glitch(Glitch::Garbage);
    let row = run.poll().await;
    assert_eq!((row.cursor.as_deref(), row.failures), (Some("c2"), 2));
    let error = row.last_error.unwrap_or_default();
    assert!(
        error.starts_with("malformed_feed") && !error.contains("Secret"),
        "{error}"
    );

    // A good poll clears the failures; nothing new on the feed, nothing recorded.
    let row = run.poll().await;
    assert_eq!(
        (row.cursor.as_deref(), row.failures, row.last_error),
        (Some("c2"), 0, None)
    );
    assert_eq!(run.h.changes().await, 2);

    // A page read, then the next one fails: the first page's cursor is kept, and the run of
    // failures starts again from that good page.
    run.glitch(Glitch::Garbage);
    assert_eq!(run.poll().await.failures, 1);
    {
        let mut feed = run.feed.lock().unwrap();
        feed.pages
            .push(vec![item(&alice, "family_name", json!("Roy"))]);
        feed.pages
            .push(vec![item(&bob, "family_name", json!("Gagnon"))]);
    }
    run.glitch(Glitch::Pass);
    run.glitch(Glitch::Status(503, None));
    let row = run.poll().await;
    assert_eq!(
        run.requests()[run.requests().len() - 2..],
        [Some("c2".to_owned()), Some("c3".to_owned())]
    );
    assert_eq!((row.cursor.as_deref(), row.failures), (Some("c3"), 1));
    assert_eq!(run.h.changes().await, 3);
    let row = run.poll().await;
    assert_eq!((row.cursor.as_deref(), row.failures), (Some("c4"), 0));
    assert_eq!(run.h.changes().await, 4);
}

#[tokio::test]
async fn a_page_read_again_after_a_lost_cursor_records_nothing_twice() {
    let run = Run::new(Vec::new()).await;
    let (alice_id, alice) = run.h.citizen().await;
    run.feed.lock().unwrap().pages = vec![vec![
        // Superseded within the page: only the second counts.
        item(&alice, "address", address("1 First Street")),
        item(&alice, "address", address("2 New Street")),
        item(&alice, "family_name", json!("Tremblay-Roy")),
    ]];
    run.poll().await;
    assert_eq!(run.h.changes().await, 2);
    // The broker died after recording the page but before storing its cursor.
    {
        use sea_orm::{ActiveModelTrait, Set};
        let mut row: store::entity::ActiveModel = store::get(&run.h.state.db, REGISTRY)
            .await
            .unwrap()
            .unwrap()
            .into();
        row.cursor = Set(None);
        row.update(&run.h.state.db).await.unwrap();
    }
    let row = run.poll().await;
    assert_eq!(run.requests(), [None, None], "the page was read again");
    assert_eq!(row.cursor.as_deref(), Some("c1"));
    assert_eq!(run.h.changes().await, 2, "and nothing recorded twice");
    let history =
        crate::citizens::history(&run.h.state.db, &run.h.state.vault, &alice_id, "address")
            .await
            .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].value, address("2 New Street"));

    // Pointed at another feed (here another url for the same one), the cursor starts afresh.
    let base_url = run.settings["base_url"].as_str().unwrap();
    let other = json!({"kind": "pull", "base_url": format!("{base_url}/"), "timeout_ms": 2000});
    let row = run.poll_with(&other).await;
    assert_eq!(run.requests().last(), Some(&None));
    assert_eq!(row.source_key, Some(source_key(&other)));
    assert_eq!(run.h.changes().await, 2);
}
