//! Why a sign-in, a link or an unlink did not happen. Each variant has a stable public code and a
//! status chosen in `http::problem`; messages never carry a token, a claim value or a secret.

/// Which check an ID token failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFault {
    /// Not a JWS the broker can read.
    Malformed,
    /// `alg` is `none`, an HMAC, or otherwise not allowed.
    Algorithm,
    /// No key of the provider matches its `kid` (even after fetching the JWKS again).
    UnknownKey,
    Signature,
    Issuer,
    Audience,
    /// Several audiences without `azp`, or an `azp` that is not the broker.
    AuthorizedParty,
    Expired,
    IssuedInFuture,
    Nonce,
    /// Missing from the token response.
    Missing,
}

impl TokenFault {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenFault::Malformed => "malformed",
            TokenFault::Algorithm => "algorithm",
            TokenFault::UnknownKey => "unknown key",
            TokenFault::Signature => "signature",
            TokenFault::Issuer => "issuer",
            TokenFault::Audience => "audience",
            TokenFault::AuthorizedParty => "authorized party",
            TokenFault::Expired => "expired",
            TokenFault::IssuedInFuture => "issued in the future",
            TokenFault::Nonce => "nonce",
            TokenFault::Missing => "missing",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("no credential provider `{0}`")]
    UnknownProvider(String),
    #[error("the credential provider `{provider}` could not be reached or failed ({why})")]
    ProviderUnavailable { provider: String, why: &'static str },
    #[error("the sign-in response has no `state`")]
    StateMissing,
    #[error("the sign-in response's `state` does not belong to a sign-in started in this browser")]
    StateInvalid,
    #[error("the sign-in took too long and expired")]
    StateExpired,
    #[error("this sign-in response was already used")]
    StateUsed,
    #[error("the sign-in response is malformed: {0}")]
    CallbackMalformed(&'static str),
    #[error("the sign-in response names another issuer than the provider it was sent to")]
    IssuerMismatch,
    #[error("the provider ended the sign-in: `{0}`")]
    ProviderRefused(String),
    #[error(
        "the provider refused the authorization code (used, expired or not issued for this sign-in)"
    )]
    CodeRejected,
    #[error("the provider's ID token failed the `{}` check", .0.as_str())]
    IdToken(TokenFault),
    #[error("the provider's userinfo is about another subject than its ID token")]
    UserinfoSubject,
    #[error("the provider's subject identifier is unusable")]
    SubjectInvalid,
    #[error("this identity is not a privacy officer")]
    NotAnOfficer,
    #[error("this sign-in is already linked to another account")]
    LinkedElsewhere,
    #[error("a sign-in from this provider is already linked to this account")]
    ProviderAlreadyLinked,
    #[error("the session that asked to link a sign-in has ended")]
    LinkSessionEnded,
    #[error("no linked sign-in `{0}`")]
    LinkNotFound(String),
    #[error("the last linked sign-in cannot be removed")]
    LastLink,
    #[error("the sign-in in use for this session cannot be removed; sign in with another first")]
    LinkInUse,
    #[error("this account can no longer be used")]
    CitizenUnavailable,
}

impl SignInError {
    /// Whether the citizen can reasonably try again at once (502 pages offer the same provider).
    pub fn retry_same_provider(&self) -> bool {
        matches!(self, SignInError::ProviderUnavailable { .. })
    }
}
