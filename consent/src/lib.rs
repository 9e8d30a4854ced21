//! The consent model of the Tell Us Once broker: purpose-bound consent as an append-only list of
//! events, the state machine that derives a consent from them, the duration rules a request or
//! grant must pass, and the claims of a consent receipt.
//!
//! This crate owns *what a consent is and what it allows*. It must never do I/O of any kind
//! (network, database, files, clock): the broker stores the events, passes in the time, and
//! signs the receipts. It knows no HTTP and no SQL.
//!
//! Start at [`Consent`]: [`Consent::replay`] rebuilds a consent from stored events,
//! [`Consent::apply`] appends one, [`Consent::covers`] answers the release path.
//! [`DurationRules`] checks a request or grant before the broker records it, and
//! [`ReceiptClaims::build`] assembles a receipt (its documentation maps every field to the Kantara
//! Consent Receipt v1.1 / ISO/IEC TS 27560).
//!
//! ```
//! use std::collections::BTreeSet;
//! use consent::{Actor, Change, Consent, ConsentEvent, Coverage, Mode, DAY_MS};
//! use uuid::Uuid;
//!
//! let address: BTreeSet<String> = ["address".to_owned()].into();
//! let request = ConsentEvent::new(1, Actor::department("revenue-agency"), 0, Change::Requested {
//!     attributes: address.clone(),
//!     requested_duration_ms: 90 * DAY_MS,
//!     return_url: None,
//! });
//! let mut consent = Consent::replay(
//!     Uuid::nil(), Uuid::nil(), "revenue-agency", "benefit-eligibility", Mode::Ongoing, [request],
//! )?;
//! consent.apply(ConsentEvent::new(2, Actor::citizen("alice"), 10, Change::Granted {
//!     attributes: address,
//!     expires_at_ms: 10 + 30 * DAY_MS,
//! }))?;
//! assert_eq!(consent.covers("address", "benefit-eligibility", 20), Coverage::Covered);
//! assert_eq!(consent.covers("address", "benefit-eligibility", 11 + 30 * DAY_MS), Coverage::Expired);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod delegation;
mod duration;
mod error;
mod event;
mod ledger;
mod model;
mod receipt;

pub use delegation::{
    Beyond, Delegation, DelegationChange, DelegationEvent, DelegationRuleError, DelegationState,
    DelegationTerms, EndedBy, Origin, Power,
};
pub use duration::{DAY_MS, DurationRules};
pub use error::{ConsentError, TransitionError, TransitionFault};
pub use event::{Actor, ActorKind, Change, ConsentEvent, EventKind};
pub use ledger::{Consent, GrantTerms, RequestTerms};
pub use model::{Coverage, Mode, State, UnknownName};
pub use receipt::{
    CONSENT_TYPE, JURISDICTION, PiiController, PostalAddress, RECEIPT_VERSION, ReceiptClaims,
    ReceiptFacts, ReceiptPurpose, ReceiptService, Recipient, Withdrawal, rfc3339_utc,
};
/// Re-exported so callers name the same `Uuid` type as consent ids.
pub use uuid::Uuid;
