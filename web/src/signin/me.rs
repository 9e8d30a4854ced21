//! The citizen's own pages: the dashboard, "my information" (every current fact with where it came
//! from, and the linked sign-ins), linking another sign-in and unlinking one (with confirmation).
//!
//! Values are shown only here, to the citizen they are about; they are never logged.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::pages::{Crumb, binding, failure, redirect_to_provider};
use crate::Site;
use crate::csrf::Form;
use crate::i18n::{Lang, Messages};
use crate::pages::{Page, format_time};
use crate::problem::Error;
use crate::session::{CitizenSession, Subject};
use services::citizens::{self, Fact, SourceKind};
use services::signin::SignIn;
use services::signin::flow::{self, Purpose, StartRequest};
use services::signin::{SignInError, claims, links};

#[derive(Serialize)]
struct Dashboard {
    name: Option<String>,
    provider: String,
    loa: u8,
    consent_summary: crate::consents::pages::ConsentSummary,
    /// Notices not yet seen (`/me/notices`).
    unread_notices: u64,
    breadcrumbs: Vec<Crumb>,
}

#[derive(Serialize)]
struct FactRow {
    attribute: String,
    label: String,
    lines: Vec<String>,
    source: String,
    source_kind: &'static str,
    method: String,
    loa: u8,
    verified: bool,
    recorded: String,
}

#[derive(Serialize)]
struct NoticeRow {
    attribute: String,
    provider: String,
    provider_loa: i16,
    kept_by: String,
    kept_loa: i16,
    noticed: String,
}

#[derive(Serialize)]
struct LinkRow {
    id: String,
    provider: String,
    linked_since: String,
    last_used: String,
    current: bool,
    can_unlink: bool,
}

#[derive(Serialize)]
struct Choice {
    id: String,
    name: String,
}

#[derive(Serialize)]
struct Information {
    facts: Vec<FactRow>,
    notices: Vec<NoticeRow>,
    links: Vec<LinkRow>,
    link_options: Vec<Choice>,
    linked: Option<String>,
    unlinked: Option<String>,
    breadcrumbs: Vec<Crumb>,
}

#[derive(Debug, Deserialize)]
pub struct InformationQuery {
    linked: Option<String>,
    unlinked: Option<String>,
}

fn provider_name(state: &SignIn, lang: Lang, id: &str) -> String {
    state
        .providers
        .get(id)
        .map(|p| p.config.name(lang).to_owned())
        .unwrap_or_else(|_| id.to_owned())
}

async fn source_name(
    state: &SignIn,
    messages: &Messages,
    lang: Lang,
    fact: &Fact,
) -> Result<String, Error> {
    let id = &fact.provenance.source_id;
    Ok(match fact.provenance.source_kind {
        SourceKind::Provider => provider_name(state, lang, id),
        SourceKind::Department => match services::departments::get(&state.db, id).await? {
            Some(d) if lang == Lang::Fr => d.name_fr,
            Some(d) => d.name_en,
            None => id.clone(),
        },
        SourceKind::Citizen => messages.get(lang, "me.source_you").to_owned(),
    })
}

fn label(messages: &Messages, lang: Lang, prefix: &str, name: &str) -> String {
    let key = format!("{prefix}.{name}");
    if messages.has(lang, &key) {
        messages.get(lang, &key).to_owned()
    } else {
        name.to_owned()
    }
}

/// A value as lines of text (an address on several lines).
fn lines(messages: &Messages, lang: Lang, attribute: &str, value: &Value) -> Vec<String> {
    match value {
        Value::String(s) if attribute == "preferred_language" => {
            vec![label(messages, lang, "me.languages", s)]
        }
        Value::String(s) => vec![s.clone()],
        Value::Object(o) => {
            let get = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("").trim();
            if !get("formatted").is_empty() {
                return get("formatted").lines().map(str::to_owned).collect();
            }
            let place = [get("locality"), get("region"), get("postal_code")]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            [
                get("street_address").to_owned(),
                place,
                get("country").to_owned(),
            ]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect()
        }
        other => vec![other.to_string()],
    }
}

/// The dashboard: a greeting and where to go.
#[utoipa::path(tag = "pages", responses((status = 200, description = "The citizen's dashboard", content_type = "text/html"),
    (status = 303, description = "Not signed in: to the sign-in page")))]
#[get("/me")]
pub async fn dashboard(
    state: web::Data<SignIn>,
    ledger: web::Data<services::consents::Ledger>,
    page: Page,
    who: CitizenSession,
) -> Result<HttpResponse, Error> {
    let facts = citizens::current_facts(
        &state.db,
        &state.vault,
        &who.citizen_id,
        Some(&["given_name", "family_name"]),
    )
    .await
    .map_err(services::signin::complete::citizen_error)?;
    let part = |n: &str| {
        facts
            .iter()
            .find(|f| f.attribute == n)
            .and_then(|f| f.value.as_str().map(str::to_owned))
    };
    let name = match (part("given_name"), part("family_name")) {
        (Some(g), Some(f)) => Some(format!("{g} {f}")),
        (Some(one), None) | (None, Some(one)) => Some(one),
        (None, None) => None,
    };
    let provider = who
        .session
        .provider_id
        .as_deref()
        .map(|p| provider_name(&state, page.lang, p))
        .unwrap_or_default();
    let consent_summary =
        crate::consents::pages::summary(&ledger, &who.citizen_id, page.lang).await?;
    let unread_notices = services::notices::unread(&state.db, &who.citizen_id).await?;
    page.render(
        "me/dashboard.html",
        &Dashboard {
            name,
            provider,
            loa: who.session.loa,
            consent_summary,
            unread_notices,
            breadcrumbs: vec![Crumb {
                key: "me.dashboard_title",
                href: None,
            }],
        },
    )
}

/// My information: every current fact with its provenance, and the linked sign-ins.
#[utoipa::path(tag = "pages", responses((status = 200, description = "Facts with provenance, linked sign-ins", content_type = "text/html"),
    (status = 303, description = "Not signed in: to the sign-in page")))]
#[get("/me/information")]
pub async fn information(
    state: web::Data<SignIn>,
    page: Page,
    who: Subject,
    query: web::Query<InformationQuery>,
) -> Result<HttpResponse, Error> {
    let lang = page.lang;
    let facts = citizens::current_facts(&state.db, &state.vault, &who.citizen_id, None)
        .await
        .map_err(services::signin::complete::citizen_error)?;
    // A delegate sees only what the delegation covers, and none of the person's sign-ins.
    let facts: Vec<_> = facts
        .into_iter()
        .filter(|f| who.visible().is_none_or(|v| v.contains(&f.attribute)))
        .collect();
    let own = who.delegation.is_none();
    let mut rows = Vec::new();
    // Sign-in attributes first, in their usual order, then anything else.
    let rank = |a: &str| {
        claims::ATTRIBUTES
            .iter()
            .position(|x| *x == a)
            .unwrap_or(claims::ATTRIBUTES.len())
    };
    let mut facts = facts;
    facts.sort_by(|a, b| {
        rank(&a.attribute)
            .cmp(&rank(&b.attribute))
            .then(a.attribute.cmp(&b.attribute))
    });
    for fact in &facts {
        rows.push(FactRow {
            attribute: fact.attribute.clone(),
            label: label(page.messages(), lang, "me.attributes", &fact.attribute),
            lines: lines(page.messages(), lang, &fact.attribute, &fact.value),
            source: source_name(&state, page.messages(), lang, fact).await?,
            source_kind: fact.provenance.source_kind.as_str(),
            method: label(page.messages(), lang, "me.methods", &fact.provenance.method),
            loa: fact.provenance.loa,
            verified: fact.provenance.verified,
            recorded: format_time(fact.provenance.recorded_at, lang),
        });
    }
    let mut notices = Vec::new();
    let claim_notices = if own {
        claims::notices(&state.db, &who.citizen_id).await?
    } else {
        Vec::new()
    };
    for n in claim_notices {
        let kept_by = match services::departments::get(&state.db, &n.kept_source_id).await? {
            Some(d) if lang == Lang::Fr => d.name_fr,
            Some(d) => d.name_en,
            None => n.kept_source_id.clone(),
        };
        notices.push(NoticeRow {
            attribute: label(page.messages(), lang, "me.attributes", &n.attribute),
            provider: provider_name(&state, lang, &n.provider_id),
            provider_loa: n.provider_loa,
            kept_by,
            kept_loa: n.kept_loa,
            noticed: format_time(n.noticed_at, lang),
        });
    }
    let linked = if own {
        links::of_citizen(&state.db, &who.citizen_id).await?
    } else {
        Vec::new()
    };
    let current = who.session.provider_id.as_deref();
    let several = linked.len() > 1;
    let link_rows = linked
        .iter()
        .map(|l| LinkRow {
            id: l.id.clone(),
            provider: provider_name(&state, lang, &l.provider_id),
            linked_since: format_time(l.created_at, lang),
            last_used: format_time(l.last_signin_at, lang),
            current: current == Some(l.provider_id.as_str()),
            can_unlink: several && current != Some(l.provider_id.as_str()),
        })
        .collect();
    let link_options = state
        .providers
        .list
        .iter()
        .filter(|p| own && !linked.iter().any(|l| l.provider_id == p.config.id))
        .map(|p| Choice {
            id: p.config.id.clone(),
            name: p.config.name(lang).to_owned(),
        })
        .collect();
    let known = |id: &Option<String>| {
        id.as_deref()
            .filter(|id| state.providers.get(id).is_ok())
            .map(|id| provider_name(&state, lang, id))
    };
    page.render(
        "me/information.html",
        &Information {
            facts: rows,
            notices,
            links: link_rows,
            link_options,
            linked: known(&query.linked),
            unlinked: known(&query.unlinked),
            breadcrumbs: vec![
                Crumb {
                    key: "me.dashboard_title",
                    href: Some("/me"),
                },
                Crumb {
                    key: "me.information_title",
                    href: None,
                },
            ],
        },
    )
}

/// Link another sign-in: the citizen, signed in, signs in again at another provider.
#[utoipa::path(tag = "pages",
    request_body(content_type = "application/x-www-form-urlencoded", description = "`provider`, `csrf_token`"),
    responses((status = 303, description = "To the provider"), (status = 403, description = "CSRF token missing or wrong"),
        (status = 404, description = "No such provider")))]
#[post("/me/links")]
pub async fn link_another(
    state: web::Data<SignIn>,
    site: web::Data<Site>,
    page: Page,
    req: HttpRequest,
    form: Form<CitizenSession>,
) -> Result<HttpResponse, Error> {
    let provider = form.fields.get("provider").unwrap_or("").to_owned();
    let started = flow::start(
        &state,
        binding(&req).as_deref(),
        StartRequest {
            provider_id: &provider,
            purpose: Purpose::Link,
            session_hash: Some(form.who.session.id_hash.clone()),
            next: "/me/information".into(),
            login_hint: form.fields.get("login_hint"),
            lang: page.lang,
        },
    )
    .await;
    match started {
        Ok(started) => Ok(redirect_to_provider(&site, started)),
        Err(e) => failure(&page, &req, e.into(), "/me/information", None),
    }
}

#[derive(Serialize)]
struct ConfirmUnlink {
    id: String,
    provider: String,
    breadcrumbs: Vec<Crumb>,
}

async fn own_link(state: &SignIn, who: &CitizenSession, id: &str) -> Result<links::Link, Error> {
    links::of_citizen(&state.db, &who.citizen_id)
        .await?
        .into_iter()
        .find(|l| l.id == id)
        .ok_or_else(|| SignInError::LinkNotFound(id.to_owned()).into())
}

/// Asks the citizen to confirm removing a linked sign-in.
#[utoipa::path(tag = "pages", params(("id" = String, Path, description = "link id")),
    responses((status = 200, description = "Confirmation form", content_type = "text/html"),
        (status = 404, description = "No such link of this citizen")))]
#[get("/me/links/{id}/unlink")]
pub async fn confirm_unlink(
    state: web::Data<SignIn>,
    page: Page,
    req: HttpRequest,
    who: CitizenSession,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let link = match own_link(&state, &who, &id).await {
        Ok(link) => link,
        Err(e) => return failure(&page, &req, e, "/me/information", None),
    };
    page.render(
        "me/unlink.html",
        &ConfirmUnlink {
            id: link.id.clone(),
            provider: provider_name(&state, page.lang, &link.provider_id),
            breadcrumbs: vec![
                Crumb {
                    key: "me.dashboard_title",
                    href: Some("/me"),
                },
                Crumb {
                    key: "me.information_title",
                    href: Some("/me/information"),
                },
                Crumb {
                    key: "me.unlink_title",
                    href: None,
                },
            ],
        },
    )
}

/// Removes a linked sign-in (never the last one, nor the one this session used).
#[utoipa::path(tag = "pages", params(("id" = String, Path, description = "link id")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf_token`"),
    responses((status = 303, description = "Back to my information"),
        (status = 403, description = "CSRF token missing or wrong"),
        (status = 404, description = "No such link of this citizen"),
        (status = 409, description = "The last link, or the one in use")))]
#[post("/me/links/{id}/unlink")]
pub async fn unlink(
    state: web::Data<SignIn>,
    page: Page,
    req: HttpRequest,
    id: web::Path<String>,
    form: Form<CitizenSession>,
) -> Result<HttpResponse, Error> {
    let who = &form.who;
    let removed = match links::unlink(
        &state.db,
        &state.audit,
        &who.citizen_id,
        &id,
        who.session.provider_id.as_deref(),
    )
    .await
    {
        Ok(removed) => removed,
        Err(e) => return failure(&page, &req, e.into(), "/me/information", None),
    };
    links::end_sessions_through(&state.db, &who.citizen_id, &removed.provider_id).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/me/information?unlinked={}", removed.provider_id),
        ))
        .finish())
}
