//! The demo's credential providers: a "bank sign-in partner" (level of assurance 2) and a
//! "provincial digital ID" (level 3), both [`super::dev_provider`]s on the ports after the
//! broker's, with demo personas. Olivier Officer, at the provincial ID, is a privacy officer.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;

use super::dev_provider::{DevProviderConfig, Persona, RunningDevProvider};
use crate::config::{Config, Secret};
use services::signin::settings::{OfficerConfig, ProviderConfig};

pub const BANK: &str = "demo-bank";
pub const PROVINCIAL: &str = "demo-provincial-id";
const BANK_ACR: &str = "urn:tuo:demo:bank:loa2";
const PROVINCIAL_ACR: &str = "urn:tuo:demo:provincial:loa3";
/// Olivier Officer's subject at the provincial ID.
pub const OFFICER_SUBJECT: &str = "QC-OFFICER-7713";

fn alice() -> serde_json::Value {
    json!({
        "given_name": "Alice",
        "family_name": "Tremblay",
        "birthdate": "1958-04-12",
        "email": "alice.tremblay@example.ca",
        "email_verified": true,
        "address": {
            "street_address": "123, rue Principale",
            "locality": "Gatineau",
            "region": "QC",
            "postal_code": "J8X 1A1",
            "country": "CA"
        },
        "phone_number": "+1 819 555 0100",
        "preferred_language": "fr",
        "locale": "fr-CA"
    })
}

fn persona(login: &str, sub: &str, en: &str, fr: &str, claims: serde_json::Value) -> Persona {
    Persona {
        login: login.into(),
        sub: sub.into(),
        label_en: en.into(),
        label_fr: fr.into(),
        claims,
    }
}

/// One demo provider: its dev server settings and the broker's provider entry for it.
pub struct DemoProvider {
    pub server: DevProviderConfig,
    pub entry: ProviderConfig,
}

fn secret() -> String {
    let mut bytes = [0u8; 24];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    services::jose::b64(bytes)
}

/// The two demo providers for a broker at `base` listening on `port`.
pub fn providers(data_dir: &Path, base: &str, port: u16) -> Vec<DemoProvider> {
    let specs = [
        (
            BANK,
            port.saturating_add(1),
            "Bank sign-in partner (development)",
            "Partenaire de connexion bancaire (développement)",
            BANK_ACR,
            2,
            vec![
                persona(
                    "alice",
                    "BANK-ALICE-1001",
                    "Alice Tremblay — retired teacher, Gatineau",
                    "Alice Tremblay — enseignante retraitée, Gatineau",
                    alice(),
                ),
                persona(
                    "bob",
                    "BANK-BOB-2002",
                    "Bob Singh — software developer, Toronto",
                    "Bob Singh — développeur de logiciels, Toronto",
                    json!({
                        "given_name": "Bob",
                        "family_name": "Singh",
                        "birthdate": "1990-11-02",
                        "email": "bob.singh@example.ca",
                        "address": {"street_address": "45 King St W", "locality": "Toronto",
                            "region": "ON", "postal_code": "M5H 1A1", "country": "CA"},
                        "phone_number": "+1 416 555 0199",
                        "preferred_language": "en",
                    }),
                ),
            ],
        ),
        (
            PROVINCIAL,
            port.saturating_add(2),
            "Provincial digital ID (development)",
            "Identité numérique provinciale (développement)",
            PROVINCIAL_ACR,
            3,
            vec![
                persona(
                    "alice",
                    "QC-ALICE-8842",
                    "Alice Tremblay — retired teacher, Gatineau",
                    "Alice Tremblay — enseignante retraitée, Gatineau",
                    alice(),
                ),
                persona(
                    "olivier",
                    OFFICER_SUBJECT,
                    "Olivier Officer — privacy officer",
                    "Olivier Officer — agent de protection de la vie privée",
                    json!({
                        "given_name": "Olivier",
                        "family_name": "Officer",
                        "email": "olivier.officer@example.ca",
                        "preferred_language": "fr",
                    }),
                ),
            ],
        ),
    ];
    specs
        .into_iter()
        .map(|(id, port, en, fr, acr, loa, personas)| {
            let client_secret = secret();
            let client_id = "tell-us-once-demo".to_owned();
            DemoProvider {
                server: DevProviderConfig {
                    title_en: en.into(),
                    title_fr: fr.into(),
                    port,
                    client_id: client_id.clone(),
                    client_secret: client_secret.clone(),
                    redirect_uris: vec![format!("{base}{}", services::signin::flow::CALLBACK_PATH)],
                    post_logout_redirect_uris: vec![format!("{base}/signout/done")],
                    acr: acr.into(),
                    personas,
                    key_dir: data_dir.join("dev-providers").join(id),
                },
                entry: ProviderConfig {
                    id: id.into(),
                    name_en: en.into(),
                    name_fr: fr.into(),
                    issuer: format!("http://127.0.0.1:{port}"),
                    client_id,
                    client_secret: Secret::new(client_secret),
                    client_secret_file: None,
                    private_key_file: None,
                    scopes: ["openid", "profile", "email", "address", "phone"]
                        .into_iter()
                        .map(String::from)
                        .collect(),
                    acr_loa: BTreeMap::from([(acr.to_owned(), loa)]),
                    userinfo: true,
                },
            }
        })
        .collect()
}

/// Starts the demo providers and adds them (and the demo officer) to `config`.
pub async fn start(
    config: &mut Config,
    data_dir: &Path,
    base: &str,
    port: u16,
) -> Result<Vec<RunningDevProvider>, String> {
    let mut running = Vec::new();
    for demo in providers(data_dir, base, port) {
        running.push(super::dev_provider::start(demo.server).await?);
        config.providers.retain(|p| p.id != demo.entry.id);
        config.providers.push(demo.entry);
    }
    config.officers.retain(|o| o.id != "olivier");
    config.officers.push(OfficerConfig {
        id: "olivier".into(),
        provider: PROVINCIAL.into(),
        subject: OFFICER_SUBJECT.into(),
    });
    Ok(running)
}
