//! The command line. Each subcommand loads the layered configuration, does one job, and reports
//! failure as one line naming the problem.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "broker",
    version,
    about = "Tell Us Once broker: consent-based sharing of citizens' facts between departments"
)]
pub struct Cli {
    /// A TOML configuration file (layered over the defaults, under BROKER_* variables).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server.
    Serve {
        /// Do not apply pending migrations at start (refuse to start if any are pending).
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Run a self-contained demonstration on SQLite with demo data.
    Demo(crate::demo::DemoArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage signing and data keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Check the catalogues and Cedar policies.
    #[command(subcommand)]
    Policies(PoliciesCommand),
    /// Register departments and their clients; enable or disable them.
    #[command(subcommand)]
    Departments(crate::commands::departments::DepartmentsCommand),
    /// Citizens' data: erase a citizen (crypto-erasure).
    #[command(subcommand)]
    Citizens(crate::commands::citizens::CitizensCommand),
    /// Consent receipts; consents given outside the broker.
    #[command(subcommand)]
    Consent(ConsentCommand),
    /// The relay's deliveries to departments: list them, queue dead-lettered ones again.
    #[command(subcommand)]
    Deliveries(crate::commands::deliveries::DeliveriesCommand),
    /// Verify or export the tamper-evident audit log.
    #[command(subcommand)]
    Audit(crate::commands::audit::AuditCommand),
    /// Run a C2SP tlog-witness that cosigns the checkpoints of the logs it follows (for an
    /// independent body; needs no database).
    Witness(crate::commands::witness::WitnessArgs),
    /// Verify a citizen's takeout (`/me/export`) offline: its signature, every consent receipt,
    /// every inclusion proof and checkpoint. Prints one line; exits 2 when the bundle is refused.
    VerifyBundle {
        /// The takeout file, as downloaded.
        file: PathBuf,
        /// A JWKS of the broker's keys to trust (as published at `/api/v1/audit/keys`) instead
        /// of the keys the bundle carries.
        #[arg(long, value_name = "FILE")]
        jwks: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// Check a consent receipt (`.jwt`): its signature against the broker's keys (current and
    /// previous) and that it matches the consent ledger.
    VerifyReceipt {
        /// The receipt file, as downloaded.
        file: PathBuf,
    },
    /// Record consents citizens gave outside the broker (on paper, in a previous system) from a
    /// JSON Lines file, all in one transaction or none, each with its receipt and audit record.
    Import {
        /// One consent per line: `citizen`, `department`, `purpose`, `mode`, `attributes`,
        /// `granted_at` and `expires_at` (RFC 3339), `loa` (1–4), optional `language` (en, fr).
        file: PathBuf,
        /// Where the consents come from, named in each audit record (`detail.import_source`).
        #[arg(long, default_value = "cli-import")]
        source: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PoliciesCommand {
    /// Validate the catalogues and the policies against the Cedar schema.
    Validate,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration, secrets redacted.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new signing key current; the previous one stays published for the grace period.
    Rotate,
    /// Re-wrap every citizen's data key under the current master key (a new generated one when
    /// master keys are generated; the configured `keys.current_master_key` otherwise).
    RotateData,
}

/// Failure of a command: printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Keys(#[from] services::keys::KeyError),
    #[error(transparent)]
    Start(#[from] crate::serve::StartError),
    #[error(transparent)]
    Policy(#[from] policies::PolicyError),
    #[error(transparent)]
    Registry(#[from] services::departments::file::RegistryError),
    #[error(transparent)]
    Citizens(#[from] services::citizens::CitizenError),
    #[error(transparent)]
    Vault(#[from] services::vault::VaultError),
    #[error(transparent)]
    Audit(#[from] services::audit_log::AuditError),
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("no department `{0}`")]
    UnknownDepartment(String),
    #[error("no citizen `{0}`")]
    UnknownCitizen(String),
    #[error("no client `{0}`")]
    UnknownClient(String),
    #[error("no failed delivery `{0}`")]
    UnknownDelivery(String),
    #[error(
        "delivery `{id}` was superseded by a newer change of the same attributes (delivery `{by}`): sending it now would put the old value after the new one; pass --force to send it anyway"
    )]
    Superseded { id: String, by: String },
    #[error("department `{0}` has no pull source")]
    NoPullSource(String),
    #[error("cannot {what} `{path}`: {source}")]
    File {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(&'static str),
    #[error(transparent)]
    AuditQuery(#[from] services::audit_log::query::QueryError),
    #[error("the receipt `{path}` is not valid: {reason}")]
    Receipt { path: PathBuf, reason: String },
    #[error(transparent)]
    Service(#[from] services::Error),
    #[error(transparent)]
    Build(#[from] services::assembly::BuildError),
    #[error(transparent)]
    Admin(services::admin::AdminError),
    #[error("{0}")]
    Other(String),
    /// `broker audit verify` found tampering: the finding, naming the first bad record.
    #[error("the audit log was tampered with: {0}")]
    Tampered(String),
    /// `broker verify-bundle` refused a takeout: the first check that failed.
    #[error("`{path}`: {reason}")]
    BundleRefused { path: PathBuf, reason: String },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ CliError::Tampered(_)) => {
            println!("TAMPERED: {e}");
            ExitCode::from(2)
        }
        Err(e @ CliError::BundleRefused { .. }) => {
            println!("REFUSED: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

pub fn load_config(cli_config: Option<&std::path::Path>) -> Result<Config, CliError> {
    Ok(Config::load(cli_config, std::env::vars())?)
}

/// Opens the configured database (`database_url`, or the embedded SQLite in `data_dir`).
pub async fn connect(config: &Config) -> Result<sea_orm::DatabaseConnection, store::StoreError> {
    store::connect(&config.effective_database_url(), &config.database).await
}

async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Demo(args) => crate::demo::run(args, cli.config.as_deref()).await,
        Command::Serve { no_migrate } => {
            let config = load_config(cli.config.as_deref())?;
            crate::telemetry::init(&config);
            serve(config, !no_migrate).await
        }
        Command::Migrate => {
            let config = load_config(cli.config.as_deref())?;
            let db = crate::cli::connect(&config).await?;
            let applied = store::migrate(&db).await?;
            println!("applied {applied} migrations; schema is current");
            Ok(())
        }
        Command::Config(ConfigCommand::Check) => {
            let config = load_config(cli.config.as_deref())?;
            print!("{}", config.to_redacted_toml()?);
            Ok(())
        }
        Command::Policies(PoliciesCommand::Validate) => {
            let config = load_config(cli.config.as_deref())?;
            let report = policies::PolicyEngine::validate(policies::PolicySource {
                catalogue_dir: config.catalogue.dir.as_deref(),
                policy_dir: config.catalogue.policy_dir.as_deref(),
            })?;
            println!(
                "valid: {} attributes, {} purposes, {} departments, {} policies",
                report.attributes,
                report.purposes,
                report.departments,
                report.policies.len()
            );
            for warning in &report.warnings {
                println!("warning: {warning}");
            }
            Ok(())
        }
        Command::Deliveries(command) => {
            let config = load_config(cli.config.as_deref())?;
            crate::commands::deliveries::run(command, config).await
        }
        Command::Departments(command) => {
            let config = load_config(cli.config.as_deref())?;
            crate::commands::departments::run(command, config).await
        }
        Command::Citizens(command) => {
            let config = load_config(cli.config.as_deref())?;
            crate::commands::citizens::run(command, config).await
        }
        Command::Keys(KeysCommand::RotateData) => {
            let config = load_config(cli.config.as_deref())?;
            rotate_data(&config).await
        }
        Command::Consent(ConsentCommand::Import { file, source }) => {
            let config = load_config(cli.config.as_deref())?;
            let count = crate::commands::consent::import_file(&config, &file, &source).await?;
            println!("imported {count} consents from `{}`", file.display());
            Ok(())
        }
        Command::Consent(ConsentCommand::VerifyReceipt { file }) => {
            let config = load_config(cli.config.as_deref())?;
            let verified = crate::commands::consent::verify_file(&config, &file).await?;
            println!(
                "valid: receipt {} for consent {} ({}; {} to {} for {}; expires {}; signed by key {})",
                verified.receipt_id,
                verified.consent_id,
                verified.consent_state,
                verified.attributes.join(", "),
                verified.department,
                verified.purpose,
                verified.expires_at,
                verified.kid
            );
            Ok(())
        }
        Command::Witness(args) => crate::commands::witness::run(args).await,
        Command::Audit(command) => {
            let config = load_config(cli.config.as_deref())?;
            crate::commands::audit::run(command, config).await
        }
        // Offline: no configuration, database or key directory.
        Command::VerifyBundle { file, jwks } => {
            let verified = crate::commands::takeout::verify_file(&file, jwks.as_deref())?;
            println!("{verified}");
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate) => {
            let config = load_config(cli.config.as_deref())?;
            let kid = services::keys::rotate_signing_key(&config.keys, &config.data_dir)?;
            println!("new current signing key: {kid}");
            Ok(())
        }
    }
}

/// Connects, migrates (or checks the schema), builds every service and serves until a signal.
pub async fn serve(config: Config, migrate: bool) -> Result<(), CliError> {
    // A bad catalogue or policy stops start-up before anything is written (one line, naming it).
    services::policy::load(&config.catalogue)?;
    let db = connect(&config).await?;
    if migrate && config.database.migrate_on_start {
        let applied = store::migrate(&db).await?;
        if applied > 0 {
            tracing::info!(applied, "applied database migrations");
        }
    } else {
        store::ensure_current(&db).await?;
    }
    let services = crate::serve::services(&config, &db)?;
    services::departments::sync_catalogue(&services.db, services.policy.catalogue().departments())
        .await?;
    if let Some(path) = &config.departments.registry_path {
        let registry = services::departments::file::load(path)?;
        let applied = services::departments::file::apply(
            &services.db,
            services.policy.catalogue(),
            &registry,
        )
        .await?;
        tracing::info!(
            added = applied.added.len(),
            updated = applied.updated.len(),
            clients = applied.clients.len(),
            "department registry file applied"
        );
    }
    crate::serve::serve(&config, services).await?;
    Ok(())
}

/// `broker keys rotate-data`: with generated master keys, generates a new one (it becomes
/// current); with configured ones, uses `keys.current_master_key`. Then re-wraps every data key
/// not yet under the current master key and says which master keys no longer wrap anything (they
/// can be removed). Restart running brokers afterwards so they load the new key.
pub async fn rotate_data(config: &Config) -> Result<(), CliError> {
    use sea_orm::{EntityTrait, QuerySelect};
    let db = crate::cli::connect(config).await?;
    store::ensure_current(&db).await?;
    if config.keys.master_keys.is_empty() {
        let kid = services::keys::generate_master_key(&config.data_dir)?;
        println!("generated master key {kid}");
    }
    let secrets = services::keys::load_secrets(&config.keys, &config.data_dir)?;
    let vault = services::vault::Vault::new(&secrets)?;
    let rewrapped = services::citizens::rotate_data_keys(&db, &vault).await?;
    let in_use: Vec<String> = services::citizens::entities::citizen_key::Entity::find()
        .select_only()
        .column(services::citizens::entities::citizen_key::Column::MasterKeyId)
        .distinct()
        .into_tuple::<String>()
        .all(&db)
        .await?;
    let keys = Arc::new(services::keys::open_signing_keys(
        &config.keys,
        &config.data_dir,
    )?);
    let log = services::audit_log::AuditLog::for_command(
        db.clone(),
        keys,
        config.audit.checkpoint_policy(),
    );
    let mut record = services::audit_log::AuditLog::record(
        audit::Action::AdminAction,
        audit::Outcome::Ok,
        audit::Actor::new(
            audit::ActorKind::Operator,
            format!(
                "cli:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned())
            ),
        ),
    );
    record
        .detail
        .insert("change".into(), "data-keys-rewrapped".into());
    record
        .detail
        .insert("master_key".into(), vault.current_master_key().to_owned());
    record.detail.insert("count".into(), rewrapped.to_string());
    log.append(record).await?;
    println!(
        "re-wrapped {rewrapped} data keys under master key {}",
        vault.current_master_key()
    );
    for kid in secrets.master_keys.keys() {
        if !in_use.contains(kid) && kid != vault.current_master_key() {
            println!("master key {kid} no longer wraps any data key: it can be removed");
        }
    }
    Ok(())
}
