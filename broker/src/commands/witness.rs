//! `broker witness FILE`: a minimal C2SP `tlog-witness` that an independent body (a privacy
//! commissioner, an auditor general) runs to cosign the checkpoints of the logs it follows.
//!
//! It serves `POST /add-checkpoint` and nothing else that changes state. The decision is
//! `audit::Witness` (a pure state machine); around it this module keeps, per log, only the
//! latest checkpoint it cosigned, in one JSON file written whole (temporary file, fsync, rename)
//! before the cosignature is sent. Requests are decided one at a time under one lock, so two
//! concurrent ones can never store an older size over a newer one. A refused checkpoint that
//! the log signed and that contradicts what was cosigned (a rollback, a fork, an inconsistent
//! proof) is appended to an evidence file: it is proof that the log misbehaved.
//!
//! It needs no database and none of the broker's configuration: its own file names its key,
//! its state, where it listens and the logs it follows.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::{App, HttpResponse, HttpServer, post, web};
use audit::{AddCheckpoint, CosignatureSigner, KeyName, LogState, VerifierKey, Witness};
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::cli::CliError;

#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// The witness's TOML file (see docs/audit.md, "Running a witness").
    pub file: PathBuf,
    /// Print the witness's verifier key (generating its key on first use) and exit.
    #[arg(long)]
    pub print_key: bool,
}

/// The witness's file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WitnessFile {
    /// The witness's key name, written on its cosignatures (e.g. `commissioner.example/witness`).
    name: String,
    /// Where it listens (`host:port`).
    #[serde(default = "default_bind")]
    bind: String,
    /// Its private key (`PRIVATE+KEY+<name>+<id>+<base64>`), generated here with mode 0600 on
    /// first use. Relative paths are relative to the file.
    key_file: PathBuf,
    /// The latest checkpoint cosigned per log. Relative to the file.
    state_file: PathBuf,
    /// The logs it follows.
    #[serde(default)]
    logs: Vec<LogEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogEntry {
    /// The log's origin, the first line of its checkpoints.
    origin: String,
    /// The log's note verifier key (`broker audit note-key` prints it).
    key: String,
}

fn default_bind() -> String {
    "127.0.0.1:7380".into()
}

/// What is kept: the latest cosigned checkpoint per origin.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    logs: BTreeMap<String, LogState>,
}

struct Shared {
    witness: Witness,
    stored: tokio::sync::Mutex<Stored>,
    state_file: PathBuf,
    evidence_file: PathBuf,
}

/// A witness bound to its address, not yet serving.
pub struct Started {
    /// Serves until stopped; await or spawn it.
    pub server: actix_web::dev::Server,
    /// Where it listens (the bind address resolved: port 0 becomes the port given).
    pub addrs: Vec<std::net::SocketAddr>,
    /// The witness's verifier key, for the logs it follows.
    pub key: VerifierKey,
}

pub async fn run(args: WitnessArgs) -> Result<(), CliError> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .try_init();
    if args.print_key {
        let (file, base) = load(&args.file)?;
        println!(
            "{}",
            open_key(&base.join(&file.key_file), &file.name)?.verifier_key()
        );
        return Ok(());
    }
    let started = start(&args.file)?;
    for addr in &started.addrs {
        println!("witness {} listening on {addr}", started.key);
    }
    started
        .server
        .await
        .map_err(|e| CliError::Other(format!("witness server failed: {e}")))
}

/// The witness's file, and the directory its relative paths are relative to.
fn load(path: &Path) -> Result<(WitnessFile, PathBuf), CliError> {
    let text = read(path)?;
    let file: WitnessFile =
        toml::from_str(&text).map_err(|e| CliError::Other(format!("`{}`: {e}", path.display())))?;
    let base = path.parent().unwrap_or(Path::new(".")).to_owned();
    Ok((file, base))
}

/// Loads the witness of `path` (its key generated on first use) and binds its address.
pub fn start(path: &Path) -> Result<Started, CliError> {
    let (file, base) = load(path)?;
    let state_file = base.join(&file.state_file);
    let cosigner = open_key(&base.join(&file.key_file), &file.name)?;
    let mut witness = Witness::new(cosigner);
    for log in &file.logs {
        let key = VerifierKey::parse(&log.key).map_err(|e| {
            CliError::Other(format!(
                "the key of log `{}` is not a verifier key: {e}",
                log.origin
            ))
        })?;
        witness = witness.follow(log.origin.clone(), key);
    }
    let stored = if state_file.exists() {
        serde_json::from_str(&read(&state_file)?).map_err(|e| {
            CliError::Other(format!(
                "`{}` is not a witness state: {e}",
                state_file.display()
            ))
        })?
    } else {
        Stored::default()
    };
    let key = witness.verifier_key();
    let shared = Arc::new(Shared {
        witness,
        stored: tokio::sync::Mutex::new(stored),
        evidence_file: state_file.with_extension("evidence"),
        state_file,
    });
    let data = web::Data::from(shared);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(64 * 1024))
            .service(add_checkpoint)
    })
    .workers(1)
    .bind(&file.bind)
    .map_err(|source| CliError::Other(format!("cannot listen on `{}`: {source}", file.bind)))?;
    let addrs = server.addrs();
    Ok(Started {
        server: server.run(),
        addrs,
        key,
    })
}

/// C2SP `tlog-witness` `add-checkpoint`.
#[post("/add-checkpoint")]
async fn add_checkpoint(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    let request = match AddCheckpoint::parse(&body) {
        Ok(r) => r,
        Err(e) => return plain(400, format!("{e}\n")),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // INVARIANT: deciding and storing happen under one lock, and the state is on disk before
    // the cosignature leaves.
    let mut stored = shared.stored.lock().await;
    let origin = request.origin().to_owned();
    match shared
        .witness
        .add_checkpoint(&request, stored.logs.get(&origin), now)
    {
        Ok(cosigned) => {
            let previous = stored.logs.insert(origin.clone(), cosigned.state);
            if let Err(e) = save(&shared.state_file, &stored) {
                match previous {
                    Some(p) => stored.logs.insert(origin, p),
                    None => stored.logs.remove(&origin),
                };
                tracing::error!(error = %e, "witness: cannot store the state");
                return plain(500, "cannot store the state\n".into());
            }
            tracing::info!(%origin, size = cosigned.state.size, "witness: cosigned");
            plain(200, cosigned.response_body())
        }
        Err(refusal) => {
            tracing::warn!(%origin, %refusal, "witness: refused a checkpoint");
            if refusal.worth_keeping()
                && let Err(e) = keep_evidence(&shared.evidence_file, &refusal, &body)
            {
                tracing::error!(error = %e, "witness: cannot keep the evidence");
            }
            let status = refusal.spec_status();
            match refusal.conflict_body() {
                Some(size) => HttpResponse::build(code(status))
                    .content_type("text/x.tlog.size")
                    .body(size),
                None => plain(status, format!("{refusal}\n")),
            }
        }
    }
}

fn code(status: u16) -> actix_web::http::StatusCode {
    actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
}

fn plain(status: u16, body: String) -> HttpResponse {
    HttpResponse::build(code(status))
        .content_type("text/plain; charset=utf-8")
        .body(body)
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::File {
        what: "read",
        path: path.to_owned(),
        source,
    })
}

/// The witness's key, generated into `path` (mode 0600) on first use.
fn open_key(path: &Path, name: &str) -> Result<CosignatureSigner, CliError> {
    if path.exists() {
        let secret = read(path)?;
        let signer = CosignatureSigner::parse(secret.trim()).map_err(|e| {
            CliError::Other(format!("`{}` is not a witness key: {e}", path.display()))
        })?;
        if signer.name().as_str() != name {
            return Err(CliError::Other(format!(
                "`{}` is the key of `{}`, not of `{name}`",
                path.display(),
                signer.name()
            )));
        }
        return Ok(signer);
    }
    let name = KeyName::new(name)
        .map_err(|e| CliError::Other(format!("`{name}` cannot name a key: {e}")))?;
    let (signer, secret) = CosignatureSigner::generate(name, &ring::rand::SystemRandom::new())
        .map_err(|e| CliError::Other(format!("cannot generate the witness key: {e}")))?;
    write_whole(path, format!("{}\n", secret.expose()).as_bytes(), 0o600).map_err(|source| {
        CliError::File {
            what: "write",
            path: path.to_owned(),
            source,
        }
    })?;
    Ok(signer)
}

/// Writes the state whole: a crash leaves the old state or the new one, never half of one.
fn save(path: &Path, stored: &Stored) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(stored).map_err(std::io::Error::other)?;
    write_whole(path, &json, 0o644)
}

fn write_whole(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::now_v7().simple()));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Appends a refused request the log signed (JSON Lines: time, refusal, the request's text).
fn keep_evidence(path: &Path, refusal: &audit::Refusal, body: &[u8]) -> std::io::Result<()> {
    let line = serde_json::json!({
        "received_at": chrono::Utc::now().to_rfc3339(),
        "refusal": refusal.to_string(),
        "request": String::from_utf8_lossy(body),
    });
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(file, "{line}")?;
    file.sync_all()
}
