//! `broker demo`: the whole service on one machine with no external service: SQLite in a data
//! directory, demo data, and the URLs to open. Each capability adds its part of the story here.

pub mod consents;
pub mod delegation;
pub mod dev_provider;
pub mod mail_catcher;
pub mod relay;
pub mod release;
pub mod sample_app;
pub mod signin;
pub mod witness;

use std::path::PathBuf;

use clap::Args;

use crate::cli::CliError;
use crate::config::Config;

/// What the demo seeds with: every service, and the demo's configuration.
#[derive(Debug)]
pub struct Seeding {
    pub services: services::Services,
    pub config: Config,
}

impl std::ops::Deref for Seeding {
    type Target = services::Services;
    fn deref(&self) -> &services::Services {
        &self.services
    }
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo keeps its database and keys (a fresh temporary directory when omitted).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Port for the broker; the demo's development services use the next ports.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

pub async fn run(args: DemoArgs, config_file: Option<&std::path::Path>) -> Result<(), CliError> {
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => std::env::temp_dir().join(format!("tuo-demo-{}", uuid::Uuid::now_v7().simple())),
    };
    std::fs::create_dir_all(&data_dir).map_err(|source| CliError::File {
        what: "create",
        path: data_dir.clone(),
        source,
    })?;
    let mut config = crate::cli::load_config(config_file)?;
    let base = format!("http://127.0.0.1:{}", args.port);
    config = Config {
        data_dir: data_dir.clone(),
        public_url: base.clone(),
        bind: format!("127.0.0.1:{}", args.port),
        database_url: None,
        ..config
    };
    config.server.insecure_cookies = true;
    crate::telemetry::init(&config);
    let dev_providers = signin::start(&mut config, &data_dir, &base, args.port)
        .await
        .map_err(CliError::Other)?;
    let receiver = crate::demo::relay::start_receiver(args.port.saturating_add(3))?;
    let sample = sample_app::start(args.port.saturating_add(4), &base, &data_dir)?;
    let witness = witness::start(&mut config, &data_dir)?;
    let mail = mail_catcher::start(args.port.saturating_add(5), &data_dir).await?;
    digest_to(&mut config, &mail);
    let (alice, drop, cosigned, delegated) = seed(&config, &receiver, &sample).await?;
    println!();
    println!(
        "Tell Us Once broker — demo (data in {})",
        data_dir.display()
    );
    println!();
    println!("  Start page          {base}/");
    println!("  Sign in             {base}/signin");
    for p in &dev_providers {
        println!(
            "    development provider (NOT FOR PRODUCTION) at {}",
            p.issuer
        );
    }
    println!(
        "    personas: Alice Tremblay (both providers; her bank identity is already linked to"
    );
    println!(
        "    the demo citizen, with a pending request from the pension office), Bob Singh (bank)"
    );
    println!("  Officer sign-in     {base}/officer/signin  (Olivier Officer, provincial ID)");
    println!("  Officer console     {base}/officer  (search, export, {base}/officer/unusual)");
    println!("  My consents         {base}/me/consents  (requests: {base}/me/requests)");
    println!("  Update my address   {base}/me/update  (reaches two departments; watch the status)");
    for line in crate::demo::relay::describe(&receiver, &drop) {
        println!("{line}");
    }
    println!("{}", sample_app::describe(&sample));
    println!("  My activity         {base}/me/activity  (every access, with its proof)");
    for line in crate::demo::delegation::describe(&base, delegated) {
        println!("{line}");
    }
    println!(
        "  My takeout          {base}/me/export  (everything about Alice, signed; check it below)"
    );
    println!(
        "  My notices          {base}/me/notices  (each use of her data; e-mail digest settings: {base}/me/notices/digest)"
    );
    println!(
        "  Mail catcher        smtp://127.0.0.1:{}  (development only; in the demo a \"week\" lasts 30 seconds,",
        mail.port
    );
    println!(
        "                      so Alice's weekly digest follows a use of her data within a minute: {})",
        mail.dir.join("<n>.eml").display()
    );
    println!(
        "  Audit checkpoint    {base}/api/v1/audit/checkpoint  (cosigned by the demo witness at {witness}; its state: {})",
        data_dir.join("witness/witness-state.json").display()
    );
    if let Some((size, root)) = cosigned {
        println!(
            "                      the witness has cosigned the log at size {size}, root {}",
            root.to_hex()
        );
    }
    println!("  API reference       {base}/docs/api");
    println!("  OpenAPI document    {base}/openapi.json");
    println!("  Signing keys        {base}/jwks.json");
    println!("  Health / readiness  {base}/healthz  {base}/readyz");
    println!("  Metrics             {base}/metrics");
    println!();
    println!(
        "A department's system fetches Alice's signed attributes (openid-client; run from the"
    );
    println!("repository after `npm ci --prefix tests/peers`):");
    println!();
    println!("  {}", alice.command);
    println!();
    println!(
        "The same, as an SD-JWT bound to the department's key; it passes on only her date of birth"
    );
    println!("with a Key Binding JWT, and a contractor verifies it (@sd-jwt/core):");
    println!();
    println!("  {}", alice.sd_jwt_command);
    println!();
    println!(
        "Verify or export the audit log, and check a downloaded takeout (from another terminal):"
    );
    println!();
    // Printed so that it works as printed: this binary's own path (`cargo run` does not put
    // `broker` on the PATH), quoted for the shell.
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "broker".to_owned());
    let data = shell_quote(&data_dir.display().to_string());
    let exe = shell_quote(&exe);
    println!("  BROKER_DATA_DIR={data} {exe} audit verify");
    println!("  BROKER_DATA_DIR={data} {exe} audit export --format csv");
    println!(
        "  {exe} verify-bundle takeout-*.jws  (Alice's takeout, downloaded from her dashboard)"
    );
    println!();
    println!("Press Ctrl-C to stop.");
    crate::cli::serve(config, true).await
}

/// The demo sends notice digests to its mail catcher, weekly by default, a "week" lasting a
/// 30 seconds so that a digest arrives while one watches.
fn digest_to(config: &mut Config, mail: &mail_catcher::Running) {
    use services::digests::{Frequency, SmtpSecurity};
    config.digest.enabled = true;
    config.digest.default_frequency = Frequency::Weekly;
    config.digest.compressed_week_secs = 30;
    config.digest.check_every_secs = 5;
    config.digest.retry_after_secs = 5;
    config.digest.from = "Tell Us Once demo <notices@demo.example>".to_owned();
    config.digest.smtp.host = "127.0.0.1".to_owned();
    config.digest.smtp.port = mail.port;
    config.digest.smtp.security = SmtpSecurity::None;
}

/// Seeds the demo world on the demo database before the server starts: the pension office's
/// client and key, Alice with her facts, consent and bank identity link, and the pension office's
/// pending request to her, the relay's two demo departments' delivery, her ongoing address
/// consents to them, and the sample department web application's client.
/// Idempotent per data directory.
async fn seed(
    config: &Config,
    receiver: &str,
    sample: &sample_app::Running,
) -> Result<
    (
        crate::demo::release::Prepared,
        std::path::PathBuf,
        Option<(u64, audit::Hash)>,
        bool,
    ),
    CliError,
> {
    let db = crate::cli::connect(config).await?;
    store::migrate(&db).await?;
    let state = Seeding {
        services: crate::serve::services(config, &db)?,
        config: config.clone(),
    };
    let alice = crate::demo::release::prepare(&state).await?;
    crate::demo::consents::seed_requests(&state.ledger, &alice.citizen_id)
        .await
        .map_err(|e| CliError::Other(format!("demo: the pension office's request: {e}")))?;
    let drop = crate::demo::relay::prepare(&state, receiver).await?;
    crate::demo::relay::seed_consents(&state.ledger, &alice.citizen_id).await?;
    sample_app::prepare(&state, sample).await?;
    let delegated = crate::demo::delegation::seed(&state, &alice.citizen_id).await?;
    let cosigned = witness::cosign_seeded(&state).await?;
    state.services.db.clone().close().await?;
    Ok((alice, drop, cosigned, delegated))
}

/// `s` as one shell word: as it is when it holds only safe characters, else single-quoted.
fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+:=@%,".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
