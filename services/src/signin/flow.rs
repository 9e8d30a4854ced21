//! The relying-party flow: the authorization request (code flow, PKCE S256, `state` and `nonce`
//! bound to this browser, single use, short expiry) and the checks on the way back (RFC 9207
//! `iss`, the code exchange, the ID token, userinfo).
//!
//! The browser is bound by a random cookie (`tuo_signin`, HttpOnly, SameSite=Lax) whose SHA-256 is
//! stored with each request: a callback from another browser, even with a valid `state`, matches
//! nothing. A request row is consumed before anything is sent to the provider, so every failure
//! after that point burns the `state` too.

use openidconnect::core::{CoreAuthenticationFlow, CoreGenderClaim};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, CsrfToken, LanguageTag, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, SubjectIdentifier,
    TokenResponse, UserInfoClaims,
};
use ring::rand::{SecureRandom, SystemRandom};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;

use super::SignIn;
use super::entities::signin_request;
use super::error::{SignInError, TokenFault};
use super::providers::{Discovered, Provider, unavailable};
use crate::error::Error;
use crate::jose::b64;
use crate::lang::Lang;
use store::now_ms;

pub const BINDING_COOKIE: &str = "tuo_signin";
pub const CALLBACK_PATH: &str = "/signin/callback";

/// Largest callback query string accepted.
const MAX_QUERY: usize = 4096;

/// What a sign-in is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A citizen signs in (first time: a new citizen and link).
    Citizen,
    /// A privacy officer signs in.
    Officer,
    /// A signed-in citizen proves another sign-in, to link it.
    Link,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Citizen => "citizen",
            Purpose::Officer => "officer",
            Purpose::Link => "link",
        }
    }
    fn parse(s: &str) -> Purpose {
        match s {
            "officer" => Purpose::Officer,
            "link" => Purpose::Link,
            _ => Purpose::Citizen,
        }
    }
    /// Where a failed sign-in of this kind starts again.
    pub fn restart_path(self) -> &'static str {
        match self {
            Purpose::Citizen => "/signin",
            Purpose::Officer => "/officer/signin",
            Purpose::Link => "/me/information",
        }
    }
}

fn sha256_hex(s: &str) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, s.as_bytes()))
}

fn random_token() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Internal("random source failed".into()))?;
    Ok(b64(bytes))
}

fn is_token(s: &str) -> bool {
    (16..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub fn redirect_uri(state: &SignIn) -> Result<RedirectUrl, Error> {
    RedirectUrl::new(format!("{}{CALLBACK_PATH}", state.issuer))
        .map_err(|_| Error::Internal("the public URL does not make a redirect URI".into()))
}

/// What the start of a sign-in asks for.
#[derive(Debug)]
pub struct StartRequest<'a> {
    pub provider_id: &'a str,
    pub purpose: Purpose,
    /// For [`Purpose::Link`]: the session asking.
    pub session_hash: Option<String>,
    pub next: String,
    pub login_hint: Option<&'a str>,
    pub lang: Lang,
}

/// Where to send the browser, and the new binding value to set as its `tuo_signin` cookie (when
/// it had none).
#[derive(Debug)]
pub struct Started {
    pub location: String,
    pub new_binding: Option<String>,
}

/// Starts a sign-in at a provider. `binding` is the browser's `tuo_signin` cookie, if any.
pub async fn start(
    state: &SignIn,
    binding: Option<&str>,
    start: StartRequest<'_>,
) -> Result<Started, Error> {
    let provider = state.providers.get(start.provider_id)?;
    let discovered = state.providers.ensure(&provider).await?;
    let client = state
        .providers
        .client(&provider, &discovered, redirect_uri(state)?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let csrf = CsrfToken::new(random_token()?);
    let nonce = Nonce::new(random_token()?);
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            {
                let csrf = csrf.clone();
                move || csrf
            },
            {
                let nonce = nonce.clone();
                move || nonce
            },
        )
        .set_pkce_challenge(challenge)
        .add_ui_locale(LanguageTag::new(start.lang.code().to_owned()));
    for scope in provider.config.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    if let Some(hint) = start.login_hint.filter(|h| {
        !h.is_empty() && h.len() <= 128 && h.chars().all(|c| c.is_ascii_graphic() || c == ' ')
    }) {
        request = request.add_extra_param("login_hint", hint.to_owned());
    }
    let (url, _, _) = request.url();

    let existing = binding.map(str::to_owned).filter(|v| is_token(v));
    let (binding, new_binding) = match existing {
        Some(v) => (v, None),
        None => {
            let v = random_token()?;
            (v.clone(), Some(v))
        }
    };
    let now = now_ms();
    signin_request::ActiveModel {
        state_hash: Set(sha256_hex(csrf.secret())),
        binding_hash: Set(sha256_hex(&binding)),
        provider_id: Set(provider.config.id.clone()),
        purpose: Set(start.purpose.as_str().to_owned()),
        session_hash: Set(start.session_hash),
        nonce: Set(nonce.secret().clone()),
        pkce_verifier: Set(verifier.secret().clone()),
        next: Set(start.next),
        created_at: Set(now),
        expires_at: Set(now + (state.settings.request_ttl_secs as i64) * 1000),
        consumed_at: Set(None),
    }
    .insert(&state.db)
    .await?;
    Ok(Started {
        location: url.to_string(),
        new_binding,
    })
}

/// The callback's parameters, each at most once and within size limits.
#[derive(Debug, Default)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

fn parse_callback(query: &str) -> Result<CallbackParams, SignInError> {
    if query.len() > MAX_QUERY {
        return Err(SignInError::CallbackMalformed("too large"));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|_| SignInError::CallbackMalformed("not a valid query string"))?;
    let mut p = CallbackParams::default();
    for (name, value) in pairs {
        let (slot, max) = match name.as_str() {
            "code" => (&mut p.code, 2048),
            "state" => (&mut p.state, 256),
            "iss" => (&mut p.iss, 512),
            "error" => (&mut p.error, 256),
            _ => continue,
        };
        if slot.is_some() {
            return Err(SignInError::CallbackMalformed("a parameter is repeated"));
        }
        if value.len() > max || !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(SignInError::CallbackMalformed(
                "a parameter is too long or not text",
            ));
        }
        *slot = Some(value);
    }
    Ok(p)
}

/// A sign-in request found by its `state`, checked against this browser, and consumed.
async fn take_request(
    state: &SignIn,
    binding: Option<&str>,
    raw_state: Option<&str>,
) -> Result<signin_request::Model, SignInError> {
    let raw_state = raw_state
        .filter(|s| !s.is_empty())
        .ok_or(SignInError::StateMissing)?;
    if !is_token(raw_state) {
        return Err(SignInError::StateInvalid);
    }
    let hash = sha256_hex(raw_state);
    let row = signin_request::Entity::find_by_id(hash.clone())
        .one(&state.db)
        .await
        .map_err(|_| SignInError::StateInvalid)?
        .ok_or(SignInError::StateInvalid)?;
    let binding = binding.map(sha256_hex).unwrap_or_default();
    // Compare digests of digests: constant time with respect to the stored value.
    if sha256_hex(&binding) != sha256_hex(&row.binding_hash) {
        return Err(SignInError::StateInvalid);
    }
    if row.consumed_at.is_some() {
        return Err(SignInError::StateUsed);
    }
    let now = now_ms();
    // Consume it whatever happens next: single use, even when expired or failing later.
    let consumed = signin_request::Entity::update_many()
        .col_expr(
            signin_request::Column::ConsumedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(signin_request::Column::StateHash.eq(hash))
        .filter(signin_request::Column::ConsumedAt.is_null())
        .exec(&state.db)
        .await
        .map_err(|_| SignInError::StateInvalid)?;
    if consumed.rows_affected != 1 {
        return Err(SignInError::StateUsed);
    }
    if now >= row.expires_at {
        return Err(SignInError::StateExpired);
    }
    Ok(row)
}

/// Claims beyond the standard ones that the broker reads from userinfo.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExtraClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_language: Option<String>,
}

impl AdditionalClaims for ExtraClaims {}

/// An upstream identity, proven.
#[derive(Debug)]
pub struct Authenticated {
    pub provider: Arc<Provider>,
    pub discovered: Arc<Discovered>,
    pub purpose: Purpose,
    pub next: String,
    pub session_hash: Option<String>,
    pub issuer: String,
    pub subject: String,
    pub loa: u8,
    /// ID token and userinfo claims (userinfo wins).
    pub claims: Map<String, Value>,
    /// Kept only as `id_token_hint` at sign-out. Never logged.
    pub id_token: String,
}

/// A callback that failed after its `state` was found: the purpose tells where to start again.
#[derive(Debug)]
pub struct Failed {
    pub error: Error,
    pub purpose: Option<Purpose>,
    pub provider: Option<Arc<Provider>>,
}

impl From<SignInError> for Failed {
    fn from(e: SignInError) -> Self {
        Failed {
            error: e.into(),
            purpose: None,
            provider: None,
        }
    }
}

/// Runs every check of the callback (its raw query string, and the browser's `tuo_signin`
/// binding) and returns the proven identity.
pub async fn callback(
    state: &SignIn,
    query: &str,
    binding: Option<&str>,
) -> Result<Authenticated, Failed> {
    let params = parse_callback(query)?;
    let row = take_request(state, binding, params.state.as_deref()).await?;
    let purpose = Purpose::parse(&row.purpose);
    let provider = state.providers.get(&row.provider_id)?;
    let fail = |e: Error| Failed {
        error: e,
        purpose: Some(purpose),
        provider: Some(provider.clone()),
    };
    let discovered = state
        .providers
        .ensure(&provider)
        .await
        .map_err(|e| fail(e.into()))?;
    let issuer = discovered.metadata.issuer().as_str().to_owned();
    // RFC 9207: the response names the issuer it came from; it must be the one asked.
    match params.iss.as_deref() {
        Some(iss) if iss != issuer => return Err(fail(SignInError::IssuerMismatch.into())),
        None if discovered.requires_iss_parameter() => {
            return Err(fail(SignInError::IssuerMismatch.into()));
        }
        _ => {}
    }
    if let Some(error) = params.error {
        // Only a plain error code is shown; the provider's description is never echoed.
        let code =
            if error.len() <= 64 && error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                error
            } else {
                "unknown".to_owned()
            };
        return Err(fail(SignInError::ProviderRefused(code).into()));
    }
    let code = params
        .code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| fail(SignInError::CallbackMalformed("no code").into()))?;
    exchange(state, &provider, discovered, row, code)
        .await
        .map_err(fail)
}

async fn exchange(
    state: &SignIn,
    provider: &Arc<Provider>,
    discovered: Arc<Discovered>,
    row: signin_request::Model,
    code: String,
) -> Result<Authenticated, Error> {
    let providers = &state.providers;
    let client = providers.client(provider, &discovered, redirect_uri(state)?);
    let mut request = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|_| unavailable(provider, "no token endpoint"))?
        .set_pkce_verifier(PkceCodeVerifier::new(row.pkce_verifier.clone()));
    if let Some(assertion) = providers.client_assertion(provider, &discovered)? {
        request = request
            .add_extra_param(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .add_extra_param("client_assertion", assertion);
    }
    let response = request
        .request_async(providers.http())
        .await
        .map_err(|e| token_error(provider, &e))?;
    let id_token = response
        .id_token()
        .ok_or(SignInError::IdToken(TokenFault::Missing))?;
    let nonce = Nonce::new(row.nonce.clone());
    let claims = providers
        .verify_id_token(provider, discovered.clone(), id_token, &nonce)
        .await?;
    let subject = claims.subject().as_str().to_owned();
    if subject.is_empty() || subject.len() > 255 || subject.chars().any(char::is_control) {
        return Err(SignInError::SubjectInvalid.into());
    }
    let acr = claims.auth_context_ref().map(|a| a.as_str().to_owned());
    let mut all = match serde_json::to_value(&claims) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    if provider.config.userinfo
        && let Ok(userinfo) = client.user_info(
            response.access_token().clone(),
            Some(SubjectIdentifier::new(subject.clone())),
        )
    {
        let info: UserInfoClaims<ExtraClaims, CoreGenderClaim> = userinfo
            .request_async(providers.http())
            .await
            .map_err(|e| match e {
                openidconnect::UserInfoError::ClaimsVerification(
                    openidconnect::ClaimsVerificationError::InvalidSubject(_),
                ) => SignInError::UserinfoSubject,
                other => {
                    tracing::warn!(provider = %provider.config.id, error = %other, "userinfo failed");
                    unavailable(provider, "userinfo failed")
                }
            })?;
        if let Ok(Value::Object(map)) = serde_json::to_value(&info) {
            all.extend(map);
        }
    }
    Ok(Authenticated {
        provider: provider.clone(),
        purpose: Purpose::parse(&row.purpose),
        next: row.next,
        session_hash: row.session_hash,
        issuer: discovered.metadata.issuer().as_str().to_owned(),
        discovered,
        subject,
        loa: provider.config.loa_for(acr.as_deref()),
        claims: all,
        id_token: id_token.to_string(),
    })
}

/// A refused code is the citizen's (or an attacker's) problem; a failing provider is a 502.
fn token_error<RE: std::error::Error + 'static>(
    provider: &Provider,
    e: &RequestTokenError<
        RE,
        openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    >,
) -> Error {
    use openidconnect::core::CoreErrorResponseType as T;
    match e {
        RequestTokenError::ServerResponse(r) if matches!(r.error(), T::InvalidGrant) => {
            tracing::info!(provider = %provider.config.id, "token endpoint refused the code");
            SignInError::CodeRejected.into()
        }
        RequestTokenError::ServerResponse(r) => {
            tracing::warn!(provider = %provider.config.id, error = %r.error(), "token endpoint error");
            unavailable(provider, "token endpoint error").into()
        }
        RequestTokenError::Request(_) => {
            tracing::warn!(provider = %provider.config.id, "token endpoint unreachable");
            unavailable(provider, "token endpoint unreachable").into()
        }
        // The response was read, but its ID token cannot be one (a required claim absent, a
        // claim of the wrong type): an invalid ID token, which trying again cannot fix.
        RequestTokenError::Parse(_, body) if only_the_id_token_is_unreadable(body) => {
            tracing::info!(provider = %provider.config.id, "token endpoint sent an unreadable ID token");
            SignInError::IdToken(TokenFault::Malformed).into()
        }
        RequestTokenError::Parse(e, _) => {
            // The path names fields, never values (the parser's message may quote one).
            tracing::warn!(provider = %provider.config.id, path = %e.path(), "token endpoint answered something unreadable");
            unavailable(provider, "token response unreadable").into()
        }
        RequestTokenError::Other(_) => {
            tracing::warn!(provider = %provider.config.id, "token endpoint answered something unreadable");
            unavailable(provider, "token response unreadable").into()
        }
    }
}

/// Whether a token response that could not be parsed is a well-formed token response once its
/// `id_token` is taken out: then the ID token is what is wrong.
fn only_the_id_token_is_unreadable(body: &[u8]) -> bool {
    let Ok(Value::Object(mut response)) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    if !matches!(response.remove("id_token"), Some(Value::String(_))) {
        return false;
    }
    serde_json::from_value::<openidconnect::core::CoreTokenResponse>(Value::Object(response))
        .is_ok()
}

/// Removes sign-in requests that expired more than an hour ago.
pub async fn purge_expired(db: &sea_orm::DatabaseConnection) -> Result<u64, sea_orm::DbErr> {
    let cutoff = now_ms() - 3_600_000;
    Ok(signin_request::Entity::delete_many()
        .filter(signin_request::Column::ExpiresAt.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_parameters_are_bounded_and_single() {
        let ok =
            parse_callback("code=abc&state=s&iss=http%3A%2F%2F127.0.0.1&session_state=x").unwrap();
        assert_eq!(ok.code.as_deref(), Some("abc"));
        assert_eq!(ok.iss.as_deref(), Some("http://127.0.0.1"));
        for bad in [
            "code=a&code=b&state=s".to_owned(),
            format!("code={}&state=s", "a".repeat(3000)),
            format!("state=s&x={}", "a".repeat(5000)),
            "code=%00&state=s".to_owned(),
            "code=%ff%fe&state=s".to_owned(),
        ] {
            assert!(
                matches!(parse_callback(&bad), Err(SignInError::CallbackMalformed(_))),
                "{}",
                &bad[..bad.len().min(40)]
            );
        }
    }

    #[test]
    fn tokens_are_base64url_of_sensible_length() {
        assert!(is_token(&"a".repeat(43)));
        assert!(!is_token("short"));
        assert!(!is_token(&format!("{}.", "a".repeat(20))));
    }
}
