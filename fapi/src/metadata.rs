//! The provider's discovery metadata: one typed document served as OpenID Connect Discovery 1.0
//! (`/.well-known/openid-configuration`) and as RFC 8414 (`/.well-known/oauth-authorization-server`).
//!
//! What the profile fixes — code flow only, PAR required, PKCE S256, `private_key_jwt`, DPoP,
//! RFC 9207 `iss`, pairwise subjects, `verified_claims` under `pctf`, back-channel logout — is
//! written here and cannot be configured away, so the document stays truthful; what the
//! deployment decides (URLs, claims, acr values, extra grants) comes from [`ProviderConfig`].
//!
//! One deliberate difference from OpenID Connect Discovery §3, as the FAPI profiles make it:
//! `id_token_signing_alg_values_supported` does not list RS256 (FAPI 2.0 §5.4 allows only
//! PS256, ES256 and EdDSA; the broker signs ES256).

use serde::Serialize;
use serde_json::Value;

use crate::acr::AcrMapping;
use crate::jws::Algorithm;
use crate::par::SCOPES_SUPPORTED;

/// Why a configuration cannot make a metadata document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    #[error(
        "the issuer must be an https url (http only on a loopback address) without query or fragment"
    )]
    Issuer,
}

/// What the deployment decides.
#[derive(Debug, Clone)]
pub struct ProviderConfig<'a> {
    /// The broker's public URL (`public_url`): the issuer, and the base of every endpoint.
    pub issuer: &'a str,
    /// The attribute names the catalogue can release (`claims_supported`,
    /// `claims_in_verified_claims_supported`).
    pub claims_supported: &'a [String],
    pub acr: &'a AcrMapping,
    /// Grants served besides the code flow (the attribute API's `client_credentials`).
    pub extra_grant_types: &'a [&'a str],
    /// Scopes served besides the sign-in ones (the attribute API's).
    pub extra_scopes: &'a [&'a str],
    /// Accepted for client assertions and DPoP proofs; [`Algorithm::FAPI`] unless RS256 keys
    /// must be admitted.
    pub client_algorithms: &'a [Algorithm],
}

/// The metadata document. Member names are the registered ones; `None` members are left out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub pushed_authorization_request_endpoint: String,
    pub require_pushed_authorization_requests: bool,
    pub userinfo_endpoint: String,
    pub jwks_uri: String,
    pub end_session_endpoint: String,
    pub service_documentation: String,
    pub scopes_supported: Vec<String>,
    pub response_types_supported: Vec<&'static str>,
    pub response_modes_supported: Vec<&'static str>,
    pub grant_types_supported: Vec<String>,
    pub subject_types_supported: Vec<&'static str>,
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    pub token_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    pub code_challenge_methods_supported: Vec<&'static str>,
    pub dpop_signing_alg_values_supported: Vec<&'static str>,
    pub authorization_response_iss_parameter_supported: bool,
    pub claims_parameter_supported: bool,
    pub request_parameter_supported: bool,
    pub claim_types_supported: Vec<&'static str>,
    pub claims_supported: Vec<String>,
    pub acr_values_supported: Vec<String>,
    pub prompt_values_supported: Vec<&'static str>,
    pub ui_locales_supported: Vec<&'static str>,
    pub verified_claims_supported: bool,
    pub trust_frameworks_supported: Vec<&'static str>,
    pub evidence_supported: Vec<&'static str>,
    pub claims_in_verified_claims_supported: Vec<String>,
    pub backchannel_logout_supported: bool,
    pub backchannel_logout_session_supported: bool,
}

/// Endpoint paths under the issuer. The wiring serves them; they are fixed here so the
/// document and the routes cannot disagree.
pub mod paths {
    pub const AUTHORIZATION: &str = "/oauth2/authorize";
    pub const TOKEN: &str = "/oauth2/token";
    pub const PAR: &str = "/oauth2/par";
    pub const USERINFO: &str = "/oauth2/userinfo";
    pub const END_SESSION: &str = "/oauth2/logout";
    pub const JWKS: &str = "/jwks.json";
    pub const DOCUMENTATION: &str = "/docs/api";
}

impl ProviderMetadata {
    pub fn new(config: &ProviderConfig<'_>) -> Result<Self, MetadataError> {
        let issuer = check_issuer(config.issuer)?;
        let at = |path: &str| format!("{}{path}", issuer.trim_end_matches('/'));
        let algorithms: Vec<&'static str> =
            config.client_algorithms.iter().map(|a| a.name()).collect();
        let mut grant_types = vec!["authorization_code".to_owned(), "refresh_token".to_owned()];
        grant_types.extend(config.extra_grant_types.iter().map(|g| (*g).to_owned()));
        let mut scopes: Vec<String> = SCOPES_SUPPORTED.iter().map(|s| (*s).to_owned()).collect();
        scopes.extend(config.extra_scopes.iter().map(|s| (*s).to_owned()));
        Ok(Self {
            authorization_endpoint: at(paths::AUTHORIZATION),
            token_endpoint: at(paths::TOKEN),
            pushed_authorization_request_endpoint: at(paths::PAR),
            require_pushed_authorization_requests: true,
            userinfo_endpoint: at(paths::USERINFO),
            jwks_uri: at(paths::JWKS),
            end_session_endpoint: at(paths::END_SESSION),
            service_documentation: at(paths::DOCUMENTATION),
            scopes_supported: scopes,
            response_types_supported: vec!["code"],
            response_modes_supported: vec!["query"],
            grant_types_supported: grant_types,
            subject_types_supported: vec!["pairwise"],
            id_token_signing_alg_values_supported: vec!["ES256"],
            token_endpoint_auth_methods_supported: vec!["private_key_jwt"],
            token_endpoint_auth_signing_alg_values_supported: algorithms.clone(),
            code_challenge_methods_supported: vec!["S256"],
            dpop_signing_alg_values_supported: algorithms,
            authorization_response_iss_parameter_supported: true,
            claims_parameter_supported: true,
            request_parameter_supported: false,
            claim_types_supported: vec!["normal"],
            claims_supported: config.claims_supported.to_vec(),
            acr_values_supported: config.acr.supported().to_vec(),
            prompt_values_supported: vec!["none", "login", "consent"],
            ui_locales_supported: vec!["en", "fr"],
            verified_claims_supported: true,
            trust_frameworks_supported: vec![crate::claims::TRUST_FRAMEWORK],
            evidence_supported: vec!["electronic_record"],
            claims_in_verified_claims_supported: config.claims_supported.to_vec(),
            backchannel_logout_supported: true,
            backchannel_logout_session_supported: true,
            issuer,
        })
    }

    /// The document for `/.well-known/openid-configuration`.
    pub fn openid_configuration(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The document for `/.well-known/oauth-authorization-server`: the same members (RFC 8414
    /// §5 asks the two to agree; the OpenID ones are registered for it too).
    pub fn oauth_authorization_server(&self) -> Value {
        self.openid_configuration()
    }

    /// Where each document is served, as paths on the issuer's host: OpenID Discovery §4
    /// appends to the issuer's path, RFC 8414 §3.1 inserts before it.
    pub fn well_known_paths(&self) -> (String, String) {
        let path = url::Url::parse(&self.issuer)
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        (
            format!("{path}/.well-known/openid-configuration"),
            format!("/.well-known/oauth-authorization-server{path}"),
        )
    }
}

/// RFC 8414 §2: an https URL without query or fragment (http allowed on loopback, for
/// development, as the broker's own configuration allows).
fn check_issuer(issuer: &str) -> Result<String, MetadataError> {
    let url = url::Url::parse(issuer).map_err(|_| MetadataError::Issuer)?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    if !scheme_ok || url.query().is_some() || url.fragment().is_some() || url.host().is_none() {
        return Err(MetadataError::Issuer);
    }
    Ok(issuer.to_owned())
}

#[cfg(test)]
mod tests;
