use super::*;
use consent::{Actor, Change, State};
use std::collections::BTreeSet;
use store::testdb::TestDb;

const DAY: i64 = 86_400_000;

fn attrs(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn a_request_granted_in_part_then_revoked_replays_from_its_events() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let citizen = Uuid::now_v7();
    let t0 = 1_000_000;
    let requested = ConsentEvent::new(
        1,
        Actor::department("employment-social-development"),
        t0,
        Change::Requested {
            attributes: attrs(&["birthdate", "address"]),
            requested_duration_ms: 30 * DAY,
            return_url: None,
        },
    );
    let mut c = create(
        &db,
        citizen,
        "employment-social-development",
        "pension-enrolment",
        Mode::Ongoing,
        requested,
    )
    .await
    .unwrap();
    assert_eq!(c.recorded_state(), State::Requested);
    let grant = ConsentEvent::new(
        2,
        Actor::citizen(citizen.to_string()),
        t0 + 10,
        Change::Granted {
            attributes: attrs(&["birthdate"]),
            expires_at_ms: t0 + 10 * DAY,
        },
    );
    append(&db, &mut c, grant).await.unwrap();
    assert!(
        c.covers("birthdate", "pension-enrolment", t0 + 20)
            .is_covered()
    );
    assert!(
        !c.covers("address", "pension-enrolment", t0 + 20)
            .is_covered()
    );
    // Stale copy: the same seq again is a conflict, not a second history.
    let mut stale = load(&db, &c.id().to_string()).await.unwrap().unwrap();
    append(
        &db,
        &mut c,
        ConsentEvent::new(
            3,
            Actor::citizen(citizen.to_string()),
            t0 + 30,
            Change::Revoked,
        ),
    )
    .await
    .unwrap();
    let again = ConsentEvent::new(
        3,
        Actor::citizen(citizen.to_string()),
        t0 + 31,
        Change::Revoked,
    );
    assert!(matches!(
        append(&db, &mut stale, again).await,
        Err(ConsentStoreError::Conflict)
    ));
    let loaded = load(&db, &c.id().to_string()).await.unwrap().unwrap();
    assert_eq!(loaded.recorded_state(), State::Revoked);
    assert_eq!(loaded.history().len(), 3);
    // Nothing leaves a terminal state, and a refused change writes nothing.
    let mut l = loaded.clone();
    let regrant = ConsentEvent::new(
        4,
        Actor::citizen(citizen.to_string()),
        t0 + 40,
        Change::Granted {
            attributes: attrs(&["birthdate"]),
            expires_at_ms: t0 + DAY,
        },
    );
    assert!(matches!(
        append(&db, &mut l, regrant).await,
        Err(ConsentStoreError::Transition(_))
    ));
    assert_eq!(
        load(&db, &c.id().to_string())
            .await
            .unwrap()
            .unwrap()
            .history()
            .len(),
        3
    );
}

#[tokio::test]
async fn the_best_consent_for_a_release_is_the_one_that_covers_most() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let citizen = Uuid::now_v7();
    let grant = |seq, attributes: &[&str], at| {
        ConsentEvent::new(
            seq,
            Actor::citizen(citizen.to_string()),
            at,
            Change::Granted {
                attributes: attrs(attributes),
                expires_at_ms: at + DAY,
            },
        )
    };
    let mut older = create(
        &db,
        citizen,
        "revenue-agency",
        "benefit-eligibility",
        Mode::Once,
        grant(1, &["address", "marital_status"], 100),
    )
    .await
    .unwrap();
    create(
        &db,
        citizen,
        "revenue-agency",
        "benefit-eligibility",
        Mode::Once,
        grant(1, &["address"], 200),
    )
    .await
    .unwrap();
    let all = for_release(
        &db,
        &citizen.to_string(),
        "revenue-agency",
        "benefit-eligibility",
    )
    .await
    .unwrap();
    assert_eq!(all.len(), 2);
    let wanted = vec!["address".to_owned(), "marital_status".to_owned()];
    assert_eq!(
        best_for_release(&all, &wanted, "benefit-eligibility", 300)
            .unwrap()
            .id(),
        older.id()
    );
    append(
        &db,
        &mut older,
        ConsentEvent::new(2, Actor::citizen(citizen.to_string()), 250, Change::Revoked),
    )
    .await
    .unwrap();
    let all = for_release(
        &db,
        &citizen.to_string(),
        "revenue-agency",
        "benefit-eligibility",
    )
    .await
    .unwrap();
    let best = best_for_release(&all, &wanted, "benefit-eligibility", 300).unwrap();
    assert_ne!(
        best.id(),
        older.id(),
        "the live consent covering one attribute beats a revoked one"
    );
    assert!(
        for_release(
            &db,
            &citizen.to_string(),
            "passport-office",
            "benefit-eligibility"
        )
        .await
        .unwrap()
        .is_empty()
    );
    assert_eq!(
        for_citizen(&db, &citizen.to_string()).await.unwrap().len(),
        2
    );
}

/// Random action sequences through `append` on the test database, checked after every step
/// against a small reference model: the stored history only grows (and a refused event leaves no
/// row), nothing leaves a terminal state, and the replayed state is the model's. The `consent`
/// crate's own property tests cover many more histories in memory; these check the storage path.
mod storage_properties {
    use super::*;
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use sea_orm::{EntityTrait, PaginatorTrait};

    const UNIVERSE: [&str; 3] = ["address", "birthdate", "email"];

    #[derive(Debug, Clone)]
    enum Action {
        Grant(BTreeSet<String>, i64),
        Refuse,
        Revoke,
        Expire,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Ref {
        Requested,
        Active { expires: i64 },
        Revoked,
        Expired,
        Refused,
    }

    fn actions() -> impl Strategy<Value = (bool, Vec<(Action, i64)>)> {
        let set = proptest::sample::subsequence(UNIVERSE.to_vec(), 0..=UNIVERSE.len())
            .prop_map(|v| v.into_iter().map(str::to_owned).collect::<BTreeSet<_>>());
        let action = prop_oneof![
            3 => (set, 0i64..40).prop_map(|(a, d)| Action::Grant(a, d)),
            1 => Just(Action::Refuse),
            2 => Just(Action::Revoke),
            2 => Just(Action::Expire),
        ];
        (
            any::<bool>(),
            prop::collection::vec((action, 0i64..(40 * DAY)), 1..8),
        )
    }

    #[tokio::test]
    async fn random_histories_through_the_store_match_a_reference_model() {
        let test = TestDb::new().await.unwrap();
        let db = test.migrated().await.unwrap();
        let mut runner = TestRunner::deterministic();
        let strategy = actions();
        let requested: BTreeSet<String> = attrs(&["address", "birthdate"]);
        for case in 0..24 {
            let (opens_with_request, steps) = strategy.new_tree(&mut runner).unwrap().current();
            let citizen = Uuid::now_v7();
            let mut t = 1_000_000 + case;
            let (first, mut model) = if opens_with_request {
                let e = ConsentEvent::new(
                    1,
                    Actor::department("employment-social-development"),
                    t,
                    Change::Requested {
                        attributes: requested.clone(),
                        requested_duration_ms: 20 * DAY,
                        return_url: None,
                    },
                );
                (e, Ref::Requested)
            } else {
                let e = ConsentEvent::new(
                    1,
                    Actor::citizen(citizen.to_string()),
                    t,
                    Change::Granted {
                        attributes: requested.clone(),
                        expires_at_ms: t + 10 * DAY,
                    },
                );
                (
                    e,
                    Ref::Active {
                        expires: t + 10 * DAY,
                    },
                )
            };
            let mut consent = create(
                &db,
                citizen,
                "employment-social-development",
                "pension-enrolment",
                Mode::Once,
                first,
            )
            .await
            .unwrap();
            let id = consent.id().to_string();
            let mut rows = 1u64;
            for (action, dt) in steps {
                t += dt;
                let expected = match (model, &action) {
                    (Ref::Requested, Action::Grant(a, days)) => {
                        let end = t + days * DAY;
                        (!a.is_empty()
                            && a.is_subset(&requested)
                            && *days > 0
                            && days * DAY <= 20 * DAY)
                            .then_some(Ref::Active { expires: end })
                    }
                    (Ref::Requested, Action::Refuse) => Some(Ref::Refused),
                    (Ref::Active { expires }, Action::Revoke) if t < expires => Some(Ref::Revoked),
                    (Ref::Active { expires }, Action::Expire) if t >= expires => Some(Ref::Expired),
                    _ => None,
                };
                let change = match &action {
                    Action::Grant(a, days) => Change::Granted {
                        attributes: a.clone(),
                        expires_at_ms: t + days * DAY,
                    },
                    Action::Refuse => Change::Refused,
                    Action::Revoke => Change::Revoked,
                    Action::Expire => Change::Expired,
                };
                let event = ConsentEvent::new(
                    consent.next_seq(),
                    Actor::citizen(citizen.to_string()),
                    t,
                    change,
                );
                let outcome = append(&db, &mut consent, event).await;
                assert_eq!(
                    outcome.is_ok(),
                    expected.is_some(),
                    "case {case}: {action:?} from {model:?}: {outcome:?}"
                );
                if let Some(next) = expected {
                    model = next;
                    rows += 1;
                }
                let stored = load(&db, &id).await.unwrap().unwrap();
                let state = match model {
                    Ref::Requested => State::Requested,
                    Ref::Active { .. } => State::Active,
                    Ref::Revoked => State::Revoked,
                    Ref::Expired => State::Expired,
                    Ref::Refused => State::Refused,
                };
                assert_eq!(stored.recorded_state(), state, "case {case}");
                assert_eq!(stored.history().len() as u64, rows, "history only grows");
                assert_eq!(stored, consent, "what is stored is what was applied");
            }
            let stored_rows = entities::event::Entity::find()
                .filter(entities::event::Column::ConsentId.eq(id.clone()))
                .count(&db)
                .await
                .unwrap();
            assert_eq!(stored_rows, rows, "a refused event leaves no row");
            // Nothing leaves a terminal state, whatever comes next.
            if matches!(model, Ref::Revoked | Ref::Expired | Ref::Refused) {
                for change in [
                    Change::Granted {
                        attributes: attrs(&["address"]),
                        expires_at_ms: t + DAY,
                    },
                    Change::Refused,
                    Change::Revoked,
                    Change::Expired,
                ] {
                    let e =
                        ConsentEvent::new(consent.next_seq(), Actor::citizen("x"), t + 1, change);
                    assert!(append(&db, &mut consent, e).await.is_err());
                }
                assert_eq!(
                    load(&db, &id).await.unwrap().unwrap().history().len() as u64,
                    rows
                );
            }
        }
    }
}
