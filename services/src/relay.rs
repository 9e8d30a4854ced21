//! Tell us once: a change entered once reaches every department the citizen chose.
//!
//! A change (a citizen's update, an authoritative department's report or life event, a consent
//! that ended) is written with one outbox row per receiving department in ONE transaction
//! ([`outbox`]); who receives is decided by [`recipients`] (an active `ongoing` consent covering
//! the attribute and a Cedar `receive` permit). The [`worker`] claims due rows, builds a Security
//! Event Token ([`set`], RFC 8417) signed by the broker, and hands it to the department's adapter
//! (crate `adapters`): 2xx is delivered, anything else is retried with exponential backoff and
//! jitter until the retry budget is spent, then dead-lettered (`failed`). Per (department,
//! citizen), deliveries go out in order. `api` is `POST /api/v1/subjects/{sub}/attributes`,
//! `pages` the citizen's "update my information" with its preview and per-department status,
//! `cli` is `broker deliveries list|retry`, `demo` the demo's two receiving departments, and
//! [`pull`] reads the changes of departments that cannot push them (pull sources) and records
//! each one as a department's report.
//! [`supersede`] keeps a newer change of the same attributes from being overtaken by an older
//! one (superseded deliveries are never sent), and [`telemetry`] tells operators (`/metrics`,
//! one WARN per failed attempt and dead letter) and classes the failures the citizen's page
//! words. The worker renews its leases while it works, so a dead worker's rows are taken over
//! within one short lease.
//!
//! INVARIANT: the outbox holds attribute names and versions, never values: a SET is built from
//! the encrypted value at delivery time, and neither a SET nor a value is ever logged or stored
//! in an error. A delivery's `id` is its SET's `jti`, the same on every attempt, so a receiver
//! that de-duplicates by `jti` sees each change once.

pub mod entities;
mod error;
pub mod outbox;
pub mod pull;
pub mod recheck;
pub mod recipients;
pub mod report;
pub mod set;
pub mod settings;
pub mod supersede;
pub mod telemetry;
pub mod worker;

#[cfg(test)]
mod ordering_tests;
#[cfg(test)]
mod supersede_tests;
#[cfg(test)]
mod withdrawal_tests;

pub use error::RelayError;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use adapters::{AdapterConfig, AdapterError, ClientOptions, DeliveryAdapter, Registry};
use policies::PolicyEngine;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::audit_log::AuditLog;
use crate::keys::{Secrets, SigningKeys};
use crate::vault::Vault;

/// The relay: what it writes with a change (the outbox), the worker that delivers, and the pull
/// sources it reads. Everything it uses, and nothing else.
#[derive(Debug, Clone)]
pub struct Relay {
    pub db: DatabaseConnection,
    pub policy: Arc<PolicyEngine>,
    pub audit: AuditLog,
    /// Signs SETs.
    pub keys: Arc<SigningKeys>,
    /// The pairwise secret (departments' subject ids in SETs).
    pub secrets: Arc<Secrets>,
    /// Reads the values a SET carries.
    pub vault: Arc<Vault>,
    /// Departments' delivery adapters.
    pub adapters: Arc<Adapters>,
    /// Wakes this instance's worker when a transaction queues deliveries (other instances find
    /// them at their next poll).
    pub relay_wake: Arc<Notify>,
    pub settings: Arc<settings::RelayConfig>,
    /// The broker's issuer identifier (`iss` of SETs).
    pub issuer: Arc<str>,
    /// Where the worker's series go (`/metrics`; see [`telemetry`]).
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// What a change is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A value changed (the citizen's update, or a department's report outside a life event).
    Update,
    /// A move: a new address.
    Move,
    /// A name change.
    NameChange,
    /// A death: the date of death, to its statutory recipients.
    Death,
    /// After a death: releases to this department stopped (no value).
    ReleasesStopped,
    /// A consent the department held was revoked or expired.
    ConsentRevoked,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Update => "update",
            EventKind::Move => "move",
            EventKind::NameChange => "name-change",
            EventKind::Death => "death",
            EventKind::ReleasesStopped => "releases-stopped",
            EventKind::ConsentRevoked => "consent-revoked",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        [
            EventKind::Update,
            EventKind::Move,
            EventKind::NameChange,
            EventKind::Death,
            EventKind::ReleasesStopped,
            EventKind::ConsentRevoked,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Whether its SET carries new values (and so needs a `ReleaseGrant` when it is sent).
    pub fn carries_values(self) -> bool {
        match self {
            EventKind::Update | EventKind::Move | EventKind::NameChange | EventKind::Death => true,
            EventKind::ReleasesStopped | EventKind::ConsentRevoked => false,
        }
    }

    /// The SET event type (the key of its `events` claim).
    pub fn uri(self) -> String {
        format!("{EVENT_URI_PREFIX}{}", self.as_str())
    }
}

/// Every event type URI starts with this.
pub const EVENT_URI_PREFIX: &str = "urn:tell-us-once:secevent:";

/// An adapter with the settings it was built from.
type Built = (serde_json::Value, Arc<dyn DeliveryAdapter>);

/// Departments' delivery adapters, built once per configuration and kept (an adapter holds the
/// per-department concurrency limit, so it must be shared by every delivery to that department).
pub struct Adapters {
    registry: Registry,
    built: Mutex<HashMap<String, Built>>,
}

impl std::fmt::Debug for Adapters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Adapters")
    }
}

impl Adapters {
    pub fn new() -> Result<Self, AdapterError> {
        Ok(Self {
            registry: Registry::new(&ClientOptions::default())?,
            built: Mutex::new(HashMap::new()),
        })
    }

    /// The adapter for a department's delivery settings (rebuilt when they change).
    pub fn for_department(
        &self,
        department_id: &str,
        settings: &serde_json::Value,
    ) -> Result<Arc<dyn DeliveryAdapter>, AdapterError> {
        if let Ok(built) = self.built.lock()
            && let Some((seen, adapter)) = built.get(department_id)
            && seen == settings
        {
            return Ok(adapter.clone());
        }
        let config = AdapterConfig::from_json(settings.clone())?;
        let adapter = self.registry.delivery_adapter(&config)?;
        if let Ok(mut built) = self.built.lock() {
            built.insert(
                department_id.to_owned(),
                (settings.clone(), adapter.clone()),
            );
        }
        Ok(adapter)
    }
}
