//! The demo's part of attribute release: a department system (the pension office's client, its
//! Ed25519 private JWK written into the demo data directory), the demo citizen Alice Tremblay with
//! her facts and a pension consent, the command that fetches her signed attributes from the
//! running demo with openid-client, and the one that fetches them as an SD-JWT and passes only
//! her date of birth on, key-bound, to a verifier that checks it (`tests/peers/sd-jwt.mjs`).
//!
//! Alice is seeded at demo start rather than waiting for a sign-in, so the command works at once
//! and stays the same across restarts on the same data directory. She is linked to her identity at
//! the development bank provider (persona `alice`), exactly as her first sign-in there would have
//! done: signing in as Alice shows the same citizen, her facts, consents and activity.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};
use sea_orm::TransactionTrait;

use super::Seeding;
use crate::cli::CliError;
use services::citizens::{self, Provenance, SourceKind};
use services::departments::{self, Client, ClientKeys};
use services::jose::{b64, b64_decode};
use services::oauth::scope;

pub const DEPARTMENT: &str = "employment-social-development";
pub const CLIENT_ID: &str = "esd-pension-app";
pub const PURPOSE: &str = "pension-enrolment";
pub const CLAIMS: &str = "given_name,family_name,birthdate,address";

fn other(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::Other(format!("demo: {what}: {e}"))
}

/// The client's Ed25519 key: read from `path`, or generated into it (mode 0600). Returns the
/// public JWKS to register.
fn demo_key(path: &Path) -> Result<serde_json::Value, CliError> {
    let seed: [u8; 32] = match std::fs::read(path) {
        Ok(bytes) => {
            let jwk: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|e| other("the key file", e))?;
            jwk.get("d")
                .and_then(|d| d.as_str())
                .and_then(|d| b64_decode(d).ok())
                .and_then(|d| <[u8; 32]>::try_from(d).ok())
                .ok_or_else(|| other("the key file", "no Ed25519 private key"))?
        }
        Err(_) => {
            let mut seed = [0u8; 32];
            SystemRandom::new()
                .fill(&mut seed)
                .map_err(|_| other("the key", "the random source failed"))?;
            seed
        }
    };
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|e| other("the key", e))?;
    let public = serde_json::json!({
        "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
        "kid": format!("{CLIENT_ID}-1"), "x": b64(pair.public_key().as_ref()),
    });
    if !path.exists() {
        let mut private = public.clone();
        private["d"] = b64(seed).into();
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| other(&format!("cannot write `{}`", path.display()), e))?;
        file.write_all(private.to_string().as_bytes())
            .map_err(|e| other(&format!("cannot write `{}`", path.display()), e))?;
    }
    Ok(serde_json::json!({ "keys": [public_only(&public)] }))
}

fn public_only(jwk: &serde_json::Value) -> serde_json::Value {
    let mut jwk = jwk.clone();
    if let Some(obj) = jwk.as_object_mut() {
        obj.remove("d");
    }
    jwk
}

/// Alice's subject at the development bank provider (persona `alice`).
pub const ALICE_BANK_SUBJECT: &str = "BANK-ALICE-1001";

/// The demo citizen: reused from `id_file` when she exists, else created with her facts and
/// her consent for the pension office. Either way she is linked to her bank identity.
async fn demo_citizen(state: &Seeding, id_file: &Path) -> Result<String, CliError> {
    let db = &state.db;
    let existing = match std::fs::read_to_string(id_file) {
        Ok(id) => citizens::get(db, id.trim())
            .await?
            .map(|_| id.trim().to_owned()),
        Err(_) => None,
    };
    let id = match existing {
        Some(id) => id,
        None => create_alice(state).await?,
    };
    link_bank_identity(state, &id).await?;
    std::fs::write(id_file, &id).map_err(|e| other("cannot remember the citizen", e))?;
    Ok(id)
}

async fn create_alice(state: &Seeding) -> Result<String, CliError> {
    let (db, vault) = (&state.db, &*state.vault);
    let id = citizens::create(db, vault).await?;
    let now = store::now_ms();
    let provider = |loa| Provenance {
        source_kind: SourceKind::Provider,
        source_id: crate::demo::signin::BANK.into(),
        method: "asserted".into(),
        loa,
        verified: true,
        recorded_at: now,
    };
    let register = Provenance {
        source_kind: SourceKind::Department,
        source_id: "vital-statistics".into(),
        method: "registry".into(),
        loa: 3,
        verified: true,
        recorded_at: now,
    };
    let facts = [
        ("given_name", serde_json::json!("Alice"), provider(2)),
        ("family_name", serde_json::json!("Tremblay"), provider(2)),
        (
            "address",
            serde_json::json!({"street_address": "123, rue Principale", "locality": "Gatineau", "region": "QC", "postal_code": "J8X 1A1", "country": "CA"}),
            provider(2),
        ),
        ("birthdate", serde_json::json!("1958-04-12"), register),
        // Where her notice digests go, and in which language (as her bank asserts them).
        (
            "email",
            serde_json::json!("alice.tremblay@example.ca"),
            provider(2),
        ),
        ("preferred_language", serde_json::json!("fr"), provider(2)),
    ];
    for (attribute, value, provenance) in &facts {
        citizens::record(db, vault, &id, attribute, value, provenance).await?;
    }
    // Through the consent ledger, as her own grant on the consent page would be: with its
    // receipt and its audit record.
    services::consents::ledger::grant_own(
        &state.ledger,
        &services::consents::ledger::Citizen {
            id: &id,
            loa: 2,
            lang: services::lang::Lang::En,
        },
        services::consents::ledger::GrantInput {
            department: DEPARTMENT.to_owned(),
            purpose: PURPOSE.to_owned(),
            mode: "once".to_owned(),
            attributes: CLAIMS.split(',').map(str::to_owned).collect(),
            duration_days: Some(365),
        },
    )
    .await
    .map_err(|e| other("the consent", e))?;
    Ok(id)
}

/// Links Alice to her identity at the development bank provider, unless that identity is linked
/// already (to her, after an earlier start, or to whoever signed in with it first).
async fn link_bank_identity(state: &Seeding, citizen_id: &str) -> Result<(), CliError> {
    let Some(bank) = state
        .config
        .providers
        .iter()
        .find(|p| p.id == crate::demo::signin::BANK)
    else {
        return Ok(());
    };
    if services::signin::links::find(&state.db, &bank.issuer, ALICE_BANK_SUBJECT)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let txn = state.db.begin().await?;
    services::signin::links::create(
        &txn,
        &state.audit,
        citizen_id,
        &bank.id,
        &bank.issuer,
        ALICE_BANK_SUBJECT,
        2,
    )
    .await
    .map_err(|e| other("the identity link", e))?;
    txn.commit().await?;
    Ok(())
}

/// What the release demo set up: the citizen and the command that fetches her attributes.
pub struct Prepared {
    pub citizen_id: String,
    pub command: String,
    /// Fetches an SD-JWT release, presents only the date of birth with key binding, verifies it.
    pub sd_jwt_command: String,
}

/// Sets up the demo department client and citizen (idempotent per data directory) and returns
/// the command that fetches her signed attributes.
pub async fn prepare(state: &Seeding) -> Result<Prepared, CliError> {
    let config = &state.config;
    let dir = config.data_dir.join("demo");
    std::fs::create_dir_all(&dir)
        .map_err(|e| other(&format!("cannot create `{}`", dir.display()), e))?;
    let db = &state.db;
    departments::sync_catalogue(db, state.policy.catalogue().departments()).await?;
    let key_file = dir.join(format!("{CLIENT_ID}.private.jwk.json"));
    let jwks = demo_key(&key_file)?;
    departments::upsert_client(
        db,
        &Client {
            client_id: CLIENT_ID.into(),
            department_id: DEPARTMENT.into(),
            keys: ClientKeys::Inline(jwks),
            scopes: vec![
                scope::ATTRIBUTES_READ.to_owned(),
                scope::CONSENT_REQUEST.to_owned(),
            ],
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
        },
    )
    .await?;
    let citizen = demo_citizen(state, &dir.join("release-citizen.id")).await?;
    let sector = state
        .policy
        .catalogue()
        .department(DEPARTMENT)
        .map(|d| d.sector_identifier.clone())
        .ok_or_else(|| other("the catalogue", "the pension office is missing"))?;
    let sub =
        citizens::pairwise::subject_for(db, &state.secrets.pairwise, &sector, &citizen).await?;
    let (issuer, key) = (&config.public_url, key_file.display());
    let fetch = format!(
        "node tests/peers/department.mjs --issuer {issuer} --client-id {CLIENT_ID} --key {key}"
    );
    let path = format!("/api/v1/subjects/{sub}/attributes?claims={CLAIMS}&purpose={PURPOSE}");
    Ok(Prepared {
        citizen_id: citizen,
        command: format!("{fetch} --get '{path}'"),
        sd_jwt_command: format!(
            "{fetch} --accept application/dc+sd-jwt --get '{path}' | node tests/peers/sd-jwt.mjs --in - --key {key} --issuer {issuer} --claims birthdate --audience https://contractor.example --nonce demo-nonce"
        ),
    })
}
