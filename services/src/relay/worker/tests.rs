use sea_orm::{ActiveModelTrait, NotSet, Set};

use super::*;
use store::testdb::TestDb;

async fn change_row(db: &DatabaseConnection, id: &str) {
    change::ActiveModel {
        id: Set(id.into()),
        citizen_id: Set("c".into()),
        kind: Set("move".into()),
        attributes: Set(serde_json::json!([{"name": "address", "version": 1}])),
        source_kind: Set("citizen".into()),
        source_id: Set("citizen".into()),
        loa: Set(2),
        txn: Set("t".into()),
        ended: Set(None),
        created_at: Set(0),
        delegate_id: Set(None),
    }
    .insert(db)
    .await
    .unwrap();
}

async fn delivery_row(db: &DatabaseConnection, id: &str, department: &str, citizen: &str) {
    delivery::ActiveModel {
        seq: NotSet,
        id: Set(id.into()),
        change_id: Set("ch".into()),
        citizen_id: Set(citizen.into()),
        department_id: Set(department.into()),
        event: Set("move".into()),
        purpose: Set(None),
        consent_id: Set(None),
        attributes: Set(serde_json::json!(["address"])),
        status: Set(PENDING.into()),
        attempts: Set(0),
        next_attempt_at: Set(0),
        lease_owner: Set(None),
        lease_until: Set(None),
        last_error: Set(None),
        delivered_at: Set(None),
        created_at: Set(0),
        updated_at: Set(0),
    }
    .insert(db)
    .await
    .unwrap();
}

fn ids(rows: &[delivery::Model]) -> Vec<&str> {
    rows.iter().map(|r| r.id.as_str()).collect()
}

#[tokio::test]
async fn claims_each_row_once_in_order_per_department_and_citizen() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    change_row(&db, "ch").await;
    delivery_row(&db, "a1", "revenue", "alice").await;
    delivery_row(&db, "a2", "revenue", "alice").await;
    delivery_row(&db, "b1", "revenue", "bob").await;
    delivery_row(&db, "h1", "health", "alice").await;
    // The first pass gets the earliest row of each (department, citizen) only.
    let first = claim(&db, "w1", 1_000, 60_000, 100, &[]).await.unwrap();
    assert_eq!(ids(&first), ["a1", "b1", "h1"]);
    assert!(first.iter().all(|r| r.lease_owner.as_deref() == Some("w1")));
    // Held rows are not claimed again, and a2 waits behind a1.
    assert!(
        claim(&db, "w2", 1_001, 60_000, 100, &[])
            .await
            .unwrap()
            .is_empty()
    );
    // a1 delivered: a2 becomes claimable.
    delivery::Entity::update_many()
        .col_expr(delivery::Column::Status, Expr::value(DELIVERED))
        .filter(delivery::Column::Id.eq("a1"))
        .exec(&db)
        .await
        .unwrap();
    let next = claim(&db, "w2", 1_002, 60_000, 100, &[]).await.unwrap();
    assert_eq!(ids(&next), ["a2"]);
}

#[tokio::test]
async fn an_expired_lease_is_claimed_again_and_busy_departments_are_skipped() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    change_row(&db, "ch").await;
    delivery_row(&db, "r1", "revenue", "alice").await;
    delivery_row(&db, "h1", "health", "alice").await;
    let busy = vec!["health".to_owned()];
    let got = claim(&db, "w1", 1_000, 5_000, 100, &busy).await.unwrap();
    assert_eq!(ids(&got), ["r1"]);
    // The worker died: before the lease ends nobody takes r1; after, another worker does.
    assert_eq!(
        ids(&claim(&db, "w2", 5_999, 5_000, 100, &busy).await.unwrap()),
        Vec::<&str>::new()
    );
    let again = claim(&db, "w2", 6_000, 5_000, 100, &busy).await.unwrap();
    assert_eq!(ids(&again), ["r1"]);
    assert_eq!(again[0].lease_owner.as_deref(), Some("w2"));
    // The limit is respected.
    let health = claim(&db, "w3", 6_001, 5_000, 0, &[]).await.unwrap();
    assert!(health.is_empty());
}

#[tokio::test]
async fn a_worker_keeps_a_row_whose_lease_ran_out_until_another_claims_it() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    change_row(&db, "ch").await;
    delivery_row(&db, "r1", "revenue", "alice").await;
    delivery_row(&db, "h1", "health", "alice").await;
    let got = claim(&db, "w1", 1_000, 5_000, 100, &[]).await.unwrap();
    let (r1, h1) = (got[0].seq, got[1].seq);
    // Building took longer than the lease: nobody else claimed r1, so w1 still holds it and may
    // send it; h1 was claimed by w2 meanwhile, so w1 must leave it alone.
    let taken = claim(&db, "w2", 7_000, 5_000, 100, &["revenue".to_owned()])
        .await
        .unwrap();
    assert_eq!(ids(&taken), ["h1"]);
    let kept = renew(&db, "w1", &[r1, h1], 8_000, 5_000).await.unwrap();
    assert_eq!(kept, HashSet::from([r1]));
    // Renewed: not claimable by anyone until the new lease ends (h1's, w2's, has run out).
    let later = claim(&db, "w3", 12_999, 5_000, 100, &[]).await.unwrap();
    assert_eq!(ids(&later), ["h1"]);
    let row = delivery::Entity::find_by_id(r1)
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.lease_owner.as_deref(), row.lease_until),
        (Some("w1"), Some(13_000))
    );
}

#[test]
fn backoff_doubles_with_jitter_up_to_the_cap_and_honours_retry_after() {
    // attempts 1, 2, 3 with no jitter: half of 1 s, 2 s, 4 s
    assert_eq!(backoff_ms(1, 1_000, 60_000, 0.0, None), 500);
    assert_eq!(backoff_ms(2, 1_000, 60_000, 0.0, None), 1_000);
    assert_eq!(backoff_ms(3, 1_000, 60_000, 0.0, None), 2_000);
    // full jitter end: just under the full delay
    let high = backoff_ms(3, 1_000, 60_000, 0.999, None);
    assert!((3_990..4_000).contains(&high), "{high}");
    // capped
    assert!(backoff_ms(40, 1_000, 60_000, 0.999, None) <= 60_000);
    // a receiver's Retry-After wins when longer
    assert_eq!(backoff_ms(1, 1_000, 60_000, 0.0, Some(30_000)), 30_000);
}

/// A worker renews what it holds while it works: a lease far shorter than the work is not taken
/// over by another worker, and is once the holder stops renewing (it died).
#[tokio::test]
async fn a_working_holder_keeps_its_short_lease_and_a_dead_one_loses_it_within_a_lease() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    change_row(&db, "ch").await;
    delivery_row(&db, "d1", "revenue", "alice").await;
    let lease_ms = 300;
    let held = claim(&db, "a", now_ms(), lease_ms, 10, &[]).await.unwrap();
    let seqs: Vec<i64> = held.iter().map(|r| r.seq).collect();
    let other = async {
        // Three leases into the holder's work, the row is still the holder's.
        tokio::time::sleep(Duration::from_millis(900)).await;
        claim(&db, "b", now_ms(), lease_ms, 10, &[]).await.unwrap()
    };
    let (_, during) = tokio::join!(
        with_heartbeat(
            &db,
            "a",
            &seqs,
            lease_ms,
            tokio::time::sleep(Duration::from_millis(1200))
        ),
        other
    );
    assert!(
        during.is_empty(),
        "taken while its holder worked: {during:?}"
    );
    // The holder stops (as a killed broker does): within one lease another worker has it.
    let stopped = std::time::Instant::now();
    loop {
        let taken = claim(&db, "b", now_ms(), lease_ms, 10, &[]).await.unwrap();
        if !taken.is_empty() {
            assert_eq!(ids(&taken), ["d1"]);
            assert_eq!(taken[0].lease_owner.as_deref(), Some("b"));
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_millis(u64::try_from(lease_ms).unwrap() + 300),
            "not taken over within a lease"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
