//! Issue → receive → present → verify, in the shape the broker releases.

use std::cell::Cell;
use std::collections::BTreeSet;

use ring::rand::SystemRandom;
use sdjwt::{Credential, Decoys, Error, Issuer, KeyBinding, Randomness, TYP_SD_JWT, verify};
use serde_json::{Value, json};

use crate::support::{
    NOW, RELEASE_PATHS, RsaHolder, World, payload_of, release, request, required, unb64,
};

fn digests_in(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(members) => {
            for (name, member) in members {
                match (name.as_str(), member) {
                    ("_sd", Value::Array(ds)) => {
                        out.extend(ds.iter().filter_map(|d| d.as_str().map(str::to_owned)))
                    }
                    ("...", Value::String(d)) => out.push(d.clone()),
                    _ => digests_in(member, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| digests_in(i, out)),
        _ => {}
    }
}

#[test]
fn a_release_round_trips_with_only_the_chosen_claims_disclosed() {
    let world = World::new();
    let issued = world.issue(&release(), &RELEASE_PATHS);
    let held = world.receive(&issued);
    // The holder sees everything it was given, exactly as released, plus the bound key.
    let mut full = release();
    full["cnf"] = json!({"jwk": world.holder.public_jwk().to_json()});
    assert_eq!(Value::Object(held.claims().clone()), full);
    assert_eq!(held.holder_key(), Some(world.holder.public_jwk()));

    let presentation = world.present(&issued, &["/verified_claims/*/claims/birthdate"]);
    let verified = verify(&presentation, &world.check(), required()).unwrap();
    let claims = verified.claims();
    assert_eq!(
        claims["verified_claims"],
        json!([
            {"verification": {}, "claims": {}},
            {"verification": {}, "claims": {"birthdate": "1958-04-12"}}
        ])
    );
    // Plain claims travel as they were; nothing of the concealed ones leaks.
    for name in [
        "iss",
        "aud",
        "sub",
        "iat",
        "exp",
        "jti",
        "purpose",
        "consent_id",
        "txn",
        "withheld",
        "cnf",
    ] {
        assert_eq!(claims[name], full[name], "{name}");
    }
    assert_eq!(
        verified.disclosed(),
        ["/verified_claims/1/claims/birthdate"]
    );
    for secret in ["Alice", "Martin", "Sussex", "loa3", "vital-statistics"] {
        assert!(
            !presentation_text(&presentation).contains(secret),
            "{secret} leaked"
        );
    }
}

/// Every part of a presentation, decoded where it is base64url: what a verifier can read.
fn presentation_text(presentation: &str) -> String {
    presentation
        .split(['~', '.'])
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(&unb64(part)).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_source_can_be_presented_with_its_verification() {
    let world = World::new();
    let issued = world.issue(&release(), &RELEASE_PATHS);
    let presentation = world.present(
        &issued,
        &[
            "/verified_claims/1/claims/birthdate",
            "/verified_claims/1/verification",
        ],
    );
    let verified = verify(&presentation, &world.check(), required()).unwrap();
    let mut expected = release()["verified_claims"][1].clone();
    expected["claims"] = json!({"birthdate": "1958-04-12"});
    assert_eq!(verified.claims()["verified_claims"][1], expected);
    assert_eq!(
        verified.claims()["verified_claims"][0],
        json!({"verification": {}, "claims": {}})
    );
}

#[test]
fn recursive_disclosures_bring_their_parents_along() {
    let world = World::new();
    // Each source is concealed as a whole, and each claim within it on its own.
    let paths = [
        "/verified_claims/*",
        "/verified_claims/*/claims/*",
        "/verified_claims/*/claims/address/*",
    ];
    let issued = world.issue(&release(), &paths);
    let held = world.receive(&issued);
    assert!(
        held.disclosable()
            .contains(&"/verified_claims/0/claims/address/locality".to_owned())
    );

    let presentation = world.present(&issued, &["/verified_claims/*/claims/address/locality"]);
    let verified = verify(&presentation, &world.check(), required()).unwrap();
    // The second source holds no address: its element is not disclosed at all.
    assert_eq!(
        verified.claims()["verified_claims"],
        json!([{
            "verification": release()["verified_claims"][0]["verification"],
            "claims": {"address": {"locality": "Ottawa"}}
        }])
    );
    assert_eq!(
        verified.disclosed(),
        [
            "/verified_claims/0",
            "/verified_claims/0/claims/address",
            "/verified_claims/0/claims/address/locality"
        ]
    );
}

#[test]
fn top_level_claims_and_array_elements_round_trip() {
    let world = World::new();
    let claims = json!({
        "iss": "https://broker.example", "exp": NOW + 300,
        "given_name": "Alice", "nationalities": ["CA", "FR", "IE"], "n": 3, "flag": false, "none": null
    });
    let issued = world.issue(
        &claims,
        &[
            "/given_name",
            "/nationalities/0",
            "/nationalities/2",
            "/n",
            "/flag",
            "/none",
        ],
    );
    let presentation = world.present(&issued, &["/nationalities/2", "/flag", "/none"]);
    let verified = verify(&presentation, &world.check(), required()).unwrap();
    let mut expected = json!({
        "iss": "https://broker.example", "exp": NOW + 300,
        "nationalities": ["FR", "IE"], "flag": false, "none": null
    });
    expected["cnf"] = json!({"jwk": world.holder.public_jwk().to_json()});
    assert_eq!(Value::Object(verified.claims().clone()), expected);
}

#[test]
fn presenting_everything_gives_back_the_claims_and_nothing_gives_the_plain_ones() {
    let world = World::new();
    let issued = world.issue(&release(), &RELEASE_PATHS);
    let held = world.receive(&issued);
    let everything = held
        .present_bound(&["/verified_claims"], &request(), &world.holder)
        .unwrap();
    let verified = verify(&everything, &world.check(), required()).unwrap();
    assert_eq!(verified.claims(), held.claims());

    // An empty selection is a valid presentation of the plain claims only.
    let nothing = held.present_bound(&[], &request(), &world.holder).unwrap();
    let verified = verify(&nothing, &world.check(), required()).unwrap();
    assert!(verified.disclosed().is_empty());
    assert_eq!(verified.claims()["sub"], json!("pw-5c1f0e"));
}

#[test]
fn the_issued_form_follows_the_rfc() {
    let world = World::new();
    let issued = Issuer::new()
        .decoys(Decoys::between(2, 2).unwrap())
        .issue(
            &release(),
            &RELEASE_PATHS,
            Some(world.holder.public_jwk()),
            &world.issuer,
        )
        .unwrap();
    let compact = issued.compact();
    assert!(compact.ends_with('~'), "an issuance carries no KB-JWT");
    let (jwt, _) = compact.split_once('~').unwrap();
    let header: Value = serde_json::from_slice(&unb64(jwt.split('.').next().unwrap())).unwrap();
    assert_eq!(header["typ"], TYP_SD_JWT);
    assert_eq!(header["alg"], "ES256");

    let payload = payload_of(jwt);
    assert_eq!(payload["_sd_alg"], "sha-256");
    assert_eq!(payload["cnf"]["jwk"], world.holder.public_jwk().to_json());
    let source = &payload["verified_claims"][1];
    // One claim plus two decoys; five verification members plus two decoys; sorted.
    let claim_digests = source["claims"]["_sd"].as_array().unwrap();
    assert_eq!(claim_digests.len(), 3);
    assert!(
        claim_digests
            .windows(2)
            .all(|w| w[0].as_str() < w[1].as_str())
    );
    assert_eq!(source["verification"]["_sd"].as_array().unwrap().len(), 7);
    assert_eq!(
        source["verification"].as_object().unwrap().len(),
        1,
        "only `_sd` is left"
    );

    // Every digest is unique; the disclosures cover 10 of them, decoys the rest.
    let mut digests = Vec::new();
    digests_in(&Value::Object(payload.clone()), &mut digests);
    let unique: BTreeSet<&String> = digests.iter().collect();
    assert_eq!(unique.len(), digests.len());
    assert_eq!(issued.concealed().len(), 3 + 5 + 1 + 5);
    assert_eq!(digests.len(), issued.concealed().len() + 4 * 2);

    // Salts: 128 bits each, never reused.
    let held = world.receive(compact);
    assert_eq!(held.disclosable().len(), 14);
    let salts: BTreeSet<String> = compact
        .split('~')
        .skip(1)
        .filter(|d| !d.is_empty())
        .map(|d| sdjwt::Disclosure::parse(d, 0).unwrap().salt().to_owned())
        .collect();
    assert_eq!(salts.len(), 14);
    assert!(salts.iter().all(|s| s.len() == 22));
}

#[test]
fn decoys_vary_within_their_range_and_hide_array_positions() {
    let world = World::new();
    let claims = json!({"list": ["a", "b"]});
    let mut lengths = BTreeSet::new();
    for _ in 0..40 {
        let issued = Issuer::new()
            .decoys(Decoys::between(0, 3).unwrap())
            .issue(&claims, &["/list/0", "/list/1"], None, &world.issuer)
            .unwrap();
        let payload = payload_of(issued.compact().split('~').next().unwrap());
        let list = payload["list"].as_array().unwrap();
        assert!((2..=5).contains(&list.len()));
        assert!(list.iter().all(|e| {
            e.as_object()
                .is_some_and(|o| o.len() == 1 && o.contains_key("..."))
        }));
        lengths.insert(list.len());
        let verified = verify(issued.compact(), &world.check(), KeyBinding::NotRequired).unwrap();
        assert_eq!(verified.claims()["list"], json!(["a", "b"]));
    }
    assert!(lengths.len() > 1, "decoy counts vary: {lengths:?}");
}

#[test]
fn without_decoys_each_digest_is_a_claim() {
    let world = World::new();
    let issued = Issuer::new()
        .decoys(Decoys::none())
        .issue(
            &json!({"a": 1, "b": 2, "c": 3}),
            &["/a", "/b"],
            None,
            &world.issuer,
        )
        .unwrap();
    let payload = payload_of(issued.compact().split('~').next().unwrap());
    assert_eq!(payload["_sd"].as_array().unwrap().len(), 2);
    assert_eq!(payload["c"], 3);
    assert!(!payload.contains_key("cnf"));
}

#[test]
fn issuance_refuses_what_must_stay_plain_and_what_does_not_exist() {
    let world = World::new();
    let issue = |claims: &Value, paths: &[&str]| {
        Issuer::new().issue(
            claims,
            paths,
            Some(world.holder.public_jwk()),
            &world.issuer,
        )
    };
    for path in ["/iss", "/exp", "/aud"] {
        assert!(
            matches!(
                issue(&release(), &[path]),
                Err(Error::NotDisclosable { .. })
            ),
            "{path}"
        );
    }
    assert!(matches!(
        issue(&release(), &["/nickname"]),
        Err(Error::PathNotFound { .. })
    ));
    assert!(matches!(
        issue(&release(), &["nickname"]),
        Err(Error::InvalidPath { .. })
    ));
    assert!(matches!(
        issue(&json!(["not", "an", "object"]), &[]),
        Err(Error::ClaimsNotObject)
    ));
    assert!(matches!(
        issue(&json!({"cnf": {"jkt": "x"}}), &[]),
        Err(Error::HolderKeyConflict)
    ));
    for reserved in [
        json!({"_sd": []}),
        json!({"a": [{"...": "x"}]}),
        json!({"b": {"_sd_alg": "md5"}}),
    ] {
        assert!(
            matches!(issue(&reserved, &[]), Err(Error::ReservedName { .. })),
            "{reserved}"
        );
    }
    assert!(matches!(Decoys::between(3, 2), Err(Error::DecoyRange)));
    assert!(matches!(Decoys::between(0, 65), Err(Error::DecoyRange)));
    // Without a holder key, `cnf` in the claims is the caller's business.
    assert!(
        Issuer::new()
            .issue(
                &json!({"cnf": {"jkt": "x"}, "a": 1}),
                &["/a"],
                None,
                &world.issuer
            )
            .is_ok()
    );
}

/// A random source that fails after `left` calls.
struct Failing {
    left: Cell<usize>,
}

impl Randomness for Failing {
    fn fill(&self, dest: &mut [u8]) -> Result<(), Error> {
        match self.left.get() {
            0 => Err(Error::Random),
            n => {
                self.left.set(n - 1);
                Randomness::fill(&SystemRandom::new(), dest)
            }
        }
    }
}

#[test]
fn a_failing_random_source_fails_issuance() {
    let world = World::new();
    for left in [0, 1, 3] {
        let issuer = Issuer::with_randomness(Failing {
            left: Cell::new(left),
        });
        assert!(matches!(
            issuer.issue(&release(), &RELEASE_PATHS, None, &world.issuer),
            Err(Error::Random)
        ));
    }
}

#[test]
fn a_holder_presents_only_what_exists_and_only_with_a_bound_key() {
    let world = World::new();
    let flat = world.issue(&release(), &["/verified_claims/*/claims/address"]);
    let held = world.receive(&flat);
    // The address is one disclosure: its locality cannot be shown without the rest of it.
    assert!(matches!(
        held.present(&["/verified_claims/0/claims/address/locality"]),
        Err(Error::SelectionMatchesNothing { .. })
    ));
    assert!(matches!(
        held.present(&["/sub"]),
        Err(Error::SelectionMatchesNothing { .. })
    ));
    assert!(matches!(
        held.present(&["sub"]),
        Err(Error::InvalidPath { .. })
    ));

    let unbound = Issuer::new()
        .issue(&release(), &RELEASE_PATHS, None, &world.issuer)
        .unwrap();
    let held = world.receive(unbound.compact());
    assert!(held.holder_key().is_none());
    assert!(matches!(
        held.present_bound(&["/verified_claims"], &request(), &world.holder),
        Err(Error::HolderKeyMissing)
    ));
    // Unbound, it can still be passed on as a bare SD-JWT to a verifier that does not bind.
    let bare = held
        .present(&["/verified_claims/*/claims/birthdate"])
        .unwrap();
    assert!(verify(&bare, &world.check(), KeyBinding::NotRequired).is_ok());
}

#[test]
fn a_holder_refuses_an_issuance_that_carries_a_key_binding_jwt() {
    let world = World::new();
    let issued = world.issue(&release(), &RELEASE_PATHS);
    let presentation = world.present(&issued, &["/verified_claims"]);
    assert!(matches!(
        Credential::receive(&presentation, &world.check()),
        Err(Error::KeyBindingUnexpected)
    ));
}

#[test]
fn a_signer_closure_stands_in_for_the_broker_key_store() {
    let world = World::new();
    // What the broker will do: its key store builds the header (alg, kid, typ) and signs.
    let key_store =
        |header: &sdjwt::JwsHeader<'_>, payload: &[u8]| -> Result<String, sdjwt::SignerError> {
            use sdjwt::Signer;
            world.issuer.sign_jws(header, payload)
        };
    let issued = Issuer::new()
        .issue(
            &release(),
            &RELEASE_PATHS,
            Some(world.holder.public_jwk()),
            &key_store,
        )
        .unwrap();
    assert_eq!(world.receive(issued.compact()).disclosable().len(), 14);
    assert!(!format!("{issued:?}").contains("Alice"));
}

#[test]
fn a_department_rsa_key_can_be_the_holder_key() {
    let world = World::new();
    for pss in [false, true] {
        let department = RsaHolder::new(pss);
        let issued = Issuer::new()
            .issue(
                &release(),
                &RELEASE_PATHS,
                Some(&department.public_jwk()),
                &world.issuer,
            )
            .unwrap();
        let held = world.receive(issued.compact());
        assert_eq!(held.holder_key().unwrap().to_json()["kty"], "RSA");
        let presentation = held
            .present_bound(
                &["/verified_claims/1/claims/birthdate"],
                &request(),
                &department,
            )
            .unwrap();
        let verified = verify(&presentation, &world.check(), required()).unwrap();
        assert_eq!(
            verified.claims()["verified_claims"][1]["claims"]["birthdate"],
            "1958-04-12"
        );
        // The JWK says which RSA algorithm it is for; the other one is refused.
        let other = RsaHolder::new(!pss);
        let crossed = held
            .present_bound(&["/verified_claims/1/claims/birthdate"], &request(), &other)
            .unwrap();
        assert!(matches!(
            verify(&crossed, &world.check(), required()),
            Err(Error::Algorithm)
        ));
    }
}

#[test]
fn the_shape_documented_in_release_md_issues_and_verifies() {
    // docs/release.md, "SD-JWT releases (format)".
    let paths = [
        "/sub",
        "/purpose",
        "/consent_id",
        "/txn",
        "/withheld",
        "/verified_claims/*/claims/*",
        "/verified_claims/*/verification/*",
    ];
    let world = World::new();
    let issued = world.issue(&release(), &paths);
    let payload = payload_of(issued.split('~').next().unwrap());
    let mut plain: Vec<&str> = payload.keys().map(String::as_str).collect();
    plain.sort_unstable();
    assert_eq!(
        plain,
        [
            "_sd",
            "_sd_alg",
            "aud",
            "cnf",
            "exp",
            "iat",
            "iss",
            "jti",
            "verified_claims"
        ]
    );
    let presentation = world.present(&issued, &["/verified_claims/*/claims/birthdate"]);
    let verified = verify(&presentation, &world.check(), required()).unwrap();
    let mut shown: Vec<&str> = verified.claims().keys().map(String::as_str).collect();
    shown.sort_unstable();
    assert_eq!(
        shown,
        ["aud", "cnf", "exp", "iat", "iss", "jti", "verified_claims"]
    );
    assert_eq!(
        verified.claims()["verified_claims"],
        json!([
            {"verification": {}, "claims": {}},
            {"verification": {}, "claims": {"birthdate": "1958-04-12"}}
        ])
    );
}
