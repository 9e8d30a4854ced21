//! The SD-JWT release: issued from a real decision, verified with the `sdjwt` crate, holding
//! only the granted claims, with decoys, bound to the department's registered key.

use ring::signature::{Ed25519KeyPair, KeyPair};
use sdjwt::{Credential, Es256Key, IssuerCheck, KeyBinding, KeyBindingRequest};
use serde_json::{Value, json};

use super::*;
use crate::citizens::{Fact, Provenance, SourceKind};
use crate::oauth::client_keys::parse_jwks;
use crate::release::claims::{self, Envelope};
use crate::release::decide::{self, Decided, Question};
use consent::{Actor, Change, Consent, ConsentEvent, Mode, Uuid};
use policies::{PolicyEngine, PolicySource};

const DAY_MS: i64 = 86_400_000;
const NOW_S: i64 = 1_800_000_000;
const ESD: &str = "employment-social-development";
const PENSION: &str = "pension-enrolment";

fn fact(attribute: &str, value: Value, source: (SourceKind, &str), loa: u8) -> Fact {
    Fact {
        attribute: attribute.into(),
        version: 1,
        value,
        provenance: Provenance {
            source_kind: source.0,
            source_id: source.1.into(),
            method: "asserted".into(),
            loa,
            verified: true,
            recorded_at: 1_000,
        },
    }
}

fn consent(attributes: &[&str], expires_at_ms: i64) -> Consent {
    Consent::replay(
        Uuid::now_v7(),
        Uuid::now_v7(),
        ESD,
        PENSION,
        Mode::Ongoing,
        [ConsentEvent::new(
            1,
            Actor::citizen("c"),
            NOW_S * 1000 - DAY_MS,
            Change::Granted {
                attributes: attributes.iter().map(|s| s.to_string()).collect(),
                expires_at_ms,
            },
        )],
    )
    .unwrap()
}

fn ed25519_jwk(kid: &str) -> Value {
    let der = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(der.as_ref()).unwrap();
    use base64::Engine;
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
    json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA"})
}

/// A client JWKS as the registry hands it out: parsed by the token endpoint's own parser.
fn registered(jwks: Value) -> Vec<Value> {
    parse_jwks(&jwks)
        .iter()
        .map(|k| serde_json::to_value(k).unwrap())
        .collect()
}

/// Alice's facts; ESD asks for four claims under a consent covering three; marital status has
/// no permit for this purpose.
fn released(holder: &sdjwt::Jwk, keys: &SigningKeys) -> (String, Consent) {
    let engine = PolicyEngine::load(PolicySource::EMBEDDED).unwrap();
    let asked: Vec<String> = ["given_name", "birthdate", "address", "marital_status"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let consent = consent(
        &["given_name", "birthdate", "address"],
        NOW_S * 1000 + 30 * DAY_MS,
    );
    let bank = (SourceKind::Provider, "bank-sign-in-partner");
    let facts = vec![
        fact("given_name", json!("Alice"), bank, 2),
        fact("address", json!({"locality": "Ottawa"}), bank, 2),
        fact(
            "birthdate",
            json!("1958-04-12"),
            (SourceKind::Department, "vital-statistics"),
            3,
        ),
        fact(
            "marital_status",
            json!("married"),
            (SourceKind::Department, "revenue-agency"),
            3,
        ),
    ];
    let question = Question {
        department: ESD,
        purpose: PENSION,
        claims: &asked,
        citizen_deceased: false,
        now_ms: NOW_S * 1000,
    };
    let Decided::Release {
        grants, withheld, ..
    } = decide::decide(&engine, &question, &facts, Some(&consent))
    else {
        panic!("expected a release");
    };
    let envelope = Envelope {
        issuer: "http://127.0.0.1:8080".into(),
        client_id: "esd-pension-app".into(),
        subject: "pairwise".into(),
        purpose: PENSION.into(),
        txn: "txn-1".into(),
        jti: "jti-1".into(),
        now_s: NOW_S,
        checkpoint: None,
    };
    let built = claims::build(grants, facts, withheld, &asked, envelope);
    assert_eq!(built.released, ["given_name", "birthdate", "address"]);
    let mut claims = built.claims;
    claims.exp = expiry(claims.iat, consent.expires_at_ms());
    (issue(&claims, holder, keys).unwrap(), consent)
}

fn payload_of(compact: &str) -> Value {
    use base64::Engine;
    let jwt = compact.split('~').next().unwrap();
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// Every `_sd` array in `value`: (its length).
fn sd_arrays(value: &Value, out: &mut Vec<usize>) {
    match value {
        Value::Object(map) => {
            for (name, member) in map {
                match (name.as_str(), member) {
                    ("_sd", Value::Array(digests)) => out.push(digests.len()),
                    _ => sd_arrays(member, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| sd_arrays(i, out)),
        _ => {}
    }
}

#[test]
fn an_sd_jwt_release_verifies_discloses_only_granted_claims_has_decoys_and_binds_the_department_key()
 {
    let dir = tempfile::tempdir().unwrap();
    let keys = SigningKeys::open_dir(dir.path(), 3600).unwrap();
    let department = Es256Key::generate().unwrap();
    let mut department_jwk = department.public_jwk().to_json();
    department_jwk["kid"] = json!("esd-1");
    // An encryption key first: skipped by the rule, the signing key after it is bound.
    let jwks = json!({"keys": [
        {"kty": "EC", "crv": "P-256", "use": "enc", "kid": "enc-1",
         "x": department_jwk["x"], "y": department_jwk["y"]},
        department_jwk,
    ]});
    let holder = holder_key(&registered(jwks), None).unwrap();
    assert_eq!(holder.kid(), Some("esd-1"));
    let (compact, consent) = released(&holder, &keys);

    // In the clear: only what decides validity, and the holder key is the department's.
    let payload = payload_of(&compact);
    assert_eq!(payload["cnf"]["jwk"], department_jwk, "{payload}");
    assert_eq!(payload["_sd_alg"], "sha-256");
    for name in ["iss", "aud", "iat", "exp", "jti"] {
        assert!(payload.get(name).is_some(), "{name} in the clear");
    }
    for name in ["sub", "purpose", "consent_id", "txn", "withheld"] {
        assert!(payload.get(name).is_none(), "{name} concealed");
    }
    // No value is readable without its disclosure.
    let text = payload.to_string();
    for value in ["Alice", "1958-04-12", "Ottawa", "loa", "pctf", "pairwise"] {
        assert!(!text.contains(value), "{value} in {text}");
    }
    // Two hours, within the consent's thirty days.
    assert_eq!(payload["exp"], NOW_S + SD_JWT_TTL_SECS);
    assert!(consent.expires_at_ms().unwrap() / 1000 > NOW_S + SD_JWT_TTL_SECS);

    // The holder's view: the broker's signature and every disclosure check.
    let broker_keys = issuer_keys(&keys);
    let check = IssuerCheck {
        issuer: Some("http://127.0.0.1:8080"),
        ..IssuerCheck::new(&broker_keys, NOW_S + 60)
    };
    let held = Credential::receive(&compact, &check).unwrap();
    let disclosable = held.disclosable();
    let claim_paths: Vec<&String> = disclosable
        .iter()
        .filter(|p| p.contains("/claims/"))
        .collect();
    // Only the three granted claims are disclosable values; marital status is nowhere.
    assert_eq!(claim_paths.len(), 3, "{disclosable:?}");
    for name in ["given_name", "birthdate", "address"] {
        assert!(
            claim_paths
                .iter()
                .any(|p| p.ends_with(&format!("/claims/{name}"))),
            "{name} in {disclosable:?}"
        );
    }
    assert!(!compact.contains("married"));
    assert!(!disclosable.iter().any(|p| p.contains("marital_status")));
    for top in ["/sub", "/purpose", "/consent_id", "/txn", "/withheld"] {
        assert!(disclosable.iter().any(|p| p == top), "{top}");
    }
    assert!(
        disclosable
            .iter()
            .any(|p| p.ends_with("/verification/assurance_level"))
    );
    assert_eq!(held.claims()["withheld"][0]["claim"], "marital_status");

    // Decoys: every `_sd` array holds more digests than the disclosures that point into it.
    let disclosures = compact.trim_end_matches('~').split('~').count() - 1;
    let mut arrays = Vec::new();
    sd_arrays(&payload, &mut arrays);
    assert_eq!(
        arrays.len(),
        1 + 2 * 2,
        "top level, and claims and verification of two groups"
    );
    assert!(
        arrays.iter().sum::<usize>() >= disclosures + arrays.len(),
        "{arrays:?} for {disclosures} disclosures"
    );

    // The department presents only the birthdate, bound to one verifier; the verifier sees it
    // and nothing else.
    let request = KeyBindingRequest {
        audience: "https://contractor.example",
        nonce: "n-42",
        issued_at: NOW_S + 120,
    };
    let presentation = held
        .present_bound(
            &["/verified_claims/*/claims/birthdate"],
            &request,
            &department,
        )
        .unwrap();
    let binding = |audience, nonce| KeyBinding::Required {
        audience,
        nonce,
        max_age_secs: 300,
    };
    let check = IssuerCheck::new(&broker_keys, NOW_S + 180);
    let verified = sdjwt::verify(
        &presentation,
        &check,
        binding("https://contractor.example", "n-42"),
    )
    .unwrap();
    assert_eq!(
        verified.disclosed(),
        ["/verified_claims/1/claims/birthdate"],
        "{:?}",
        verified.disclosed()
    );
    let shown = Value::Object(verified.claims().clone()).to_string();
    assert!(
        shown.contains("1958-04-12") && !shown.contains("Alice") && !shown.contains("pairwise")
    );
    assert!(
        sdjwt::verify(
            &presentation,
            &check,
            binding("https://contractor.example", "n-43")
        )
        .is_err()
    );
    assert!(
        sdjwt::verify(
            &presentation,
            &check,
            binding("https://other.example", "n-42")
        )
        .is_err()
    );
    // Signed by another key than the one bound: refused.
    let intruder = Es256Key::generate().unwrap();
    let forged = held
        .present_bound(
            &["/verified_claims/*/claims/birthdate"],
            &request,
            &intruder,
        )
        .unwrap();
    assert!(matches!(
        sdjwt::verify(
            &forged,
            &check,
            binding("https://contractor.example", "n-42")
        ),
        Err(sdjwt::Error::KeyBindingSignature)
    ));
}

#[test]
fn the_holder_key_is_the_kid_asked_or_the_first_signing_key_and_none_is_refused() {
    let es = Es256Key::generate().unwrap();
    let mut es_jwk = es.public_jwk().to_json();
    es_jwk["kid"] = json!("es");
    let ed = ed25519_jwk("ed");
    let keys = registered(json!({"keys": [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "shared"},
        ed.clone(),
        es_jwk.clone(),
    ]}));
    // Ed25519's `alg` as the registry holds it (`EdDSA`) survives the round trip.
    assert_eq!(holder_key(&keys, None).unwrap().to_json(), ed);
    assert_eq!(holder_key(&keys, Some("es")).unwrap().to_json(), es_jwk);
    assert_eq!(
        holder_key(&keys, Some("shared")),
        Err(HolderKeyError::NoKeyWithKid)
    );
    assert_eq!(
        holder_key(&keys, Some("missing")),
        Err(HolderKeyError::NoKeyWithKid)
    );
    assert_eq!(
        holder_key(&registered(json!({"keys": []})), None),
        Err(HolderKeyError::NoSigningKey)
    );
    let enc_only = registered(json!({"keys": [{
        "kty": "EC", "crv": "P-256", "use": "enc", "x": es_jwk["x"], "y": es_jwk["y"]}]}));
    assert_eq!(
        holder_key(&enc_only, None),
        Err(HolderKeyError::NoSigningKey)
    );
}

#[test]
fn an_sd_jwt_release_ends_with_the_consent_it_rests_on_and_never_lasts_beyond_two_hours() {
    assert_eq!(expiry(NOW_S, None), NOW_S + SD_JWT_TTL_SECS);
    assert_eq!(expiry(NOW_S, Some((NOW_S + 600) * 1000 + 999)), NOW_S + 600);
    assert_eq!(
        expiry(NOW_S, Some((NOW_S + 3 * SD_JWT_TTL_SECS) * 1000)),
        NOW_S + SD_JWT_TTL_SECS
    );
}
