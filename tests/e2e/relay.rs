//! The relay (tell us once) end to end: the real broker pushes Security Event Tokens to the real
//! RFC 8935 receiver (`tests/peers/receiver.mjs`, which verifies each with jose against
//! `/jwks.json` and de-duplicates by `jti`) and drops files; a department reports changes and life
//! events through the API; a citizen previews, confirms and watches a change on the pages.
//! `relay/api.rs`: reports, life events, bad input. `relay/delivery.rs`: retries, a receiver that
//! never answers, idempotency. `relay/crash.rs`: SIGKILL during a large fan-out, and two brokers
//! on one PostgreSQL. `relay/pages.rs`: the citizen's pages. `relay/pull.rs`: a department's
//! change feed read by the broker (pull source, `tests/peers/pull-source.mjs`).

mod api;
mod crash;
mod delegation;
mod delivery;
mod demo;
mod operators;
mod pages;
mod pull;
mod withdrawal;

use std::time::{Duration, Instant};

use broker_e2e::peers::Peer;
use broker_e2e::release::RustClient;
use broker_e2e::*;
use consent::{Consent, Mode, Uuid};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use services::citizens::{self, Provenance, SourceKind};
use services::consents::ledger::{self, ImportInput};
use services::departments::{self, Department};
use services::relay::entities::{change, delivery as delivery_row};

pub const REVENUE: &str = "revenue-agency";
pub const ESD: &str = "employment-social-development";
pub const HEALTH: &str = "health-insurance";
pub const BENEFITS: &str = "benefit-eligibility";
pub const PENSION: &str = "pension-enrolment";
pub const COVERAGE: &str = "health-coverage-administration";
/// A department outside the catalogue that is authoritative for addresses and names.
pub const REGISTRY: &str = "test-registry";
pub const REGISTRY_SECTOR: &str = "registry.test.example";

pub fn address(street: &str) -> Value {
    json!({"street_address": street, "locality": "Gatineau", "region": "QC", "postal_code": "J8X 1A1", "country": "CA"})
}

/// A broker with a receiver in front of three departments (revenue, ESD, health: push) and a
/// registry department whose client may report addresses and names.
pub struct Relay {
    pub receiver: Peer,
    pub broker: Broker,
    pub conn: DatabaseConnection,
    pub db: TestDb,
    pub vault: services::vault::Vault,
    pub pairwise: Vec<u8>,
    pub registry: RustClient,
    /// The broker's services, built in this process: consents are recorded through its ledger.
    pub services: services::Services,
    _dir: tempfile::TempDir,
}

/// Fast settings for tests: poll often, short backoff and lease.
pub fn fast_env() -> BrokerEnv {
    BrokerEnv::default()
        .set("BROKER_RELAY__POLL_INTERVAL_MS", "50")
        .set("BROKER_RELAY__BACKOFF_BASE_MS", "200")
        .set("BROKER_RELAY__BACKOFF_MAX_SECS", "2")
        .set("BROKER_RELAY__LEASE_SECS", "5")
}

impl Relay {
    pub async fn start(modes: &[&str], env: BrokerEnv) -> Relay {
        let db = TestDb::new().await.unwrap();
        Self::start_on(db, modes, env).await
    }

    pub async fn start_on(db: TestDb, modes: &[&str], env: BrokerEnv) -> Relay {
        let conn = db.migrated().await.unwrap();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut args = vec![
            "--jwks".to_owned(),
            format!("{base}/jwks.json"),
            "--iss".to_owned(),
            base.clone(),
        ];
        for mode in modes {
            args.push("--mode".into());
            args.push((*mode).to_owned());
        }
        let receiver = Peer::start("receiver.mjs", &args);
        let dir = temp_dir();
        let mut broker = Broker::spawn_on(port, db.url(), dir.path(), env, &["serve"]);
        broker.wait_ready(Duration::from_secs(60)).await;
        let config = broker::config::Config {
            data_dir: broker.data_dir.clone(),
            ..broker::config::Config::default()
        };
        let secrets = services::keys::load_secrets(&config.keys, &config.data_dir).unwrap();
        let vault = services::vault::Vault::new(&secrets).unwrap();
        for (id, path) in [(REVENUE, "revenue"), (ESD, "esd"), (HEALTH, "health")] {
            set_delivery(
                &conn,
                id,
                json!({"kind": "push", "endpoint": format!("{}/events/{path}", receiver.url), "timeout_ms": 1500, "max_concurrency": 8}),
            )
            .await;
        }
        departments::upsert(
            &conn,
            &Department {
                id: REGISTRY.into(),
                name_en: "Test registry".into(),
                name_fr: "Registre d'essai".into(),
                sector_identifier: REGISTRY_SECTOR.into(),
                active: true,
                authoritative_for: vec![
                    "address".into(),
                    "given_name".into(),
                    "family_name".into(),
                    "email".into(),
                ],
                delivery: None,
            },
        )
        .await
        .unwrap();
        let registry = RustClient::generate(REGISTRY, "registry-app");
        registry.register(&conn, &["attributes:write"]).await;
        let services = broker.services(&conn);
        Relay {
            receiver,
            broker,
            conn,
            db,
            vault,
            pairwise: secrets.pairwise.clone(),
            registry,
            services,
            _dir: dir,
        }
    }

    /// A citizen with an address at `loa` (from a credential provider).
    pub async fn citizen(&self, loa: u8) -> String {
        let id = citizens::create(&self.conn, &self.vault).await.unwrap();
        citizens::record(
            &self.conn,
            &self.vault,
            &id,
            "address",
            &address("1 Old Road"),
            &Provenance {
                source_kind: SourceKind::Provider,
                source_id: "bank".into(),
                method: "asserted".into(),
                loa,
                verified: true,
                recorded_at: store::now_ms(),
            },
        )
        .await
        .unwrap();
        id
    }

    /// An active `ongoing` consent for 90 days, recorded through the ledger.
    pub async fn ongoing(
        &self,
        citizen: &str,
        department: &str,
        purpose: &str,
        attributes: &[&str],
    ) -> Consent {
        let input = consent_given(citizen, department, purpose, Mode::Ongoing, attributes);
        self.import(input).await
    }

    /// Records a consent given as `input` says, through the ledger (an import).
    pub async fn import(&self, input: ImportInput) -> Consent {
        ledger::import(&self.services.ledger, "test-fixture", input)
            .await
            .unwrap()
            .0
    }

    /// The pairwise id of `citizen` in `sector` (recorded for reverse lookup).
    pub async fn subject(&self, sector: &str, citizen: &str) -> String {
        citizens::pairwise::subject_for(&self.conn, &self.pairwise, sector, citizen)
            .await
            .unwrap()
    }

    /// `POST /api/v1/subjects/{sub}/attributes` with `token`; (status, JSON body).
    pub async fn report(&self, token: &str, sub: &str, body: &Value) -> (u16, Value) {
        let res = reqwest::Client::new()
            .post(
                self.broker
                    .url(&format!("/api/v1/subjects/{sub}/attributes")),
            )
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or_default())
    }

    pub async fn registry_token(&self) -> String {
        self.registry
            .token(&self.broker.base, Some("attributes:write"))
            .await
    }

    /// The receiver's counts for one department path.
    pub async fn stats(&self, path: &str) -> Value {
        reqwest::get(format!("{}/control/stats?path={path}", self.receiver.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// What the receiver recorded for one department path.
    pub async fn received(&self, path: &str) -> Vec<Value> {
        reqwest::get(format!(
            "{}/control/received?path={path}",
            self.receiver.url
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
    }

    /// Waits until `check` holds, or panics with the broker's log.
    pub async fn wait_until<F, Fut>(&self, what: &str, timeout: Duration, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Every delivery summarised by (department, status, last error), then the first few.
        let all = delivery_row::Entity::find().all(&self.conn).await.unwrap();
        let mut summary: std::collections::BTreeMap<String, usize> = Default::default();
        for d in &all {
            let error = d.last_error.as_deref().unwrap_or("-");
            let code = error.split(':').next().unwrap_or(error);
            *summary
                .entry(format!("{} {} {code}", d.department_id, d.status))
                .or_default() += 1;
        }
        let rows: Vec<String> = all
            .iter()
            .take(10)
            .map(|d| {
                format!(
                    "{} {} {} attempts={} {:?}",
                    d.department_id, d.event, d.status, d.attempts, d.last_error
                )
            })
            .chain(summary.iter().map(|(k, n)| format!("{n} × {k}")))
            .collect();
        panic!(
            "timed out waiting for {what}; deliveries: {rows:#?}\nbroker log tail:\n{}",
            tail(&self.broker.log_text(), 40)
        );
    }

    /// Deliveries by status.
    pub async fn deliveries(&self, status: &str) -> Vec<delivery_row::Model> {
        delivery_row::Entity::find()
            .filter(delivery_row::Column::Status.eq(status))
            .all(&self.conn)
            .await
            .unwrap()
    }

    /// How many deliveries have `status` (a count, cheap enough to poll with 10,000 rows).
    pub async fn count(&self, status: &str) -> u64 {
        delivery_row::Entity::find()
            .filter(delivery_row::Column::Status.eq(status))
            .count(&self.conn)
            .await
            .unwrap()
    }

    /// (changes, deliveries, attribute values) rows.
    pub async fn counts(&self) -> [u64; 3] {
        [
            change::Entity::find().count(&self.conn).await.unwrap(),
            delivery_row::Entity::find()
                .count(&self.conn)
                .await
                .unwrap(),
            citizens::entities::attribute_value::Entity::find()
                .count(&self.conn)
                .await
                .unwrap(),
        ]
    }
}

/// A consent the citizen gives now for 90 days, to record with `ledger::import` (or
/// `ledger::import_many`, for bulk fixtures).
pub fn consent_given(
    citizen: &str,
    department: &str,
    purpose: &str,
    mode: Mode,
    attributes: &[&str],
) -> ImportInput {
    let now = store::now_ms();
    ImportInput {
        citizen: citizen.to_owned(),
        department: department.to_owned(),
        purpose: purpose.to_owned(),
        mode,
        attributes: attributes.iter().map(|s| s.to_string()).collect(),
        granted_at_ms: now,
        expires_at_ms: now + 90 * 86_400_000,
        loa: 3,
        lang: services::lang::Lang::En,
    }
}

/// The purpose each test department receives address changes under.
pub fn purpose_of(department: &str) -> &'static str {
    match department {
        REVENUE => BENEFITS,
        ESD => PENSION,
        HEALTH => COVERAGE,
        other => panic!("no test purpose for `{other}`"),
    }
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

pub async fn set_delivery(conn: &DatabaseConnection, department: &str, delivery: Value) {
    let mut d = departments::get(conn, department).await.unwrap().unwrap();
    d.delivery = Some(delivery);
    departments::upsert(conn, &d).await.unwrap();
}

/// The one event of a received SET: (type URI, body).
pub fn event_of(entry: &Value) -> (String, Value) {
    let events = entry["events"].as_object().unwrap();
    let (uri, body) = events.iter().next().unwrap();
    (uri.clone(), body.clone())
}
