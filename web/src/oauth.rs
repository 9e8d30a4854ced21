//! OAuth 2.0 for department systems on the web: `POST /oauth2/token` (RFC 6749 §5.2 errors,
//! which every OAuth client library expects from a token endpoint), and [`Caller`], the
//! extractor every department API call goes through. The rules are `services::oauth`.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, HttpResponse, post, web};
use services::oauth::bearer::{self, Identified, Unauthenticated};
use services::oauth::refusals::{self, Endpoint};
use services::oauth::scope;
use services::oauth::token::TokenResponse;
use services::oauth::{DepartmentCaller, OAuth};

use crate::problem::Error;

/// The OpenAPI part for OAuth.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(token),
    components(schemas(TokenResponse, TokenRequest)),
    tags((name = "department api", description = "OAuth 2.0 and the attribute API for department systems"))
)]
pub struct Api;

/// A token request (RFC 6749 §4.4 with RFC 7523 client authentication). Documentation only: the
/// body is parsed by `services::oauth::token`, which refuses duplicates and unknown values.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct TokenRequest {
    #[schema(pattern = "^client_credentials$")]
    grant_type: String,
    #[schema(pattern = "^urn:ietf:params:oauth:client-assertion-type:jwt-bearer$")]
    client_assertion_type: String,
    /// A JWT signed with one of the client's registered keys: `iss` = `sub` = the client id,
    /// `aud` the broker's issuer, `exp` at most 5 minutes ahead, a fresh `jti`.
    #[schema(pattern = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")]
    client_assertion: String,
    /// Space-separated scopes, among those registered for the client (all of them when absent).
    #[schema(
        pattern = r"^(attributes:read|attributes:write|consent:request|audit:read|delegations:write)( (attributes:read|attributes:write|consent:request|audit:read|delegations:write))*$"
    )]
    #[schema(required = false)]
    scope: String,
}

/// Exchanges a client assertion for a short-lived access token.
#[utoipa::path(
    tag = "department api",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "An access token (JWT, 5 minutes)", body = TokenResponse),
        (status = 400, description = "RFC 6749 error: invalid_request, unsupported_grant_type, invalid_scope"),
        (status = 401, description = "RFC 6749 error: invalid_client")
    )
)]
#[post("/oauth2/token")]
pub async fn token(
    oauth: web::Data<OAuth>,
    provider: web::Data<services::provider::Provider>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let grant_type = services::oauth::token::parse_params(&body)
        .ok()
        .and_then(|p| services::oauth::token::param(&p, "grant_type").map(str::to_owned));
    let mut ok = HttpResponse::Ok();
    ok.insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"));
    // The sign-in grants of departments' web applications (the OpenID Provider).
    if services::provider::token::is_sign_in_grant(grant_type.as_deref()) {
        let dpop = crate::provider::dpop_headers(&req);
        let answer = services::provider::token::exchange(&provider, &body, &dpop).await?;
        return Ok(ok.json(answer));
    }
    let dpop = crate::provider::dpop_headers(&req);
    let granted = services::oauth::token::grant(&oauth, &body, &dpop).await?;
    Ok(ok.json(granted))
}

/// The `Authorization` header, if readable.
pub fn authorization(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

fn oauth_of(req: &HttpRequest) -> Result<web::Data<OAuth>, Error> {
    req.app_data::<web::Data<OAuth>>().cloned().ok_or_else(|| {
        services::Error::Internal("the oauth service is not registered".into()).into()
    })
}

/// Which department endpoint `req` is, from its route (a closed set: it labels a metric).
pub fn endpoint_of(req: &HttpRequest) -> Endpoint {
    let post = req.method() == actix_web::http::Method::POST;
    match req.match_pattern().as_deref() {
        Some("/oauth2/token") => Endpoint::Token,
        Some("/api/v1/subjects/{sub}/attributes") if post => Endpoint::AttributesWrite,
        Some("/api/v1/subjects/{sub}/attributes") => Endpoint::AttributesRead,
        Some("/api/v1/consent-requests") => Endpoint::ConsentRequest,
        Some("/api/v1/consent-requests/{id}") => Endpoint::ConsentRequestRead,
        Some("/api/v1/audit/records") => Endpoint::AuditRecords,
        Some("/api/v1/audit/records/{id}/proof") => Endpoint::AuditProof,
        _ => Endpoint::Other,
    }
}

/// The bearer check for `req`: a valid token of a registered client of an active department.
/// The caller decides what to do with a refusal ([`authorize`] records or counts it).
pub async fn authenticate(req: &HttpRequest) -> Result<DepartmentCaller, Unauthenticated> {
    let oauth = oauth_of(req).map_err(|e| e.0)?;
    let (headers, url) = dpop_of(&oauth, req);
    bearer::authenticate(&oauth, authorization(req), context(req, &headers, &url)).await
}

/// The `DPoP` header values and the URL a proof must name (the public URL and the path).
fn dpop_of<'a>(oauth: &OAuth, req: &'a HttpRequest) -> (Vec<&'a str>, String) {
    (
        crate::provider::dpop_headers(req),
        format!("{}{}", oauth.issuer, req.path()),
    )
}

fn context<'a>(
    req: &'a HttpRequest,
    headers: &'a [&'a str],
    url: &'a str,
) -> bearer::DpopContext<'a> {
    bearer::DpopContext {
        headers,
        method: req.method().as_str(),
        url,
    }
}

/// Counts a refusal that identified nobody (see `services::oauth::refusals`).
pub fn count_unidentified(req: &HttpRequest, error: &services::Error) {
    use services::PublicError;
    if let Ok(oauth) = oauth_of(req) {
        refusals::count_unidentified(&oauth.metrics, endpoint_of(req), error.code());
    }
}

/// The bearer check and then the scope, both before anything of the request is read or parsed.
/// A refusal that identifies the caller (an access token of ours: expired, of a disabled
/// department, or lacking `scope`) is in the audit log before it is answered; one that does not
/// is counted.
pub async fn authorize(req: &HttpRequest, scope: &'static str) -> Result<DepartmentCaller, Error> {
    let oauth = oauth_of(req)?;
    let endpoint = endpoint_of(req);
    let (headers, url) = dpop_of(&oauth, req);
    let caller = match bearer::authenticate(
        &oauth,
        authorization(req),
        context(req, &headers, &url),
    )
    .await
    {
        Ok(caller) => caller,
        Err(refused) => return Err(refusals::settle(&oauth, endpoint, refused).await.into()),
    };
    if let Err(error) = caller.require(scope) {
        let refused = Unauthenticated {
            error,
            identified: Some(Identified {
                client_id: caller.client_id.clone(),
                department_id: caller.department.id.clone(),
                token_id: caller.token_id.clone(),
            }),
        };
        return Err(refusals::settle(&oauth, endpoint, refused).await.into());
    }
    Ok(caller)
}

/// A scope a department API handler requires, named as a type.
pub trait Scope {
    const NAME: &'static str;
}

/// `attributes:write`: report values as an authoritative source.
#[derive(Debug, Clone, Copy)]
pub struct AttributesWrite;
impl Scope for AttributesWrite {
    const NAME: &'static str = scope::ATTRIBUTES_WRITE;
}

/// `consent:request`: ask citizens for consent and read the outcome.
#[derive(Debug, Clone, Copy)]
pub struct ConsentRequest;
impl Scope for ConsentRequest {
    const NAME: &'static str = scope::CONSENT_REQUEST;
}

/// `delegations:write`: register delegations the department is the authority for.
#[derive(Debug, Clone, Copy)]
pub struct DelegationsWrite;
impl Scope for DelegationsWrite {
    const NAME: &'static str = scope::DELEGATIONS_WRITE;
}

/// A department system calling the API with a valid access token that holds scope `S`: a
/// handler that takes it cannot run without one, and since it takes its body only as a
/// [`web::Payload`] (read after this is extracted), authorization always comes before parsing.
#[derive(Debug, Clone)]
pub struct Caller<S> {
    caller: DepartmentCaller,
    scope: PhantomData<S>,
}

impl<S> std::ops::Deref for Caller<S> {
    type Target = DepartmentCaller;
    fn deref(&self) -> &DepartmentCaller {
        &self.caller
    }
}

impl<S: Scope + 'static> FromRequest for Caller<S> {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            authorize(&req, S::NAME).await.map(|caller| Caller {
                caller,
                scope: PhantomData,
            })
        })
    }
}
