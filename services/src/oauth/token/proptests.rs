//! The token endpoint's form body and scope request: every parameter at most once (RFC 6749
//! §3.2) however it is spelt, what a client encodes reads back the same, any bytes are
//! `invalid_request` or a parameter list, and a scope is granted only within the client's.

use proptest::prelude::*;
use url::form_urlencoded;

use super::*;
use crate::error::PublicError;
use crate::testing::proptest_cases;

fn encode(pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Every byte percent-encoded: another spelling of the same name.
fn percent_every_byte(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// Parameters with distinct names: the names a token request uses, and any others.
fn distinct_params() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        Just("grant_type".to_owned()),
        Just("client_assertion".to_owned()),
        Just("client_assertion_type".to_owned()),
        Just("scope".to_owned()),
        Just("client_id".to_owned()),
        any::<String>(),
    ];
    proptest::collection::vec((name, any::<String>()), 0..6).prop_map(|pairs| {
        let mut seen = std::collections::HashSet::new();
        pairs
            .into_iter()
            .filter(|(k, _)| seen.insert(k.clone()))
            .collect()
    })
}

/// Bytes that look like a form, percent-encoding oddities included.
fn form_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::collection::vec(b'a'..=b'e', 1..3),
            2 => Just(b"=".to_vec()),
            2 => Just(b"&".to_vec()),
            1 => Just(b"+".to_vec()),
            1 => prop_oneof![Just(b"%".to_vec()), Just(b"%2".to_vec()), Just(b"%zz".to_vec()), Just(b"%F0%9F".to_vec()), Just(b"%00".to_vec()), Just(b"%26".to_vec()), Just(b"%3D".to_vec())],
            1 => any::<u8>().prop_map(|b| vec![b]),
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

fn is_invalid_request(e: &OAuthError) -> bool {
    matches!(e, OAuthError::InvalidRequest(_)) && e.code() == "invalid_request"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(256)))]

    #[test]
    fn what_a_client_encodes_reads_back_the_same(pairs in distinct_params()) {
        prop_assert_eq!(parse_params(encode(&pairs).as_bytes()).unwrap(), pairs);
    }

    #[test]
    fn a_repeated_parameter_is_refused_however_it_is_spelt(
        pairs in distinct_params().prop_filter("one at least", |p| !p.is_empty()),
        which in any::<prop::sample::Index>(),
        value in any::<String>(),
        spelling in 0..3usize,
    ) {
        let (name, _) = which.get(&pairs).clone();
        let again = match spelling {
            0 => encode(&[(name.clone(), value)]),
            1 => format!("{}={}", percent_every_byte(&name), percent_every_byte(&value)),
            // By hand, as a browser would: `+` for a space.
            _ => format!(
                "{}=",
                name.replace('%', "%25")
                    .replace('+', "%2B")
                    .replace('&', "%26")
                    .replace('=', "%3D")
                    .replace('#', "%23")
                    .replace(' ', "+")
            ),
        };
        let body = if encode(&pairs).is_empty() { again } else { format!("{}&{again}", encode(&pairs)) };
        let e = parse_params(body.as_bytes()).unwrap_err();
        prop_assert!(is_invalid_request(&e), "{e:?}");
        prop_assert!(e.to_string().contains("is repeated"));
    }

    #[test]
    fn any_body_is_a_list_of_distinct_parameters_or_invalid_request(body in prop_oneof![form_bytes(), proptest::collection::vec(any::<u8>(), 0..64)]) {
        let names: Vec<String> = form_urlencoded::parse(&body).map(|(k, _)| k.into_owned()).collect();
        let distinct = names.iter().enumerate().all(|(i, n)| !names[..i].contains(n));
        match parse_params(&body) {
            Ok(pairs) => {
                prop_assert!(distinct);
                prop_assert_eq!(pairs.into_iter().map(|(k, _)| k).collect::<Vec<_>>(), names);
            }
            Err(e) => {
                prop_assert!(!distinct);
                prop_assert!(is_invalid_request(&e), "{e:?}");
            }
        }
    }

    #[test]
    fn a_scope_is_granted_only_within_the_clients(
        allowed in proptest::sample::subsequence(crate::oauth::scope::ALL.to_vec(), 0..=4),
        asked in proptest::option::of(proptest::collection::vec(
            prop_oneof![
                4 => proptest::sample::select(crate::oauth::scope::ALL.to_vec()).prop_map(str::to_owned),
                1 => "[a-z:]{1,12}",
                1 => "\\PC{1,80}",
            ],
            0..5,
        )),
        separator in prop_oneof![Just(" "), Just("  "), Just("\t"), Just(" \n ")],
    ) {
        let allowed: Vec<String> = allowed.into_iter().map(str::to_owned).collect();
        let requested = asked.as_ref().map(|words| words.join(separator));
        // The words as `split_whitespace` sees them (an odd word may hold whitespace itself).
        let words: Vec<&str> = requested.as_deref().map(|r| r.split_whitespace().collect()).unwrap_or_default();
        match granted_scope(requested.as_deref(), &allowed) {
            Ok(granted) => {
                let granted: Vec<&str> = granted.split(' ').filter(|s| !s.is_empty()).collect();
                prop_assert!(words.iter().all(|w| allowed.iter().any(|a| a == w)));
                prop_assert!(granted.iter().all(|g| allowed.iter().any(|a| a == g)));
                let unique: std::collections::HashSet<&&str> = granted.iter().collect();
                prop_assert_eq!(unique.len(), granted.len());
                if words.is_empty() {
                    prop_assert_eq!(granted.len(), allowed.len());
                } else {
                    let mut expected: Vec<&str> = Vec::new();
                    for w in &words {
                        if !expected.contains(w) {
                            expected.push(w);
                        }
                    }
                    prop_assert_eq!(granted, expected);
                }
            }
            Err(e) => {
                prop_assert_eq!(e.code(), "invalid_scope");
                let OAuthError::InvalidScope(named) = &e else { return Err(TestCaseError::fail(format!("{e:?}"))) };
                let first = words.iter().find(|w| !allowed.iter().any(|a| a == *w)).unwrap();
                prop_assert_eq!(named, &first.chars().take(64).collect::<String>());
            }
        }
    }
}
