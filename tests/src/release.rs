//! A world for attribute-release tests: citizens with encrypted facts and pairwise ids written
//! straight into the test database (with the same secrets the broker is then started with),
//! consents recorded through the ledger of the world's own services (the broker's data directory,
//! so the same keys sign receipts and checkpoints), department clients whose keys live in Rust (for assertions openid-client would never
//! send) or in files made by `keygen.mjs` (for openid-client itself), and readers for what the
//! broker answered and audited.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use consent::{Consent, Mode, Uuid};
use ring::rand::SystemRandom;
use ring::signature::{self as sig, KeyPair};
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};
use services::citizens::{self, Provenance, SourceKind};
use services::consents::ledger::{self, ImportInput};
use services::departments::{self, Client, ClientKeys};
use services::keys::Secrets;
use services::vault::Vault;

use crate::departments::{TestDepartment, keygen};
use crate::{Broker, BrokerEnv, TestDb, free_port, services_for, temp_dir};

/// The pairwise secret the broker is started with (so tests can compute pairwise ids).
pub const PAIRWISE_SECRET: &str = "e2e-pairwise-secret-for-release-tests-only";
/// The master key id and bytes the broker is started with (so tests can seal facts).
pub const MASTER_KEY_ID: &str = "mk1";
pub const MASTER_KEY: [u8; 32] = [7; 32];

pub const DAY_MS: i64 = 86_400_000;

/// The import source the world's consents are recorded under (`detail.import_source` of their
/// `consent-granted` audit records).
pub const FIXTURE_SOURCE: &str = "test-fixture";

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The secrets in [`PAIRWISE_SECRET`] / [`MASTER_KEY`] as the broker reads them.
pub fn secrets() -> Secrets {
    Secrets {
        pairwise: PAIRWISE_SECRET.as_bytes().to_vec(),
        master_keys: [(MASTER_KEY_ID.to_owned(), MASTER_KEY)].into(),
        current_master_key: MASTER_KEY_ID.to_owned(),
    }
}

/// Broker settings for those secrets.
pub fn secrets_env() -> BrokerEnv {
    BrokerEnv::default()
        .set("BROKER_KEYS__PAIRWISE_SECRET", PAIRWISE_SECRET)
        .set(
            &format!("BROKER_KEYS__MASTER_KEYS__{}", MASTER_KEY_ID.to_uppercase()),
            STANDARD.encode(MASTER_KEY),
        )
        .set("BROKER_KEYS__CURRENT_MASTER_KEY", MASTER_KEY_ID)
}

/// The test database, migrated, with the catalogue's departments registered (as the broker
/// registers them at start), a vault for writing facts, and the services of the brokers this world
/// starts (`dir` is their data directory; the first listens on `port`, the services' issuer).
pub struct World {
    pub db: TestDb,
    pub conn: DatabaseConnection,
    pub dir: tempfile::TempDir,
    pub vault: Vault,
    pub catalogue: policies::Catalogue,
    pub services: services::Services,
    port: u16,
    started: std::sync::atomic::AtomicBool,
}

/// One fact to write: attribute, JSON value, source (kind, id), method, LoA.
pub struct FactSpec<'a> {
    pub attribute: &'a str,
    pub value: serde_json::Value,
    pub source: SourceKind,
    pub source_id: &'a str,
    pub loa: u8,
}

impl<'a> FactSpec<'a> {
    /// Asserted by a credential provider at `loa`.
    pub fn provider(attribute: &'a str, value: serde_json::Value, loa: u8) -> Self {
        Self {
            attribute,
            value,
            source: SourceKind::Provider,
            source_id: "bank-partner",
            loa,
        }
    }

    /// Reported by an authoritative department at `loa`.
    pub fn department(
        attribute: &'a str,
        value: serde_json::Value,
        department: &'a str,
        loa: u8,
    ) -> Self {
        Self {
            attribute,
            value,
            source: SourceKind::Department,
            source_id: department,
            loa,
        }
    }
}

impl World {
    pub async fn new() -> World {
        let db = TestDb::new().await.unwrap();
        let conn = db.migrated().await.unwrap();
        let catalogue = policies::Catalogue::embedded().unwrap();
        departments::sync_catalogue(&conn, catalogue.departments())
            .await
            .unwrap();
        let dir = temp_dir();
        let port = free_port();
        let env = secrets_env()
            .set("BROKER_DATA_DIR", dir.path().display().to_string())
            .set("BROKER_PUBLIC_URL", format!("http://127.0.0.1:{port}"));
        let mut built = services_for(&env, &conn);
        // The world records its consents as a one-shot command would: their audit records are
        // integrated at once, on either backend, whether a broker is running or not.
        let audit = broker::config::Config::default().audit;
        let log = services::audit_log::AuditLog::for_command(
            conn.clone(),
            built.keys.clone(),
            audit.checkpoint_policy(),
        );
        built.ledger.audit = log.clone();
        built.ledger.relay.audit = log;
        World {
            db,
            conn,
            dir,
            vault: Vault::new(&secrets()).unwrap(),
            catalogue,
            services: built,
            port,
            started: false.into(),
        }
    }

    /// Starts a broker on this database and data directory with the world's secrets (plus
    /// `extra`); the first one on the port the world's services name as issuer.
    pub async fn start_with(&self, extra: BrokerEnv) -> Broker {
        let mut env = secrets_env();
        for (k, v) in extra.0 {
            env = env.set(&k, v);
        }
        let first = !self.started.swap(true, std::sync::atomic::Ordering::SeqCst);
        let port = if first { self.port } else { free_port() };
        let mut broker = Broker::spawn_on(port, self.db.url(), self.dir.path(), env, &["serve"]);
        broker.wait_ready(std::time::Duration::from_secs(60)).await;
        broker
    }

    pub async fn start(&self) -> Broker {
        self.start_with(BrokerEnv::default()).await
    }

    pub fn sector(&self, department: &str) -> String {
        self.catalogue
            .department(department)
            .unwrap_or_else(|| panic!("{department} is not in the catalogue"))
            .sector_identifier
            .clone()
    }

    /// A citizen with these facts.
    pub async fn citizen(&self, facts: &[FactSpec<'_>]) -> String {
        let id = citizens::create(&self.conn, &self.vault).await.unwrap();
        for f in facts {
            let provenance = Provenance {
                source_kind: f.source,
                source_id: f.source_id.into(),
                method: match f.source {
                    SourceKind::Provider => "asserted",
                    SourceKind::Department => "registry",
                    SourceKind::Citizen => "self-declared",
                }
                .into(),
                loa: f.loa,
                verified: f.source != SourceKind::Citizen,
                recorded_at: store::now_ms(),
            };
            citizens::record(
                &self.conn,
                &self.vault,
                &id,
                f.attribute,
                &f.value,
                &provenance,
            )
            .await
            .unwrap();
        }
        id
    }

    /// The citizen's pairwise id for a catalogue department (registered for reverse lookup).
    pub async fn subject(&self, department: &str, citizen: &str) -> String {
        citizens::pairwise::subject_for(
            &self.conn,
            PAIRWISE_SECRET.as_bytes(),
            &self.sector(department),
            citizen,
        )
        .await
        .unwrap()
    }

    /// A citizen-initiated grant, valid for `days`.
    pub async fn grant(
        &self,
        citizen: &str,
        department: &str,
        purpose: &str,
        attributes: &[&str],
        days: i64,
    ) -> Consent {
        let now = store::now_ms();
        self.grant_at(
            citizen,
            department,
            purpose,
            attributes,
            now,
            now + days * DAY_MS,
        )
        .await
    }

    /// A citizen-initiated `once` grant given at `granted_at`, ending at `expires_at` (Unix ms),
    /// recorded through the ledger (an import: with its receipt and audit record).
    pub async fn grant_at(
        &self,
        citizen: &str,
        department: &str,
        purpose: &str,
        attributes: &[&str],
        granted_at: i64,
        expires_at: i64,
    ) -> Consent {
        let input = ImportInput {
            citizen: citizen.to_owned(),
            department: department.to_owned(),
            purpose: purpose.to_owned(),
            mode: Mode::Once,
            attributes: attributes.iter().map(|s| s.to_string()).collect(),
            granted_at_ms: granted_at,
            expires_at_ms: expires_at,
            loa: 2,
            lang: services::lang::Lang::En,
        };
        let (consent, _) = ledger::import(&self.services.ledger, FIXTURE_SOURCE, input)
            .await
            .unwrap();
        consent
    }

    /// The citizen withdraws `consent` now, through the ledger.
    pub async fn revoke(&self, consent: &mut Consent) {
        let citizen = consent.citizen().to_string();
        *consent = ledger::revoke(&self.services.ledger, &citizen, &consent.id().to_string())
            .await
            .unwrap();
    }

    /// Every audit record but the world's own consent grants (see [`World::fixture_records`]),
    /// oldest first: what the broker recorded of what the test did.
    pub async fn audit(&self) -> Vec<audit::Record> {
        let (_, made) = self.all_audit().await.into_iter().partition(is_fixture);
        made
    }

    /// The `consent-granted` records of the consents this world recorded (each has one, like
    /// every consent in the ledger), oldest first.
    pub async fn fixture_records(&self) -> Vec<audit::Record> {
        let (fixture, _) = self.all_audit().await.into_iter().partition(is_fixture);
        fixture
    }

    /// Every audit record, oldest first, decoded from the stored canonical bytes.
    pub async fn all_audit(&self) -> Vec<audit::Record> {
        use services::audit_log::entities::record;
        crate::audit_settled(&self.conn).await;
        record::Entity::find()
            .order_by_asc(record::Column::Seq)
            .all(&self.conn)
            .await
            .unwrap()
            .into_iter()
            .map(|row| audit::Record::from_canonical(&row.entry).unwrap())
            .collect()
    }

    /// Registers a department client whose key `keygen.mjs` made (for openid-client).
    pub async fn node_client(
        &self,
        department: &str,
        alg: &str,
        scopes: &[&str],
    ) -> TestDepartment {
        let client_id = format!("{department}-app");
        let (private_key_file, public_jwk) =
            keygen(self.dir.path(), alg, &format!("{client_id}-key"));
        departments::upsert_client(
            &self.conn,
            &Client {
                client_id: client_id.clone(),
                department_id: department.into(),
                keys: ClientKeys::Inline(serde_json::json!({ "keys": [public_jwk.clone()] })),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
                redirect_uris: Vec::new(),
                post_logout_redirect_uris: Vec::new(),
                backchannel_logout_uri: None,
            },
        )
        .await
        .unwrap();
        TestDepartment {
            id: department.into(),
            client_id,
            private_key_file,
            public_jwk,
        }
    }
}

/// Whether `r` records a consent the world recorded as a fixture.
fn is_fixture(r: &audit::Record) -> bool {
    r.action == audit::Action::ConsentGranted
        && r.detail.get("import_source").map(String::as_str) == Some(FIXTURE_SOURCE)
}

/// A department client whose ES256 key is held here, to build any assertion at all.
pub struct RustClient {
    pub client_id: String,
    pub department: String,
    pub kid: String,
    pkcs8: Vec<u8>,
    pub public_jwk: serde_json::Value,
}

impl RustClient {
    pub fn generate(department: &str, client_id: &str) -> RustClient {
        let rng = SystemRandom::new();
        let pkcs8 = sig::EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap()
            .as_ref()
            .to_vec();
        let pair =
            sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
                .unwrap();
        let p = pair.public_key().as_ref();
        let kid = format!("{client_id}-k1");
        let public_jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
            "x": b64(&p[1..33]), "y": b64(&p[33..65])
        });
        RustClient {
            client_id: client_id.into(),
            department: department.into(),
            kid,
            pkcs8,
            public_jwk,
        }
    }

    /// Registers this client (inline JWKS) with `scopes`.
    pub async fn register(&self, conn: &DatabaseConnection, scopes: &[&str]) {
        departments::upsert_client(
            conn,
            &Client {
                client_id: self.client_id.clone(),
                department_id: self.department.clone(),
                keys: ClientKeys::Inline(serde_json::json!({ "keys": [self.public_jwk.clone()] })),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
                redirect_uris: Vec::new(),
                post_logout_redirect_uris: Vec::new(),
                backchannel_logout_uri: None,
            },
        )
        .await
        .unwrap();
    }

    /// Signs `claims` under `header` with this client's key (ES256), whatever the header says.
    pub fn sign(&self, header: &serde_json::Value, claims: &serde_json::Value) -> String {
        let input = format!(
            "{}.{}",
            b64(serde_json::to_vec(header).unwrap()),
            b64(serde_json::to_vec(claims).unwrap())
        );
        let rng = SystemRandom::new();
        let pair =
            sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &self.pkcs8, &rng)
                .unwrap();
        let signature = pair.sign(&rng, input.as_bytes()).unwrap();
        format!("{input}.{}", b64(signature.as_ref()))
    }

    /// The claims of a good assertion for `issuer` (aud = issuer, 60 s, fresh jti).
    pub fn claims(&self, issuer: &str) -> serde_json::Value {
        let now = store::now_ms() / 1000;
        serde_json::json!({
            "iss": self.client_id, "sub": self.client_id, "aud": issuer,
            "iat": now, "nbf": now, "exp": now + 60, "jti": Uuid::now_v7().to_string()
        })
    }

    pub fn header(&self) -> serde_json::Value {
        serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": self.kid})
    }

    /// A good assertion.
    pub fn assertion(&self, issuer: &str) -> String {
        self.sign(&self.header(), &self.claims(issuer))
    }

    /// Exchanges a good assertion for an access token, or panics with the broker's answer.
    pub async fn token(&self, issuer: &str, scope: Option<&str>) -> String {
        let (status, body) = token_request(issuer, &self.assertion(issuer), scope).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }
}

/// `POST /oauth2/token` with a client assertion; returns (status, JSON body).
pub async fn token_request(
    issuer: &str,
    assertion: &str,
    scope: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    let res = reqwest::Client::new()
        .post(format!("{issuer}/oauth2/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or_default())
}

/// What the attribute API answered.
#[derive(Debug)]
pub struct ApiAnswer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl ApiAnswer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.body))
    }

    /// The problem's `code`.
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }
}

/// `GET <path>` with a bearer token.
pub async fn get(issuer: &str, token: &str, path: &str) -> ApiAnswer {
    let res = reqwest::Client::new()
        .get(format!("{issuer}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    ApiAnswer {
        status: res.status().as_u16(),
        content_type: res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        body: res.text().await.unwrap(),
    }
}

/// The attribute API path.
pub fn attributes_path(sub: &str, claims: &str, purpose: &str) -> String {
    format!("/api/v1/subjects/{sub}/attributes?claims={claims}&purpose={purpose}")
}

/// The payload of a compact JWS, unverified (tests verify with verify-jws.mjs).
pub fn payload(jws: &str) -> serde_json::Value {
    let part = jws.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Verifies a release JWT with jose (verify-jws.mjs) against the broker's `/jwks.json`.
pub fn verify_release(broker: &Broker, jws: &str, audience: &str) -> serde_json::Value {
    let args: Vec<String> = vec![
        "--jwks".into(),
        broker.url("/jwks.json"),
        "--typ".into(),
        "release+jwt".into(),
        "--iss".into(),
        broker.base.clone(),
        "--aud".into(),
        audience.into(),
    ];
    let (ok, out, err) = crate::peers::run_node("verify-jws.mjs", &args, Some(jws));
    let result: serde_json::Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|_| panic!("verify-jws said: {out}\n{err}"));
    assert!(
        ok && result["valid"] == true,
        "jose refused the release: {result}"
    );
    result["payload"].clone()
}
