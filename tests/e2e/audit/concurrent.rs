//! Two broker processes on one PostgreSQL append at the same time (each officer query is an
//! append): one tree, no gap, no repeat, every checkpoint valid — `broker audit verify` says so.

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use services::audit_log::entities::record;

use super::*;

const PER_BROKER: usize = 60;

#[tokio::test]
async fn two_brokers_on_one_postgresql_keep_one_consistent_tree() {
    let db = TestDb::new().await.unwrap();
    if db.backend() != Backend::Postgres {
        eprintln!("skipped: needs PostgreSQL (TUO_TEST_DATABASE=postgres)");
        return;
    }
    let conn = db.migrated().await.unwrap();
    // One data directory: both instances sign with the same keys, as a deployment shares them.
    let dir = temp_dir();
    let mut a = Broker::spawn(db.url(), dir.path(), env(), &["serve"]);
    a.wait_ready(std::time::Duration::from_secs(60)).await;
    let mut b = Broker::spawn(db.url(), dir.path(), env(), &["serve"]);
    b.wait_ready(std::time::Duration::from_secs(60)).await;
    let cookie = officer_cookie(&conn, &a).await;

    let client = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..PER_BROKER * 2 {
        let url = if i % 2 == 0 {
            a.url("/api/v1/audit/records?limit=1")
        } else {
            b.url("/api/v1/audit/records?limit=1")
        };
        let client = client.clone();
        let cookie = cookie.clone();
        tasks.spawn(async move {
            client
                .get(url)
                .header("Cookie", format!("tuo_session={cookie}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    broker_e2e::audit_settled(&conn).await;
    let searches = record::Entity::find()
        .filter(record::Column::Action.eq("officer-search"))
        .count(&conn)
        .await
        .unwrap();
    assert_eq!(searches, (PER_BROKER * 2) as u64);

    let data_dir = dir.path().display().to_string();
    let (status, out, err) = run_broker(
        &[
            ("BROKER_DATABASE_URL", db.url()),
            ("BROKER_DATA_DIR", &data_dir),
        ],
        &["audit", "verify"],
    );
    assert!(
        status.success(),
        "{out}\n{err}\n{}\n{}",
        a.log_text(),
        b.log_text()
    );
    assert!(
        out.starts_with(&format!("ok: {} records verified", PER_BROKER * 2)),
        "{out}"
    );
    a.stop();
    b.stop();
}
