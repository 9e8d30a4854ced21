//! The citizen's consent pages under `/me/consents`: the list (pending, expiring soon, active,
//! past), one consent with its history and receipt, withdrawal with a confirmation step, the
//! receipt as a page and as a `.jwt` download, and the form to give a consent of one's own.
//!
//! Every page is server-rendered, works without JavaScript and is in the citizen's language. Every
//! form that changes anything takes `Form<CitizenSession>` (CSRF checked before the handler runs).
//! A form the ledger refuses is shown again with an error summary and the status of the error.

use services::Error as ServiceError;
use services::PublicError;
use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};

use super::view::{self, AttributeView, ConsentView, DurationChoice};
use crate::csrf::Form;
use crate::i18n::Lang;
use crate::pages::Page;
use crate::problem::Error;
use crate::session::{CitizenSession, Subject};
use services::consents::Ledger;
use services::consents::ledger::{self, Citizen, GrantInput};
use services::consents::receipts;
use store::now_ms;

#[derive(Debug, Clone, Serialize)]
pub(super) struct Crumb {
    pub key: &'static str,
    pub href: Option<String>,
}

pub(super) fn crumbs(items: &[(&'static str, Option<String>)]) -> Vec<Crumb> {
    items
        .iter()
        .map(|(key, href)| Crumb {
            key,
            href: href.clone(),
        })
        .collect()
}

/// One problem in a form, for the error summary at its top.
#[derive(Debug, Clone, Serialize)]
pub(super) struct FormError {
    pub key: String,
    /// The field to jump to, if the problem is about one.
    pub href: Option<String>,
}

/// If `e` is the citizen's input being refused, the status and summary to show the form again with;
/// anything else (not found, a failure of the broker) is returned as the error it is.
pub(super) fn form_error(
    e: Error,
    attribute_field: Option<&str>,
) -> Result<(StatusCode, FormError), Error> {
    let ServiceError::Consent(ledger) = &e.0 else {
        return Err(e);
    };
    if !ledger.class().is_client_error() {
        return Err(e);
    }
    let (status, code) = e.classify();
    let href = match code {
        "no_attributes" | "attribute_not_requested" | "not_consentable" | "unknown_attribute" => {
            attribute_field.map(|f| format!("#{f}"))
        }
        "duration_beyond_maximum" | "invalid_duration" | "duration_beyond_request" => {
            Some("#duration".to_owned())
        }
        "unknown_mode" => Some("#mode-once".to_owned()),
        _ => None,
    };
    Ok((
        status,
        FormError {
            key: format!("consents.errors.{code}"),
            href,
        },
    ))
}

#[derive(Debug, Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// The confirmation to show after a redirect, only for the outcomes we know.
fn done_key(done: Option<&str>) -> Option<String> {
    match done {
        Some(d @ ("granted" | "revoked" | "refused")) => Some(format!("consents.done.{d}")),
        _ => None,
    }
}

#[derive(Serialize)]
struct ListPage {
    breadcrumbs: Vec<Crumb>,
    groups: view::Grouped,
    pending_count: usize,
}

/// My consents: pending, expiring soon, active and past.
#[utoipa::path(tag = "pages", responses((status = 200, description = "The citizen's consents", content_type = "text/html"), (status = 303, description = "Sign-in required")))]
#[get("/me/consents")]
pub async fn list(
    state: web::Data<Ledger>,
    who: Subject,
    page: Page,
) -> Result<HttpResponse, Error> {
    let now = now_ms();
    let all = services::consents::for_citizen(&state.db, &who.citizen_id)
        .await
        .map_err(|e| Error::from(services::consents::LedgerError::Store(e)))?;
    let groups = view::grouped(&state, page.lang, &all, now);
    page.render(
        "consents/list.html",
        &ListPage {
            breadcrumbs: crumbs(&[("consents.list.title", None)]),
            pending_count: groups.pending.len(),
            groups,
        },
    )
}

#[derive(Serialize)]
struct ReceiptLink {
    id: String,
    kid: String,
}

#[derive(Serialize)]
struct DetailPage {
    breadcrumbs: Vec<Crumb>,
    consent: ConsentView,
    receipt: Option<ReceiptLink>,
    done: Option<String>,
}

/// One consent: what, to whom, why, until when, its history and its receipt.
#[utoipa::path(tag = "pages", params(("id" = String, Path, description = "consent id")), responses((status = 200, description = "One consent", content_type = "text/html"), (status = 404, description = "Not the citizen's consent")))]
#[get("/me/consents/{id}")]
pub async fn detail(
    state: web::Data<Ledger>,
    who: Subject,
    page: Page,
    id: web::Path<String>,
    query: web::Query<Done>,
) -> Result<HttpResponse, Error> {
    let consent = ledger::owned(&state, &who.citizen_id, &id).await?;
    let receipt = receipts::for_consent(&state.db, &id)
        .await?
        .map(|r| ReceiptLink {
            id: r.id,
            kid: r.kid,
        });
    page.render(
        "consents/detail.html",
        &DetailPage {
            breadcrumbs: crumbs(&[
                ("consents.list.title", Some("/me/consents".into())),
                ("consents.detail.crumb", None),
            ]),
            consent: view::consent(&state, page.lang, &consent, now_ms()),
            receipt,
            done: done_key(query.done.as_deref()),
        },
    )
}

#[derive(Serialize)]
struct RevokePage {
    breadcrumbs: Vec<Crumb>,
    consent: ConsentView,
    errors: Vec<FormError>,
}

/// The confirmation step before withdrawing a consent.
#[utoipa::path(tag = "pages", params(("id" = String, Path, description = "consent id")), responses((status = 200, description = "Confirm withdrawal", content_type = "text/html")))]
#[get("/me/consents/{id}/revoke")]
pub async fn revoke_confirm(
    state: web::Data<Ledger>,
    who: Subject,
    page: Page,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    // Acting for someone: only with the power to give (and so to withdraw) their consents.
    who.may(consent::Power::GiveConsents, None)
        .map_err(services::Error::from)?;
    let consent = ledger::owned(&state, &who.citizen_id, &id).await?;
    page.render(
        "consents/revoke.html",
        &RevokePage {
            breadcrumbs: revoke_crumbs(&id),
            consent: view::consent(&state, page.lang, &consent, now_ms()),
            errors: Vec::new(),
        },
    )
}

fn revoke_crumbs(id: &str) -> Vec<Crumb> {
    crumbs(&[
        ("consents.list.title", Some("/me/consents".into())),
        ("consents.detail.crumb", Some(format!("/me/consents/{id}"))),
        ("consents.revoke.crumb", None),
    ])
}

/// Withdraws a consent (after the confirmation step).
#[utoipa::path(tag = "pages", params(("id" = String, Path, description = "consent id")), request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf_token`"), responses((status = 303, description = "Withdrawn: back to the consent"), (status = 403, description = "Missing or wrong CSRF token; nothing changed"), (status = 409, description = "Not active")))]
#[post("/me/consents/{id}/revoke")]
pub async fn revoke(
    state: web::Data<Ledger>,
    form: Form<Subject>,
    mut page: Page,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    // Acting for someone: withdrawn in their name as far as the delegation allows
    // (`revoke_as_delegate`), recorded with both identities.
    let who = &form.who;
    let withdrawn = match &who.delegation {
        Some(delegation) => {
            ledger::revoke_as_delegate(&state, &who.actor_id, delegation, &id).await
        }
        None => ledger::revoke(&state, &who.citizen_id, &id).await,
    };
    match withdrawn {
        Ok(_) => Ok(see_other(&format!("/me/consents/{id}?done=revoked"))),
        Err(e) => {
            let (status, error) = form_error(e.into(), None)?;
            let consent = ledger::owned(&state, &form.who.citizen_id, &id).await?;
            page.common.here = format!("/me/consents/{id}/revoke");
            page.render_status(
                status,
                "consents/revoke.html",
                &RevokePage {
                    breadcrumbs: revoke_crumbs(&id),
                    consent: view::consent(&state, page.lang, &consent, now_ms()),
                    errors: vec![error],
                },
            )
        }
    }
}

pub(super) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", location.to_owned()))
        .finish()
}

#[derive(Serialize)]
struct ReceiptPage {
    breadcrumbs: Vec<Crumb>,
    consent: ConsentView,
    receipt: receipts::SignedReceipt,
    receipt_lang: String,
    kid: String,
    attributes: Vec<AttributeView>,
    policy_url: String,
}

/// The receipt of a consent, as a page.
#[utoipa::path(tag = "pages", params(("id" = String, Path, description = "consent id")), responses((status = 200, description = "The consent receipt", content_type = "text/html"), (status = 404, description = "No receipt")))]
#[get("/me/consents/{id}/receipt")]
pub async fn receipt_page(
    state: web::Data<Ledger>,
    who: Subject,
    page: Page,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let consent = ledger::owned(&state, &who.citizen_id, &id).await?;
    let stored = receipts::for_consent(&state.db, &id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let receipt = receipts::decode(&stored.jws)?;
    let granted: BTreeSet<String> = receipt
        .claims
        .services
        .iter()
        .flat_map(|s| s.purposes.iter())
        .flat_map(|p| p.pii_category.iter().cloned())
        .collect();
    page.render(
        "consents/receipt.html",
        &ReceiptPage {
            breadcrumbs: crumbs(&[
                ("consents.list.title", Some("/me/consents".into())),
                ("consents.detail.crumb", Some(format!("/me/consents/{id}"))),
                ("consents.receipt.crumb", None),
            ]),
            consent: view::consent(&state, page.lang, &consent, now_ms()),
            attributes: view::attributes(state.policy.catalogue(), page.lang, &granted),
            policy_url: receipt.claims.policy_url.clone(),
            receipt,
            receipt_lang: stored.language,
            kid: stored.kid,
        },
    )
}

/// The receipt of a consent, as the signed JWS (`.jwt` download).
#[utoipa::path(tag = "pages", params(("id" = String, Path, description = "consent id")), responses((status = 200, description = "The signed receipt (compact JWS)", content_type = "application/jwt"), (status = 404, description = "No receipt")))]
#[get("/me/consents/{id}/receipt.jwt")]
pub async fn receipt_download(
    state: web::Data<Ledger>,
    who: CitizenSession,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    ledger::owned(&state, &who.citizen_id, &id).await?;
    let stored = receipts::for_consent(&state.db, &id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type("application/jwt")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"consent-receipt-{}.jwt\"", stored.id),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(stored.jws))
}

#[derive(Serialize)]
struct OfferOption {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Serialize)]
struct OfferGroup {
    department_name: String,
    options: Vec<OfferOption>,
}

#[derive(Serialize)]
struct Choice {
    name: String,
    label: String,
    checked: bool,
}

#[derive(Serialize, Default)]
struct NewPage {
    breadcrumbs: Vec<Crumb>,
    step: u8,
    offers: Vec<OfferGroup>,
    department: String,
    department_name: String,
    purpose: String,
    purpose_text: String,
    legal_basis: String,
    illustrative: bool,
    choices: Vec<Choice>,
    first_attribute_id: String,
    mode: String,
    durations: Vec<DurationChoice>,
    errors: Vec<FormError>,
}

#[derive(Debug, Deserialize)]
pub struct NewQuery {
    offer: Option<String>,
}

/// What the citizen chose so far on the form, to show it again.
struct Chosen<'a> {
    attributes: Option<BTreeSet<String>>,
    mode: &'a str,
    days: Option<i64>,
}

fn new_page(
    state: &Ledger,
    lang: Lang,
    offer: Option<&str>,
    chosen: Chosen<'_>,
    errors: Vec<FormError>,
) -> NewPage {
    let now = now_ms();
    let offers = services::consents::offer::offers(&state.policy, now);
    let selected = offer.and_then(|value| {
        let (d, p) = value.split_once(':')?;
        offers.iter().find(|o| o.department == d && o.purpose == p)
    });
    let breadcrumbs = crumbs(&[
        ("consents.list.title", Some("/me/consents".into())),
        ("consents.new.crumb", None),
    ]);
    let Some(selected) = selected else {
        let mut groups: Vec<OfferGroup> = Vec::new();
        for o in &offers {
            let department_name =
                view::department_name(state.policy.catalogue(), lang, &o.department);
            // The closed list shows only the chosen option, not its group: the label names the
            // department too, so two departments offering the same purpose stay distinct.
            let purpose = view::purpose_texts(state.policy.catalogue(), lang, &o.purpose).0;
            let option = OfferOption {
                value: format!("{}:{}", o.department, o.purpose),
                label: format!("{purpose} — {department_name}"),
                selected: false,
            };
            match groups.last_mut() {
                Some(g) if g.department_name == department_name => g.options.push(option),
                _ => groups.push(OfferGroup {
                    department_name,
                    options: vec![option],
                }),
            }
        }
        let mut errors = errors;
        if offer.is_some() {
            errors.push(FormError {
                key: "consents.errors.choose_offer".into(),
                href: Some("#offer".into()),
            });
        }
        return NewPage {
            breadcrumbs,
            step: 1,
            offers: groups,
            errors,
            ..NewPage::default()
        };
    };
    let (purpose_text, legal_basis, illustrative) =
        view::purpose_texts(state.policy.catalogue(), lang, &selected.purpose);
    let rules = &state.settings;
    let max_days = i64::from(rules.max_duration_days);
    let days = chosen
        .days
        .filter(|d| (1..=max_days).contains(d))
        .unwrap_or(i64::from(rules.default_duration_days));
    NewPage {
        breadcrumbs,
        step: 2,
        department: selected.department.clone(),
        department_name: view::department_name(
            state.policy.catalogue(),
            lang,
            &selected.department,
        ),
        purpose: selected.purpose.clone(),
        purpose_text,
        legal_basis,
        illustrative,
        first_attribute_id: selected
            .attributes
            .first()
            .map(|a| format!("attr-{a}"))
            .unwrap_or_default(),
        choices: selected
            .attributes
            .iter()
            .map(|name| Choice {
                name: name.clone(),
                label: view::attribute_label(state.policy.catalogue(), lang, name),
                checked: chosen.attributes.as_ref().is_some_and(|c| c.contains(name)),
            })
            .collect(),
        mode: if chosen.mode == "ongoing" {
            "ongoing"
        } else {
            "once"
        }
        .to_owned(),
        durations: view::duration_choices(max_days, days),
        errors,
        ..NewPage::default()
    }
}

/// Give a consent of one's own: first choose a department and purpose, then what to share.
#[utoipa::path(tag = "pages", params(("offer" = Option<String>, Query, description = "`department:purpose` chosen in step 1")), responses((status = 200, description = "The form", content_type = "text/html")))]
#[get("/me/consents/new")]
pub async fn new_form(
    state: web::Data<Ledger>,
    _who: Subject,
    page: Page,
    query: web::Query<NewQuery>,
) -> Result<HttpResponse, Error> {
    let chosen = Chosen {
        attributes: None,
        mode: "once",
        days: None,
    };
    let data = new_page(
        &state,
        page.lang,
        query.offer.as_deref(),
        chosen,
        Vec::new(),
    );
    page.render("consents/new.html", &data)
}

/// A form's `duration_days`: absent or blank is "not chosen", anything but a whole number is
/// `invalid_duration` (the ledger then checks the range). The one parser of both consent forms.
pub(crate) fn parse_days(raw: Option<&str>) -> Result<Option<i64>, Error> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse::<i64>()
            .map(Some)
            .map_err(|_| services::consents::LedgerError::InvalidDuration.into()),
    }
}

/// Records the citizen's own consent, signs its receipt, and shows it.
#[utoipa::path(tag = "pages", request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf_token`, `department`, `purpose`, `mode`, `attribute` (repeated), `duration_days`"), responses((status = 303, description = "Granted: to the new consent"), (status = 403, description = "Missing or wrong CSRF token; nothing changed"), (status = 422, description = "Refused; the form again with the reason")))]
#[post("/me/consents")]
pub async fn grant(
    state: web::Data<Ledger>,
    form: Form<Subject>,
    mut page: Page,
) -> Result<HttpResponse, Error> {
    let f = &form.fields;
    let department = f.get("department").unwrap_or_default().to_owned();
    let purpose = f.get("purpose").unwrap_or_default().to_owned();
    let mode = f.get("mode").unwrap_or("once").to_owned();
    let attributes: Vec<String> = f.all("attribute").into_iter().map(str::to_owned).collect();
    let outcome = match parse_days(f.get("duration_days")) {
        Ok(days) => {
            let input = GrantInput {
                department: department.clone(),
                purpose: purpose.clone(),
                mode: mode.clone(),
                attributes: attributes.clone(),
                duration_days: days,
            };
            // Acting for someone: a consent in their name, as far as the delegation and the
            // policies let a representative (`grant_as_delegate`), recorded with both identities.
            let who = &form.who;
            let result = match &who.delegation {
                Some(delegation) => {
                    let delegate = Citizen {
                        id: &who.actor_id,
                        loa: who.session.loa,
                        lang: page.lang,
                    };
                    ledger::grant_as_delegate(&state, &delegate, delegation, input).await
                }
                None => {
                    let own = Citizen {
                        id: &who.citizen_id,
                        loa: who.session.loa,
                        lang: page.lang,
                    };
                    ledger::grant_own(&state, &own, input).await
                }
            };
            result.map_err(Error::from)
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok((consent, _)) => Ok(see_other(&format!(
            "/me/consents/{}?done=granted",
            consent.id()
        ))),
        Err(e) => {
            let offer = format!("{department}:{purpose}");
            let first = state
                .policy
                .catalogue()
                .attributes()
                .first()
                .map(|a| format!("attr-{}", a.name));
            let (status, error) = form_error(e, first.as_deref())?;
            let chosen = Chosen {
                attributes: Some(attributes.into_iter().collect()),
                mode: &mode,
                days: parse_days(f.get("duration_days")).ok().flatten(),
            };
            let mut data = new_page(&state, page.lang, Some(&offer), chosen, vec![error]);
            // Point the summary at the first checkbox actually on the form.
            for e in &mut data.errors {
                if e.href.as_deref().is_some_and(|h| h.starts_with("#attr-")) {
                    e.href = Some(format!("#{}", data.first_attribute_id));
                }
            }
            page.common.here = format!("/me/consents/new?offer={offer}");
            page.render_status(status, "consents/new.html", &data)
        }
    }
}

/// What the dashboard shows about consents (`templates/consents/_summary.html`, included in `/me`
/// with this value as `consent_summary`).
#[derive(Debug, Clone, Serialize)]
pub struct ConsentSummary {
    pub pending_requests: usize,
    pub expiring_soon: Vec<ConsentView>,
    pub active: usize,
}

/// The dashboard summary for one citizen.
pub async fn summary(
    state: &Ledger,
    citizen_id: &str,
    lang: Lang,
) -> Result<ConsentSummary, Error> {
    let all = services::consents::for_citizen(&state.db, citizen_id)
        .await
        .map_err(|e| Error::from(services::consents::LedgerError::Store(e)))?;
    let groups = view::grouped(state, lang, &all, now_ms());
    Ok(ConsentSummary {
        pending_requests: groups.pending.len(),
        active: groups.active.len() + groups.expiring_soon.len(),
        expiring_soon: groups.expiring_soon,
    })
}
