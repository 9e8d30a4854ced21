//! The department API for consent: ask a citizen (`POST /api/v1/consent-requests`), read the
//! outcome (`GET /api/v1/consent-requests/{id}`), and check a consent receipt
//! (`POST /api/v1/receipts/verify`).
//!
//! A department names the citizen by the pairwise `sub` the broker gave it (from sign-in or a
//! release): only a citizen it already knows can be asked. It sees only its own requests: another
//! department's request id is a 404, exactly like an id that does not exist.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use consent::{Consent, DAY_MS, State};
use serde::{Deserialize, Serialize};
use services::Error as ServiceError;

use crate::oauth::{Caller, ConsentRequest};
use crate::problem::Error;
use services::citizens::pairwise;
use services::consents::Ledger;
use services::consents::ledger::{self, RequestInput};
use services::consents::receipts::{self, Verified};
use store::now_ms;

/// A request for consent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConsentRequest {
    /// The citizen, by the pairwise subject identifier the broker issued to your department.
    pub subject: String,
    /// Catalogue names of the attributes asked for (at least one).
    pub attributes: Vec<String>,
    /// The purpose code (from the purpose catalogue).
    pub purpose: String,
    /// `once` (fetch while the consent lasts) or `ongoing` (and receive every change).
    pub mode: String,
    /// How long the consent should last once granted, in days; the configured default when
    /// absent, at most the configured maximum.
    #[serde(default)]
    pub duration_days: Option<i64>,
    /// Where to send the citizen back after answering (https; http only on 127.0.0.1).
    #[serde(default)]
    pub return_url: Option<String>,
}

/// A request for consent and its outcome, as its department sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentRequestView {
    pub id: String,
    /// `requested`, `active`, `refused`, `revoked` or `expired` (expired from the first
    /// millisecond past the expiry, even before the broker records it).
    pub state: String,
    pub purpose: String,
    pub mode: String,
    pub requested_attributes: Vec<String>,
    pub duration_days: i64,
    pub requested_at: String,
    /// Where the citizen answers (a page on the broker, after sign-in).
    pub citizen_url: String,
    /// The attributes the citizen granted (all or part of those asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_attributes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// When it was refused, revoked or recorded as expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// Your pairwise subject identifier for the citizen, once granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

fn request_view(state: &Ledger, consent: &Consent, sector: &str, now: i64) -> ConsentRequestView {
    let request = consent.request();
    let grant = consent.grant();
    ConsentRequestView {
        id: consent.id().to_string(),
        state: consent.effective_state(now).as_str().to_owned(),
        purpose: consent.purpose().to_owned(),
        mode: consent.mode().as_str().to_owned(),
        requested_attributes: request
            .map(|r| r.attributes.iter().cloned().collect())
            .unwrap_or_default(),
        duration_days: request.map_or(0, |r| r.requested_duration_ms.div_euclid(DAY_MS)),
        requested_at: consent::rfc3339_utc(consent.created_at_ms()),
        citizen_url: format!("{}/me/requests/{}", state.issuer, consent.id()),
        granted_attributes: grant.map(|g| g.attributes.iter().cloned().collect()),
        granted_at: grant.map(|g| consent::rfc3339_utc(g.granted_at_ms)),
        expires_at: grant.map(|g| consent::rfc3339_utc(g.expires_at_ms)),
        ended_at: consent
            .ended_at_ms()
            .or_else(|| {
                (consent.effective_state(now) == State::Expired)
                    .then(|| consent.expires_at_ms())
                    .flatten()
            })
            .map(consent::rfc3339_utc),
        subject: grant.map(|_| {
            pairwise::compute(
                &state.secrets.pairwise,
                sector,
                &consent.citizen().to_string(),
            )
        }),
    }
}

/// Asks a citizen for consent. The citizen sees the request on their pages and answers it there.
#[utoipa::path(
    tag = "department api",
    request_body = NewConsentRequest,
    responses(
        (status = 201, description = "Recorded; the citizen can answer it", body = ConsentRequestView),
        (status = 400, description = "`malformed_json`", body = crate::problem::Problem),
        (status = 401, description = "No valid access token", body = crate::problem::Problem),
        (status = 403, description = "`insufficient_scope` (needs `consent:request`)", body = crate::problem::Problem),
        (status = 409, description = "`consent_duplicate`: an identical request is pending or consent active", body = crate::problem::Problem),
        (status = 413, description = "`payload_too_large`", body = crate::problem::Problem),
        (status = 422, description = "`unknown_attribute`, `unknown_purpose`, `unknown_department`, `unknown_mode`, `unknown_subject`, `not_consentable`, `duration_beyond_maximum`, `invalid_duration`, `no_attributes`, `invalid_return_url`", body = crate::problem::Problem)
    )
)]
#[post("/api/v1/consent-requests")]
pub async fn create(
    state: web::Data<Ledger>,
    caller: Caller<ConsentRequest>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    // `caller` is extracted: the scope was checked (and a refusal audited) before the body is read.
    let body: NewConsentRequest = crate::body::json(&req, body).await?;
    let consent = ledger::request(
        &state,
        &caller.department,
        &caller.client_id,
        RequestInput {
            subject: body.subject,
            attributes: body.attributes,
            purpose: body.purpose,
            mode: body.mode,
            duration_days: body.duration_days,
            return_url: body.return_url,
        },
    )
    .await?;
    let view = request_view(
        &state,
        &consent,
        &caller.department.sector_identifier,
        now_ms(),
    );
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!("/api/v1/consent-requests/{}", consent.id()),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .json(view))
}

/// The state and outcome of one of your requests.
#[utoipa::path(
    tag = "department api",
    params(("id" = String, Path, description = "the request id returned when it was made")),
    responses(
        (status = 200, description = "The request and its outcome", body = ConsentRequestView),
        (status = 401, description = "No valid access token", body = crate::problem::Problem),
        (status = 403, description = "`insufficient_scope` (needs `consent:request`)", body = crate::problem::Problem),
        (status = 404, description = "No such request of yours", body = crate::problem::Problem)
    )
)]
#[get("/api/v1/consent-requests/{id}")]
pub async fn read(
    state: web::Data<Ledger>,
    caller: Caller<ConsentRequest>,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ServiceError::NotFound.into());
    }
    let consent = services::consents::load(&state.db, &id)
        .await
        .map_err(|e| Error::from(services::consents::LedgerError::Store(e)))?
        .filter(|c| c.department() == caller.department.id && c.request().is_some())
        .ok_or(ServiceError::NotFound)?;
    let view = request_view(
        &state,
        &consent,
        &caller.department.sector_identifier,
        now_ms(),
    );
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(view))
}

/// A receipt to check.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyReceipt {
    /// The receipt: the compact JWS as downloaded (`.jwt`).
    pub receipt: String,
}

/// Checks a consent receipt: its signature against the broker's published keys (current and
/// previous), and that the ledger issued exactly this receipt for a grant that says the same.
/// Anyone holding a receipt may check it.
#[utoipa::path(
    tag = "department api",
    request_body = VerifyReceipt,
    responses(
        (status = 200, description = "Valid; with the consent's state now", body = Verified),
        (status = 400, description = "`malformed_json`", body = crate::problem::Problem),
        (status = 422, description = "`receipt_malformed`, `receipt_signature_invalid` or `receipt_not_in_ledger`", body = crate::problem::Problem)
    )
)]
#[post("/api/v1/receipts/verify")]
pub async fn verify(
    state: web::Data<Ledger>,
    body: web::Json<VerifyReceipt>,
) -> Result<HttpResponse, Error> {
    let verified = receipts::verify(&state.db, &state.keys, &body.receipt, now_ms()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(verified))
}

/// The OpenAPI part for consent.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        create,
        read,
        verify,
        super::pages::list,
        super::pages::new_form,
        super::pages::grant,
        super::pages::detail,
        super::pages::revoke_confirm,
        super::pages::revoke,
        super::pages::receipt_page,
        super::pages::receipt_download,
        super::requests::list,
        super::requests::detail,
        super::requests::accept,
        super::requests::refuse,
    ),
    components(schemas(NewConsentRequest, ConsentRequestView, VerifyReceipt, Verified))
)]
pub struct Api;

/// Registers every consent route (the fixed paths before the `{id}` ones).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(read)
        .service(verify)
        .service(super::pages::list)
        .service(super::pages::new_form)
        .service(super::pages::grant)
        .service(super::pages::receipt_download)
        .service(super::pages::receipt_page)
        .service(super::pages::revoke_confirm)
        .service(super::pages::revoke)
        .service(super::pages::detail)
        .service(super::requests::list)
        .service(super::requests::detail)
        .service(super::requests::accept)
        .service(super::requests::refuse);
}
