//! A department registers a guardianship through the API, and the attacks on acting for.

use broker_e2e::citizens::{pairwise_subject, signed_in};
use broker_e2e::departments::call;

use super::*;

/// Registers a delegation from `delegator` to `delegate` as the revenue agency: the answer.
fn register_as(w: &World, dept: &TestDepartment, body: serde_json::Value) -> serde_json::Value {
    call(
        &w.broker.base,
        dept,
        None,
        &["--post", "/api/v1/delegations", "--body", &body.to_string()],
    )
}

fn guardianship(delegator: &str, delegate: &str, powers: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "delegator": delegator,
        "delegate": delegate,
        "legal_basis": "Ontario Superior Court of Justice, guardianship order CV-26-0042",
        "label": "Alice Tremblay",
        "powers": powers,
        "purposes": ["benefit-eligibility"],
        "attributes": ["address"],
        "duration_days": 365
    })
}

#[tokio::test]
async fn a_department_registers_a_guardianship_and_the_guardian_updates_her_address() {
    let w = World::start().await;
    let alice = signed_in(&w.conn, &w.broker, 2).await;
    let bob = signed_in(&w.conn, &w.broker, 2).await;
    let a = pairwise_subject(&w.conn, &w.broker, REVENUE_SECTOR, &alice.citizen_id).await;
    let b = pairwise_subject(&w.conn, &w.broker, REVENUE_SECTOR, &bob.citizen_id).await;
    let before = counts(&w.conn).await;

    // Refused, each with its code, and nothing written.
    let no_scope = register_as(&w, &w.esd, guardianship(&a, &b, &["change_facts"]));
    assert_eq!(no_scope["status"], 403, "{no_scope}");
    assert_eq!(no_scope["json"]["code"], "insufficient_scope", "{no_scope}");
    let mut no_basis = guardianship(&a, &b, &["change_facts"]);
    no_basis["legal_basis"] = serde_json::json!(" ");
    for (body, code) in [
        (no_basis, "legal_basis_required"),
        (guardianship(&a, "unknown-subject", &[]), "unknown_subject"),
        (guardianship(&a, &a, &[]), "delegation_to_self"),
        (guardianship(&a, &b, &["admin"]), "unknown_power"),
    ] {
        let out = register_as(&w, &w.revenue, body);
        assert_eq!(out["status"], 422, "{out}");
        assert_eq!(out["json"]["code"], code, "{out}");
    }
    let after_refusals = counts(&w.conn).await;
    assert_eq!(after_refusals[0], before[0], "no delegation event");
    assert_eq!(after_refusals[1], before[1], "no change");

    let out = register_as(&w, &w.revenue, guardianship(&a, &b, &["change_facts"]));
    assert_eq!(out["status"], 201, "{out}");
    assert_eq!(out["json"]["state"], "live", "{out}");
    let id = out["json"]["id"].as_str().unwrap().to_owned();

    // Alice sees it, and who registered it, with the legal basis.
    let (status, page) = get(&w.broker, &alice, "/me/delegations").await;
    assert_eq!(status, 200);
    assert!(page.contains("guardianship order CV-26-0042"), "{page}");
    assert!(
        page.contains("Revenue"),
        "the registering department is named"
    );

    // Bob acts for her: the banner, her address updated once, recorded with both identities.
    let res = post(&w.broker, &bob, "/me/acting-for", &[("delegation", &id)]).await;
    assert_eq!(res.status(), 303);
    let (status, info) = get(&w.broker, &bob, "/me/information").await;
    assert_eq!(status, 200);
    assert!(info.contains("Acting for Alice Tremblay"), "{info}");
    // His own pages are not reachable while acting.
    for own in ["/me", "/me/delegations", "/me/export"] {
        let (status, body) = get(&w.broker, &bob, own).await;
        assert_eq!(
            (status, code_of(&body).as_str()),
            (403, "acting_for_another"),
            "{own}"
        );
    }
    let (status, body) = get(&w.broker, &bob, "/me/notices").await;
    assert_eq!(
        (status, code_of(&body).as_str()),
        (403, "acting_for_another")
    );
    let res = post(&w.broker, &bob, "/me/update", &ADDRESS).await;
    assert_eq!(res.status(), 303, "{:?}", res.text().await);
    audit_settled(&w.conn).await;
    let records = audit_records(&w.conn).await;
    let updated = records
        .iter()
        .find(|r| {
            r.action == audit::Action::LifeEvent || r.action == audit::Action::AttributeUpdated
        })
        .expect("the change's record");
    assert_eq!(
        updated.actor.id, bob.citizen_id,
        "the actor is the delegate"
    );
    assert_eq!(
        updated.citizen_id.as_deref(),
        Some(alice.citizen_id.as_str())
    );
    assert_eq!(updated.detail.get("delegation_id"), Some(&id));
    let registered = records
        .iter()
        .find(|r| r.action == audit::Action::DelegationRegistered)
        .unwrap();
    assert_eq!(registered.actor.id, REVENUE);
    assert_eq!(
        registered.citizen_id.as_deref(),
        Some(alice.citizen_id.as_str())
    );

    // Alice sees the act on her activity page.
    let (_, activity) = get(&w.broker, &alice, "/me/activity").await;
    assert!(activity.contains("by a representative"), "{activity}");

    // Alice ends it: Bob's very next request is refused, and nothing more is written.
    let res = post(&w.broker, &alice, &format!("/me/delegations/{id}/end"), &[]).await;
    assert_eq!(res.status(), 303);
    let before_attack = counts(&w.conn).await;
    let (status, body) = get(&w.broker, &bob, "/me/information").await;
    assert_eq!(
        (status, code_of(&body).as_str()),
        (403, "delegation_not_live")
    );
    let res = post(&w.broker, &bob, "/me/update", &ADDRESS).await;
    assert_eq!(res.status(), 403);
    assert_eq!(code_of(&res.text().await.unwrap()), "delegation_not_live");
    let res = post(&w.broker, &bob, "/me/acting-for", &[("delegation", &id)]).await;
    assert_eq!(res.status(), 403);
    assert_eq!(counts(&w.conn).await, before_attack, "nothing written");
}

#[tokio::test]
async fn acting_beyond_a_delegation_is_refused_with_its_code_and_writes_nothing() {
    let w = World::start().await;
    let alice = signed_in(&w.conn, &w.broker, 2).await;
    let bob = signed_in(&w.conn, &w.broker, 2).await;
    let carol = signed_in(&w.conn, &w.broker, 2).await;
    let a = pairwise_subject(&w.conn, &w.broker, REVENUE_SECTOR, &alice.citizen_id).await;
    let b = pairwise_subject(&w.conn, &w.broker, REVENUE_SECTOR, &bob.citizen_id).await;

    // View only.
    let view = register_as(&w, &w.revenue, guardianship(&a, &b, &[]));
    assert_eq!(view["status"], 201, "{view}");
    let view_id = view["json"]["id"].as_str().unwrap().to_owned();
    // Changing her address only.
    let change = register_as(&w, &w.revenue, guardianship(&a, &b, &["change_facts"]));
    let change_id = change["json"]["id"].as_str().unwrap().to_owned();
    let before = counts(&w.conn).await;

    // Carol, to whom nobody delegated, cannot act for Alice, by any id.
    for id in [
        view_id.as_str(),
        "01890000-0000-7000-8000-000000000000",
        "x",
    ] {
        let res = post(&w.broker, &carol, "/me/acting-for", &[("delegation", id)]).await;
        assert_eq!(res.status(), 403, "{id}");
        assert_eq!(code_of(&res.text().await.unwrap()), "delegation_not_live");
    }

    // Beyond a power: a view-only delegate cannot change her address.
    assert_eq!(
        post(
            &w.broker,
            &bob,
            "/me/acting-for",
            &[("delegation", &view_id)]
        )
        .await
        .status(),
        303
    );
    let (status, body) = get(&w.broker, &bob, "/me/update").await;
    assert_eq!(
        (status, code_of(&body).as_str()),
        (403, "delegation_power_missing")
    );
    let res = post(&w.broker, &bob, "/me/update", &ADDRESS).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        code_of(&res.text().await.unwrap()),
        "delegation_power_missing"
    );

    // Beyond an attribute: the address delegate cannot change her name.
    post(
        &w.broker,
        &bob,
        "/me/acting-for",
        &[("delegation", &change_id)],
    )
    .await;
    let name = [
        ("attribute", "name"),
        ("given_name", "Mallory"),
        ("family_name", "Tremblay"),
    ];
    let res = post(&w.broker, &bob, "/me/update", &name).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        code_of(&res.text().await.unwrap()),
        "delegation_attribute_not_covered"
    );

    // Onward, without permission: a registered delegation is never passed on.
    let res = post(
        &w.broker,
        &bob,
        "/me/delegations",
        &[
            ("label", "Alice"),
            ("attribute", "address"),
            ("duration_days", "7"),
        ],
    )
    .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        code_of(&res.text().await.unwrap()),
        "delegation_onward_not_permitted"
    );

    assert_eq!(counts(&w.conn).await, before, "no attack wrote anything");

    // Beyond its time: live now, refused once its end has passed (the clock, not an event).
    let mut short = guardianship(&a, &b, &["change_facts"]);
    let until = store::now_ms() + 8_000;
    short["valid_until"] = serde_json::json!(::consent::rfc3339_utc(until));
    short.as_object_mut().unwrap().remove("duration_days");
    let short = register_as(&w, &w.revenue, short);
    assert_eq!(short["status"], 201, "{short}");
    let short_id = short["json"]["id"].as_str().unwrap().to_owned();
    post(
        &w.broker,
        &bob,
        "/me/acting-for",
        &[("delegation", &short_id)],
    )
    .await;
    let (status, _) = get(&w.broker, &bob, "/me/information").await;
    assert_eq!(status, 200);
    let before_expiry = counts(&w.conn).await;
    while store::now_ms() <= until {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (status, body) = get(&w.broker, &bob, "/me/information").await;
    assert_eq!(
        (status, code_of(&body).as_str()),
        (403, "delegation_not_live")
    );
    let res = post(&w.broker, &bob, "/me/update", &ADDRESS).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        counts(&w.conn).await,
        before_expiry,
        "expiry writes nothing"
    );
}

/// Every audit record, in order.
async fn audit_records(conn: &DatabaseConnection) -> Vec<audit::Record> {
    use sea_orm::QueryOrder;
    use services::audit_log::entities::record;
    record::Entity::find()
        .order_by_asc(record::Column::Seq)
        .all(conn)
        .await
        .unwrap()
        .into_iter()
        .map(|r| audit::Record::from_canonical(&r.entry).unwrap())
        .collect()
}

#[tokio::test]
async fn delegation_a_representative_gives_a_consent_on_the_pages_but_never_to_high_sensitivity_data()
 {
    let w = World::start().await;
    let alice = signed_in(&w.conn, &w.broker, 3).await;
    let bob = signed_in(&w.conn, &w.broker, 3).await;
    let a = pairwise_subject(&w.conn, &w.broker, REVENUE_SECTOR, &alice.citizen_id).await;
    let b = pairwise_subject(&w.conn, &w.broker, REVENUE_SECTOR, &bob.citizen_id).await;
    let mut body = guardianship(&a, &b, &["give_consents"]);
    body["purposes"] = serde_json::json!(["benefit-eligibility", "pension-enrolment"]);
    body["attributes"] = serde_json::json!(["address", "marital_status"]);
    let out = register_as(&w, &w.revenue, body);
    assert_eq!(out["status"], 201, "{out}");
    let id = out["json"]["id"].as_str().unwrap().to_owned();
    let res = post(&w.broker, &bob, "/me/acting-for", &[("delegation", &id)]).await;
    assert_eq!(res.status(), 303);
    let ledger_rows = || async { services::consents::counts(&w.conn).await.unwrap() };
    let before = ledger_rows().await;
    let consent_form =
        |department: &'static str, purpose: &'static str, attribute: &'static str| {
            [
                ("department", department),
                ("purpose", purpose),
                ("mode", "once"),
                ("attribute", attribute),
                ("duration_days", "30"),
            ]
        };

    // Her marital status (high sensitivity) to the pension office: the built-in policy refuses a
    // representative, whatever the delegation says.
    let res = post(
        &w.broker,
        &bob,
        "/me/consents",
        &consent_form(ESD, "pension-enrolment", "marital_status"),
    )
    .await;
    assert_eq!(res.status(), 422);
    assert_eq!(ledger_rows().await, before, "nothing written");
    // Beyond the delegation's attributes.
    let res = post(
        &w.broker,
        &bob,
        "/me/consents",
        &consent_form(REVENUE, "benefit-eligibility", "email"),
    )
    .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        code_of(&res.text().await.unwrap()),
        "delegation_attribute_not_covered"
    );
    assert_eq!(ledger_rows().await, before, "nothing written");

    // Her address to the revenue agency: given in her name, by him.
    let res = post(
        &w.broker,
        &bob,
        "/me/consents",
        &consent_form(REVENUE, "benefit-eligibility", "address"),
    )
    .await;
    assert_eq!(res.status(), 303);
    let hers = services::consents::for_citizen(&w.conn, &alice.citizen_id)
        .await
        .unwrap();
    assert_eq!(hers.len(), 1);
    assert_eq!(hers[0].history()[0].actor.id, bob.citizen_id);
    audit_settled(&w.conn).await;
    let granted = audit_records(&w.conn)
        .await
        .into_iter()
        .find(|r| r.action == audit::Action::ConsentGranted)
        .unwrap();
    assert_eq!(granted.actor.id, bob.citizen_id);
    assert_eq!(
        granted.citizen_id.as_deref(),
        Some(alice.citizen_id.as_str())
    );
    assert_eq!(granted.detail.get("delegation_id"), Some(&id));
    // Its receipt names him too (`act`), in the revenue agency's pairwise terms.
    assert_eq!(
        receipt_act(&w, &hers[0].id().to_string()).await,
        Some(b.clone())
    );
    // Alice herself may give the consent the representative could not.
    let res = post(
        &w.broker,
        &alice,
        "/me/consents",
        &consent_form(ESD, "pension-enrolment", "marital_status"),
    )
    .await;
    assert_eq!(res.status(), 303);

    // He may withdraw in her name what the delegation covers: the consent he gave…
    let given = hers[0].id().to_string();
    let res = post(
        &w.broker,
        &bob,
        &format!("/me/consents/{given}/revoke"),
        &[],
    )
    .await;
    assert_eq!(res.status(), 303);
    done_by_representative(
        &w,
        (&alice, &bob, &id),
        &given,
        ::consent::State::Revoked,
        audit::Action::ConsentRevoked,
    )
    .await;
    // …but not one beyond it: her own consent to the pension office names an attribute the
    // delegation does not cover (birthdate).
    let res = post(
        &w.broker,
        &alice,
        "/me/consents",
        &consent_form(ESD, "pension-enrolment", "birthdate"),
    )
    .await;
    assert_eq!(res.status(), 303);
    let hers = services::consents::for_citizen(&w.conn, &alice.citizen_id)
        .await
        .unwrap();
    let birthdate = hers
        .iter()
        .find(|c| c.attributes().any(|a| a == "birthdate"))
        .unwrap()
        .id()
        .to_string();
    let before = ledger_rows().await;
    let res = post(
        &w.broker,
        &bob,
        &format!("/me/consents/{birthdate}/revoke"),
        &[],
    )
    .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        code_of(&res.text().await.unwrap()),
        "delegation_attribute_not_covered"
    );
    assert_eq!(ledger_rows().await, before, "nothing written");
}

#[tokio::test]
async fn delegation_a_representative_answers_a_departments_request_within_the_delegation_only() {
    let w = World::start().await;
    let alice = signed_in(&w.conn, &w.broker, 3).await;
    let bob = signed_in(&w.conn, &w.broker, 3).await;
    let a = pairwise_subject(&w.conn, &w.broker, REVENUE_SECTOR, &alice.citizen_id).await;
    let b = pairwise_subject(&w.conn, &w.broker, REVENUE_SECTOR, &bob.citizen_id).await;
    let mut body = guardianship(&a, &b, &["give_consents"]);
    body["purposes"] = serde_json::json!(["pension-enrolment"]);
    body["attributes"] = serde_json::json!(["birthdate", "address"]);
    let out = register_as(&w, &w.revenue, body);
    assert_eq!(out["status"], 201, "{out}");
    let delegation = out["json"]["id"].as_str().unwrap().to_owned();
    // The pension office asks Alice twice: her date of birth (within the delegation) and her
    // given name (beyond it).
    let sub = pairwise_subject(&w.conn, &w.broker, ESD_SECTOR, &alice.citizen_id).await;
    let ask = |attribute: &str| {
        let out = call(
            &w.broker.base,
            &w.esd,
            None,
            &[
                "--post",
                "/api/v1/consent-requests",
                "--body",
                &serde_json::json!({
                    "subject": sub, "attributes": [attribute],
                    "purpose": "pension-enrolment", "mode": "once", "duration_days": 30
                })
                .to_string(),
            ],
        );
        assert_eq!(out["status"], 201, "{out}");
        out["json"]["id"].as_str().unwrap().to_owned()
    };
    let birthdate = ask("birthdate");
    let name = ask("given_name");
    let res = post(
        &w.broker,
        &bob,
        "/me/acting-for",
        &[("delegation", &delegation)],
    )
    .await;
    assert_eq!(res.status(), 303);
    // He sees her requests.
    let (status, list) = get(&w.broker, &bob, "/me/requests").await;
    assert_eq!(status, 200, "{list}");
    assert!(
        list.contains(&format!("/me/requests/{birthdate}")),
        "{list}"
    );

    // Beyond the delegation: neither accepted nor refused, and nothing written.
    let before = services::consents::counts(&w.conn).await.unwrap();
    for action in ["accept", "refuse"] {
        let res = post(
            &w.broker,
            &bob,
            &format!("/me/requests/{name}/{action}"),
            &[("attribute", "given_name")],
        )
        .await;
        assert_eq!(res.status(), 403, "{action}");
        assert_eq!(
            code_of(&res.text().await.unwrap()),
            "delegation_attribute_not_covered",
            "{action}"
        );
    }
    assert_eq!(services::consents::counts(&w.conn).await.unwrap(), before);

    // Within it: accepted in her name, by him.
    let res = post(
        &w.broker,
        &bob,
        &format!("/me/requests/{birthdate}/accept"),
        &[("attribute", "birthdate")],
    )
    .await;
    assert_eq!(res.status(), 303);
    done_by_representative(
        &w,
        (&alice, &bob, &delegation),
        &birthdate,
        ::consent::State::Active,
        audit::Action::ConsentGranted,
    )
    .await;
    let bob_at_esd = pairwise_subject(&w.conn, &w.broker, ESD_SECTOR, &bob.citizen_id).await;
    assert_eq!(receipt_act(&w, &birthdate).await, Some(bob_at_esd));
    // Alice answers the other herself.
    let res = post(
        &w.broker,
        &alice,
        &format!("/me/requests/{name}/refuse"),
        &[],
    )
    .await;
    assert_eq!(res.status(), 303);
}

/// The `act.sub` of a consent's signed receipt, if it names one.
async fn receipt_act(w: &World, consent_id: &str) -> Option<String> {
    use base64::Engine as _;
    let receipt = services::consents::receipts::for_consent(&w.conn, consent_id)
        .await
        .unwrap()
        .unwrap();
    let payload = receipt.jws.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    claims["act"]["sub"].as_str().map(str::to_owned)
}

/// Asserts that consent `consent_id` of the person represented is now in `state` by the
/// representative's act under `delegation`: the consent's last event names him, and so does the
/// log's `action` record about her, with the delegation.
async fn done_by_representative(
    w: &World,
    (person, representative, delegation): (&SignedIn, &SignedIn, &str),
    consent_id: &str,
    state: ::consent::State,
    action: audit::Action,
) {
    let consent = services::consents::for_citizen(&w.conn, &person.citizen_id)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id().to_string() == consent_id)
        .unwrap();
    assert_eq!(consent.effective_state(store::now_ms()), state);
    assert_eq!(
        consent.history().last().unwrap().actor.id,
        representative.citizen_id
    );
    audit_settled(&w.conn).await;
    let record = audit_records(&w.conn)
        .await
        .into_iter()
        .find(|r| r.action == action && r.consent_id.as_deref() == Some(consent_id))
        .unwrap();
    assert_eq!(record.actor.id, representative.citizen_id);
    assert_eq!(
        record.citizen_id.as_deref(),
        Some(person.citizen_id.as_str())
    );
    assert_eq!(
        record.detail.get("delegation_id").map(String::as_str),
        Some(delegation)
    );
}
