use sea_orm::{ConnectionTrait, Statement};
use sea_orm_migration::MigratorTrait;

use super::testdb::TestDb;
use super::*;

async fn strings(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect()
}

/// Every table, column and index: what a migration may change.
async fn schema(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT 'table ' || table_name || ' column ' || column_name || ' ' || data_type || ' ' || is_nullable AS name \
             FROM information_schema.columns WHERE table_schema = 'public' \
             UNION ALL SELECT 'index ' || tablename || ' ' || indexname AS name FROM pg_indexes WHERE schemaname = 'public' \
             ORDER BY 1"
        }
        _ => {
            "SELECT 'table ' || m.name || ' column ' || p.name || ' ' || p.type || ' ' || p.\"notnull\" AS name \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
             UNION ALL SELECT 'index ' || tbl_name || ' ' || name AS name FROM sqlite_master \
             WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
    };
    // The migrator's own bookkeeping table is not part of any migration.
    strings(db, sql)
        .await
        .into_iter()
        .filter(|entry| !entry.contains("seaql_migrations"))
        .collect()
}

#[tokio::test]
async fn every_migration_goes_up_and_down_one_step_at_a_time() {
    let test = TestDb::new().await.unwrap();
    let db = test.connect().await.unwrap();
    let total = Migrator::migrations().len();
    assert_eq!(
        schema_status(&db).await.unwrap(),
        SchemaStatus::Pending(total)
    );
    let mut seen = vec![schema(&db).await];
    for step in 1..=total {
        Migrator::up(&db, Some(1)).await.unwrap();
        let now = schema(&db).await;
        assert_ne!(
            now,
            seen[step - 1],
            "migration {step} changed nothing in the schema"
        );
        seen.push(now);
    }
    assert_eq!(schema_status(&db).await.unwrap(), SchemaStatus::Current);
    for step in (1..=total).rev() {
        Migrator::down(&db, Some(1)).await.unwrap();
        assert_eq!(
            schema(&db).await,
            seen[step - 1],
            "down of migration {step} undoes exactly its up"
        );
    }
    // And all the way up again on the same database.
    assert_eq!(migrate(&db).await.unwrap(), total);
    assert_eq!(schema_status(&db).await.unwrap(), SchemaStatus::Current);
}

#[tokio::test]
async fn a_schema_with_unknown_migrations_is_newer_and_refused() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    db.execute_unprepared(
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m29990101_000001_future', 0)",
    )
    .await
    .unwrap();
    assert_eq!(
        schema_status(&db).await.unwrap(),
        SchemaStatus::Newer(vec!["m29990101_000001_future".to_owned()])
    );
    let err = migrate(&db).await.unwrap_err().to_string();
    assert!(
        err.contains("newer than this binary") && err.contains("m29990101_000001_future"),
        "{err}"
    );
    assert!(matches!(
        ensure_current(&db).await,
        Err(StoreError::SchemaNewer { .. })
    ));
}

#[test]
fn sqlite_file_paths_are_found_in_urls() {
    assert_eq!(
        sqlite_file("sqlite://./data/broker.db?mode=rwc"),
        Some("./data/broker.db")
    );
    assert_eq!(sqlite_file("sqlite::memory:"), None);
    assert_eq!(sqlite_file("postgres://x/y"), None);
}

/// A database that cannot be reached is told apart from a statement that failed: the first may
/// be retried shortly (503), the second is the broker's fault (500).
#[tokio::test]
async fn an_unreachable_database_is_unavailable_a_failed_statement_is_not() {
    let test = TestDb::new().await.unwrap();
    let db = test.connect().await.unwrap();
    let bad = db
        .execute_unprepared("SELECT no_such_column FROM no_such_table")
        .await
        .unwrap_err();
    assert!(!is_unavailable(&bad), "{bad}");
    db.close_by_ref().await.unwrap();
    let down = db.execute_unprepared("SELECT 1").await.unwrap_err();
    assert!(is_unavailable(&down), "{down}");
    // Wrapped in another error, as services' errors wrap it.
    let wrapped = StoreError::from(down);
    assert!(is_unavailable(&wrapped));
    // Nothing listens on port 1: connecting fails at the socket.
    if db.get_database_backend() == DbBackend::Postgres {
        let mut options = ConnectOptions::new("postgres://postgres@127.0.0.1:1/none");
        options.acquire_timeout(Duration::from_millis(300));
        let refused = Database::connect(options).await.unwrap_err();
        assert!(is_unavailable(&refused), "{refused}");
    }
}

/// The web application columns of `department_clients` arrive on a database that already holds
/// clients: those read as having no redirect or logout URIs (`[]`, `[]`, none), and going down
/// keeps the clients.
#[tokio::test]
async fn clients_registered_before_the_redirect_uri_columns_read_as_having_none() {
    let test = TestDb::new().await.unwrap();
    let db = test.connect().await.unwrap();
    let first = Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261206_001400_add_department_clients_redirect_uris")
        .unwrap();
    Migrator::up(&db, Some(first as u32)).await.unwrap();
    db.execute_unprepared(
        "INSERT INTO departments (id, name_en, name_fr, sector_identifier, status, authoritative_for, created_at, updated_at) \
         VALUES ('revenue-agency', 'Revenue', 'Revenu', 'revenue.example', 'active', '[]', 0, 0)",
    )
    .await
    .unwrap();
    db.execute_unprepared(
        "INSERT INTO department_clients (client_id, department_id, jwks_uri, scopes, created_at) \
         VALUES ('cra-batch', 'revenue-agency', 'https://cra.example/jwks', '[\"attributes:read\"]', 0)",
    )
    .await
    .unwrap();
    Migrator::up(&db, Some(3)).await.unwrap();
    let read = |column: &str| {
        format!(
            "SELECT COALESCE(CAST({column} AS TEXT), 'null') AS name FROM department_clients WHERE client_id = 'cra-batch'"
        )
    };
    assert_eq!(strings(&db, &read("redirect_uris")).await, ["[]"]);
    assert_eq!(
        strings(&db, &read("post_logout_redirect_uris")).await,
        ["[]"]
    );
    assert_eq!(
        strings(&db, &read("backchannel_logout_uri")).await,
        ["null"]
    );
    Migrator::down(&db, Some(3)).await.unwrap();
    assert_eq!(
        strings(&db, "SELECT client_id AS name FROM department_clients").await,
        ["cra-batch"]
    );
}
