//! The citizen's notices (issue 15 §1): every use of their data by a department, every denial
//! naming them, every consent asked of them and every change delivered on their behalf, newest
//! first, the ones not seen before marked new; opening the page marks them seen. Each links to
//! its record and proof (`/me/activity/{id}`). The rules are `services::notices`.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;

use super::console::{Crumb, Row, row};
use crate::pages::Page;
use crate::problem::Error;
use crate::session::CitizenSession;
use services::audit_log::Records;
use services::audit_log::query::RecordView;

#[derive(Serialize)]
struct NoticeRow {
    #[serde(flatten)]
    row: Row,
    new: bool,
}

#[derive(Serialize)]
struct NoticesPage {
    breadcrumbs: Vec<Crumb>,
    notices: Vec<NoticeRow>,
    new_count: usize,
}

/// My notices: who used my information, what, why, when; new ones marked.
#[utoipa::path(tag = "pages", responses(
    (status = 200, description = "The citizen's notices, newest first; opening them marks them seen", content_type = "text/html"),
    (status = 303, description = "Sign-in required")))]
#[get("/me/notices")]
pub async fn list(
    state: web::Data<Records>,
    who: CitizenSession,
    page: Page,
) -> Result<HttpResponse, Error> {
    let opened = services::notices::open(&state.db, &who.citizen_id).await?;
    let notices: Vec<NoticeRow> = opened
        .iter()
        .map(|(r, new)| NoticeRow {
            row: row(&state, &page, &RecordView::of(r)),
            new: *new,
        })
        .collect();
    let new_count = notices.iter().filter(|n| n.new).count();
    page.render(
        "audit/notices.html",
        &NoticesPage {
            breadcrumbs: vec![
                Crumb {
                    key: "common.nav_dashboard",
                    href: Some("/me"),
                },
                Crumb {
                    key: "audit.notices.title",
                    href: None,
                },
            ],
            notices,
            new_count,
        },
    )
}
