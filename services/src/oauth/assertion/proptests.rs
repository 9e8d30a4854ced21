//! Client assertions: an assertion a client signs verifies to its client id, `jti` and expiry;
//! any text, any header and any claim values are refused with their own reason and never panic;
//! a changed character is refused before any claim is believed.

use std::sync::LazyLock;

use proptest::prelude::*;
use serde_json::json;

use super::tests::{NOW, TestKey, check, claims, ed25519, es256, sign};
use super::*;
use crate::testing::proptest_cases;

static ES256: LazyLock<TestKey> = LazyLock::new(|| es256("k1"));
static ED25519: LazyLock<TestKey> = LazyLock::new(|| ed25519("ed"));

fn keys() -> Vec<Jwk> {
    vec![ES256.jwk.clone(), ED25519.jwk.clone()]
}

/// Signed with one of the two keys, labelled with its kid or none.
fn signed(claims: &serde_json::Value, ed: bool, with_kid: bool) -> String {
    let (key, mut header): (&TestKey, _) = if ed {
        (&ED25519, json!({"alg": "EdDSA", "kid": "ed"}))
    } else {
        (&ES256, json!({"alg": "ES256", "kid": "k1"}))
    };
    if !with_kid {
        header.as_object_mut().unwrap().remove("kid");
    }
    sign(key, header, claims)
}

/// A JSON value of any shape, small.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The outcome the claims' times call for (iss, sub, aud and jti being right).
fn expected_by_time(exp: i64, nbf: Option<i64>, iat: Option<i64>) -> Result<(), AssertionError> {
    let skew = CLOCK_SKEW_SECS;
    if exp.saturating_add(skew) < NOW {
        Err(AssertionError::Expired)
    } else if exp > NOW + MAX_ASSERTION_LIFETIME_SECS + skew {
        Err(AssertionError::TooLong(MAX_ASSERTION_LIFETIME_SECS))
    } else if nbf.is_some_and(|t| t > NOW + skew) || iat.is_some_and(|t| t > NOW + skew) {
        Err(AssertionError::NotYetValid)
    } else {
        Ok(())
    }
}

/// Times near every boundary, and the extremes.
fn time() -> impl Strategy<Value = i64> {
    prop_oneof![
        (-400i64..400).prop_map(|d| NOW + d),
        Just(i64::MAX),
        Just(i64::MIN),
        any::<i64>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(128)))]

    #[test]
    fn a_signed_assertion_verifies_to_its_client_jti_and_expiry(
        client in any::<String>(),
        jti in "[^\u{0}]{1,64}",
        exp in (NOW - CLOCK_SKEW_SECS)..=(NOW + MAX_ASSERTION_LIFETIME_SECS + CLOCK_SKEW_SECS),
        ed in any::<bool>(),
        with_kid in any::<bool>(),
    ) {
        let mut c = claims(&client);
        c["jti"] = jti.clone().into();
        c["exp"] = exp.into();
        let token = signed(&c, ed, with_kid);
        let unverified = parse(&token).unwrap();
        prop_assert_eq!(unverified.claimed_client(), Ok(client.as_str()));
        prop_assert_eq!(check(&token, &keys()), Ok(Verified { client_id: client, jti, expires_at: exp }));
    }

    #[test]
    fn any_times_give_the_reason_they_call_for(
        exp in time(),
        nbf in proptest::option::of(time()),
        iat in proptest::option::of(time()),
    ) {
        let mut c = claims("cra");
        c["exp"] = exp.into();
        c["nbf"] = nbf.into();
        c["iat"] = iat.into();
        let got = check(&signed(&c, false, true), &keys()).map(drop);
        prop_assert_eq!(got, expected_by_time(exp, nbf, iat));
    }

    #[test]
    fn any_claim_values_are_refused_by_reason_or_accepted_never_a_panic(
        field in prop_oneof![Just("iss"), Just("sub"), Just("aud"), Just("exp"), Just("nbf"), Just("iat"), Just("jti")],
        value in json_value(),
        remove in any::<bool>(),
    ) {
        let mut c = claims("cra");
        if remove {
            c.as_object_mut().unwrap().remove(field);
        } else {
            c[field] = value;
        }
        let token = signed(&c, false, true);
        match parse(&token) {
            // Claims of the wrong JSON type are not an assertion.
            Err(e) => prop_assert_eq!(e, AssertionError::Malformed),
            Ok(unverified) => match unverified.verify(&keys(), &super::tests::audiences(), NOW) {
                Ok(v) => prop_assert_eq!(v.client_id, "cra"),
                // The signature verified: every refusal is about a claim.
                Err(e) => prop_assert!(e.signature_verified(), "{e:?}"),
            },
        }
    }

    #[test]
    fn any_text_is_malformed_or_names_its_algorithm_briefly(token in prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,40}",
    ]) {
        match parse(&token) {
            Ok(_) => {}
            Err(AssertionError::Malformed) => {}
            Err(AssertionError::Algorithm(alg)) => prop_assert!(alg.chars().count() <= 16),
            Err(e) => prop_assert!(false, "{e:?}"),
        }
    }

    #[test]
    fn any_header_is_read_or_refused_with_its_reason(alg in json_value(), label in ".{0,40}", use_label in any::<bool>()) {
        let alg = if use_label { serde_json::Value::from(label) } else { alg };
        let payload = crate::jose::b64(serde_json::to_vec(&claims("cra")).unwrap());
        let header = crate::jose::b64(serde_json::to_vec(&json!({ "alg": alg.clone(), "kid": "k1" })).unwrap());
        let token = format!("{header}.{payload}.c2ln");
        let expected = match alg.as_str() {
            Some("ES256" | "EdDSA" | "Ed25519" | "RS256" | "PS256") => None,
            Some(other) => Some(AssertionError::Algorithm(other.chars().take(16).collect())),
            None => Some(AssertionError::Malformed),
        };
        match (parse(&token), expected) {
            (Ok(u), None) => {
                prop_assert_eq!(u.kid(), Some("k1"));
                // A signature of three bytes verifies with no key.
                prop_assert_eq!(u.verify(&keys(), &super::tests::audiences(), NOW), Err(AssertionError::Signature));
            }
            (Err(e), Some(x)) => prop_assert_eq!(e, x),
            (got, x) => prop_assert!(false, "{got:?} / {x:?}"),
        }
    }

    #[test]
    fn one_changed_character_is_refused_before_any_claim_is_believed(
        ed in any::<bool>(),
        at in any::<prop::sample::Index>(),
        to in prop_oneof![4 => "[A-Za-z0-9_.-]", 1 => any::<char>().prop_map(String::from)],
    ) {
        let token = signed(&claims("cra"), ed, true);
        let i = at.index(token.len());
        prop_assume!(token[i..=i] != to);
        let mut changed = token.clone();
        changed.replace_range(i..=i, &to);
        let e = check(&changed, &keys()).unwrap_err();
        prop_assert!(!e.signature_verified(), "{e:?}");
    }
}
