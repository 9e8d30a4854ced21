//! The consent ledger end to end: a department (the real `openid-client` peer) asks a citizen for
//! consent, the citizen answers on the broker's pages (over HTTP, and in headless Chromium), the
//! receipt verifies with an independent JOSE implementation, revocation and expiry reach the
//! department, and bad input changes nothing.

mod api;
mod browser;
mod digest;
mod import;
mod lifecycle;
mod notices;
mod takeout;

use broker_e2e::departments::{TestDepartment, register};
use broker_e2e::*;
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};

/// The pension office of the demo catalogue, and its sector.
const ESD: &str = "employment-social-development";
const ESD_SECTOR: &str = "esd.gc.example";
const REVENUE: &str = "revenue-agency";
const REVENUE_SECTOR: &str = "revenue.gc.example";

/// Row counts of every table a consent change writes: consents, events, receipts, audit records.
async fn counts(db: &DatabaseConnection) -> [u64; 4] {
    broker_e2e::audit_settled(db).await;
    let ledger = services::consents::counts(db).await.unwrap();
    [
        ledger.consents,
        ledger.events,
        ledger.receipts,
        services::audit_log::entities::record::Entity::find()
            .count(db)
            .await
            .unwrap(),
    ]
}

/// `POST /api/v1/receipts/verify` with `receipt`: (status, JSON body).
async fn verify_receipt(broker: &Broker, receipt: &str) -> (u16, serde_json::Value) {
    let res = reqwest::Client::new()
        .post(broker.url("/api/v1/receipts/verify"))
        .json(&serde_json::json!({ "receipt": receipt }))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or_default())
}

/// Imports `citizen`'s consent to the pension office for their date of birth, given a day ago for
/// 30 days (through the ledger, as `broker consent import` does).
async fn pension_consent(
    w: &World,
    citizen: &str,
    mode: ::consent::Mode,
) -> (
    ::consent::Consent,
    services::consents::receipts::StoredReceipt,
) {
    let services = broker_e2e::services_for(&w.broker.env, &w.conn);
    let now = store::now_ms();
    services::consents::ledger::import(
        &services.ledger,
        "test-fixture",
        services::consents::ledger::ImportInput {
            citizen: citizen.to_owned(),
            department: ESD.to_owned(),
            purpose: "pension-enrolment".to_owned(),
            mode,
            attributes: vec!["birthdate".to_owned()],
            granted_at_ms: now - 86_400_000,
            expires_at_ms: now + 30 * 86_400_000,
            loa: 3,
            lang: services::lang::Lang::En,
        },
    )
    .await
    .unwrap()
}

/// A fresh database with the pension office and the revenue agency registered (each with a client
/// holding `consent:request`), and the broker running on it.
struct World {
    db: TestDb,
    conn: DatabaseConnection,
    broker: Broker,
    esd: TestDepartment,
    revenue: TestDepartment,
    _dir: tempfile::TempDir,
}

impl World {
    async fn start(env: BrokerEnv) -> World {
        let db = TestDb::new().await.unwrap();
        let conn = db.migrated().await.unwrap();
        let dir = temp_dir();
        let esd = register(
            &conn,
            dir.path(),
            ESD,
            ESD_SECTOR,
            "ES256",
            &["consent:request", "attributes:read"],
        )
        .await;
        let revenue = register(
            &conn,
            dir.path(),
            REVENUE,
            REVENUE_SECTOR,
            "EdDSA",
            &["consent:request"],
        )
        .await;
        let broker = Broker::start_with(&db, env).await;
        World {
            db,
            conn,
            broker,
            esd,
            revenue,
            _dir: dir,
        }
    }

    /// An access token for `dept` (through openid-client), for calls made with reqwest.
    fn token(&self, dept: &TestDepartment) -> String {
        let out = departments::call(&self.broker.base, dept, None, &["--print-token"]);
        out["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {out}"))
            .to_owned()
    }
}
