//! Micro-benchmarks of the broker's hot pieces (criterion). `scripts/bench` runs them in release
//! mode and folds the medians into docs/benchmarks.md.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use consent::{Actor as ConsentActor, Change, ConsentEvent, Mode, Uuid};
use criterion::{Criterion, criterion_group, criterion_main};
use ring::rand::SystemRandom;
use ring::signature::{self as sig, KeyPair};
use services::audit_log::{Action, Actor, ActorKind, AuditLog, Outcome};
use services::citizens::{self, Provenance, SourceKind};
use services::consents::ledger::{self, ImportInput};
use services::jose::b64;
use services::keys::SigningKeys;
use services::lang::Lang;
use services::oauth::assertion;
use services::oauth::bearer::TokenVerifier;
use services::oauth::token::AccessClaims;

const ISSUER: &str = "http://127.0.0.1:8080";

fn temp_keys() -> SigningKeys {
    let dir = std::env::temp_dir().join(format!("tuo-bench-{}", uuid::Uuid::now_v7().simple()));
    SigningKeys::open_dir(&dir, 60).unwrap()
}

fn now_s() -> i64 {
    store::now_ms() / 1000
}

/// The cost the floor is made of: one raw ES256 signature and verification with ring.
fn floor(c: &mut Criterion) {
    let rng = SystemRandom::new();
    let pkcs8 =
        sig::EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
    let message = [7u8; 300];
    let signature = pair.sign(&rng, &message).unwrap();
    let public = sig::UnparsedPublicKey::new(
        &sig::ECDSA_P256_SHA256_FIXED,
        pair.public_key().as_ref().to_vec(),
    );
    c.bench_function("floor/es256_sign", |b| {
        b.iter(|| pair.sign(&rng, &message).unwrap())
    });
    c.bench_function("floor/es256_verify", |b| {
        b.iter(|| public.verify(&message, signature.as_ref()).unwrap())
    });
}

fn client_assertion(c: &mut Criterion) {
    services::jose::install_crypto_provider();
    let rng = SystemRandom::new();
    let pkcs8 =
        sig::EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
    let p = pair.public_key().as_ref();
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(serde_json::json!({
        "kty": "EC", "crv": "P-256", "kid": "k1", "x": b64(&p[1..33]), "y": b64(&p[33..65])
    }))
    .unwrap();
    let header = b64(br#"{"alg":"ES256","kid":"k1"}"#);
    let claims = b64(
        serde_json::to_vec(&serde_json::json!({
            "iss": "bench", "sub": "bench", "aud": ISSUER, "exp": now_s() + 300, "iat": now_s(), "jti": "j"
        }))
        .unwrap(),
    );
    let input = format!("{header}.{claims}");
    let token = format!(
        "{input}.{}",
        b64(pair.sign(&rng, input.as_bytes()).unwrap().as_ref())
    );
    let audiences = vec![ISSUER.to_owned()];
    let keys = vec![jwk];
    c.bench_function("client_assertion/verify_es256", |b| {
        b.iter(|| {
            assertion::parse(&token)
                .unwrap()
                .verify(&keys, &audiences, now_s())
                .unwrap()
        })
    });
}

fn access_tokens(c: &mut Criterion) {
    let keys = temp_keys();
    let claims = AccessClaims {
        iss: ISSUER.into(),
        sub: "client".into(),
        aud: format!("{ISSUER}/api"),
        client_id: "client".into(),
        dept: "revenue-agency".into(),
        scope: "attributes:read".into(),
        iat: now_s(),
        exp: now_s() + 300,
        jti: uuid::Uuid::now_v7().to_string(),
        cnf: None,
    };
    c.bench_function("access_token/sign", |b| {
        b.iter(|| keys.sign(Some("at+jwt"), &claims).unwrap())
    });
    let token = keys.sign(Some("at+jwt"), &claims).unwrap();
    c.bench_function("access_token/check_signature", |b| {
        b.iter(|| {
            TokenVerifier::default()
                .verify(&keys, ISSUER, &token, now_s())
                .unwrap()
        })
    });
    let cached = TokenVerifier::default();
    cached.verify(&keys, ISSUER, &token, now_s()).unwrap();
    c.bench_function("access_token/check_cached", |b| {
        b.iter(|| cached.verify(&keys, ISSUER, &token, now_s()).unwrap())
    });
}

fn consent_for(citizen: Uuid, at: i64) -> consent::Consent {
    let attributes = ["birthdate".to_owned(), "address".to_owned()]
        .into_iter()
        .collect();
    let grant = ConsentEvent::new(
        1,
        ConsentActor::citizen(citizen.to_string()),
        at,
        Change::Granted {
            attributes,
            expires_at_ms: at + 86_400_000,
        },
    );
    consent::Consent::replay(
        Uuid::now_v7(),
        citizen,
        "employment-social-development",
        "pension-enrolment",
        Mode::Ongoing,
        [grant],
    )
    .unwrap()
}

fn cedar_decision(c: &mut Criterion) {
    let engine = policies::PolicyEngine::load(policies::PolicySource::EMBEDDED).unwrap();
    let now = store::now_ms();
    let consent = consent_for(Uuid::now_v7(), now);
    let attributes = ["birthdate".to_owned()];
    let request = policies::ReleaseRequest {
        department: "employment-social-development",
        purpose: "pension-enrolment",
        attributes: &attributes,
        loa: 3,
        citizen_deceased: false,
        actor_is_delegate: false,
        now_ms: now,
    };
    c.bench_function("cedar/decide_permit_one_attribute", |b| {
        b.iter(|| engine.decide(&request, Some(&consent)))
    });
    c.bench_function("cedar/decide_deny_no_consent", |b| {
        b.iter(|| engine.decide(&request, None))
    });
}

fn database_paths(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Every service over a fresh test database: consents are recorded through the ledger.
    let h = rt.block_on(services::testing::TestServices::new());
    let db = h.db.clone();
    let vault = h.vault.clone();
    // A citizen with facts and a consent among 1,000 others.
    let citizen = rt.block_on(async {
        let mut ids = Vec::new();
        for i in 0..1000 {
            let id = citizens::create(&db, &vault).await.unwrap();
            if i == 999 {
                let provenance = Provenance {
                    source_kind: SourceKind::Department,
                    source_id: "vital-statistics".into(),
                    method: "registry".into(),
                    loa: 3,
                    verified: true,
                    recorded_at: store::now_ms(),
                };
                let address = serde_json::json!({"street_address": "1 Main St", "locality": "Ottawa", "region": "ON", "postal_code": "K1A 0B1", "country": "CA"});
                citizens::record(&db, &vault, &id, "address", &address, &provenance).await.unwrap();
                citizens::record(&db, &vault, &id, "birthdate", &serde_json::json!("1970-01-01"), &provenance).await.unwrap();
            }
            ids.push(id);
        }
        let now = store::now_ms();
        let inputs = ids
            .iter()
            .map(|id| ImportInput {
                citizen: id.clone(),
                department: "employment-social-development".into(),
                purpose: "pension-enrolment".into(),
                mode: Mode::Ongoing,
                attributes: vec!["birthdate".into(), "address".into()],
                granted_at_ms: now,
                expires_at_ms: now + 86_400_000,
                loa: 3,
                lang: Lang::En,
            })
            .collect();
        ledger::import_many(&h.ledger, "bench-seed", inputs).await.unwrap();
        ids.pop().unwrap()
    });
    c.bench_function("consent/lookup_for_release", |b| {
        b.to_async(&rt).iter(|| async {
            services::consents::for_release(
                &db,
                &citizen,
                "employment-social-development",
                "pension-enrolment",
            )
            .await
            .unwrap()
        })
    });
    c.bench_function("attributes/read_and_decrypt_two", |b| {
        b.to_async(&rt).iter(|| async {
            citizens::current_facts(&db, &vault, &citizen, Some(&["address", "birthdate"]))
                .await
                .unwrap()
        })
    });
    let keys = Arc::new(temp_keys());
    let log = AuditLog::new(
        db.clone(),
        keys,
        audit::CheckpointPolicy {
            every_records: 256,
            every_ms: 10_000,
        },
    );
    let mut group = c.benchmark_group("audit");
    group.sample_size(30);
    group.bench_function("append_durable_one_writer", |b| {
        b.to_async(&rt).iter(|| async {
            let mut record = AuditLog::record(
                Action::Release,
                Outcome::Permit,
                Actor::new(ActorKind::Department, "d"),
            );
            record.citizen_id = Some(citizen.clone());
            record.attributes = vec!["address".into()];
            log.append(record).await.unwrap()
        })
    });
    group.finish();
    drop(h);
}

fn set_build(c: &mut Criterion) {
    let keys = temp_keys();
    let claims = serde_json::json!({
        "iss": ISSUER, "aud": "revenue-agency", "iat": now_s(), "jti": uuid::Uuid::now_v7().to_string(),
        "txn": uuid::Uuid::now_v7().to_string(),
        "sub_id": {"format": "opaque", "id": "3Xw9cXk3W6Qq9sDqkqGQ1hD1H7y2cVx9uJbC0z5T0eA"},
        "events": {"https://tell-us-once.example/events/attribute-changed": {
            "change": "move",
            "verified_claims": {"verification": {"trust_framework": "ca_pctf", "assurance_level": "loa2", "time": "2026-11-26T12:00:00Z"},
                                "claims": {"address": {"street_address": "2 Elm St", "locality": "Gatineau", "region": "QC", "postal_code": "J8X 1A1", "country": "CA"}}}
        }}
    });
    c.bench_function("relay/set_sign", |b| {
        b.iter(|| keys.sign(Some("secevent+jwt"), &claims).unwrap())
    });
}

criterion_group!(
    benches,
    floor,
    client_assertion,
    access_tokens,
    cedar_decision,
    set_build,
    database_paths
);
criterion_main!(benches);
