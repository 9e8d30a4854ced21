//! Departments' reports against the embedded catalogue: any report is accepted with exactly the
//! values sent, or refused with the stable code its first fault calls for; whether a value is
//! valid is known from how it was made, not from the code under test. Any JSON body is a report or
//! a parse error, never a panic, and a refusal never repeats a value.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::error::PublicError;
use crate::testing::proptest_cases;

static CATALOGUE: LazyLock<policies::Catalogue> =
    LazyLock::new(|| policies::Catalogue::embedded().unwrap());

const NAMES: [&str; 9] = [
    "given_name",
    "family_name",
    "birthdate",
    "address",
    "email",
    "phone_number",
    "preferred_language",
    "marital_status",
    "date_of_death",
];

fn text() -> impl Strategy<Value = String> {
    "[A-Za-zÀ-ÿ'. -]{0,30}[A-Za-zÀ-ÿ]"
}

fn date() -> impl Strategy<Value = String> {
    (1u32..=9999, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
}

fn address() -> impl Strategy<Value = Value> {
    (
        text(),
        text(),
        text(),
        text(),
        text(),
        proptest::option::of("[^\u{0}]{0,80}"),
    )
        .prop_map(|(street, locality, region, postal, country, formatted)| {
            let mut a = json!({
                "street_address": street, "locality": locality, "region": region,
                "postal_code": postal, "country": country,
            });
            if let Some(f) = formatted {
                a["formatted"] = f.into();
            }
            a
        })
}

/// A value the catalogue accepts for `name`.
fn valid(name: &'static str) -> BoxedStrategy<Value> {
    match name {
        "birthdate" | "date_of_death" => date().prop_map(Value::from).boxed(),
        "address" => address().boxed(),
        "email" => "[a-z0-9._%+-]{0,10}[a-z0-9]@[a-z0-9]{1,10}\\.[a-z]{2,6}"
            .prop_filter("no leading or double dot", |e| {
                !e.starts_with('.') && !e.contains("..")
            })
            .prop_map(Value::from)
            .boxed(),
        "phone_number" => "\\+[1-9][0-9]{1,14}".prop_map(Value::from).boxed(),
        "preferred_language" => prop_oneof![Just("en"), Just("fr")]
            .prop_map(Value::from)
            .boxed(),
        "marital_status" => proptest::sample::select(vec![
            "single",
            "married",
            "common_law",
            "separated",
            "divorced",
            "widowed",
        ])
        .prop_map(Value::from)
        .boxed(),
        _ => text().prop_map(Value::from).boxed(),
    }
}

/// A value the catalogue refuses for `name`: a near miss of its type, or any other JSON.
fn invalid(name: &'static str) -> BoxedStrategy<Value> {
    let any_type = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(json!([])),
        Just(json!(["a"])),
    ];
    let text_faults = prop_oneof![
        "[ \t]{0,4}".prop_map(Value::from),
        "[a-z]{1,5}[\u{0}-\u{1f}\u{7f}-\u{9f}][a-z]{0,5}".prop_map(Value::from),
        Just(Value::from("x".repeat(257))),
    ];
    let own = match name {
        "birthdate" | "date_of_death" => prop_oneof![
            Just("1959-02-30"),
            Just("1959-13-01"),
            Just("0000-01-01"),
            Just("1959-1-01"),
            Just("19590314"),
            Just("1959/03/14"),
            Just("1959-03-14T00:00:00Z"),
            Just("２０２６-01-01"),
        ]
        .prop_map(Value::from)
        .boxed(),
        "address" => prop_oneof![
            address().prop_map(|mut a| {
                a.as_object_mut().unwrap().remove("locality");
                a
            }),
            address().prop_map(|mut a| {
                a["apartment"] = "4".into();
                a
            }),
            address().prop_map(|mut a| {
                a["region"] = 7.into();
                a
            }),
            address().prop_map(|mut a| {
                a["country"] = " ".into();
                a
            }),
            Just(Value::from("1 Example Street")),
        ]
        .boxed(),
        "email" => prop_oneof![
            Just("no-at-sign"),
            Just("a@b"),
            Just(".a@b.example"),
            Just("a@-b.example"),
            Just("a b@c.example")
        ]
        .prop_map(Value::from)
        .boxed(),
        "phone_number" => prop_oneof![
            Just("0123456"),
            Just("+0123"),
            Just("+1234567890123456"),
            Just("+1 613 555 0100"),
            Just("+")
        ]
        .prop_map(Value::from)
        .boxed(),
        "preferred_language" | "marital_status" => {
            prop_oneof![Just("EN"), Just("klingon"), Just("single ")]
                .prop_map(Value::from)
                .boxed()
        }
        _ => text_faults.clone().boxed(),
    };
    prop_oneof![2 => own, 1 => any_type, 1 => text_faults].boxed()
}

/// A catalogue attribute with a value and whether it is valid, or a name outside the catalogue.
fn attribute() -> impl Strategy<Value = (String, (Value, bool))> {
    prop_oneof![
        8 => proptest::sample::select(NAMES.to_vec()).prop_flat_map(|name| {
            prop_oneof![
                3 => valid(name).prop_map(|v| (v, true)),
                1 => invalid(name).prop_map(|v| (v, false)),
            ]
            .prop_map(move |v| (name.to_owned(), v))
        }),
        1 => ("\\PC{1,80}", valid("given_name")).prop_map(|(n, v)| (n, (v, true))),
    ]
}

fn event() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        2 => Just(None),
        2 => Just(Some("move".to_owned())),
        2 => Just(Some("name-change".to_owned())),
        2 => Just(Some("death".to_owned())),
        1 => proptest::option::of(any::<String>()),
    ]
}

fn department() -> impl Strategy<Value = Department> {
    proptest::sample::subsequence(NAMES.to_vec(), 0..=NAMES.len()).prop_map(|names| Department {
        id: "vital-statistics".into(),
        name_en: "v".into(),
        name_fr: "v".into(),
        sector_identifier: "v.example".into(),
        active: true,
        authoritative_for: names.into_iter().map(str::to_owned).collect(),
        delivery: None,
    })
}

/// What the report calls for, from how its values were made.
fn expected(
    report: &Report,
    valid: &BTreeMap<String, bool>,
    department: &Department,
) -> &'static str {
    let event = report.event.as_deref();
    if !matches!(event, None | Some("move" | "name-change" | "death")) {
        return "unknown_event";
    }
    if report.attributes.is_empty() {
        return "no_attributes";
    }
    for name in report.attributes.keys() {
        if !NAMES.contains(&name.as_str()) {
            return "unknown_attribute";
        }
        if !valid[name] {
            return "invalid_value";
        }
    }
    let names: Vec<&str> = report.attributes.keys().map(String::as_str).collect();
    let fits = match event {
        Some("move") => names == ["address"],
        Some("name-change") => names
            .iter()
            .all(|n| ["given_name", "family_name"].contains(n)),
        Some("death") => names == ["date_of_death"],
        _ => true,
    };
    if !fits {
        return "event_attributes_mismatch";
    }
    if names
        .iter()
        .any(|n| !department.authoritative_for.iter().any(|a| a == n))
    {
        return "not_authoritative";
    }
    "ok"
}

/// A report, with which of its values were made valid. (A name given twice keeps its last value,
/// in the report and here.)
fn report() -> impl Strategy<Value = (Report, BTreeMap<String, bool>)> {
    (event(), proptest::collection::vec(attribute(), 0..4)).prop_map(|(event, attributes)| {
        let valid: BTreeMap<String, bool> = attributes
            .iter()
            .map(|(n, (_, ok))| (n.clone(), *ok))
            .collect();
        let attributes = attributes.into_iter().map(|(n, (v, _))| (n, v)).collect();
        (
            Report {
                event,
                attributes,
                method: None,
                loa: None,
            },
            valid,
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(256)))]

    #[test]
    fn a_report_is_accepted_as_sent_or_refused_with_its_first_faults_code(
        (report, valid) in report(),
        department in department(),
    ) {
        let want = expected(&report, &valid, &department);
        match check(&CATALOGUE, &department, &report) {
            Ok((kind, values)) => {
                prop_assert_eq!(want, "ok");
                prop_assert_eq!(kind.as_str(), report.event.as_deref().unwrap_or(EventKind::Update.as_str()));
                let sent: Vec<(String, Value)> = report.attributes.clone().into_iter().collect();
                prop_assert_eq!(values, sent);
            }
            Err(e) => {
                prop_assert_eq!(e.code(), want, "{}", e);
                // A refusal names attributes, never their values.
                let message = e.to_string();
                for value in report.attributes.values() {
                    if let Some(s) = value.as_str().filter(|s| s.trim().len() >= 6) {
                        prop_assert!(!message.contains(s), "{message} repeats {s:?}");
                    }
                }
                prop_assert!(message.chars().count() < 300);
            }
        }
    }

    /// What a department sends is read as `body::json` reads it: a report, or a parse error.
    #[test]
    fn any_json_body_is_a_report_or_a_parse_error(
        (report, _) in report(),
        extra in proptest::option::of(("[a-z]{1,8}", any::<i64>())),
        cut in any::<prop::sample::Index>(),
        garbage in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut body = json!({ "event": report.event, "attributes": report.attributes });
        if let Some((k, v)) = &extra {
            body[k] = (*v).into();
        }
        let text = serde_json::to_vec(&body).unwrap();
        match serde_json::from_slice::<Report>(&text) {
            Ok(back) => {
                prop_assert!(extra.as_ref().is_none_or(|(k, _)| ["event", "attributes", "method", "loa"].contains(&k.as_str())));
                prop_assert_eq!(&back.attributes, &report.attributes);
                let _ = check(&CATALOGUE, &Department { authoritative_for: NAMES.map(str::to_owned).to_vec(), ..department_fixture() }, &back);
            }
            // Only an unknown field (or a known one given the wrong type) is refused.
            Err(_) => prop_assert!(extra.is_some()),
        }
        let truncated = &text[..cut.index(text.len())];
        prop_assert!(serde_json::from_slice::<Report>(truncated).is_err());
        if let Ok(r) = serde_json::from_slice::<Report>(&garbage) {
            let _ = check(&CATALOGUE, &department_fixture(), &r);
        }
    }
}

fn department_fixture() -> Department {
    Department {
        id: "vital-statistics".into(),
        name_en: "v".into(),
        name_fr: "v".into(),
        sector_identifier: "v.example".into(),
        active: true,
        authoritative_for: Vec::new(),
        delivery: None,
    }
}
