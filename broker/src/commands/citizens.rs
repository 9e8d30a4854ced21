//! `broker citizens erase ID`: an operator erases a citizen's data (a legal order, a request
//! under privacy law), by crypto-erasure, in one transaction with what must stop with it
//! (`services::admin::erase_citizen`).

use clap::Subcommand;
use services::admin::{self, AdminError};
use services::audit_log::AuditLog;

use crate::cli::CliError;
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum CitizensCommand {
    /// Erase a citizen's data: their values become unreadable, queued deliveries are cancelled.
    Erase {
        /// The citizen's internal id (UUID), as in the audit log.
        id: String,
    },
}

/// Runs one `broker citizens` command.
pub async fn run(command: CitizensCommand, config: Config) -> Result<(), CliError> {
    let db = crate::cli::connect(&config).await?;
    store::ensure_current(&db).await?;
    let keys = std::sync::Arc::new(services::keys::open_signing_keys(
        &config.keys,
        &config.data_dir,
    )?);
    let log = AuditLog::for_command(db.clone(), keys, config.audit.checkpoint_policy());
    match command {
        CitizensCommand::Erase { id } => {
            let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
            let erased = admin::erase_citizen(&db, &log, &id, &format!("cli:{user}"))
                .await
                .map_err(|e| match e {
                    AdminError::UnknownCitizen(id) => CliError::UnknownCitizen(id),
                    other => CliError::Admin(other),
                })?;
            println!(
                "erased citizen {id}; {} queued deliveries cancelled; audit record {}",
                erased.deliveries_cancelled, erased.txn
            );
        }
    }
    Ok(())
}
