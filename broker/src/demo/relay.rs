//! The relay's part of `broker demo`: two departments receive address changes, the revenue
//! agency by HTTP push to a development receiver (started here, on the port after the demo's
//! providers, clearly labelled as not for production) and the provincial health insurance plan by
//! file drop (JSON Lines files in `<data dir>/demo/drop/health-insurance`, a batch every minute).
//! The demo citizen, Alice, holds ongoing address consents to both, so she changes her address
//! once on "Update my information" and watches it reach both (Bob, who holds none, sees that his
//! change reaches nobody).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Mutex;

use actix_web::{App, HttpResponse, HttpServer, get, post, web};
use consent::Mode;
use services::consents::Ledger;

use crate::cli::CliError;
use services::departments;

/// The push receiver's department, and the consent it holds.
pub const PUSH_DEPARTMENT: &str = "revenue-agency";
pub const PUSH_PURPOSE: &str = "benefit-eligibility";
/// The file-drop department, and the consent it holds.
pub const DROP_DEPARTMENT: &str = "health-insurance";
pub const DROP_PURPOSE: &str = "health-coverage-administration";

#[derive(Default)]
struct Received(Mutex<VecDeque<(String, String, String)>>);

#[post("/events/{department}")]
async fn receive(
    received: web::Data<Received>,
    department: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    // Development only: a real receiver verifies the SET against the broker's /jwks.json.
    let payload = std::str::from_utf8(&body)
        .ok()
        .and_then(|jws| jws.split('.').nth(1))
        .and_then(|p| services::jose::b64_decode(p).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    let Some(payload) = payload else {
        return HttpResponse::BadRequest()
            .json(serde_json::json!({"err": "invalid_request", "description": "not a SET"}));
    };
    let jti = payload["jti"].as_str().unwrap_or_default().to_owned();
    let event = payload["events"]
        .as_object()
        .and_then(|e| e.keys().next().cloned())
        .unwrap_or_default();
    tracing::info!(department = %department, %jti, %event, "development receiver: SET received");
    if let Ok(mut list) = received.0.lock()
        && !list.iter().any(|(_, j, _)| *j == jti)
    {
        list.push_front((department.into_inner(), jti, event));
        list.truncate(100);
    }
    HttpResponse::Accepted().finish()
}

#[get("/")]
async fn index(received: web::Data<Received>) -> HttpResponse {
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"5\"><title>Development receiver</title></head><body><h1>Development receiver — NOT FOR PRODUCTION</h1><p>Security Event Tokens pushed by the demo broker (RFC 8935), newest first. A real department verifies each one against the broker's /jwks.json.</p><table><tr><th>department</th><th>jti</th><th>event</th></tr>",
    );
    if let Ok(list) = received.0.lock() {
        for (department, jti, event) in list.iter() {
            let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;");
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(department),
                esc(jti),
                esc(event)
            ));
        }
    }
    html.push_str("</table></body></html>");
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}

/// Starts the development receiver on `port` (any free port if that one is taken) and returns its
/// base URL.
pub fn start_receiver(port: u16) -> Result<String, CliError> {
    let received = web::Data::new(Received::default());
    let make = || {
        let received = received.clone();
        HttpServer::new(move || {
            App::new()
                .app_data(received.clone())
                .service(receive)
                .service(index)
        })
        .workers(1)
        .disable_signals()
    };
    let server = match make().bind(("127.0.0.1", port)) {
        Ok(server) => server,
        Err(_) => make()
            .bind(("127.0.0.1", 0))
            .map_err(|e| other("cannot start the development receiver", e))?,
    };
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| other("the development receiver", "no address"))?;
    tokio::spawn(server.run());
    Ok(format!("http://{addr}"))
}

fn other(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::Other(format!("demo: {what}: {e}"))
}

/// Configures the two demo departments' delivery (push to `receiver`, file drop under
/// `data_dir`), on the demo database the catalogue departments were synced into. Returns the
/// drop directory.
pub async fn prepare(
    state: &super::Seeding,
    receiver: &str,
) -> Result<std::path::PathBuf, CliError> {
    let db = &state.db;
    let drop = state
        .config
        .data_dir
        .join("demo")
        .join("drop")
        .join(DROP_DEPARTMENT);
    std::fs::create_dir_all(&drop).map_err(|e| other("cannot create the drop directory", e))?;
    let drop = std::fs::canonicalize(&drop).map_err(|e| other("the drop directory", e))?;
    for (id, delivery) in [
        (
            PUSH_DEPARTMENT,
            serde_json::json!({"kind": "push", "endpoint": format!("{receiver}/events/{PUSH_DEPARTMENT}"), "timeout_ms": 3000}),
        ),
        (
            DROP_DEPARTMENT,
            serde_json::json!({"kind": "file-drop", "directory": drop.display().to_string(), "batch_interval_secs": 60}),
        ),
    ] {
        let mut department = departments::get(db, id)
            .await?
            .ok_or_else(|| other("the catalogue", format!("`{id}` is missing")))?;
        department.delivery = Some(delivery);
        departments::upsert(db, &department).await?;
    }
    Ok(drop)
}

/// Gives the demo citizen ongoing address consents to both demo departments (demo only: a real
/// citizen grants these on the consent pages). Idempotent: an existing ongoing consent to a
/// department is left as it is.
pub async fn seed_consents(ledger: &Ledger, citizen: &str) -> Result<(), CliError> {
    let existing = services::consents::for_citizen(&ledger.db, citizen)
        .await
        .map_err(|e| other("the consents", e))?;
    for (department, purpose) in [
        (PUSH_DEPARTMENT, PUSH_PURPOSE),
        (DROP_DEPARTMENT, DROP_PURPOSE),
    ] {
        if existing
            .iter()
            .any(|c| c.department() == department && c.mode() == Mode::Ongoing)
        {
            continue;
        }
        // Through the consent ledger, as her own grant on the consent page would be: with its
        // receipt and its audit record.
        services::consents::ledger::grant_own(
            ledger,
            &services::consents::ledger::Citizen {
                id: citizen,
                loa: 2,
                lang: services::lang::Lang::En,
            },
            services::consents::ledger::GrantInput {
                department: department.to_owned(),
                purpose: purpose.to_owned(),
                mode: "ongoing".to_owned(),
                attributes: vec!["address".to_owned()],
                duration_days: Some(180),
            },
        )
        .await
        .map_err(|e| other("the consent", e))?;
    }
    Ok(())
}

/// For the banner: where the demo's deliveries can be watched.
pub fn describe(receiver: &str, drop: &Path) -> Vec<String> {
    vec![
        format!(
            "  Development receiver (NOT FOR PRODUCTION) {receiver}/  (revenue agency, HTTP push)"
        ),
        format!(
            "  File drop           {}  (health insurance plan, a batch every minute)",
            drop.display()
        ),
    ]
}
