//! The token endpoint's grants for departments' web applications: `authorization_code` (PKCE
//! S256, the redirect URI, a DPoP proof by the key the code is bound to) and `refresh_token`
//! (ongoing consents only, bound to the same DPoP key, rotated at each use). Both authenticate
//! the client with `private_key_jwt` and answer a DPoP-bound access token and an ES256 ID token
//! with the department's pairwise `sub`.
//!
//! A code used twice, or a refresh token used after it was rotated, revokes the grant: every
//! token issued from it stops working (RFC 6749 §4.1.2, RFC 9700 §4.14.2). A grant whose consent
//! ended refuses refresh.

use consent::State;
use fapi::ErrorCode;
use fapi::dpop::VerifiedProof;
use fapi::par::{AuthorizationRequest, ConsentMode};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::entities::grant;
use super::userinfo::{Answered, answer_claims};
use super::{Provider, ProviderError, hash, random_token};
use crate::error::Error;
use crate::oauth::bearer::Unauthenticated;
use crate::oauth::refusals::{self, Endpoint};
use crate::oauth::token::{
    AssertionProfile, AuthenticatedClient, authenticate_client, param, parse_params,
};
use fapi::claims::Target;
use store::now_ms;

/// The access token's `typ` (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The claims of an access token for userinfo: DPoP-bound (`cnf.jkt`), naming its grant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SignInAccessClaims {
    pub iss: String,
    /// The citizen's pairwise id for the department.
    pub sub: String,
    /// The userinfo endpoint.
    pub aud: String,
    pub client_id: String,
    /// The department the client belongs to (a refusal of the token names it).
    pub dept: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub cnf: Confirmation,
    /// The grant the token was issued from (revoked with it).
    pub gid: String,
    pub acr: String,
    pub auth_time: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Confirmation {
    pub jkt: String,
}

/// Whether the token endpoint request is one of this module's grants.
pub fn is_sign_in_grant(grant_type: Option<&str>) -> bool {
    matches!(grant_type, Some("authorization_code" | "refresh_token"))
}

/// Handles `grant_type=authorization_code` or `refresh_token`; the JSON answer.
pub async fn exchange(provider: &Provider, body: &[u8], dpop: &[&str]) -> Result<Value, Error> {
    match attempt(provider, body, dpop).await {
        Ok(answer) => Ok(answer),
        Err(refused) => Err(refusals::settle(&provider.oauth, Endpoint::Token, refused).await),
    }
}

fn invalid_grant(description: &'static str) -> Error {
    ProviderError::new(ErrorCode::InvalidGrant, description).into()
}

async fn attempt(
    provider: &Provider,
    body: &[u8],
    dpop: &[&str],
) -> Result<Value, Unauthenticated> {
    let params = parse_params(body).map_err(Error::from)?;
    let token_url = provider.url(fapi::metadata::paths::TOKEN);
    let audiences = [provider.issuer().to_owned(), token_url.clone()];
    let client =
        authenticate_client(&provider.oauth, &params, &audiences, AssertionProfile::Fapi).await?;
    let named = |error: Error| Unauthenticated {
        error,
        identified: Some(client.identified()),
    };
    // FAPI 2.0 §5.3.2.1: sender-constrained tokens; this provider's are DPoP-bound, always.
    let proof = super::dpop::verify(provider, dpop, "POST", &token_url, None)
        .await
        .map_err(named)?;
    let answer = match param(&params, "grant_type") {
        Some("authorization_code") => code_grant(provider, &client, &params, &proof).await,
        Some("refresh_token") => refresh_grant(provider, &client, &params, &proof).await,
        _ => Err(ProviderError::code(ErrorCode::UnsupportedGrantType).into()),
    };
    answer.map_err(named)
}

async fn code_grant(
    provider: &Provider,
    client: &AuthenticatedClient,
    params: &[(String, String)],
    proof: &VerifiedProof,
) -> Result<Value, Error> {
    let code = param(params, "code").ok_or_else(|| {
        Error::from(ProviderError::new(
            ErrorCode::InvalidRequest,
            "`code` is required",
        ))
    })?;
    let db = &provider.oauth.db;
    let now = now_ms();
    let row = grant::Entity::find()
        .filter(grant::Column::CodeHash.eq(hash(code)))
        .one(db)
        .await?
        .ok_or_else(|| invalid_grant("the code is unknown, used or expired"))?;
    if row.client_id != client.client.client_id {
        return Err(invalid_grant("the code is unknown, used or expired"));
    }
    if row.code_used_at.is_some() || row.revoked_at.is_some() {
        // A code used twice: whatever was issued from it is revoked (RFC 6749 §4.1.2).
        revoke(provider, &row.id, "code_reused").await?;
        tracing::warn!(client_id = %row.client_id, "authorization code used twice: grant revoked");
        return Err(invalid_grant("the code is unknown, used or expired"));
    }
    if row.code_expires_at <= now {
        return Err(invalid_grant("the code is unknown, used or expired"));
    }
    let request = stored_request(&row)?;
    if param(params, "redirect_uri") != Some(request.redirect_uri.as_str()) {
        return Err(invalid_grant(
            "`redirect_uri` is not the one of the authorization request",
        ));
    }
    request
        .code_challenge
        .verify(param(params, "code_verifier"))
        .map_err(ProviderError::from)?;
    if let Some(bound) = &request.dpop_jkt {
        proof.check_binding(bound).map_err(|_| {
            ProviderError::new(
                ErrorCode::InvalidDpopProof,
                "the DPoP proof is not signed by the key the code is bound to",
            )
        })?;
    }
    consent_live(provider, &row).await?;
    let refresh = refresh_for(provider, &request, &row)?;
    // Spend the code: only the request whose update changed the row goes on.
    let spent = grant::Entity::update_many()
        .col_expr(grant::Column::CodeUsedAt, Expr::value(now))
        .col_expr(grant::Column::DpopJkt, Expr::value(proof.jkt.clone()))
        .col_expr(
            grant::Column::RefreshHash,
            Expr::value(refresh.as_ref().map(|(token, _)| hash(token))),
        )
        .col_expr(
            grant::Column::RefreshExpiresAt,
            Expr::value(refresh.as_ref().map(|(_, until)| *until)),
        )
        .filter(grant::Column::Id.eq(row.id.clone()))
        .filter(grant::Column::CodeUsedAt.is_null())
        .filter(grant::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if spent.rows_affected != 1 {
        revoke(provider, &row.id, "code_reused").await?;
        return Err(invalid_grant("the code is unknown, used or expired"));
    }
    tokens(
        provider,
        &row,
        &request,
        &proof.jkt,
        refresh.map(|(t, _)| t),
        true,
    )
    .await
}

async fn refresh_grant(
    provider: &Provider,
    client: &AuthenticatedClient,
    params: &[(String, String)],
    proof: &VerifiedProof,
) -> Result<Value, Error> {
    let presented = param(params, "refresh_token").ok_or_else(|| {
        Error::from(ProviderError::new(
            ErrorCode::InvalidRequest,
            "`refresh_token` is required",
        ))
    })?;
    let db = &provider.oauth.db;
    let presented_hash = hash(presented);
    let unknown = || invalid_grant("the refresh token is unknown, revoked or expired");
    let Some(row) = grant::Entity::find()
        .filter(grant::Column::RefreshHash.eq(presented_hash.clone()))
        .one(db)
        .await?
    else {
        // A refresh token already rotated, presented again: someone holds a copy. Revoke.
        if let Some(row) = grant::Entity::find()
            .filter(grant::Column::PreviousRefreshHash.eq(presented_hash))
            .one(db)
            .await?
            && row.client_id == client.client.client_id
        {
            revoke(provider, &row.id, "refresh_reused").await?;
            tracing::warn!(client_id = %row.client_id, "a rotated refresh token was used again: grant revoked");
        }
        return Err(unknown());
    };
    if row.client_id != client.client.client_id || row.revoked_at.is_some() {
        return Err(unknown());
    }
    if row.refresh_expires_at.is_none_or(|until| until <= now_ms()) {
        return Err(unknown());
    }
    // RFC 9449 §5: a refresh token issued with DPoP is bound to the key.
    let bound = row.dpop_jkt.as_deref().unwrap_or_default();
    proof.check_binding(bound).map_err(|_| {
        ProviderError::new(
            ErrorCode::InvalidDpopProof,
            "the DPoP proof is not signed by the key the refresh token is bound to",
        )
    })?;
    if let Err(e) = consent_live(provider, &row).await {
        revoke(provider, &row.id, "consent_ended").await?;
        return Err(e);
    }
    let request = stored_request(&row)?;
    let next = random_token()?;
    let rotated = grant::Entity::update_many()
        .col_expr(grant::Column::RefreshHash, Expr::value(hash(&next)))
        .col_expr(
            grant::Column::PreviousRefreshHash,
            Expr::value(presented_hash.clone()),
        )
        .filter(grant::Column::Id.eq(row.id.clone()))
        .filter(grant::Column::RefreshHash.eq(presented_hash))
        .filter(grant::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if rotated.rows_affected != 1 {
        return Err(unknown());
    }
    tokens(provider, &row, &request, &proof.jkt, Some(next), false).await
}

pub(super) fn stored_request(row: &grant::Model) -> Result<AuthorizationRequest, Error> {
    serde_json::from_str(&row.request)
        .map_err(|_| Error::Internal("a stored grant does not read".into()))
}

/// The grant's consent is still active (withdrawn, expired or refused: `invalid_grant`).
pub(super) async fn consent_live(provider: &Provider, row: &grant::Model) -> Result<(), Error> {
    let Some(id) = &row.consent_id else {
        return Ok(());
    };
    let consent = crate::consents::load(&provider.oauth.db, id)
        .await
        .map_err(|e| Error::Internal(format!("cannot read a consent: {e}")))?;
    match consent {
        Some(c) if c.effective_state(now_ms()) == State::Active => Ok(()),
        _ => Err(invalid_grant("the consent this rests on has ended")),
    }
}

/// A refresh token, and until when, for an ongoing consent only (`offline_access`).
fn refresh_for(
    provider: &Provider,
    request: &AuthorizationRequest,
    row: &grant::Model,
) -> Result<Option<(String, i64)>, Error> {
    if request.consent_mode != ConsentMode::Ongoing || row.consent_id.is_none() {
        return Ok(None);
    }
    let until = now_ms() + provider.settings.refresh_token_ttl_secs * 1000;
    Ok(Some((random_token()?, until)))
}

/// Revokes a grant: every token issued from it is refused from now on.
pub async fn revoke(provider: &Provider, grant_id: &str, reason: &str) -> Result<(), Error> {
    grant::Entity::update_many()
        .col_expr(grant::Column::RevokedAt, Expr::value(now_ms()))
        .col_expr(grant::Column::RevokedReason, Expr::value(reason.to_owned()))
        .filter(grant::Column::Id.eq(grant_id))
        .filter(grant::Column::RevokedAt.is_null())
        .exec(&provider.oauth.db)
        .await?;
    Ok(())
}

/// The pairwise `sub` of the grant's citizen for its department.
pub(super) async fn subject(provider: &Provider, row: &grant::Model) -> Result<String, Error> {
    let department = provider
        .oauth
        .registry
        .department(&provider.oauth.db, &row.department_id)
        .await?
        .ok_or_else(|| invalid_grant("the department is no longer registered"))?;
    Ok(crate::citizens::pairwise::subject_for(
        &provider.oauth.db,
        &provider.secrets.pairwise,
        &department.sector_identifier,
        &row.citizen_id,
    )
    .await?)
}

/// The access token, the ID token and the refresh token of one exchange.
async fn tokens(
    provider: &Provider,
    row: &grant::Model,
    request: &AuthorizationRequest,
    jkt: &str,
    refresh: Option<String>,
    with_nonce: bool,
) -> Result<Value, Error> {
    let now = now_ms() / 1000;
    let settings = &provider.settings;
    let sub = subject(provider, row).await?;
    let scope = request.scopes.join(" ");
    let access = SignInAccessClaims {
        iss: provider.issuer().to_owned(),
        sub: sub.clone(),
        aud: provider.url(fapi::metadata::paths::USERINFO),
        client_id: row.client_id.clone(),
        dept: row.department_id.clone(),
        scope: scope.clone(),
        iat: now,
        exp: now + settings.access_token_ttl_secs,
        jti: uuid::Uuid::now_v7().to_string(),
        cnf: Confirmation {
            jkt: jkt.to_owned(),
        },
        gid: row.id.clone(),
        acr: row.acr.clone(),
        auth_time: row.auth_time,
    };
    let access_token = provider.oauth.keys.sign(Some(ACCESS_TOKEN_TYP), &access)?;
    let mut id = json!({
        "iss": provider.issuer(),
        "sub": sub,
        "aud": row.client_id,
        "azp": row.client_id,
        "iat": now,
        "exp": now + settings.id_token_ttl_secs,
        "auth_time": row.auth_time,
        "acr": row.acr,
        "sid": row.sid,
        "jti": uuid::Uuid::now_v7().to_string(),
    });
    if with_nonce && let Some(nonce) = &request.nonce {
        id["nonce"] = json!(nonce);
    }
    let Answered { verified_claims } =
        answer_claims(provider, row, request, Target::IdToken).await?;
    if !verified_claims.is_empty() {
        id["verified_claims"] = Value::Array(verified_claims);
    }
    let id_token = provider.oauth.keys.sign(Some("JWT"), &id)?;
    let mut answer = json!({
        "access_token": access_token,
        "token_type": "DPoP",
        "expires_in": settings.access_token_ttl_secs,
        "id_token": id_token,
        "scope": scope,
    });
    if let Some(refresh) = refresh {
        answer["refresh_token"] = json!(refresh);
    }
    tracing::info!(client_id = %row.client_id, "tokens issued");
    Ok(answer)
}
