//! Import files (`broker consent import`): lines written as the import format describes read back
//! as the same consents with their line numbers; any text is consents or the first bad line with
//! why, never a panic; a line with one field missing, unknown, of the wrong type or out of its
//! range is refused at that line.

use proptest::prelude::*;
use serde_json::{Value, json};
use services::testing::proptest_cases;

use super::*;

/// One line's consent, as written, with what it should read as.
#[derive(Debug, Clone)]
struct Written {
    json: Value,
    granted_at_ms: i64,
    expires_at_ms: i64,
}

fn time_ms() -> impl Strategy<Value = i64> {
    -62_135_596_800_000i64..253_402_300_799_999
}

fn line() -> impl Strategy<Value = Written> {
    (
        (any::<String>(), any::<String>(), any::<String>()),
        prop_oneof![Just("once"), Just("ongoing")],
        proptest::collection::vec(any::<String>(), 0..4),
        (time_ms(), time_ms(), any::<u8>()),
        proptest::option::of(prop_oneof![Just("en"), Just("fr"), Just(" FR ")]),
    )
        .prop_map(|((citizen, department, purpose), mode, attributes, (granted, expires, loa), language)| {
            let rfc3339 = |ms: i64| {
                chrono::DateTime::from_timestamp_millis(ms)
                    .unwrap()
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            };
            let mut json = json!({
                "citizen": citizen, "department": department, "purpose": purpose, "mode": mode,
                "attributes": attributes, "granted_at": rfc3339(granted), "expires_at": rfc3339(expires),
                "loa": loa,
            });
            if let Some(l) = language {
                json["language"] = l.into();
            }
            Written { json, granted_at_ms: granted, expires_at_ms: expires }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(128)))]

    #[test]
    fn written_lines_read_back_with_their_line_numbers(
        lines in proptest::collection::vec((line(), "[ \t]{0,2}", any::<bool>()), 0..5),
    ) {
        let mut text = String::new();
        let mut numbers = Vec::new();
        let mut n = 0;
        for (w, pad, blank_before) in &lines {
            if *blank_before {
                text.push_str(pad);
                text.push('\n');
                n += 1;
            }
            text.push_str(&serde_json::to_string(&w.json).unwrap());
            text.push('\n');
            n += 1;
            numbers.push(n);
        }
        let read = read_import(&text).unwrap();
        prop_assert_eq!(read.len(), lines.len());
        for ((number, input), ((w, _, _), expected)) in read.iter().zip(lines.iter().zip(&numbers)) {
            prop_assert_eq!(number, expected);
            prop_assert_eq!(&input.citizen, w.json["citizen"].as_str().unwrap());
            prop_assert_eq!(&input.department, w.json["department"].as_str().unwrap());
            prop_assert_eq!(&input.purpose, w.json["purpose"].as_str().unwrap());
            prop_assert_eq!(input.mode.as_str(), w.json["mode"].as_str().unwrap());
            prop_assert_eq!(&json!(input.attributes), &w.json["attributes"]);
            prop_assert_eq!((input.granted_at_ms, input.expires_at_ms), (w.granted_at_ms, w.expires_at_ms));
            prop_assert_eq!(json!(input.loa), w.json["loa"].clone());
            let lang = w.json.get("language").and_then(Value::as_str).map_or("en", |l| l.trim()).to_ascii_lowercase();
            prop_assert_eq!(input.lang.code(), lang);
        }
    }

    #[test]
    fn a_line_changed_in_one_field_is_refused_at_that_line(
        before in proptest::collection::vec(line(), 0..3),
        w in line(),
        field in proptest::sample::select(vec!["citizen", "department", "purpose", "mode", "attributes", "granted_at", "expires_at", "loa", "language"]),
        change in 0..3usize,
    ) {
        let mut bad = w.json.clone();
        let object = bad.as_object_mut().unwrap();
        let refused = match change {
            // Missing (only `language` may be left out).
            0 => object.remove(field).is_some() && field != "language",
            // Of the wrong type.
            1 => { object.insert(field.to_owned(), json!({ "x": 1 })); true }
            // Unknown field.
            _ => { object.insert(format!("{field}_x"), json!(1)); true }
        };
        let mut text: String = before.iter().map(|w| format!("{}\n", w.json)).collect();
        text.push_str(&format!("{bad}\n"));
        match read_import(&text) {
            Ok(read) => prop_assert!(!refused && read.len() == before.len() + 1),
            Err((line, why)) => {
                prop_assert!(refused, "{why}");
                prop_assert_eq!(line, before.len() + 1);
            }
        }
    }

    #[test]
    fn bad_values_are_refused_with_why(
        w in line(),
        (field, value) in prop_oneof![
            Just(("mode", json!("always"))),
            Just(("language", json!("de"))),
            Just(("granted_at", json!("2026-02-30T00:00:00Z"))),
            Just(("expires_at", json!("2026-11-26"))),
            Just(("loa", json!(256))),
            Just(("loa", json!(-1))),
        ],
    ) {
        let mut bad = w.json.clone();
        bad[field] = value;
        let (line, why) = read_import(&format!("{bad}")).unwrap_err();
        prop_assert_eq!(line, 1);
        prop_assert!(why.contains(field) || why.starts_with("not a consent"), "{why}");
    }

    #[test]
    fn any_text_is_consents_or_the_first_bad_line(text in prop_oneof![
        any::<String>(),
        proptest::collection::vec(prop_oneof![
            line().prop_map(|w| w.json.to_string()),
            // Cut short.
            line().prop_map(|w| {
                let t = w.json.to_string();
                t.chars().take(t.chars().count() / 2).collect()
            }),
            "[ \t]{0,3}",
            "[{}\\[\\]\":,a-z0-9 ]{0,30}",
        ], 0..5).prop_map(|lines| lines.join("\n")),
    ]) {
        match read_import(&text) {
            Ok(read) => prop_assert!(read.iter().all(|(n, _)| (1..=text.lines().count()).contains(n))),
            Err((line, why)) => {
                prop_assert!((1..=text.lines().count()).contains(&line));
                prop_assert!(!why.is_empty());
                prop_assert!(!text.lines().nth(line - 1).unwrap().trim().is_empty());
            }
        }
    }
}
