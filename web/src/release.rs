//! Attribute release by pull on the web: `GET /api/v1/subjects/{sub}/attributes`. The decision,
//! its audit record and the signed JWT or SD-JWT are `services::release`; this answers it, in
//! the form the department's `Accept` asks for ([`format_of`]).

use actix_web::{HttpRequest, HttpResponse, get, web};
use services::PublicError;
use services::release::{self, Format, Release};

use crate::problem::Error;

/// The OpenAPI part for attribute release.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(attributes),
    components(schemas(services::release::decide::Withheld))
)]
pub struct Api;

/// A citizen's attributes for a purpose, as a JWT signed by the broker, or as an SD-JWT.
///
/// The default response is `application/jwt` (ES256, `typ: release+jwt`, keys at `/jwks.json`) with
/// `iss`, `aud` (the client id), `sub` (the pairwise id), `iat`, `exp`, `jti`, `purpose`,
/// `consent_id` (absent for a statutory release), `txn` (the audit record of this release),
/// `verified_claims` (OpenID Connect for Identity Assurance: one element per source and
/// verification) and `withheld` (claims not released, with a code each: a policy code or
/// `unavailable`).
///
/// With `Accept: application/dc+sd-jwt` (preferred over `application/jwt` by its `q`), the
/// response is an SD-JWT (RFC 9901, `application/dc+sd-jwt`): the same claims, signed ES256 with
/// `typ: dc+sd-jwt`, every member of every `verified_claims` element and `sub`, `purpose`,
/// `consent_id`, `txn`, `withheld` selectively disclosable (with decoy digests), valid for at most
/// two hours (never past the consent's expiry), and bound (`cnf.jwk`) to one of the client's
/// registered keys: the one whose `kid` is `holder_kid`, else the first signing key (EC P-256,
/// Ed25519 or RSA) of its JWKS. A client without such a key gets 422 `holder_key_unavailable`.
/// The department can pass a subset on with a Key Binding JWT; docs/release.md says how a third
/// party verifies it.
#[utoipa::path(
    tag = "department api",
    params(
        ("sub" = String, Path, description = "The citizen's pairwise subject id for the department's sector"),
        ("claims" = String, Query, description = "Comma-separated attribute names, e.g. `given_name,address`"),
        ("purpose" = String, Query, description = "A registered purpose code, e.g. `benefit-eligibility`"),
        ("holder_kid" = Option<String>, Query, description = "SD-JWT only: the `kid` of the client's registered key to bind as the holder key (default: the first signing key of its JWKS)"),
        ("Accept" = Option<String>, Header, description = "`application/jwt` (default) or `application/dc+sd-jwt` for a selectively disclosable, key-bound release"),
    ),
    responses(
        (status = 200, description = "A signed release: a JWT (`application/jwt`, the default) or an SD-JWT bound to the client's key (`application/dc+sd-jwt`)",
            content(
                (String = "application/jwt"),
                (String = "application/dc+sd-jwt"),
            )),
        (status = 400, description = "`malformed_query` (also `holder_kid` without `Accept: application/dc+sd-jwt`)", body = crate::problem::Problem),
        (status = 401, description = "`invalid_token`, `token_expired`, `token_revoked` (disabled department)", body = crate::problem::Problem),
        (status = 403, description = "`insufficient_scope`, or a denial: `no_consent`, `consent_expired`, `consent_revoked`, `consent_not_covering`, `policy_denied`, `purpose_unknown`, `attribute_unknown`, `insufficient_assurance`, `subject_deceased`; with `codes`, `withheld` and `txn`", body = crate::problem::Problem),
        (status = 404, description = "`subject_not_found`", body = crate::problem::Problem),
        (status = 414, description = "`query_too_large`", body = crate::problem::Problem),
        (status = 422, description = "`holder_key_unavailable`: an SD-JWT was asked and the client registered no signing key to bind (or none with `holder_kid`)", body = crate::problem::Problem),
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
    let format = format_of(&req);
    let token = release::release(&state, &caller, req.query_string(), &sub, format).await?;
    Ok(HttpResponse::Ok()
        .content_type(match format {
            Format::Jwt => "application/jwt",
            Format::SdJwt => release::sd_jwt::MEDIA_TYPE,
        })
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Vary", "Accept"))
        .body(token))
}

/// The form the department asked for: an SD-JWT when `Accept` names `application/dc+sd-jwt`
/// with a `q` above that of `application/jwt` (or without `application/jwt`); the plain JWT
/// otherwise, including for `*/*`, no `Accept` at all, or anything else (the default, as before).
pub fn format_of(req: &HttpRequest) -> Format {
    let accept = req
        .headers()
        .get_all(actix_web::http::header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let (sd_jwt, jwt) = (
        quality(&accept, "application/dc+sd-jwt"),
        quality(&accept, "application/jwt"),
    );
    if sd_jwt > jwt {
        Format::SdJwt
    } else {
        Format::Jwt
    }
}

/// The `q` (in thousandths) `accept` gives `media_type` named exactly; 0 when it is not named.
fn quality(accept: &str, media_type: &str) -> u16 {
    accept
        .split(',')
        .filter_map(|range| {
            let mut parts = range.split(';').map(str::trim);
            let name = parts.next()?;
            if !name.eq_ignore_ascii_case(media_type) {
                return None;
            }
            let q = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map_or(Some(1000), |(_, v)| {
                    v.trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q))
                        .map(|q| (q * 1000.0).round() as u16)
                });
            Some(q.unwrap_or(0))
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(accept: &[&str]) -> Format {
        let mut req = actix_web::test::TestRequest::default();
        for value in accept {
            req = req.append_header(("Accept", *value));
        }
        format_of(&req.to_http_request())
    }

    #[test]
    fn the_sd_jwt_is_served_only_when_asked_for_above_the_jwt() {
        assert_eq!(format(&[]), Format::Jwt);
        assert_eq!(format(&["*/*"]), Format::Jwt);
        assert_eq!(format(&["application/jwt"]), Format::Jwt);
        assert_eq!(format(&["application/*"]), Format::Jwt);
        assert_eq!(format(&["application/dc+sd-jwt"]), Format::SdJwt);
        assert_eq!(format(&["Application/DC+SD-JWT"]), Format::SdJwt);
        assert_eq!(
            format(&["application/jwt;q=0.5, application/dc+sd-jwt"]),
            Format::SdJwt
        );
        assert_eq!(
            format(&["application/jwt", "application/dc+sd-jwt;q=0.9"]),
            Format::Jwt
        );
        assert_eq!(
            format(&["application/dc+sd-jwt, application/jwt"]),
            Format::Jwt
        );
        assert_eq!(format(&["application/dc+sd-jwt;q=0"]), Format::Jwt);
        assert_eq!(format(&["application/dc+sd-jwt;q=2"]), Format::Jwt);
    }
}
