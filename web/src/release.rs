//! Attribute release by pull on the web: `GET /api/v1/subjects/{sub}/attributes`. The decision,
//! its audit record and the signed JWT are `services::release`; this answers it.

use actix_web::{HttpRequest, HttpResponse, get, web};
use services::PublicError;
use services::release::{self, Release};

use crate::problem::Error;

/// The OpenAPI part for attribute release.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(attributes),
    components(schemas(services::release::decide::Withheld))
)]
pub struct Api;

/// A citizen's attributes for a purpose, as a JWT signed by the broker.
///
/// The response is `application/jwt` (ES256, `typ: release+jwt`, keys at `/jwks.json`) with
/// `iss`, `aud` (the client id), `sub` (the pairwise id), `iat`, `exp`, `jti`, `purpose`,
/// `consent_id` (absent for a statutory release), `txn` (the audit record of this release),
/// `verified_claims` (OpenID Connect for Identity Assurance: one element per source and
/// verification) and `withheld` (claims not released, with a code each: a policy code or
/// `unavailable`).
#[utoipa::path(
    tag = "department api",
    params(
        ("sub" = String, Path, description = "The citizen's pairwise subject id for the department's sector"),
        ("claims" = String, Query, description = "Comma-separated attribute names, e.g. `given_name,address`"),
        ("purpose" = String, Query, description = "A registered purpose code, e.g. `benefit-eligibility`"),
    ),
    responses(
        (status = 200, description = "A signed release (JWT)", content_type = "application/jwt", body = String),
        (status = 400, description = "`malformed_query`", body = crate::problem::Problem),
        (status = 401, description = "`invalid_token`, `token_expired`, `token_revoked` (disabled department)", body = crate::problem::Problem),
        (status = 403, description = "`insufficient_scope`, or a denial: `no_consent`, `consent_expired`, `consent_revoked`, `consent_not_covering`, `policy_denied`, `purpose_unknown`, `attribute_unknown`, `insufficient_assurance`, `subject_deceased`; with `codes`, `withheld` and `txn`", body = crate::problem::Problem),
        (status = 404, description = "`subject_not_found`", body = crate::problem::Problem),
        (status = 414, description = "`query_too_large`", body = crate::problem::Problem),
    )
)]
#[get("/api/v1/subjects/{sub}/attributes")]
pub async fn attributes(
    state: web::Data<Release>,
    req: HttpRequest,
    sub: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let caller = match crate::oauth::authenticate(&req).await {
        Ok(caller) => caller,
        Err(refused) => {
            // A token of ours names a department that is now disabled (or a removed client):
            // identified, so the refusal is audited.
            // An expired token of ours also names its department. Nobody identified: counted.
            match &refused.identified {
                Some(who) => release::refused_caller(&state, who, refused.error.code()).await?,
                None => crate::oauth::count_unidentified(&req, &refused.error),
            }
            return Err(refused.error.into());
        }
    };
    let jwt = release::release(&state, &caller, req.query_string(), &sub).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/jwt")
        .insert_header(("Cache-Control", "no-store"))
        .body(jwt))
}
