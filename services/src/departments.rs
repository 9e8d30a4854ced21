//! The department registry: who the departments are (from the catalogue, or added by an operator),
//! whether they are active, their clients with the keys they authenticate with (and, for a web
//! application, its redirect and logout URIs, [`client_uris`]), how pushed changes reach them, and
//! where the broker fetches their changes (a pull source).
//!
//! INVARIANT: a disabled department is refused everywhere within a second: its token requests and
//! its API calls (every instance's [`Registry`] copy is replaced within a second of the change) and
//! deliveries to it (read from the database when they are sent).
//!
//! INVARIANT: every function here that writes departments or clients calls [`registry::changed`]
//! in the same transaction.

mod settings;
pub use settings::DepartmentsConfig;
pub mod client_uris;
pub mod entities;
pub mod file;
pub mod registry;
pub use registry::Registry;

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, NotSet, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};

use entities::{client, department};
use store::now_ms;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    pub id: String,
    pub name_en: String,
    pub name_fr: String,
    pub sector_identifier: String,
    pub active: bool,
    pub authoritative_for: Vec<String>,
    /// Adapter settings for pushed changes (`adapters::AdapterConfig` JSON), if any.
    pub delivery: Option<serde_json::Value>,
}

/// How a client proves who it is: its public keys, inline or at a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientKeys {
    Inline(serde_json::Value),
    Uri(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub client_id: String,
    pub department_id: String,
    pub keys: ClientKeys,
    pub scopes: Vec<String>,
    /// Where the broker, as OpenID Provider, may send a citizen back with a code: compared
    /// character for character. A client with at least one is a web application that may sign
    /// citizens in through the broker.
    pub redirect_uris: Vec<String>,
    /// Where the broker may send a citizen after signing out (RP-initiated logout).
    pub post_logout_redirect_uris: Vec<String>,
    /// Where the broker posts logout tokens when a citizen signs out (Back-Channel Logout).
    pub backchannel_logout_uri: Option<String>,
}

/// A stored row this code cannot read: an error naming the row and field, never a default (an
/// unknown status read as "active", or unreadable scopes read as "none", would be a guess).
fn unreadable(what: &str, id: &str, field: &str) -> DbErr {
    DbErr::Type(format!(
        "stored {what} `{}` has an unreadable `{field}`",
        id.chars().take(64).collect::<String>()
    ))
}

fn to_department(m: department::Model) -> Result<Department, DbErr> {
    let active = match m.status.as_str() {
        "active" => true,
        "disabled" => false,
        _ => return Err(unreadable("department", &m.id, "status")),
    };
    let authoritative_for = serde_json::from_value(m.authoritative_for)
        .map_err(|_| unreadable("department", &m.id, "authoritative_for"))?;
    Ok(Department {
        active,
        authoritative_for,
        delivery: m.delivery,
        id: m.id,
        name_en: m.name_en,
        name_fr: m.name_fr,
        sector_identifier: m.sector_identifier,
    })
}

fn to_client(m: client::Model) -> Result<Client, DbErr> {
    let keys = match (m.jwks, m.jwks_uri) {
        (_, Some(uri)) => ClientKeys::Uri(uri),
        (Some(jwks), None) => ClientKeys::Inline(jwks),
        (None, None) => ClientKeys::Inline(serde_json::json!({ "keys": [] })),
    };
    let list = |value: serde_json::Value, field: &str| {
        serde_json::from_value::<Vec<String>>(value)
            .map_err(|_| unreadable("client", &m.client_id, field))
    };
    let scopes = list(m.scopes, "scopes")?;
    let redirect_uris = list(m.redirect_uris, "redirect_uris")?;
    let post_logout_redirect_uris = list(m.post_logout_redirect_uris, "post_logout_redirect_uris")?;
    Ok(Client {
        client_id: m.client_id,
        department_id: m.department_id,
        keys,
        scopes,
        redirect_uris,
        post_logout_redirect_uris,
        backchannel_logout_uri: m.backchannel_logout_uri,
    })
}

pub async fn get<C: ConnectionTrait>(conn: &C, id: &str) -> Result<Option<Department>, DbErr> {
    department::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .map(to_department)
        .transpose()
}

pub async fn list<C: ConnectionTrait>(conn: &C) -> Result<Vec<Department>, DbErr> {
    department::Entity::find()
        .order_by_asc(department::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(to_department)
        .collect::<Result<_, _>>()
}

/// Inserts or updates a department's description. An existing department keeps its status: only
/// [`set_active`] (the operator) enables or disables one.
pub async fn upsert<C: ConnectionTrait>(conn: &C, d: &Department) -> Result<(), DbErr> {
    let now = now_ms();
    let row = department::ActiveModel {
        id: Set(d.id.clone()),
        name_en: Set(d.name_en.clone()),
        name_fr: Set(d.name_fr.clone()),
        sector_identifier: Set(d.sector_identifier.clone()),
        status: Set(if d.active { "active" } else { "disabled" }.into()),
        authoritative_for: Set(serde_json::json!(d.authoritative_for)),
        delivery: Set(d.delivery.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        // The pull source is written by `set_pull_source` only (kept out of `Department`).
        pull_source: NotSet,
    };
    department::Entity::insert(row)
        .on_conflict(
            OnConflict::column(department::Column::Id)
                .update_columns([
                    department::Column::NameEn,
                    department::Column::NameFr,
                    department::Column::SectorIdentifier,
                    department::Column::AuthoritativeFor,
                    department::Column::Delivery,
                    department::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(conn)
        .await?;
    registry::changed(conn).await?;
    Ok(())
}

/// Brings the registry in line with the department catalogue: new departments are added (active),
/// known ones get the catalogue's names, sector and authoritative attributes. Status, clients and
/// delivery settings are the operator's and are left alone.
pub async fn sync_catalogue<C: ConnectionTrait>(
    conn: &C,
    catalogue: &[policies::DepartmentDef],
) -> Result<(), DbErr> {
    let now = now_ms();
    for d in catalogue {
        let row = department::ActiveModel {
            id: Set(d.id.clone()),
            name_en: Set(d.name_en.clone()),
            name_fr: Set(d.name_fr.clone()),
            sector_identifier: Set(d.sector_identifier.clone()),
            status: Set("active".into()),
            authoritative_for: Set(serde_json::json!(d.authoritative_for)),
            delivery: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            pull_source: NotSet,
        };
        department::Entity::insert(row)
            .on_conflict(
                OnConflict::column(department::Column::Id)
                    .update_columns([
                        department::Column::NameEn,
                        department::Column::NameFr,
                        department::Column::SectorIdentifier,
                        department::Column::AuthoritativeFor,
                        department::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(conn)
            .await?;
    }
    registry::changed(conn).await?;
    Ok(())
}

/// Enables or disables a department. Returns false when there is no such department.
pub async fn set_active<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    active: bool,
) -> Result<bool, DbErr> {
    let result = department::Entity::update_many()
        .col_expr(
            department::Column::Status,
            Expr::value(if active { "active" } else { "disabled" }),
        )
        .col_expr(department::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(department::Column::Id.eq(id))
        .exec(conn)
        .await?;
    if result.rows_affected > 0 {
        registry::changed(conn).await?;
    }
    Ok(result.rows_affected > 0)
}

/// A department's pull source settings (`adapters::AdapterConfig` JSON, `kind = "pull"`), if any.
pub async fn pull_source<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<serde_json::Value>, DbErr> {
    Ok(department::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .and_then(|m| m.pull_source))
}

/// Sets (or, with `None`, removes) a department's pull source. Returns false when there is no
/// such department. The settings must have been checked by the pull adapter already.
pub async fn set_pull_source<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    settings: Option<&serde_json::Value>,
) -> Result<bool, DbErr> {
    let result = department::Entity::update_many()
        .col_expr(
            department::Column::PullSource,
            Expr::value(settings.cloned()),
        )
        .col_expr(department::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(department::Column::Id.eq(id))
        .exec(conn)
        .await?;
    if result.rows_affected > 0 {
        registry::changed(conn).await?;
    }
    Ok(result.rows_affected > 0)
}

/// Every active department with a pull source, with its settings, by id.
pub async fn active_pull_sources<C: ConnectionTrait>(
    conn: &C,
) -> Result<Vec<(Department, serde_json::Value)>, DbErr> {
    department::Entity::find()
        .filter(department::Column::Status.eq("active"))
        .filter(department::Column::PullSource.is_not_null())
        .order_by_asc(department::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|mut m| {
            let settings = m.pull_source.take().filter(|v| !v.is_null())?;
            Some(to_department(m).map(|d| (d, settings)))
        })
        .collect()
}

pub async fn client<C: ConnectionTrait>(
    conn: &C,
    client_id: &str,
) -> Result<Option<Client>, DbErr> {
    client::Entity::find_by_id(client_id.to_owned())
        .one(conn)
        .await?
        .map(to_client)
        .transpose()
}

/// A client with its department, in one query (the bearer check reads both on every API call).
pub async fn client_with_department<C: ConnectionTrait>(
    conn: &C,
    client_id: &str,
) -> Result<Option<(Client, Option<Department>)>, DbErr> {
    client::Entity::find_by_id(client_id.to_owned())
        .find_also_related(department::Entity)
        .one(conn)
        .await?
        .map(|(c, d)| Ok::<_, DbErr>((to_client(c)?, d.map(to_department).transpose()?)))
        .transpose()
}

pub async fn clients_of<C: ConnectionTrait>(
    conn: &C,
    department_id: &str,
) -> Result<Vec<Client>, DbErr> {
    client::Entity::find()
        .filter(client::Column::DepartmentId.eq(department_id))
        .order_by_asc(client::Column::ClientId)
        .all(conn)
        .await?
        .into_iter()
        .map(to_client)
        .collect::<Result<_, _>>()
}

/// Registers or replaces a client of a department.
pub async fn upsert_client<C: ConnectionTrait>(conn: &C, c: &Client) -> Result<(), DbErr> {
    let (jwks, jwks_uri) = match &c.keys {
        ClientKeys::Inline(jwks) => (Some(jwks.clone()), None),
        ClientKeys::Uri(uri) => (None, Some(uri.clone())),
    };
    let row = client::ActiveModel {
        client_id: Set(c.client_id.clone()),
        department_id: Set(c.department_id.clone()),
        jwks: Set(jwks),
        jwks_uri: Set(jwks_uri),
        scopes: Set(serde_json::json!(c.scopes)),
        created_at: Set(now_ms()),
        redirect_uris: Set(serde_json::json!(c.redirect_uris)),
        post_logout_redirect_uris: Set(serde_json::json!(c.post_logout_redirect_uris)),
        backchannel_logout_uri: Set(c.backchannel_logout_uri.clone()),
    };
    client::Entity::insert(row)
        .on_conflict(
            OnConflict::column(client::Column::ClientId)
                .update_columns([
                    client::Column::DepartmentId,
                    client::Column::Jwks,
                    client::Column::JwksUri,
                    client::Column::Scopes,
                    client::Column::RedirectUris,
                    client::Column::PostLogoutRedirectUris,
                    client::Column::BackchannelLogoutUri,
                ])
                .to_owned(),
        )
        .exec(conn)
        .await?;
    registry::changed(conn).await?;
    Ok(())
}

/// Removes one client (its tokens stop working at their next use).
pub async fn remove_client<C: ConnectionTrait>(conn: &C, client_id: &str) -> Result<bool, DbErr> {
    let r = client::Entity::delete_by_id(client_id.to_owned())
        .exec(conn)
        .await?;
    if r.rows_affected > 0 {
        registry::changed(conn).await?;
    }
    Ok(r.rows_affected > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::testdb::TestDb;

    fn dept(id: &str) -> Department {
        Department {
            id: id.into(),
            name_en: "Revenue Agency".into(),
            name_fr: "Agence du revenu".into(),
            sector_identifier: "revenue.example".into(),
            active: true,
            authoritative_for: vec!["marital_status".into()],
            delivery: None,
        }
    }

    #[tokio::test]
    async fn upsert_keeps_an_operators_disable() {
        let test = TestDb::new().await.unwrap();
        let db = test.migrated().await.unwrap();
        upsert(&db, &dept("revenue-agency")).await.unwrap();
        assert!(set_active(&db, "revenue-agency", false).await.unwrap());
        let mut renamed = dept("revenue-agency");
        renamed.name_en = "Revenue Agency of Example".into();
        upsert(&db, &renamed).await.unwrap();
        let stored = get(&db, "revenue-agency").await.unwrap().unwrap();
        assert_eq!(stored.name_en, "Revenue Agency of Example");
        assert!(
            !stored.active,
            "re-reading the catalogue must not re-enable a disabled department"
        );
        assert!(!set_active(&db, "nope", true).await.unwrap());
    }

    #[tokio::test]
    async fn a_pull_source_is_kept_apart_from_the_description_and_listed_while_active() {
        let test = TestDb::new().await.unwrap();
        let db = test.migrated().await.unwrap();
        upsert(&db, &dept("vital-statistics")).await.unwrap();
        upsert(&db, &dept("revenue-agency")).await.unwrap();
        let settings = serde_json::json!({"kind": "pull", "base_url": "https://v.example/tuo"});
        assert!(
            set_pull_source(&db, "vital-statistics", Some(&settings))
                .await
                .unwrap()
        );
        assert!(!set_pull_source(&db, "nope", Some(&settings)).await.unwrap());
        // Re-applying the description (the catalogue at start, a registry file) keeps it.
        upsert(&db, &dept("vital-statistics")).await.unwrap();
        assert_eq!(
            pull_source(&db, "vital-statistics").await.unwrap(),
            Some(settings.clone())
        );
        assert_eq!(pull_source(&db, "revenue-agency").await.unwrap(), None);
        let listed = active_pull_sources(&db).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].0.id, "vital-statistics");
        assert_eq!(listed[0].1, settings);
        // A disabled department is not polled; removing the source stops it too.
        set_active(&db, "vital-statistics", false).await.unwrap();
        assert!(active_pull_sources(&db).await.unwrap().is_empty());
        set_active(&db, "vital-statistics", true).await.unwrap();
        set_pull_source(&db, "vital-statistics", None)
            .await
            .unwrap();
        assert!(active_pull_sources(&db).await.unwrap().is_empty());
        assert_eq!(pull_source(&db, "vital-statistics").await.unwrap(), None);
    }

    #[tokio::test]
    async fn clients_round_trip_with_inline_keys_or_a_uri() {
        let test = TestDb::new().await.unwrap();
        let db = test.migrated().await.unwrap();
        upsert(&db, &dept("revenue-agency")).await.unwrap();
        let inline = Client {
            client_id: "cra-benefits".into(),
            department_id: "revenue-agency".into(),
            keys: ClientKeys::Inline(serde_json::json!({"keys": [{"kty": "EC", "kid": "k1"}]})),
            scopes: vec!["attributes:read".into()],
            redirect_uris: vec![
                "https://cra.example/cb".into(),
                "http://127.0.0.1:3000/cb?x=1".into(),
            ],
            post_logout_redirect_uris: vec!["https://cra.example/bye".into()],
            backchannel_logout_uri: Some("https://cra.example/logout?q=1".into()),
        };
        let by_uri = Client {
            client_id: "cra-batch".into(),
            keys: ClientKeys::Uri("https://cra.example/jwks".into()),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            ..inline.clone()
        };
        upsert_client(&db, &inline).await.unwrap();
        upsert_client(&db, &by_uri).await.unwrap();
        assert_eq!(client(&db, "cra-benefits").await.unwrap().unwrap(), inline);
        assert_eq!(client(&db, "cra-batch").await.unwrap().unwrap(), by_uri);
        assert_eq!(clients_of(&db, "revenue-agency").await.unwrap().len(), 2);
        // Replacing a client replaces its URIs too.
        let replaced = Client {
            redirect_uris: vec!["https://cra.example/new-cb".into()],
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            ..inline.clone()
        };
        upsert_client(&db, &replaced).await.unwrap();
        assert_eq!(
            client(&db, "cra-benefits").await.unwrap().unwrap(),
            replaced
        );
    }

    #[tokio::test]
    async fn an_unreadable_stored_uri_list_is_an_error_not_an_empty_list() {
        let test = TestDb::new().await.unwrap();
        let db = test.migrated().await.unwrap();
        upsert(&db, &dept("revenue-agency")).await.unwrap();
        let c = Client {
            client_id: "cra-web".into(),
            department_id: "revenue-agency".into(),
            keys: ClientKeys::Uri("https://cra.example/jwks".into()),
            scopes: vec!["attributes:read".into()],
            redirect_uris: vec!["https://cra.example/cb".into()],
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
        };
        upsert_client(&db, &c).await.unwrap();
        for field in ["redirect_uris", "post_logout_redirect_uris"] {
            db.execute_unprepared(&format!(
                "UPDATE department_clients SET {field} = '{{\"not\": \"a list\"}}'"
            ))
            .await
            .unwrap();
            let err = client(&db, "cra-web").await.unwrap_err().to_string();
            assert!(
                err.contains("`cra-web`") && err.contains(&format!("`{field}`")),
                "{err}"
            );
            db.execute_unprepared(&format!("UPDATE department_clients SET {field} = '[]'"))
                .await
                .unwrap();
        }
        assert!(client(&db, "cra-web").await.unwrap().is_some());
    }
}
