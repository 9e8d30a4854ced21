//! OAuth 2.0 for department systems: the token endpoint (`client_credentials` with
//! `private_key_jwt`, RFC 7523 §2.2 / OpenID Connect Core §9), the broker's short-lived JWT access
//! tokens (RFC 9068 shape), and the bearer check every department API call goes through.
//!
//! Access control is a type: an API handler takes [`DepartmentCaller`], which exists only for a
//! valid, unexpired token of an active department's registered client, and asks it for the scope
//! it needs.

pub mod assertion;
pub mod bearer;
pub mod client_keys;
pub mod refusals;
pub mod token;

pub use bearer::{BearerError, DepartmentCaller};

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::audit_log::AuditLog;
use crate::keys::SigningKeys;

/// OAuth 2.0 for department systems: the token endpoint and the bearer check, with what they use.
#[derive(Debug, Clone)]
pub struct OAuth {
    pub db: DatabaseConnection,
    /// Signs and verifies access tokens.
    pub keys: Arc<SigningKeys>,
    /// This instance's copy of the department registry (kept current by `registry::watch`).
    pub registry: crate::departments::Registry,
    /// Departments' client keys (inline, or fetched from their `jwks_uri`).
    pub client_keys: Arc<client_keys::ClientKeyCache>,
    /// Client assertion ids seen (stored in group commits).
    pub assertions: Arc<token::SeenAssertions>,
    /// Verified access tokens, remembered until they expire.
    pub tokens: Arc<bearer::TokenVerifier>,
    pub audit: AuditLog,
    /// Counts refusals that identified nobody (`refusals`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The broker's issuer identifier.
    pub issuer: Arc<str>,
}

pub use token::OAuthError;

/// Scopes a department client can hold.
pub mod scope {
    /// Read a citizen's attributes (`GET /api/v1/subjects/{sub}/attributes`).
    pub const ATTRIBUTES_READ: &str = "attributes:read";
    /// Report values as an authoritative source (`POST /api/v1/subjects/{sub}/attributes`).
    pub const ATTRIBUTES_WRITE: &str = "attributes:write";
    /// Ask citizens for consent (`/api/v1/consent-requests`).
    pub const CONSENT_REQUEST: &str = "consent:request";
    /// Read the audit log (machine access for privacy offices).
    pub const AUDIT_READ: &str = "audit:read";
    /// Register delegations the department is the authority for (`/api/v1/delegations`).
    pub const DELEGATIONS_WRITE: &str = "delegations:write";
    pub const ALL: [&str; 5] = [
        ATTRIBUTES_READ,
        ATTRIBUTES_WRITE,
        CONSENT_REQUEST,
        AUDIT_READ,
        DELEGATIONS_WRITE,
    ];
}

/// Lifetime of an access token.
pub const ACCESS_TOKEN_TTL_SECS: i64 = 300;
/// Furthest in the future a client assertion may expire.
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 300;
/// Clock skew tolerated between the broker and departments.
pub const CLOCK_SKEW_SECS: i64 = 30;

/// The audience of the broker's access tokens.
pub fn api_audience(issuer: &str) -> String {
    format!("{issuer}/api")
}

pub fn token_endpoint(issuer: &str) -> String {
    format!("{issuer}/oauth2/token")
}
