//! A department's attribute request (`?claims=…&purpose=…`): what a department encodes reads back
//! as the same distinct claims and purpose; any query string is a request or its stable refusal
//! (`malformed_query`, `query_too_large`), and a refusal never repeats what was sent.

use proptest::prelude::*;
use url::form_urlencoded;

use super::*;
use crate::error::PublicError;
use crate::release::Refusal;
use crate::testing::proptest_cases;

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(vec!["address", "given_name", "family_name", "birthdate", "email"]).prop_map(str::to_owned),
        1 => "[a-z][a-z0-9_]{0,63}",
    ]
}

fn purpose() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9-]{0,63}"
}

fn encode(pairs: &[(&str, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// The code a department sees for a refusal.
fn code(e: QueryError) -> &'static str {
    Refusal::Query(e).code()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(256)))]

    #[test]
    fn what_a_department_encodes_reads_back(
        claims in proptest::collection::vec(name(), 1..=12),
        purpose in purpose(),
        spaces in proptest::collection::vec("[ ]{0,2}", 12),
        purpose_first in any::<bool>(),
    ) {
        let list: Vec<String> = claims.iter().zip(&spaces).map(|(c, s)| format!("{s}{c}{s}")).collect();
        let mut pairs = vec![("claims", list.join(",")), ("purpose", purpose.clone())];
        if purpose_first {
            pairs.reverse();
        }
        let query = encode(&pairs);
        prop_assume!(query.len() <= MAX_QUERY_BYTES);
        let mut distinct: Vec<String> = Vec::new();
        for c in claims {
            if !distinct.contains(&c) {
                distinct.push(c);
            }
        }
        prop_assert_eq!(AttributeQuery::parse(&query), Ok(AttributeQuery { claims: distinct, purpose, holder_kid: None }));
    }

    #[test]
    fn a_repeated_or_unknown_parameter_is_malformed_query(
        claims in name(),
        purpose in purpose(),
        extra in prop_oneof![
            Just("claims".to_owned()),
            Just("purpose".to_owned()),
            Just("%63laims".to_owned()),
            "[a-z_]{1,10}".prop_filter("not ours", |k| k != "claims" && k != "purpose"),
        ],
        value in "[a-z,]{0,10}",
    ) {
        let query = format!("{}&{extra}={value}", encode(&[("claims", claims), ("purpose", purpose)]));
        let e = AttributeQuery::parse(&query).unwrap_err();
        let expected = match extra.as_str() {
            "claims" | "%63laims" => QueryError::Repeated("claims"),
            "purpose" => QueryError::Repeated("purpose"),
            _ => QueryError::UnknownParameter,
        };
        prop_assert_eq!(e.clone(), expected);
        prop_assert_eq!(code(e), "malformed_query");
    }

    #[test]
    fn any_query_is_a_request_or_a_refusal_that_does_not_repeat_it(raw in prop_oneof![
        any::<String>(),
        "((claims|purpose|x)=[a-zA-Z0-9_,% +-]{0,20}&?){0,4}",
        "claims=[a-z_,]{0,3000}&purpose=p",
    ]) {
        match AttributeQuery::parse(&raw) {
            Ok(q) => {
                prop_assert!(!q.claims.is_empty() && q.claims.len() <= MAX_CLAIMS);
                prop_assert!(q.claims.iter().all(|c| is_attribute_name(c)));
                prop_assert!(is_purpose_code(&q.purpose));
            }
            Err(e) => {
                let message = e.to_string();
                let too_large = e == QueryError::TooLarge;
                prop_assert_eq!(too_large, raw.len() > MAX_QUERY_BYTES);
                prop_assert_eq!(code(e), if too_large { "query_too_large" } else { "malformed_query" });
                // Only the names of our own parameters are ever named back.
                for (_, v) in form_urlencoded::parse(raw.as_bytes()) {
                    prop_assert!(v.len() < 12 || !message.contains(v.as_ref()), "{message}");
                }
            }
        }
    }

    #[test]
    fn a_subject_is_bounded_base64url(sub in prop_oneof![any::<String>(), "[A-Za-z0-9_./=+-]{0,140}"]) {
        let expected = (1..=MAX_SUBJECT_LEN).contains(&sub.len())
            && sub.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        prop_assert_eq!(is_subject(&sub), expected);
    }
}
