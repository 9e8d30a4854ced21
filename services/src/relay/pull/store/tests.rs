//! Claims, leases and the cursor on the test database (SQLite or PostgreSQL).

use crate::relay::pull::store;
use ::store::testdb::TestDb;

#[tokio::test]
async fn one_owner_at_a_time_and_only_the_owner_moves_the_cursor() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let ids = vec!["vital-statistics".to_owned(), "revenue-agency".to_owned()];
    store::ensure(&db, &ids, 1_000).await.unwrap();
    store::ensure(&db, &ids, 9_000).await.unwrap(); // a second broker: changes nothing
    assert_eq!(
        store::get(&db, "vital-statistics")
            .await
            .unwrap()
            .unwrap()
            .next_poll_at,
        1_000
    );
    assert!(!store::any_due(&db, &ids, 999).await.unwrap());
    assert!(
        store::claim(&db, "w1", &ids, 999, 5_000)
            .await
            .unwrap()
            .is_empty()
    );
    // Only the departments asked for are claimed, each by one owner.
    let first = store::claim(&db, "w1", &ids[..1], 1_000, 5_000)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].lease_owner.as_deref(), Some("w1"));
    let second = store::claim(&db, "w2", &ids, 1_001, 5_000).await.unwrap();
    assert_eq!(
        second
            .iter()
            .map(|r| r.department_id.as_str())
            .collect::<Vec<_>>(),
        ["revenue-agency"]
    );
    // w2 cannot move w1's cursor.
    let page = store::Advance {
        source_key: "k",
        cursor: "c1",
        next_poll_at: 2_000,
        keep_until: None,
    };
    assert!(
        !store::advance(&db, "w2", "vital-statistics", 1_002, &page)
            .await
            .unwrap()
    );
    assert!(
        store::advance(&db, "w1", "vital-statistics", 1_002, &page)
            .await
            .unwrap()
    );
    let row = store::get(&db, "vital-statistics").await.unwrap().unwrap();
    assert_eq!(row.cursor.as_deref(), Some("c1"));
    assert_eq!(
        (row.lease_owner, row.lease_until),
        (None, None),
        "given back"
    );
    assert_eq!(row.next_poll_at, 2_000);
    assert_eq!(row.last_success_at, Some(1_002));
    // Not due before its next poll; then claimable by anyone.
    assert!(
        store::claim(&db, "w2", &ids[..1], 1_999, 5_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store::claim(&db, "w2", &ids[..1], 2_000, 5_000)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_failure_keeps_the_cursor_and_a_stale_owner_is_shut_out() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let ids = vec!["vital-statistics".to_owned()];
    store::ensure(&db, &ids, 0).await.unwrap();
    store::claim(&db, "w1", &ids, 0, 1_000).await.unwrap();
    let more = store::Advance {
        source_key: "k",
        cursor: "c1",
        next_poll_at: 10,
        keep_until: Some(1_010),
    };
    assert!(
        store::advance(&db, "w1", "vital-statistics", 10, &more)
            .await
            .unwrap()
    );
    let row = store::get(&db, "vital-statistics").await.unwrap().unwrap();
    assert_eq!(
        row.lease_owner.as_deref(),
        Some("w1"),
        "kept while there is more"
    );
    assert!(
        store::fail(
            &db,
            "w1",
            "vital-statistics",
            20,
            1,
            "http_503: status 503",
            2_000
        )
        .await
        .unwrap()
    );
    let row = store::get(&db, "vital-statistics").await.unwrap().unwrap();
    assert_eq!(row.cursor.as_deref(), Some("c1"));
    assert_eq!(row.failures, 1);
    assert_eq!(row.last_error.as_deref(), Some("http_503: status 503"));
    assert_eq!((row.next_poll_at, row.lease_owner), (2_000, None));
    // w1 stalls past its lease; w2 takes the row; w1 can no longer write.
    store::claim(&db, "w1", &ids, 2_000, 1_000).await.unwrap();
    assert_eq!(
        store::claim(&db, "w2", &ids, 3_001, 1_000)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        !store::renew(&db, "w1", "vital-statistics", 3_002, 1_000)
            .await
            .unwrap()
    );
    assert!(
        !store::fail(&db, "w1", "vital-statistics", 3_002, 2, "x", 0)
            .await
            .unwrap()
    );
    assert!(
        !store::release(&db, "w1", "vital-statistics", 3_002, 0)
            .await
            .unwrap()
    );
    assert!(
        store::renew(&db, "w2", "vital-statistics", 3_002, 1_000)
            .await
            .unwrap()
    );
    // A good page clears the run of failures.
    let page = store::Advance {
        source_key: "k",
        cursor: "c2",
        next_poll_at: 9_000,
        keep_until: None,
    };
    assert!(
        store::advance(&db, "w2", "vital-statistics", 3_003, &page)
            .await
            .unwrap()
    );
    let row = store::get(&db, "vital-statistics").await.unwrap().unwrap();
    assert_eq!((row.failures, row.last_error), (0, None));
}
