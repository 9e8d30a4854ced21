//! Delegation end to end, through the real binary: a citizen offers a delegation and another
//! accepts it and acts for them in headless Chromium (banner in both languages, her address
//! updated, the act on her activity page, the delegation ended and the next request refused); a
//! department registers a guardianship through the API (`private_key_jwt`, `delegations:write`);
//! and the attacks (acting for someone who never delegated, after an end, beyond a power, an
//! attribute or the time, onward without permission) each refused with its code, nothing written.

mod api;
mod browser;
mod demo;

use broker_e2e::citizens::SignedIn;
use broker_e2e::departments::{TestDepartment, register};
use broker_e2e::*;
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};

const REVENUE: &str = "revenue-agency";
const REVENUE_SECTOR: &str = "revenue.gc.example";
const ESD: &str = "employment-social-development";
const ESD_SECTOR: &str = "esd.gc.example";

/// A fresh database with the revenue agency (a client holding `delegations:write`) and the
/// pension office (a client without it), and the broker running on it.
struct World {
    _db: TestDb,
    conn: DatabaseConnection,
    broker: Broker,
    revenue: TestDepartment,
    esd: TestDepartment,
    _dir: tempfile::TempDir,
}

impl World {
    async fn start() -> World {
        let db = TestDb::new().await.unwrap();
        let conn = db.migrated().await.unwrap();
        let dir = temp_dir();
        let revenue = register(
            &conn,
            dir.path(),
            REVENUE,
            REVENUE_SECTOR,
            "ES256",
            &["delegations:write"],
        )
        .await;
        let esd = register(
            &conn,
            dir.path(),
            ESD,
            ESD_SECTOR,
            "EdDSA",
            &["consent:request"],
        )
        .await;
        let broker = Broker::start_with(&db, BrokerEnv::default()).await;
        World {
            _db: db,
            conn,
            broker,
            revenue,
            esd,
            _dir: dir,
        }
    }
}

/// Rows written by a delegation change or an act: delegation events, relay changes, audit
/// records (settled first).
async fn counts(db: &DatabaseConnection) -> [u64; 3] {
    audit_settled(db).await;
    [
        services::consents::delegations::count_events(db)
            .await
            .unwrap(),
        services::relay::entities::change::Entity::find()
            .count(db)
            .await
            .unwrap(),
        services::audit_log::entities::record::Entity::find()
            .count(db)
            .await
            .unwrap(),
    ]
}

/// Posts a form as `who` (with their CSRF token), without following redirects.
async fn post(
    broker: &Broker,
    who: &SignedIn,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut all = vec![("csrf_token", who.csrf.as_str())];
    all.extend_from_slice(fields);
    browser_client()
        .post(broker.url(path))
        .header("Cookie", format!("tuo_session={}", who.cookie))
        .form(&all)
        .send()
        .await
        .unwrap()
}

/// Gets a page as `who`: (status, body).
async fn get(broker: &Broker, who: &SignedIn, path: &str) -> (u16, String) {
    let res = browser_client()
        .get(broker.url(path))
        .header("Cookie", format!("tuo_session={}", who.cookie))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// The problem code of a JSON problem body.
fn code_of(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("not a problem: {body}"))
}

const ADDRESS: [(&str, &str); 6] = [
    ("attribute", "address"),
    ("street_address", "77 Elm Street"),
    ("locality", "Ottawa"),
    ("region", "ON"),
    ("postal_code", "K1A 0B1"),
    ("country", "CA"),
];
