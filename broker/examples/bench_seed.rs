//! Seeds a database for load runs and writes what `wrk` needs (used by scripts/bench).
//!
//! `bench_seed seed <database url> <data dir> <citizens> <out dir>`: migrates, creates `citizens`
//! citizens with an address and a birthdate (department-verified), their pairwise ids for the bench
//! department, an ongoing consent each (recorded through the consent ledger, as imports: each with
//! its receipt and audit record), and the bench department's client with a fresh ES256 key.
//! Writes `<out>/paths.txt` (one release request path per line), `<out>/searches.txt` (audit
//! searches a privacy office makes: each citizen's records, and now and then the department's
//! releases), `<out>/client.json`.
//!
//! `bench_seed assertions <issuer> <out dir> <count>`: writes `count` single-use client assertions
//! (`<out>/assertions.txt`, one `grant_type=…&client_assertion=…` body per line) for token-grant runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use broker::config::{Config, DatabaseUrl};
use consent::{Mode, Uuid};
use ring::rand::SystemRandom;
use ring::signature::{self as sig, KeyPair};
use services::citizens::{self, Provenance, SourceKind};
use services::consents::ledger::{self, ImportInput};
use services::departments::{self, Client, ClientKeys};
use services::jose::b64;

const DEPARTMENT: &str = "employment-social-development";
const PURPOSE: &str = "pension-enrolment";
const CLIENT_ID: &str = "bench-esdc";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("seed") => {
            seed(
                &args[2],
                PathBuf::from(&args[3]),
                args[4].parse().unwrap(),
                PathBuf::from(&args[5]),
            )
            .await
        }
        Some("assertions") => {
            assertions(&args[2], PathBuf::from(&args[3]), args[4].parse().unwrap())
        }
        _ => panic!(
            "usage: bench_seed seed <db url> <data dir> <citizens> <out> | assertions <issuer> <out> <count>"
        ),
    }
}

async fn seed(db_url: &str, data_dir: PathBuf, n: usize, out: PathBuf) {
    std::fs::create_dir_all(&out).unwrap();
    let config = Config {
        data_dir: data_dir.clone(),
        database_url: Some(DatabaseUrl::new(db_url)),
        ..Config::default()
    };
    let db = broker::cli::connect(&config).await.unwrap();
    store::migrate(&db).await.unwrap();
    let assembled = broker::serve::command_services(&config, &db).unwrap();
    departments::sync_catalogue(&db, assembled.policy.catalogue().departments())
        .await
        .unwrap();
    let secrets = assembled.secrets.clone();
    let vault = assembled.vault.clone();
    let ledger = Arc::new(assembled.ledger);
    let sector = departments::get(&db, DEPARTMENT)
        .await
        .unwrap()
        .unwrap()
        .sector_identifier;

    // The bench department's client, with a key only this tool and the assertion files know.
    let rng = SystemRandom::new();
    let pkcs8 =
        sig::EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
    let p = pair.public_key().as_ref();
    let jwk = serde_json::json!({"kty": "EC", "crv": "P-256", "kid": "bench-1", "alg": "ES256", "x": b64(&p[1..33]), "y": b64(&p[33..65])});
    departments::upsert_client(
        &db,
        &Client {
            client_id: CLIENT_ID.into(),
            department_id: DEPARTMENT.into(),
            keys: ClientKeys::Inline(serde_json::json!({ "keys": [jwk] })),
            // `audit:read` for the mixed run's searches (a privacy office's system).
            scopes: vec!["attributes:read".into(), "audit:read".into()],
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
        },
    )
    .await
    .unwrap();
    std::fs::write(
        out.join("client.json"),
        serde_json::to_vec_pretty(
            &serde_json::json!({ "client_id": CLIENT_ID, "pkcs8": b64(pkcs8.as_ref()) }),
        )
        .unwrap(),
    )
    .unwrap();

    let provenance = Provenance {
        source_kind: SourceKind::Department,
        source_id: "vital-statistics".into(),
        method: "registry".into(),
        loa: 3,
        verified: true,
        recorded_at: store::now_ms(),
    };
    let now = store::now_ms();
    let started = std::time::Instant::now();
    // Eight writers: seeding 100,000 citizens one transaction at a time would take minutes.
    let workers = 8;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (db, vault, provenance, sector) = (
            db.clone(),
            vault.clone(),
            provenance.clone(),
            sector.clone(),
        );
        let pairwise_secret = secrets.pairwise.clone();
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            let mut paths = Vec::new();
            let mut searches = Vec::new();
            let mut consents = Vec::new();
            let year = 365 * 86_400_000_i64;
            for i in (w..n).step_by(workers) {
                let txn = sea_orm::TransactionTrait::begin(&db).await.unwrap();
                let id = citizens::create(&txn, &vault).await.unwrap();
                let address = serde_json::json!({"street_address": format!("{} Main St", i + 1), "locality": "Ottawa", "region": "ON", "postal_code": "K1A 0B1", "country": "CA"});
                citizens::record(&txn, &vault, &id, "address", &address, &provenance).await.unwrap();
                citizens::record(&txn, &vault, &id, "birthdate", &serde_json::json!("1960-05-17"), &provenance).await.unwrap();
                let sub = citizens::pairwise::subject_for(&txn, &pairwise_secret, &sector, &id).await.unwrap();
                txn.commit().await.unwrap();
                searches.push(format!("/api/v1/audit/records?citizen={id}&limit=20"));
                if i % 50 == 0 {
                    searches.push(format!(
                        "/api/v1/audit/records?department={DEPARTMENT}&action=release&limit=50"
                    ));
                }
                consents.push(ImportInput {
                    citizen: id,
                    department: DEPARTMENT.into(),
                    purpose: PURPOSE.into(),
                    mode: Mode::Ongoing,
                    attributes: vec!["address".into(), "birthdate".into()],
                    granted_at_ms: now,
                    expires_at_ms: now + year - 86_400_000,
                    loa: 3,
                    lang: services::lang::Lang::En,
                });
                if consents.len() == 500 {
                    ledger::import_many(&ledger, "bench-seed", std::mem::take(&mut consents)).await.unwrap();
                }
                paths.push(format!("/api/v1/subjects/{sub}/attributes?claims=birthdate,address&purpose={PURPOSE}"));
                if w == 0 && paths.len() % 2_000 == 0 {
                    eprintln!("seeded about {} citizens", paths.len() * workers);
                }
            }
            ledger::import_many(&ledger, "bench-seed", consents).await.unwrap();
            (paths, searches)
        }));
    }
    let create =
        |name: &str| std::io::BufWriter::new(std::fs::File::create(out.join(name)).unwrap());
    let (mut file, mut search_file) = (create("paths.txt"), create("searches.txt"));
    for task in tasks {
        let (paths, searches) = task.await.unwrap();
        for path in paths {
            writeln!(file, "{path}").unwrap();
        }
        for search in searches {
            writeln!(search_file, "{search}").unwrap();
        }
    }
    file.flush().unwrap();
    search_file.flush().unwrap();
    println!(
        "seeded {n} citizens in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn assertions(issuer: &str, out: PathBuf, count: usize) {
    let client: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("client.json")).unwrap()).unwrap();
    let pkcs8 = services::jose::b64_decode(client["pkcs8"].as_str().unwrap()).unwrap();
    let rng = SystemRandom::new();
    let pair =
        sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng).unwrap();
    let header = b64(br#"{"alg":"ES256","kid":"bench-1","typ":"JWT"}"#);
    let now = store::now_ms() / 1000;
    let mut file =
        std::io::BufWriter::new(std::fs::File::create(out.join("assertions.txt")).unwrap());
    for _ in 0..count {
        let claims = serde_json::json!({"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": issuer, "iat": now, "exp": now + 290, "jti": Uuid::now_v7().to_string()});
        let input = format!("{header}.{}", b64(serde_json::to_vec(&claims).unwrap()));
        let token = format!(
            "{input}.{}",
            b64(pair.sign(&rng, input.as_bytes()).unwrap().as_ref())
        );
        writeln!(
            file,
            "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={token}"
        )
        .unwrap();
    }
    file.flush().unwrap();
}
