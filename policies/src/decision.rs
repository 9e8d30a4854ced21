//! What the release path asks and what it is told: requests, per-attribute outcomes, the
//! withheld codes, and the decision that carries either a [`ReleaseGrant`] or a [`Denial`].

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::ReleaseGrant;

/// One release question: may `department` have `attributes` for `purpose`, now?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseRequest<'a> {
    /// The recipient department's id (from its authenticated client, never from the request body).
    pub department: &'a str,
    /// The purpose code the department gave.
    pub purpose: &'a str,
    /// The attribute names asked for. Duplicates are decided once.
    pub attributes: &'a [String],
    /// The level of assurance (1–4) of the citizen's identity: the LoA of the sign-in behind the
    /// consent or, for a statutory release, of the record. Values outside 1–4 are clamped.
    pub loa: u8,
    /// Whether a date of death is recorded for the citizen.
    pub citizen_deceased: bool,
    /// Whether the act behind the decision is a representative's (a delegate acting for the
    /// citizen gives the consent): Cedar's `context.actor_is_delegate`.
    pub actor_is_delegate: bool,
    /// The decision time, Unix milliseconds.
    pub now_ms: i64,
}

/// How the attributes would leave the broker: the Cedar action decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Pulled by the department through the attribute API (Cedar action `release`).
    Pull,
    /// Pushed by the relay after a change (Cedar action `receive`); needs an `ongoing` consent
    /// where consent is required.
    Push,
}

impl Channel {
    /// The Cedar action id.
    pub fn cedar_action(self) -> &'static str {
        match self {
            Self::Pull => "release",
            Self::Push => "receive",
        }
    }
}

/// Why an attribute was withheld. A stable public code, serialised in snake case.
///
/// Not `#[non_exhaustive]`: a new reason must break every caller's `match` (the HTTP mapping,
/// the pages) so that none forgets to explain it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WithheldCode {
    /// A policy allows it with consent, and there is no consent (none, pending or refused).
    NoConsent,
    /// The consent has expired (recorded or by its time).
    ConsentExpired,
    /// The citizen revoked the consent.
    ConsentRevoked,
    /// A consent exists but not for this attribute, purpose, department or channel.
    ConsentNotCovering,
    /// No policy permits it, or a forbid without a more specific code.
    PolicyDenied,
    /// The purpose is not in the catalogue.
    PurposeUnknown,
    /// The attribute is not in the catalogue.
    AttributeUnknown,
    /// A policy would allow it at a higher level of assurance.
    InsufficientAssurance,
    /// The citizen is deceased and only death notification may proceed.
    SubjectDeceased,
}

impl WithheldCode {
    /// The stable code, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoConsent => "no_consent",
            Self::ConsentExpired => "consent_expired",
            Self::ConsentRevoked => "consent_revoked",
            Self::ConsentNotCovering => "consent_not_covering",
            Self::PolicyDenied => "policy_denied",
            Self::PurposeUnknown => "purpose_unknown",
            Self::AttributeUnknown => "attribute_unknown",
            Self::InsufficientAssurance => "insufficient_assurance",
            Self::SubjectDeceased => "subject_deceased",
        }
    }

    /// Every code, for documentation and exhaustive tests.
    pub const ALL: [Self; 9] = [
        Self::NoConsent,
        Self::ConsentExpired,
        Self::ConsentRevoked,
        Self::ConsentNotCovering,
        Self::PolicyDenied,
        Self::PurposeUnknown,
        Self::AttributeUnknown,
        Self::InsufficientAssurance,
        Self::SubjectDeceased,
    ];
}

impl fmt::Display for WithheldCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WithheldCode {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|code| code.as_str() == s)
            .ok_or(())
    }
}

/// The decision about one attribute, with its reasons, for the audit log and the response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttributeOutcome {
    /// The attribute name as asked.
    pub attribute: String,
    /// Granted or withheld.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Granted or withheld, with the policy ids that decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Verdict {
    /// Released. The policies that permitted it (and whose own conditions were met).
    Granted {
        /// Determining policy ids.
        policy_ids: Vec<String>,
        /// Their legal bases.
        legal_bases: Vec<String>,
    },
    /// Withheld.
    Withheld {
        /// Why.
        code: WithheldCode,
        /// The policies behind the code: the forbid that fired, or the permits that would have
        /// allowed it with consent or higher assurance. Empty for deny by default and for
        /// unknown purposes or attributes.
        policy_ids: Vec<String>,
    },
}

impl AttributeOutcome {
    /// The withheld code, if withheld.
    pub fn withheld_code(&self) -> Option<WithheldCode> {
        match &self.verdict {
            Verdict::Granted { .. } => None,
            Verdict::Withheld { code, .. } => Some(*code),
        }
    }

    /// The policy ids behind this outcome.
    pub fn policy_ids(&self) -> &[String] {
        match &self.verdict {
            Verdict::Granted { policy_ids, .. } | Verdict::Withheld { policy_ids, .. } => {
                policy_ids
            }
        }
    }
}

/// Nothing may be released: every attribute was withheld. Carries the codes and reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denial {
    pub(crate) department: String,
    pub(crate) purpose: String,
    pub(crate) channel: Channel,
    pub(crate) outcomes: Vec<AttributeOutcome>,
}

impl Denial {
    /// The department that asked.
    pub fn department(&self) -> &str {
        &self.department
    }

    /// The purpose it gave.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// Pull or push.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// One outcome per distinct attribute asked, in the order asked; all withheld.
    pub fn outcomes(&self) -> &[AttributeOutcome] {
        &self.outcomes
    }

    /// The distinct codes, in the order first met: the machine-readable reason of a 403.
    pub fn codes(&self) -> Vec<WithheldCode> {
        let mut codes = Vec::new();
        for code in self
            .outcomes
            .iter()
            .filter_map(AttributeOutcome::withheld_code)
        {
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
        codes
    }
}

/// The answer to a [`ReleaseRequest`]: a grant for at least one attribute, or a denial.
///
/// `#[must_use]`: dropping a decision unread is a bug on the release path.
#[must_use]
#[derive(Debug, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum ReleaseDecision {
    /// At least one attribute may be released; the grant lists any withheld ones too.
    Release(ReleaseGrant),
    /// Nothing may be released.
    Deny(Denial),
}

impl ReleaseDecision {
    /// One outcome per distinct attribute asked, in the order asked.
    pub fn outcomes(&self) -> &[AttributeOutcome] {
        match self {
            Self::Release(grant) => grant.outcomes(),
            Self::Deny(denial) => denial.outcomes(),
        }
    }

    /// Every policy id behind the decision, deduplicated, for the audit record.
    pub fn reasons(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for id in self
            .outcomes()
            .iter()
            .flat_map(AttributeOutcome::policy_ids)
        {
            if !ids.contains(&id.as_str()) {
                ids.push(id);
            }
        }
        ids
    }

    /// Whether anything may be released.
    pub fn is_release(&self) -> bool {
        matches!(self, Self::Release(_))
    }

    /// The grant, or the denial.
    ///
    /// # Errors
    /// The [`Denial`] when nothing may be released.
    pub fn into_grant(self) -> Result<ReleaseGrant, Denial> {
        match self {
            Self::Release(grant) => Ok(grant),
            Self::Deny(denial) => Err(denial),
        }
    }
}
