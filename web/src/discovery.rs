//! `/.well-known/openid-configuration` and `/jwks.json`: what a department needs to talk to the
//! broker with an unmodified OpenID Connect / OAuth 2.0 library.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;

use services::keys::{Jwk, SigningKeys};

use crate::Site;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

/// The broker's public signing keys: the current key first, then rotated-out keys still in their
/// grace period.
#[utoipa::path(tag = "discovery", responses((status = 200, description = "JSON Web Key Set", body = JwkSet)))]
#[get("/jwks.json")]
pub async fn jwks(keys: web::Data<SigningKeys>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(JwkSet {
            keys: keys.published(),
        })
}

/// OpenID Provider / OAuth 2.0 Authorization Server metadata.
#[utoipa::path(tag = "discovery", responses((status = 200, description = "Provider metadata", body = Object)))]
#[get("/.well-known/openid-configuration")]
pub async fn openid_configuration(site: web::Data<Site>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(metadata(&site.public_url))
}

/// Built from what this broker actually serves; features add their endpoints here.
pub fn metadata(issuer: &str) -> serde_json::Value {
    serde_json::json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks.json"),
        "service_documentation": format!("{issuer}/docs/api"),
        "ui_locales_supported": ["en", "fr"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint": services::oauth::token_endpoint(issuer),
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "EdDSA", "RS256", "PS256"],
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": services::oauth::scope::ALL,
    })
}
