use super::*;
use crate::jose::b64;
use ring::rand::SystemRandom;
use ring::signature::{self as sig, KeyPair};

pub(super) const ISSUER: &str = "http://127.0.0.1:8080";
pub(super) const NOW: i64 = 1_800_000_000;

pub(super) struct TestKey {
    pkcs8: Vec<u8>,
    pub(super) jwk: Jwk,
}

pub(super) fn es256(kid: &str) -> TestKey {
    let rng = SystemRandom::new();
    let pkcs8 = sig::EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .unwrap()
        .as_ref()
        .to_vec();
    let pair =
        sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng).unwrap();
    let p = pair.public_key().as_ref();
    let jwk = serde_json::from_value(serde_json::json!({
        "kty": "EC", "crv": "P-256", "kid": kid, "x": b64(&p[1..33]), "y": b64(&p[33..65])
    }))
    .unwrap();
    TestKey { pkcs8, jwk }
}

pub(super) fn ed25519(kid: &str) -> TestKey {
    let pkcs8 = sig::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .unwrap()
        .as_ref()
        .to_vec();
    let pair = sig::Ed25519KeyPair::from_pkcs8(&pkcs8).unwrap();
    let jwk = serde_json::from_value(serde_json::json!({
        "kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(pair.public_key().as_ref())
    }))
    .unwrap();
    TestKey { pkcs8, jwk }
}

pub(super) fn claims(client: &str) -> serde_json::Value {
    serde_json::json!({ "iss": client, "sub": client, "aud": ISSUER, "exp": NOW + 60, "iat": NOW, "jti": "j-1" })
}

/// Signs with an explicit header (so tests can write any `alg` label).
pub(super) fn sign(key: &TestKey, header: serde_json::Value, claims: &serde_json::Value) -> String {
    crate::jose::install_crypto_provider();
    let input = format!(
        "{}.{}",
        b64(serde_json::to_vec(&header).unwrap()),
        b64(serde_json::to_vec(claims).unwrap())
    );
    let rng = SystemRandom::new();
    let signature = match header["alg"].as_str().unwrap() {
        "ES256" => {
            sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &key.pkcs8, &rng)
                .unwrap()
                .sign(&rng, input.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec()
        }
        _ => sig::Ed25519KeyPair::from_pkcs8(&key.pkcs8)
            .unwrap()
            .sign(input.as_bytes())
            .as_ref()
            .to_vec(),
    };
    format!("{input}.{}", b64(signature))
}

pub(super) fn audiences() -> Vec<String> {
    vec![ISSUER.to_owned(), format!("{ISSUER}/oauth2/token")]
}

pub(super) fn check(token: &str, keys: &[Jwk]) -> Result<Verified, AssertionError> {
    parse(token)?.verify(keys, &audiences(), NOW)
}

#[test]
fn a_good_assertion_verifies_and_names_its_client() {
    let key = es256("k1");
    let token = sign(
        &key,
        serde_json::json!({"alg": "ES256", "kid": "k1"}),
        &claims("cra"),
    );
    let v = check(&token, std::slice::from_ref(&key.jwk)).unwrap();
    assert_eq!(
        (v.client_id.as_str(), v.jti.as_str(), v.expires_at),
        ("cra", "j-1", NOW + 60)
    );
    // The token endpoint URL is an accepted audience too, also inside an array.
    let mut c = claims("cra");
    c["aud"] = serde_json::json!(["https://other.example", format!("{ISSUER}/oauth2/token")]);
    assert!(
        check(
            &sign(&key, serde_json::json!({"alg": "ES256", "kid": "k1"}), &c),
            std::slice::from_ref(&key.jwk)
        )
        .is_ok()
    );
}

#[test]
fn ed25519_labelled_either_way_is_accepted() {
    let key = ed25519("ed");
    for label in ["EdDSA", "Ed25519"] {
        let token = sign(
            &key,
            serde_json::json!({"alg": label, "kid": "ed"}),
            &claims("cra"),
        );
        assert!(
            check(&token, std::slice::from_ref(&key.jwk)).is_ok(),
            "{label}"
        );
    }
}

#[test]
fn none_and_hmac_are_refused_by_name() {
    let c = b64(serde_json::to_vec(&claims("cra")).unwrap());
    for alg in ["none", "HS256", "HS512"] {
        let token = format!(
            "{}.{c}.{}",
            b64(format!(r#"{{"alg":"{alg}"}}"#)),
            b64("sig")
        );
        assert_eq!(
            check(&token, &[]).unwrap_err(),
            AssertionError::Algorithm(alg.into())
        );
    }
}

#[test]
fn wrong_claims_are_refused_with_their_reason() {
    let key = es256("k1");
    let keys = [key.jwk.clone()];
    let h = || serde_json::json!({"alg": "ES256", "kid": "k1"});
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut c = claims("cra");
        f(&mut c);
        check(&sign(&key, h(), &c), &keys).unwrap_err()
    };
    assert_eq!(
        with(&|c| c["aud"] = "https://elsewhere.example".into()),
        AssertionError::Audience
    );
    assert_eq!(
        with(&|c| c["iss"] = "someone-else".into()),
        AssertionError::IssuerSubject
    );
    assert_eq!(
        with(&|c| c["exp"] = (NOW - 120).into()),
        AssertionError::Expired
    );
    assert_eq!(
        with(&|c| c["exp"] = (NOW + 3600).into()),
        AssertionError::TooLong(300)
    );
    assert_eq!(
        with(&|c| c["nbf"] = (NOW + 600).into()),
        AssertionError::NotYetValid
    );
    assert_eq!(
        with(&|c| {
            c.as_object_mut().unwrap().remove("jti");
        }),
        AssertionError::NoJti
    );
    // A client acts for nobody: a forged RFC 8693 `act` is refused (after the signature).
    assert_eq!(
        with(&|c| c["act"] = serde_json::json!({"sub": "a-delegate"})),
        AssertionError::Actor
    );
}

#[test]
fn keys_must_be_the_clients_own() {
    let mine = es256("k1");
    let theirs = es256("k1");
    let token = sign(
        &theirs,
        serde_json::json!({"alg": "ES256", "kid": "k1"}),
        &claims("cra"),
    );
    assert_eq!(
        check(&token, std::slice::from_ref(&mine.jwk)).unwrap_err(),
        AssertionError::Signature
    );
    let token = sign(
        &mine,
        serde_json::json!({"alg": "ES256", "kid": "unknown"}),
        &claims("cra"),
    );
    assert_eq!(
        check(&token, std::slice::from_ref(&mine.jwk)).unwrap_err(),
        AssertionError::UnknownKey
    );
    // One changed byte in the payload breaks the signature.
    let good = sign(
        &mine,
        serde_json::json!({"alg": "ES256", "kid": "k1"}),
        &claims("cra"),
    );
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let mut payload = b64_decode(&parts[1]).unwrap();
    payload[10] ^= 1;
    parts[1] = b64(payload);
    assert!(check(&parts.join("."), std::slice::from_ref(&mine.jwk)).is_err());
}
