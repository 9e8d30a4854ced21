//! `/.well-known/openid-configuration`, `/.well-known/oauth-authorization-server` (RFC 8414) and
//! `/jwks.json`: what a department needs to talk to the broker with an unmodified OpenID Connect
//! / OAuth 2.0 library.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;

use services::keys::{Jwk, SigningKeys};
use services::provider::Provider;

use crate::problem::Error;

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
pub async fn openid_configuration(provider: web::Data<Provider>) -> Result<HttpResponse, Error> {
    document(&provider)
}

/// OAuth 2.0 Authorization Server Metadata (RFC 8414): the same document as OpenID discovery.
#[utoipa::path(tag = "discovery", responses((status = 200, description = "Authorization server metadata (RFC 8414)", body = Object)))]
#[get("/.well-known/oauth-authorization-server")]
pub async fn oauth_authorization_server(
    provider: web::Data<Provider>,
) -> Result<HttpResponse, Error> {
    document(&provider)
}

/// The one metadata document (`fapi::metadata`), served at both well-known paths so they can
/// never disagree (RFC 8414 §5 asks that they agree): the OpenID Provider's endpoints and the
/// FAPI 2.0 profile's fixed choices, the catalogue's claims, the `acr` values of the levels of
/// assurance, and the attribute API's `client_credentials` grant and scopes.
fn document(provider: &Provider) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(provider.metadata()?.openid_configuration()))
}

#[cfg(test)]
mod tests {
    use crate::testing::TestWeb;

    /// OpenID Connect Discovery 1.0 §3 and RFC 8414 §2, REQUIRED members (and those an
    /// authorization-code provider must publish).
    const REQUIRED: [&str; 8] = [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
        "userinfo_endpoint",
    ];

    #[actix_web::test]
    async fn both_well_known_paths_serve_the_same_truthful_document() {
        let h = TestWeb::new().await;
        let app = actix_web::test::init_service(crate::app(h.web.clone())).await;
        let mut documents = Vec::new();
        for path in [
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
        ] {
            let req = actix_web::test::TestRequest::get().uri(path).to_request();
            let body: serde_json::Value = actix_web::test::call_and_read_body_json(&app, req).await;
            for member in REQUIRED {
                assert!(body.get(member).is_some(), "{member} missing at {path}");
            }
            documents.push(body);
        }
        assert_eq!(documents[0], documents[1]);
        let d = &documents[0];
        assert_eq!(d["require_pushed_authorization_requests"], true);
        assert_eq!(d["authorization_response_iss_parameter_supported"], true);
        assert_eq!(
            d["subject_types_supported"],
            serde_json::json!(["pairwise"])
        );
        // Every endpoint the document names is served: none answers 404.
        for member in [
            "authorization_endpoint",
            "token_endpoint",
            "pushed_authorization_request_endpoint",
            "userinfo_endpoint",
            "end_session_endpoint",
            "jwks_uri",
        ] {
            let url = d[member].as_str().unwrap();
            let path = url.strip_prefix(services::testing::ISSUER).unwrap();
            let req = actix_web::test::TestRequest::get().uri(path).to_request();
            let res = actix_web::test::call_service(&app, req).await;
            assert_ne!(res.status(), 404, "{member} {path}");
        }
    }
}
