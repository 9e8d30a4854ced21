//! Test support (used by this crate's, the web layer's and the end-to-end tests): every service
//! over a fresh test database (SQLite or PostgreSQL per `TUO_TEST_DATABASE`), and a tiny HTTP
//! server on 127.0.0.1 for peers the services call. Failing loudly is its job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

use store::testdb::TestDb;

use crate::{Defaults, Services};

/// The issuer the test services use.
pub const ISSUER: &str = "http://127.0.0.1:8080";

/// Every service over a fresh, migrated database with the catalogue's departments registered.
pub struct TestServices {
    _test: TestDb,
    dir: std::path::PathBuf,
    pub services: Services,
}

impl Drop for TestServices {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl std::ops::Deref for TestServices {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}

impl TestServices {
    pub async fn new() -> Self {
        Self::with(Defaults::default()).await
    }

    /// With settings of the caller's own.
    pub async fn with(defaults: Defaults) -> Self {
        Self::on(TestDb::new().await.unwrap(), defaults).await
    }

    /// On a given test database.
    pub async fn on(test: TestDb, defaults: Defaults) -> Self {
        let db = test.migrated().await.unwrap();
        let dir =
            std::env::temp_dir().join(format!("tuo-services-{}", uuid::Uuid::now_v7().simple()));
        let services = Services::build(defaults.setup(&db, &dir, ISSUER)).unwrap();
        crate::departments::sync_catalogue(&services.db, services.policy.catalogue().departments())
            .await
            .unwrap();
        services.oauth.registry.reload(&services.db).await.unwrap();
        Self {
            _test: test,
            dir,
            services,
        }
    }

    /// The data directory the services' keys live in.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.dir
    }
}

/// An answer of [`serve`]: status, headers, body.
pub type Answer = (u16, Vec<(String, String)>, String);

/// Serves HTTP/1.1 on 127.0.0.1 from a thread: `answer` gets each request's path and query and
/// returns its answer; the connection closes after each. Returns the base URL.
pub fn serve(answer: Arc<dyn Fn(&str) -> Answer + Send + Sync>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let text = String::from_utf8_lossy(&buf);
            let target = text
                .lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or("/")
                .to_owned();
            let (status, headers, body) = answer(&target);
            let mut out = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
            let _ = stream.write_all(out.as_bytes());
        }
    });
    format!("http://{addr}")
}

/// How many cases each property test runs: `PROPTEST_CASES` when set (`scripts/proptest-long`
/// sets 20000), else `default`, kept small so the whole suite stays quick in CI.
/// (`ProptestConfig::with_cases` alone would ignore the variable.)
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(default)
}
