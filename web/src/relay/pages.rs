//! The citizen's "update my information" pages: the form, a preview listing the departments that
//! will receive the change (the same decision the outbox makes), the confirmation that records it
//! (provenance: citizen-asserted at the session's level of assurance), and the change's status
//! per department (delivered, pending with the next attempt time, or failed), which refreshes
//! itself while anything is pending when the citizen asks it to (a meta refresh they turn on and
//! off, and a reload link; no JavaScript).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use serde_json::{Value, json};
use services::Error as ServiceError;
use services::PublicError;

use crate::csrf::{Fields, Form};
use crate::i18n::Lang;
use crate::pages::{Page, format_time};
use crate::problem::Error;
use crate::session::Subject;
use consent::Power;
use services::citizens::{Provenance, SourceKind};
use services::relay::Relay;
use services::relay::entities::{change, delivery};
use services::relay::outbox::{self, NewChange};
use services::relay::recipients::{Changed, Plan};
use services::relay::supersede::SUPERSEDED;
use services::relay::telemetry;
use services::relay::worker::{CANCELLED, DELIVERED, FAILED};
use services::relay::{EventKind, RelayError};
use store::now_ms;

/// What the citizen can change here, and the form fields of each.
const ADDRESS_FIELDS: [&str; 5] = [
    "street_address",
    "locality",
    "region",
    "postal_code",
    "country",
];

#[derive(Debug, Clone, Serialize)]
struct Crumb {
    key: &'static str,
    href: Option<String>,
}

fn crumbs(last: &'static str) -> Vec<Crumb> {
    let mut out = vec![Crumb {
        key: "relay.form.title",
        href: Some("/me/update".into()),
    }];
    if last != "relay.form.title" {
        out.push(Crumb {
            key: last,
            href: None,
        });
    } else {
        out[0].href = None;
    }
    out
}

#[derive(Debug, Clone, Serialize)]
struct FormError {
    key: String,
    href: Option<String>,
}

/// The change a form describes: its kind and its values (checked against the catalogue).
fn parse(state: &Relay, fields: &Fields) -> Result<(EventKind, Vec<(String, Value)>), RelayError> {
    let what = fields.get("attribute").unwrap_or_default();
    let text = |name: &str| fields.get(name).unwrap_or_default().trim().to_owned();
    let (kind, values) = match what {
        "address" => {
            let mut address = serde_json::Map::new();
            for f in ADDRESS_FIELDS {
                address.insert(f.to_owned(), json!(text(f)));
            }
            (
                EventKind::Move,
                vec![("address".to_owned(), Value::Object(address))],
            )
        }
        "name" => (
            EventKind::NameChange,
            vec![
                ("given_name".to_owned(), json!(text("given_name"))),
                ("family_name".to_owned(), json!(text("family_name"))),
            ],
        ),
        "email" | "phone_number" | "preferred_language" => (
            EventKind::Update,
            vec![(what.to_owned(), json!(text(what)))],
        ),
        other => return Err(RelayError::NotEditable(other.chars().take(64).collect())),
    };
    for (name, value) in &values {
        state.policy.catalogue().validate_value(name, value)?;
    }
    Ok((kind, values))
}

/// A refused form: its status and the summary line (which field to jump to).
fn form_error(e: Error) -> Result<(StatusCode, FormError), Error> {
    let ServiceError::Relay(relay) = &e.0 else {
        return Err(e);
    };
    if !relay.class().is_client_error() {
        return Err(e);
    }
    let (status, code) = e.classify();
    let href = match relay {
        RelayError::InvalidValue(v) => Some(match v.attribute() {
            "address" => "#street_address".to_owned(),
            other => format!("#{other}"),
        }),
        _ => None,
    };
    Ok((
        status,
        FormError {
            key: format!("relay.errors.{code}"),
            href,
        },
    ))
}

#[derive(Serialize)]
struct FormPage {
    breadcrumbs: Vec<Crumb>,
    errors: Vec<FormError>,
    /// The form the citizen sent (its fields are shown as sent); empty on a fresh form.
    attribute: String,
    values: serde_json::Map<String, Value>,
    /// The citizen's current facts, field by field: every other form starts from them.
    current: serde_json::Map<String, Value>,
}

/// The citizen's current facts as the form's fields (the address split into its parts).
async fn current_fields(
    state: &Relay,
    who: &Subject,
) -> Result<serde_json::Map<String, Value>, Error> {
    let facts = services::citizens::current_facts(&state.db, &state.vault, &who.citizen_id, None)
        .await
        .map_err(services::signin::complete::citizen_error)?;
    let mut out = serde_json::Map::new();
    // A delegate sees only what their delegation covers.
    let facts = facts
        .into_iter()
        .filter(|f| who.visible().is_none_or(|v| v.contains(&f.attribute)));
    for fact in facts {
        match (fact.attribute.as_str(), fact.value) {
            ("address", Value::Object(parts)) => {
                for name in ADDRESS_FIELDS {
                    if let Some(Value::String(v)) = parts.get(name) {
                        out.insert(name.to_owned(), json!(v));
                    }
                }
            }
            (name, Value::String(v)) => {
                out.insert(name.to_owned(), json!(v));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The form, starting from the citizen's current facts, with what they sent where they sent it.
async fn render_form(
    state: &Relay,
    who: &Subject,
    page: &Page,
    status: StatusCode,
    errors: Vec<FormError>,
    fields: Option<&Fields>,
) -> Result<HttpResponse, Error> {
    let current = current_fields(state, who).await?;
    let mut values = serde_json::Map::new();
    let mut attribute = String::new();
    if let Some(fields) = fields {
        attribute = fields.get("attribute").unwrap_or("address").to_owned();
        for name in ADDRESS_FIELDS.iter().chain(&[
            "given_name",
            "family_name",
            "email",
            "phone_number",
            "preferred_language",
        ]) {
            if let Some(v) = fields.get(name) {
                values.insert((*name).to_owned(), json!(v));
            }
        }
    }
    page.render_status(
        status,
        "relay/form.html",
        &FormPage {
            breadcrumbs: crumbs("relay.form.title"),
            errors,
            attribute,
            values,
            current,
        },
    )
}

/// Update my information: what changed.
#[utoipa::path(tag = "pages", responses((status = 200, description = "The update form", content_type = "text/html"), (status = 303, description = "Sign-in required")))]
#[get("/me/update")]
pub async fn update_form(
    state: web::Data<Relay>,
    who: Subject,
    page: Page,
) -> Result<HttpResponse, Error> {
    who.may(Power::ChangeFacts, None)?;
    render_form(&state, &who, &page, StatusCode::OK, Vec::new(), None).await
}

#[derive(Serialize)]
struct RecipientView {
    department: String,
    purpose: String,
}

#[derive(Serialize)]
struct PreviewPage {
    breadcrumbs: Vec<Crumb>,
    attribute: String,
    /// The hidden fields that carry the change to the confirmation.
    hidden: Vec<(String, String)>,
    /// The new values, one line each (the citizen's own, shown to them).
    lines: Vec<String>,
    recipients: Vec<RecipientView>,
}

async fn recipient_views(
    state: &Relay,
    lang: Lang,
    plan: &Plan,
) -> Result<Vec<RecipientView>, Error> {
    let catalogue = state.policy.catalogue();
    let departments = services::departments::list(&state.db).await?;
    Ok(plan
        .departments()
        .into_iter()
        .map(|(department, purpose)| RecipientView {
            department: department_name(&departments, catalogue, department, lang),
            purpose: catalogue
                .purpose(purpose)
                .map_or_else(String::new, |p| match lang {
                    Lang::En => p.text_en.clone(),
                    Lang::Fr => p.text_fr.clone(),
                }),
        })
        .collect())
}

/// A department's name in `lang`: from the registry, else the catalogue; its id only if neither
/// knows it (a department removed since).
fn department_name(
    departments: &[services::departments::Department],
    catalogue: &policies::Catalogue,
    id: &str,
    lang: Lang,
) -> String {
    if let Some(d) = departments.iter().find(|d| d.id == id) {
        return match lang {
            Lang::En => d.name_en.clone(),
            Lang::Fr => d.name_fr.clone(),
        };
    }
    catalogue.department(id).map_or_else(
        || id.to_owned(),
        |d| match lang {
            Lang::En => d.name_en.clone(),
            Lang::Fr => d.name_fr.clone(),
        },
    )
}

fn lines(values: &[(String, Value)]) -> Vec<String> {
    values
        .iter()
        .flat_map(|(_, v)| match v {
            Value::Object(m) => ADDRESS_FIELDS
                .iter()
                .filter_map(|f| m.get(*f).and_then(Value::as_str).map(str::to_owned))
                .collect::<Vec<_>>(),
            Value::String(s) => vec![s.clone()],
            other => vec![other.to_string()],
        })
        .collect()
}

/// The preview: the new value and the departments that will receive it.
#[utoipa::path(tag = "pages", request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf_token`, `attribute` and its fields"), responses((status = 200, description = "The preview", content_type = "text/html"), (status = 400, description = "The form again, with what is wrong")))]
#[post("/me/update/preview")]
pub async fn preview(
    state: web::Data<Relay>,
    form: Form<Subject>,
    page: Page,
) -> Result<HttpResponse, Error> {
    let (kind, values) = match parse(&state, &form.fields) {
        Ok(parsed) => parsed,
        Err(e) => {
            let (status, error) = form_error(e.into())?;
            return render_form(
                &state,
                &form.who,
                &page,
                status,
                vec![error],
                Some(&form.fields),
            )
            .await;
        }
    };
    for (name, _) in &values {
        form.who.may(Power::ChangeFacts, Some(name))?;
    }
    let changed: Vec<Changed> = values
        .iter()
        .map(|(name, _)| Changed {
            name: name.clone(),
            loa: form.who.session.loa,
        })
        .collect();
    let recipients = outbox::plan(&state, &form.who.citizen_id, kind, &changed).await?;
    let attribute = form.fields.get("attribute").unwrap_or_default().to_owned();
    let mut hidden = vec![("attribute".to_owned(), attribute.clone())];
    for name in ADDRESS_FIELDS.iter().chain(&[
        "given_name",
        "family_name",
        "email",
        "phone_number",
        "preferred_language",
    ]) {
        if let Some(v) = form.fields.get(name) {
            hidden.push(((*name).to_owned(), v.to_owned()));
        }
    }
    page.render(
        "relay/preview.html",
        &PreviewPage {
            breadcrumbs: crumbs("relay.preview.crumb"),
            attribute,
            hidden,
            lines: lines(&values),
            recipients: recipient_views(&state, page.lang, &recipients).await?,
        },
    )
}

/// Confirms the change: records it and queues its deliveries, then shows their status.
#[utoipa::path(tag = "pages", request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf_token`, `attribute` and its fields, as previewed"), responses((status = 303, description = "Recorded: to the change's status"), (status = 400, description = "The form again, with what is wrong"), (status = 403, description = "Missing or wrong CSRF token; nothing changed")))]
#[post("/me/update")]
pub async fn confirm(
    state: web::Data<Relay>,
    form: Form<Subject>,
    page: Page,
) -> Result<HttpResponse, Error> {
    let (kind, values) = match parse(&state, &form.fields) {
        Ok(parsed) => parsed,
        Err(e) => {
            let (status, error) = form_error(e.into())?;
            return render_form(
                &state,
                &form.who,
                &page,
                status,
                vec![error],
                Some(&form.fields),
            )
            .await;
        }
    };
    // INVARIANT: a delegate changes only what their delegation covers, checked at this request.
    for (name, _) in &values {
        form.who.may(Power::ChangeFacts, Some(name))?;
    }
    let recorded = outbox::record(
        &state,
        NewChange {
            citizen_id: form.who.citizen_id.clone(),
            kind,
            values,
            provenance: Provenance {
                source_kind: SourceKind::Citizen,
                source_id: "citizen".into(),
                method: if form.who.delegation.is_some() {
                    "representative-declared".into()
                } else {
                    "self-declared".into()
                },
                loa: form.who.session.loa,
                verified: false,
                recorded_at: now_ms(),
            },
            actor: form.who.actor(),
            department_id: None,
            client_id: None,
            delegation_id: form.who.delegation_id(),
        },
    )
    .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", format!("/me/updates/{}", recorded.change_id)))
        .finish())
}

#[derive(Serialize)]
struct DeliveryView {
    department: String,
    status: String,
    /// When it was delivered, or when the next attempt is due.
    when: Option<String>,
    error: Option<String>,
    /// For a dead letter: `refused` (by the department), `unreachable` or `broker` (what went
    /// wrong, in words the page has), and how many attempts were made.
    failure: Option<&'static str>,
    attempts: i32,
}

#[derive(Serialize)]
struct StatusPage {
    breadcrumbs: Vec<Crumb>,
    attributes: Vec<String>,
    recorded: String,
    deliveries: Vec<DeliveryView>,
    pending: bool,
    reload: String,
    /// The citizen asked for the page to refresh itself (`?auto=1`): never by default, so nobody
    /// is moved on before they have read it (WCAG 2.2.1); they can stop it.
    auto: bool,
}

#[derive(serde::Deserialize)]
pub struct StatusQuery {
    auto: Option<u8>,
}

/// A change's delivery status per department; refreshes itself while anything is pending, if the
/// citizen turned that on.
#[utoipa::path(tag = "pages", params(("id" = String, Path, description = "change id")), responses((status = 200, description = "Per-department delivery status", content_type = "text/html"), (status = 404, description = "Not the citizen's change")))]
#[get("/me/updates/{id}")]
pub async fn update_status(
    state: web::Data<Relay>,
    who: Subject,
    page: Page,
    id: web::Path<String>,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse, Error> {
    let change = change::Entity::find_by_id(id.clone())
        .one(&state.db)
        .await?
        .filter(|c| c.citizen_id == who.citizen_id)
        .ok_or(ServiceError::NotFound)?;
    let rows = delivery::Entity::find()
        .filter(delivery::Column::ChangeId.eq(change.id.clone()))
        .order_by_asc(delivery::Column::DepartmentId)
        .all(&state.db)
        .await?;
    let departments = services::departments::list(&state.db).await?;
    let catalogue = state.policy.catalogue();
    let deliveries: Vec<DeliveryView> = rows
        .iter()
        .map(|row| DeliveryView {
            department: department_name(&departments, catalogue, &row.department_id, page.lang),
            status: row.status.clone(),
            when: match row.status.as_str() {
                DELIVERED => row.delivered_at.map(|t| format_time(t, page.lang)),
                FAILED | CANCELLED | SUPERSEDED => None,
                _ => Some(format_time(row.next_attempt_at.max(now_ms()), page.lang)),
            },
            failure: (row.status == FAILED)
                .then(|| row.last_error.as_deref().and_then(telemetry::parse_stored))
                .flatten()
                .map(|(class, _)| class.as_str()),
            attempts: row.attempts,
            error: match row.status.as_str() {
                FAILED => row.last_error.as_deref().map(|e| {
                    telemetry::parse_stored(e)
                        .map(|(_, code)| code)
                        .unwrap_or_else(|| e.split(':').next().unwrap_or(e))
                        .to_owned()
                }),
                // The page words a cancellation by its reason; reasons it has no words for
                // read as "the rules no longer allow it".
                CANCELLED => Some(
                    row.last_error
                        .as_deref()
                        .filter(|code| {
                            matches!(
                                *code,
                                "consent_revoked" | "consent_expired" | "department_disabled"
                            )
                        })
                        .unwrap_or("other")
                        .to_owned(),
                ),
                _ => None,
            },
        })
        .collect();
    let attributes = services::relay::set::versions(&change)
        .map_err(|e| ServiceError::Internal(e.to_string()))?
        .into_iter()
        .map(|(name, _)| {
            catalogue
                .attribute(&name)
                .map_or(name.clone(), |a| match page.lang {
                    Lang::En => a.label_en.clone(),
                    Lang::Fr => a.label_fr.clone(),
                })
        })
        .collect();
    page.render(
        "relay/status.html",
        &StatusPage {
            breadcrumbs: crumbs("relay.status.crumb"),
            attributes,
            recorded: format_time(change.created_at, page.lang),
            pending: deliveries
                .iter()
                .any(|d| d.status == services::relay::worker::PENDING),
            deliveries,
            reload: format!("/me/updates/{}", change.id),
            auto: query.auto == Some(1),
        },
    )
}
