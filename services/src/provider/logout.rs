//! Logout: RP-initiated (`GET /oauth2/logout`, OpenID Connect RP-Initiated Logout 1.0) and
//! back-channel (OpenID Connect Back-Channel Logout 1.0): when a citizen's broker session ends,
//! every department application signed in from it gets a signed logout token at its registered
//! `backchannel_logout_uri`.

use std::time::Duration;

use fapi::logout::{LogoutSubject, LogoutToken};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use super::Provider;
use super::entities::grant;
use crate::error::Error;
use crate::sessions::Session;
use store::now_ms;

/// How long a department has to answer a logout token.
const BACKCHANNEL_TIMEOUT: Duration = Duration::from_secs(5);

/// The `sub` of an ID token the broker issued to `client_id` (expired or not), if `hint` is one.
pub fn hint_subject(provider: &Provider, hint: &str, client_id: &str) -> Option<String> {
    hint_claims(provider, hint)
        .filter(|c| audience_is(c, client_id))
        .and_then(|c| c.get("sub").and_then(Value::as_str).map(str::to_owned))
}

fn hint_claims(provider: &Provider, hint: &str) -> Option<Value> {
    if hint.len() > 8192 {
        return None;
    }
    let (header, payload) = provider.oauth.keys.verify(hint).ok()?;
    if header.get("typ").and_then(Value::as_str) != Some("JWT") {
        return None;
    }
    let claims: Value = serde_json::from_slice(&payload).ok()?;
    (claims.get("iss").and_then(Value::as_str) == Some(provider.issuer())).then_some(claims)
}

fn audience_is(claims: &Value, client_id: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    }
}

/// `GET /oauth2/logout`, read.
#[derive(Debug, Default, serde::Deserialize)]
pub struct LogoutQuery {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
}

/// Where the browser goes after an RP-initiated logout: the department's registered
/// `post_logout_redirect_uri` (with `state`), or `None` for the broker's own page. The caller
/// ends the browser's session (cookie) and calls [`session_ended`].
pub async fn rp_initiated(
    provider: &Provider,
    query: &LogoutQuery,
) -> Result<Option<String>, Error> {
    let hinted = query
        .id_token_hint
        .as_deref()
        .and_then(|hint| hint_claims(provider, hint));
    let client_id = match (&hinted, &query.client_id) {
        (Some(claims), Some(client_id)) if audience_is(claims, client_id) => {
            Some(client_id.clone())
        }
        (Some(_), Some(_)) => None,
        (Some(claims), None) => match claims.get("aud") {
            Some(Value::String(aud)) => Some(aud.clone()),
            _ => None,
        },
        (None, client_id) => client_id.clone(),
    };
    let (Some(client_id), Some(target)) = (client_id, &query.post_logout_redirect_uri) else {
        return Ok(None);
    };
    let Some((client, _)) = provider
        .oauth
        .registry
        .client_with_department(&provider.oauth.db, &client_id)
        .await?
    else {
        return Ok(None);
    };
    // Only a registered URI, compared exactly: never an open redirect.
    if !client.post_logout_redirect_uris.contains(target) {
        return Ok(None);
    }
    let Ok(mut url) = url::Url::parse(target) else {
        return Ok(None);
    };
    if let Some(state) = &query.state {
        url.query_pairs_mut().append_pair("state", state);
    }
    Ok(Some(url.to_string()))
}

/// The citizen's broker session ended (sign-out, RP-initiated logout): every department
/// application signed in from it is told, once, by a logout token at its back-channel URI.
/// Failures to deliver are logged (by department), never retried: the department's own session
/// expires anyway.
pub async fn session_ended(provider: &Provider, session: &Session) -> Result<usize, Error> {
    let db = &provider.oauth.db;
    let rows = grant::Entity::find()
        .filter(grant::Column::SessionHash.eq(session.id_hash.clone()))
        .filter(grant::Column::LoggedOutAt.is_null())
        .filter(grant::Column::CodeUsedAt.is_not_null())
        .all(db)
        .await?;
    let marked = grant::Entity::update_many()
        .col_expr(grant::Column::LoggedOutAt, Expr::value(now_ms()))
        .filter(grant::Column::SessionHash.eq(session.id_hash.clone()))
        .filter(grant::Column::LoggedOutAt.is_null())
        .exec(db)
        .await?;
    if marked.rows_affected == 0 {
        return Ok(0);
    }
    let mut seen = std::collections::HashSet::new();
    let mut sends = tokio::task::JoinSet::new();
    for row in rows {
        if !seen.insert(row.client_id.clone()) {
            continue;
        }
        let Some((client, _)) = provider
            .oauth
            .registry
            .client_with_department(db, &row.client_id)
            .await?
        else {
            continue;
        };
        let Some(uri) = client.backchannel_logout_uri.clone() else {
            continue;
        };
        let sub = super::token::subject(provider, &row).await?;
        let token = LogoutToken::new(
            provider.issuer(),
            &row.client_id,
            LogoutSubject::Both {
                sub,
                sid: row.sid.clone(),
            },
            now_ms() / 1000,
            120,
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|e| Error::Internal(format!("logout token: {e}")))?;
        let signed = provider
            .oauth
            .keys
            .sign(Some("logout+jwt"), &token.claims())?;
        let http = provider.http.clone();
        let client_id = row.client_id.clone();
        sends.spawn(async move {
            let sent = http
                .post(uri)
                .timeout(BACKCHANNEL_TIMEOUT)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(fapi::logout::request_body(&signed))
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => true,
                Ok(r) => {
                    tracing::warn!(client_id = %client_id, status = r.status().as_u16(), "back-channel logout refused");
                    false
                }
                Err(e) => {
                    tracing::warn!(client_id = %client_id, error = %e.without_url(), "back-channel logout not delivered");
                    false
                }
            }
        });
    }
    let delivered = sends.join_all().await.into_iter().filter(|ok| *ok).count();
    Ok(delivered)
}
