//! The department API for delegations a department is the authority for (a court-ordered
//! guardianship, a registered power of attorney): `POST /api/v1/delegations`, with an access
//! token holding `delegations:write`. Both citizens are named by the department's pairwise
//! subjects; the legal basis is required; the delegation is live at once, recorded with the
//! registering department, and the represented citizen sees it and who registered it.

use actix_web::{HttpRequest, HttpResponse, post, web};
use consent::Delegation;
use serde::{Deserialize, Serialize};
use services::consents::Ledger;
use services::consents::delegations::{self, DelegationError, RegisterInput, TermsInput};
use store::now_ms;

use crate::oauth::{Caller, DelegationsWrite};
use crate::problem::Error;

/// A delegation to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDelegation {
    /// The represented citizen, by your pairwise subject identifier for them.
    pub delegator: String,
    /// The representative, by your pairwise subject identifier for them.
    pub delegate: String,
    /// The legal basis (an order, a registration number, a statute): required.
    pub legal_basis: String,
    /// How the representative sees the person represented (1 to 80 characters).
    pub label: String,
    /// Among `view` (always implied), `change_facts`, `give_consents`.
    #[serde(default)]
    pub powers: Vec<String>,
    /// Purpose codes the representative may give consents for.
    #[serde(default)]
    pub purposes: Vec<String>,
    /// Attribute names the representative may see (and change, consent to share).
    pub attributes: Vec<String>,
    /// How long it lasts, in whole days (at most the configured maximum); or `valid_until`.
    #[serde(default)]
    pub duration_days: Option<i64>,
    /// When it ends (RFC 3339), instead of `duration_days`.
    #[serde(default)]
    pub valid_until: Option<String>,
}

/// A registered delegation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DelegationView {
    pub id: String,
    /// `live`, `scheduled`, `expired` or `ended`.
    pub state: String,
    pub delegator: String,
    pub delegate: String,
    pub legal_basis: String,
    pub powers: Vec<String>,
    pub purposes: Vec<String>,
    pub attributes: Vec<String>,
    pub valid_from: String,
    pub valid_until: String,
}

fn view(
    d: &Delegation,
    body_delegator: String,
    body_delegate: String,
    basis: String,
) -> DelegationView {
    let t = d.terms();
    DelegationView {
        id: d.id().to_string(),
        state: d.state(now_ms()).as_str().to_owned(),
        delegator: body_delegator,
        delegate: body_delegate,
        legal_basis: basis,
        powers: t.powers.iter().map(|p| p.as_str().to_owned()).collect(),
        purposes: t.purposes.iter().cloned().collect(),
        attributes: t.attributes.iter().cloned().collect(),
        valid_from: consent::rfc3339_utc(t.valid_from_ms),
        valid_until: consent::rfc3339_utc(t.valid_until_ms),
    }
}

/// Registers a delegation your department is the authority for. Nothing is written when it is
/// refused.
#[utoipa::path(
    tag = "department api",
    request_body = NewDelegation,
    responses(
        (status = 201, description = "Registered and live", body = DelegationView),
        (status = 400, description = "`malformed_json`", body = crate::problem::Problem),
        (status = 401, description = "No valid access token", body = crate::problem::Problem),
        (status = 403, description = "`insufficient_scope` (needs `delegations:write`)", body = crate::problem::Problem),
        (status = 413, description = "`payload_too_large`", body = crate::problem::Problem),
        (status = 422, description = "`legal_basis_required`, `unknown_subject`, `delegation_to_self`, `unknown_attribute`, `unknown_purpose`, `unknown_power`, `no_attributes`, `invalid_label`, `invalid_duration`, `duration_beyond_maximum`", body = crate::problem::Problem)
    )
)]
#[post("/api/v1/delegations")]
pub async fn register(
    state: web::Data<Ledger>,
    caller: Caller<DelegationsWrite>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    // `caller` is extracted: the scope was checked before the body is read.
    let body: NewDelegation = crate::body::json(&req, body).await?;
    let valid_until_ms = match &body.valid_until {
        Some(text) => Some(
            chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|_| DelegationError::InvalidDuration)?
                .timestamp_millis(),
        ),
        None => None,
    };
    let d = delegations::register(
        &state,
        &caller.department,
        &caller.client_id,
        RegisterInput {
            delegator: body.delegator.clone(),
            delegate: body.delegate.clone(),
            legal_basis: body.legal_basis.clone(),
            terms: TermsInput {
                powers: body.powers,
                purposes: body.purposes,
                attributes: body.attributes,
                duration_days: body.duration_days.unwrap_or(0),
                valid_until_ms,
                may_delegate: false,
                label: body.label,
            },
        },
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(view(
            &d,
            body.delegator,
            body.delegate,
            body.legal_basis.trim().to_owned(),
        )))
}
