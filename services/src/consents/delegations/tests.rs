//! The delegation ledger's rules: an offer is live only once its delegate accepts its one-time
//! invitation; either side (or the registering department) ends it and acting stops at once;
//! expiry ends it without anyone recording anything; a department names both citizens by its
//! pairwise subjects and a legal basis; onward delegation only when allowed and within bounds;
//! every refusal writes nothing.

use super::*;
use crate::error::PublicError;
use crate::testing::TestServices;

const REVENUE: &str = "revenue-agency";

fn terms_input(powers: &[&str], may_delegate: bool) -> TermsInput {
    TermsInput {
        powers: powers.iter().map(|p| (*p).to_owned()).collect(),
        purposes: vec!["benefit-eligibility".to_owned()],
        attributes: vec!["address".to_owned()],
        duration_days: 30,
        valid_until_ms: None,
        may_delegate,
        label: "Alice Martin".to_owned(),
    }
}

async fn citizen(h: &TestServices) -> String {
    crate::citizens::create(&h.db, &h.vault).await.unwrap()
}

fn code(e: &Error) -> &'static str {
    e.code()
}

async fn actions_about(h: &TestServices, citizen: &str) -> Vec<(String, String, String)> {
    use sea_orm::{EntityTrait, QueryOrder};
    h.audit.settle().await.unwrap();
    crate::audit_log::entities::record::Entity::find()
        .order_by_asc(crate::audit_log::entities::record::Column::Seq)
        .all(&h.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| audit::Record::from_canonical(&row.entry).unwrap())
        .filter(|r| r.citizen_id.as_deref() == Some(citizen))
        .map(|r| {
            (
                r.action.as_str().to_owned(),
                r.actor.id.clone(),
                r.detail.get("delegation_id").cloned().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_delegation_offered_is_live_once_accepted_with_its_receipt_and_audit_records() {
    let h = TestServices::new().await;
    let (alice, bob) = (citizen(&h).await, citizen(&h).await);
    let offered = offer(
        &h.ledger,
        Offeror::Citizen(&alice),
        terms_input(&["change_facts"], false),
    )
    .await
    .unwrap();
    let id = offered.delegation.id().to_string();
    assert_eq!(offered.delegation.state(now_ms()), DelegationState::Invited);
    // Not live before it is accepted.
    assert_eq!(
        code(&acting(&h.ledger, &bob, &id).await.unwrap_err()),
        "delegation_not_live"
    );
    assert!(receipt(&h.ledger, &alice, &id).await.unwrap().is_none());
    let d = accept(&h.ledger, &bob, &offered.invitation).await.unwrap();
    assert_eq!(d.delegate().unwrap().to_string(), bob);
    let live = acting(&h.ledger, &bob, &id).await.unwrap();
    assert!(
        live.terms().powers.contains(&Power::View),
        "view is implied"
    );
    assert!(
        live.allows(Power::ChangeFacts, Some("address"), None)
            .is_ok()
    );
    assert_eq!(live_to(&h.ledger, &bob).await.unwrap().len(), 1);
    assert!(live_to(&h.ledger, &alice).await.unwrap().is_empty());
    // Its receipt: signed by the broker, readable by both parties, by nobody else.
    let jws = receipt(&h.ledger, &bob, &id).await.unwrap().unwrap();
    let header = jsonwebtoken::decode_header(&jws).unwrap();
    assert_eq!(header.typ.as_deref(), Some(RECEIPT_TYP));
    assert_eq!(receipt(&h.ledger, &alice, &id).await.unwrap(), Some(jws));
    let carol = citizen(&h).await;
    assert!(receipt(&h.ledger, &carol, &id).await.unwrap().is_none());
    // Both changes are records about Alice; the acceptance is Bob's act.
    assert_eq!(
        actions_about(&h, &alice).await,
        vec![
            ("delegation-offered".to_owned(), alice.clone(), id.clone()),
            ("delegation-accepted".to_owned(), bob.clone(), id.clone()),
        ]
    );
}

#[tokio::test]
async fn a_delegation_invitation_is_single_use_and_not_for_the_delegator() {
    let h = TestServices::new().await;
    let (alice, bob, carol) = (citizen(&h).await, citizen(&h).await, citizen(&h).await);
    let offered = offer(&h.ledger, Offeror::Citizen(&alice), terms_input(&[], false))
        .await
        .unwrap();
    let e = accept(&h.ledger, &alice, &offered.invitation)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "delegation_to_self");
    accept(&h.ledger, &bob, &offered.invitation).await.unwrap();
    let before = count_events(&h.db).await.unwrap();
    for (who, code_text) in [
        (&carol, offered.invitation.as_str()),
        (&bob, offered.invitation.as_str()),
        (&carol, "not-a-code"),
    ] {
        let e = accept(&h.ledger, who, code_text).await.unwrap_err();
        assert_eq!(code(&e), "invitation_invalid");
    }
    assert_eq!(
        count_events(&h.db).await.unwrap(),
        before,
        "nothing written"
    );
    // Carol never got a delegation from Alice.
    let id = offered.delegation.id().to_string();
    assert_eq!(
        code(&acting(&h.ledger, &carol, &id).await.unwrap_err()),
        "delegation_not_live"
    );
}

#[tokio::test]
async fn either_side_ends_a_delegation_and_acting_under_it_stops_at_once() {
    let h = TestServices::new().await;
    let (alice, bob, carol) = (citizen(&h).await, citizen(&h).await, citizen(&h).await);
    for ender in ["delegator", "delegate"] {
        let offered = offer(&h.ledger, Offeror::Citizen(&alice), terms_input(&[], false))
            .await
            .unwrap();
        let id = offered.delegation.id().to_string();
        accept(&h.ledger, &bob, &offered.invitation).await.unwrap();
        acting(&h.ledger, &bob, &id).await.unwrap();
        // A stranger cannot end it: it is not found for them.
        assert!(matches!(
            end(&h.ledger, Party::Citizen(&carol), &id).await,
            Err(Error::NotFound)
        ));
        let who = if ender == "delegator" { &alice } else { &bob };
        let d = end(&h.ledger, Party::Citizen(who), &id).await.unwrap();
        assert_eq!(d.state(now_ms()), DelegationState::Ended);
        assert_eq!(
            code(&acting(&h.ledger, &bob, &id).await.unwrap_err()),
            "delegation_not_live"
        );
        assert_eq!(
            code(
                &end(&h.ledger, Party::Citizen(&alice), &id)
                    .await
                    .unwrap_err()
            ),
            "delegation_not_active"
        );
        let ended = actions_about(&h, &alice)
            .await
            .into_iter()
            .filter(|(action, _, d)| action == "delegation-ended" && *d == id)
            .map(|(_, actor, _)| actor)
            .collect::<Vec<_>>();
        assert_eq!(ended, vec![who.clone()]);
    }
}

#[tokio::test]
async fn a_delegation_expires_without_any_event() {
    let h = TestServices::new().await;
    let (alice, bob) = (citizen(&h).await, citizen(&h).await);
    let until = now_ms() + 1_500;
    let offered = offer(
        &h.ledger,
        Offeror::Citizen(&alice),
        TermsInput {
            valid_until_ms: Some(until),
            ..terms_input(&[], false)
        },
    )
    .await
    .unwrap();
    let id = offered.delegation.id().to_string();
    accept(&h.ledger, &bob, &offered.invitation).await.unwrap();
    acting(&h.ledger, &bob, &id).await.unwrap();
    let events = count_events(&h.db).await.unwrap();
    // Wait for the clock to pass the end (the point of the test), then look again.
    while now_ms() <= until {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        code(&acting(&h.ledger, &bob, &id).await.unwrap_err()),
        "delegation_not_live"
    );
    assert_eq!(count_events(&h.db).await.unwrap(), events);
    assert!(live_to(&h.ledger, &bob).await.unwrap().is_empty());
}

#[tokio::test]
async fn delegation_terms_are_checked_and_a_refusal_writes_nothing() {
    let h = TestServices::new().await;
    let alice = citizen(&h).await;
    let cases: Vec<(TermsInput, &str)> = vec![
        (
            TermsInput {
                duration_days: 10_000,
                ..terms_input(&[], false)
            },
            "duration_beyond_maximum",
        ),
        (
            TermsInput {
                duration_days: 0,
                ..terms_input(&[], false)
            },
            "invalid_duration",
        ),
        (terms_input(&["admin"], false), "unknown_power"),
        (
            TermsInput {
                attributes: vec!["shoe_size".into()],
                ..terms_input(&[], false)
            },
            "unknown_attribute",
        ),
        (
            TermsInput {
                purposes: vec!["marketing".into()],
                ..terms_input(&[], false)
            },
            "unknown_purpose",
        ),
        (
            TermsInput {
                attributes: Vec::new(),
                ..terms_input(&[], false)
            },
            "no_attributes",
        ),
        (
            TermsInput {
                label: " ".into(),
                ..terms_input(&[], false)
            },
            "invalid_label",
        ),
    ];
    for (input, expected) in cases {
        let e = offer(&h.ledger, Offeror::Citizen(&alice), input)
            .await
            .unwrap_err();
        assert_eq!(code(&e), expected);
    }
    assert_eq!(count_events(&h.db).await.unwrap(), 0);
    assert!(actions_about(&h, &alice).await.is_empty());
}

#[tokio::test]
async fn a_delegate_delegates_onwards_only_when_allowed_and_within_the_terms() {
    let h = TestServices::new().await;
    let (alice, bob, carol) = (citizen(&h).await, citizen(&h).await, citizen(&h).await);
    let mut ids = Vec::new();
    for may in [false, true] {
        let offered = offer(
            &h.ledger,
            Offeror::Citizen(&alice),
            terms_input(&["change_facts"], may),
        )
        .await
        .unwrap();
        accept(&h.ledger, &bob, &offered.invitation).await.unwrap();
        ids.push(offered.delegation.id().to_string());
    }
    let before = count_events(&h.db).await.unwrap();
    let not_allowed = acting(&h.ledger, &bob, &ids[0]).await.unwrap();
    let e = offer(
        &h.ledger,
        Offeror::Delegate {
            delegate: &bob,
            delegation: &not_allowed,
        },
        terms_input(&[], false),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), "delegation_onward_not_permitted");
    let allowed = acting(&h.ledger, &bob, &ids[1]).await.unwrap();
    let beyond = offer(
        &h.ledger,
        Offeror::Delegate {
            delegate: &bob,
            delegation: &allowed,
        },
        terms_input(&["give_consents"], false),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&beyond), "delegation_onward_not_permitted");
    assert_eq!(
        count_events(&h.db).await.unwrap(),
        before,
        "nothing written"
    );
    let onward = offer(
        &h.ledger,
        Offeror::Delegate {
            delegate: &bob,
            delegation: &allowed,
        },
        TermsInput {
            duration_days: 7,
            ..terms_input(&["change_facts"], false)
        },
    )
    .await
    .unwrap();
    // Carol acts for Alice (not for Bob), and the record says Bob offered it.
    assert_eq!(onward.delegation.delegator().to_string(), alice);
    assert_eq!(onward.delegation.parent(), Some(allowed.id()));
    accept(&h.ledger, &carol, &onward.invitation).await.unwrap();
    acting(&h.ledger, &carol, &onward.delegation.id().to_string())
        .await
        .unwrap();
    let offered_by: Vec<String> = actions_about(&h, &alice)
        .await
        .into_iter()
        .filter(|(a, _, d)| a == "delegation-offered" && *d == onward.delegation.id().to_string())
        .map(|(_, actor, _)| actor)
        .collect();
    assert_eq!(offered_by, vec![bob]);
}

#[tokio::test]
async fn a_department_registers_a_delegation_by_its_pairwise_subjects_with_a_legal_basis() {
    let h = TestServices::new().await;
    let (alice, bob) = (citizen(&h).await, citizen(&h).await);
    let revenue = crate::departments::get(&h.db, REVENUE)
        .await
        .unwrap()
        .unwrap();
    let sub = |c: String| {
        let h = &h;
        let sector = revenue.sector_identifier.clone();
        async move {
            crate::citizens::pairwise::subject_for(&h.db, &h.ledger.secrets.pairwise, &sector, &c)
                .await
                .unwrap()
        }
    };
    let (alice_sub, bob_sub) = (sub(alice.clone()).await, sub(bob.clone()).await);
    let input = |delegator: &str, delegate: &str, basis: &str| RegisterInput {
        delegator: delegator.to_owned(),
        delegate: delegate.to_owned(),
        legal_basis: basis.to_owned(),
        terms: terms_input(&["change_facts"], true),
    };
    let court = "Ontario Superior Court of Justice, guardianship order CV-26-0042";
    for (bad, expected) in [
        (input(&alice_sub, &bob_sub, "  "), "legal_basis_required"),
        (input(&alice_sub, "unknown", court), "unknown_subject"),
        (input("unknown", &bob_sub, court), "unknown_subject"),
        (input(&alice_sub, &alice_sub, court), "delegation_to_self"),
    ] {
        let e = register(&h.ledger, &revenue, "revenue-client", bad)
            .await
            .unwrap_err();
        assert_eq!(code(&e), expected);
    }
    assert_eq!(count_events(&h.db).await.unwrap(), 0, "nothing written");
    let d = register(
        &h.ledger,
        &revenue,
        "revenue-client",
        input(&alice_sub, &bob_sub, court),
    )
    .await
    .unwrap();
    assert!(
        !d.terms().may_delegate,
        "a registered delegation goes no further"
    );
    assert_eq!(
        d.origin(),
        &Origin::Department {
            department: REVENUE.to_owned(),
            legal_basis: court.to_owned(),
        }
    );
    let id = d.id().to_string();
    acting(&h.ledger, &bob, &id).await.unwrap();
    // Alice sees it among her delegations, and who registered it.
    let hers = by_delegator(&h.db, &alice).await.unwrap();
    assert_eq!(hers.len(), 1);
    assert!(receipt(&h.ledger, &alice, &id).await.unwrap().is_some());
    assert_eq!(
        actions_about(&h, &alice).await,
        vec![(
            "delegation-registered".to_owned(),
            REVENUE.to_owned(),
            id.clone()
        )]
    );
    // Another department cannot end it; the registering one can.
    assert!(matches!(
        end(&h.ledger, Party::Department("passport-office"), &id).await,
        Err(Error::NotFound)
    ));
    end(&h.ledger, Party::Department(REVENUE), &id)
        .await
        .unwrap();
    assert_eq!(
        code(&acting(&h.ledger, &bob, &id).await.unwrap_err()),
        "delegation_not_live"
    );
}

#[tokio::test]
async fn a_delegate_gives_consents_within_the_delegation_but_never_to_high_sensitivity_data() {
    use crate::consents::ledger::{self, GrantInput};
    let h = TestServices::new().await;
    let (alice, bob) = (citizen(&h).await, citizen(&h).await);
    let offered = offer(
        &h.ledger,
        Offeror::Citizen(&alice),
        TermsInput {
            powers: vec!["give_consents".to_owned()],
            purposes: vec![
                "benefit-eligibility".to_owned(),
                "pension-enrolment".to_owned(),
            ],
            attributes: vec!["address".to_owned(), "marital_status".to_owned()],
            ..terms_input(&[], false)
        },
    )
    .await
    .unwrap();
    accept(&h.ledger, &bob, &offered.invitation).await.unwrap();
    let d = acting(&h.ledger, &bob, &offered.delegation.id().to_string())
        .await
        .unwrap();
    let as_bob = ledger::Citizen {
        id: &bob,
        loa: 3,
        lang: crate::lang::Lang::En,
    };
    let grant = |department: &str, purpose: &str, attribute: &str| GrantInput {
        department: department.to_owned(),
        purpose: purpose.to_owned(),
        mode: "once".to_owned(),
        attributes: vec![attribute.to_owned()],
        duration_days: Some(30),
    };
    // Her address, to the revenue agency: given in her name, by him.
    let (c, _) = ledger::grant_as_delegate(
        &h.ledger,
        &as_bob,
        &d,
        grant(REVENUE, "benefit-eligibility", "address"),
    )
    .await
    .unwrap();
    assert_eq!(c.citizen().to_string(), alice);
    assert_eq!(c.history()[0].actor.id, bob);
    let granted: Vec<_> = actions_about(&h, &alice)
        .await
        .into_iter()
        .filter(|(a, _, _)| a == "consent-granted")
        .collect();
    assert_eq!(
        granted,
        vec![(
            "consent-granted".to_owned(),
            bob.clone(),
            offered.delegation.id().to_string()
        )]
    );
    // Her marital status (high sensitivity): the policies refuse a representative...
    let before = crate::consents::counts(&h.db).await.unwrap();
    let e = ledger::grant_as_delegate(
        &h.ledger,
        &as_bob,
        &d,
        grant(
            "employment-social-development",
            "pension-enrolment",
            "marital_status",
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), "not_consentable");
    assert_eq!(crate::consents::counts(&h.db).await.unwrap(), before);
    // ... and let her give it herself.
    ledger::grant_own(
        &h.ledger,
        &ledger::Citizen {
            id: &alice,
            loa: 3,
            lang: crate::lang::Lang::En,
        },
        grant(
            "employment-social-development",
            "pension-enrolment",
            "marital_status",
        ),
    )
    .await
    .unwrap();
    // Beyond the delegation's attributes and purposes.
    for (input, expected) in [
        (
            grant(REVENUE, "benefit-eligibility", "email"),
            "delegation_attribute_not_covered",
        ),
        (
            grant("passport-office", "travel-document-issuance", "address"),
            "delegation_purpose_not_covered",
        ),
    ] {
        let e = ledger::grant_as_delegate(&h.ledger, &as_bob, &d, input)
            .await
            .unwrap_err();
        assert_eq!(code(&e), expected);
    }
    // Without the power.
    let view_only = offer(&h.ledger, Offeror::Citizen(&alice), terms_input(&[], false))
        .await
        .unwrap();
    accept(&h.ledger, &bob, &view_only.invitation)
        .await
        .unwrap();
    let v = acting(&h.ledger, &bob, &view_only.delegation.id().to_string())
        .await
        .unwrap();
    let e = ledger::grant_as_delegate(
        &h.ledger,
        &as_bob,
        &v,
        grant(REVENUE, "benefit-eligibility", "address"),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), "delegation_power_missing");
}

#[tokio::test]
async fn a_release_under_a_consent_a_delegate_gave_names_the_delegate_in_act() {
    use crate::citizens::{Provenance, SourceKind};
    use crate::consents::ledger::{self, GrantInput};
    use crate::oauth::DepartmentCaller;
    use crate::release::{self, Format};
    let h = TestServices::new().await;
    let (alice, bob) = (citizen(&h).await, citizen(&h).await);
    crate::citizens::record(
        &h.db,
        &h.vault,
        &alice,
        "address",
        &serde_json::json!({"street_address": "1 Main St", "locality": "Ottawa", "region": "ON", "postal_code": "K1A 0A1", "country": "CA"}),
        &Provenance {
            source_kind: SourceKind::Citizen,
            source_id: "citizen".into(),
            method: "self-declared".into(),
            loa: 2,
            verified: false,
            recorded_at: now_ms(),
        },
    )
    .await
    .unwrap();
    let revenue = crate::departments::get(&h.db, REVENUE)
        .await
        .unwrap()
        .unwrap();
    let caller = DepartmentCaller {
        client_id: "revenue-client".into(),
        department: revenue.clone(),
        scopes: vec!["attributes:read".into()],
        token_id: "t-1".into(),
    };
    let sub = crate::citizens::pairwise::subject_for(
        &h.db,
        &h.ledger.secrets.pairwise,
        &revenue.sector_identifier,
        &alice,
    )
    .await
    .unwrap();
    let payload = |jwt: &str| -> serde_json::Value {
        let part = jwt.split('.').nth(1).unwrap();
        serde_json::from_slice(&crate::jose::b64_decode(part).unwrap()).unwrap()
    };
    let query = "claims=address&purpose=benefit-eligibility";
    let grant = GrantInput {
        department: REVENUE.to_owned(),
        purpose: "benefit-eligibility".to_owned(),
        mode: "once".to_owned(),
        attributes: vec!["address".to_owned()],
        duration_days: Some(30),
    };
    // Her own consent: no `act`.
    let (own, _) = ledger::grant_own(
        &h.ledger,
        &ledger::Citizen {
            id: &alice,
            loa: 2,
            lang: crate::lang::Lang::En,
        },
        grant.clone(),
    )
    .await
    .unwrap();
    let jwt = release::release(&h.release, &caller, query, &sub, Format::Jwt)
        .await
        .unwrap();
    assert!(payload(&jwt).get("act").is_none());
    ledger::revoke(&h.ledger, &alice, &own.id().to_string())
        .await
        .unwrap();
    // The same consent given by Bob acting for her: `act` names Bob, in the agency's terms.
    let offered = offer(
        &h.ledger,
        Offeror::Citizen(&alice),
        TermsInput {
            powers: vec!["give_consents".to_owned()],
            ..terms_input(&[], false)
        },
    )
    .await
    .unwrap();
    accept(&h.ledger, &bob, &offered.invitation).await.unwrap();
    let d = acting(&h.ledger, &bob, &offered.delegation.id().to_string())
        .await
        .unwrap();
    ledger::grant_as_delegate(
        &h.ledger,
        &ledger::Citizen {
            id: &bob,
            loa: 2,
            lang: crate::lang::Lang::En,
        },
        &d,
        grant,
    )
    .await
    .unwrap();
    let jwt = release::release(&h.release, &caller, query, &sub, Format::Jwt)
        .await
        .unwrap();
    let claims = payload(&jwt);
    let bob_sub = crate::citizens::pairwise::compute(
        &h.ledger.secrets.pairwise,
        &revenue.sector_identifier,
        &bob,
    );
    assert_eq!(claims["act"], serde_json::json!({ "sub": bob_sub }));
    assert_eq!(
        claims["sub"], sub,
        "the subject stays the person represented"
    );
    assert_ne!(bob_sub, bob, "never the internal id");
}
