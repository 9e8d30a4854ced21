//! The OpenID Connect `claims` request parameter (Core §5.5) with OpenID Connect for Identity
//! Assurance's `verified_claims` requests (§6), normalised into what the consent screen and the
//! policy engine need — which attributes, where (ID token or userinfo), essential or not, under
//! which trust framework — and the answer side: `verified_claims` built from the values the
//! broker may release, with their provenance, filtered to exactly what was asked.
//!
//! Unknown members are ignored as Core §5.5 says; malformed ones are `invalid_request`. Claim
//! names are kept as asked: matching them against the attribute catalogue is the caller's.

mod request;
mod response;

pub use request::{
    AcrClaim, AskedAttribute, ClaimRequest, ClaimsRequest, Constraint, EvidenceRequest, Target,
    TimeRequest, VerificationRequest, VerifiedClaimsRequest, claims_for_scope,
};
pub use response::{HeldClaim, Provenance, Released, SourceKind, TRUST_FRAMEWORK, verified_claims};

use crate::errors::ErrorCode;

/// The largest `claims` parameter accepted, in bytes.
pub const MAX_CLAIMS_PARAMETER_LEN: usize = 16_384;
/// The most individual claims one request may name (across all locations).
pub const MAX_CLAIMS: usize = 100;
/// The longest claim name accepted.
pub const MAX_CLAIM_NAME_LEN: usize = 128;

/// Why a `claims` parameter was refused (always `invalid_request`). Names the place in the
/// request, never a value or a purpose text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimsError {
    #[error("the claims parameter is longer than {MAX_CLAIMS_PARAMETER_LEN} bytes")]
    TooLarge,
    #[error("the claims parameter is not a json object (or repeats a member)")]
    NotJson,
    #[error("`{0}` in the claims parameter must be a json object")]
    NotAnObject(&'static str),
    #[error("a claim request in `{0}` must be null or a json object")]
    ClaimRequest(&'static str),
    #[error("`essential` must be true or false")]
    Essential,
    #[error("`values` must be an array of at most 32 values")]
    Values,
    #[error("`purpose` must be 3 to 300 characters")]
    Purpose,
    #[error("`max_age` must be a non-negative integer")]
    MaxAge,
    #[error("a claim name is empty, too long or has control characters")]
    ClaimName,
    #[error("the claims parameter names more than {MAX_CLAIMS} claims")]
    TooManyClaims,
    #[error("`verified_claims` must be an object or a non-empty array of objects")]
    VerifiedClaimsShape,
    #[error("a `verified_claims` request needs a `verification` object")]
    Verification,
    #[error("a `verified_claims` request needs a non-empty `claims` object")]
    EmptyClaims,
    #[error("an `evidence` request must be an array of objects each with `type` and its `value`")]
    Evidence,
}

impl ClaimsError {
    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidRequest
    }
}

#[cfg(test)]
mod tests;
