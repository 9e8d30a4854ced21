use super::*;
use crate::store::testdb::TestDb;
use consent::{Actor, Change, State};
use std::collections::BTreeSet;

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
