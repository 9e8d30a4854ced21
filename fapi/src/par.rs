//! Pushed Authorization Requests (RFC 9126) as FAPI 2.0 requires them: the only way a
//! department starts a sign-in. The request is read and checked in full when it is pushed
//! ([`validate`]); what passes becomes an [`AuthorizationRequest`] stored under a fresh
//! `request_uri` ([`request_uri`]); the authorization endpoint then accepts nothing but that
//! reference, once, by the same client, before it expires.
//!
//! Client authentication (`private_key_jwt`) and the DPoP header are checked before this by the
//! caller; their results come in as [`PushContext`]. Storage, and so single use, is the
//! caller's: this module says what to store, under which key, until when.

mod form;
pub mod request_uri;

use serde::{Deserialize, Serialize};

pub use form::{MAX_PARAMETER_LEN, MAX_PARAMETERS};

use crate::claims::{ClaimsError, ClaimsRequest};
use crate::encoding::{constant_time_eq, is_b64url};
use crate::errors::ErrorCode;
use crate::pkce::{CodeChallenge, PkceError};
use form::Form;

/// Why a pushed (or authorization) request was refused. Names parameters, never their values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParError {
    #[error("the request body is not valid form encoding in utf-8")]
    MalformedBody,
    #[error("the request has more than {MAX_PARAMETERS} parameters")]
    TooManyParameters,
    #[error("a parameter is longer than {MAX_PARAMETER_LEN} bytes")]
    ParameterTooLong,
    #[error("the parameter `{0}` appears more than once")]
    Repeated(&'static str),
    #[error("the parameter `{0}` is required")]
    Missing(&'static str),
    #[error("the parameter `{0}` is malformed")]
    Malformed(&'static str),
    #[error("the parameter `{0}` is too long")]
    TooLong(&'static str),
    #[error("`request_uri` may not be pushed (rfc 9126 §2.1)")]
    RequestUriPushed,
    #[error("request objects (`request`) are not supported")]
    RequestObject,
    #[error("`client_id` is not the authenticated client")]
    ClientMismatch,
    #[error("`response_type` must be `code`")]
    ResponseType,
    #[error("`response_mode` must be `query` or absent")]
    ResponseMode,
    #[error("`redirect_uri` is not one registered for the client")]
    RedirectUri,
    #[error("`scope` must include `openid`")]
    NoOpenidScope,
    #[error("`scope` holds a value that is not supported")]
    UnknownScope,
    #[error("`prompt` holds a value other than none, login and consent")]
    UnknownPrompt,
    #[error("`prompt=none` cannot be combined with other values")]
    PromptNoneWithOthers,
    #[error("`max_age` must be a non-negative integer")]
    MaxAge,
    #[error("claims were asked without a `purpose`")]
    PurposeRequired,
    #[error("`dpop_jkt` does not match the key of the dpop proof")]
    DpopJktMismatch,
    #[error(transparent)]
    Pkce(#[from] PkceError),
    #[error(transparent)]
    Claims(#[from] ClaimsError),
    // --- at the authorization endpoint ---
    #[error("the authorization request was not pushed (no `request_uri`)")]
    NotPushed,
    #[error("the `request_uri` is unknown or was already used")]
    RequestUriUnknown,
    #[error("the `request_uri` has expired")]
    RequestUriExpired,
    #[error("the `request_uri` was issued to another client")]
    RequestUriOtherClient,
    #[error("the lifetime of a `request_uri` must be 1 to 599 seconds")]
    Lifetime,
    #[error("the random source failed")]
    Random,
}

impl ParError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::ResponseType => ErrorCode::UnsupportedResponseType,
            Self::NoOpenidScope | Self::UnknownScope => ErrorCode::InvalidScope,
            Self::RequestObject => ErrorCode::RequestNotSupported,
            Self::DpopJktMismatch => ErrorCode::InvalidDpopProof,
            Self::RequestUriUnknown | Self::RequestUriExpired | Self::RequestUriOtherClient => {
                ErrorCode::InvalidRequestUri
            }
            Self::Lifetime | Self::Random => ErrorCode::ServerError,
            Self::Pkce(e) => e.code(),
            Self::Claims(e) => e.code(),
            _ => ErrorCode::InvalidRequest,
        }
    }
}

/// `prompt` (OpenID Connect Core §3.1.2.1): the values this provider supports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// Whether the consent asked is for this sign-in only, or ongoing (future changes pushed, a
/// refresh token issued): ongoing is asked with the standard `offline_access` scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMode {
    Once,
    Ongoing,
}

/// A pushed authorization request that passed every check: what is stored under its
/// `request_uri` and drives the rest of the flow.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// Distinct scope values, in the order sent (`openid` among them).
    pub scopes: Vec<String>,
    pub consent_mode: ConsentMode,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: CodeChallenge,
    pub prompt: Prompt,
    pub max_age: Option<u64>,
    /// `acr_values`, in order of preference.
    pub acr_values: Vec<String>,
    pub claims: Option<ClaimsRequest>,
    /// The purpose code (checked against the catalogue by the caller).
    pub purpose: Option<String>,
    pub login_hint: Option<String>,
    /// Passed through: verifying it needs the broker's own keys.
    pub id_token_hint: Option<String>,
    pub ui_locales: Vec<String>,
    /// The DPoP key the code is bound to (RFC 9449 §10): `dpop_jkt`, or the key of the DPoP
    /// proof sent with the push.
    pub dpop_jkt: Option<String>,
}

impl std::fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // INVARIANT: what the client sent that may identify a person or carry a token
        // (`state`, `nonce`, hints, claim values) is never printed, only whether it is there.
        f.debug_struct("AuthorizationRequest")
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .field("consent_mode", &self.consent_mode)
            .field("prompt", &self.prompt)
            .field("max_age", &self.max_age)
            .field("acr_values", &self.acr_values)
            .field("claims", &self.claims)
            .field("purpose", &self.purpose)
            .field("state", &self.state.is_some())
            .field("nonce", &self.nonce.is_some())
            .field("login_hint", &self.login_hint.is_some())
            .field("id_token_hint", &self.id_token_hint.is_some())
            .field("dpop_jkt", &self.dpop_jkt)
            .finish_non_exhaustive()
    }
}

/// What the caller established before reading the body.
#[derive(Debug, Clone, Copy)]
pub struct PushContext<'a> {
    /// The client the `private_key_jwt` assertion authenticated.
    pub client_id: &'a str,
    /// The client's registered redirect URIs (compared exactly).
    pub redirect_uris: &'a [String],
    /// The thumbprint of the DPoP proof sent with the push, if one was (checked already).
    pub dpop_jkt: Option<&'a str>,
}

/// Limits and supported values.
#[derive(Debug, Clone)]
pub struct ParPolicy<'a> {
    pub scopes_supported: &'a [&'a str],
    /// FAPI 2.0 §5.3.2.2: at least 64 must be accepted; longer may be refused.
    pub max_nonce_len: usize,
    /// FAPI 2.0 notes states over 1,000 characters when clients keep state in a JWT.
    pub max_state_len: usize,
    pub max_hint_len: usize,
    pub max_id_token_hint_len: usize,
}

/// The scope values the provider knows: `openid`, `offline_access` (an ongoing consent) and the
/// standard claim scopes of Core §5.4.
pub const SCOPES_SUPPORTED: [&str; 6] = [
    "openid",
    "offline_access",
    "profile",
    "email",
    "address",
    "phone",
];

impl Default for ParPolicy<'static> {
    fn default() -> Self {
        Self {
            scopes_supported: &SCOPES_SUPPORTED,
            max_nonce_len: 255,
            max_state_len: 2_048,
            max_hint_len: 256,
            max_id_token_hint_len: 8_192,
        }
    }
}

/// Parameters only used to authenticate the client at the PAR endpoint (RFC 9126 §2.1): not
/// part of the authorization request.
const CLIENT_AUTHENTICATION: [&str; 3] =
    ["client_assertion", "client_assertion_type", "client_secret"];

/// Reads and checks a pushed authorization request body.
pub fn validate(
    body: &[u8],
    context: &PushContext<'_>,
    policy: &ParPolicy<'_>,
) -> Result<AuthorizationRequest, ParError> {
    let form = Form::parse(body)?;
    for name in CLIENT_AUTHENTICATION {
        // Read only to refuse repeats; the caller authenticated with them.
        form.get(name)?;
    }
    if form.get("request_uri")?.is_some() {
        return Err(ParError::RequestUriPushed);
    }
    if form.get("request")?.is_some() {
        return Err(ParError::RequestObject);
    }
    let client_id = form.require("client_id")?;
    if client_id != context.client_id {
        return Err(ParError::ClientMismatch);
    }
    match form.require("response_type")? {
        "code" => {}
        _ => return Err(ParError::ResponseType),
    }
    match form.get("response_mode")? {
        None | Some("query") => {}
        Some(_) => return Err(ParError::ResponseMode),
    }
    let redirect_uri = form.require("redirect_uri")?;
    // Exact string comparison (RFC 9700 §2.1); registration is where the URI itself is judged.
    if !context.redirect_uris.iter().any(|r| r == redirect_uri)
        || !acceptable_redirect(redirect_uri)
    {
        return Err(ParError::RedirectUri);
    }
    let scopes = read_scopes(form.require("scope")?, policy)?;
    let code_challenge = CodeChallenge::from_request(
        form.get("code_challenge")?,
        form.get("code_challenge_method")?,
    )?;
    let state = bounded(&form, "state", policy.max_state_len, is_vschar)?;
    let nonce = bounded(&form, "nonce", policy.max_nonce_len, is_vschar)?;
    let prompt = read_prompt(form.get("prompt")?)?;
    let max_age = match form.get("max_age")? {
        None => None,
        Some(text) if text.bytes().all(|b| b.is_ascii_digit()) && text.len() <= 10 => {
            Some(text.parse::<u64>().map_err(|_| ParError::MaxAge)?)
        }
        Some(_) => return Err(ParError::MaxAge),
    };
    let acr_values = space_separated(&form, "acr_values", 16)?;
    let ui_locales = space_separated(&form, "ui_locales", 8)?;
    let claims = form.get("claims")?.map(ClaimsRequest::parse).transpose()?;
    let purpose = bounded(&form, "purpose", 64, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
    })?;
    // Every release is for a purpose: asking for attributes, by `claims` or by a scope that
    // stands for claims (Core §5.4), needs one.
    let asks_attributes = claims.is_some()
        || scopes
            .iter()
            .any(|s| !crate::claims::claims_for_scope(s).is_empty());
    if asks_attributes && purpose.is_none() {
        return Err(ParError::PurposeRequired);
    }
    let login_hint = bounded(&form, "login_hint", policy.max_hint_len, is_vschar)?;
    let id_token_hint = bounded(&form, "id_token_hint", policy.max_id_token_hint_len, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
    })?;
    let dpop_jkt = match (form.get("dpop_jkt")?, context.dpop_jkt) {
        (Some(asked), _) if asked.len() != 43 || !is_b64url(asked) => {
            return Err(ParError::Malformed("dpop_jkt"));
        }
        // RFC 9449 §10.1: both given, they must name the same key.
        (Some(asked), Some(proof)) if !constant_time_eq(asked.as_bytes(), proof.as_bytes()) => {
            return Err(ParError::DpopJktMismatch);
        }
        (Some(jkt), _) | (None, Some(jkt)) => Some(jkt.to_owned()),
        (None, None) => None,
    };
    let consent_mode = if scopes.iter().any(|s| s == "offline_access") {
        ConsentMode::Ongoing
    } else {
        ConsentMode::Once
    };
    Ok(AuthorizationRequest {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        consent_mode,
        state,
        nonce,
        code_challenge,
        prompt,
        max_age,
        acr_values,
        claims,
        purpose,
        login_hint,
        id_token_hint,
        ui_locales,
        dpop_jkt,
    })
}

/// FAPI 2.0 §5.3.2.2: no `http` redirect except to a loopback address (RFC 8252 §7.3); and no
/// fragment (RFC 6749 §3.1.2).
fn acceptable_redirect(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    if url.fragment().is_some() {
        return false;
    }
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => {
            matches!(
                url.host(),
                Some(url::Host::Ipv4(ip)) if ip.is_loopback()
            ) || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
        }
        _ => false,
    }
}

/// RFC 6749 Appendix A: `VSCHAR = %x20-7E`.
fn is_vschar(c: char) -> bool {
    (' '..='~').contains(&c)
}

fn bounded(
    form: &Form,
    name: &'static str,
    max_len: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<Option<String>, ParError> {
    match form.get(name)? {
        None => Ok(None),
        Some(v) if v.len() > max_len => Err(ParError::TooLong(name)),
        Some(v) if !v.chars().all(allowed) => Err(ParError::Malformed(name)),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

/// Space-separated tokens of `NQCHAR` (RFC 6749 Appendix A), distinct, order kept.
fn space_separated(form: &Form, name: &'static str, max: usize) -> Result<Vec<String>, ParError> {
    let Some(text) = form.get(name)? else {
        return Ok(Vec::new());
    };
    let mut tokens: Vec<String> = Vec::new();
    for token in text.split(' ').filter(|t| !t.is_empty()) {
        let nqchar = token
            .chars()
            .all(|c| c == '!' || ('#'..='[').contains(&c) || (']'..='~').contains(&c));
        if !nqchar || token.len() > 256 {
            return Err(ParError::Malformed(name));
        }
        if !tokens.iter().any(|t| t == token) {
            tokens.push(token.to_owned());
        }
    }
    if tokens.len() > max {
        return Err(ParError::TooLong(name));
    }
    Ok(tokens)
}

fn read_scopes(text: &str, policy: &ParPolicy<'_>) -> Result<Vec<String>, ParError> {
    let mut scopes: Vec<String> = Vec::new();
    for token in text.split(' ').filter(|t| !t.is_empty()) {
        if !policy.scopes_supported.contains(&token) {
            return Err(ParError::UnknownScope);
        }
        if !scopes.iter().any(|s| s == token) {
            scopes.push(token.to_owned());
        }
    }
    if !scopes.iter().any(|s| s == "openid") {
        return Err(ParError::NoOpenidScope);
    }
    Ok(scopes)
}

fn read_prompt(text: Option<&str>) -> Result<Prompt, ParError> {
    let mut prompt = Prompt::default();
    for value in text.unwrap_or("").split(' ').filter(|t| !t.is_empty()) {
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            _ => return Err(ParError::UnknownPrompt),
        }
    }
    // Core §3.1.2.1: "none" with any other value is an error (a repeated "none" is not).
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(ParError::PromptNoneWithOthers);
    }
    Ok(prompt)
}

#[cfg(test)]
mod tests;
