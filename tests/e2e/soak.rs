//! The soak: mixed traffic for a long time against one broker, sampling what a leak would grow.
//! Not part of CI (`#[ignore]`); `scripts/soak` runs it against the release binary on PostgreSQL
//! and the result goes in docs/operations.md.
//!
//! Traffic, all through the broker's public interfaces, from four loops at once: citizens signing
//! in through a real OpenID provider (oidc-provider), reading their pages, giving a consent and
//! withdrawing it, changing their address, signing out; a department taking tokens
//! (`private_key_jwt`) and asking for releases (permitted while a consent is live, refused
//! otherwise: both are normal answers); a privacy officer signing in and searching the log.
//! Every `SOAK_SAMPLE_SECS` (60): the broker's resident memory and open file descriptors, the
//! database's connections, and the answers since the last sample (an unexpected one is a 5xx, a
//! transport failure, or a status the step does not expect).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use broker_e2e::release::RustClient;
use broker_e2e::signin::{World, WorldSpec, csrf_token, get, post_form, sign_in, start_path};
use broker_e2e::*;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::json;

const ESD: &str = "employment-social-development";
const PURPOSE: &str = "pension-enrolment";

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    unexpected: AtomicU64,
    sign_ins: AtomicU64,
    consents: AtomicU64,
    releases: AtomicU64,
    changes: AtomicU64,
    searches: AtomicU64,
}

impl Counts {
    /// Counts an answer: expected if its status is among `expected`.
    fn answer(&self, step: &str, status: u16, expected: &[u16]) -> bool {
        if expected.contains(&status) {
            self.ok.fetch_add(1, Ordering::Relaxed);
            true
        } else {
            if self.unexpected.fetch_add(1, Ordering::Relaxed) < 20 {
                eprintln!("[soak] unexpected {status} at {step}");
            }
            false
        }
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// (resident set in KiB, open file descriptors) of `pid`.
fn process_sample(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    (rss, fds)
}

/// Connections to the broker's database other than the sampler's own.
async fn db_connections(conn: &DatabaseConnection) -> i64 {
    let backend = conn.get_database_backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Postgres => {
            "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid()"
        }
        _ => return -1,
    };
    conn.query_one_raw(Statement::from_string(backend, sql))
        .await
        .ok()
        .flatten()
        .and_then(|r| r.try_get::<i64>("", "n").ok())
        .unwrap_or(-1)
}

/// A citizen's visit: sign in, read, consent and withdraw, change the address, sign out.
async fn citizen_visit(w: &World, who: &str, n: u64, c: &Counts) {
    let client = browser_client();
    let b = &w.broker;
    let signed = sign_in(&client, b, &start_path("bank", who)).await;
    if !c.answer("sign-in", signed.status, &[303]) {
        return;
    }
    c.sign_ins.fetch_add(1, Ordering::Relaxed);
    let me = get(&client, &b.url("/me")).await;
    if !c.answer("/me", me.status, &[200]) {
        return;
    }
    let csrf = csrf_token(&me.body);
    for path in [
        "/me/information",
        "/me/consents",
        "/me/activity",
        "/me/requests",
    ] {
        let page = get(&client, &b.url(path)).await;
        c.answer(path, page.status, &[200]);
    }
    // A consent, then its withdrawal.
    let granted = post_form(
        &client,
        &b.url("/me/consents"),
        &[
            ("csrf_token", &csrf),
            ("department", ESD),
            ("purpose", PURPOSE),
            ("attribute", "given_name"),
            ("attribute", "birthdate"),
            ("mode", "once"),
            ("duration_days", "30"),
        ],
    )
    .await;
    if c.answer("grant", granted.status, &[303]) {
        c.consents.fetch_add(1, Ordering::Relaxed);
        if let Some(id) = granted
            .location
            .as_deref()
            .and_then(|l| l.split("/me/consents/").nth(1))
            .map(|rest| rest.split('?').next().unwrap_or(rest).to_owned())
        {
            let revoked = post_form(
                &client,
                &b.url(&format!("/me/consents/{id}/revoke")),
                &[("csrf_token", &csrf)],
            )
            .await;
            c.answer("revoke", revoked.status, &[303]);
        }
    }
    // An address change.
    let street = format!("{n} Rue Principale");
    let changed = post_form(
        &client,
        &b.url("/me/update"),
        &[
            ("csrf_token", &csrf),
            ("attribute", "address"),
            ("street_address", &street),
            ("locality", "Gatineau"),
            ("region", "QC"),
            ("postal_code", "J8X 1A1"),
            ("country", "CA"),
        ],
    )
    .await;
    if c.answer("address change", changed.status, &[303]) {
        c.changes.fetch_add(1, Ordering::Relaxed);
    }
    let out = post_form(&client, &b.url("/signout"), &[("csrf_token", &csrf)]).await;
    c.answer("sign-out", out.status, &[303]);
}

/// An officer's visit: sign in, search, look at unusual activity.
async fn officer_visit(w: &World, c: &Counts) {
    let client = browser_client();
    let b = &w.broker;
    let signed = sign_in(&client, b, "/officer/signin/with/bank?login_hint=olivier").await;
    if !c.answer("officer sign-in", signed.status, &[303]) {
        return;
    }
    for path in [
        "/officer?action=release",
        "/officer?outcome=deny",
        "/officer/unusual",
    ] {
        let page = get(&client, &b.url(path)).await;
        if c.answer(path, page.status, &[200]) {
            c.searches.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[tokio::test]
#[ignore = "runs for SOAK_MINUTES (30): scripts/soak"]
async fn soak() {
    let minutes = env_u64("SOAK_MINUTES", 30);
    let sample_every = Duration::from_secs(env_u64("SOAK_SAMPLE_SECS", 60));
    let w = Arc::new(
        World::start(WorldSpec {
            oidc: vec![("bank", "loa3", json!({}))],
            toml: "[[officers]]\nid = \"olivier\"\nprovider = \"bank\"\nsubject = \"olivier\"\n"
                .into(),
            ..WorldSpec::default()
        })
        .await,
    );
    let pid = w.broker.child.as_ref().expect("broker process").id();
    // The department and the citizens it asks about (each signed in once, so that they exist).
    let department = Arc::new(RustClient::generate(ESD, "soak-esd"));
    department.register(&w.conn, &["attributes:read"]).await;
    let mut subjects = Vec::new();
    for who in ["alice", "bob"] {
        let client = browser_client();
        let page = sign_in(&client, &w.broker, &start_path("bank", who)).await;
        assert_eq!(page.status, 303, "{who} signs in");
        let citizen: String = w
            .conn
            .query_one_raw(Statement::from_string(
                w.conn.get_database_backend(),
                format!("SELECT citizen_id AS c FROM identity_links WHERE subject = '{who}'"),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get("", "c")
            .unwrap();
        let sector = policies::Catalogue::embedded()
            .unwrap()
            .department(ESD)
            .unwrap()
            .sector_identifier
            .clone();
        subjects.push(
            broker_e2e::citizens::pairwise_subject(&w.conn, &w.broker, &sector, &citizen).await,
        );
    }

    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut loops = Vec::new();
    for who in ["alice", "bob"] {
        let (w, c, stop) = (w.clone(), counts.clone(), stop.clone());
        loops.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                citizen_visit(&w, who, n, &c).await;
            }
        }));
    }
    {
        let (w, c, stop, d) = (w.clone(), counts.clone(), stop.clone(), department.clone());
        loops.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut token = (String::new(), Instant::now() - Duration::from_secs(3600));
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                if token.1.elapsed() > Duration::from_secs(240) {
                    token = (d.token(&w.broker.base, None).await, Instant::now());
                    c.answer("token", 200, &[200]);
                }
                let sub = &subjects[i % subjects.len()];
                i += 1;
                let url = w.broker.url(&format!(
                    "/api/v1/subjects/{sub}/attributes?claims=given_name,birthdate&purpose={PURPOSE}"
                ));
                match http.get(&url).bearer_auth(&token.0).send().await {
                    Ok(res) => {
                        let status = res.status().as_u16();
                        let _ = res.bytes().await;
                        if c.answer("release", status, &[200, 403]) {
                            c.releases.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(_) => {
                        c.answer("release (transport)", 0, &[]);
                    }
                }
            }
        }));
    }
    {
        let (w, c, stop) = (w.clone(), counts.clone(), stop.clone());
        loops.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                officer_visit(&w, &c).await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }));
    }

    // Sampling.
    let started = Instant::now();
    let end = started + Duration::from_secs(minutes * 60);
    let mut rows = Vec::new();
    let mut last = (0u64, 0u64);
    loop {
        let (rss, fds) = process_sample(pid);
        let conns = db_connections(&w.conn).await;
        let ok = counts.ok.load(Ordering::Relaxed);
        let bad = counts.unexpected.load(Ordering::Relaxed);
        let row = json!({
            "minute": started.elapsed().as_secs() / 60,
            "rss_mib": (rss as f64 / 1024.0 * 10.0).round() / 10.0,
            "fds": fds,
            "db_connections": conns,
            "answers": ok - last.0,
            "unexpected": bad - last.1,
        });
        eprintln!("[soak] {row}");
        rows.push(row);
        last = (ok, bad);
        if Instant::now() >= end {
            break;
        }
        tokio::time::sleep(sample_every.min(end.saturating_duration_since(Instant::now()))).await;
    }
    stop.store(true, Ordering::Relaxed);
    for l in loops {
        let _ = tokio::time::timeout(Duration::from_secs(30), l).await;
    }
    let summary = json!({
        "minutes": minutes,
        "backend": format!("{:?}", w.conn.get_database_backend()),
        "sign_ins": counts.sign_ins.load(Ordering::Relaxed),
        "consents": counts.consents.load(Ordering::Relaxed),
        "releases": counts.releases.load(Ordering::Relaxed),
        "address_changes": counts.changes.load(Ordering::Relaxed),
        "officer_searches": counts.searches.load(Ordering::Relaxed),
        "answers": counts.ok.load(Ordering::Relaxed),
        "unexpected": counts.unexpected.load(Ordering::Relaxed),
        "samples": rows,
    });
    if let Ok(path) = std::env::var("SOAK_OUT") {
        std::fs::write(&path, serde_json::to_vec_pretty(&summary).unwrap()).unwrap();
    }
    println!("{}", serde_json::to_string_pretty(&summary).unwrap());
    assert_eq!(
        counts.unexpected.load(Ordering::Relaxed),
        0,
        "unexpected answers (above)"
    );
}
