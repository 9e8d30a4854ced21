//! Claims a provider asserts: any claims, of any JSON shape, give only values the catalogue
//! accepts, each attribute at most once, never a panic; a well-formed claim is taken as sent
//! (trimmed, a telephone number without its separators).

use std::sync::LazyLock;

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::testing::proptest_cases;

static CATALOGUE: LazyLock<policies::Catalogue> =
    LazyLock::new(|| policies::Catalogue::embedded().unwrap());

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        "[ ]?[A-Za-z+() .-]{0,12}[0-9-]{0,12}[ ]?".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 12, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    proptest::sample::select(ADDRESS_FIELDS.to_vec()).prop_map(str::to_owned),
                    "[a-z]{1,6}"
                ],
                inner,
                0..7,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn claims() -> impl Strategy<Value = Map<String, Value>> {
    let name = prop_oneof![
        4 => proptest::sample::select(ATTRIBUTES.to_vec()).prop_map(str::to_owned),
        1 => Just("locale".to_owned()),
        1 => "[a-z_]{1,10}",
    ];
    proptest::collection::btree_map(name, json_value(), 0..9).prop_map(|m| m.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(256)))]

    #[test]
    fn any_claims_give_only_values_the_catalogue_accepts(claims in claims()) {
        let out = attributes_from(&CATALOGUE, &claims);
        let names: Vec<&str> = out.iter().map(|(n, _)| *n).collect();
        let in_order: Vec<&str> = ATTRIBUTES.iter().copied().filter(|a| names.contains(a)).collect();
        prop_assert_eq!(&names, &in_order);
        for (name, value) in &out {
            prop_assert!(CATALOGUE.validate_value(name, value).is_ok(), "{name}");
            if !["address", "phone_number", "preferred_language"].contains(name) {
                let sent = claims[*name].as_str().map(str::trim);
                prop_assert_eq!(value.as_str(), sent);
            }
        }
    }

    #[test]
    fn well_formed_claims_are_taken_as_sent(
        given in "[ ]?[A-Za-zÀ-ÿ' -]{0,20}[A-Za-zÀ-ÿ][ ]?",
        (y, m, d) in (1u32..=9999, 1u32..=12, 1u32..=28),
        digits in "[1-9][0-9]{6,12}",
        separators in proptest::collection::vec(prop_oneof![Just(""), Just(" "), Just("-"), Just("."), Just("(")], 14),
        locale in prop_oneof![Just("fr-CA"), Just("FR"), Just("en_GB"), Just("en")],
        street in "[A-Za-z0-9 ]{0,20}[A-Za-z]",
    ) {
        let phone: String = std::iter::once("+".to_owned())
            .chain(digits.chars().zip(&separators).map(|(c, s)| format!("{s}{c}")))
            .collect();
        let claims: Map<String, Value> = json!({
            "given_name": given,
            "birthdate": format!("{y:04}-{m:02}-{d:02}"),
            "phone_number": phone,
            "locale": locale,
            "address": {
                "street_address": street, "locality": "Ottawa", "region": "ON",
                "postal_code": "K1A 0A1", "country": "CA", "unknown": "dropped",
            },
        })
        .as_object()
        .cloned()
        .unwrap();
        let out: Map<String, Value> = attributes_from(&CATALOGUE, &claims)
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v))
            .collect();
        prop_assert_eq!(&out["given_name"], &json!(given.trim()));
        prop_assert_eq!(&out["birthdate"], &claims["birthdate"]);
        prop_assert_eq!(&out["phone_number"], &json!(format!("+{digits}")));
        prop_assert_eq!(&out["preferred_language"], &json!(&locale[..2].to_ascii_lowercase()));
        prop_assert_eq!(out["address"]["street_address"].as_str(), Some(street.trim()));
        prop_assert!(out["address"].get("unknown").is_none());
    }
}
