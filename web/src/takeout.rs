//! The citizen's takeout: `GET /me/export` downloads one signed bundle of everything the broker
//! keeps about the signed-in citizen (`services::takeout`; the format is docs/takeout.md). The
//! export is recorded in the audit log (`citizen-export`) before the bundle is made, and the
//! bundle proves that record too.

use actix_web::{HttpResponse, get, web};
use services::takeout::Takeout;

use crate::problem::Error;
use crate::session::CitizenSession;

/// The OpenAPI part for the takeout.
#[derive(utoipa::OpenApi)]
#[openapi(paths(export))]
pub struct Api;

/// My takeout: every fact (every version, values included), consent and receipt, and audit record
/// with its inclusion proof, signed by the broker (a compact JWS, `typ` `takeout+jwt`).
#[utoipa::path(tag = "pages", responses(
    (status = 200, description = "The citizen's signed takeout, as a file (a compact JWS whose payload is JSON; verify it with `broker verify-bundle` or any JOSE library)", content_type = "application/jose"),
    (status = 303, description = "Sign-in required"),
    (status = 503, description = "`audit_record_pending`: the export's audit record is not in the log yet; try again shortly (`Retry-After`)", body = crate::problem::Problem)))]
#[get("/me/export")]
pub async fn export(state: web::Data<Takeout>, who: CitizenSession) -> Result<HttpResponse, Error> {
    let export = state.export(&who.citizen_id).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/jose")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{}\"", export.file_name),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(export.jws))
}
