//! `POST /oauth2/par` (RFC 9126): a department's web application pushes its authorization
//! request, authenticated with `private_key_jwt`; what passes every check is stored under the
//! SHA-256 of a fresh `request_uri` for a minute.
//!
//! Checked here beyond `fapi::par::validate`: the client is a web application (it registered
//! redirect URIs), the purpose is in the catalogue, every attribute asked is one the catalogue
//! knows and one the policy lets the citizen consent to give this department for this purpose.
//! A refusal after the client authenticated is in the audit log (`access-refused`).

use fapi::ErrorCode;
use fapi::claims::ClaimsRequest;
use fapi::par::{ConsentMode, ParPolicy, PushContext};
use sea_orm::{ActiveModelTrait, Set};

use super::entities::request;
use super::{Provider, ProviderError};
use crate::error::Error;
use crate::oauth::bearer::Unauthenticated;
use crate::oauth::refusals::{self, Endpoint};
use crate::oauth::token::{
    AssertionProfile, AuthenticatedClient, authenticate_client, parse_pairs,
};

/// Handles one push; the `201 Created` body on success.
pub async fn push(
    provider: &Provider,
    body: &[u8],
    dpop: &[&str],
) -> Result<serde_json::Value, Error> {
    match attempt(provider, body, dpop).await {
        Ok(answer) => Ok(answer),
        Err(refused) => Err(refusals::settle(&provider.oauth, Endpoint::Par, refused).await),
    }
}

async fn attempt(
    provider: &Provider,
    body: &[u8],
    dpop: &[&str],
) -> Result<serde_json::Value, Unauthenticated> {
    // `fapi::par::validate` refuses a repeat of any parameter it reads, client authentication's
    // included, once the client is known.
    let params = parse_pairs(body).map_err(Error::from)?;
    let issuer = provider.issuer().to_owned();
    let par_url = provider.url(fapi::metadata::paths::PAR);
    // FAPI 2.0 §5.3.2.1: the assertion's audience is the issuer; the endpoint's URL is accepted
    // too (RFC 7523 §3), as the token endpoint does.
    let audiences = [
        issuer.clone(),
        par_url.clone(),
        provider.url(fapi::metadata::paths::TOKEN),
    ];
    let client =
        authenticate_client(&provider.oauth, &params, &audiences, AssertionProfile::Fapi).await?;
    let named = |error: Error| Unauthenticated {
        error,
        identified: Some(client.identified()),
    };
    checked(provider, &client, body, dpop, &par_url)
        .await
        .map_err(named)
}

async fn checked(
    provider: &Provider,
    client: &AuthenticatedClient,
    body: &[u8],
    dpop: &[&str],
    par_url: &str,
) -> Result<serde_json::Value, Error> {
    if client.client.redirect_uris.is_empty() {
        return Err(ProviderError::new(
            ErrorCode::UnauthorizedClient,
            "the client has no registered redirect uri: it may not sign citizens in",
        )
        .into());
    }
    // A DPoP proof with the push binds the code to its key (RFC 9449 §10).
    let proof = if dpop.is_empty() {
        None
    } else {
        Some(super::dpop::verify(provider, dpop, "POST", par_url, None).await?)
    };
    let context = PushContext {
        client_id: &client.client.client_id,
        redirect_uris: &client.client.redirect_uris,
        dpop_jkt: proof.as_ref().map(|p| p.jkt.as_str()),
    };
    let mut request =
        fapi::par::validate(body, &context, &ParPolicy::default()).map_err(ProviderError::from)?;
    check_terms(provider, &client.client.department_id, &mut request)?;
    let now = store::now_ms() / 1000;
    let issued = fapi::par::request_uri::issue(
        request,
        now,
        provider.settings.request_uri_ttl_secs,
        &ring::rand::SystemRandom::new(),
    )
    .map_err(ProviderError::from)?;
    let stored = serde_json::to_string(&issued.record)
        .map_err(|e| Error::Internal(format!("cannot store a pushed request: {e}")))?;
    request::ActiveModel {
        key: Set(issued.storage_key.clone()),
        client_id: Set(client.client.client_id.clone()),
        request: Set(stored),
        expires_at: Set(issued.record.expires_at),
    }
    .insert(&provider.oauth.db)
    .await?;
    tracing::info!(client_id = %client.client.client_id, "authorization request pushed");
    Ok(issued.response_body())
}

/// The purpose and attributes asked, against the catalogue and the policy. Standard claim
/// scopes (`profile`, `address`, …) become claim requests here, so the consent screen and the
/// answers see one list.
fn check_terms(
    provider: &Provider,
    department: &str,
    request: &mut fapi::par::AuthorizationRequest,
) -> Result<(), Error> {
    let catalogue = provider.release.policy.catalogue();
    let mut claims = request.claims.take().unwrap_or_default();
    let explicit = asked_attributes(&claims);
    claims.add_scope_claims(&request.scopes);
    // A scope stands for the claims of OIDC Core §5.4 the catalogue holds; the others (a
    // `nickname`, a `picture`) are not kept by the broker and are simply not asked.
    claims
        .userinfo
        .retain(|c| explicit.contains(&c.name) || catalogue.attribute(&c.name).is_some());
    let asked = asked_attributes(&claims);
    request.claims = Some(claims);
    let Some(purpose) = request.purpose.as_deref() else {
        return if asked.is_empty() {
            Ok(())
        } else {
            Err(ProviderError::new(
                ErrorCode::InvalidRequest,
                "asking for attributes needs a `purpose`",
            )
            .into())
        };
    };
    if catalogue.purpose(purpose).is_none() {
        return Err(ProviderError::new(
            ErrorCode::InvalidRequest,
            "`purpose` is not a purpose of the catalogue",
        )
        .into());
    }
    if let Some(unknown) = asked.iter().find(|a| catalogue.attribute(a).is_none()) {
        return Err(ProviderError::new(
            ErrorCode::InvalidRequest,
            format!(
                "the claims asked include `{}`, which is not an attribute of the catalogue",
                unknown.chars().take(64).collect::<String>()
            ),
        )
        .into());
    }
    let mode = consent_mode(request.consent_mode);
    let names: std::collections::BTreeSet<String> = asked.iter().cloned().collect();
    let allowed = crate::consents::offer::consentable(
        &provider.release.policy,
        department,
        purpose,
        mode,
        &names,
        store::now_ms(),
    );
    if let Some(refused) = names.difference(&allowed).next() {
        return Err(ProviderError::new(
            ErrorCode::InvalidRequest,
            format!("the policy does not let this department receive `{refused}` for this purpose"),
        )
        .into());
    }
    Ok(())
}

/// Every attribute asked, once each, in the order first asked (protocol claims excluded).
pub fn asked_attributes(claims: &ClaimsRequest) -> Vec<String> {
    claims.asked().into_iter().map(|a| a.name).collect()
}

pub fn consent_mode(mode: ConsentMode) -> consent::Mode {
    match mode {
        ConsentMode::Once => consent::Mode::Once,
        ConsentMode::Ongoing => consent::Mode::Ongoing,
    }
}
