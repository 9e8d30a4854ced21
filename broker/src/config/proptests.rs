//! The configuration as an operator writes it: any TOML text and any `BROKER_*` value is a
//! configuration or an `invalid configuration` error, never a panic; and the configuration
//! `broker config check` prints reads back as the same configuration.

use proptest::prelude::*;
use services::testing::proptest_cases;

use super::*;

fn invalid(r: Result<Config, ConfigError>) -> Result<(), TestCaseError> {
    match r {
        Ok(_) => Ok(()),
        Err(ConfigError::Invalid(message)) => {
            prop_assert!(!message.is_empty());
            Ok(())
        }
        Err(e) => Err(TestCaseError::fail(format!(
            "not an invalid-configuration error: {e}"
        ))),
    }
}

/// TOML-ish text: keys of ours, tables, values of every TOML type, and junk.
fn toml_like() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("log_level"),
        Just("bind"),
        Just("public_url"),
        Just("data_dir"),
        Just("database_url"),
        Just("log_format"),
        Just("max_connections"),
        Just("workers"),
        Just("insecure_cookies"),
        Just("nope"),
    ];
    let table = prop_oneof![
        Just("[database]"),
        Just("[server]"),
        Just("[keys]"),
        Just("[[providers]]"),
        Just("[consent]"),
        Just("[relay]"),
        Just("[signin]"),
        Just("[nope]"),
        Just("[database"),
    ];
    let value = prop_oneof![
        "\"[^\"\\\\\n]{0,20}\"",
        "-?[0-9]{1,22}",
        Just("true".to_owned()),
        Just("1.5".to_owned()),
        Just("[1, \"a\"]".to_owned()),
        Just("{ a = 1 }".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
        Just("\"\"\"".to_owned()),
        Just("inf".to_owned()),
        Just("nan".to_owned()),
    ];
    let line = prop_oneof![
        3 => (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => table.prop_map(str::to_owned),
        1 => "[^\n]{0,30}",
    ];
    proptest::collection::vec(line, 0..8).prop_map(|lines| lines.join("\n"))
}

/// A valid configuration, described by the values that vary.
fn settings() -> impl Strategy<Value = String> {
    (
        "[^\u{0}]{0,30}",
        prop_oneof![Just("auto"), Just("text"), Just("json")],
        (1u32..200, 0u32..5),
        prop_oneof![
            (1u16..=65535).prop_map(|p| format!("http://127.0.0.1:{p}")),
            "https://[a-z]{1,10}\\.example(/[a-z]{1,5})?",
        ],
        "[a-zA-Z0-9 ._/-]{1,30}",
        proptest::option::of("sqlite://[a-z]{1,8}\\.db|postgres://u@127\\.0\\.0\\.1/[a-z]{1,8}"),
    )
        .prop_map(
            |(log_level, format, (max, min), public_url, data_dir, database_url)| {
                let mut t = toml::Table::new();
                t.insert("log_level".into(), log_level.into());
                t.insert("log_format".into(), format.into());
                t.insert("public_url".into(), public_url.into());
                t.insert("data_dir".into(), data_dir.into());
                if let Some(url) = database_url {
                    t.insert("database_url".into(), url.into());
                }
                let mut db = toml::Table::new();
                db.insert("max_connections".into(), i64::from(max).into());
                db.insert("min_connections".into(), i64::from(min.min(max)).into());
                t.insert("database".into(), db.into());
                toml::to_string(&t).unwrap()
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(128)))]

    #[test]
    fn any_toml_text_is_a_configuration_or_invalid(text in prop_oneof![any::<String>(), toml_like()]) {
        invalid(Config::from_layers(Some(&text), Vec::new()))?;
    }

    #[test]
    fn any_environment_value_is_a_configuration_or_invalid(
        key in prop_oneof![
            Just("BROKER_LOG_LEVEL"), Just("BROKER_PUBLIC_URL"), Just("BROKER_DATABASE__MAX_CONNECTIONS"),
            Just("BROKER_SERVER__INSECURE_COOKIES"), Just("BROKER_DATABASE_URL"), Just("BROKER_PROVIDERS"),
            Just("BROKER_KEYS__MASTER_KEYS__K1"), Just("BROKER_CONSENT__DEFAULT_DAYS"), Just("BROKER_"),
            Just("BROKER___"), Just("BROKER_A__B__C"),
        ],
        value in prop_oneof![
            any::<String>(),
            "[\\[\\]{}0-9a-z,=\" -]{0,20}",
            // Quoted, with escapes, after non-ASCII text.
            "\\[?\"[a-zé日]{0,3}(\\\\[a-z\"\\\\]?[a-zé]{0,3}){0,2}\",?\\]?",
        ],
    ) {
        invalid(Config::from_layers(None, vec![(key.to_owned(), value)]))?;
    }

    /// `broker config check` prints the effective configuration; read back, it is the same one.
    #[test]
    fn the_printed_configuration_reads_back_as_itself(text in settings()) {
        let config = Config::from_layers(Some(&text), Vec::new()).unwrap();
        let printed = config.to_redacted_toml().unwrap();
        let again = Config::from_layers(Some(&printed), Vec::new()).unwrap();
        prop_assert_eq!(again.to_redacted_toml().unwrap(), printed);
        prop_assert_eq!(format!("{again:?}"), format!("{config:?}"));
    }

    /// A printed configuration with one line removed, repeated or cut short is still a
    /// configuration or `invalid configuration`.
    #[test]
    fn a_printed_configuration_changed_by_a_line_is_a_configuration_or_invalid(
        text in settings(),
        at in any::<prop::sample::Index>(),
        change in 0..3usize,
        cut in any::<prop::sample::Index>(),
    ) {
        let printed = Config::from_layers(Some(&text), Vec::new()).unwrap().to_redacted_toml().unwrap();
        let mut lines: Vec<&str> = printed.lines().collect();
        let i = at.index(lines.len());
        match change {
            0 => { lines.remove(i); }
            1 => { let line = lines[i]; lines.insert(i, line); }
            _ => { let line = lines[i]; lines[i] = &line[..line.floor_char_boundary(cut.index(line.len() + 1))]; }
        }
        invalid(Config::from_layers(Some(&lines.join("\n")), Vec::new()))?;
    }
}
