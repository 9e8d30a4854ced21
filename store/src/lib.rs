//! The database itself: one sea-orm connection pool over SQLite (the embedded default) or
//! PostgreSQL, the schema (migrations, append-only, the same on both), fresh test databases, and
//! group commit for small durable writes.
//!
//! **Owns:** connecting, the schema and its version, the clock every stored time is read from.
//! **Never:** knows a table's rows or rules (each owner in `services` keeps its entities and
//! queries), HTTP, or the broker's configuration file.
//!
//! INVARIANT: no query here or elsewhere branches on the backend; sea-orm writes both dialects.
//! The only backend-specific code is connection set-up (SQLite pragmas) and pool metrics.

pub mod group;
mod migrations;
mod settings;
pub mod testdb;

pub use settings::{DatabaseConfig, DatabaseUrl, SqliteSynchronous, redact_url_password};

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous as SqlxSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};
use sea_orm_migration::MigratorTrait;

pub use migrations::Migrator;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot connect to the database at `{url}`: {reason}")]
    Connect { url: String, reason: String },
    #[error(
        "the database schema is newer than this binary (it has migrations this binary does not \
         know: {unknown}); upgrade the broker binary"
    )]
    SchemaNewer { unknown: String },
    #[error(
        "the database schema is behind this binary ({pending} pending migrations); run `broker migrate`"
    )]
    SchemaPending { pending: usize },
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

/// Whether `err`, or an error it wraps, says that the database cannot be reached now — down,
/// restarting, shutting down, or the pool unable to hand out a connection — as opposed to a
/// statement that failed: the request may succeed if tried again shortly (a 503, not a 500).
pub fn is_unavailable(err: &(dyn std::error::Error + 'static)) -> bool {
    use sea_orm::{ConnAcquireErr, RuntimeErr};
    let sqlx_down = |e: &sea_orm::sqlx::Error| {
        use sea_orm::sqlx::Error as E;
        match e {
            E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => true,
            // SQLSTATE class 08 (connection exception) and 57P (operator intervention: admin or
            // crash shutdown, cannot connect now).
            E::Database(db) => db
                .code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
            _ => false,
        }
    };
    let runtime_down = |e: &RuntimeErr| matches!(e, RuntimeErr::SqlxError(e) if sqlx_down(e));
    let mut next = Some(err);
    while let Some(e) = next {
        let down = if let Some(db) = e.downcast_ref::<DbErr>() {
            match db {
                DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
                DbErr::Exec(r) | DbErr::Query(r) => runtime_down(r),
                _ => false,
            }
        } else if let Some(r) = e.downcast_ref::<RuntimeErr>() {
            runtime_down(r)
        } else if e.downcast_ref::<ConnAcquireErr>().is_some() {
            true
        } else if let Some(s) = e.downcast_ref::<sea_orm::sqlx::Error>() {
            sqlx_down(s)
        } else {
            false
        };
        if down {
            return true;
        }
        next = e.source();
    }
    false
}

/// Opens the pool on `url` (see [`DatabaseUrl::effective`]). SQLite gets WAL, a busy timeout,
/// foreign keys and the configured durability.
pub async fn connect(url: &str, db: &DatabaseConfig) -> Result<DatabaseConnection, StoreError> {
    let url = url.to_owned();
    if let Some(path) = sqlite_file(&url)
        && let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Connect {
            url: redact_url_password(&url),
            reason: e.to_string(),
        })?;
    }
    let mut options = ConnectOptions::new(url.clone());
    options
        .max_connections(db.max_connections)
        .min_connections(db.min_connections.min(db.max_connections))
        .acquire_timeout(Duration::from_millis(db.acquire_timeout_ms))
        .connect_timeout(Duration::from_millis(db.connect_timeout_ms))
        .sqlx_logging(false);
    let synchronous = match db.sqlite_synchronous {
        SqliteSynchronous::Full => SqlxSynchronous::Full,
        SqliteSynchronous::Normal => SqlxSynchronous::Normal,
    };
    options.map_sqlx_sqlite_opts(move |opts| {
        opts.journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
    });
    Database::connect(options)
        .await
        .map_err(|e| StoreError::Connect {
            url: redact_url_password(&url),
            reason: short_db_reason(&e),
        })
}

/// The path of a `sqlite://path?…` URL, or None for other backends and in-memory databases.
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// One line about why a connection failed, without echoing credentials.
fn short_db_reason(e: &DbErr) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or("unknown error");
    line.chars().take(200).collect()
}

/// Where the schema stands relative to this binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaStatus {
    Current,
    Pending(usize),
    Newer(Vec<String>),
}

/// Reads the applied migrations without creating anything.
pub async fn schema_status(db: &DatabaseConnection) -> Result<SchemaStatus, DbErr> {
    let known: std::collections::HashSet<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let applied = applied_migrations(db).await?;
    let unknown: Vec<String> = applied
        .iter()
        .filter(|m| !known.contains(*m))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Ok(SchemaStatus::Newer(unknown));
    }
    let pending = known.iter().filter(|m| !applied.contains(*m)).count();
    Ok(if pending == 0 {
        SchemaStatus::Current
    } else {
        SchemaStatus::Pending(pending)
    })
}

async fn applied_migrations(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    use sea_orm::{EntityTrait, QuerySelect};
    use sea_orm_migration::seaql_migrations;
    // A database that has never been migrated has no migrations table: nothing applied.
    match seaql_migrations::Entity::find()
        .select_only()
        .column(seaql_migrations::Column::Version)
        .into_tuple::<String>()
        .all(db)
        .await
    {
        Ok(rows) => Ok(rows),
        Err(e) if is_missing_table(&e) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

fn is_missing_table(e: &DbErr) -> bool {
    let text = e.to_string();
    text.contains("no such table") || text.contains("does not exist")
}

/// Applies pending migrations, refusing a schema newer than this binary. Returns how many ran.
pub async fn migrate(db: &DatabaseConnection) -> Result<usize, StoreError> {
    match schema_status(db).await? {
        SchemaStatus::Newer(unknown) => Err(StoreError::SchemaNewer {
            unknown: unknown.join(", "),
        }),
        SchemaStatus::Current => Ok(0),
        SchemaStatus::Pending(n) => {
            Migrator::up(db, None).await?;
            Ok(n)
        }
    }
}

/// Refuses to run against a schema that is newer than, or behind, this binary.
pub async fn ensure_current(db: &DatabaseConnection) -> Result<(), StoreError> {
    match schema_status(db).await? {
        SchemaStatus::Current => Ok(()),
        SchemaStatus::Pending(pending) => Err(StoreError::SchemaPending { pending }),
        SchemaStatus::Newer(unknown) => Err(StoreError::SchemaNewer {
            unknown: unknown.join(", "),
        }),
    }
}

/// A cheap liveness probe of the database (`/readyz`).
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

/// Pool gauges for `/metrics`: (connections open, of which idle).
pub fn pool_gauges(db: &DatabaseConnection) -> (u32, usize) {
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => (0, 0),
    }
}

/// Milliseconds since the Unix epoch: how every time is stored.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests;
