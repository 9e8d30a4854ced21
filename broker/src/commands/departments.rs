//! `broker departments …`: the operator's view of the registry. Every change is checked like a
//! registry file (it *is* one, built from the flags), written in one transaction, and recorded in
//! the audit log as an `admin-action`. Changes reach running brokers at once: the token endpoint
//! and the bearer check read the registry on every request.

use std::path::PathBuf;

use audit::{Action, Actor, ActorKind, Outcome};
use clap::{Args, Subcommand};
use sea_orm::DatabaseConnection;

use crate::cli::CliError;
use crate::config::Config;
use services::audit_log::AuditLog;
use services::departments::file::{self, ClientEntry, DepartmentEntry, RegistryFile};
use services::departments::{ClientKeys, Department};

#[derive(Debug, Subcommand)]
pub enum DepartmentsCommand {
    /// List the registered departments.
    List,
    /// Show one department and its clients (public keys, scopes, redirect and logout URIs) as
    /// JSON.
    Show {
        /// The department id.
        id: String,
    },
    /// Register or update departments and clients: from a registry file, or one from flags.
    Add(Box<AddArgs>),
    /// Refuse a department's token requests and API calls, at once.
    Disable {
        /// The department id.
        id: String,
    },
    /// Accept a disabled department's requests again.
    Enable {
        /// The department id.
        id: String,
    },
    /// Remove one client: its tokens stop working at their next use.
    RemoveClient {
        /// The client id.
        client_id: String,
    },
    /// Stop fetching a department's changes (its pull source is removed; the feed position is
    /// kept, so setting the same source again resumes where it stopped).
    RemovePullSource {
        /// The department id.
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Import a registry file (the format of `departments.registry_path`).
    #[arg(long, value_name = "FILE", conflicts_with = "id")]
    pub file: Option<PathBuf>,
    /// The department id (a catalogue department, or a new one described by the flags below).
    #[arg(required_unless_present = "file")]
    pub id: Option<String>,
    /// English name (new departments only).
    #[arg(long)]
    pub name_en: Option<String>,
    /// French name (new departments only).
    #[arg(long)]
    pub name_fr: Option<String>,
    /// Sector identifier its pairwise subject ids derive from (new departments only; never
    /// changes).
    #[arg(long)]
    pub sector: Option<String>,
    /// Attributes it is the authoritative source of (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub authoritative_for: Option<Vec<String>>,
    /// Push changes to this RFC 8935 endpoint.
    #[arg(long, value_name = "URL", conflicts_with = "file_drop")]
    pub push_endpoint: Option<String>,
    /// Drop changes as JSON Lines batches in this directory (absolute).
    #[arg(long, value_name = "DIR")]
    pub file_drop: Option<PathBuf>,
    /// Fetch the department's changes from its REST API: pull adapter settings as JSON, e.g.
    /// `{"base_url": "https://dept.example/tuo", "poll_interval_secs": 300}`.
    #[arg(long, value_name = "JSON")]
    pub pull_source: Option<String>,
    /// Register (or replace) a client of the department.
    #[arg(long)]
    pub client_id: Option<String>,
    /// The client's public keys: a JWKS file.
    #[arg(
        long,
        value_name = "FILE",
        requires = "client_id",
        conflicts_with = "jwks_uri"
    )]
    pub jwks_file: Option<PathBuf>,
    /// The client's public keys: where it publishes its JWKS.
    #[arg(long, value_name = "URL", requires = "client_id")]
    pub jwks_uri: Option<String>,
    /// A scope for the client (repeat; default `attributes:read`).
    #[arg(long = "scope", value_name = "SCOPE", requires = "client_id")]
    pub scopes: Vec<String>,
    /// A redirect URI of the client, a web application signing citizens in through the broker
    /// (repeat; https, or http on 127.0.0.1, localhost or [::1]; kept exactly as written).
    #[arg(long = "redirect-uri", value_name = "URL", requires = "client_id")]
    pub redirect_uris: Vec<String>,
    /// Where the client lets the broker send a citizen after signing out (repeat).
    #[arg(
        long = "post-logout-redirect-uri",
        value_name = "URL",
        requires = "client_id"
    )]
    pub post_logout_redirect_uris: Vec<String>,
    /// Where the client receives logout tokens when a citizen signs out at the broker.
    #[arg(long, value_name = "URL", requires = "client_id")]
    pub backchannel_logout_uri: Option<String>,
}

impl AddArgs {
    /// The flags as a one-department registry file.
    fn to_file(&self) -> Result<RegistryFile, CliError> {
        if let Some(path) = &self.file {
            return Ok(file::load(path)?);
        }
        let delivery = match (&self.push_endpoint, &self.file_drop) {
            (Some(endpoint), _) => Some(serde_json::json!({"kind": "push", "endpoint": endpoint})),
            (None, Some(dir)) => Some(
                serde_json::json!({"kind": "file-drop", "directory": dir.display().to_string()}),
            ),
            (None, None) => None,
        };
        let pull_source = self
            .pull_source
            .as_deref()
            .map(serde_json::from_str::<serde_json::Value>)
            .transpose()
            .map_err(|e| {
                CliError::Other(format!(
                    "`--pull-source` is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ))
            })?;
        let mut client = Vec::new();
        if let Some(client_id) = &self.client_id {
            let mut entry = ClientEntry {
                client_id: client_id.clone(),
                scopes: (!self.scopes.is_empty()).then(|| self.scopes.clone()),
                jwks: None,
                jwks_file: self.jwks_file.clone(),
                jwks_uri: self.jwks_uri.clone(),
                redirect_uris: self.redirect_uris.clone(),
                post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
                backchannel_logout_uri: self.backchannel_logout_uri.clone(),
            };
            file::resolve_jwks_file(&mut entry, std::path::Path::new("."))?;
            client.push(entry);
        }
        Ok(RegistryFile {
            department: vec![DepartmentEntry {
                id: self.id.clone().unwrap_or_default(),
                name_en: self.name_en.clone(),
                name_fr: self.name_fr.clone(),
                sector_identifier: self.sector.clone(),
                authoritative_for: self.authoritative_for.clone(),
                delivery,
                pull_source,
                client,
            }],
        })
    }
}

/// Who ran the command, for the audit log.
fn operator() -> Actor {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    Actor::new(ActorKind::Operator, format!("cli:{user}"))
}

async fn record_change(
    log: &AuditLog,
    department: Option<&str>,
    client: Option<&str>,
    change: &str,
) -> Result<(), CliError> {
    let mut record = AuditLog::record(Action::AdminAction, Outcome::Ok, operator());
    record.department_id = department.map(str::to_owned);
    record.client_id = client.map(str::to_owned);
    record.detail.insert("change".into(), change.to_owned());
    log.append(record)
        .await
        .map_err(|e| CliError::Other(e.to_string()))?;
    Ok(())
}

/// Adapter settings for display: any `authorization` secret is redacted.
fn redacted(settings: &Option<serde_json::Value>) -> serde_json::Value {
    let mut value = settings.clone().unwrap_or(serde_json::Value::Null);
    if let Some(obj) = value.as_object_mut()
        && obj.contains_key("authorization")
    {
        obj.insert("authorization".into(), "[redacted]".into());
    }
    value
}

async fn show(db: &DatabaseConnection, d: &Department) -> Result<serde_json::Value, CliError> {
    let clients: Vec<serde_json::Value> = services::departments::clients_of(db, &d.id)
        .await?
        .into_iter()
        .map(|c| {
            let mut v = serde_json::json!({
                "client_id": c.client_id,
                "scopes": c.scopes,
                "redirect_uris": c.redirect_uris,
                "post_logout_redirect_uris": c.post_logout_redirect_uris,
                "backchannel_logout_uri": c.backchannel_logout_uri,
            });
            match c.keys {
                ClientKeys::Inline(jwks) => v["jwks"] = jwks,
                ClientKeys::Uri(uri) => v["jwks_uri"] = uri.into(),
            }
            v
        })
        .collect();
    let pull_source = services::departments::pull_source(db, &d.id).await?;
    let pull_state = services::relay::pull::store::get(db, &d.id)
        .await?
        .map(|state| {
            serde_json::json!({
                "cursor": state.cursor,
                "next_poll_at": state.next_poll_at,
                "failures": state.failures,
                "last_error": state.last_error,
                "last_success_at": state.last_success_at,
            })
        });
    Ok(serde_json::json!({
        "id": d.id,
        "name_en": d.name_en,
        "name_fr": d.name_fr,
        "sector_identifier": d.sector_identifier,
        "status": if d.active { "active" } else { "disabled" },
        "authoritative_for": d.authoritative_for,
        "delivery": redacted(&d.delivery),
        "pull_source": redacted(&pull_source),
        "pull_state": pull_state,
        "clients": clients,
    }))
}

/// Enables or disables a department (`services::admin::set_department_active`: disabling
/// cancels everything queued for it, in the same transaction).
async fn set_active(
    db: &DatabaseConnection,
    log: &AuditLog,
    id: &str,
    active: bool,
) -> Result<(), CliError> {
    let cancelled = services::admin::set_department_active(db, log, id, active, operator())
        .await
        .map_err(|e| match e {
            services::admin::AdminError::UnknownDepartment(id) => CliError::UnknownDepartment(id),
            other => CliError::Admin(other),
        })?;
    if active {
        println!("enabled {id}");
    } else {
        println!("disabled {id}; {cancelled} queued deliveries cancelled");
    }
    Ok(())
}

/// Runs one `broker departments` command.
pub async fn run(command: DepartmentsCommand, config: Config) -> Result<(), CliError> {
    let db = crate::cli::connect(&config).await?;
    if config.database.migrate_on_start {
        store::migrate(&db).await?;
    } else {
        store::ensure_current(&db).await?;
    }
    let policy = services::policy::load(&config.catalogue)?;
    services::departments::sync_catalogue(&db, policy.catalogue().departments()).await?;
    let log = || -> Result<AuditLog, CliError> {
        let keys = std::sync::Arc::new(services::keys::open_signing_keys(
            &config.keys,
            &config.data_dir,
        )?);
        Ok(AuditLog::for_command(
            db.clone(),
            keys,
            config.audit.checkpoint_policy(),
        ))
    };
    match command {
        DepartmentsCommand::List => {
            for d in services::departments::list(&db).await? {
                let clients = services::departments::clients_of(&db, &d.id).await?.len();
                println!(
                    "{:<32} {:<8} {:<32} {} client(s)  {}",
                    d.id,
                    if d.active { "active" } else { "disabled" },
                    d.sector_identifier,
                    clients,
                    d.name_en
                );
            }
        }
        DepartmentsCommand::Show { id } => {
            let d = services::departments::get(&db, &id)
                .await?
                .ok_or_else(|| CliError::UnknownDepartment(id.clone()))?;
            let shown = show(&db, &d).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&shown).map_err(|e| CliError::Other(e.to_string()))?
            );
        }
        DepartmentsCommand::Add(args) => {
            let registry = args.to_file()?;
            let applied = file::apply(&db, policy.catalogue(), &registry).await?;
            let log = log()?;
            for id in &applied.added {
                record_change(&log, Some(id), None, "department-added").await?;
                println!("added department {id}");
            }
            for id in &applied.updated {
                record_change(&log, Some(id), None, "department-updated").await?;
                println!("updated department {id}");
            }
            for id in &applied.pull_sources {
                record_change(&log, Some(id), None, "pull-source-set").await?;
                println!("set the pull source of {id}");
            }
            for (client, department) in applied.clients.iter().zip(&applied.client_departments) {
                record_change(&log, Some(department), Some(client), "client-registered").await?;
                println!("registered client {client}");
            }
        }
        DepartmentsCommand::Disable { id } => set_active(&db, &log()?, &id, false).await?,
        DepartmentsCommand::Enable { id } => set_active(&db, &log()?, &id, true).await?,
        DepartmentsCommand::RemoveClient { client_id } => {
            let client = services::departments::client(&db, &client_id)
                .await?
                .ok_or_else(|| CliError::UnknownClient(client_id.clone()))?;
            services::departments::remove_client(&db, &client_id).await?;
            record_change(
                &log()?,
                Some(&client.department_id),
                Some(&client_id),
                "client-removed",
            )
            .await?;
            println!("removed client {client_id} of {}", client.department_id);
        }
        DepartmentsCommand::RemovePullSource { id } => {
            if services::departments::pull_source(&db, &id)
                .await?
                .is_none()
            {
                return Err(CliError::NoPullSource(id));
            }
            services::departments::set_pull_source(&db, &id, None).await?;
            record_change(&log()?, Some(&id), None, "pull-source-removed").await?;
            println!("removed the pull source of {id}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: DepartmentsCommand,
    }

    fn add(args: &[&str]) -> Result<RegistryFile, String> {
        let cli = Cli::try_parse_from(["departments", "add"].iter().chain(args))
            .map_err(|e| e.to_string())?;
        match cli.command {
            DepartmentsCommand::Add(args) => args.to_file().map_err(|e| e.to_string()),
            other => Err(format!("parsed as {other:?}")),
        }
    }

    #[test]
    fn the_web_application_flags_fill_the_clients_entry() {
        let file = add(&[
            "revenue-agency",
            "--client-id",
            "cra-web",
            "--jwks-uri",
            "https://cra.example/jwks",
            "--redirect-uri",
            "https://cra.example/cb",
            "--redirect-uri",
            "http://127.0.0.1:3000/cb",
            "--post-logout-redirect-uri",
            "https://cra.example/bye",
            "--backchannel-logout-uri",
            "https://cra.example/logout",
        ])
        .unwrap();
        let client = &file.department[0].client[0];
        assert_eq!(
            client.redirect_uris,
            ["https://cra.example/cb", "http://127.0.0.1:3000/cb"]
        );
        assert_eq!(
            client.post_logout_redirect_uris,
            ["https://cra.example/bye"]
        );
        assert_eq!(
            client.backchannel_logout_uri.as_deref(),
            Some("https://cra.example/logout")
        );
        // Without them, a client has none.
        let file = add(&["revenue-agency", "--client-id", "cra-batch"]).unwrap();
        let client = &file.department[0].client[0];
        assert!(client.redirect_uris.is_empty() && client.post_logout_redirect_uris.is_empty());
        assert_eq!(client.backchannel_logout_uri, None);
    }

    #[test]
    fn the_web_application_flags_need_a_client() {
        for flag in [
            "--redirect-uri",
            "--post-logout-redirect-uri",
            "--backchannel-logout-uri",
        ] {
            let err = add(&["revenue-agency", flag, "https://cra.example/cb"]).unwrap_err();
            assert!(err.contains("--client-id"), "{flag}: {err}");
        }
    }
}
