//! `request_uri` values: issued for a pushed request (RFC 9126 §2.2), presented at the
//! authorization endpoint (§4), redeemed once.
//!
//! A value is `urn:ietf:params:oauth:request_uri:` followed by 256 random bits in base64url. It
//! is a bearer reference to the request, so the caller stores the request under
//! [`storage_key`] (its SHA-256), never under the value itself. Single use is enforced by the
//! caller deleting the stored request in the same step that reads it (FAPI 2.0 recommends doing
//! so when the citizen authorizes, not when a page merely loads).

use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::form::Form;
use super::{AuthorizationRequest, ParError};
use crate::encoding::{b64, is_b64url, sha256_b64};

pub const PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// The lifetime the brief and most deployments use.
pub const DEFAULT_LIFETIME_SECS: i64 = 60;
/// FAPI 2.0 §5.3.2.2: `expires_in` less than 600 seconds.
pub const MAX_LIFETIME_SECS: i64 = 599;

/// What is stored under a `request_uri` until it is used or expires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushedRequest {
    pub request: AuthorizationRequest,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// A freshly issued `request_uri`.
#[derive(Clone, PartialEq)]
pub struct Issued {
    /// Returned to the client; never stored.
    pub request_uri: String,
    pub expires_in: i64,
    /// The key to store `record` under (and to delete it by once used or expired).
    pub storage_key: String,
    pub record: PushedRequest,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The request_uri is a bearer reference to the request: never printed.
        f.debug_struct("Issued")
            .field("expires_in", &self.expires_in)
            .field("storage_key", &self.storage_key)
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

impl Issued {
    /// The body of the `201 Created` answer (RFC 9126 §2.2).
    pub fn response_body(&self) -> Value {
        json!({"request_uri": self.request_uri, "expires_in": self.expires_in})
    }
}

/// Issues a `request_uri` for a validated request, valid `lifetime_secs` from `now`.
pub fn issue(
    request: AuthorizationRequest,
    now: i64,
    lifetime_secs: i64,
    rng: &dyn SecureRandom,
) -> Result<Issued, ParError> {
    if !(1..=MAX_LIFETIME_SECS).contains(&lifetime_secs) {
        return Err(ParError::Lifetime);
    }
    // FAPI 2.0 §5.4: at least 128 bits of entropy; 256 leave no doubt.
    let mut random = [0u8; 32];
    rng.fill(&mut random).map_err(|_| ParError::Random)?;
    let request_uri = format!("{PREFIX}{}", b64(random));
    Ok(Issued {
        storage_key: storage_key(&request_uri),
        expires_in: lifetime_secs,
        record: PushedRequest {
            request,
            issued_at: now,
            expires_at: now.saturating_add(lifetime_secs),
        },
        request_uri,
    })
}

/// The storage key of a `request_uri`: base64url(SHA-256(value)).
pub fn storage_key(request_uri: &str) -> String {
    sha256_b64(request_uri.as_bytes())
}

/// What the authorization endpoint accepts: `client_id` and `request_uri`, nothing else used
/// (FAPI 2.0 §5.3.3.2: clients send only these; any other parameter is ignored, never merged
/// into the pushed request).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizeEntry {
    pub client_id: String,
    pub request_uri: String,
}

impl std::fmt::Debug for AuthorizeEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizeEntry")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl AuthorizeEntry {
    /// Reads the authorization endpoint's query string. No `request_uri` means the request was
    /// not pushed, which this provider refuses (RFC 9126 §4, FAPI 2.0 §5.3.2.2).
    pub fn parse(query: &str) -> Result<Self, ParError> {
        let form = Form::parse(query.as_bytes())?;
        let request_uri = form.get("request_uri")?.ok_or(ParError::NotPushed)?;
        let client_id = form.require("client_id")?;
        let random = request_uri
            .strip_prefix(PREFIX)
            .filter(|r| r.len() == 43 && is_b64url(r));
        if random.is_none() {
            // Not one we could have issued: the same answer as an unknown one.
            return Err(ParError::RequestUriUnknown);
        }
        Ok(Self {
            client_id: client_id.to_owned(),
            request_uri: request_uri.to_owned(),
        })
    }

    /// The key to look the pushed request up by.
    pub fn storage_key(&self) -> String {
        storage_key(&self.request_uri)
    }

    /// Checks the stored request found under [`Self::storage_key`] (`None`: nothing stored,
    /// or already used) and hands back the authorization request. The caller must already
    /// have removed it from storage, so that a second use finds nothing.
    pub fn redeem(
        &self,
        stored: Option<PushedRequest>,
        now: i64,
    ) -> Result<AuthorizationRequest, ParError> {
        let stored = stored.ok_or(ParError::RequestUriUnknown)?;
        if now >= stored.expires_at {
            return Err(ParError::RequestUriExpired);
        }
        // RFC 9126 §4: the request_uri is bound to the client that pushed it.
        if stored.request.client_id != self.client_id {
            return Err(ParError::RequestUriOtherClient);
        }
        Ok(stored.request)
    }
}
