//! The privacy officers' console: `/officer` (search with filters, results newest first, cursor
//! pages, export links), `/officer/export` (the same search as a CSV or JSON Lines download) and
//! `/officer/unusual` (departments above their own baseline).
//!
//! Every handler takes `OfficerSession`: no officer session, no page. Searches are GET forms (they
//! change nothing but the log, so they carry no CSRF token); each search, export and view is
//! appended to the log as the officer's own record before the page is sent.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use audit::{Action, Outcome};
use serde::{Deserialize, Serialize};
use services::Error as ServiceError;
use services::PublicError;

use super::api::Reader;
use crate::i18n::Lang;
use crate::i18n::Messages;
use crate::pages::{Page, format_time};
use crate::problem::Error;
use crate::session::OfficerSession;
use services::audit_log::Records;
use services::audit_log::export::{self, Format};
use services::audit_log::query::{self, FilterParams, RecordView};
use services::audit_log::unusual::{self, Activity};
use store::now_ms;

#[derive(Debug, Clone, Serialize)]
pub(super) struct Crumb {
    pub key: &'static str,
    pub href: Option<&'static str>,
}

/// A record as a table row, labels in the page's language.
#[derive(Debug, Serialize)]
pub(super) struct Row {
    pub id: String,
    pub seq: u64,
    pub time: String,
    pub action: String,
    pub action_label: String,
    pub outcome: String,
    pub outcome_label: String,
    /// Who acted, in the page's language (citizen, officer, the broker, …).
    pub actor_kind: String,
    /// Their id (an internal citizen id, an officer id, a provider's issuer, …).
    pub actor_id: String,
    pub citizen_id: Option<String>,
    pub department_id: Option<String>,
    pub department: Option<String>,
    pub purpose: Option<String>,
    pub purpose_text: Option<String>,
    pub attributes: Vec<String>,
    pub reasons: Vec<String>,
    /// The reason codes among `reasons`, in words in the page's language (policy ids and other
    /// reasons without words are left to the record's JSON).
    pub reason_labels: Vec<String>,
    /// A citizen acted on another citizen's data: a delegate acting for them.
    pub by_representative: bool,
}

/// The reason codes the console names in words and offers as a filter: the codes of a release
/// denial (`release::decide`), of a refused call (`services::oauth::refusals`), and the checks a
/// token-endpoint refusal names. Each has `audit.reasons.<code>` in both languages (tested).
pub(super) const REASON_CODES: [&str; 28] = [
    "no_consent",
    "consent_expired",
    "consent_revoked",
    "consent_not_covering",
    "policy_denied",
    "purpose_unknown",
    "attribute_unknown",
    "insufficient_assurance",
    "subject_deceased",
    "malformed_query",
    "query_too_large",
    "subject_not_found",
    "holder_key_unavailable",
    "insufficient_scope",
    "token_expired",
    "token_revoked",
    "invalid_client",
    "invalid_scope",
    "assertion_replayed",
    "assertion_expired",
    "assertion_audience",
    "assertion_issuer_subject",
    "assertion_lifetime",
    "assertion_not_yet_valid",
    "assertion_no_jti",
    "assertion_act",
    "department_disabled",
    "scope_not_held",
];

fn label(messages: &Messages, lang: Lang, key: String, fallback: &str) -> String {
    if messages.has(lang, &key) {
        messages.get(lang, &key).to_owned()
    } else {
        fallback.to_owned()
    }
}

/// A number with one decimal in the language's format (`2.5` in English, `2,5` in French).
fn decimal(x: f64, lang: Lang) -> String {
    let text = format!("{x:.1}");
    match lang {
        Lang::Fr => text.replace('.', ","),
        Lang::En => text,
    }
}

pub(super) fn row(state: &Records, page: &Page, v: &RecordView) -> Row {
    use crate::consents::view::{attribute_label, department_name, purpose_texts};
    let (lang, messages) = (page.lang, page.messages());
    Row {
        id: v.id.clone(),
        seq: v.seq,
        time: format_time(v.time_ms, lang),
        action_label: label(
            messages,
            lang,
            format!("audit.actions.{}", v.action),
            &v.action,
        ),
        action: v.action.clone(),
        outcome_label: label(
            messages,
            lang,
            format!("audit.outcomes.{}", v.outcome),
            &v.outcome,
        ),
        outcome: v.outcome.clone(),
        actor_kind: label(
            messages,
            lang,
            format!("audit.actors.{}", v.actor_kind),
            &v.actor_kind,
        ),
        actor_id: v.actor_id.clone(),
        by_representative: v.actor_kind == "citizen"
            && v.citizen_id.as_deref().is_some_and(|c| c != v.actor_id),
        citizen_id: v.citizen_id.clone(),
        department: v
            .department_id
            .as_deref()
            .map(|d| department_name(state.policy.catalogue(), lang, d)),
        department_id: v.department_id.clone(),
        purpose_text: v
            .purpose
            .as_deref()
            .map(|p| purpose_texts(state.policy.catalogue(), lang, p).0),
        purpose: v.purpose.clone(),
        attributes: v
            .attributes
            .iter()
            .map(|a| attribute_label(state.policy.catalogue(), lang, a))
            .collect(),
        reasons: v.reasons.clone(),
        reason_labels: v
            .reasons
            .iter()
            .filter(|r| REASON_CODES.contains(&r.as_str()))
            .map(|r| label(messages, lang, format!("audit.reasons.{r}"), r))
            .collect(),
    }
}

#[derive(Serialize)]
struct Choice {
    value: String,
    label: String,
}

#[derive(Serialize)]
struct SearchPage {
    breadcrumbs: Vec<Crumb>,
    params: FilterParams,
    error: Option<String>,
    rows: Vec<Row>,
    next_href: Option<String>,
    export_csv: String,
    export_jsonl: String,
    departments: Vec<Choice>,
    purposes: Vec<Choice>,
    actions: Vec<Choice>,
    outcomes: Vec<Choice>,
    reasons: Vec<Choice>,
    latest_checkpoint: Option<query::CheckpointView>,
}

/// Every reason code the console knows, in words, as filter choices (sorted by their words).
fn reason_choices(page: &Page) -> Vec<Choice> {
    let (lang, messages) = (page.lang, page.messages());
    let mut choices: Vec<Choice> = REASON_CODES
        .iter()
        .map(|code| Choice {
            value: (*code).to_owned(),
            label: label(messages, lang, format!("audit.reasons.{code}"), code),
        })
        .collect();
    choices.sort_by(|a, b| a.label.cmp(&b.label));
    choices
}

/// The query string of `params` without its cursor, plus `extra`.
fn query_string(params: &FilterParams, extra: &[(&str, String)]) -> String {
    let mut p = params.clone();
    p.cursor = None;
    p.limit = None;
    let mut s = serde_urlencoded::to_string(&p).unwrap_or_default();
    for (k, v) in extra {
        if !s.is_empty() {
            s.push('&');
        }
        s.push_str(&serde_urlencoded::to_string([(k, v)]).unwrap_or_default());
    }
    s
}

async fn officer(state: &Records, who: &OfficerSession) -> Result<Reader, Error> {
    match services::signin::complete::officer_of(&state.db, &who.session).await? {
        Some(officer_id) => Ok(Reader::Officer { officer_id }),
        None => Err(ServiceError::SignInRequired {
            to: "/officer/signin",
            next: "/officer".into(),
        }
        .into()),
    }
}

fn choices(state: &Records, page: &Page) -> (Vec<Choice>, Vec<Choice>, Vec<Choice>, Vec<Choice>) {
    let (lang, messages) = (page.lang, page.messages());
    let catalogue = state.policy.catalogue();
    let departments = catalogue
        .departments()
        .iter()
        .map(|d| Choice {
            value: d.id.clone(),
            label: match lang {
                Lang::En => d.name_en.clone(),
                Lang::Fr => d.name_fr.clone(),
            },
        })
        .collect();
    let purposes = catalogue
        .purposes()
        .iter()
        .map(|p| Choice {
            value: p.code.clone(),
            label: p.code.clone(),
        })
        .collect();
    let actions = Action::ALL
        .iter()
        .map(|a| Choice {
            value: a.as_str().to_owned(),
            label: label(
                messages,
                lang,
                format!("audit.actions.{}", a.as_str()),
                a.as_str(),
            ),
        })
        .collect();
    let outcomes = Outcome::ALL
        .iter()
        .map(|o| Choice {
            value: o.as_str().to_owned(),
            label: label(
                messages,
                lang,
                format!("audit.outcomes.{}", o.as_str()),
                o.as_str(),
            ),
        })
        .collect();
    (departments, purposes, actions, outcomes)
}

/// The console: search the log.
#[utoipa::path(tag = "pages", params(FilterParams), responses(
    (status = 200, description = "The officer console with the matching records", content_type = "text/html"),
    (status = 400, description = "A filter was invalid: the form again with an error summary", content_type = "text/html"),
    (status = 303, description = "No officer session: to the officer sign-in")))]
#[get("/officer")]
pub async fn search(
    state: web::Data<Records>,
    who: OfficerSession,
    page: Page,
    params: web::Query<FilterParams>,
) -> Result<HttpResponse, Error> {
    let reader = officer(&state, &who).await?;
    let params = params.into_inner();
    let (departments, purposes, actions, outcomes) = choices(&state, &page);
    let mut data = SearchPage {
        breadcrumbs: vec![Crumb {
            key: "audit.console.title",
            href: None,
        }],
        export_csv: format!(
            "/officer/export?{}",
            query_string(&params, &[("format", "csv".into())])
        ),
        export_jsonl: format!(
            "/officer/export?{}",
            query_string(&params, &[("format", "jsonl".into())])
        ),
        params,
        error: None,
        rows: Vec::new(),
        next_href: None,
        departments,
        purposes,
        actions,
        outcomes,
        reasons: reason_choices(&page),
        latest_checkpoint: query::latest_checkpoint(&state.db)
            .await?
            .as_ref()
            .map(query::CheckpointView::of),
    };
    let checked = data
        .params
        .filter()
        .and_then(|f| Ok((f, data.params.cursor()?, data.params.limit()?)));
    let (filter, cursor, limit) = match checked {
        Ok(ok) => ok,
        Err(e) => {
            data.error = Some(format!("error.codes.{}", e.code()));
            return page.render_status(StatusCode::BAD_REQUEST, "audit/console.html", &data);
        }
    };
    let (rows, next) = query::newest_first(&state.db, &filter, cursor, limit).await?;
    if let Some(mut record) = reader.query_record(Action::OfficerSearch, Some(&filter)) {
        record
            .detail
            .insert("results".into(), rows.len().to_string());
        state.audit.append(record).await?;
    }
    data.rows = rows
        .iter()
        .map(|r| row(&state, &page, &RecordView::of(r)))
        .collect();
    data.next_href =
        next.map(|c| format!("/officer?{}", query_string(&data.params, &[("cursor", c)])));
    page.render("audit/console.html", &data)
}

/// The download's own parameters (beside the search's filters).
#[derive(Debug, Deserialize)]
pub struct ExportParams {
    format: Option<String>,
    proofs: Option<String>,
}

/// The search as a download (CSV or JSON Lines), oldest first, optionally with proofs.
#[utoipa::path(tag = "pages", params(FilterParams), responses(
    (status = 200, description = "Every matching record as a file (`cursor` and `limit` are checked like the console's, then ignored: an export is never a page)", content_type = "text/csv"),
    (status = 400, description = "A bad filter or format"),
    (status = 303, description = "No officer session: to the officer sign-in")))]
#[get("/officer/export")]
pub async fn download(
    state: web::Data<Records>,
    who: OfficerSession,
    filter: web::Query<FilterParams>,
    params: web::Query<ExportParams>,
) -> Result<HttpResponse, Error> {
    let reader = officer(&state, &who).await?;
    // The console's export links carry its paging; checked as there, not used.
    filter.limit()?;
    filter.cursor()?;
    let filter = filter.filter()?;
    let format: Format = params
        .format
        .as_deref()
        .unwrap_or("csv")
        .parse()
        .map_err(|_| query::QueryError::InvalidFilter {
            field: "format",
            reason: "use `csv` or `jsonl`".into(),
        })?;
    let proofs = params
        .proofs
        .as_deref()
        .is_some_and(|p| !p.is_empty() && p != "0");
    let mut body = Vec::new();
    let count = export::export(&state.db, &filter, format, proofs, &mut body)
        .await
        .map_err(|e| match e {
            export::ExportError::Audit(a) => ServiceError::Audit(a),
            other => ServiceError::Internal(other.to_string()),
        })?;
    if let Some(mut record) = reader.query_record(Action::OfficerExport, Some(&filter)) {
        record.detail.insert("results".into(), count.to_string());
        record
            .detail
            .insert("format".into(), format.extension().to_owned());
        state.audit.append(record).await?;
    }
    let name = format!(
        "audit-{}.{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        format.extension()
    );
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}

#[derive(Serialize)]
struct UnusualRow {
    #[serde(flatten)]
    activity: Activity,
    department: String,
    action_label: String,
    hourly_baseline: String,
    daily_baseline: String,
    unusual: bool,
    search_href: String,
}

#[derive(Serialize)]
struct UnusualPage {
    breadcrumbs: Vec<Crumb>,
    rows: Vec<UnusualRow>,
    flagged: usize,
    factor: String,
    baseline_days: u64,
    min_count: u64,
}

/// Departments whose releases or denials in the last hour or day exceed their own baseline.
#[utoipa::path(tag = "pages", responses(
    (status = 200, description = "Per-department activity against its baseline", content_type = "text/html"),
    (status = 303, description = "No officer session: to the officer sign-in")))]
#[get("/officer/unusual")]
pub async fn unusual_access(
    state: web::Data<Records>,
    who: OfficerSession,
    page: Page,
) -> Result<HttpResponse, Error> {
    let reader = officer(&state, &who).await?;
    let now = now_ms();
    let config = &state.settings;
    let all = unusual::activity(&state.db, config, now).await?;
    if let Some(mut record) = reader.query_record(Action::OfficerSearch, None) {
        record.detail.insert("view".into(), "unusual".into());
        state.audit.append(record).await?;
    }
    let (lang, messages) = (page.lang, page.messages());
    let rows: Vec<UnusualRow> = all
        .into_iter()
        .map(|a| UnusualRow {
            department: crate::consents::view::department_name(
                state.policy.catalogue(),
                lang,
                &a.department_id,
            ),
            action_label: label(
                messages,
                lang,
                format!("audit.actions.{}", a.action),
                &a.action,
            ),
            hourly_baseline: decimal(a.hourly_baseline, page.lang),
            daily_baseline: decimal(a.daily_baseline, page.lang),
            unusual: a.unusual(),
            search_href: format!(
                "/officer?{}",
                serde_urlencoded::to_string([
                    ("department", a.department_id.as_str()),
                    ("action", a.action.as_str()),
                    ("from", &query::rfc3339(now - 24 * 3_600_000)),
                ])
                .unwrap_or_default()
            ),
            activity: a,
        })
        .collect();
    page.render(
        "audit/unusual.html",
        &UnusualPage {
            breadcrumbs: vec![
                Crumb {
                    key: "audit.console.title",
                    href: Some("/officer"),
                },
                Crumb {
                    key: "audit.unusual.title",
                    href: None,
                },
            ],
            flagged: rows.iter().filter(|r| r.unusual).count(),
            rows,
            factor: decimal(config.unusual_factor, page.lang),
            baseline_days: config.unusual_baseline_days,
            min_count: config.unusual_min_count,
        },
    )
}

#[cfg(test)]
mod number_tests {
    use super::*;

    #[::core::prelude::v1::test]
    fn numbers_follow_the_language() {
        assert_eq!(decimal(0.0, Lang::Fr), "0,0");
        assert_eq!(decimal(2.54, Lang::Fr), "2,5");
        assert_eq!(decimal(2.54, Lang::En), "2.5");
    }
}
