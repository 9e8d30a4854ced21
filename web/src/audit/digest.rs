//! The citizen's e-mail digest settings (issue 15 §1): how often (never, weekly, monthly) and in
//! which language their notices are sent to them by e-mail, where they go (their current e-mail
//! address, changed at `/me/update`), and the digests sent lately. The rules are
//! `services::digests`.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use services::InputError;
use services::digests::{Digests, Frequency, Status};

use super::console::Crumb;
use crate::csrf::Form;
use crate::i18n::Lang;
use crate::pages::{Page, format_time};
use crate::problem::Error;
use crate::session::CitizenSession;

#[derive(Serialize)]
struct Choice {
    value: &'static str,
    key: &'static str,
    checked: bool,
}

#[derive(Serialize)]
struct SentRow {
    period: String,
    period_key: &'static str,
    status_key: &'static str,
    time: String,
}

#[derive(Serialize)]
struct DigestPage {
    breadcrumbs: Vec<Crumb>,
    address: Option<String>,
    enabled: bool,
    chosen: bool,
    frequencies: Vec<Choice>,
    digest_lang: &'static str,
    saved: bool,
    sent: Vec<SentRow>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DigestQuery {
    /// Set after the settings were saved (shows a confirmation).
    #[serde(default)]
    saved: bool,
}

fn frequency_key(f: Frequency) -> &'static str {
    match f {
        Frequency::Never => "audit.digest.never",
        Frequency::Weekly => "audit.digest.weekly",
        Frequency::Monthly => "audit.digest.monthly",
    }
}

fn status_key(s: Status) -> &'static str {
    match s {
        Status::Pending | Status::Sending => "audit.digest.status_pending",
        Status::Sent => "audit.digest.status_sent",
        Status::Failed | Status::Interrupted => "audit.digest.status_failed",
        Status::NoAddress => "audit.digest.status_no_address",
        Status::Cancelled => "audit.digest.status_cancelled",
    }
}

/// My e-mail digest: how often my notices are e-mailed to me, and in which language.
#[utoipa::path(tag = "pages", params(DigestQuery), responses(
    (status = 200, description = "The digest settings and the digests sent lately", content_type = "text/html"),
    (status = 303, description = "Sign-in required")))]
#[get("/me/notices/digest")]
pub async fn settings(
    state: web::Data<Digests>,
    who: CitizenSession,
    page: Page,
    query: web::Query<DigestQuery>,
) -> Result<HttpResponse, Error> {
    let preferences = state.preferences(&who.citizen_id).await?;
    let address = state.address(&who.citizen_id).await?;
    let sent = state
        .recent(&who.citizen_id, 12)
        .await?
        .into_iter()
        .map(|d| {
            let (kind, rest) = d.period.split_once(':').unwrap_or(("", &d.period));
            SentRow {
                period: rest.to_owned(),
                period_key: if kind == Frequency::Weekly.as_str() {
                    "audit.digest.period_week"
                } else {
                    "audit.digest.period_month"
                },
                status_key: status_key(d.status),
                time: format_time(d.sent_at.unwrap_or(d.created_at), page.lang),
            }
        })
        .collect();
    let lang = preferences.lang.unwrap_or(page.lang);
    page.render(
        "audit/digest.html",
        &DigestPage {
            breadcrumbs: vec![
                Crumb {
                    key: "common.nav_dashboard",
                    href: Some("/me"),
                },
                Crumb {
                    key: "audit.notices.title",
                    href: Some("/me/notices"),
                },
                Crumb {
                    key: "audit.digest.title",
                    href: None,
                },
            ],
            address,
            enabled: state.mailer.is_some(),
            chosen: preferences.chosen,
            frequencies: Frequency::ALL
                .into_iter()
                .map(|f| Choice {
                    value: f.as_str(),
                    key: frequency_key(f),
                    checked: f == preferences.frequency,
                })
                .collect(),
            digest_lang: lang.code(),
            saved: query.saved,
            sent,
        },
    )
}

/// Saves how often and in which language my notices are e-mailed to me.
#[utoipa::path(tag = "pages",
    request_body(content_type = "application/x-www-form-urlencoded", description = "`frequency` (`never`, `weekly`, `monthly`), `lang` (`en`, `fr`), `csrf_token`"),
    responses((status = 303, description = "Back to the settings, saved"),
        (status = 400, description = "An unknown frequency or language"),
        (status = 403, description = "CSRF token missing or wrong")))]
#[post("/me/notices/digest")]
pub async fn choose(
    state: web::Data<Digests>,
    form: Form<CitizenSession>,
) -> Result<HttpResponse, Error> {
    let frequency = form
        .fields
        .get("frequency")
        .and_then(Frequency::parse)
        .ok_or_else(|| {
            InputError::MalformedForm("`frequency` must be never, weekly or monthly".into())
        })?;
    let lang = form
        .fields
        .get("lang")
        .and_then(Lang::parse)
        .ok_or_else(|| InputError::MalformedForm("`lang` must be en or fr".into()))?;
    state.choose(&form.who.citizen_id, frequency, lang).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/me/notices/digest?saved=true"))
        .finish())
}
