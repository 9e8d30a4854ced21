//! OAuth 2.0 for department systems on the web: `POST /oauth2/token` (RFC 6749 §5.2 errors,
//! which every OAuth client library expects from a token endpoint), and [`Caller`], the
//! extractor every department API call goes through. The rules are `services::oauth`.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, HttpResponse, post, web};
use services::oauth::bearer::{self, Unauthenticated};
use services::oauth::token::TokenResponse;
use services::oauth::{DepartmentCaller, OAuth};

use crate::problem::Error;

/// The OpenAPI part for OAuth.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(token),
    components(schemas(TokenResponse)),
    tags((name = "department api", description = "OAuth 2.0 and the attribute API for department systems"))
)]
pub struct Api;

/// Exchanges a client assertion for a short-lived access token.
#[utoipa::path(
    tag = "department api",
    request_body(content_type = "application/x-www-form-urlencoded",
        description = "`grant_type=client_credentials`, `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`, `client_assertion=<JWT>`, optional `scope`"),
    responses(
        (status = 200, description = "An access token (JWT, 5 minutes)", body = TokenResponse),
        (status = 400, description = "RFC 6749 error: invalid_request, unsupported_grant_type, invalid_scope"),
        (status = 401, description = "RFC 6749 error: invalid_client")
    )
)]
#[post("/oauth2/token")]
pub async fn token(oauth: web::Data<OAuth>, body: web::Bytes) -> Result<HttpResponse, Error> {
    let granted = services::oauth::token::grant(&oauth, &body).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(granted))
}

/// The `Authorization` header, if readable.
pub fn authorization(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// The bearer check for `req`: a valid token of a registered client of an active department.
pub async fn authenticate(req: &HttpRequest) -> Result<DepartmentCaller, Unauthenticated> {
    let oauth = req
        .app_data::<web::Data<OAuth>>()
        .cloned()
        .ok_or_else(|| services::Error::Internal("the oauth service is not registered".into()))?;
    bearer::authenticate(&oauth, authorization(req)).await
}

/// A department system calling the API with a valid access token: a handler that takes it
/// cannot run without one.
#[derive(Debug, Clone)]
pub struct Caller(pub DepartmentCaller);

impl std::ops::Deref for Caller {
    type Target = DepartmentCaller;
    fn deref(&self) -> &DepartmentCaller {
        &self.0
    }
}

impl FromRequest for Caller {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            authenticate(&req)
                .await
                .map(Caller)
                .map_err(|u| Error::from(u.error))
        })
    }
}
