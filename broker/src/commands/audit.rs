//! `broker audit verify` and `broker audit export`.
//!
//! `verify` reads only. On a terminal it draws a progress bar on stderr; otherwise it prints a
//! plain progress line every 100,000 records. A clean log prints one summary line and exits 0; a
//! tampered one prints one line naming the first bad record (seq and id) and exits 2.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use audit::{Action, Actor, ActorKind, Outcome};
use clap::{Args, Subcommand};

use crate::cli::CliError;
use crate::config::Config;
use services::audit_log::AuditLog;
use services::audit_log::export::{self, Format};
use services::audit_log::query::{Filter, FilterParams};
use services::audit_log::verify::{self, Verdict};
use services::audit_log::witnesses::{self, CheckpointNotes};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the Merkle tree from the stored records, check every signed checkpoint, every
    /// stored node and the head row, and name the first record that does not match; then check
    /// every stored witness cosignature against the configured witness keys and the tree.
    Verify,
    /// Print the log's origin and the verifier key of its checkpoint note key: what a witness
    /// is configured with to follow this log.
    NoteKey,
    /// Write records (oldest first) as JSON Lines or CSV, optionally with inclusion proofs.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// From this time (RFC 3339, or a date: its start, UTC), inclusive.
    #[arg(long)]
    pub from: Option<String>,
    /// Until this time (RFC 3339, exclusive; or a date: that whole day included).
    #[arg(long)]
    pub to: Option<String>,
    /// `jsonl` or `csv`.
    #[arg(long, default_value = "jsonl")]
    pub format: Format,
    /// Add each record's inclusion proof against the latest signed checkpoint.
    #[arg(long)]
    pub proofs: bool,
    /// Only this citizen's records (internal id).
    #[arg(long)]
    pub citizen: Option<String>,
    /// Only this department's records.
    #[arg(long)]
    pub department: Option<String>,
    /// Only this action (e.g. `release`).
    #[arg(long)]
    pub action: Option<String>,
    /// Write here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Every this many records, a progress line when stderr is not a terminal.
const PLAIN_EVERY: u64 = 100_000;

pub async fn run(command: AuditCommand, config: Config) -> Result<(), CliError> {
    let db = crate::cli::connect(&config).await?;
    store::ensure_current(&db).await?;
    services::jose::install_crypto_provider();
    let keys = std::sync::Arc::new(services::keys::open_signing_keys(
        &config.keys,
        &config.data_dir,
    )?);
    let log = AuditLog::for_command(db.clone(), keys.clone(), config.audit.checkpoint_policy());
    match command {
        AuditCommand::Verify => {
            // Records in the queue (PostgreSQL) are committed but not in the tree yet: verify
            // checks the tree and says how many wait.
            let queued = log.queued().await?;
            let total = verify::stored_count(&db).await?;
            let started = std::time::Instant::now();
            let verdict = if std::io::stderr().is_terminal() {
                let bar = indicatif::ProgressBar::new(total);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "verifying {bar:40} {pos}/{len} records ({per_sec}, {eta} left)",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                let verdict =
                    verify::verify(&db, &keys, 1_000, |p| bar.set_position(p.records)).await?;
                bar.finish_and_clear();
                verdict
            } else {
                verify::verify(&db, &keys, PLAIN_EVERY, |p| {
                    eprintln!("verified {} of {total} records", p.records);
                })
                .await?
            };
            match verdict {
                Verdict::Clean(s) => {
                    // The witnesses' part decides before anything is printed: a tampered log
                    // prints one line.
                    let witnessed = verify_witnessed(&config, &db, s.records).await?;
                    println!(
                        "ok: {} records verified in {:.1} s; root {}; {} signed checkpoints verified{}; {} stored nodes checked; {} records after the last checkpoint are not yet signed",
                        s.records,
                        started.elapsed().as_secs_f64(),
                        s.root,
                        s.checkpoints_verified,
                        s.last_checkpoint_size
                            .map(|n| format!(" (last at tree size {n})"))
                            .unwrap_or_default(),
                        s.nodes_checked,
                        s.unsigned_records()
                    );
                    if queued > 0 {
                        println!(
                            "{queued} records are queued for integration and not yet in the tree"
                        );
                    }
                    if let Some(line) = witnessed {
                        println!("{line}");
                    }
                    Ok(())
                }
                Verdict::Tampered(finding) => Err(CliError::Tampered(finding.to_string())),
            }
        }
        AuditCommand::NoteKey => {
            let notes = note_key(&config)?;
            println!("origin: {}", notes.origin());
            println!("key: {}", notes.verifier_key());
            Ok(())
        }
        AuditCommand::Export(args) => {
            let filter = FilterParams {
                from: args.from,
                to: args.to,
                citizen: args.citizen,
                department: args.department,
                action: args.action,
                ..FilterParams::default()
            }
            .filter()?;
            record_export(&log, &filter, args.format).await?;
            // The export holds every record committed before it, its own included: integrate
            // what waits in the queue (PostgreSQL) first. Safe beside a running integrator.
            log.settle().await?;
            let count = match &args.output {
                Some(path) => {
                    let file = std::fs::File::create(path).map_err(|source| CliError::File {
                        what: "create",
                        path: path.clone(),
                        source,
                    })?;
                    let mut out = std::io::BufWriter::new(file);
                    export::export(&db, &filter, args.format, args.proofs, &mut out).await
                }
                None => {
                    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                    export::export(&db, &filter, args.format, args.proofs, &mut out).await
                }
            }
            .map_err(|e| CliError::Other(e.to_string()))?;
            if let Some(path) = &args.output {
                println!("exported {count} records to {}", path.display());
            } else {
                let _ = std::io::stderr().flush();
            }
            Ok(())
        }
    }
}

fn note_key(config: &Config) -> Result<CheckpointNotes, CliError> {
    let origin = services::audit_log::origin(config.audit.origin.as_deref(), &config.public_url);
    let signer = services::keys::open_note_key(&config.data_dir, &origin)?;
    Ok(CheckpointNotes::new(origin, signer))
}

/// The witnesses' part of `verify`, once the log itself is clean: each stored cosignature
/// verifies with its witness's configured key, and names a size and root the tree has.
async fn verify_witnessed(
    config: &Config,
    db: &sea_orm::DatabaseConnection,
    tree_size: u64,
) -> Result<Option<String>, CliError> {
    let witnesses = witnesses::configured(&config.audit.witnesses)?;
    let notes = note_key(config)?;
    match witnesses::verify_cosignatures(db, &notes, &witnesses, tree_size).await? {
        Ok(summary) => {
            let latest: Vec<String> = witnesses
                .iter()
                .map(|w| match summary.latest.get(&w.name) {
                    Some(size) => format!("`{}` up to size {size}", w.name),
                    None => format!("`{}` none yet", w.name),
                })
                .collect();
            if witnesses.is_empty() {
                return Ok((summary.unconfigured > 0).then(|| {
                    format!(
                        "ok: no witness is configured: {} stored witness cosignatures not checked",
                        summary.unconfigured
                    )
                }));
            }
            Ok(Some(format!(
                "ok: {} witness cosignatures verified ({}){}",
                summary.verified,
                latest.join(", "),
                if summary.unconfigured > 0 {
                    format!(
                        "; {} by witnesses no longer configured not checked",
                        summary.unconfigured
                    )
                } else {
                    String::new()
                }
            )))
        }
        Err(finding) => Err(CliError::Tampered(finding.to_string())),
    }
}

/// An operator's export is recorded like an officer's.
async fn record_export(log: &AuditLog, filter: &Filter, format: Format) -> Result<(), CliError> {
    let mut record = AuditLog::record(
        Action::OfficerExport,
        Outcome::Ok,
        Actor::new(ActorKind::Operator, "cli"),
    );
    record.detail = filter.describe();
    record
        .detail
        .insert("format".into(), format.extension().to_owned());
    log.append(record).await?;
    Ok(())
}
