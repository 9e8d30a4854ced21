use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::acr::Level;

fn parse(value: Value) -> Result<ClaimsRequest, ClaimsError> {
    ClaimsRequest::parse(&value.to_string())
}

#[test]
fn the_identity_assurance_example_request_reads_as_asked() {
    // OpenID Connect for Identity Assurance §6.1, the first example.
    let request = parse(json!({
        "userinfo": {"verified_claims": {
            "verification": {"trust_framework": null},
            "claims": {"given_name": null, "family_name": null, "birthdate": null}
        }}
    }))
    .unwrap();
    assert_eq!(request.verified.len(), 1);
    let element = &request.verified[0];
    assert_eq!(element.target, Target::Userinfo);
    assert_eq!(element.verification.trust_framework, Some(Constraint::Any));
    assert_eq!(element.verification.assurance_level, None);
    let names: Vec<&str> = element.claims.iter().map(|c| c.name.as_str()).collect();
    for name in ["given_name", "family_name", "birthdate"] {
        assert!(names.contains(&name));
    }
    assert!(
        element
            .claims
            .iter()
            .all(|c| !c.essential && c.purpose.is_none())
    );
}

#[test]
fn essential_purpose_values_and_several_elements_are_kept() {
    let request = parse(json!({
        "id_token": {
            "acr": {"essential": true, "values": ["urn:tell-us-once:loa:3"]},
            "auth_time": {"essential": true},
            "sub": {"value": "pairwise-123"},
            "email": null,
            "nonce": null
        },
        "userinfo": {"verified_claims": [
            {"verification": {"trust_framework": {"value": "pctf"},
                              "assurance_level": {"values": ["loa3", "loa4"]},
                              "time": {"max_age": 63113852},
                              "evidence": [{"type": {"value": "electronic_record"}}]},
             "claims": {"birthdate": {"essential": true,
                                      "purpose": "To check eligibility for a pension"}}},
            {"verification": {"trust_framework": null},
             "claims": {"address": {"value": {"locality": "Ottawa"}}}}
        ]}
    }))
    .unwrap();
    assert_eq!(
        request.acr,
        Some(AcrClaim {
            essential: true,
            values: vec!["urn:tell-us-once:loa:3".into()]
        })
    );
    assert!(request.auth_time);
    assert_eq!(request.sub.as_deref(), Some("pairwise-123"));
    assert_eq!(request.id_token.len(), 1, "nonce is not an attribute");
    assert_eq!(request.id_token[0].name, "email");
    let first = &request.verified[0];
    assert_eq!(
        first.verification.assurance_level,
        Some(Constraint::OneOf(vec!["loa3".into(), "loa4".into()]))
    );
    assert_eq!(
        first.verification.time,
        Some(TimeRequest {
            max_age: Some(63_113_852)
        })
    );
    assert_eq!(
        first.verification.evidence,
        Some(vec![EvidenceRequest {
            evidence_type: "electronic_record".into()
        }])
    );
    assert!(first.claims[0].essential);
    assert_eq!(
        first.claims[0].purpose.as_deref(),
        Some("To check eligibility for a pension")
    );
    assert_eq!(
        request.verified[1].claims[0].values,
        Some(vec![json!({"locality": "Ottawa"})])
    );
}

#[test]
fn the_normalised_view_merges_each_attribute() {
    let mut request = parse(json!({
        "id_token": {"birthdate": {"essential": true}},
        "userinfo": {"verified_claims": [
            {"verification": {"trust_framework": {"value": "pctf"}},
             "claims": {"birthdate": {"purpose": "pension eligibility"}, "given_name": null}},
            {"verification": {"trust_framework": {"values": ["eidas"]}},
             "claims": {"given_name": null}}
        ]}
    }))
    .unwrap();
    request.add_scope_claims(&["openid".into(), "email".into()]);
    let asked = request.asked();
    let names: Vec<&str> = asked.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["birthdate", "email", "email_verified", "given_name"]
    );
    let birthdate = &asked[0];
    assert!(birthdate.id_token && birthdate.userinfo && birthdate.essential && birthdate.verified);
    assert_eq!(birthdate.trust_frameworks, Some(vec!["pctf".to_string()]));
    assert_eq!(birthdate.purposes, ["pension eligibility"]);
    let email = &asked[1];
    assert!(email.userinfo && !email.id_token && !email.verified);
    assert_eq!(email.trust_frameworks, None);
    let given = &asked[3];
    assert_eq!(
        given.trust_frameworks,
        Some(vec!["pctf".to_string(), "eidas".to_string()])
    );
}

#[test]
fn malformed_requests_are_refused_each_with_its_reason() {
    let verified = |element: Value| json!({"userinfo": {"verified_claims": element}});
    let cases: Vec<(Value, ClaimsError)> = vec![
        (json!([1]), ClaimsError::NotJson),
        (
            json!({"userinfo": "given_name"}),
            ClaimsError::NotAnObject("userinfo"),
        ),
        (
            json!({"id_token": {"email": true}}),
            ClaimsError::ClaimRequest("id_token"),
        ),
        (
            json!({"id_token": {"email": {"essential": "yes"}}}),
            ClaimsError::Essential,
        ),
        (
            json!({"id_token": {"email": {"values": "a"}}}),
            ClaimsError::Values,
        ),
        (
            json!({"id_token": {"email": {"purpose": "ab"}}}),
            ClaimsError::Purpose,
        ),
        (
            json!({"id_token": {"email": {"purpose": "x".repeat(301)}}}),
            ClaimsError::Purpose,
        ),
        (json!({"id_token": {"": null}}), ClaimsError::ClaimName),
        (
            json!({"id_token": {"a\u{0007}b": null}}),
            ClaimsError::ClaimName,
        ),
        (verified(json!("x")), ClaimsError::VerifiedClaimsShape),
        (verified(json!([])), ClaimsError::VerifiedClaimsShape),
        (verified(json!([1])), ClaimsError::VerifiedClaimsShape),
        (
            verified(json!({"claims": {"a": null}})),
            ClaimsError::Verification,
        ),
        (
            verified(json!({"verification": {}, "claims": {}})),
            ClaimsError::EmptyClaims,
        ),
        (
            verified(json!({"verification": {}})),
            ClaimsError::EmptyClaims,
        ),
        (
            verified(json!({"verification": {"time": {"max_age": -1}}, "claims": {"a": null}})),
            ClaimsError::MaxAge,
        ),
        (
            verified(
                json!({"verification": {"evidence": [{"type": {"values": ["document"]}}]},
                            "claims": {"a": null}}),
            ),
            ClaimsError::Evidence,
        ),
        (
            verified(
                json!({"verification": {"evidence": {"type": {"value": "document"}}},
                            "claims": {"a": null}}),
            ),
            ClaimsError::Evidence,
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(parse(value.clone()), Err(expected.clone()), "{value}");
        assert_eq!(expected.code(), crate::errors::ErrorCode::InvalidRequest);
    }
    assert_eq!(ClaimsRequest::parse("{"), Err(ClaimsError::NotJson));
    assert_eq!(
        ClaimsRequest::parse(r#"{"userinfo":{},"userinfo":{"a":null}}"#),
        Err(ClaimsError::NotJson),
        "a repeated member is refused, not resolved"
    );
    let many: serde_json::Map<String, Value> = (0..=MAX_CLAIMS)
        .map(|i| (format!("c{i}"), Value::Null))
        .collect();
    assert_eq!(
        parse(json!({"userinfo": many})),
        Err(ClaimsError::TooManyClaims)
    );
    assert_eq!(
        ClaimsRequest::parse(&" ".repeat(MAX_CLAIMS_PARAMETER_LEN + 1)),
        Err(ClaimsError::TooLarge)
    );
}

#[test]
fn unknown_members_are_ignored() {
    let request = parse(json!({
        "id_token": null,
        "vp_token": {"x": 1},
        "userinfo": {"given_name": {"essential": false, "max_age": 5, "extra": [1]}}
    }))
    .unwrap();
    assert_eq!(request.userinfo.len(), 1);
    let request = parse(json!({})).unwrap();
    assert_eq!(request, ClaimsRequest::default());
}

fn provenance(kind: SourceKind, source: &str, level: Level, at: i64) -> Provenance {
    Provenance {
        source_kind: kind,
        source: source.into(),
        verification_process: "asserted".into(),
        level,
        recorded_at: at,
    }
}

fn alice() -> Vec<HeldClaim> {
    let bank = |at| {
        provenance(
            SourceKind::CredentialProvider,
            "bank-sign-in-partner",
            Level::TWO,
            at,
        )
    };
    let vital = provenance(
        SourceKind::DepartmentRegister,
        "vital-statistics",
        Level::THREE,
        1_767_225_000,
    );
    vec![
        HeldClaim {
            name: "given_name".into(),
            value: json!("Alice"),
            provenance: bank(1_767_225_600),
        },
        HeldClaim {
            name: "address".into(),
            value: json!({"locality": "Ottawa"}),
            provenance: bank(1_767_000_000),
        },
        HeldClaim {
            name: "birthdate".into(),
            value: json!("1958-04-12"),
            provenance: vital,
        },
    ]
}

const NOW: i64 = 1_767_225_700;

#[test]
fn verified_claims_take_the_release_shape_with_only_what_was_asked() {
    let request = parse(json!({"userinfo": {"verified_claims": {
        "verification": {"trust_framework": null, "assurance_level": null, "time": null,
                         "verification_process": null,
                         "evidence": [{"type": {"value": "electronic_record"}}]},
        "claims": {"given_name": null, "birthdate": null, "marital_status": null}
    }}}))
    .unwrap();
    let released = verified_claims(&request.verified, Target::Userinfo, &alice(), NOW);
    assert_eq!(
        released.verified_claims,
        vec![
            json!({"verification": {"trust_framework": "pctf", "assurance_level": "loa2",
                                     "time": "2026-01-01T00:00:00Z",
                                     "verification_process": "asserted",
                                     "evidence": [{"type": "electronic_record",
                                                   "record": {"type": "credential_provider",
                                                              "source": {"name": "bank-sign-in-partner"}}}]},
                   "claims": {"given_name": "Alice"}}),
            json!({"verification": {"trust_framework": "pctf", "assurance_level": "loa3",
                                     "time": "2025-12-31T23:50:00Z",
                                     "verification_process": "asserted",
                                     "evidence": [{"type": "electronic_record",
                                                   "record": {"type": "department_register",
                                                              "source": {"name": "vital-statistics"}}}]},
                   "claims": {"birthdate": "1958-04-12"}}),
        ]
    );
    assert_eq!(released.claims, ["given_name", "birthdate"]);
    // Nothing for the other target.
    let none = verified_claims(&request.verified, Target::IdToken, &alice(), NOW);
    assert!(none.verified_claims.is_empty() && none.claims.is_empty());
}

#[test]
fn verification_members_appear_only_when_asked() {
    let request = parse(json!({"id_token": {"verified_claims": {
        "verification": {"trust_framework": null},
        "claims": {"address": null}
    }}}))
    .unwrap();
    let released = verified_claims(&request.verified, Target::IdToken, &alice(), NOW);
    assert_eq!(
        released.verified_claims,
        vec![json!({"verification": {"trust_framework": "pctf"},
                    "claims": {"address": {"locality": "Ottawa"}}})]
    );
}

#[test]
fn constraints_that_cannot_be_met_omit_the_element_or_claim() {
    let held = alice();
    let run = |verification: Value, claims: Value| {
        let request = parse(json!({"userinfo": {"verified_claims": {
            "verification": verification, "claims": claims}}}))
        .unwrap();
        verified_claims(&request.verified, Target::Userinfo, &held, NOW)
    };
    let all = json!({"given_name": null, "birthdate": null});
    // Another trust framework: nothing.
    assert!(
        run(json!({"trust_framework": {"value": "eidas"}}), all.clone())
            .claims
            .is_empty()
    );
    // Level 3 or more: only the vital statistics value.
    let loa3 = run(
        json!({"assurance_level": {"values": ["loa3", "loa4"]}}),
        all.clone(),
    );
    assert_eq!(loa3.claims, ["birthdate"]);
    // A constraint on a member the broker never provides: nothing.
    assert!(
        run(json!({"assurance_process": {"value": "x"}}), all.clone())
            .claims
            .is_empty()
    );
    // Evidence of another type: nothing.
    assert!(
        run(
            json!({"evidence": [{"type": {"value": "document"}}]}),
            all.clone()
        )
        .claims
        .is_empty()
    );
    // Verified less than 500 seconds ago: only the bank value (recorded 100 s before NOW).
    let recent = run(json!({"time": {"max_age": 500}}), all.clone());
    assert_eq!(recent.claims, ["given_name"]);
    // A value constraint on the claim itself.
    let bob = run(
        json!({}),
        json!({"given_name": {"value": "Bob"}, "birthdate": null}),
    );
    assert_eq!(bob.claims, ["birthdate"]);
    let alice_only = run(
        json!({}),
        json!({"given_name": {"values": ["Alice", "Alicia"]}}),
    );
    assert_eq!(alice_only.claims, ["given_name"]);
}

#[test]
fn plain_claims_can_be_answered_as_verified_claims() {
    let mut request = parse(json!({"userinfo": {"given_name": null}})).unwrap();
    request.add_scope_claims(&["address".into()]);
    let as_verified = request.plain_as_verified(Target::Userinfo).unwrap();
    assert!(request.plain_as_verified(Target::IdToken).is_none());
    let released = verified_claims(&[as_verified], Target::Userinfo, &alice(), NOW);
    assert_eq!(released.claims, ["given_name", "address"]);
    assert_eq!(
        released.verified_claims.len(),
        1,
        "both from the bank, one element"
    );
    assert_eq!(
        released.verified_claims[0]["verification"]["assurance_level"],
        "loa2"
    );
}

#[test]
fn debug_output_never_shows_values() {
    let held = alice();
    let text = format!("{held:?}");
    assert!(!text.contains("Alice") && !text.contains("1958") && !text.contains("Ottawa"));
    let request = parse(json!({"userinfo": {"verified_claims": {
        "verification": {}, "claims": {"given_name": null}}}}))
    .unwrap();
    let released = verified_claims(&request.verified, Target::Userinfo, &held, NOW);
    assert!(!format!("{released:?}").contains("Alice"));
}

#[test]
fn a_parsed_request_round_trips_through_storage() {
    let request = parse(json!({"userinfo": {"verified_claims": {
        "verification": {"trust_framework": {"value": "pctf"}, "time": {"max_age": 9}},
        "claims": {"given_name": {"essential": true, "purpose": "to greet you"}}}}}))
    .unwrap();
    let stored = serde_json::to_string(&request).unwrap();
    assert_eq!(
        serde_json::from_str::<ClaimsRequest>(&stored).unwrap(),
        request
    );
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("userinfo".to_string()),
                    Just("id_token".to_string()),
                    Just("verified_claims".to_string()),
                    Just("verification".to_string()),
                    Just("claims".to_string()),
                    Just("essential".to_string()),
                    Just("value".to_string()),
                    Just("values".to_string()),
                    Just("purpose".to_string()),
                    Just("evidence".to_string()),
                    Just("type".to_string()),
                    Just("time".to_string()),
                    Just("max_age".to_string()),
                    Just("acr".to_string()),
                    Just("trust_framework".to_string()),
                    Just("given_name".to_string()),
                    "[a-z_]{1,6}",
                ],
                inner,
                0..5,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn parsing_any_text_never_panics(text in "\\PC{0,200}") {
        let _ = ClaimsRequest::parse(&text);
    }

    #[test]
    fn parsing_and_answering_any_json_never_panics_nor_releases_what_was_not_asked(value in json_value()) {
        if let Ok(request) = ClaimsRequest::parse(&value.to_string()) {
            let _ = request.asked();
            for target in [Target::IdToken, Target::Userinfo] {
                let released = verified_claims(&request.verified, target, &alice(), NOW);
                for name in &released.claims {
                    prop_assert!(request.verified.iter().any(|v| v.target == target
                        && v.claims.iter().any(|c| &c.name == name)));
                }
            }
        }
    }
}
