//! `broker citizens erase ID`: an operator erases a citizen's data (a legal order, a request
//! under privacy law), by crypto-erasure, in one transaction with what must stop with it.
//!
//! In the same transaction: the citizen's data key and pairwise mappings are destroyed
//! ([`super::erase`]), every delivery still queued about them is cancelled (nothing held about
//! them leaves after the erasure commits), and an `attribute-erased` audit record names the
//! operator. The audit records about the citizen stay: they hold names and ids, never values.

use audit::{Action, Actor, ActorKind, Outcome};
use clap::Subcommand;
use sea_orm::{DatabaseConnection, TransactionTrait};

use crate::audit_log::AuditLog;
use crate::cli::CliError;
use crate::config::Config;
use crate::relay::outbox::{self, CancelReason, Pending};

#[derive(Debug, Subcommand)]
pub enum CitizensCommand {
    /// Erase a citizen's data: their values become unreadable, queued deliveries are cancelled.
    Erase {
        /// The citizen's internal id (UUID), as in the audit log.
        id: String,
    },
}

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erased {
    pub deliveries_cancelled: usize,
    pub txn: String,
}

/// Erases `id` (see the module docs). An unknown or already erased citizen is refused.
pub async fn erase(db: &DatabaseConnection, log: &AuditLog, id: &str) -> Result<Erased, CliError> {
    let known = super::get(db, id).await?;
    if known.is_none_or(|c| c.status == super::Status::Erased) {
        return Err(CliError::UnknownCitizen(id.chars().take(64).collect()));
    }
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    let txn = db.begin().await?;
    super::erase(&txn, id).await?;
    let cancelled = outbox::cancel(
        &txn,
        log,
        Pending::OfCitizen(id),
        CancelReason::CitizenErased,
    )
    .await?;
    let mut record = AuditLog::record(
        Action::AttributeErased,
        Outcome::Ok,
        Actor::new(ActorKind::Operator, format!("cli:{user}")),
    );
    record.citizen_id = Some(id.to_owned());
    record
        .detail
        .insert("deliveries_cancelled".into(), cancelled.to_string());
    let receipt = log.append_in(&txn, record).await?;
    txn.commit().await?;
    Ok(Erased {
        deliveries_cancelled: cancelled,
        txn: receipt.id,
    })
}

/// Runs one `broker citizens` command.
pub async fn run(command: CitizensCommand, config: Config) -> Result<(), CliError> {
    let db = crate::store::connect(&config).await?;
    crate::store::ensure_current(&db).await?;
    let keys = std::sync::Arc::new(crate::keys::open_signing_keys(&config)?);
    let log = AuditLog::new(
        db.clone(),
        keys,
        audit::CheckpointPolicy {
            every_records: config.audit.checkpoint_every_records,
            every_ms: (config.audit.checkpoint_every_secs as i64) * 1000,
        },
    );
    match command {
        CitizensCommand::Erase { id } => {
            let erased = erase(&db, &log, &id).await?;
            println!(
                "erased citizen {id}; {} queued deliveries cancelled; audit record {}",
                erased.deliveries_cancelled, erased.txn
            );
        }
    }
    Ok(())
}
