//! `[openid_provider]`: lifetimes of what the OpenID Provider issues, and its `acr` values.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct OpenIdProviderConfig {
    /// How long a pushed request's `request_uri` may be used (RFC 9126; FAPI 2.0: under 600).
    pub request_uri_ttl_secs: i64,
    /// How long an authorization code may be exchanged (at most 60: FAPI 2.0 §5.3.2.1).
    pub code_ttl_secs: i64,
    /// Lifetime of an access token for userinfo.
    pub access_token_ttl_secs: i64,
    /// Lifetime of an ID token.
    pub id_token_ttl_secs: i64,
    /// Longest a refresh token lives (never past the consent it rests on).
    pub refresh_token_ttl_secs: i64,
    /// How long a citizen may take through sign-in and the consent screen.
    pub interaction_ttl_secs: i64,
    /// The `acr` values standing for levels of assurance 1, 2, 3 and 4.
    pub acr_values: [String; 4],
}

impl Default for OpenIdProviderConfig {
    fn default() -> Self {
        Self {
            request_uri_ttl_secs: fapi::par::request_uri::DEFAULT_LIFETIME_SECS,
            code_ttl_secs: 60,
            access_token_ttl_secs: 300,
            id_token_ttl_secs: 300,
            refresh_token_ttl_secs: 30 * 86_400,
            interaction_ttl_secs: 1_800,
            acr_values: [1, 2, 3, 4].map(|n| format!("urn:tell-us-once:loa:{n}")),
        }
    }
}

impl OpenIdProviderConfig {
    /// Checks the values a deployment may get wrong; the mapping of `acr` values.
    pub fn check(&self) -> Result<fapi::acr::AcrMapping, String> {
        if !(1..=fapi::par::request_uri::MAX_LIFETIME_SECS).contains(&self.request_uri_ttl_secs) {
            return Err("`openid_provider.request_uri_ttl_secs` must be 1 to 599".into());
        }
        if !(1..=60).contains(&self.code_ttl_secs) {
            return Err("`openid_provider.code_ttl_secs` must be 1 to 60".into());
        }
        for (name, value) in [
            ("access_token_ttl_secs", self.access_token_ttl_secs),
            ("id_token_ttl_secs", self.id_token_ttl_secs),
            ("refresh_token_ttl_secs", self.refresh_token_ttl_secs),
            ("interaction_ttl_secs", self.interaction_ttl_secs),
        ] {
            if value < 1 {
                return Err(format!("`openid_provider.{name}` must be positive"));
            }
        }
        fapi::acr::AcrMapping::new(self.acr_values.clone())
            .map_err(|_| "`openid_provider.acr_values` must be four distinct values".to_owned())
    }
}
