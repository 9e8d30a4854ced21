//! The crate's one error enum, and the detail of a refused event.

use std::fmt;

use thiserror::Error;

use crate::{EventKind, State};

/// Everything that can go wrong in this crate.
///
/// Messages are lowercase, name attributes in backticks and never carry a value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConsentError {
    /// An event cannot be applied to the consent it was recorded for.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// `Consent::replay` was given no event at all.
    #[error("a consent history needs at least one event")]
    EmptyHistory,
    /// A grant must carry an expiry.
    #[error("an expiry is required")]
    ExpiryRequired,
    /// The expiry (or requested duration) exceeds the configured maximum.
    #[error("the duration is beyond the maximum of {max_days} days")]
    BeyondMaximum {
        /// The maximum, in whole days.
        max_days: i64,
    },
    /// The expiry is not after the time of the grant.
    #[error("the expiry is in the past")]
    ExpiryInPast,
    /// A requested duration of zero or less.
    #[error("the requested duration must be positive")]
    DurationNotPositive,
    /// A request or a grant names no attribute.
    #[error("the attribute set is empty")]
    EmptyAttributeSet,
    /// The citizen granted an attribute the department did not ask for.
    #[error("attribute `{attribute}` was not requested")]
    AttributeNotRequested {
        /// The attribute's catalogue name.
        attribute: String,
    },
    /// The citizen granted for longer than the department asked.
    #[error("the grant is longer than the requested duration")]
    GrantLongerThanRequested,
    /// Duration rules whose default is not positive or exceeds the maximum.
    #[error("duration rules need 0 < default <= maximum")]
    InvalidDurationRules,
    /// A receipt was asked for a consent that was never granted.
    #[error("consent `{consent_id}` has no grant to give a receipt for")]
    NotGranted {
        /// The consent's id.
        consent_id: uuid::Uuid,
    },
}

/// An event that cannot be applied: which event, from which state, and why.
///
/// The fields are private so the message stays the single description; read them through the
/// accessors to choose an HTTP status or a user message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("event {seq} (`{event}`) cannot apply to a consent that is {}: {fault}", FromState(*.from))]
pub struct TransitionError {
    seq: u64,
    from: Option<State>,
    event: EventKind,
    fault: TransitionFault,
}

impl TransitionError {
    pub(crate) fn new(
        seq: u64,
        from: Option<State>,
        event: EventKind,
        fault: TransitionFault,
    ) -> Self {
        Self {
            seq,
            from,
            event,
            fault,
        }
    }

    /// The sequence number of the refused event.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The consent's state before the event; `None` when the event would have opened it.
    pub fn from(&self) -> Option<State> {
        self.from
    }

    /// The kind of the refused event.
    pub fn event(&self) -> EventKind {
        self.event
    }

    /// Why the event was refused.
    pub fn fault(&self) -> &TransitionFault {
        &self.fault
    }
}

/// Why an event was refused. Not `#[non_exhaustive]`: a new reason should break callers' matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionFault {
    /// The state machine has no such edge (for example anything after a terminal state).
    NotAllowed,
    /// Sequence numbers start at 1 and grow by exactly 1: a gap means a lost or deleted event.
    OutOfSequence {
        /// The sequence number that was expected.
        expected: u64,
    },
    /// The event is dated before the event that precedes it.
    TimeBeforePrevious,
    /// A request or grant with no attribute.
    EmptyAttributeSet,
    /// A request whose duration is zero or negative.
    DurationNotPositive,
    /// A grant whose expiry is not after the grant itself.
    ExpiryNotAfterGrant,
    /// A grant naming an attribute that the request did not.
    AttributeNotRequested {
        /// The attribute's catalogue name.
        attribute: String,
    },
    /// A grant lasting longer than the requested duration.
    GrantLongerThanRequested,
    /// A revocation dated at or after the expiry: the consent had already lapsed, record
    /// `expired` instead.
    AlreadyExpired,
    /// An expiry recorded before the consent's expiry time: use `revoked` to end it early.
    NotYetExpired,
}

impl fmt::Display for TransitionFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAllowed => f.write_str("the state machine has no such transition"),
            Self::OutOfSequence { expected } => write!(f, "expected sequence number {expected}"),
            Self::TimeBeforePrevious => f.write_str("it is dated before the previous event"),
            Self::EmptyAttributeSet => f.write_str("the attribute set is empty"),
            Self::DurationNotPositive => f.write_str("the requested duration must be positive"),
            Self::ExpiryNotAfterGrant => f.write_str("the expiry is not after the grant"),
            Self::AttributeNotRequested { attribute } => {
                write!(f, "attribute `{attribute}` was not requested")
            }
            Self::GrantLongerThanRequested => {
                f.write_str("the grant is longer than the requested duration")
            }
            Self::AlreadyExpired => f.write_str("the consent had already expired"),
            Self::NotYetExpired => f.write_str("the consent has not reached its expiry"),
        }
    }
}

/// Displays the state an event was refused from, naming the "no event yet" case.
struct FromState(Option<State>);

impl fmt::Display for FromState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(state) => write!(f, "{state}"),
            None => f.write_str("not yet opened"),
        }
    }
}
