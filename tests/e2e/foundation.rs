//! The foundation: the binary serves, reports health, metrics, its API document and keys, stops on
//! SIGTERM, and refuses bad configuration, unreachable databases and newer schemas with one line.

use std::time::Duration;

use broker_e2e::*;
use sea_orm::{ConnectionTrait, Database};

#[tokio::test]
async fn serves_health_metrics_openapi_and_jwks_then_stops_on_sigterm() {
    let db = TestDb::new().await.unwrap();
    let mut broker = Broker::start(&db).await;
    let http = reqwest::Client::new();

    let health = http.get(broker.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let request_id = health
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!request_id.is_empty());
    let echoed = http
        .get(broker.url("/healthz"))
        .header("x-request-id", "test-abc_1")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers().get("x-request-id").unwrap(), "test-abc_1");

    // The request id reaches the log lines of that request.
    assert!(
        broker.log_text().contains("test-abc_1") || {
            tokio::time::sleep(Duration::from_millis(300)).await;
            broker.log_text().contains("test-abc_1")
        }
    );

    let metrics = http
        .get(broker.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"broker_http_requests_total{route="/healthz",method="GET",status="200"} 2"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains("broker_http_request_duration_seconds_bucket{route=\"/healthz\""));
    assert!(metrics.contains("broker_db_pool_connections "));

    let doc = get_json(&http, &broker.url("/openapi.json")).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/jwks.json",
        "/.well-known/openid-configuration",
        "/openapi.json",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is not documented");
    }
    let reference = http.get(broker.url("/docs/api")).send().await.unwrap();
    assert_eq!(reference.status(), 200);
    let html = reference.text().await.unwrap();
    assert!(
        html.contains("<code>&#x2f;readyz</code>") && html.contains("lang=\"en\""),
        "{html}"
    );
    // In French: a French note, every English passage marked as English, no Markdown backticks.
    let html = http
        .get(broker.url("/docs/api"))
        .header("accept-language", "fr")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<html lang=\"fr\""), "{html}");
    assert!(
        html.contains("Les descriptions des opérations sont en anglais"),
        "{html}"
    );
    let main = html
        .split("<main")
        .nth(1)
        .unwrap()
        .split("</main>")
        .next()
        .unwrap();
    // Prose, not the JSON schemas shown as code.
    let prose: String = main
        .split("<pre")
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part
            } else {
                part.split_once("</pre>").map_or("", |p| p.1)
            }
        })
        .collect();
    assert!(!prose.contains('`'), "raw backticks: {prose}");
    for passage in prose.split("<p").skip(1).chain(prose.split("<td").skip(1)) {
        let text = passage.split('>').nth(1).unwrap_or_default();
        if [" the ", " is ", " a "].iter().any(|w| text.contains(w)) {
            assert!(
                passage.starts_with(" lang=\"en\""),
                "unmarked English: <p{passage}"
            );
        }
    }

    let jwks = get_json(&http, &broker.url("/jwks.json")).await;
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["alg"], "ES256");
    assert!(
        key.get("d").is_none(),
        "private part must never be published"
    );

    let meta = get_json(&http, &broker.url("/.well-known/openid-configuration")).await;
    assert_eq!(meta["issuer"], broker.base.as_str());
    assert_eq!(meta["jwks_uri"], broker.url("/jwks.json").as_str());

    // Unknown routes and malformed input are problem documents with a stable code.
    let missing = http.get(broker.url("/no/such/thing")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["code"], "not_found");

    // The signing key was generated into the data directory, readable by the owner only.
    let keys_dir = broker.data_dir.join("keys").join("signing");
    let kid = key["kid"].as_str().unwrap();
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(keys_dir.join(format!("{kid}.p8")))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    let status = broker.stop().expect("broker stops within 30 s of SIGTERM");
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        broker.log_text()
    );
    assert!(broker.log_text().contains("shutting down"));
}

#[tokio::test]
async fn key_rotation_keeps_the_previous_key_published() {
    let db = TestDb::new().await.unwrap();
    let mut broker = Broker::start(&db).await;
    let http = reqwest::Client::new();
    let before = get_json(&http, &broker.url("/jwks.json")).await;
    let old_kid = before["keys"][0]["kid"].as_str().unwrap().to_owned();
    let data_dir = broker.data_dir.display().to_string();
    let (status, out, err) = run_broker(
        &[
            ("BROKER_DATA_DIR", &data_dir),
            ("BROKER_DATABASE_URL", db.url()),
        ],
        &["keys", "rotate"],
    );
    assert!(status.success(), "{err}");
    let new_kid = out.trim().rsplit(' ').next().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    // The running server picks the rotation up within its reload interval.
    let mut kids = Vec::new();
    for _ in 0..150 {
        let jwks = get_json(&http, &broker.url("/jwks.json")).await;
        kids = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        if kids.first() == Some(&new_kid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        kids,
        vec![new_kid, old_kid],
        "current first, previous still published"
    );
    broker.stop();
}

#[tokio::test]
async fn bad_configuration_is_one_line_and_a_failure_exit() {
    let dir = temp_dir();
    let data_dir = dir.path().join("data");
    let data = data_dir.display().to_string();
    let cfg = dir.path().join("broker.toml");
    std::fs::write(&cfg, "[database]\nmax_conections = 3\n").unwrap();
    let cfg_arg = cfg.display().to_string();

    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![("BROKER_DATA_DIR", &data)],
            vec!["--config", &cfg_arg, "serve"],
            "database.max_conections",
        ),
        (
            vec![("BROKER_DATA_DIR", &data), ("BROKER_LOG_LEVL", "x")],
            vec!["serve"],
            "log_levl",
        ),
        (
            vec![("BROKER_DATA_DIR", &data)],
            vec!["--config", "/nonexistent.toml", "serve"],
            "cannot read config file",
        ),
        (
            vec![
                ("BROKER_DATA_DIR", &data),
                (
                    "BROKER_DATABASE_URL",
                    "postgres://postgres@127.0.0.1:1/nothing",
                ),
            ],
            vec!["serve"],
            "cannot connect to the database",
        ),
    ];
    for (env, args, expected) in cases {
        let (status, _, stderr) = run_broker(&env, &args);
        assert!(!status.success(), "{args:?} should fail");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "exactly one line for {args:?}: {stderr}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(expected),
            "{args:?}: {stderr}"
        );
        assert!(!data_dir.exists(), "nothing written for {args:?}");
    }
    // Secrets never appear in `config check`.
    let (status, out, _) = run_broker(
        &[
            ("BROKER_KEYS__PAIRWISE_SECRET", "super-secret-value"),
            ("BROKER_DATABASE_URL", "postgres://u:pw123@127.0.0.1/x"),
        ],
        &["config", "check"],
    );
    assert!(status.success());
    assert!(
        !out.contains("super-secret-value") && !out.contains("pw123"),
        "{out}"
    );
    assert!(out.contains("[redacted]"));
}

#[tokio::test]
async fn a_schema_newer_than_the_binary_is_refused() {
    let db = TestDb::new().await.unwrap();
    let (status, _, err) = run_broker(&[("BROKER_DATABASE_URL", db.url())], &["migrate"]);
    assert!(status.success(), "{err}");
    let conn = Database::connect(db.url()).await.unwrap();
    conn.execute_unprepared(
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m29991231_000001_from_the_future', 0)",
    )
    .await
    .unwrap();
    for args in [vec!["migrate"], vec!["serve"]] {
        let (status, _, err) = run_broker(&[("BROKER_DATABASE_URL", db.url())], &args);
        assert!(!status.success());
        assert!(
            err.contains("newer than this binary")
                && err.contains("m29991231_000001_from_the_future"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// `/readyz` follows the database: 503 while PostgreSQL refuses connections to it, 200 once it
/// accepts them again. Always on PostgreSQL (it needs a server whose access can be switched off).
#[tokio::test]
async fn readyz_is_503_while_postgres_is_unreachable_and_200_when_it_returns() {
    let db = postgres_db().await;
    let mut broker = Broker::start(&db).await;
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(broker.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let admin = Database::connect(admin_url()).await.unwrap();
    let name = db.postgres_name().unwrap().to_owned();
    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false"
        ))
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ))
        .await
        .unwrap();
    let res = http.get(broker.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "not_ready");
    assert_eq!(
        http.get(broker.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "still alive"
    );

    admin
        .execute_unprepared(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    let mut ok = false;
    for _ in 0..100 {
        if http
            .get(broker.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            == 200
        {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ok,
        "readyz recovers when the database returns; log:\n{}",
        broker.log_text()
    );
    broker.stop();
}

fn admin_url() -> String {
    std::env::var("TUO_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh PostgreSQL database whatever backend the run uses.
async fn postgres_db() -> TestDb {
    TestDb::new_on(Backend::Postgres).await.unwrap()
}

#[test]
fn policies_validate_accepts_the_built_in_policies_and_names_a_broken_file() {
    let (status, out, err) = run_broker(&[], &["policies", "validate"]);
    assert!(status.success(), "{err}");
    assert!(
        out.starts_with("valid: ") && out.contains("policies"),
        "{out}"
    );
    let dir = temp_dir();
    let policy_dir = dir.path().join("cedar");
    std::fs::create_dir_all(&policy_dir).unwrap();
    for entry in std::fs::read_dir(repo_root().join("policies").join("cedar")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), policy_dir.join(entry.file_name())).unwrap();
    }
    let file = policy_dir.join("revenue-agency.cedar");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replacen("permit", "permitt", 1);
    std::fs::write(&file, text).unwrap();
    let dir_arg = policy_dir.display().to_string();
    let (status, _, err) = run_broker(
        &[("BROKER_CATALOGUE__POLICY_DIR", &dir_arg)],
        &["policies", "validate"],
    );
    assert!(!status.success());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("revenue-agency.cedar"), "{err}");
}

/// The series `/metrics` holds, without their values.
fn series_of(metrics: &str) -> std::collections::BTreeSet<String> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' ').map(|(series, _)| series.to_owned()))
        .collect()
}

#[tokio::test]
async fn no_request_can_add_a_series_to_metrics() {
    let db = TestDb::new().await.unwrap();
    let broker = Broker::start(&db).await;
    let http = reqwest::Client::new();
    let metrics = || async {
        http.get(broker.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    // One request of each kind first: an unknown path, an unknown method on it and on a route.
    let zz = reqwest::Method::from_bytes(b"ZZWARMUP").unwrap();
    for (method, path) in [
        (reqwest::Method::GET, "/no-such-page"),
        (zz.clone(), "/no-such-page"),
        (zz, "/healthz"),
    ] {
        http.request(method, broker.url(path)).send().await.unwrap();
    }
    metrics().await; // its own series
    // Series of background work are no request's doing: on PostgreSQL the audit integrator
    // publishes its queue gauge on its first pass, which may come after readiness.
    if db.backend() == Backend::Postgres {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !metrics().await.contains("broker_audit_queue_depth ") {
            assert!(std::time::Instant::now() < deadline, "no audit queue gauge");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let before = metrics().await;

    // 100 random methods and paths (a fixed-seed generator, so a failure can be replayed).
    let mut state: u64 = 0x5eed_1234_abcd_ef01;
    let mut next = move |n: usize| {
        let mut s = String::new();
        for _ in 0..n {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            s.push((b'A' + (state % 26) as u8) as char);
        }
        s
    };
    for i in 0..100 {
        let method = reqwest::Method::from_bytes(next(3 + i % 9).as_bytes()).unwrap();
        let path = if i % 4 == 0 {
            "/healthz".to_owned()
        } else {
            format!("/{}/{}", next(5).to_lowercase(), next(8).to_lowercase())
        };
        http.request(method, broker.url(&path))
            .send()
            .await
            .unwrap();
    }
    let after = metrics().await;
    let added: Vec<_> = series_of(&after)
        .difference(&series_of(&before))
        .cloned()
        .collect();
    assert!(
        added.is_empty(),
        "requests added series to /metrics: {added:?}"
    );
    assert!(
        after.contains(r#"method="other""#),
        "unknown methods are counted under one label"
    );
}

#[tokio::test]
async fn every_documented_path_answers_undeclared_methods_405_with_allow_and_head_like_get() {
    let db = TestDb::new().await.unwrap();
    let broker = Broker::start(&db).await;
    let http = reqwest::Client::new();
    let doc = get_json(&http, &broker.url("/openapi.json")).await;
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 10, "{paths:?}");
    for (path, item) in paths {
        let mut declared: Vec<String> = item
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| ["get", "post", "put", "patch", "delete", "options"].contains(&k.as_str()))
            .map(|k| k.to_uppercase())
            .collect();
        if declared.iter().any(|m| m == "GET") {
            declared.push("HEAD".to_owned());
        }
        // Path parameters filled with a plausible value; the route matches whatever they are.
        let url = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in ["TRACE", "PUT", "PATCH", "DELETE"] {
            if declared.iter().any(|m| m == method) {
                continue;
            }
            let res = http
                .request(
                    reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                    broker.url(&url),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 405, "{method} {path}");
            let allow = res.headers()["allow"].to_str().unwrap().to_owned();
            let mut allowed: Vec<&str> = allow.split(", ").collect();
            allowed.sort();
            let mut expected: Vec<&str> = declared.iter().map(String::as_str).collect();
            expected.sort();
            assert_eq!(allowed, expected, "Allow of {path}");
            let problem: serde_json::Value = res.json().await.unwrap();
            assert_eq!(problem["code"], "method_not_allowed", "{method} {path}");
        }
    }
    // HEAD is GET without the body, on pages and API alike.
    for path in ["/", "/healthz", "/openapi.json"] {
        let get = http.get(broker.url(path)).send().await.unwrap();
        let head = http.head(broker.url(path)).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "HEAD {path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "HEAD {path}"
        );
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path} sent a body"
        );
    }
    // A path nobody declared is still 404.
    let res = http
        .request(reqwest::Method::TRACE, broker.url("/no-such-thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn the_site_icon_is_where_browsers_look_and_pages_name_it() {
    let db = TestDb::new().await.unwrap();
    let broker = Broker::start(&db).await;
    let http = reqwest::Client::new();
    let icon = http.get(broker.url("/favicon.ico")).send().await.unwrap();
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/x-icon");
    let bytes = icon.bytes().await.unwrap();
    assert_eq!(&bytes[..4], &[0, 0, 1, 0], "an ICO file");
    let home = http
        .get(broker.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for link in [r#"href="/assets/favicon.svg""#, r#"href="/favicon.ico""#] {
        assert!(home.contains(link), "{link}");
        let href = link.trim_start_matches("href=\"").trim_end_matches('"');
        let res = http.get(broker.url(href)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{href}");
    }
}
