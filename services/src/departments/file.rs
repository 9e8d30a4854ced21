//! The department registry file (`departments.registry_path`, and `broker departments add
//! --file`): departments beyond the catalogue, and every department's clients (their public keys
//! inline, in a file, or at a `jwks_uri`, and their scopes), delivery settings and pull source.
//!
//! ```toml
//! [[department]]
//! id = "revenue-agency"                       # a catalogue department: only clients and delivery
//! delivery = { kind = "push", endpoint = "https://revenue.example/tuo/events" }
//! # where the broker fetches its changes (`kind = "pull"` may be left out)
//! pull_source = { base_url = "https://revenue.example/tuo", poll_interval_secs = 300 }
//!
//!   [[department.client]]
//!   client_id = "cra-benefits"
//!   scopes = ["attributes:read", "consent:request"]
//!   jwks_file = "keys/cra-benefits.jwks.json" # relative to this file; or `jwks_uri`, or `jwks`
//!
//! [[department]]
//! id = "municipal-housing"                    # not in the catalogue: describe it fully
//! name_en = "Municipal Housing Office"
//! name_fr = "Office municipal d'habitation"
//! sector_identifier = "housing.city.example"
//! authoritative_for = []
//! ```
//!
//! INVARIANT: a file is checked whole before anything is written, and written in one
//! transaction: a bad entry changes nothing. A department's sector identifier never changes
//! once registered (every pairwise id derives from it), and a catalogue department's
//! description stays the catalogue's.

use std::path::{Path, PathBuf};

use sea_orm::{ConnectionTrait, TransactionTrait};
use serde::Deserialize;

use super::{Client, ClientKeys, Department};
use crate::oauth::client_keys::parse_jwks;
use crate::oauth::scope;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{path}` is not a valid registry file: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("department `{department}`: {reason}")]
    Department { department: String, reason: String },
    #[error("client `{client}`: {reason}")]
    Client { client: String, reason: String },
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
}

/// A registry file as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryFile {
    #[serde(default)]
    pub department: Vec<DepartmentEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentEntry {
    pub id: String,
    pub name_en: Option<String>,
    pub name_fr: Option<String>,
    pub sector_identifier: Option<String>,
    pub authoritative_for: Option<Vec<String>>,
    /// Adapter settings for pushed changes (`{"kind": "push", "endpoint": …}` or
    /// `{"kind": "file-drop", "directory": …}`).
    pub delivery: Option<serde_json::Value>,
    /// Pull adapter settings (`{"base_url": …, "poll_interval_secs": …}`; `kind` is `pull`
    /// and may be left out): the broker fetches the department's changes from its REST API.
    pub pull_source: Option<serde_json::Value>,
    #[serde(default)]
    pub client: Vec<ClientEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientEntry {
    pub client_id: String,
    /// Defaults to `["attributes:read"]`.
    pub scopes: Option<Vec<String>>,
    /// A JWKS, inline.
    pub jwks: Option<serde_json::Value>,
    /// A JWKS file, read at import (relative paths are relative to the registry file).
    pub jwks_file: Option<PathBuf>,
    /// Where the client publishes its JWKS (https; http only on loopback).
    pub jwks_uri: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Departments registered for the first time.
    pub added: Vec<String>,
    /// Departments already registered whose entry was applied.
    pub updated: Vec<String>,
    /// Clients registered or replaced.
    pub clients: Vec<String>,
    /// The department of each of `clients`, in the same order (every record about a client
    /// names its department).
    pub client_departments: Vec<String>,
    /// Departments whose pull source was set or replaced.
    pub pull_sources: Vec<String>,
}

/// Reads a registry file; `jwks_file`s are read relative to it.
pub fn load(path: &Path) -> Result<RegistryFile, RegistryError> {
    let text = std::fs::read_to_string(path).map_err(|source| RegistryError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut file: RegistryFile = toml::from_str(&text).map_err(|e| RegistryError::Parse {
        path: path.to_owned(),
        message: e.message().to_owned(),
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    for client in file.department.iter_mut().flat_map(|d| d.client.iter_mut()) {
        resolve_jwks_file(client, base)?;
    }
    Ok(file)
}

/// Replaces `jwks_file` by the JWKS it holds.
pub fn resolve_jwks_file(client: &mut ClientEntry, base: &Path) -> Result<(), RegistryError> {
    let Some(file) = client.jwks_file.take() else {
        return Ok(());
    };
    if client.jwks.is_some() {
        return Err(client_error(
            client,
            "give one of `jwks`, `jwks_file` or `jwks_uri`",
        ));
    }
    let path = if file.is_absolute() {
        file
    } else {
        base.join(file)
    };
    let text = std::fs::read_to_string(&path).map_err(|source| RegistryError::Read {
        path: path.clone(),
        source,
    })?;
    let value = serde_json::from_str(&text).map_err(|_| RegistryError::Parse {
        path: path.clone(),
        message: "not a JSON Web Key Set".to_owned(),
    })?;
    client.jwks = Some(value);
    Ok(())
}

fn department_error(id: &str, reason: impl Into<String>) -> RegistryError {
    RegistryError::Department {
        department: id.chars().take(64).collect(),
        reason: reason.into(),
    }
}

fn client_error(client: &ClientEntry, reason: impl Into<String>) -> RegistryError {
    RegistryError::Client {
        client: client.client_id.chars().take(128).collect(),
        reason: reason.into(),
    }
}

fn is_department_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_client_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn is_loopback_http(url: &url::Url) -> bool {
    url.scheme() == "http"
        && matches!(
            url.host_str(),
            Some("127.0.0.1") | Some("localhost") | Some("[::1]")
        )
}

/// Checks one client and turns it into a registration.
fn check_client(department: &str, c: &ClientEntry) -> Result<Client, RegistryError> {
    if !is_client_id(&c.client_id) {
        return Err(client_error(
            c,
            "client ids are 1 to 128 letters, digits, `-`, `_` or `.`",
        ));
    }
    let keys = match (&c.jwks, &c.jwks_uri, &c.jwks_file) {
        (Some(jwks), None, None) => {
            let has_private = jwks
                .get("keys")
                .and_then(|k| k.as_array())
                .is_some_and(|keys| keys.iter().any(|k| k.get("d").is_some()));
            if has_private {
                return Err(client_error(
                    c,
                    "the JWKS holds a private key: register the public keys only",
                ));
            }
            if parse_jwks(jwks).is_empty() {
                return Err(client_error(
                    c,
                    "the JWKS has no usable public key (EC P-256, Ed25519 or RSA)",
                ));
            }
            ClientKeys::Inline(jwks.clone())
        }
        (None, Some(uri), None) => {
            let parsed =
                url::Url::parse(uri).map_err(|_| client_error(c, "`jwks_uri` is not a URL"))?;
            if parsed.scheme() != "https" && !is_loopback_http(&parsed) {
                return Err(client_error(
                    c,
                    "`jwks_uri` must use https (plain http only on 127.0.0.1)",
                ));
            }
            ClientKeys::Uri(uri.clone())
        }
        _ => {
            return Err(client_error(
                c,
                "give exactly one of `jwks`, `jwks_file` or `jwks_uri`",
            ));
        }
    };
    let scopes = c
        .scopes
        .clone()
        .unwrap_or_else(|| vec![scope::ATTRIBUTES_READ.to_owned()]);
    if scopes.is_empty() {
        return Err(client_error(c, "`scopes` is empty"));
    }
    if let Some(bad) = scopes.iter().find(|s| !scope::ALL.contains(&s.as_str())) {
        return Err(client_error(
            c,
            format!(
                "unknown scope `{}` (known: {})",
                bad.chars().take(64).collect::<String>(),
                scope::ALL.join(", ")
            ),
        ));
    }
    Ok(Client {
        client_id: c.client_id.clone(),
        department_id: department.to_owned(),
        keys,
        scopes,
        redirect_uris: Vec::new(),
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
    })
}

/// Checks a delivery setting with the adapter that would use it (push or file drop).
fn check_delivery(department: &str, value: &serde_json::Value) -> Result<(), RegistryError> {
    let config = adapters::AdapterConfig::from_json(value.clone())
        .map_err(|e| department_error(department, format!("`delivery`: {e}")))?;
    let registry = adapters::Registry::new(&adapters::ClientOptions::default())
        .map_err(|e| department_error(department, format!("`delivery`: {e}")))?;
    registry
        .delivery_adapter(&config)
        .map_err(|e| department_error(department, format!("`delivery`: {e}")))?;
    Ok(())
}

/// A pull source setting with its `kind` (`pull`, the only kind that fetches), checked by the
/// pull adapter. A department that is authoritative for nothing could only have every change
/// refused, so it is refused here.
pub fn check_pull_source(
    department: &Department,
    value: &serde_json::Value,
) -> Result<serde_json::Value, RegistryError> {
    let id = department.id.as_str();
    let mut value = value.clone();
    if let Some(settings) = value.as_object_mut() {
        settings
            .entry("kind")
            .or_insert_with(|| adapters::pull::KIND.into());
    }
    let error = |e: adapters::AdapterError| department_error(id, format!("`pull_source`: {e}"));
    let config = adapters::AdapterConfig::from_json(value.clone()).map_err(error)?;
    adapters::Registry::new(&adapters::ClientOptions::default())
        .map_err(error)?
        .pull_source(&config)
        .map_err(error)?;
    if department.authoritative_for.is_empty() {
        return Err(department_error(
            id,
            "`pull_source`: the department is authoritative for no attribute, so every change it sends would be refused",
        ));
    }
    Ok(value)
}

/// One department of a checked file, ready to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub department: Department,
    /// Not registered before.
    pub new: bool,
    pub clients: Vec<Client>,
    /// A new pull source (checked, with its `kind`); `None` leaves the current one as it is.
    pub pull_source: Option<serde_json::Value>,
}

/// Checks the whole file against the catalogue and what is registered, without writing.
pub async fn plan<C: ConnectionTrait>(
    conn: &C,
    catalogue: &policies::Catalogue,
    file: &RegistryFile,
) -> Result<Vec<Planned>, RegistryError> {
    let mut planned: Vec<Planned> = Vec::new();
    let mut seen_clients: Vec<&str> = Vec::new();
    for entry in &file.department {
        let id = entry.id.as_str();
        if !is_department_id(id) {
            return Err(department_error(
                id,
                "ids are 1 to 64 lowercase letters, digits or `-`",
            ));
        }
        if planned.iter().any(|p| p.department.id == id) {
            return Err(department_error(id, "listed twice"));
        }
        let existing = super::get(conn, id).await?;
        let mut department = match (catalogue.department(id), &existing) {
            (Some(def), _) => {
                let differs = entry.name_en.as_ref().is_some_and(|n| *n != def.name_en)
                    || entry.name_fr.as_ref().is_some_and(|n| *n != def.name_fr)
                    || entry
                        .sector_identifier
                        .as_ref()
                        .is_some_and(|s| *s != def.sector_identifier)
                    || entry
                        .authoritative_for
                        .as_ref()
                        .is_some_and(|a| *a != def.authoritative_for);
                if differs {
                    return Err(department_error(
                        id,
                        "a catalogue department's names, sector and authoritative attributes come from the catalogue",
                    ));
                }
                Department {
                    id: def.id.clone(),
                    name_en: def.name_en.clone(),
                    name_fr: def.name_fr.clone(),
                    sector_identifier: def.sector_identifier.clone(),
                    active: existing.as_ref().is_none_or(|d| d.active),
                    authoritative_for: def.authoritative_for.clone(),
                    delivery: existing.as_ref().and_then(|d| d.delivery.clone()),
                }
            }
            (None, Some(known)) => known.clone(),
            (None, None) => {
                let required = |v: &Option<String>, name: &str| {
                    v.clone().filter(|s| !s.trim().is_empty()).ok_or_else(|| {
                        department_error(id, format!("`{name}` is required for a new department"))
                    })
                };
                Department {
                    id: id.to_owned(),
                    name_en: required(&entry.name_en, "name_en")?,
                    name_fr: required(&entry.name_fr, "name_fr")?,
                    sector_identifier: required(&entry.sector_identifier, "sector_identifier")?,
                    active: true,
                    authoritative_for: Vec::new(),
                    delivery: None,
                }
            }
        };
        if catalogue.department(id).is_none() {
            if let Some(name) = &entry.name_en {
                department.name_en.clone_from(name);
            }
            if let Some(name) = &entry.name_fr {
                department.name_fr.clone_from(name);
            }
            if let Some(sector) = &entry.sector_identifier
                && *sector != department.sector_identifier
            {
                return Err(department_error(
                    id,
                    "the sector identifier cannot change once registered (every pairwise id derives from it)",
                ));
            }
            if let Some(attributes) = &entry.authoritative_for {
                if let Some(unknown) = attributes.iter().find(|a| catalogue.attribute(a).is_none())
                {
                    return Err(department_error(
                        id,
                        format!(
                            "`authoritative_for` names `{}`, which is not in the attribute catalogue",
                            unknown.chars().take(64).collect::<String>()
                        ),
                    ));
                }
                department.authoritative_for.clone_from(attributes);
            }
        }
        if let Some(delivery) = &entry.delivery {
            check_delivery(id, delivery)?;
            department.delivery = Some(delivery.clone());
        }
        let pull_source = entry
            .pull_source
            .as_ref()
            .map(|value| check_pull_source(&department, value))
            .transpose()?;
        let mut clients = Vec::new();
        for c in &entry.client {
            let client = check_client(id, c)?;
            if seen_clients.contains(&client.client_id.as_str()) {
                return Err(client_error(c, "listed twice"));
            }
            seen_clients.push(&c.client_id);
            if let Some(registered) = super::client(conn, &client.client_id).await?
                && registered.department_id != id
            {
                return Err(client_error(
                    c,
                    format!(
                        "already registered to department `{}`",
                        registered.department_id
                    ),
                ));
            }
            clients.push(client);
        }
        planned.push(Planned {
            department,
            new: existing.is_none(),
            clients,
            pull_source,
        });
    }
    Ok(planned)
}

/// Checks, then writes the whole file in one transaction. Departments keep their status;
/// new ones are active. Clients not listed are left as they are (remove one with
/// `broker departments remove-client`).
pub async fn apply(
    conn: &sea_orm::DatabaseConnection,
    catalogue: &policies::Catalogue,
    file: &RegistryFile,
) -> Result<Applied, RegistryError> {
    let planned = plan(conn, catalogue, file).await?;
    let txn = conn.begin().await?;
    let mut applied = Applied::default();
    for Planned {
        department,
        new,
        clients,
        pull_source,
    } in planned
    {
        super::upsert(&txn, &department).await?;
        if let Some(settings) = &pull_source {
            super::set_pull_source(&txn, &department.id, Some(settings)).await?;
            applied.pull_sources.push(department.id.clone());
        }
        for client in &clients {
            super::upsert_client(&txn, client).await?;
            applied.clients.push(client.client_id.clone());
            applied.client_departments.push(department.id.clone());
        }
        if new {
            applied.added.push(department.id);
        } else {
            applied.updated.push(department.id);
        }
    }
    txn.commit().await?;
    Ok(applied)
}

#[cfg(test)]
mod tests;
