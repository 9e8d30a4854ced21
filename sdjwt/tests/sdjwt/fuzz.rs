//! Properties: parsing never panics, whatever arrives; a signed payload of any shape is either
//! processed or refused (never a panic); any one-character change to a presentation is refused;
//! and what is presented is exactly what is verified.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use proptest::prelude::*;
use sdjwt::{Credential, Disclosure, Issuer, KeyBinding, verify};
use serde_json::{Map, Value, json};

use crate::support::{World, b64, disclosure, required};

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(World::new)
}

/// One valid key-bound presentation, made once.
fn presentation() -> &'static str {
    static PRESENTATION: OnceLock<String> = OnceLock::new();
    PRESENTATION.get_or_init(|| {
        let issued = world().issue(&crate::support::release(), &crate::support::RELEASE_PATHS);
        world().present(&issued, &["/verified_claims/1/claims/birthdate"])
    })
}

/// Text made of what SD-JWTs are made of, so the parser gets past its first checks often.
fn sd_jwt_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_\\-.~]{0,300}",
        ".{0,200}",
        // A real presentation cut and spliced with noise.
        (0usize..4000, "[A-Za-z0-9_\\-.~]{0,40}").prop_map(|(cut, noise)| {
            let p = presentation();
            let cut = cut % (p.len() + 1);
            format!("{}{noise}", &p[..cut])
        }),
    ]
}

/// A JSON value whose member names and strings are the ones SD-JWT processing cares about;
/// `refs` are digests that may match the disclosures sent with it.
fn shaped_value(refs: Vec<String>) -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec!["_sd", "...", "_sd_alg", "a", "b", "cnf", "exp"]);
    let mut strings = refs;
    strings.extend(["x".to_owned(), "sha-256".to_owned()]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        prop::sample::select(strings).prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(names.clone(), inner, 0..5).prop_map(
                |m: BTreeMap<&str, Value>| {
                    Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                }
            ),
        ]
    })
}

/// Disclosures of arbitrary shape (member or element, any name, any small value), then a
/// payload that may reference them.
fn signed_case() -> impl Strategy<Value = (Value, Vec<String>)> {
    let one = (
        prop::sample::select(vec!["_sd", "...", "a", "b"]),
        any::<bool>(),
        any::<i16>(),
    )
        .prop_map(|(name, member, n)| {
            if member {
                disclosure(json!(["c2FsdA", name, n]))
            } else {
                disclosure(json!(["c2FsdA", {"_sd": [], "n": n}]))
            }
        });
    prop::collection::vec(one, 0..5).prop_flat_map(|disclosures| {
        let refs: Vec<String> = disclosures.iter().map(|d| sdjwt::digest(d)).collect();
        (shaped_value(refs), Just(disclosures))
    })
}

proptest! {
    #[test]
    fn verifying_arbitrary_text_never_panics(text in sd_jwt_like()) {
        let w = world();
        let _ = verify(&text, &w.check(), KeyBinding::NotRequired);
        let _ = verify(&text, &w.check(), required());
        let _ = Credential::receive(&text, &w.check());
    }

    #[test]
    fn parsing_arbitrary_disclosures_never_panics(
        text in ".{0,100}",
        bytes in prop::collection::vec(any::<u8>(), 0..100),
    ) {
        let _ = Disclosure::parse(&text, 0);
        let _ = Disclosure::parse(&b64(&bytes), 0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn a_signed_payload_of_any_shape_is_processed_or_refused((payload, disclosures) in signed_case()) {
        let w = world();
        let mut compact = w.sign_payload(&payload) + "~";
        for d in &disclosures {
            compact.push_str(d);
            compact.push('~');
        }
        if let Ok(verified) = verify(&compact, &w.check(), KeyBinding::NotRequired) {
            // Whatever was accepted is fully processed: no digest machinery left over.
            let text = Value::Object(verified.claims().clone()).to_string();
            prop_assert!(!text.contains("\"_sd\"") && !text.contains("\"...\""), "{text}");
        }
    }

    #[test]
    fn any_single_character_change_is_refused(at in any::<prop::sample::Index>(), c in "[A-Za-z0-9_\\-.~]") {
        let original = presentation();
        let at = at.index(original.len());
        let mut changed = original.to_owned();
        changed.replace_range(at..=at, &c);
        prop_assume!(changed != original);
        prop_assert!(verify(&changed, &world().check(), required()).is_err());
    }

    #[test]
    fn what_is_presented_is_what_is_verified(
        claims in prop::collection::btree_map("[a-z]{1,8}", prop_oneof![
            any::<i64>().prop_map(|n| json!(n)),
            ".{0,12}".prop_map(Value::String),
            prop::collection::vec(any::<bool>(), 0..3).prop_map(|v| json!(v)),
        ], 1..8),
        conceal_mask in any::<u8>(),
        present_mask in any::<u8>(),
    ) {
        // Validity claims stay plain by rule and are type-checked: keep them out of the random names.
        let claims: Map<String, Value> = claims
            .into_iter()
            .filter(|(k, _)| !["iss", "aud", "exp", "nbf", "iat", "cnf"].contains(&k.as_str()))
            .collect();
        let names: Vec<&String> = claims.keys().collect();
        let concealed: Vec<String> = names.iter().enumerate()
            .filter(|(i, _)| conceal_mask & (1 << i) != 0)
            .map(|(_, n)| format!("/{n}"))
            .collect();
        let shown: Vec<&str> = concealed.iter().enumerate()
            .filter(|(i, _)| present_mask & (1 << i) != 0)
            .map(|(_, p)| p.as_str())
            .collect();
        let w = world();
        let paths: Vec<&str> = concealed.iter().map(String::as_str).collect();
        let issued = Issuer::new()
            .issue(&Value::Object(claims.clone()), &paths, Some(w.holder.public_jwk()), &w.issuer)
            .unwrap();
        let presentation = w.receive(issued.compact()).present(&shown).unwrap();
        let verified = verify(&presentation, &w.check(), KeyBinding::NotRequired).unwrap();
        let mut expected = claims.clone();
        expected.retain(|name, _| {
            let path = format!("/{name}");
            !concealed.contains(&path) || shown.contains(&path.as_str())
        });
        expected.insert("cnf".into(), json!({"jwk": w.holder.public_jwk().to_json()}));
        prop_assert_eq!(verified.claims(), &expected);
    }
}
