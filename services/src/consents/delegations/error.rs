//! What can go wrong when a delegation is offered, accepted, registered, ended or acted under.
//! Public codes are chosen in `services::error`.
//!
//! INVARIANT: messages name attributes, purposes and powers (catalogue words, in backticks),
//! never an attribute value, an invitation code or a token.

use consent::{Beyond, DelegationRuleError};

#[derive(Debug, thiserror::Error)]
pub enum DelegationError {
    #[error("attribute `{0}` is not in the catalogue")]
    UnknownAttribute(String),
    #[error("purpose `{0}` is not in the catalogue")]
    UnknownPurpose(String),
    #[error(transparent)]
    UnknownPower(#[from] consent::delegation::UnknownPower),
    #[error("no citizen is known to you by subject identifier `{0}`")]
    UnknownSubject(&'static str),
    #[error("a legal basis is required (1 to 200 characters)")]
    LegalBasisRequired,
    #[error("a citizen cannot delegate to themselves")]
    ToSelf,
    #[error("the duration must be a whole number of days, at least 1")]
    InvalidDuration,
    #[error(transparent)]
    Rule(#[from] DelegationRuleError),
    #[error("this invitation is unknown, already used or lapsed")]
    InvitationInvalid,
    #[error("no live delegation lets you act for this person")]
    NotLive,
    #[error(transparent)]
    Beyond(#[from] Beyond),
    #[error("this delegation does not let its delegate delegate onwards, or not this much")]
    OnwardNotPermitted,
    #[error("this delegation has already ended")]
    NotActive,
    #[error("the delegation changed at the same time; reload and try again")]
    Conflict,
    #[error("this page is not available while acting for another person; stop acting first")]
    ActingForAnother,
    #[error("the stored delegation `{0}` does not replay")]
    Corrupt(String),
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
}
