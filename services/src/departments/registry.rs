//! Every instance's copy of the department registry (departments and their clients), so the token
//! grant and the bearer check of every API call read memory, not the database.
//!
//! INVARIANT: a change to departments or clients bumps `registry_version` in its own transaction
//! ([`changed`], called by every writer in `departments`); on PostgreSQL it also notifies
//! [`CHANNEL`], which is delivered on commit. Each instance's [`watch`] listens (PostgreSQL) or
//! polls the version row (SQLite, [`SQLITE_POLL`]) and reloads the whole copy when the version
//! moved, so a disabled department or a removed client is refused by every instance within a
//! second: in milliseconds after the notification, at worst one [`RECHECK`] after a lost one.
//!
//! INVARIANT: the copy never answers "no such client": a client missing from it is read from the
//! database (one registered a moment ago works at once; an unknown one costs the query it cost
//! before). Only what is in the copy is served from it, and the copy is replaced whole.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    AccessMode, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    IsolationLevel, QueryFilter, Statement, TransactionTrait,
};

use super::entities::{client, department, registry_version};
use super::{Client, Department, to_client, to_department};
use crate::Shutdown;
use crate::metrics::Metrics;

/// The PostgreSQL notification channel of registry changes.
pub const CHANNEL: &str = "tuo_registry";
/// How often the version row is read on SQLite.
pub const SQLITE_POLL: Duration = Duration::from_millis(250);
/// How often the version row is read on PostgreSQL besides the notifications (a notification lost
/// while the listening connection was re-established).
pub const RECHECK: Duration = Duration::from_millis(500);
/// The gauge of the registry version this instance serves.
pub const VERSION_GAUGE: &str = "broker_registry_version";
const VERSION_ROW: i16 = 1;

/// Marks the registry changed, in the caller's transaction.
pub async fn changed<C: ConnectionTrait>(conn: &C) -> Result<(), DbErr> {
    registry_version::Entity::update_many()
        .col_expr(
            registry_version::Column::Version,
            Expr::col(registry_version::Column::Version).add(1),
        )
        .filter(registry_version::Column::Id.eq(VERSION_ROW))
        .exec(conn)
        .await?;
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("NOTIFY {CHANNEL}"),
        ))
        .await?;
    }
    Ok(())
}

/// The stored version.
pub async fn version<C: ConnectionTrait>(conn: &C) -> Result<i64, DbErr> {
    Ok(registry_version::Entity::find_by_id(VERSION_ROW)
        .one(conn)
        .await?
        .map_or(0, |row| row.version))
}

#[derive(Debug, Default)]
struct Snapshot {
    /// None until the first load.
    version: Option<i64>,
    departments: HashMap<String, Department>,
    clients: HashMap<String, Client>,
}

/// The cached registry (cheap to clone; clones share the copy).
#[derive(Debug, Clone, Default)]
pub struct Registry {
    copy: Arc<RwLock<Arc<Snapshot>>>,
}

impl Registry {
    fn snapshot(&self) -> Arc<Snapshot> {
        match self.copy.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The version this instance serves (None before the first load).
    pub fn version(&self) -> Option<i64> {
        self.snapshot().version
    }

    /// Reads the whole registry and replaces the copy. The version is read first: a change that
    /// commits during the load bumps it again and triggers another load.
    pub async fn reload(&self, db: &DatabaseConnection) -> Result<i64, DbErr> {
        // One snapshot for the version, the departments and the clients: a copy never holds a
        // client without the department it had when it was read.
        // (SQLite: a transaction reads one snapshot anyway, and takes no isolation options.)
        let postgres = db.get_database_backend() == DbBackend::Postgres;
        let txn = db
            .begin_with_config(
                postgres.then_some(IsolationLevel::RepeatableRead),
                postgres.then_some(AccessMode::ReadOnly),
            )
            .await?;
        let db = &txn;
        let version = version(db).await?;
        let departments = department::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|m| to_department(m).map(|d| (d.id.clone(), d)))
            .collect::<Result<HashMap<_, _>, _>>()?;
        let clients = client::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|m| to_client(m).map(|c| (c.client_id.clone(), c)))
            .collect::<Result<HashMap<_, _>, _>>()?;
        txn.commit().await?;
        let fresh = Arc::new(Snapshot {
            version: Some(version),
            departments,
            clients,
        });
        match self.copy.write() {
            Ok(mut s) => *s = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(version)
    }

    /// A department, from the copy when it has one.
    pub async fn department(
        &self,
        db: &DatabaseConnection,
        id: &str,
    ) -> Result<Option<Department>, DbErr> {
        let snapshot = self.snapshot();
        match snapshot.departments.get(id) {
            Some(d) => Ok(Some(d.clone())),
            None => super::get(db, id).await,
        }
    }

    /// A client with its department (the bearer check), from the copy when it has the client.
    pub async fn client_with_department(
        &self,
        db: &DatabaseConnection,
        client_id: &str,
    ) -> Result<Option<(Client, Option<Department>)>, DbErr> {
        let snapshot = self.snapshot();
        match snapshot.clients.get(client_id) {
            // Both in the copy. A client whose department the copy lacks (a load that read the
            // departments just before both were registered) is read from the database, never
            // taken for a client of a disabled department.
            Some(c) => match snapshot.departments.get(&c.department_id) {
                Some(d) => Ok(Some((c.clone(), Some(d.clone())))),
                None => super::client_with_department(db, client_id).await,
            },
            None => super::client_with_department(db, client_id).await,
        }
    }
}

/// Keeps `registry` current until shutdown (see the module docs). Loads it first.
pub async fn watch(
    registry: Registry,
    db: DatabaseConnection,
    metrics: Arc<Metrics>,
    mut stop: Shutdown,
) {
    let mut listener = None;
    loop {
        if db.get_database_backend() == DbBackend::Postgres && listener.is_none() {
            listener = listen(&db).await;
        }
        // Load when the version moved (always the first time).
        match version(&db).await {
            Ok(v) if registry.version() == Some(v) => {}
            Ok(_) => match registry.reload(&db).await {
                Ok(v) => metrics.set_gauge(VERSION_GAUGE, String::new(), v),
                Err(e) => tracing::warn!(error = %e, "department registry: reload failed"),
            },
            Err(e) => tracing::warn!(error = %e, "department registry: cannot read its version"),
        }
        let wait = if listener.is_some() {
            RECHECK
        } else {
            SQLITE_POLL
        };
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(wait) => {}
            notified = next(&mut listener) => {
                if let Err(e) = notified {
                    tracing::warn!(error = %e, "department registry: the notification connection failed; listening again");
                    listener = None;
                }
            }
        }
    }
}

type Listener = sea_orm::sqlx::postgres::PgListener;

async fn listen(db: &DatabaseConnection) -> Option<Listener> {
    let pool = db.get_postgres_connection_pool();
    let mut listener = match Listener::connect_with(pool).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "department registry: cannot listen for changes; polling");
            return None;
        }
    };
    match listener.listen(CHANNEL).await {
        Ok(()) => Some(listener),
        Err(e) => {
            tracing::warn!(error = %e, "department registry: cannot listen for changes; polling");
            None
        }
    }
}

/// The next notification, or never without a listener.
async fn next(listener: &mut Option<Listener>) -> Result<(), sea_orm::sqlx::Error> {
    match listener {
        Some(l) => l.recv().await.map(|_| ()),
        None => std::future::pending().await,
    }
}
