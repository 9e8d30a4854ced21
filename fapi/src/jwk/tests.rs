use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::testing::TestKey;

/// RFC 7638 §3.1: the example RSA key and its thumbprint.
fn rfc7638_key() -> Value {
    json!({
        "kty": "RSA",
        "n": concat!(
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSo",
            "c_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65Y",
            "GjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyr",
            "dkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzK",
            "nqDKgw"
        ),
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    })
}

/// RFC 9449 §4.1 Figure 4: the key of the example proofs; its thumbprint is the `jkt` of
/// Figure 9.
pub(crate) fn rfc9449_key() -> Value {
    json!({
        "kty": "EC",
        "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
        "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
        "crv": "P-256"
    })
}

#[test]
fn rfc7638_example_thumbprint() {
    let key = PublicJwk::from_json(&rfc7638_key()).unwrap();
    assert_eq!(
        key.thumbprint(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
    // §3.3: optional members (kid, alg, use) do not change it.
    let mut bare = rfc7638_key();
    bare.as_object_mut()
        .unwrap()
        .retain(|k, _| ["kty", "n", "e"].contains(&k.as_str()));
    assert_eq!(
        PublicJwk::from_json(&bare).unwrap().thumbprint(),
        key.thumbprint()
    );
}

#[test]
fn rfc9449_example_key_thumbprint() {
    let key = PublicJwk::from_json(&rfc9449_key()).unwrap();
    assert_eq!(
        key.thumbprint(),
        "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    );
    assert_eq!(key.kty(), "EC");
}

#[test]
fn thumbprint_input_is_the_canonical_json_of_rfc7638() {
    let key = PublicJwk::from_json(&rfc9449_key()).unwrap();
    assert_eq!(
        key.thumbprint_input(),
        r#"{"crv":"P-256","kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}"#
    );
    let ed = TestKey::ed25519().public_jwk();
    let parsed = PublicJwk::from_json(&ed).unwrap();
    assert_eq!(
        parsed.thumbprint_input(),
        format!(
            r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
            ed["x"].as_str().unwrap()
        )
    );
    assert_eq!(parsed.kty(), "OKP");
}

#[test]
fn generated_keys_of_every_kind_round_trip() {
    for key in [TestKey::es256(), TestKey::ed25519(), TestKey::rsa("PS256")] {
        let jwk = key.public_jwk();
        let parsed = PublicJwk::from_json(&jwk).unwrap();
        assert_eq!(parsed.to_json(), jwk);
        assert_eq!(parsed.thumbprint().len(), 43);
        let alg = Algorithm::from_name(key.alg()).unwrap();
        assert!(parsed.accepts(alg));
        let signature = key.sign_bytes(b"input");
        assert!(parsed.verifies(alg, b"input", &signature));
        assert!(!parsed.verifies(alg, b"other", &signature));
    }
}

#[test]
fn private_members_are_refused_one_by_one() {
    for member in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        let mut jwk = rfc9449_key();
        jwk[member] = json!("AAAA");
        assert_eq!(
            PublicJwk::from_json(&jwk),
            Err(JwkError::PrivateKeyMaterial { member }),
            "{member}"
        );
    }
}

#[test]
fn unusable_keys_are_refused_with_their_reason() {
    let cases: Vec<(Value, JwkError)> = vec![
        (json!("a string"), JwkError::NotAnObject),
        (json!({"kty": "oct"}), JwkError::UnsupportedKeyType),
        (json!({"crv": "P-256"}), JwkError::UnsupportedKeyType),
        (
            json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}),
            JwkError::UnsupportedCurve,
        ),
        (
            json!({"kty": "OKP", "crv": "X25519", "x": "AA"}),
            JwkError::UnsupportedCurve,
        ),
        (
            json!({"kty": "OKP", "crv": "Ed448", "x": "AA"}),
            JwkError::UnsupportedCurve,
        ),
    ];
    for (jwk, expected) in cases {
        assert_eq!(PublicJwk::from_json(&jwk), Err(expected), "{jwk}");
    }
}

#[test]
fn ec_members_must_be_canonical_coordinates_on_the_curve() {
    for (member, value) in [
        ("x", json!("l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs=")),
        ("x", json!("AAAA")),
        ("y", json!(12)),
        ("y", json!(null)),
    ] {
        let mut jwk = rfc9449_key();
        jwk[member] = value;
        assert!(
            matches!(PublicJwk::from_json(&jwk), Err(JwkError::BadMember { .. })),
            "{member}"
        );
    }
    // A well-formed pair of coordinates that is not a point of P-256.
    let mut off_curve = rfc9449_key();
    off_curve["y"] = json!(b64([7u8; 32]));
    assert_eq!(PublicJwk::from_json(&off_curve), Err(JwkError::NotOnCurve));
}

#[test]
fn rsa_keys_must_be_large_enough_minimal_and_sane() {
    let mut small = rfc7638_key();
    small["n"] = json!(b64([0xC1u8; 128])); // 1024 bits
    assert_eq!(PublicJwk::from_json(&small), Err(JwkError::RsaModulusSize));
    let mut padded = rfc7638_key();
    let mut n = b64_decode(padded["n"].as_str().unwrap()).unwrap();
    n.insert(0, 0);
    padded["n"] = json!(b64(n));
    assert_eq!(
        PublicJwk::from_json(&padded),
        Err(JwkError::BadMember { member: "n" })
    );
    for e in ["AA", "AAEAAQ", "Ag", "AQ", "AQAAAAAB"] {
        let mut jwk = rfc7638_key();
        jwk["e"] = json!(e);
        assert_eq!(
            PublicJwk::from_json(&jwk),
            Err(JwkError::RsaExponent),
            "{e}"
        );
    }
}

#[test]
fn use_key_ops_and_alg_must_allow_signing_with_this_key() {
    let mut enc = rfc9449_key();
    enc["use"] = json!("enc");
    assert_eq!(PublicJwk::from_json(&enc), Err(JwkError::NotForSigning));
    let mut ops = rfc9449_key();
    ops["key_ops"] = json!(["encrypt"]);
    assert_eq!(PublicJwk::from_json(&ops), Err(JwkError::NotForSigning));
    ops["key_ops"] = json!(["verify"]);
    assert!(PublicJwk::from_json(&ops).is_ok());
    for alg in [json!("RS256"), json!("HS256"), json!("none"), json!(1)] {
        let mut jwk = rfc9449_key();
        jwk["alg"] = alg.clone();
        assert_eq!(
            PublicJwk::from_json(&jwk),
            Err(JwkError::AlgorithmMismatch),
            "{alg}"
        );
    }
    // A key pinned to PS256 does not verify RS256.
    let mut pinned = rfc7638_key();
    pinned["alg"] = json!("PS256");
    let key = PublicJwk::from_json(&pinned).unwrap();
    assert!(key.accepts(Algorithm::Ps256));
    assert!(!key.accepts(Algorithm::Rs256));
    assert!(!key.accepts(Algorithm::Es256));
}

#[test]
fn debug_output_shows_the_thumbprint_not_the_key() {
    let key = PublicJwk::from_json(&rfc9449_key()).unwrap();
    let text = format!("{key:?}");
    assert!(text.contains("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"));
    assert!(!text.contains("l8tFrhx"));
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[A-Za-z0-9_=-]{0,50}".prop_map(Value::String),
        prop_oneof![
            Just("EC"),
            Just("OKP"),
            Just("RSA"),
            Just("P-256"),
            Just("Ed25519"),
            Just("sig"),
            Just("AQAB"),
            Just("ES256"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("kty".to_string()),
                    Just("crv".to_string()),
                    Just("x".to_string()),
                    Just("y".to_string()),
                    Just("n".to_string()),
                    Just("e".to_string()),
                    Just("alg".to_string()),
                    Just("use".to_string()),
                    Just("key_ops".to_string()),
                    "[a-z]{1,4}",
                ],
                inner,
                0..7
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn reading_any_json_as_a_jwk_never_panics(value in arbitrary_json()) {
        if let Ok(key) = PublicJwk::from_json(&value) {
            // Whatever is accepted has a stable, well-formed thumbprint and round-trips.
            prop_assert_eq!(key.thumbprint().len(), 43);
            prop_assert_eq!(PublicJwk::from_json(&key.to_json()).unwrap(), key);
        }
    }
}
