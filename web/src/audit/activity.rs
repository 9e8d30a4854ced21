//! The citizen's "my activity": every record about them (releases, denials, consent changes,
//! deliveries, sign-ins), newest first, each with an RFC 9162 inclusion proof that anyone can
//! check against a published signed checkpoint (`/api/v1/audit/checkpoints`, keys at
//! `/jwks.json`). A citizen only ever reaches their own records: the filter is their session's
//! citizen id, and another citizen's record id is a 404.

use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};

use super::api::{self, Reader};
use super::console::{Crumb, Row, row};
use crate::pages::{Page, format_time};
use crate::problem::Error;
use crate::session::CitizenSession;
use services::audit_log::Records;
use services::audit_log::query::{self, Filter, InclusionProof, RecordView};

const PAGE: u64 = 50;

#[derive(Debug, Deserialize)]
pub struct ActivityParams {
    cursor: Option<String>,
}

#[derive(Serialize)]
struct ActivityPage {
    breadcrumbs: Vec<Crumb>,
    rows: Vec<Row>,
    next_href: Option<String>,
    latest_checkpoint: Option<query::CheckpointView>,
}

/// My activity: who accessed what, when, why, and how it ended.
#[utoipa::path(tag = "pages", responses(
    (status = 200, description = "Every record about the citizen, newest first", content_type = "text/html"),
    (status = 303, description = "Sign-in required")))]
#[get("/me/activity")]
pub async fn list(
    state: web::Data<Records>,
    who: CitizenSession,
    page: Page,
    params: web::Query<ActivityParams>,
) -> Result<HttpResponse, Error> {
    let cursor = query::parse_cursor(params.cursor.as_deref())?;
    let filter = Filter {
        citizen_id: Some(who.citizen_id.clone()),
        ..Filter::default()
    };
    let (rows, next) = query::newest_first(&state.db, &filter, cursor, PAGE).await?;
    page.render(
        "audit/activity.html",
        &ActivityPage {
            breadcrumbs: vec![
                Crumb {
                    key: "common.nav_dashboard",
                    href: Some("/me"),
                },
                Crumb {
                    key: "audit.activity.title",
                    href: None,
                },
            ],
            rows: rows
                .iter()
                .map(|r| row(&state, &page, &RecordView::of(r)))
                .collect(),
            next_href: next.map(|c| format!("/me/activity?cursor={c}")),
            latest_checkpoint: query::latest_checkpoint(&state.db)
                .await?
                .as_ref()
                .map(query::CheckpointView::of),
        },
    )
}

#[derive(Serialize)]
struct ProofPage {
    breadcrumbs: Vec<Crumb>,
    row: Row,
    record: RecordView,
    proof: InclusionProof,
    checkpoint_time: String,
}

/// One record of mine with its inclusion proof, shown.
#[utoipa::path(tag = "pages", params(("id" = String, Path, description = "The record id")), responses(
    (status = 200, description = "The record and its inclusion proof", content_type = "text/html"),
    (status = 404, description = "No such record about this citizen"),
    (status = 303, description = "Sign-in required")))]
#[get("/me/activity/{id}")]
pub async fn detail(
    state: web::Data<Records>,
    who: CitizenSession,
    page: Page,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let reader = Reader::Citizen {
        citizen_id: who.citizen_id.clone(),
    };
    let answer = api::proof_of(&state, &reader, &id).await?;
    page.render(
        "audit/record.html",
        &ProofPage {
            breadcrumbs: vec![
                Crumb {
                    key: "common.nav_dashboard",
                    href: Some("/me"),
                },
                Crumb {
                    key: "audit.activity.title",
                    href: Some("/me/activity"),
                },
                Crumb {
                    key: "audit.proof.title",
                    href: None,
                },
            ],
            row: row(&state, &page, &answer.record),
            checkpoint_time: format_time(answer.proof.checkpoint.time_ms, page.lang),
            record: answer.record,
            proof: answer.proof,
        },
    )
}

/// The same record and proof as a JSON file to keep or give to anyone.
#[utoipa::path(tag = "pages", params(("id" = String, Path, description = "The record id")), responses(
    (status = 200, description = "The record and its inclusion proof (JSON download)", content_type = "application/json"),
    (status = 404, description = "No such record about this citizen"),
    (status = 303, description = "Sign-in required")))]
#[get("/me/activity/{id}/proof.json")]
pub async fn download(
    state: web::Data<Records>,
    who: CitizenSession,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let reader = Reader::Citizen {
        citizen_id: who.citizen_id.clone(),
    };
    let answer = api::proof_of(&state, &reader, &id).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            "Content-Disposition",
            format!(
                "attachment; filename=\"audit-proof-{}.json\"",
                answer.record.id
            ),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .json(answer))
}
