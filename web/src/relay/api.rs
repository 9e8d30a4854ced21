//! `POST /api/v1/subjects/{sub}/attributes`: an authoritative department reports verified values
//! or a life event (`move`, `name-change`, `death`), and the relay takes it from there.
//!
//! Everything is checked before anything is written: the scope (`attributes:write`, before the
//! body is even parsed), the event
//! and the attributes it carries, each attribute against the catalogue (name and type), that the
//! department is authoritative for each one, and the subject in the department's own sector.
//! Any failure is a 4xx problem with a stable code, and nothing is written or sent.

use actix_web::{HttpRequest, HttpResponse, post, web};
use audit::{Actor, ActorKind};
use serde::Serialize;
use services::citizens::{Provenance, SourceKind};
use services::relay::Relay;
use services::relay::outbox::{self, NewChange};
use services::relay::report::{Report, accepts_changes, check, find_subject};
use store::now_ms;

use crate::oauth::{AttributesWrite, Caller};
use crate::problem::Error;

/// The OpenAPI part for reporting changes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(report_change), components(schemas(Report, Accepted)))]
pub struct Api;

/// The answer: the change and its audit record.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub change_id: String,
    /// The audit record of the change.
    pub txn: String,
}

/// Report verified values or a life event for a citizen, as an authoritative department.
///
/// The values are recorded (provenance: this department, `method`, `loa`) and, in the same
/// transaction, one delivery is queued per department that receives the change (an active
/// `ongoing` consent covering the attribute and a policy permit). After a `death`, releases
/// stop except where policy says otherwise, the statutory recipients of the date of death are
/// told, and every other holder of an `ongoing` consent is told that releases stopped.
#[utoipa::path(
    tag = "department api",
    params(("sub" = String, Path, description = "The citizen's pairwise subject id for the department's sector")),
    request_body(content = Report, content_type = "application/json"),
    responses(
        (status = 202, description = "Recorded; deliveries queued", body = Accepted),
        (status = 400, description = "`malformed_json`, `unknown_attribute`, `invalid_value`, `unknown_event`, `event_attributes_mismatch`, `no_attributes`", body = crate::problem::Problem),
        (status = 401, description = "`invalid_token`, `token_expired`, `token_revoked`", body = crate::problem::Problem),
        (status = 403, description = "`insufficient_scope` (needs `attributes:write`), `not_authoritative`", body = crate::problem::Problem),
        (status = 404, description = "`subject_not_found`", body = crate::problem::Problem),
        (status = 409, description = "`subject_deceased`", body = crate::problem::Problem),
    )
)]
#[post("/api/v1/subjects/{sub}/attributes")]
pub async fn report_change(
    state: web::Data<Relay>,
    caller: Caller<AttributesWrite>,
    sub: web::Path<String>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    // `caller` is extracted: the scope was checked (and a refusal audited) before the body is read.
    let report: Report = crate::body::json(&req, body).await?;
    let (kind, values) = check(state.policy.catalogue(), &caller.department, &report)?;
    let loa = report.loa.unwrap_or(3);
    if !(1..=4).contains(&loa) {
        return Err(services::InputError::MalformedJson("`loa` must be 1 to 4".into()).into());
    }
    let method = report
        .method
        .filter(|m| !m.trim().is_empty() && m.len() <= 64 && m.chars().all(|c| !c.is_control()))
        .unwrap_or_else(|| "registry".to_owned());
    let citizen = find_subject(&state.db, &caller.department, &sub).await?;
    accepts_changes(&citizen)?;
    let recorded = outbox::record(
        &state,
        NewChange {
            citizen_id: citizen.id,
            kind,
            values,
            provenance: Provenance {
                source_kind: SourceKind::Department,
                source_id: caller.department.id.clone(),
                method,
                loa,
                verified: true,
                recorded_at: now_ms(),
            },
            actor: Actor::new(ActorKind::Department, caller.department.id.clone()),
            department_id: Some(caller.department.id.clone()),
            client_id: Some(caller.client_id.clone()),
            delegation_id: None,
        },
    )
    .await?;
    Ok(HttpResponse::Accepted()
        .insert_header(("Cache-Control", "no-store"))
        .json(Accepted {
            change_id: recorded.change_id,
            txn: recorded.txn,
        }))
}
