//! Citizens for end-to-end tests, made directly in the broker's database with the broker's own
//! secrets (read from its data directory): a citizen with a live browser session, and the pairwise
//! subject a department knows them by. Sign-in itself is tested elsewhere.

use broker::config::Config;
use sea_orm::DatabaseConnection;
use sea_orm::{ActiveModelTrait, Set};
use services::sessions::{self as session, NewSession, Role};

use crate::Broker;

/// A citizen signed in to `broker`: their id, the `tuo_session` cookie value, the session's CSRF
/// token.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub citizen_id: String,
    pub cookie: String,
    pub csrf: String,
}

fn config_of(broker: &Broker) -> Config {
    Config {
        data_dir: broker.data_dir.clone(),
        ..Config::default()
    }
}

/// Creates a citizen (with a data key under the broker's master key) and starts a session at `loa`.
pub async fn signed_in(db: &DatabaseConnection, broker: &Broker, loa: u8) -> SignedIn {
    let config = config_of(broker);
    let secrets =
        services::keys::load_secrets(&config.keys, &config.data_dir).expect("broker secrets");
    let vault = services::vault::Vault::new(&secrets).expect("vault");
    let citizen_id = services::citizens::create(db, &vault)
        .await
        .expect("citizen");
    let (cookie, s) = session::start(
        db,
        &config.sessions,
        NewSession {
            citizen_id: Some(citizen_id.clone()),
            role: Role::Citizen,
            provider_id: None,
            loa,
            id_token_hint: None,
        },
    )
    .await
    .expect("session");
    SignedIn {
        citizen_id,
        cookie,
        csrf: s.csrf_token,
    }
}

/// The pairwise subject the broker issues to departments of `sector` for `citizen_id` (recorded,
/// as when the department signs the citizen in).
pub async fn pairwise_subject(
    db: &DatabaseConnection,
    broker: &Broker,
    sector: &str,
    citizen_id: &str,
) -> String {
    let secrets =
        services::keys::load_secrets(&config_of(broker).keys, &config_of(broker).data_dir)
            .expect("broker secrets");
    services::citizens::pairwise::subject_for(db, &secrets.pairwise, sector, citizen_id)
        .await
        .expect("pairwise subject")
}

/// An officer session (`olivier`, signed in at `prov`) started directly in the database; returns
/// the `tuo_session` cookie value and the session's CSRF token.
pub async fn officer_signed_in(db: &DatabaseConnection, broker: &Broker) -> (String, String) {
    let (cookie, s) = session::start(
        db,
        &config_of(broker).sessions,
        NewSession {
            citizen_id: None,
            role: Role::Officer,
            provider_id: Some("prov".into()),
            loa: 3,
            id_token_hint: None,
        },
    )
    .await
    .expect("officer session");
    services::signin::entities::officer_session::ActiveModel {
        session_hash: Set(s.id_hash),
        officer_id: Set("olivier".into()),
        provider_id: Set("prov".into()),
        created_at: Set(store::now_ms()),
    }
    .insert(db)
    .await
    .expect("officer row");
    (cookie, s.csrf_token)
}
