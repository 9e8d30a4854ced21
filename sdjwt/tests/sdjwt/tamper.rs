//! Every tampering refused: by a holder or anyone in between (altered, dropped, added, repeated
//! disclosures; a missing, stale, misdirected or transplanted KB-JWT), and by a careless issuer
//! (duplicate digests, misused `_sd` and `...`, wrong `_sd_alg`) — the last ones re-signed, so it
//! is the checks and not the signature that catch them.

use sdjwt::{
    Error, Es256Key, IssuerCheck, JwsHeader, KeyBinding, MAX_DEPTH, Signer, TYP_KB_JWT, digest,
    verify,
};
use serde_json::{Value, json};

use crate::support::{
    AUDIENCE, NONCE, NOW, RELEASE_PATHS, SECRETS, World, b64, disclosure, payload_of, release,
    required, unb64, with_disclosures,
};

/// Verifies and returns the error, checking on the way that it names no claim value.
fn refused(presentation: &str, check: &IssuerCheck<'_>, binding: KeyBinding<'_>) -> Error {
    let error = verify(presentation, check, binding).expect_err("must be refused");
    let message = error.to_string();
    for secret in SECRETS {
        assert!(!message.contains(secret), "`{message}` leaks {secret}");
    }
    error
}

/// An SD-JWT signed by the world's issuer over `payload`, with `disclosures` appended.
fn crafted(world: &World, payload: &Value, disclosures: &[String]) -> String {
    let mut out = world.sign_payload(payload) + "~";
    for d in disclosures {
        out.push_str(d);
        out.push('~');
    }
    out
}

/// The digest of the `index`th `~`-separated part.
fn p_digest(compact: &str, index: usize) -> String {
    digest(&parts(compact)[index])
}

fn parts(compact: &str) -> Vec<String> {
    compact.split('~').map(str::to_owned).collect()
}

#[test]
fn an_altered_disclosure_is_not_referenced() {
    let world = World::new();
    let issued = world.issue(&release(), &RELEASE_PATHS);
    let presentation = world.present(&issued, &["/verified_claims/1/claims/birthdate"]);
    let mut p = parts(&presentation);
    // Same salt and name, another birthdate: a different text, so a digest nobody signed.
    let original = sdjwt::Disclosure::parse(&p[1], 0).unwrap();
    p[1] = disclosure(json!([original.salt(), "birthdate", "1990-01-01"]));
    let kb_free = with_disclosures(&p[0], &[&p[1]]);
    assert!(matches!(
        refused(&kb_free, &world.check(), KeyBinding::NotRequired),
        Error::UnreferencedDisclosure { index: 0 }
    ));
    // With the KB-JWT kept, the altered set no longer matches `sd_hash` either; the
    // disclosure check comes first.
    assert!(matches!(
        refused(&p.join("~"), &world.check(), required()),
        Error::UnreferencedDisclosure { index: 0 }
    ));
    // A one-character change of the encoded text.
    let mut flipped = parts(&presentation);
    let last = flipped[1].pop().unwrap();
    flipped[1].push(if last == 'A' { 'B' } else { 'A' });
    let error = refused(&flipped.join("~"), &world.check(), required());
    assert!(
        matches!(
            error,
            Error::UnreferencedDisclosure { .. } | Error::Disclosure { .. }
        ),
        "{error:?}"
    );
}

#[test]
fn a_removed_digest_orphans_its_disclosure() {
    let world = World::new();
    let issued = world.issue(&json!({"a": 1, "b": 2}), &["/a", "/b"]);
    let a = parts(&issued)[1].clone();
    let dropped = world.resign(&issued, |payload| {
        let digests = payload["_sd"].as_array_mut().unwrap();
        digests.retain(|d| d.as_str() != Some(digest(&a).as_str()));
    });
    assert!(matches!(
        refused(&dropped, &world.check(), KeyBinding::NotRequired),
        Error::UnreferencedDisclosure { index: 0 }
    ));
}

#[test]
fn a_duplicated_digest_is_refused_wherever_it_repeats() {
    let world = World::new();
    let claims = json!({"a": 1, "o": {"b": 2}, "l": ["x"]});
    let issued = world.issue(&claims, &["/a", "/o/b", "/l/0"]);
    // Disclosures come out in the claims' order, which depends on how the JSON map keeps its
    // keys (sorted, or as inserted when serde_json's `preserve_order` is on in the build): find
    // them by what they disclose.
    let find = |wanted: &sdjwt::Disclosed| {
        let p = parts(&issued);
        let at = (1..p.len() - 1)
            .find(|&i| sdjwt::Disclosure::parse(&p[i], 0).unwrap().disclosed() == wanted)
            .unwrap();
        p_digest(&issued, at)
    };
    let a = find(&sdjwt::Disclosed::Member {
        name: "a".into(),
        value: json!(1),
    });
    let twice_in_one_array = world.resign(&issued, |p| {
        p["_sd"].as_array_mut().unwrap().push(json!(a));
    });
    let in_a_nested_object = world.resign(&issued, |p| {
        p["o"]["_sd"].as_array_mut().unwrap().push(json!(a));
    });
    let element = find(&sdjwt::Disclosed::Element { value: json!("x") });
    let twice_in_an_array = world.resign(&issued, |p| {
        p["l"].as_array_mut().unwrap().push(json!({"...": element}));
    });
    let element_again_in_an_object = world.resign(&issued, |p| {
        p["o"]["_sd"].as_array_mut().unwrap().push(json!(element));
    });
    for tampered in [twice_in_one_array, in_a_nested_object, twice_in_an_array] {
        let error = refused(&tampered, &world.check(), KeyBinding::NotRequired);
        assert!(matches!(error, Error::DuplicateDigest), "{error:?}");
    }
    // An array element's digest in an object is both a repeat and the wrong kind of disclosure:
    // which is met first follows the payload's key order (sorted, or as inserted when
    // serde_json's `preserve_order` is on in the build). Refused either way.
    let error = refused(
        &element_again_in_an_object,
        &world.check(),
        KeyBinding::NotRequired,
    );
    assert!(
        matches!(error, Error::DuplicateDigest | Error::DisclosureKind { .. }),
        "{error:?}"
    );
    // Also when the repeated digest is a decoy nobody discloses.
    let decoy = world.resign(&issued, |p| {
        p["o"]["_sd"].as_array_mut().unwrap().push(json!("decoy"));
        p["l"].as_array_mut().unwrap().push(json!({"...": "decoy"}));
    });
    assert!(matches!(
        refused(&decoy, &world.check(), KeyBinding::NotRequired),
        Error::DuplicateDigest
    ));
}

#[test]
fn a_duplicated_or_foreign_disclosure_is_refused() {
    let world = World::new();
    let issued = world.issue(&release(), &RELEASE_PATHS);
    let p = parts(&issued);
    let twice = with_disclosures(&p[0], &[&p[1], &p[2], &p[1]]);
    assert!(matches!(
        refused(&twice, &world.check(), KeyBinding::NotRequired),
        Error::DuplicateDisclosure { index: 2 }
    ));
    let other = parts(&world.issue(&release(), &RELEASE_PATHS));
    let foreign = with_disclosures(&p[0], &[&p[1], &other[1]]);
    assert!(matches!(
        refused(&foreign, &world.check(), KeyBinding::NotRequired),
        Error::UnreferencedDisclosure { index: 1 }
    ));
}

#[test]
fn a_payload_changed_after_signing_fails_the_signature() {
    let world = World::new();
    let issued = world.issue(&release(), &RELEASE_PATHS);
    let (jwt, rest) = issued.split_once('~').unwrap();
    let mut payload = payload_of(jwt);
    payload.insert("sub".into(), json!("someone-else"));
    let segments: Vec<&str> = jwt.split('.').collect();
    let forged = format!(
        "{}.{}.{}~{rest}",
        segments[0],
        b64(Value::Object(payload).to_string()),
        segments[2]
    );
    assert!(matches!(
        refused(&forged, &world.check(), KeyBinding::NotRequired),
        Error::Signature
    ));
    // Or signed by a key that is not the issuer's.
    let stranger = Es256Key::generate().unwrap();
    let by_stranger = stranger
        .sign_jws(
            &JwsHeader {
                typ: sdjwt::TYP_SD_JWT,
            },
            &unb64(segments[1]),
        )
        .unwrap();
    assert!(matches!(
        refused(
            &format!("{by_stranger}~{rest}"),
            &world.check(),
            KeyBinding::NotRequired
        ),
        Error::Signature
    ));
    // `alg: none` never verifies.
    let unsigned = format!(
        "{}.{}.~{rest}",
        b64(r#"{"alg":"none","typ":"dc+sd-jwt"}"#),
        segments[1]
    );
    assert!(matches!(
        refused(&unsigned, &world.check(), KeyBinding::NotRequired),
        Error::Malformed { .. }
    ));
    let none_signed = format!(
        "{}.{}.AA~{rest}",
        b64(r#"{"alg":"none","typ":"dc+sd-jwt"}"#),
        segments[1]
    );
    assert!(matches!(
        refused(&none_signed, &world.check(), KeyBinding::NotRequired),
        Error::Algorithm
    ));
}

#[test]
fn key_binding_is_enforced_when_required() {
    let world = World::new();
    let issued = world.issue(&release(), &RELEASE_PATHS);
    let presentation = world.present(&issued, &["/verified_claims/1/claims/birthdate"]);
    assert!(verify(&presentation, &world.check(), required()).is_ok());

    // Missing: the bare SD-JWT, or the KB-JWT stripped off a presentation.
    let stripped = &presentation[..=presentation.rfind('~').unwrap()];
    assert!(matches!(
        refused(stripped, &world.check(), required()),
        Error::KeyBindingMissing
    ));
    assert!(matches!(
        refused(&issued, &world.check(), required()),
        Error::KeyBindingMissing
    ));

    let binding = |audience, nonce, max_age_secs| KeyBinding::Required {
        audience,
        nonce,
        max_age_secs,
    };
    assert!(matches!(
        refused(
            &presentation,
            &world.check(),
            binding(AUDIENCE, "another-nonce", 300)
        ),
        Error::KeyBindingNonce
    ));
    assert!(matches!(
        refused(
            &presentation,
            &world.check(),
            binding("https://elsewhere.example", NONCE, 300)
        ),
        Error::KeyBindingAudience
    ));
    // Signed at NOW: stale for a verifier that accepts 10 s (and 60 s of skew) at NOW + 71.
    let later = IssuerCheck {
        now: NOW + 71,
        ..world.check()
    };
    assert!(matches!(
        refused(&presentation, &later, binding(AUDIENCE, NONCE, 10)),
        Error::KeyBindingTime
    ));
    let earlier = IssuerCheck {
        now: NOW - 61,
        ..world.check()
    };
    assert!(matches!(
        refused(&presentation, &earlier, required()),
        Error::KeyBindingTime
    ));
}

#[test]
fn a_kb_jwt_for_another_set_of_disclosures_fails_sd_hash() {
    let world = World::new();
    let issued = world.issue(&release(), &RELEASE_PATHS);
    let birthdate_only = world.present(&issued, &["/verified_claims/1/claims/birthdate"]);
    let kb = birthdate_only.rsplit('~').next().unwrap();
    // A disclosure added after the holder signed.
    let held = world.receive(&issued);
    let more = held
        .present(&[
            "/verified_claims/1/claims/birthdate",
            "/verified_claims/0/claims/given_name",
        ])
        .unwrap();
    assert!(matches!(
        refused(&format!("{more}{kb}"), &world.check(), required()),
        Error::KeyBindingSdHash
    ));
    // The same KB-JWT moved onto another issuance bound to the same holder.
    let other = world.receive(&world.issue(&release(), &RELEASE_PATHS));
    let elsewhere = other
        .present(&["/verified_claims/1/claims/birthdate"])
        .unwrap();
    assert!(matches!(
        refused(&format!("{elsewhere}{kb}"), &world.check(), required()),
        Error::KeyBindingSdHash
    ));
}

/// A KB-JWT over `claims` with `typ`, signed by `key`, appended to `sd_jwt`.
fn with_kb(sd_jwt: &str, typ: &str, claims: Value, key: &Es256Key) -> String {
    let kb = key
        .sign_jws(&JwsHeader { typ }, claims.to_string().as_bytes())
        .unwrap();
    format!("{sd_jwt}{kb}")
}

#[test]
fn a_kb_jwt_must_be_the_holders_typed_and_complete() {
    let world = World::new();
    let issued = world.issue(&release(), &RELEASE_PATHS);
    let sd_jwt = world
        .receive(&issued)
        .present(&["/verified_claims/1"])
        .unwrap();
    let good = json!({"iat": NOW, "aud": AUDIENCE, "nonce": NONCE, "sd_hash": digest(&sd_jwt)});
    assert!(
        verify(
            &with_kb(&sd_jwt, TYP_KB_JWT, good.clone(), &world.holder),
            &world.check(),
            required()
        )
        .is_ok()
    );

    let stranger = Es256Key::generate().unwrap();
    assert!(matches!(
        refused(
            &with_kb(&sd_jwt, TYP_KB_JWT, good.clone(), &stranger),
            &world.check(),
            required()
        ),
        Error::KeyBindingSignature
    ));
    assert!(matches!(
        refused(
            &with_kb(&sd_jwt, "jwt", good.clone(), &world.holder),
            &world.check(),
            required()
        ),
        Error::KeyBindingMalformed { .. }
    ));
    for (member, value) in [
        ("iat", Value::Null),
        ("aud", json!([AUDIENCE])),
        ("nonce", json!(42)),
        ("sd_hash", Value::Null),
    ] {
        let mut claims = good.clone();
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(member);
        } else {
            claims[member] = value;
        }
        assert!(
            matches!(
                refused(
                    &with_kb(&sd_jwt, TYP_KB_JWT, claims, &world.holder),
                    &world.check(),
                    required()
                ),
                Error::KeyBindingMalformed { .. }
            ),
            "{member}"
        );
    }
    let mut expired = good.clone();
    expired["exp"] = json!(NOW - 120);
    assert!(matches!(
        refused(
            &with_kb(&sd_jwt, TYP_KB_JWT, expired, &world.holder),
            &world.check(),
            required()
        ),
        Error::KeyBindingTime
    ));
    // A bound SD-JWT whose `cnf` was removed by its issuer cannot be checked for binding.
    let unbound = world.resign(&issued, |p| {
        p.remove("cnf");
    });
    let unbound_sd_jwt = with_disclosures(&unbound, &[]);
    let claims =
        json!({"iat": NOW, "aud": AUDIENCE, "nonce": NONCE, "sd_hash": digest(&unbound_sd_jwt)});
    assert!(matches!(
        refused(
            &with_kb(&unbound_sd_jwt, TYP_KB_JWT, claims, &world.holder),
            &world.check(),
            required()
        ),
        Error::HolderKeyMissing
    ));
}

#[test]
fn the_issuer_jwt_must_be_typed_valid_now_and_complete() {
    let world = World::new();
    let issued = world.issue(&release(), &RELEASE_PATHS);
    let check = world.check();
    assert!(matches!(
        refused(
            &issued,
            &IssuerCheck {
                typ: "release+jwt",
                ..check.clone()
            },
            KeyBinding::NotRequired
        ),
        Error::Typ { .. }
    ));
    assert!(matches!(
        refused(
            &issued,
            &IssuerCheck {
                now: NOW + 1000,
                ..check.clone()
            },
            KeyBinding::NotRequired
        ),
        Error::Expired
    ));
    assert!(matches!(
        refused(
            &issued,
            &IssuerCheck {
                now: NOW - 1000,
                ..check.clone()
            },
            KeyBinding::NotRequired
        ),
        Error::IssuedInFuture
    ));
    let not_yet = world.resign(&issued, |p| {
        p.insert("nbf".into(), json!(NOW + 600));
    });
    assert!(matches!(
        refused(&not_yet, &check, KeyBinding::NotRequired),
        Error::NotYetValid
    ));
    let odd_exp = world.resign(&issued, |p| {
        p.insert("exp".into(), json!("tomorrow"));
    });
    assert!(matches!(
        refused(&odd_exp, &check, KeyBinding::NotRequired),
        Error::ClaimType { name: "exp" }
    ));
    let needs_purpose = IssuerCheck {
        required_claims: &["purpose", "given_name"],
        ..check.clone()
    };
    assert!(matches!(
        refused(&issued, &needs_purpose, KeyBinding::NotRequired),
        Error::MissingClaim { name } if name == "given_name"
    ));
    assert!(matches!(
        refused(
            &issued,
            &IssuerCheck {
                issuer: Some("https://evil.example"),
                ..check
            },
            KeyBinding::NotRequired
        ),
        Error::Issuer
    ));
}

#[test]
fn misused_sd_members_and_ellipses_are_refused() {
    let world = World::new();
    let d_member = disclosure(json!(["c2FsdA", "a", 1]));
    let d_element = disclosure(json!(["c2FsdA", 1]));
    let cases: Vec<(Value, Vec<String>, &str)> = vec![
        (json!({"_sd_alg": "sha-512"}), vec![], "hash"),
        (json!({"_sd_alg": 256}), vec![], "hash"),
        (json!({"o": {"_sd_alg": "sha-256"}}), vec![], "hash"),
        (json!({"_sd": "not-an-array"}), vec![], "misuse"),
        (json!({"_sd": [7]}), vec![], "misuse"),
        (json!({"o": {"...": "x"}}), vec![], "misuse"),
        (json!({"l": [{"...": "x", "b": 1}]}), vec![], "misuse"),
        (json!({"l": [{"...": 5}]}), vec![], "misuse"),
        (
            json!({"_sd": [digest(&d_element)]}),
            vec![d_element.clone()],
            "kind",
        ),
        (
            json!({"l": [{"...": digest(&d_member)}]}),
            vec![d_member.clone()],
            "kind",
        ),
        (
            json!({"a": 0, "_sd": [digest(&d_member)]}),
            vec![d_member.clone()],
            "clash",
        ),
    ];
    for (payload, disclosures, expected) in cases {
        let error = refused(
            &crafted(&world, &payload, &disclosures),
            &world.check(),
            KeyBinding::NotRequired,
        );
        let kind = match error {
            Error::HashAlgorithm => "hash",
            Error::DigestMisuse { .. } => "misuse",
            Error::DisclosureKind { .. } => "kind",
            Error::ClaimNameClash { .. } => "clash",
            _ => "other",
        };
        assert_eq!(kind, expected, "{payload}: {error:?}");
    }
    for reserved in ["_sd", "...", "_sd_alg"] {
        let d = disclosure(json!(["c2FsdA", reserved, []]));
        let error = refused(
            &crafted(&world, &json!({"_sd": [digest(&d)]}), &[d]),
            &world.check(),
            KeyBinding::NotRequired,
        );
        assert!(
            matches!(error, Error::DisclosedReservedName { index: 0 }),
            "{reserved}"
        );
    }
    // Two disclosures of the same name in one object.
    let (x1, x2) = (
        disclosure(json!(["c2FsdA", "x", 1])),
        disclosure(json!(["c2FsdB", "x", 2])),
    );
    let payload = json!({"_sd": [digest(&x1), digest(&x2)]});
    assert!(matches!(
        refused(
            &crafted(&world, &payload, &[x1, x2]),
            &world.check(),
            KeyBinding::NotRequired
        ),
        Error::ClaimNameClash { index: 1 }
    ));
}

#[test]
fn nesting_through_disclosures_is_bounded() {
    let world = World::new();
    // Each disclosure's value holds the next one's digest: MAX_DEPTH + 1 levels deep.
    let mut disclosures = Vec::new();
    let mut inner = json!({"leaf": true});
    for level in 0..=MAX_DEPTH {
        let d = disclosure(json!([format!("salt{level}"), "n", inner]));
        inner = json!({"_sd": [digest(&d)]});
        disclosures.push(d);
    }
    let error = refused(
        &crafted(&world, &inner, &disclosures),
        &world.check(),
        KeyBinding::NotRequired,
    );
    assert!(matches!(error, Error::TooDeep), "{error:?}");
}

#[test]
fn malformed_serialisations_are_refused() {
    let world = World::new();
    let issued = world.issue(&release(), &RELEASE_PATHS);
    let jwt = issued.split('~').next().unwrap();
    for (text, expected) in [
        (jwt.to_owned(), "malformed"),                           // no `~`
        (format!("~{}", &issued[jwt.len() + 1..]), "malformed"), // no issuer JWT
        (format!("{jwt}~~"), "malformed"),                       // an empty disclosure
        (format!("{jwt}~not base64~"), "disclosure"),
        (format!("{jwt}.x~"), "malformed"), // four JWS segments
        ("~".to_owned(), "malformed"),
        (String::new(), "malformed"),
    ] {
        let error = refused(&text, &world.check(), KeyBinding::NotRequired);
        let kind = match error {
            Error::Malformed { .. } => "malformed",
            Error::Disclosure { .. } => "disclosure",
            _ => "other",
        };
        assert_eq!(kind, expected, "{text:.40}: {error:?}");
    }
}
