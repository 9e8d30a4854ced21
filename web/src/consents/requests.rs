//! The citizen's answers to departments' requests, under `/me/requests`: the pending list, one
//! request with three ways to answer (accept all, accept part: fewer attributes or a shorter time,
//! refuse), and the answers themselves.

use services::Error as ServiceError;
use std::collections::BTreeSet;

use actix_web::{HttpResponse, get, post, web};
use serde::Serialize;

use super::pages::{Crumb, FormError, crumbs, form_error, see_other};
use super::view::{self, ConsentView, DurationChoice};
use crate::csrf::Form;
use crate::pages::Page;
use crate::problem::Error;
use crate::session::Subject;
use services::consents::Ledger;
use services::consents::ledger::{self, Citizen};
use store::now_ms;

#[derive(Serialize)]
struct RequestsPage {
    breadcrumbs: Vec<Crumb>,
    pending: Vec<ConsentView>,
}

/// Requests from departments waiting for the citizen's answer.
#[utoipa::path(tag = "pages", responses((status = 200, description = "Pending requests", content_type = "text/html"), (status = 303, description = "Sign-in required")))]
#[get("/me/requests")]
pub async fn list(
    state: web::Data<Ledger>,
    who: Subject,
    page: Page,
) -> Result<HttpResponse, Error> {
    let all = services::consents::for_citizen(&state.db, &who.citizen_id)
        .await
        .map_err(|e| Error::from(services::consents::LedgerError::Store(e)))?;
    let mut pending = view::grouped(&state, page.lang, &all, now_ms()).pending;
    // Oldest first: answer in the order they came.
    pending.reverse();
    page.render(
        "consents/requests.html",
        &RequestsPage {
            breadcrumbs: crumbs(&[("consents.requests.title", None)]),
            pending,
        },
    )
}

#[derive(Serialize)]
struct Choice {
    name: String,
    label: String,
    checked: bool,
}

#[derive(Serialize)]
struct RequestPage {
    breadcrumbs: Vec<Crumb>,
    consent: ConsentView,
    pending: bool,
    choices: Vec<Choice>,
    first_attribute_id: String,
    durations: Vec<DurationChoice>,
    requested_days: i64,
    errors: Vec<FormError>,
}

fn request_page(
    state: &Ledger,
    page: &Page,
    consent: &consent::Consent,
    chosen: Option<&BTreeSet<String>>,
    days: Option<i64>,
    errors: Vec<FormError>,
) -> RequestPage {
    let view = view::consent(state, page.lang, consent, now_ms());
    let max = i64::from(state.settings.max_duration_days);
    let requested_days = view.requested_days.unwrap_or(max).min(max);
    let selected = days
        .filter(|d| (1..=requested_days).contains(d))
        .unwrap_or(requested_days);
    RequestPage {
        breadcrumbs: crumbs(&[
            ("consents.requests.title", Some("/me/requests".into())),
            ("consents.request.crumb", None),
        ]),
        pending: view.state == "requested",
        choices: view
            .requested
            .iter()
            .map(|a| Choice {
                name: a.name.clone(),
                label: a.label.clone(),
                checked: chosen.is_none_or(|c| c.contains(&a.name)),
            })
            .collect(),
        first_attribute_id: view
            .requested
            .first()
            .map(|a| format!("attr-{}", a.name))
            .unwrap_or_default(),
        durations: view::duration_choices(requested_days, selected),
        requested_days,
        consent: view,
        errors,
    }
}

/// One request, with the forms to answer it.
#[utoipa::path(tag = "pages", params(("id" = String, Path, description = "request (consent) id")), responses((status = 200, description = "The request", content_type = "text/html"), (status = 404, description = "Not the citizen's request")))]
#[get("/me/requests/{id}")]
pub async fn detail(
    state: web::Data<Ledger>,
    who: Subject,
    page: Page,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let consent = ledger::owned(&state, &who.citizen_id, &id).await?;
    if consent.request().is_none() {
        return Err(ServiceError::NotFound.into());
    }
    let data = request_page(&state, &page, &consent, None, None, Vec::new());
    page.render("consents/request.html", &data)
}

/// Accepts a request: all of it (every attribute, the time asked) or part of it.
#[utoipa::path(tag = "pages", params(("id" = String, Path, description = "request (consent) id")), request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf_token`, `attribute` (repeated), `duration_days`"), responses((status = 303, description = "Granted: to the consent and its receipt"), (status = 403, description = "Missing or wrong CSRF token; nothing changed"), (status = 422, description = "Refused; the form again with the reason")))]
#[post("/me/requests/{id}/accept")]
pub async fn accept(
    state: web::Data<Ledger>,
    form: Form<Subject>,
    mut page: Page,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let attributes: Vec<&str> = form.fields.all("attribute");
    let parsed = super::pages::parse_days(form.fields.get("duration_days"));
    let days = parsed.as_ref().ok().copied().flatten();
    // Acting for someone: answered in their name as far as the delegation and the policies let
    // a representative (`accept_as_delegate`), recorded with both identities.
    let who = &form.who;
    let actor = Citizen {
        id: &who.actor_id,
        loa: who.session.loa,
        lang: page.lang,
    };
    let outcome = match (parsed, &who.delegation) {
        (Ok(days), Some(delegation)) => {
            ledger::accept_as_delegate(&state, &actor, delegation, &id, &attributes, days)
                .await
                .map_err(Error::from)
        }
        (Ok(days), None) => ledger::accept(&state, &actor, &id, &attributes, days)
            .await
            .map_err(Error::from),
        (Err(e), _) => Err(e),
    };
    match outcome {
        Ok((consent, _)) => Ok(see_other(&format!(
            "/me/consents/{}?done=granted",
            consent.id()
        ))),
        Err(e) => {
            let (status, mut error) = form_error(e, Some("attr"))?;
            let consent = ledger::owned(&state, &form.who.citizen_id, &id).await?;
            let chosen: BTreeSet<String> = attributes.iter().map(|a| (*a).to_owned()).collect();
            page.common.here = format!("/me/requests/{id}");
            let mut data = request_page(&state, &page, &consent, Some(&chosen), days, Vec::new());
            if error.href.as_deref() == Some("#attr") {
                error.href = Some(format!("#{}", data.first_attribute_id));
            }
            data.errors.push(error);
            page.render_status(status, "consents/request.html", &data)
        }
    }
}

/// Refuses a request.
#[utoipa::path(tag = "pages", params(("id" = String, Path, description = "request (consent) id")), request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf_token`"), responses((status = 303, description = "Refused: to the consent"), (status = 403, description = "Missing or wrong CSRF token; nothing changed"), (status = 409, description = "Already answered")))]
#[post("/me/requests/{id}/refuse")]
pub async fn refuse(
    state: web::Data<Ledger>,
    form: Form<Subject>,
    mut page: Page,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let who = &form.who;
    let refused = match &who.delegation {
        Some(delegation) => {
            ledger::refuse_as_delegate(&state, &who.actor_id, delegation, &id).await
        }
        None => ledger::refuse(&state, &who.citizen_id, &id).await,
    };
    match refused {
        Ok(consent) => Ok(see_other(&format!(
            "/me/consents/{}?done=refused",
            consent.id()
        ))),
        Err(e) => {
            let (status, error) = form_error(e.into(), None)?;
            let consent = ledger::owned(&state, &form.who.citizen_id, &id).await?;
            page.common.here = format!("/me/requests/{id}");
            let data = request_page(&state, &page, &consent, None, None, vec![error]);
            page.render_status(status, "consents/request.html", &data)
        }
    }
}
