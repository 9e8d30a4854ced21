//! What the authorization endpoint does next with a redeemed request: send the citizen to sign
//! in (none yet, `prompt=login`, `max_age` passed, or a step-up), show the consent screen, answer
//! with an error (`prompt=none` when interaction is needed, an essential `acr` that cannot be
//! met), or issue the code.
//!
//! The caller calls [`next_step`] again after each sign-in or consent, saying what already
//! happened during this request ([`Progress`]), so `prompt=login` and `prompt=consent` are
//! honoured once and never loop.

use crate::acr::{AcrMapping, Decision, Level};
use crate::errors::ErrorCode;
use crate::par::AuthorizationRequest;

/// The citizen's broker session, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// The level of the credential provider the citizen signed in with.
    pub level: Level,
    /// When they signed in (Unix seconds): `auth_time`.
    pub authenticated_at: i64,
}

/// What already happened while handling this authorization request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// The citizen signed in (or signed in again) during this request.
    pub signed_in: bool,
    /// The citizen approved on the consent screen during this request.
    pub consented: bool,
}

/// Why the citizen is sent to sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInReason {
    NoSession,
    /// `prompt=login`.
    PromptLogin,
    /// The session is older than `max_age`.
    MaxAge,
    /// The session's level is below what was asked: offer providers giving at least
    /// `minimum`, `preferred` first.
    StepUp {
        minimum: Level,
        preferred: Level,
    },
}

/// The next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    SignIn(SignInReason),
    /// Show the consent screen (no live consent covers the request, or `prompt=consent`).
    Consent,
    /// Issue the code; the ID token carries this `acr` (never above the session's level).
    Issue {
        acr: String,
    },
    /// Redirect back with this error (the redirect URI is trusted: the request was pushed).
    Fail(ErrorCode),
}

/// Decides the next step for `request` given the session, whether a live consent already
/// covers it, and what happened so far.
pub fn next_step(
    request: &AuthorizationRequest,
    acr: &AcrMapping,
    session: Option<&Session>,
    consent_covers: bool,
    progress: Progress,
    now: i64,
) -> Next {
    let silent = request.prompt.none;
    let sign_in = |reason| {
        if silent {
            Next::Fail(ErrorCode::LoginRequired)
        } else {
            Next::SignIn(reason)
        }
    };
    let Some(session) = session else {
        return sign_in(SignInReason::NoSession);
    };
    if request.prompt.login && !progress.signed_in {
        return sign_in(SignInReason::PromptLogin);
    }
    // OIDC Core §3.1.2.1: past max_age the citizen must authenticate again.
    if let Some(max_age) = request.max_age
        && !progress.signed_in
        && i128::from(now) - i128::from(session.authenticated_at) > i128::from(max_age)
    {
        return sign_in(SignInReason::MaxAge);
    }
    let claim = request.claims.as_ref().and_then(|c| c.acr.as_ref());
    let requirement = match acr.requirement(&request.acr_values, claim) {
        Ok(requirement) => requirement,
        Err(e) => return Next::Fail(e.code()),
    };
    let reported = match acr.decide(&requirement, session.level) {
        Decision::Satisfied { acr } => acr,
        // One step-up per request: after it, go on at the level reached or fail.
        Decision::StepUp {
            minimum, preferred, ..
        } if !silent && !progress.signed_in => {
            return Next::SignIn(SignInReason::StepUp { minimum, preferred });
        }
        Decision::StepUp {
            fallback: Some(acr),
            ..
        } => acr,
        Decision::StepUp { fallback: None, .. } => {
            return Next::Fail(if silent {
                ErrorCode::LoginRequired
            } else {
                ErrorCode::UnmetAuthenticationRequirements
            });
        }
    };
    let consent_needed = (!consent_covers || request.prompt.consent) && !progress.consented;
    if consent_needed {
        return if silent {
            Next::Fail(ErrorCode::ConsentRequired)
        } else {
            Next::Consent
        };
    }
    Next::Issue { acr: reported }
}

#[cfg(test)]
mod tests;
