//! `broker deliveries list|retry`: what operators see of the outbox and how they send a
//! dead-lettered delivery again (after fixing the department's endpoint, for instance). A retry
//! keeps the delivery's id, so the department's receiver still sees its SET once.

use audit::{Action, Actor, ActorKind, Outcome};
use clap::Subcommand;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};

use crate::cli::CliError;
use crate::config::Config;
use services::audit_log::AuditLog;
use services::relay::entities::delivery;
use services::relay::supersede;
use services::relay::worker::{FAILED, PENDING};
use store::now_ms;

#[derive(Debug, Subcommand)]
pub enum DeliveriesCommand {
    /// List deliveries, newest first: id (the SET's jti), department, event, status, attempts,
    /// next attempt or delivery time, last error (codes only, never values).
    List {
        /// Only `pending`, `delivered`, `failed`, `cancelled` or `superseded` ones.
        #[arg(long)]
        status: Option<String>,
        /// Only this department's.
        #[arg(long)]
        department: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Queue dead-lettered (`failed`) deliveries again, with a fresh retry budget.
    Retry {
        /// One delivery, by id.
        id: Option<String>,
        /// Every failed delivery (of `--department` when given).
        #[arg(long, conflicts_with = "id")]
        all_failed: bool,
        #[arg(long)]
        department: Option<String>,
        /// Send it even though a newer change of the same attributes (for the same citizen and
        /// department) superseded it: the department then receives the old value after the new.
        #[arg(long)]
        force: bool,
    },
}

fn time(ms: i64) -> String {
    consent::rfc3339_utc(ms)
}

/// Runs one `broker deliveries` command.
pub async fn run(command: DeliveriesCommand, config: Config) -> Result<(), CliError> {
    let db = crate::cli::connect(&config).await?;
    store::ensure_current(&db).await?;
    match command {
        DeliveriesCommand::List {
            status,
            department,
            limit,
        } => list(&db, status, department, limit).await,
        DeliveriesCommand::Retry {
            id,
            all_failed,
            department,
            force,
        } => {
            if id.is_none() && !all_failed {
                return Err(CliError::Usage("name a delivery id, or pass --all-failed"));
            }
            let keys = std::sync::Arc::new(services::keys::open_signing_keys(
                &config.keys,
                &config.data_dir,
            )?);
            let log = AuditLog::for_command(db.clone(), keys, config.audit.checkpoint_policy());
            let retried = retry(&db, &log, id.as_deref(), department.as_deref(), force).await?;
            if let (Some(id), Some(by)) = (&id, retried.superseded.first()) {
                return Err(CliError::Superseded {
                    id: id.chars().take(64).collect(),
                    by: by.clone(),
                });
            }
            println!("queued {} deliveries again", retried.queued);
            if !retried.superseded.is_empty() {
                println!(
                    "left {} superseded deliveries as they are (a newer change replaced them; --force sends them anyway)",
                    retried.superseded.len()
                );
            }
            if retried.queued == 0
                && let Some(id) = id
            {
                return Err(CliError::UnknownDelivery(id.chars().take(64).collect()));
            }
            Ok(())
        }
    }
}

async fn list(
    db: &DatabaseConnection,
    status: Option<String>,
    department: Option<String>,
    limit: u64,
) -> Result<(), CliError> {
    let mut query = delivery::Entity::find();
    if let Some(status) = status {
        query = query.filter(delivery::Column::Status.eq(status));
    }
    if let Some(department) = department {
        query = query.filter(delivery::Column::DepartmentId.eq(department));
    }
    let rows = query
        .order_by_desc(delivery::Column::Seq)
        .limit(limit)
        .all(db)
        .await?;
    println!("id\tdepartment\tevent\tstatus\tattempts\twhen\tlast_error");
    for r in rows {
        let when = match r.status.as_str() {
            PENDING => format!("next {}", time(r.next_attempt_at)),
            _ => r
                .delivered_at
                .map(time)
                .unwrap_or_else(|| time(r.updated_at)),
        };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r.id,
            r.department_id,
            r.event,
            r.status,
            r.attempts,
            when,
            r.last_error.unwrap_or_default()
        );
    }
    Ok(())
}

/// What a retry did.
#[derive(Debug, Default)]
pub struct Retried {
    pub queued: u64,
    /// For each dead letter left alone because a newer change superseded it: the id of the
    /// newer delivery.
    pub superseded: Vec<String>,
}

/// Puts failed deliveries back in the queue, with an `admin-action` audit record; unless
/// `force`, not those a newer change of the same attributes superseded (their old value would
/// reach the department after the new one).
pub async fn retry(
    db: &DatabaseConnection,
    log: &AuditLog,
    id: Option<&str>,
    department: Option<&str>,
    force: bool,
) -> Result<Retried, CliError> {
    use delivery::Column as C;
    let now = now_ms();
    let txn = db.begin().await?;
    let mut failed = delivery::Entity::find().filter(C::Status.eq(FAILED));
    if let Some(id) = id {
        failed = failed.filter(C::Id.eq(id));
    }
    if let Some(department) = department {
        failed = failed.filter(C::DepartmentId.eq(department));
    }
    let mut superseded = Vec::new();
    let mut seqs = Vec::new();
    for row in failed.all(&txn).await? {
        match supersede::superseded_by(&txn, &row).await? {
            Some(newer) if !force => superseded.push(newer.id),
            _ => seqs.push(row.seq),
        }
    }
    let update = delivery::Entity::update_many()
        .col_expr(C::Status, Expr::value(PENDING))
        .col_expr(C::Attempts, Expr::value(0))
        .col_expr(C::NextAttemptAt, Expr::value(now))
        .col_expr(C::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(C::LeaseUntil, Expr::value(Option::<i64>::None))
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::Status.eq(FAILED))
        .filter(C::Seq.is_in(seqs));
    let count = update.exec(&txn).await?.rows_affected;
    if count > 0 {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
        let mut record = AuditLog::record(
            Action::AdminAction,
            Outcome::Ok,
            Actor::new(ActorKind::Operator, format!("cli:{user}")),
        );
        record.department_id = department.map(str::to_owned);
        record.request_id = id.map(str::to_owned);
        record
            .detail
            .insert("change".into(), "deliveries-retried".into());
        record.detail.insert("count".into(), count.to_string());
        if force {
            record.detail.insert("force".into(), "true".into());
        }
        log.append_in(&txn, record).await?;
    }
    txn.commit().await?;
    Ok(Retried {
        queued: count,
        superseded,
    })
}
