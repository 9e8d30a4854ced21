//! The sign-in callback's query string: what a provider sends reads back as sent; a repeated,
//! oversized or non-text parameter and any other text are `signin_callback_malformed`, never a
//! panic; a `state` is only ever looked up when it has the shape of ours.

use proptest::prelude::*;
use url::form_urlencoded;

use super::*;
use crate::error::PublicError;
use crate::testing::proptest_cases;

const NAMES: [&str; 4] = ["code", "state", "iss", "error"];

fn max_len(name: &str) -> usize {
    match name {
        "code" => 2048,
        "state" => 256,
        "iss" => 512,
        _ => 256,
    }
}

/// Printable ASCII, as providers send.
fn printable(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[ -~]{{0,{}}}", max.min(300))).unwrap()
}

type Pairs = Vec<(String, String)>;

/// The four parameters (each or not), and other parameters.
fn callback() -> impl Strategy<Value = (Pairs, Pairs)> {
    let ours = proptest::sample::subsequence(NAMES.to_vec(), 0..=4).prop_flat_map(|names| {
        names
            .into_iter()
            .map(|n| printable(max_len(n)).prop_map(move |v| (n.to_owned(), v)))
            .collect::<Vec<_>>()
    });
    let others = proptest::collection::vec(
        (
            "session_state|error_description|[a-z_]{1,10}"
                .prop_filter("not ours", |n| !NAMES.contains(&n.as_str())),
            "\\PC{0,20}",
        ),
        0..3,
    );
    (ours, others)
}

fn encode(pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn malformed(r: Result<CallbackParams, SignInError>) -> Result<(), TestCaseError> {
    match r {
        Err(e) => {
            prop_assert!(matches!(e, SignInError::CallbackMalformed(_)), "{e:?}");
            prop_assert_eq!(e.code(), "signin_callback_malformed");
            Ok(())
        }
        Ok(p) => Err(TestCaseError::fail(format!("accepted: {p:?}"))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(256)))]

    #[test]
    fn what_a_provider_sends_reads_back_as_sent((ours, others) in callback(), shuffle in any::<prop::sample::Index>()) {
        let mut pairs: Vec<(String, String)> = ours.iter().cloned().chain(others).collect();
        let turn = shuffle.index(pairs.len() + 1).min(pairs.len());
        pairs.rotate_left(turn);
        let query = encode(&pairs);
        prop_assume!(query.len() <= MAX_QUERY);
        let p = parse_callback(&query).unwrap();
        let sent = |name: &str| ours.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        prop_assert_eq!(p.code, sent("code"));
        prop_assert_eq!(p.state, sent("state"));
        prop_assert_eq!(p.iss, sent("iss"));
        prop_assert_eq!(p.error, sent("error"));
    }

    #[test]
    fn a_repeated_parameter_is_malformed_however_it_is_spelt(
        (ours, _) in callback().prop_filter("one at least", |(o, _)| !o.is_empty()),
        which in any::<prop::sample::Index>(),
        value in printable(40),
        percent in any::<bool>(),
    ) {
        let (name, _) = which.get(&ours).clone();
        let again = if percent {
            let spelt: String = name.bytes().map(|b| format!("%{b:02x}")).collect();
            format!("{spelt}={}", encode(&[(String::new(), value)]).trim_start_matches('='))
        } else {
            encode(&[(name, value)])
        };
        malformed(parse_callback(&format!("{}&{again}", encode(&ours))))?;
    }

    #[test]
    fn a_value_too_long_or_not_printable_is_malformed(
        name in proptest::sample::select(NAMES.to_vec()),
        odd in prop_oneof![
            Just("\u{0}".to_owned()), Just("\n".to_owned()), Just("\u{7f}".to_owned()), Just("é".to_owned()),
            Just("\u{fffd}".to_owned()), any::<char>().prop_filter("not printable ASCII", |c| !(' '..='~').contains(c)).prop_map(String::from),
        ],
        at in 0..20usize,
        raw_bytes in any::<bool>(),
    ) {
        let mut value = "a".repeat(20);
        value.insert_str(at, &odd);
        let query = if raw_bytes {
            // Percent-encoded bytes that are not UTF-8 decode to U+FFFD: not text either.
            format!("{name}=a%ff%fe{}", "b".repeat(at))
        } else {
            encode(&[(name.to_owned(), value)])
        };
        malformed(parse_callback(&query))?;
        let long = encode(&[(name.to_owned(), "a".repeat(max_len(name) + 1))]);
        malformed(parse_callback(&long))?;
        malformed(parse_callback(&format!("{name}=a&x={}", "b".repeat(MAX_QUERY))))?;
    }

    #[test]
    fn any_query_string_is_parameters_or_malformed(query in prop_oneof![
        any::<String>(),
        "((code|state|iss|error|x)=[a-zA-Z0-9%+&=_-]{0,12}&?){0,6}",
    ]) {
        if let Err(e) = parse_callback(&query) {
            prop_assert_eq!(e.code(), "signin_callback_malformed");
        }
    }

    /// Only a value shaped like the `state` we issue (base64url, 16 to 128 characters) is looked
    /// up; ours always is.
    #[test]
    fn a_state_is_looked_up_only_when_shaped_like_ours(state in prop_oneof![any::<String>(), "[A-Za-z0-9_.=+/-]{10,140}"]) {
        let shaped = (16..=128).contains(&state.len())
            && state.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        prop_assert_eq!(is_token(&state), shaped);
        prop_assert!(is_token(&random_token().unwrap()));
    }
}
