use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn tmp_file(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tuo-config-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

#[test]
fn defaults_apply_when_nothing_is_given() {
    let c = Config::load(None, env(&[])).unwrap();
    assert_eq!(c.bind, "127.0.0.1:8080");
    assert!(c.database.migrate_on_start);
    assert!(
        c.effective_database_url()
            .starts_with("sqlite://./broker.db")
    );
}

#[test]
fn layers_apply_in_order_file_then_env_then_secret_files() {
    let file = tmp_file(
        "broker.toml",
        "log_level = \"debug\"\n[database]\nmax_connections = 7\nmin_connections = 2\n",
    );
    let secret = tmp_file("pairwise", "s3cr3t-from-file\n");
    let c = Config::load(
        Some(&file),
        env(&[
            ("BROKER_DATABASE__MAX_CONNECTIONS", "9"),
            ("BROKER_DATABASE_URL", "postgres://u:pw@127.0.0.1/x"),
            (
                "BROKER_KEYS__PAIRWISE_SECRET_FILE",
                secret.to_str().unwrap(),
            ),
            ("UNRELATED", "ignored"),
        ]),
    )
    .unwrap();
    assert_eq!(c.log_level, "debug", "file over defaults");
    assert_eq!(
        c.database.min_connections, 2,
        "file value kept when env is silent"
    );
    assert_eq!(c.database.max_connections, 9, "env over file");
    assert_eq!(
        c.database_url.as_ref().map(|u| u.expose()),
        Some("postgres://u:pw@127.0.0.1/x")
    );
    assert_eq!(
        c.keys.pairwise_secret.expose(),
        "s3cr3t-from-file",
        "secret file, newline trimmed"
    );
}

#[test]
fn an_unknown_key_is_an_error_that_names_it() {
    let file = tmp_file("broker.toml", "[database]\nmax_conections = 3\n");
    let err = Config::load(Some(&file), env(&[])).unwrap_err().to_string();
    assert!(err.contains("database.max_conections"), "{err}");
    let err = Config::load(None, env(&[("BROKER_SERVR__WORKERS", "2")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("servr"), "{err}");
    let err = Config::load(None, env(&[("BROKER_NOPE", "1")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`nope`"), "{err}");
}

#[test]
fn unreadable_and_malformed_files_are_clear_errors() {
    let err = Config::load(Some(Path::new("/nonexistent/broker.toml")), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot read config file `/nonexistent/broker.toml`"),
        "{err}"
    );
    let bad = tmp_file("bad.toml", "this is = = not toml");
    let err = Config::load(Some(&bad), env(&[])).unwrap_err().to_string();
    assert!(err.starts_with("invalid configuration"), "{err}");
    let err = Config::load(
        None,
        env(&[("BROKER_KEYS__PAIRWISE_SECRET_FILE", "/nonexistent/s")]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("BROKER_KEYS__PAIRWISE_SECRET_FILE"), "{err}");
}

#[test]
fn wrong_types_and_cross_field_rules_are_rejected() {
    let err = Config::load(None, env(&[("BROKER_DATABASE__MAX_CONNECTIONS", "many")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("max_connections"), "{err}");
    let err = Config::load(None, env(&[("BROKER_DATABASE_URL", "mysql://x")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("database_url"), "{err}");
    let err = Config::load(
        None,
        env(&[
            ("BROKER_PUBLIC_URL", "http://broker.example"),
            ("BROKER_SERVER__INSECURE_COOKIES", "true"),
        ]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("insecure_cookies") || err.contains("https"),
        "{err}"
    );
    let err = Config::load(None, env(&[("BROKER_PUBLIC_URL", "http://broker.example")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("https"), "{err}");
}

#[test]
fn secrets_never_appear_in_debug_or_the_printed_config() {
    let secret = tmp_file("mk", "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=");
    let c = Config::load(
        None,
        env(&[
            ("BROKER_KEYS__PAIRWISE_SECRET", "hunter2-pairwise"),
            (
                "BROKER_KEYS__MASTER_KEYS__K1_FILE",
                secret.to_str().unwrap(),
            ),
            (
                "BROKER_DATABASE_URL",
                "postgres://user:dbpassword@127.0.0.1/broker",
            ),
        ]),
    )
    .unwrap();
    let printed = c.to_redacted_toml().unwrap();
    let debug = format!("{c:?}");
    for leak in ["hunter2-pairwise", "c2VjcmV0", "dbpassword"] {
        assert!(
            !printed.contains(leak),
            "printed config leaks {leak}: {printed}"
        );
        assert!(!debug.contains(leak), "debug leaks {leak}");
    }
    assert!(printed.contains("[redacted]"));
    assert_eq!(
        c.keys.master_keys.get("k1").map(|s| s.expose().len()),
        Some(44)
    );
}

#[test]
fn a_quoted_environment_value_with_an_escape_after_non_ascii_is_text() {
    let c = Config::load(None, env(&[("BROKER_LOG_LEVEL", "\"é\\n\"")])).unwrap();
    assert_eq!(c.log_level, "\"é\\n\"");
    // ASCII values are still parsed as figment parses them.
    let c = Config::load(None, env(&[("BROKER_LOG_LEVEL", "\"a\\tb\"")])).unwrap();
    assert_eq!(c.log_level, "a\tb");
}

#[test]
fn witnesses_are_a_list_in_the_file_or_one_environment_value() {
    let toml = "[audit]\norigin = \"tuo.example/audit\"\n\n[[audit.witnesses]]\nname = \"commissioner\"\nurl = \"http://127.0.0.1:7380\"\nkey = \"k\"\n";
    let c = Config::from_layers(Some(toml), env(&[])).unwrap();
    assert_eq!(c.audit.origin.as_deref(), Some("tuo.example/audit"));
    assert_eq!(c.audit.witnesses.len(), 1);
    assert_eq!(c.audit.witnesses[0].url, "http://127.0.0.1:7380");
    let c = Config::from_layers(
        None,
        env(&[(
            "BROKER_AUDIT__WITNESSES",
            "[{name=\"a\",url=\"http://127.0.0.1:1\",key=\"k\"}]",
        )]),
    )
    .unwrap();
    assert_eq!(c.audit.witnesses[0].name, "a");
    assert_eq!(c.audit.witness_retry_max_secs, 300);
}
