//! The append-only events a consent is derived from, and who records them.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Who recorded an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// What kind of party acted.
    pub kind: ActorKind,
    /// Its identifier: the citizen's internal id, the department's id, a worker name or an
    /// operator's account. Stored with the event; never shown to another department.
    pub id: String,
}

impl Actor {
    /// The citizen the consent is about.
    pub fn citizen(id: impl Into<String>) -> Self {
        Self::new(ActorKind::Citizen, id)
    }

    /// A department (the recipient asking for consent).
    pub fn department(id: impl Into<String>) -> Self {
        Self::new(ActorKind::Department, id)
    }

    /// The broker itself (for example the expiry sweep).
    pub fn system(id: impl Into<String>) -> Self {
        Self::new(ActorKind::System, id)
    }

    /// A human operator of the broker.
    pub fn operator(id: impl Into<String>) -> Self {
        Self::new(ActorKind::Operator, id)
    }

    fn new(kind: ActorKind, id: impl Into<String>) -> Self {
        Self {
            kind,
            id: id.into(),
        }
    }
}

/// The kinds of party that can record a consent event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// The citizen the consent is about.
    Citizen,
    /// The recipient department.
    Department,
    /// The broker (a background worker).
    System,
    /// A human operator.
    Operator,
}

/// One recorded change to a consent. Events are appended, never edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentEvent {
    /// Position in the consent's history: 1 for the first event, then +1 each.
    pub seq: u64,
    /// Who recorded it.
    pub actor: Actor,
    /// When, in Unix milliseconds.
    pub time_ms: i64,
    /// An optional machine-readable reason code (`moved_away`, `citizen_request`, …), never
    /// free text typed by a user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What changed.
    pub change: Change,
}

impl ConsentEvent {
    /// An event without a reason code.
    pub fn new(seq: u64, actor: Actor, time_ms: i64, change: Change) -> Self {
        Self {
            seq,
            actor,
            time_ms,
            reason: None,
            change,
        }
    }

    /// The same event with a reason code.
    #[must_use]
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// What an event changes. Serialised with a `type` tag (`requested`, `granted`, …), which is what
/// the broker stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// A department asks for these attributes, for at most this long.
    Requested {
        /// Catalogue names of the attributes asked for.
        attributes: BTreeSet<String>,
        /// The longest the department wants the consent to last, from the grant.
        requested_duration_ms: i64,
        /// Where to send the citizen back after answering, if the department gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        return_url: Option<String>,
    },
    /// The citizen grants these attributes until this time: all or part of a request, or on
    /// their own initiative.
    Granted {
        /// Catalogue names of the attributes granted.
        attributes: BTreeSet<String>,
        /// The end of the consent, in Unix milliseconds.
        expires_at_ms: i64,
    },
    /// The citizen declines the request.
    Refused,
    /// The citizen (or an operator, on their behalf) ends an active consent.
    Revoked,
    /// The consent reached its expiry.
    Expired,
}

impl Change {
    /// The kind of this change, without its data.
    pub fn kind(&self) -> EventKind {
        match self {
            Self::Requested { .. } => EventKind::Requested,
            Self::Granted { .. } => EventKind::Granted,
            Self::Refused => EventKind::Refused,
            Self::Revoked => EventKind::Revoked,
            Self::Expired => EventKind::Expired,
        }
    }
}

/// The kind of an event, for messages, metrics and audit records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// See [`Change::Requested`].
    Requested,
    /// See [`Change::Granted`].
    Granted,
    /// See [`Change::Refused`].
    Refused,
    /// See [`Change::Revoked`].
    Revoked,
    /// See [`Change::Expired`].
    Expired,
}

impl EventKind {
    /// The stable lowercase name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Granted => "granted",
            Self::Refused => "refused",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
