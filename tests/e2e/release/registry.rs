//! The department registry as an operator runs it (a registry file applied at start, `broker
//! departments …` against a running broker), master-key rotation of the attribute store
//! (`broker keys rotate-data`), and the demo's printed attribute-fetch command.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use broker_e2e::departments::{call, keygen};
use broker_e2e::release::*;
use broker_e2e::{Broker, BrokerEnv, run_broker, signal, wait_timeout};
use sea_orm::EntityTrait;
use serde_json::json;

use super::{ESD, PENSION, alice};

/// How long a test waits for a registry change to reach a broker (the contract is a second; the
/// two-instance test below holds it to that).
const CAUGHT_UP: Duration = Duration::from_secs(10);

fn cli_env(broker: &Broker) -> Vec<(String, String)> {
    broker.env.0.clone()
}

fn run(env: &[(String, String)], args: &[&str]) -> (bool, String, String) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, out, err) = run_broker(&env, args);
    (status.success(), out, err)
}

#[tokio::test]
async fn a_registry_file_and_the_cli_register_clients_and_a_disable_takes_effect_within_a_second() {
    let world = World::new().await;
    let citizen = alice(&world).await;
    let sub = world.subject(ESD, &citizen).await;
    world
        .grant(&citizen, ESD, PENSION, &["given_name", "birthdate"], 30)
        .await;
    // The client exists only in the registry file, its public key in a JWKS file beside it.
    let dir = world.dir.path();
    let (private_key_file, public_jwk) = keygen(dir, "ES256", "esd-file-key");
    std::fs::write(
        dir.join("esd.jwks.json"),
        json!({"keys": [public_jwk]}).to_string(),
    )
    .unwrap();
    let registry = dir.join("departments.toml");
    std::fs::write(
        &registry,
        r#"
[[department]]
id = "employment-social-development"
delivery = { kind = "push", endpoint = "https://esd.example/tuo/events" }

  [[department.client]]
  client_id = "esd-from-file"
  scopes = ["attributes:read"]
  jwks_file = "esd.jwks.json"

[[department]]
id = "municipal-housing"
name_en = "Municipal Housing Office"
name_fr = "Office municipal d'habitation"
sector_identifier = "housing.city.example"
delivery = { kind = "file-drop", directory = "/var/spool/tuo/housing" }
"#,
    )
    .unwrap();
    let broker = world
        .start_with(BrokerEnv::default().set(
            "BROKER_DEPARTMENTS__REGISTRY_PATH",
            registry.display().to_string(),
        ))
        .await;
    let dept = broker_e2e::departments::TestDepartment {
        id: ESD.into(),
        client_id: "esd-from-file".into(),
        private_key_file,
        public_jwk: json!({}),
    };
    let path = attributes_path(&sub, "given_name,birthdate", PENSION);
    let out = call(&broker.base, &dept, None, &["--get", &path]);
    assert_eq!(out["status"], 200, "{out}");
    verify_release(&broker, out["body"].as_str().unwrap(), "esd-from-file");

    let env = cli_env(&broker);
    let (ok, list, err) = run(&env, &["departments", "list"]);
    assert!(ok, "{err}");
    assert!(list.contains("municipal-housing"), "{list}");
    assert!(
        list.contains("revenue-agency"),
        "catalogue departments too: {list}"
    );
    let (ok, show, err) = run(&env, &["departments", "show", ESD]);
    assert!(ok, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&show).unwrap();
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["sector_identifier"], "esd.gc.example");
    assert_eq!(
        shown["delivery"]["endpoint"],
        "https://esd.example/tuo/events"
    );
    assert_eq!(shown["clients"][0]["client_id"], "esd-from-file");
    assert!(shown["clients"][0]["jwks"]["keys"][0].get("d").is_none());

    // A client registered from the command line works at once, with no restart.
    let (_, cli_jwk) = keygen(dir, "PS256", "housing-key");
    std::fs::write(
        dir.join("housing.jwks.json"),
        json!({"keys": [cli_jwk]}).to_string(),
    )
    .unwrap();
    let (ok, out, err) = run(
        &env,
        &[
            "departments",
            "add",
            "municipal-housing",
            "--client-id",
            "housing-app",
            "--jwks-file",
            &dir.join("housing.jwks.json").display().to_string(),
            "--scope",
            "attributes:read",
        ],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("registered client housing-app"), "{out}");
    let housing = broker_e2e::departments::TestDepartment {
        id: "municipal-housing".into(),
        client_id: "housing-app".into(),
        private_key_file: dir.join("housing-key-private.json").display().to_string(),
        public_jwk: json!({}),
    };
    let out = call(&broker.base, &housing, None, &[]);
    assert_eq!(out["expires_in"], 300, "{out}");
    // Bad flags write nothing.
    let (ok, _, err) = run(
        &env,
        &["departments", "add", "new-dept", "--name-en", "New"],
    );
    assert!(!ok);
    assert!(err.contains("`name_fr` is required"), "{err}");

    // Disabled from the command line: the running broker refuses the next call and the next
    // token request; enabled again, both work.
    let (ok, out, err) = run(&env, &["departments", "disable", ESD]);
    assert!(ok, "{out}{err}");
    broker.registry_caught_up(&world.conn, CAUGHT_UP).await;
    let out = call(&broker.base, &dept, None, &["--get", &path]);
    assert_eq!(out["error"], "invalid_client", "{out}");
    let (ok, _, _) = run(&env, &["departments", "enable", ESD]);
    assert!(ok);
    broker.registry_caught_up(&world.conn, CAUGHT_UP).await;
    let out = call(&broker.base, &dept, None, &["--get", &path]);
    assert_eq!(out["status"], 200, "{out}");
    let (ok, _, err) = run(&env, &["departments", "disable", "no-such-department"]);
    assert!(
        !ok && err.contains("no department `no-such-department`"),
        "{err}"
    );

    let changes: Vec<String> = world
        .audit()
        .await
        .into_iter()
        .filter(|r| r.action.as_str() == "admin-action")
        .map(|r| {
            let change = r.detail.get("change").cloned().unwrap_or_default();
            // Every record about a department names it: filtering by department finds them all,
            // the client registered from the command line included.
            if change == "client-registered" {
                assert_eq!(r.client_id.as_deref(), Some("housing-app"), "{r:?}");
                assert_eq!(
                    r.department_id.as_deref(),
                    Some("municipal-housing"),
                    "{r:?}"
                );
            }
            assert!(r.department_id.is_some(), "{r:?}");
            change
        })
        .collect();
    assert_eq!(
        changes,
        [
            "department-updated",
            "client-registered",
            "department-disabled",
            "department-enabled"
        ]
    );
}

/// `broker departments add` registers a web application's redirect and logout URIs as written,
/// `show` prints them, and a bad one is a one-line error that changes nothing.
#[tokio::test]
async fn the_cli_registers_a_web_applications_redirect_and_logout_uris() {
    let world = World::new().await;
    let env = secrets_env()
        .set("BROKER_DATABASE_URL", world.db.url())
        .set("BROKER_DATA_DIR", world.dir.path().display().to_string())
        .0;
    let add = |extra: &[&str]| {
        let mut args = vec![
            "departments",
            "add",
            ESD,
            "--client-id",
            "esd-web",
            "--jwks-uri",
            "https://esd.example/jwks.json",
        ];
        args.extend_from_slice(extra);
        run(&env, &args)
    };
    let (ok, out, err) = add(&[
        "--redirect-uri",
        "https://pension.esd.example/callback?lang=en",
        "--redirect-uri",
        "http://127.0.0.1:3000/cb",
        "--post-logout-redirect-uri",
        "https://pension.esd.example/",
        "--backchannel-logout-uri",
        "https://pension.esd.example/logout",
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("registered client esd-web"), "{out}");
    let shown = |env: &[(String, String)]| {
        let (ok, show, err) = run(env, &["departments", "show", ESD]);
        assert!(ok, "{err}");
        let shown: serde_json::Value = serde_json::from_str(&show).unwrap();
        shown["clients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["client_id"] == "esd-web")
            .cloned()
            .unwrap()
    };
    let registered = shown(&env);
    assert_eq!(
        registered["redirect_uris"],
        json!([
            "https://pension.esd.example/callback?lang=en",
            "http://127.0.0.1:3000/cb"
        ])
    );
    assert_eq!(
        registered["post_logout_redirect_uris"],
        json!(["https://pension.esd.example/"])
    );
    assert_eq!(
        registered["backchannel_logout_uri"],
        "https://pension.esd.example/logout"
    );

    // Each refusal is one line naming the client and the field, and changes nothing.
    let long = format!("https://pension.esd.example/{}", "a".repeat(2048));
    let many: Vec<String> = (0..11)
        .map(|i| format!("https://pension.esd.example/cb{i}"))
        .collect();
    let mut too_many = Vec::new();
    for uri in &many {
        too_many.extend(["--redirect-uri", uri.as_str()]);
    }
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--redirect-uri", "http://pension.esd.example/cb"],
            "`redirect_uris`: `http://pension.esd.example/cb` must use https",
        ),
        (
            vec!["--redirect-uri", "https://pension.esd.example/cb#x"],
            "`redirect_uris`: `https://pension.esd.example/cb#x` has a fragment",
        ),
        (
            vec![
                "--redirect-uri",
                "https://me:hunter2@pension.esd.example/cb",
            ],
            "`redirect_uris`: a URI carries a user name or password",
        ),
        (
            vec!["--redirect-uri", long.as_str()],
            "is longer than 2048 characters",
        ),
        (too_many, "`redirect_uris`: 11 URIs, at most 10"),
        (
            vec![
                "--redirect-uri",
                "https://pension.esd.example/a",
                "--redirect-uri",
                "https://pension.esd.example/a",
            ],
            "`redirect_uris`: `https://pension.esd.example/a` is listed twice",
        ),
        (
            vec!["--redirect-uri", "/callback"],
            "`redirect_uris`: `/callback` is not an absolute URL",
        ),
        (
            vec!["--post-logout-redirect-uri", "http://pension.esd.example/"],
            "`post_logout_redirect_uris`",
        ),
        (
            vec![
                "--backchannel-logout-uri",
                "https://pension.esd.example/logout#x",
            ],
            "`backchannel_logout_uri`",
        ),
    ];
    for (extra, expected) in cases {
        let (ok, out, err) = add(&extra);
        assert!(!ok, "{extra:?}: {out}");
        assert!(
            err.contains("client `esd-web`") && err.contains(expected),
            "{extra:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.len() < 400, "{err}");
        assert_eq!(shown(&env), registered, "{extra:?} changed the client");
    }
    // The flags belong to a client.
    let (ok, _, err) = run(
        &env,
        &[
            "departments",
            "add",
            ESD,
            "--redirect-uri",
            "https://pension.esd.example/cb",
        ],
    );
    assert!(!ok && err.contains("--client-id"), "{err}");
}

#[tokio::test]
async fn a_disabled_departments_valid_token_is_refused_and_audited() {
    let world = World::new().await;
    let citizen = alice(&world).await;
    let sub = world.subject(ESD, &citizen).await;
    world
        .grant(&citizen, ESD, PENSION, &["given_name"], 30)
        .await;
    let client = RustClient::generate(ESD, "esd-app");
    client.register(&world.conn, &["attributes:read"]).await;
    let broker = world.start().await;
    let token = client.token(&broker.base, None).await;
    let (ok, _, err) = run(&cli_env(&broker), &["departments", "disable", ESD]);
    assert!(ok, "{err}");
    broker.registry_caught_up(&world.conn, CAUGHT_UP).await;
    let answer = get(
        &broker.base,
        &token,
        &attributes_path(&sub, "given_name", PENSION),
    )
    .await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.code(), "token_revoked");
    let denied: Vec<audit::Record> = world
        .audit()
        .await
        .into_iter()
        .filter(|r| r.action.as_str() == "release-denied")
        .collect();
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].department_id.as_deref(), Some(ESD));
    assert_eq!(denied[0].client_id.as_deref(), Some("esd-app"));
    assert_eq!(denied[0].reasons, ["token_revoked"]);
}

#[tokio::test]
async fn a_bad_registry_file_stops_start_up_and_writes_nothing() {
    let world = World::new().await;
    let registry = world.dir.path().join("departments.toml");
    std::fs::write(
        &registry,
        r#"
[[department]]
id = "municipal-housing"
name_en = "Municipal Housing Office"
name_fr = "Office municipal d'habitation"
sector_identifier = "housing.city.example"

[[department]]
id = "revenue-agency"
  [[department.client]]
  client_id = "cra-app"
  jwks_uri = "http://revenue.example/jwks.json"
"#,
    )
    .unwrap();
    let data = broker_e2e::temp_dir();
    let env = secrets_env().set(
        "BROKER_DEPARTMENTS__REGISTRY_PATH",
        registry.display().to_string(),
    );
    let mut broker = Broker::spawn(world.db.url(), data.path(), env, &["serve"]);
    let status = wait_timeout(broker.child.as_mut().unwrap(), Duration::from_secs(30))
        .expect("the broker refuses to start");
    assert!(!status.success());
    let log = broker.log_text();
    assert!(
        log.contains("client `cra-app`: `jwks_uri` must use https"),
        "{log}"
    );
    broker.child = None;
    assert!(
        services::departments::get(&world.conn, "municipal-housing")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn rotate_data_rewraps_every_data_key_and_the_old_master_key_can_be_removed() {
    // Generated master keys (none configured): the broker makes the first one in its data
    // directory; `rotate-data` makes the next and re-wraps.
    // The world's data directory: the keys that sign its consents' receipts are the broker's.
    let mut world = World::new().await;
    let env = BrokerEnv::default().set("BROKER_KEYS__PAIRWISE_SECRET", PAIRWISE_SECRET);
    let mut first = Broker::spawn(world.db.url(), world.dir.path(), env.clone(), &["serve"]);
    first.wait_ready(Duration::from_secs(60)).await;
    first.stop();
    let master_dir = world.dir.path().join("keys").join("master");
    let old: Vec<std::path::PathBuf> = std::fs::read_dir(&master_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(old.len(), 1);
    let old_kid = old[0].file_stem().unwrap().to_str().unwrap().to_owned();
    let old_key: [u8; 32] = std::fs::read(&old[0]).unwrap().try_into().unwrap();
    // Facts sealed under the generated key, as the broker would have sealed them.
    let vault = services::vault::Vault::new(&services::keys::Secrets {
        pairwise: PAIRWISE_SECRET.as_bytes().to_vec(),
        master_keys: [(old_kid.clone(), old_key)].into(),
        current_master_key: old_kid.clone(),
    })
    .unwrap();
    world.vault = vault;
    let citizen = alice(&world).await;
    // A second citizen: every data key is re-wrapped, not only the ones a release touches.
    world
        .citizen(&[FactSpec::provider("given_name", json!("Bob"), 2)])
        .await;
    let sub = world.subject(ESD, &citizen).await;
    world
        .grant(&citizen, ESD, PENSION, &["given_name", "birthdate"], 30)
        .await;
    let client = RustClient::generate(ESD, "esd-app");
    client.register(&world.conn, &["attributes:read"]).await;
    let path = attributes_path(&sub, "given_name,birthdate", PENSION);

    let (ok, out, err) = run(&first.env.0, &["keys", "rotate-data"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("re-wrapped 2 data keys"), "{out}");
    assert!(
        out.contains(&format!(
            "master key {old_kid} no longer wraps any data key: it can be removed"
        )),
        "{out}"
    );
    let keys = services::citizens::entities::citizen_key::Entity::find()
        .all(&world.conn)
        .await
        .unwrap();
    assert!(keys.iter().all(|k| k.master_key_id != old_kid));
    assert!(
        world
            .audit()
            .await
            .iter()
            .any(|r| r.action.as_str() == "admin-action"
                && r.detail.get("change").map(String::as_str) == Some("data-keys-rewrapped"))
    );
    // The old master key goes; the values still read.
    std::fs::remove_file(&old[0]).unwrap();
    let mut second = Broker::spawn(world.db.url(), world.dir.path(), env, &["serve"]);
    second.wait_ready(Duration::from_secs(60)).await;
    let token = client.token(&second.base, None).await;
    let answer = get(&second.base, &token, &path).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let payload = payload(&answer.body);
    assert_eq!(
        payload["verified_claims"][0]["claims"]["given_name"],
        "Alice"
    );
    assert_eq!(
        payload["verified_claims"][1]["claims"]["birthdate"],
        "1958-04-12"
    );
    // With generated keys, each run makes a new master key and re-wraps everything under it.
    second.stop();
    let (ok, out, err) = run(&second.env.0, &["keys", "rotate-data"]);
    assert!(ok, "{err}");
    assert!(out.contains("re-wrapped 2 data keys"), "{out}");
}

#[tokio::test]
async fn the_demo_prints_a_command_that_fetches_a_signed_attribute_from_it() {
    let data = broker_e2e::temp_dir();
    let port = broker_e2e::signin::three_free_ports();
    let mut demo = Command::new(broker_e2e::broker_bin())
        .args([
            "demo",
            "--data-dir",
            &data.path().display().to_string(),
            "--port",
            &port.to_string(),
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BROKER_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = demo.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let (verify_tx, verify_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line
                .trim_start()
                .starts_with("node tests/peers/department.mjs")
            {
                let _ = tx.send(line.trim().to_owned());
            }
            if line.trim_end().ends_with(" audit verify") {
                let _ = verify_tx.send(line.trim().to_owned());
            }
        }
    });
    let command = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the demo prints the command");
    let verify = verify_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the demo prints how to verify the audit log");
    let args = shell_words(&command);
    assert_eq!(&args[..2], ["node", "tests/peers/department.mjs"]);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::get(format!("{base}/readyz"))
        .await
        .map(|r| r.status().as_u16())
        .ok()
        != Some(200)
    {
        assert!(Instant::now() < deadline, "the demo did not get ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (ok, out, err) = broker_e2e::peers::run_node("department.mjs", &args[2..], None);
    assert!(ok, "{out}{err}");
    let out: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(out["contentType"], "application/jwt");
    let jwt = out["body"].as_str().unwrap();
    let (ok, verified, err) = broker_e2e::peers::run_node(
        "verify-jws.mjs",
        &[
            "--jwks".into(),
            format!("{base}/jwks.json"),
            "--typ".into(),
            "release+jwt".into(),
            "--aud".into(),
            "esd-pension-app".into(),
        ],
        Some(jwt),
    );
    assert!(ok, "{verified}{err}");
    let payload = payload(jwt);
    assert_eq!(
        payload["verified_claims"][0]["claims"]["given_name"],
        "Alice"
    );
    assert_eq!(payload["purpose"], PENSION);
    // The audit command works exactly as printed, in a shell, from the repository.
    let out = Command::new("sh")
        .args(["-c", &verify])
        .current_dir(broker_e2e::repo_root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "`{verify}`: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("ok: "), "`{verify}`: {text}");
    // The SD-JWT command works as printed too: the demo department fetches an SD-JWT release
    // and passes on only Alice's date of birth, key-bound; @sd-jwt/core verifies it.
    let sd_jwt = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the demo prints the SD-JWT command");
    assert!(
        sd_jwt.contains("--accept application/dc+sd-jwt")
            && sd_jwt.contains("| node tests/peers/sd-jwt.mjs"),
        "{sd_jwt}"
    );
    let out = Command::new("sh")
        .args(["-c", &sd_jwt])
        .current_dir(broker_e2e::repo_root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "`{sd_jwt}`: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(result["verified"]["ok"], true, "{result}");
    let shown = &result["verified"]["payload"];
    assert!(
        shown["verified_claims"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["claims"] == serde_json::json!({"birthdate": "1958-04-12"})),
        "{shown}"
    );
    assert!(!shown.to_string().contains("Alice"), "{shown}");
    signal(demo.id(), "TERM");
    assert!(wait_timeout(&mut demo, Duration::from_secs(30)).is_some());
}

/// Splits a printed shell command: words separated by spaces, single quotes kept together.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            _ => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Polls both brokers with their own valid token until each answers `want`; how long that took.
/// Fails after a second: the registry's contract.
async fn until_both_answer(brokers: [(&Broker, &str); 2], path: &str, want: u16) -> Duration {
    let started = Instant::now();
    loop {
        let mut answers = Vec::new();
        for (broker, token) in brokers {
            answers.push(get(&broker.base, token, path).await.status);
        }
        if answers.iter().all(|s| *s == want) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "after a second the instances still answer {answers:?}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn two_instances_refuse_a_disabled_department_and_a_removed_client_within_a_second() {
    let world = World::new().await;
    let citizen = alice(&world).await;
    let sub = world.subject(ESD, &citizen).await;
    world
        .grant(&citizen, ESD, PENSION, &["given_name"], 30)
        .await;
    let client = RustClient::generate(ESD, "esd-app");
    client.register(&world.conn, &["attributes:read"]).await;
    let path = attributes_path(&sub, "given_name", PENSION);
    // Two instances on one database, as a deployment runs them (each serves the registry from
    // its own copy).
    let a = world.start().await;
    let b = world.start().await;
    let ta = client.token(&a.base, None).await;
    let tb = client.token(&b.base, None).await;
    let both = [(&a, ta.as_str()), (&b, tb.as_str())];
    until_both_answer(both, &path, 200).await;

    // Disabled through one process (the CLI), refused by both instances.
    let (ok, out, err) = run(&cli_env(&a), &["departments", "disable", ESD]);
    assert!(ok, "{out}{err}");
    let disabled = until_both_answer(both, &path, 401).await;
    let (status, body) = token_request(&b.base, &client.assertion(&b.base), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // Enabled again: both serve again.
    let (ok, out, err) = run(&cli_env(&a), &["departments", "enable", ESD]);
    assert!(ok, "{out}{err}");
    let enabled = until_both_answer(both, &path, 200).await;
    // The client removed: its tokens stop working everywhere.
    let (ok, out, err) = run(&cli_env(&b), &["departments", "remove-client", "esd-app"]);
    assert!(ok, "{out}{err}");
    let removed = until_both_answer(both, &path, 401).await;
    eprintln!(
        "registry changes reached both instances in {disabled:?} (disable), {enabled:?} (enable), \
         {removed:?} (client removed)"
    );
}
