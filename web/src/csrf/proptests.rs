//! Posted forms: what a browser encodes reads back field by field (repeated names keep every
//! value, in order); any body is fields or `malformed_form`; the CSRF comparison is equality.

use proptest::prelude::*;
use services::PublicError;
use url::form_urlencoded;

use super::*;
use services::testing::proptest_cases;

fn fields() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        Just("csrf_token".to_owned()),
        Just("attribute".to_owned()),
        Just("duration_days".to_owned()),
        "[a-z_]{1,8}",
        any::<String>(),
    ];
    proptest::collection::vec((name, any::<String>()), 0..8)
}

/// How a browser encodes a form (`+` for spaces), or every byte percent-encoded.
fn encode(pairs: &[(String, String)], every_byte: bool) -> String {
    if every_byte {
        let pct = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
        pairs
            .iter()
            .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
            .collect::<Vec<_>>()
            .join("&")
    } else {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            s.append_pair(k, v);
        }
        s.finish()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(256)))]

    #[test]
    fn a_form_reads_back_field_by_field(pairs in fields(), every_byte in any::<bool>()) {
        let f = Fields::parse(encode(&pairs, every_byte).as_bytes()).unwrap();
        for (name, _) in &pairs {
            let sent: Vec<&str> = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect();
            prop_assert_eq!(f.all(name), sent.clone());
            prop_assert_eq!(f.get(name), sent.first().copied());
        }
        prop_assert_eq!(f.get("\u{0}never sent"), None);
    }

    #[test]
    fn any_body_is_fields_or_malformed_form(body in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..128),
        "([a-z%+=&;]|%[0-9A-Fa-f]{0,2}|%[^0-9A-Fa-f]){0,30}".prop_map(String::into_bytes),
    ]) {
        match Fields::parse(&body) {
            Ok(f) => {
                // As any form reader reads it.
                for (k, v) in form_urlencoded::parse(&body) {
                    prop_assert!(f.all(&k).contains(&v.as_ref()));
                }
            }
            Err(e) => prop_assert_eq!(e.0.code(), "malformed_form"),
        }
    }

    #[test]
    fn the_csrf_comparison_is_equality(a in "[A-Za-z0-9_-]{0,44}", b in "[A-Za-z0-9_-]{0,44}", same in any::<bool>()) {
        let b = if same { a.clone() } else { b };
        prop_assert_eq!(constant_time_eq(&a, &b), a == b);
    }
}
