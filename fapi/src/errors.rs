//! The standard OAuth 2.0 / OpenID Connect error codes the provider answers with, each with a
//! short fixed description.
//!
//! Every module's error maps to one of these with `code()`; the web layer puts `as_str()` in the
//! `error` member (or redirect parameter) and may use `description()` as `error_description`.
//! The descriptions are fixed text: they never carry what the client sent.

use std::fmt;

/// An `error` value from RFC 6749 §4.1.2.1 / §5.2, RFC 6750 §3.1, OpenID Connect Core §3.1.2.6,
/// RFC 9449 (DPoP) and the IANA "OAuth Extensions Error" registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// RFC 6749: a parameter is missing, repeated, malformed or has a value not allowed.
    InvalidRequest,
    /// RFC 6749 §5.2: client authentication failed.
    InvalidClient,
    /// RFC 6749 §5.2: the code, refresh token or PKCE verifier is invalid, expired or revoked.
    InvalidGrant,
    /// RFC 6749: this client may not use this grant or request.
    UnauthorizedClient,
    /// RFC 6749 §5.2: the grant type is not supported.
    UnsupportedGrantType,
    /// RFC 6749 §4.1.2.1: the response type is not supported (only `code` is).
    UnsupportedResponseType,
    /// RFC 6749: the scope is invalid, unknown or malformed.
    InvalidScope,
    /// RFC 6749 §4.1.2.1: the citizen or the broker refused.
    AccessDenied,
    /// RFC 6749 §4.1.2.1: an unexpected condition.
    ServerError,
    /// RFC 6749 §4.1.2.1: temporarily unable to handle the request.
    TemporarilyUnavailable,
    /// OpenID Connect Core §3.1.2.6: interaction needed but `prompt=none` was asked.
    InteractionRequired,
    /// OpenID Connect Core §3.1.2.6: sign-in needed but `prompt=none` was asked.
    LoginRequired,
    /// OpenID Connect Core §3.1.2.6: consent needed but `prompt=none` was asked.
    ConsentRequired,
    /// OpenID Connect Core §3.1.2.6: the citizen must choose a session.
    AccountSelectionRequired,
    /// OpenID Connect Core §3.1.2.6: the `request_uri` is unknown, expired, used or not the
    /// client's.
    InvalidRequestUri,
    /// OpenID Connect Core §3.1.2.6: request objects (`request`, JAR) are not supported.
    RequestNotSupported,
    /// OpenID Connect Core §3.1.2.6: `request_uri` pointing at the client is not supported.
    RequestUriNotSupported,
    /// OpenID Connect Core §3.1.2.6: the `registration` parameter is not supported.
    RegistrationNotSupported,
    /// OpenID Connect Core Unmet Authentication Requirements 1.0: an essential `acr` cannot be
    /// met.
    UnmetAuthenticationRequirements,
    /// RFC 6750 §3.1: the access token is invalid, expired or revoked.
    InvalidToken,
    /// RFC 6750 §3.1: the access token lacks the scope needed.
    InsufficientScope,
    /// RFC 9449 §5: the DPoP proof is invalid.
    InvalidDpopProof,
    /// RFC 9449 §8, §9: a (fresh) server nonce is required in the DPoP proof.
    UseDpopNonce,
}

impl ErrorCode {
    /// Every code, for tests and documentation.
    pub const ALL: [ErrorCode; 23] = [
        Self::InvalidRequest,
        Self::InvalidClient,
        Self::InvalidGrant,
        Self::UnauthorizedClient,
        Self::UnsupportedGrantType,
        Self::UnsupportedResponseType,
        Self::InvalidScope,
        Self::AccessDenied,
        Self::ServerError,
        Self::TemporarilyUnavailable,
        Self::InteractionRequired,
        Self::LoginRequired,
        Self::ConsentRequired,
        Self::AccountSelectionRequired,
        Self::InvalidRequestUri,
        Self::RequestNotSupported,
        Self::RequestUriNotSupported,
        Self::RegistrationNotSupported,
        Self::UnmetAuthenticationRequirements,
        Self::InvalidToken,
        Self::InsufficientScope,
        Self::InvalidDpopProof,
        Self::UseDpopNonce,
    ];

    /// The wire value of `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InteractionRequired => "interaction_required",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::AccountSelectionRequired => "account_selection_required",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::RegistrationNotSupported => "registration_not_supported",
            Self::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }

    /// A short, fixed, human-readable description (for `error_description`; never localised,
    /// never meant for citizens).
    pub fn description(self) -> &'static str {
        match self {
            Self::InvalidRequest => "the request is missing, repeats or misuses a parameter",
            Self::InvalidClient => "client authentication failed",
            Self::InvalidGrant => "the grant is invalid, expired, used or revoked",
            Self::UnauthorizedClient => "the client is not allowed to make this request",
            Self::UnsupportedGrantType => "the grant type is not supported",
            Self::UnsupportedResponseType => "only the response type code is supported",
            Self::InvalidScope => "the scope is invalid or unknown",
            Self::AccessDenied => "the request was refused",
            Self::ServerError => "the server met an unexpected condition",
            Self::TemporarilyUnavailable => "the server is temporarily unavailable",
            Self::InteractionRequired => "the citizen must interact but prompt=none was asked",
            Self::LoginRequired => "the citizen must sign in but prompt=none was asked",
            Self::ConsentRequired => "the citizen must consent but prompt=none was asked",
            Self::AccountSelectionRequired => "the citizen must choose a session",
            Self::InvalidRequestUri => "the request_uri is unknown, expired, used or not yours",
            Self::RequestNotSupported => "request objects are not supported",
            Self::RequestUriNotSupported => "request_uri is only accepted from the par endpoint",
            Self::RegistrationNotSupported => "the registration parameter is not supported",
            Self::UnmetAuthenticationRequirements => {
                "the essential authentication requirements cannot be met"
            }
            Self::InvalidToken => "the access token is invalid, expired or revoked",
            Self::InsufficientScope => "the access token does not hold the scope needed",
            Self::InvalidDpopProof => "the dpop proof is invalid",
            Self::UseDpopNonce => "a dpop proof with the server's nonce is required",
        }
    }

    /// Whether the code belongs in a redirect back to the client (authorization endpoint
    /// errors, RFC 6749 §4.1.2.1 and OpenID Connect Core §3.1.2.6) rather than only in a direct
    /// response. A redirect is only ever sent after the redirect URI itself was checked.
    pub fn is_authorization_response_error(self) -> bool {
        matches!(
            self,
            Self::InvalidRequest
                | Self::UnauthorizedClient
                | Self::AccessDenied
                | Self::UnsupportedResponseType
                | Self::InvalidScope
                | Self::ServerError
                | Self::TemporarilyUnavailable
                | Self::InteractionRequired
                | Self::LoginRequired
                | Self::ConsentRequired
                | Self::AccountSelectionRequired
                | Self::InvalidRequestUri
                | Self::RequestNotSupported
                | Self::RequestUriNotSupported
                | Self::RegistrationNotSupported
                | Self::UnmetAuthenticationRequirements
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_distinct_snake_case_and_described() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(
                text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{text}"
            );
            let description = code.description();
            assert!(!description.is_empty() && !description.ends_with('.'));
            assert_eq!(description, description.to_lowercase(), "{text}");
            assert_eq!(code.to_string(), text);
        }
    }

    #[test]
    fn the_codes_named_by_the_specs_are_spelled_as_they_say() {
        for (code, text) in [
            (ErrorCode::InvalidRequest, "invalid_request"),
            (ErrorCode::InvalidClient, "invalid_client"),
            (ErrorCode::InvalidGrant, "invalid_grant"),
            (ErrorCode::UnauthorizedClient, "unauthorized_client"),
            (
                ErrorCode::UnsupportedResponseType,
                "unsupported_response_type",
            ),
            (ErrorCode::InvalidScope, "invalid_scope"),
            (ErrorCode::AccessDenied, "access_denied"),
            (ErrorCode::LoginRequired, "login_required"),
            (ErrorCode::ConsentRequired, "consent_required"),
            (ErrorCode::InteractionRequired, "interaction_required"),
            (ErrorCode::InvalidDpopProof, "invalid_dpop_proof"),
            (ErrorCode::UseDpopNonce, "use_dpop_nonce"),
            (ErrorCode::InvalidRequestUri, "invalid_request_uri"),
        ] {
            assert_eq!(code.as_str(), text);
        }
    }

    #[test]
    fn token_and_resource_errors_are_never_redirected() {
        for code in [
            ErrorCode::InvalidClient,
            ErrorCode::InvalidGrant,
            ErrorCode::InvalidToken,
            ErrorCode::InvalidDpopProof,
            ErrorCode::UseDpopNonce,
        ] {
            assert!(!code.is_authorization_response_error(), "{code}");
        }
        assert!(ErrorCode::LoginRequired.is_authorization_response_error());
    }
}
