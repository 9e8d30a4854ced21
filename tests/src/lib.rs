//! The end-to-end harness: starts the real `broker` binary (built by `cargo build -p broker`) on a
//! fresh database and data directory, and real peers (the Node scripts in `tests/peers`), all on
//! 127.0.0.1 with free ports; stops them with SIGTERM.
//!
//! This crate is test support: failing loudly (`expect`, `panic!`) is its job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod citizens;
pub mod departments;
pub mod peers;
pub mod postgres;
pub mod release;
pub mod signin;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

pub use store::testdb::{Backend, TestDb};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_owned()
}

/// The broker binary next to this test executable (`target/<profile>/broker`).
pub fn broker_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/debug/deps/e2e-xxxx → target/debug/broker
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."));
    let bin = dir.join("broker");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p broker --bin broker` first (scripts/test does)",
        bin.display()
    );
    bin
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// A fresh temporary directory, removed on drop.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("tuo-e2e-")
        .tempdir()
        .expect("temp dir")
}

/// Environment for a broker run: everything as `BROKER_*` variables.
#[derive(Debug, Clone, Default)]
pub struct BrokerEnv(pub Vec<(String, String)>);

impl BrokerEnv {
    pub fn set(mut self, key: &str, value: impl Into<String>) -> Self {
        self.0.retain(|(k, _)| k != key);
        self.0.push((key.to_owned(), value.into()));
        self
    }
}

/// A running broker process.
pub struct Broker {
    pub child: Option<Child>,
    pub base: String,
    pub port: u16,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    pub env: BrokerEnv,
    _dir: Option<tempfile::TempDir>,
}

impl Broker {
    /// Starts `broker serve` on `db` with a fresh data directory and waits for `/readyz`.
    pub async fn start(db: &TestDb) -> Broker {
        Self::start_with(db, BrokerEnv::default()).await
    }

    pub async fn start_with(db: &TestDb, extra: BrokerEnv) -> Broker {
        let dir = temp_dir();
        let data_dir = dir.path().to_owned();
        let mut broker = Self::spawn(db.url(), &data_dir, extra, &["serve"]);
        broker._dir = Some(dir);
        broker.wait_ready(Duration::from_secs(60)).await;
        broker
    }

    /// Spawns `broker <args>` without waiting (for tests of start-up failures and restarts).
    pub fn spawn(db_url: &str, data_dir: &Path, extra: BrokerEnv, args: &[&str]) -> Broker {
        Self::spawn_on(free_port(), db_url, data_dir, extra, args)
    }

    /// Like [`Broker::spawn`] on a port chosen beforehand (peers that must know the broker's URL
    /// before it starts, e.g. an OpenID provider's registered redirect URI).
    pub fn spawn_on(
        port: u16,
        db_url: &str,
        data_dir: &Path,
        extra: BrokerEnv,
        args: &[&str],
    ) -> Broker {
        let base = format!("http://127.0.0.1:{port}");
        let log = data_dir.join(format!("broker-{port}.log"));
        let mut env = BrokerEnv::default()
            .set("BROKER_DATABASE_URL", db_url)
            .set("BROKER_DATA_DIR", data_dir.display().to_string())
            .set("BROKER_BIND", format!("127.0.0.1:{port}"))
            .set("BROKER_PUBLIC_URL", base.clone())
            .set("BROKER_SERVER__INSECURE_COOKIES", "true")
            .set("BROKER_SERVER__WORKERS", "2")
            .set("BROKER_LOG_FORMAT", "json")
            .set("BROKER_DATABASE__MAX_CONNECTIONS", "8");
        for (k, v) in extra.0 {
            env = env.set(&k, v);
        }
        let stderr = std::fs::File::create(&log).expect("log file");
        let stdout = std::fs::File::create(data_dir.join(format!("broker-{port}.out")))
            .expect("stdout file");
        let mut cmd = Command::new(broker_bin());
        cmd.args(args).stdout(stdout).stderr(stderr).env_clear();
        for key in ["PATH", "HOME", "TMPDIR"] {
            if let Ok(v) = std::env::var(key) {
                cmd.env(key, v);
            }
        }
        cmd.envs(env.0.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let child = cmd.spawn().expect("spawn broker");
        Broker {
            child: Some(child),
            base,
            port,
            data_dir: data_dir.to_owned(),
            log,
            env,
            _dir: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// This broker's services, built in the test process from its own configuration (see
    /// [`services_for`]).
    pub fn services(&self, conn: &sea_orm::DatabaseConnection) -> services::Services {
        services_for(&self.env, conn)
    }

    /// Waits until `/readyz` answers 200, or panics with the broker's log.
    pub async fn wait_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("broker exited early ({status}); log:\n{}", self.log_text());
            }
            if let Ok(res) = client.get(self.url("/readyz")).send().await
                && res.status().as_u16() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "broker not ready after {timeout:?}; log:\n{}",
            self.log_text()
        );
    }

    /// Waits until this broker serves the department registry as stored now (its
    /// `broker_registry_version` gauge reaches the stored version), or panics after `within`.
    /// Every instance applies a change within a second (`departments::registry`).
    pub async fn registry_caught_up(&self, conn: &sea_orm::DatabaseConnection, within: Duration) {
        let stored = services::departments::registry::version(conn)
            .await
            .unwrap();
        let deadline = Instant::now() + within;
        loop {
            let text = match reqwest::get(self.url("/metrics")).await {
                Ok(res) => res.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            let version = text
                .lines()
                .find_map(|l| l.strip_prefix("broker_registry_version "))
                .and_then(|v| v.trim().parse::<i64>().ok());
            if version.is_some_and(|v| v >= stored) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the broker serves registry version {version:?}, stored is {stored}, after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        signal(child.id(), "TERM");
        wait_timeout(&mut child, Duration::from_secs(30))
    }

    /// SIGKILL: no chance to clean up (crash tests).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "TERM");
            if wait_timeout(&mut child, Duration::from_secs(10)).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Sends a signal by name with the system `kill` (no unsafe code needed here).
pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status();
}

pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Runs `broker <args>` to completion with the given environment; returns (status, stdout, stderr).
pub fn run_broker(env: &[(&str, &str)], args: &[&str]) -> (ExitStatus, String, String) {
    let mut cmd = Command::new(broker_bin());
    cmd.args(args).env_clear();
    for key in ["PATH", "HOME", "TMPDIR"] {
        if let Ok(v) = std::env::var(key) {
            cmd.env(key, v);
        }
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("run broker");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Reads lines from a child's stdout until one starts with `READY `; returns what follows.
pub fn wait_for_ready_line(child: &mut Child, timeout: Duration) -> Option<String> {
    let stdout = child.stdout.take()?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let reader = BufReader::new(stdout);
        for line in reader.lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("READY ") {
                let _ = tx.send(rest.trim().to_owned());
            }
        }
    });
    rx.recv_timeout(timeout).ok()
}

/// `GET url` and its JSON body (panics on a transport error or a body that is not JSON).
pub async fn get_json(http: &reqwest::Client, url: &str) -> serde_json::Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

/// A client with a cookie jar that never follows redirects (tests look at each hop).
pub fn browser_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The services a broker started with `env` builds (its data directory's keys and secrets, its
/// issuer), built in the test process: how a test changes what only the services may change,
/// such as the consent ledger (`services.ledger`). On PostgreSQL their audit records wait in the
/// queue for a running broker's integrator ([`audit_settled`]).
pub fn services_for(env: &BrokerEnv, conn: &sea_orm::DatabaseConnection) -> services::Services {
    let config = broker::config::Config::load(None, env.0.iter().cloned()).unwrap();
    broker::serve::services(&config, conn).unwrap()
}

/// Waits until the running broker's integrator has emptied the audit queue (PostgreSQL queues
/// audit records and integrates them in the background; SQLite's queue is always empty), so a
/// test can read `audit_records`. Polls for the condition, panics after 10 s: a broker whose
/// integrator does not run fails here.
pub async fn audit_settled(conn: &sea_orm::DatabaseConnection) {
    use sea_orm::{EntityTrait, PaginatorTrait};
    use services::audit_log::entities::queue;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting = queue::Entity::find().count(conn).await.unwrap();
        if waiting == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{waiting} audit records still queued after 10 s: is the broker's integrator running?"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
