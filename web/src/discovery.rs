//! `/.well-known/openid-configuration`, `/.well-known/oauth-authorization-server` (RFC 8414) and
//! `/jwks.json`: what a department needs to talk to the broker with an unmodified OpenID Connect
//! / OAuth 2.0 library.

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

/// OpenID Connect Discovery 1.0: the provider metadata (the same document as RFC 8414's).
#[utoipa::path(tag = "discovery", responses((status = 200, description = "Provider metadata", body = Object)))]
#[get("/.well-known/openid-configuration")]
pub async fn openid_configuration(site: web::Data<Site>) -> HttpResponse {
    document(&site)
}

/// OAuth 2.0 Authorization Server Metadata (RFC 8414): the same document as OpenID discovery.
#[utoipa::path(tag = "discovery", responses((status = 200, description = "Authorization server metadata (RFC 8414)", body = Object)))]
#[get("/.well-known/oauth-authorization-server")]
pub async fn oauth_authorization_server(site: web::Data<Site>) -> HttpResponse {
    document(&site)
}

fn document(site: &Site) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(metadata(&site.public_url))
}

/// The one metadata document, served at both well-known paths so they can never disagree (RFC
/// 8414 §5 asks that they agree). Built from what this broker actually serves; features add their
/// endpoints here.
///
/// Left out on purpose until the broker is an OpenID Provider (DESIGN.md: departments' web apps
/// signing citizens in): `authorization_endpoint`, `userinfo_endpoint`, PAR and the other
/// sign-in members. Publishing an authorization endpoint that does not exist would send a client
/// library to a 404; today the only grant is `client_credentials`, which needs none (RFC 8414 §2).
/// `response_types_supported` (required by both specifications) names `code`, the only response
/// type the FAPI 2.0 profile allows and the only one the provider will serve; without an
/// authorization endpoint no client can start that flow yet. `subject_types_supported` is
/// `pairwise`: a department only ever sees a pairwise subject id.
pub fn metadata(issuer: &str) -> serde_json::Value {
    serde_json::json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks.json"),
        "service_documentation": format!("{issuer}/docs/api"),
        "ui_locales_supported": ["en", "fr"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint": services::oauth::token_endpoint(issuer),
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "EdDSA", "RS256", "PS256"],
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": services::oauth::scope::ALL,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OpenID Connect Discovery 1.0 §3, REQUIRED members, without `authorization_endpoint`:
    /// the broker is not an OpenID Provider yet (see [`metadata`]).
    const OIDC_REQUIRED: [&str; 6] = [
        "issuer",
        "token_endpoint",
        "jwks_uri",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ];

    /// RFC 8414 §2, REQUIRED members (`authorization_endpoint` only when a grant uses it; none
    /// does yet).
    const RFC8414_REQUIRED: [&str; 3] = ["issuer", "token_endpoint", "response_types_supported"];

    fn present(document: &serde_json::Value, member: &str) -> bool {
        match document.get(member) {
            None | Some(serde_json::Value::Null) => false,
            Some(serde_json::Value::String(s)) => !s.is_empty(),
            Some(serde_json::Value::Array(a)) => !a.is_empty(),
            Some(_) => true,
        }
    }

    #[test]
    fn the_document_has_every_member_both_specifications_require() {
        let document = metadata("https://broker.example");
        for member in OIDC_REQUIRED.iter().chain(&RFC8414_REQUIRED) {
            assert!(present(&document, member), "{member} missing");
        }
        assert_eq!(
            document["subject_types_supported"],
            serde_json::json!(["pairwise"])
        );
        assert_eq!(document["issuer"], "https://broker.example");
        // No endpoint is published that the broker does not serve.
        for absent in ["authorization_endpoint", "userinfo_endpoint"] {
            assert!(document.get(absent).is_none(), "{absent}");
        }
        // Every grant advertised needs no authorization endpoint (RFC 8414 §2).
        assert_eq!(
            document["grant_types_supported"],
            serde_json::json!(["client_credentials"])
        );
    }

    #[actix_web::test]
    async fn both_well_known_paths_serve_the_same_document() {
        let app = actix_web::test::init_service(
            actix_web::App::new()
                .app_data(web::Data::new(Site {
                    public_url: "http://127.0.0.1:8080".into(),
                    secure_cookies: false,
                    max_body_bytes: 1024,
                }))
                .service(openid_configuration)
                .service(oauth_authorization_server),
        )
        .await;
        let mut documents = Vec::new();
        for path in [
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
        ] {
            let req = actix_web::test::TestRequest::get().uri(path).to_request();
            let body: serde_json::Value = actix_web::test::call_and_read_body_json(&app, req).await;
            assert_eq!(body["issuer"], "http://127.0.0.1:8080", "{path}");
            documents.push(body);
        }
        assert_eq!(documents[0], documents[1]);
    }
}
