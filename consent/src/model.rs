//! The small vocabulary of a consent: its mode, its state, and what it covers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Whether the recipient gets the values once, or also every later change (pushed by the relay).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The department may fetch the values while the consent lasts; changes are not pushed.
    Once,
    /// As `Once`, and each later change is pushed to the department.
    Ongoing,
}

impl Mode {
    /// The stable lowercase name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Once => "once",
            Self::Ongoing => "ongoing",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "once" => Ok(Self::Once),
            "ongoing" => Ok(Self::Ongoing),
            _ => Err(UnknownName),
        }
    }
}

/// The recorded state of a consent. `Revoked`, `Expired` and `Refused` are terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// A department asked; the citizen has not answered.
    Requested,
    /// Granted and not ended by an event (see `Consent::effective_state` for the time check).
    Active,
    /// Ended by the citizen.
    Revoked,
    /// Ended by reaching its expiry.
    Expired,
    /// The citizen declined the request.
    Refused,
}

impl State {
    /// Whether no event can leave this state.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Revoked | Self::Expired | Self::Refused)
    }

    /// The stable lowercase name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Active => "active",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::Refused => "refused",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "requested" => Ok(Self::Requested),
            "active" => Ok(Self::Active),
            "revoked" => Ok(Self::Revoked),
            "expired" => Ok(Self::Expired),
            "refused" => Ok(Self::Refused),
            _ => Err(UnknownName),
        }
    }
}

/// A string that names no mode or state (for reading stored rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownName;

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown name")
    }
}

impl std::error::Error for UnknownName {}

/// Whether a consent covers one attribute for one purpose at one instant, and if not, why.
///
/// Not `#[non_exhaustive]`: the release path maps each case to a public denial code, and a new
/// case must break that mapping at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// Active, unexpired, for this purpose, and the attribute is granted.
    Covered,
    /// Requested, not yet answered.
    Pending,
    /// The consent is for another purpose.
    OtherPurpose,
    /// Active for this purpose, but the attribute was not granted.
    AttributeNotCovered,
    /// Expired (recorded, or its expiry has passed).
    Expired,
    /// Revoked by the citizen.
    Revoked,
    /// The citizen declined the request.
    Refused,
}

impl Coverage {
    /// Whether a release may rely on this consent.
    pub fn is_covered(self) -> bool {
        self == Self::Covered
    }
}
