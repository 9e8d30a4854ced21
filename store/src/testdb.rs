//! A fresh database for one test, on the backend the test run asks for, dropped afterwards.
//!
//! `TUO_TEST_DATABASE=postgres` selects PostgreSQL (`TUO_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, is the server to create databases on); anything
//! else selects SQLite in a fresh temporary file. The variables use their own prefix so they can
//! never be mistaken for broker configuration.

use std::path::PathBuf;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

/// Which backend this test run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_env() -> Self {
        match std::env::var("TUO_TEST_DATABASE").as_deref() {
            Ok("postgres") | Ok("postgresql") => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }
}

fn postgres_admin_url() -> String {
    std::env::var("TUO_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database that exists for the life of this value.
#[derive(Debug)]
pub struct TestDb {
    url: String,
    backend: Backend,
    postgres_name: Option<String>,
    /// The server the PostgreSQL database was created on (where it is dropped).
    postgres_admin: Option<String>,
    sqlite_dir: Option<PathBuf>,
}

impl TestDb {
    /// Creates an empty database (no migrations applied) on the backend the run asks for.
    pub async fn new() -> Result<Self, sea_orm::DbErr> {
        Self::new_on(Backend::from_env()).await
    }

    /// Creates an empty database on a given backend.
    pub async fn new_on(backend: Backend) -> Result<Self, sea_orm::DbErr> {
        match backend {
            Backend::Postgres => Self::new_postgres_on(&postgres_admin_url()).await,
            Backend::Sqlite => {
                let dir = std::env::temp_dir()
                    .join(format!("tuo-test-{}", uuid::Uuid::now_v7().simple()));
                std::fs::create_dir_all(&dir).map_err(|e| {
                    sea_orm::DbErr::Custom(format!("cannot create `{}`: {e}", dir.display()))
                })?;
                let url = format!("sqlite://{}?mode=rwc", dir.join("broker.db").display());
                Ok(Self {
                    url,
                    backend: Backend::Sqlite,
                    postgres_name: None,
                    postgres_admin: None,
                    sqlite_dir: Some(dir),
                })
            }
        }
    }

    /// Creates an empty database on the PostgreSQL server `admin_url` connects to (a test's own
    /// server, rather than the one the run names).
    pub async fn new_postgres_on(admin_url: &str) -> Result<Self, sea_orm::DbErr> {
        let name = format!("tuo_test_{}", uuid::Uuid::now_v7().simple());
        let admin = Database::connect(admin_url).await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        admin.close().await?;
        let url = match admin_url.rfind('/') {
            Some(i) => format!("{}/{name}", &admin_url[..i]),
            None => format!("{admin_url}/{name}"),
        };
        Ok(Self {
            url,
            backend: Backend::Postgres,
            postgres_name: Some(name),
            postgres_admin: Some(admin_url.to_owned()),
            sqlite_dir: None,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The PostgreSQL database name, when on PostgreSQL.
    pub fn postgres_name(&self) -> Option<&str> {
        self.postgres_name.as_deref()
    }

    /// The default pool settings, for connecting to this database.
    pub fn settings(&self) -> crate::DatabaseConfig {
        crate::DatabaseConfig::default()
    }

    /// Connects with the broker's default pool settings (no migration applied).
    pub async fn connect(&self) -> Result<DatabaseConnection, super::StoreError> {
        super::connect(&self.url, &self.settings()).await
    }

    /// This database's URL as configuration (`database_url`).
    pub fn database_url(&self) -> crate::DatabaseUrl {
        crate::DatabaseUrl::new(self.url.clone())
    }

    /// Connects with the broker's default settings and applies every migration.
    pub async fn migrated(&self) -> Result<DatabaseConnection, super::StoreError> {
        let db = self.connect().await?;
        super::migrate(&db).await?;
        Ok(db)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(dir) = self.sqlite_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let (Some(name), Some(admin)) = (self.postgres_name.take(), self.postgres_admin.take()) {
            // Drop runs outside any async context we can rely on: use a thread with its own runtime.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    if let Ok(db) = Database::connect(admin).await {
                        let _ = db
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            ))
                            .await;
                        let _ = db.close().await;
                    }
                });
            })
            .join();
        }
    }
}
