//! The demo's witness: `broker witness` in this process, on a free port, following the demo
//! log, its key and state in `<data_dir>/witness/`. The broker sends it each new checkpoint.

use std::path::Path;

use services::audit_log::WitnessConfig;

use crate::cli::CliError;
use crate::config::Config;

/// The name the demo's witness signs with.
const NAME: &str = "demo-commissioner.example/witness";

/// Starts the witness and configures the broker to send to it; returns its URL.
pub fn start(config: &mut Config, data_dir: &Path) -> Result<String, CliError> {
    let origin = services::audit_log::origin(config.audit.origin.as_deref(), &config.public_url);
    let note_key = services::keys::open_note_key(data_dir, &origin)?.verifier_key();
    let dir = data_dir.join("witness");
    std::fs::create_dir_all(&dir).map_err(|source| CliError::File {
        what: "create",
        path: dir.clone(),
        source,
    })?;
    let file = dir.join("witness.toml");
    let text = format!(
        "name = \"{NAME}\"\nbind = \"127.0.0.1:0\"\nkey_file = \"witness.key\"\n\
         state_file = \"witness-state.json\"\n\n[[logs]]\norigin = \"{origin}\"\nkey = \"{note_key}\"\n"
    );
    std::fs::write(&file, text).map_err(|source| CliError::File {
        what: "write",
        path: file.clone(),
        source,
    })?;
    let started = crate::commands::witness::start(&file)?;
    let addr = started
        .addrs
        .first()
        .ok_or_else(|| CliError::Other("the demo witness has no address".into()))?;
    let url = format!("http://{addr}");
    tokio::spawn(started.server);
    config.audit.witnesses.push(WitnessConfig {
        name: "demo-commissioner".into(),
        url: url.clone(),
        key: started.key.to_string(),
    });
    Ok(url)
}

/// Signs a checkpoint of the seeded log and has the demo witness cosign it now, so the banner can
/// show the cosigned checkpoint (the broker keeps sending newer ones in the background).
pub async fn cosign_seeded(state: &super::Seeding) -> Result<Option<(u64, audit::Hash)>, CliError> {
    let witnesses = services::audit_log::witnesses::configured(&state.config.audit.witnesses)
        .map_err(|e| CliError::Other(format!("demo witness: {e}")))?;
    state
        .audit
        .checkpoint_now()
        .await
        .map_err(|e| CliError::Other(format!("demo checkpoint: {e}")))?;
    services::audit_log::witnesses::cosign_once(
        &state.db,
        &state.records.notes,
        witnesses,
        &state.http,
        &state.records.cosigned,
    )
    .await
    .map_err(|e| CliError::Other(format!("demo witness: {e}")))
}
