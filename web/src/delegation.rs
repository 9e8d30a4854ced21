//! Delegation pages (issue 16): "my delegations" (offer one and get its one-time invitation
//! code, accept one, end one, see those a department registered and who registered it) and
//! "acting for …" (choose whom to act for, stop). The rules are the ledger's
//! (`services::consents::delegations`); these handlers only read forms and render.

pub mod api;

use actix_web::{HttpResponse, get, post, web};
use consent::{Delegation, DelegationState, Origin};
use serde::Serialize;
use services::consents::Ledger;
use services::consents::delegations::{self, Party, TermsInput};
use services::sessions::ActingFor;
use store::now_ms;

use crate::csrf::Form;
use crate::pages::{Page, format_time};
use crate::problem::Error;
use crate::session::{CitizenSession, Me};

/// The OpenAPI part for the delegation pages and API.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        create,
        accept_form,
        accept,
        end,
        acting_for,
        act,
        stop,
        api::register
    ),
    components(schemas(api::NewDelegation, api::DelegationView))
)]
pub struct Api;

/// Every delegation route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(api::register)
        .service(list)
        .service(create)
        .service(accept_form)
        .service(accept)
        .service(end)
        .service(acting_for)
        .service(act)
        .service(stop);
}

#[derive(Serialize)]
struct Crumb {
    key: &'static str,
    href: Option<&'static str>,
}

#[derive(Serialize)]
struct Row {
    id: String,
    label: String,
    state: &'static str,
    state_label: String,
    powers: Vec<&'static str>,
    power_labels: Vec<String>,
    purposes: Vec<String>,
    attributes: Vec<String>,
    until: String,
    may_delegate: bool,
    /// The department that registered it, in the page's language, and the legal basis.
    registered_by: Option<String>,
    legal_basis: Option<String>,
    can_end: bool,
}

fn row(ledger: &Ledger, page: &Page, d: &Delegation, now: i64) -> Row {
    use crate::consents::view::{attribute_label, department_name, purpose_texts};
    let lang = page.lang;
    let catalogue = ledger.policy.catalogue();
    let state = d.state(now);
    let (registered_by, legal_basis) = match d.origin() {
        Origin::Department {
            department,
            legal_basis,
        } => (
            Some(department_name(catalogue, lang, department)),
            Some(legal_basis.clone()),
        ),
        Origin::Citizen => (None, None),
    };
    let t = d.terms();
    Row {
        id: d.id().to_string(),
        label: t.label.clone(),
        state: state.as_str(),
        state_label: page.t(&format!("delegation.states.{}", state.as_str())),
        powers: t.powers.iter().map(|p| p.as_str()).collect(),
        power_labels: t
            .powers
            .iter()
            .map(|p| page.t(&format!("delegation.powers.{}", p.as_str())))
            .collect(),
        purposes: t
            .purposes
            .iter()
            .map(|p| purpose_texts(catalogue, lang, p).0)
            .collect(),
        attributes: t
            .attributes
            .iter()
            .map(|a| attribute_label(catalogue, lang, a))
            .collect(),
        until: format_time(t.valid_until_ms, lang),
        may_delegate: t.may_delegate,
        registered_by,
        legal_basis,
        can_end: matches!(
            state,
            DelegationState::Invited | DelegationState::Live | DelegationState::Scheduled
        ),
    }
}

#[derive(Serialize)]
struct Choice {
    code: String,
    label: String,
}

#[derive(Serialize)]
struct ListPage {
    breadcrumbs: Vec<Crumb>,
    given: Vec<Row>,
    received: Vec<Row>,
    purposes: Vec<Choice>,
    attributes: Vec<Choice>,
    max_days: u32,
    /// Shown once, right after an offer: the invitation code to hand to the delegate.
    invitation: Option<String>,
    accept_url: String,
    error: Option<String>,
}

async fn render_list(
    ledger: &Ledger,
    page: &Page,
    citizen_id: &str,
    invitation: Option<String>,
    error: Option<String>,
) -> Result<HttpResponse, Error> {
    use crate::consents::view::{attribute_label, purpose_texts};
    let now = now_ms();
    let lang = page.lang;
    let catalogue = ledger.policy.catalogue();
    let given = delegations::by_delegator(&ledger.db, citizen_id)
        .await
        .map_err(services::Error::from)?
        .iter()
        .map(|d| row(ledger, page, d, now))
        .collect();
    let received = delegations::to_delegate(&ledger.db, citizen_id)
        .await
        .map_err(services::Error::from)?
        .iter()
        .map(|d| row(ledger, page, d, now))
        .collect();
    page.render(
        "delegation/list.html",
        &ListPage {
            breadcrumbs: vec![
                Crumb {
                    key: "common.nav_dashboard",
                    href: Some("/me"),
                },
                Crumb {
                    key: "delegation.title",
                    href: None,
                },
            ],
            given,
            received,
            purposes: catalogue
                .purposes()
                .iter()
                .map(|p| Choice {
                    code: p.code.clone(),
                    label: purpose_texts(catalogue, lang, &p.code).0,
                })
                .collect(),
            attributes: catalogue
                .attributes()
                .iter()
                .map(|a| Choice {
                    code: a.name.clone(),
                    label: attribute_label(catalogue, lang, &a.name),
                })
                .collect(),
            max_days: ledger.settings.delegation_max_days,
            invitation,
            accept_url: "/me/delegations/accept".to_owned(),
            error,
        },
    )
}

/// My delegations: given, received (or registered by a department), and the form to offer one.
#[utoipa::path(tag = "pages", responses((status = 200, description = "The citizen's delegations", content_type = "text/html"), (status = 303, description = "Sign-in required")))]
#[get("/me/delegations")]
pub async fn list(
    ledger: web::Data<Ledger>,
    who: CitizenSession,
    page: Page,
) -> Result<HttpResponse, Error> {
    render_list(&ledger, &page, &who.citizen_id, None, None).await
}

/// Offers a delegation: the page shows its one-time invitation code, once.
#[utoipa::path(tag = "pages", request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf_token`, `label`, `power` (repeated), `purpose` (repeated), `attribute` (repeated), `duration_days`, `may_delegate`"), responses((status = 200, description = "The invitation code, shown once", content_type = "text/html"), (status = 422, description = "The form again, with what is wrong")))]
#[post("/me/delegations")]
pub async fn create(
    ledger: web::Data<Ledger>,
    form: Form<Me>,
    page: Page,
) -> Result<HttpResponse, Error> {
    let f = &form.fields;
    let owned = |name: &str| f.all(name).into_iter().map(str::to_owned).collect();
    let input = TermsInput {
        powers: owned("power"),
        purposes: owned("purpose"),
        attributes: owned("attribute"),
        duration_days: f
            .get("duration_days")
            .and_then(|d| d.trim().parse().ok())
            .unwrap_or(0),
        valid_until_ms: None,
        may_delegate: f.get("may_delegate") == Some("yes"),
        label: f.get("label").unwrap_or_default().to_owned(),
    };
    // While acting for someone, this is an onward delegation of that person: checked against
    // the delegation acted under (live now, onward allowed, within its terms).
    let parent = match &form.who.session.acting_for {
        Some(acting) => {
            Some(delegations::acting(&ledger, &form.who.citizen_id, &acting.delegation_id).await?)
        }
        None => None,
    };
    let offeror = match &parent {
        Some(delegation) => delegations::Offeror::Delegate {
            delegate: &form.who.citizen_id,
            delegation,
        },
        None => delegations::Offeror::Citizen(&form.who.citizen_id),
    };
    match delegations::offer(&ledger, offeror, input).await {
        Ok(offered) => {
            render_list(
                &ledger,
                &page,
                &form.who.citizen_id,
                Some(offered.invitation),
                None,
            )
            .await
        }
        // A form that does not check is shown again with what is wrong; a refusal (acting
        // beyond a delegation) is a refusal.
        Err(e @ services::Error::Delegation(_))
            if services::PublicError::class(&e) == services::ErrorClass::Unprocessable =>
        {
            let code = services::PublicError::code(&e);
            let mut res = render_list(
                &ledger,
                &page,
                &form.who.citizen_id,
                None,
                Some(format!("delegation.errors.{code}")),
            )
            .await?;
            *res.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Serialize)]
struct AcceptPage {
    breadcrumbs: Vec<Crumb>,
}

/// The form where a delegate enters the invitation code they were given.
#[utoipa::path(tag = "pages", responses((status = 200, description = "The form to accept an invitation", content_type = "text/html"), (status = 303, description = "Sign-in required")))]
#[get("/me/delegations/accept")]
pub async fn accept_form(_who: CitizenSession, page: Page) -> Result<HttpResponse, Error> {
    page.render(
        "delegation/accept.html",
        &AcceptPage {
            breadcrumbs: vec![
                Crumb {
                    key: "delegation.title",
                    href: Some("/me/delegations"),
                },
                Crumb {
                    key: "delegation.accept_title",
                    href: None,
                },
            ],
        },
    )
}

/// Accepts an invitation: the delegation is live; on to "acting for …".
#[utoipa::path(tag = "pages", request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf_token`, `code`"), responses((status = 303, description = "Accepted: to the acting-for page"), (status = 422, description = "Unknown, used or lapsed invitation")))]
#[post("/me/delegations/accept")]
pub async fn accept(
    ledger: web::Data<Ledger>,
    form: Form<CitizenSession>,
) -> Result<HttpResponse, Error> {
    let code = form
        .fields
        .get("code")
        .unwrap_or_default()
        .trim()
        .to_owned();
    delegations::accept(&ledger, &form.who.citizen_id, &code).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", "/me/acting-for"))
        .finish())
}

/// Ends a delegation the citizen gave or received.
#[utoipa::path(tag = "pages", params(("id" = String, Path, description = "delegation id")), request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf_token`"), responses((status = 303, description = "Ended: back to the list"), (status = 404, description = "Not a delegation of the citizen's"), (status = 409, description = "Already ended")))]
#[post("/me/delegations/{id}/end")]
pub async fn end(
    ledger: web::Data<Ledger>,
    form: Form<CitizenSession>,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    delegations::end(&ledger, Party::Citizen(&form.who.citizen_id), &id).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", "/me/delegations"))
        .finish())
}

#[derive(Serialize)]
struct ActingPage {
    breadcrumbs: Vec<Crumb>,
    live: Vec<Row>,
    /// The delegation acted under now, if any.
    current: Option<String>,
}

/// "Acting for …": the live delegations to the signed-in citizen, one button each.
#[utoipa::path(tag = "pages", responses((status = 200, description = "Whom the citizen may act for", content_type = "text/html"), (status = 303, description = "Sign-in required")))]
#[get("/me/acting-for")]
pub async fn acting_for(
    ledger: web::Data<Ledger>,
    who: Me,
    page: Page,
) -> Result<HttpResponse, Error> {
    let now = now_ms();
    let live = delegations::live_to(&ledger, &who.citizen_id)
        .await?
        .iter()
        .map(|d| row(&ledger, &page, d, now))
        .collect();
    page.render(
        "delegation/acting.html",
        &ActingPage {
            breadcrumbs: vec![Crumb {
                key: "delegation.acting_title",
                href: None,
            }],
            live,
            current: who.session.acting_for.map(|a| a.delegation_id),
        },
    )
}

/// Starts acting for the person a live delegation names; checked now, and at every request.
#[utoipa::path(tag = "pages", request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf_token`, `delegation`"), responses((status = 303, description = "Acting: to the represented person's information"), (status = 403, description = "No live delegation to the citizen with this id")))]
#[post("/me/acting-for")]
pub async fn act(ledger: web::Data<Ledger>, form: Form<Me>) -> Result<HttpResponse, Error> {
    let id = form.fields.get("delegation").unwrap_or_default();
    let d = delegations::acting(&ledger, &form.who.citizen_id, id).await?;
    services::sessions::set_acting_for(
        &ledger.db,
        &form.who.session.id_hash,
        Some(&ActingFor {
            delegation_id: d.id().to_string(),
            label: d.terms().label.clone(),
        }),
    )
    .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", "/me/information"))
        .finish())
}

/// Stops acting for another: back to the citizen's own pages.
#[utoipa::path(tag = "pages", request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf_token`"), responses((status = 303, description = "To the acting-for page")))]
#[post("/me/acting-for/stop")]
pub async fn stop(ledger: web::Data<Ledger>, form: Form<Me>) -> Result<HttpResponse, Error> {
    services::sessions::set_acting_for(&ledger.db, &form.who.session.id_hash, None).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", "/me/acting-for"))
        .finish())
}
