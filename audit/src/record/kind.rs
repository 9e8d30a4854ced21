//! The closed vocabularies of a record: what happened, how it ended, and who did it.
//!
//! Each has a stable kebab-case string form (in entries, columns, filters and exports): once a
//! record carries a string, that string must parse for as long as the log exists, so a variant
//! may be added but never renamed or removed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ParseError;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Attribute values were released to a department (pull or push).
    Release,
    /// A department asked for attributes and was refused; `reasons` says why.
    ReleaseDenied,
    /// A department asked a citizen for consent.
    ConsentRequested,
    /// A citizen granted consent.
    ConsentGranted,
    /// A citizen refused a consent request.
    ConsentRefused,
    /// A citizen withdrew a consent.
    ConsentRevoked,
    /// A consent reached its expiry.
    ConsentExpired,
    /// A change was written to the outbox for one department.
    DeliveryQueued,
    /// A department acknowledged a delivery.
    DeliveryDelivered,
    /// One delivery attempt failed; it will be retried.
    DeliveryFailed,
    /// A delivery used up its retry budget.
    DeliveryDeadLettered,
    /// A citizen signed in through a credential provider.
    SignIn,
    /// A sign-in was refused (bad token, unknown provider, too low an assurance level).
    SignInFailed,
    /// A citizen signed out.
    SignOut,
    /// A credential provider identity was linked to a citizen.
    IdentityLinked,
    /// A credential provider identity was unlinked.
    IdentityUnlinked,
    /// An attribute value was set or changed (by the citizen or an authoritative department).
    AttributeUpdated,
    /// A citizen's attribute values were erased (their data key destroyed).
    AttributeErased,
    /// An authoritative department reported a life event (move, death, name change).
    LifeEvent,
    /// A privacy officer searched the log.
    OfficerSearch,
    /// A privacy officer opened one record or its proof.
    OfficerView,
    /// A privacy officer exported records.
    OfficerExport,
    /// An operator changed configuration, keys or registrations.
    AdminAction,
    /// A queued delivery was cancelled before it was sent: the consent behind it ended, the
    /// department was disabled, the citizen's data was erased or the policy no longer allows it.
    /// `reasons` says which.
    DeliveryCancelled,
    /// A department's call was refused before anything was read or done, by a check that
    /// identified the caller (a client assertion whose signature verified, an access token of
    /// ours): a replayed or expired assertion, a disabled department, a scope not held.
    /// `reasons` holds the code; `detail.endpoint` says where.
    AccessRefused,
    /// A citizen downloaded their takeout: every fact, consent and record about them, signed.
    /// Its own action (not `officer-export`): the citizen's activity page and the console's
    /// action filter must tell a citizen taking out their own data from an officer exporting.
    CitizenExport,
    /// A citizen offered a delegation (an invitation for the delegate to accept).
    DelegationOffered,
    /// A delegate accepted a delegation: it is live.
    DelegationAccepted,
    /// A department registered a delegation it is the authority for (guardianship, power of
    /// attorney), under a legal basis.
    DelegationRegistered,
    /// A party ended a delegation.
    DelegationEnded,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 30] = [
        Self::Release,
        Self::ReleaseDenied,
        Self::ConsentRequested,
        Self::ConsentGranted,
        Self::ConsentRefused,
        Self::ConsentRevoked,
        Self::ConsentExpired,
        Self::DeliveryQueued,
        Self::DeliveryDelivered,
        Self::DeliveryFailed,
        Self::DeliveryDeadLettered,
        Self::SignIn,
        Self::SignInFailed,
        Self::SignOut,
        Self::IdentityLinked,
        Self::IdentityUnlinked,
        Self::AttributeUpdated,
        Self::AttributeErased,
        Self::LifeEvent,
        Self::OfficerSearch,
        Self::OfficerView,
        Self::OfficerExport,
        Self::AdminAction,
        Self::DeliveryCancelled,
        Self::AccessRefused,
        Self::CitizenExport,
        Self::DelegationOffered,
        Self::DelegationAccepted,
        Self::DelegationRegistered,
        Self::DelegationEnded,
    ];

    /// The stable string form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Release => "release",
            Self::ReleaseDenied => "release-denied",
            Self::ConsentRequested => "consent-requested",
            Self::ConsentGranted => "consent-granted",
            Self::ConsentRefused => "consent-refused",
            Self::ConsentRevoked => "consent-revoked",
            Self::ConsentExpired => "consent-expired",
            Self::DeliveryQueued => "delivery-queued",
            Self::DeliveryDelivered => "delivery-delivered",
            Self::DeliveryFailed => "delivery-failed",
            Self::DeliveryDeadLettered => "delivery-dead-lettered",
            Self::SignIn => "sign-in",
            Self::SignInFailed => "sign-in-failed",
            Self::SignOut => "sign-out",
            Self::IdentityLinked => "identity-linked",
            Self::IdentityUnlinked => "identity-unlinked",
            Self::AttributeUpdated => "attribute-updated",
            Self::AttributeErased => "attribute-erased",
            Self::LifeEvent => "life-event",
            Self::OfficerSearch => "officer-search",
            Self::OfficerView => "officer-view",
            Self::OfficerExport => "officer-export",
            Self::AdminAction => "admin-action",
            Self::DeliveryCancelled => "delivery-cancelled",
            Self::AccessRefused => "access-refused",
            Self::CitizenExport => "citizen-export",
            Self::DelegationOffered => "delegation-offered",
            Self::DelegationAccepted => "delegation-accepted",
            Self::DelegationRegistered => "delegation-registered",
            Self::DelegationEnded => "delegation-ended",
        }
    }
}

/// How it ended: `permit`/`deny` for decisions, `ok`/`error` for everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// A decision allowed it.
    Permit,
    /// A decision refused it.
    Deny,
    /// It was done.
    Ok,
    /// It failed.
    Error,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 4] = [Self::Permit, Self::Deny, Self::Ok, Self::Error];

    /// The stable string form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Permit => "permit",
            Self::Deny => "deny",
            Self::Ok => "ok",
            Self::Error => "error",
        }
    }
}

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActorKind {
    /// A signed-in citizen (id: the internal citizen id).
    Citizen,
    /// A department's system (id: the department id; the client goes in `client_id`).
    Department,
    /// A privacy officer.
    Officer,
    /// An operator running the broker.
    Operator,
    /// The broker itself (relay worker, expiry sweep).
    System,
    /// An upstream credential provider (id: its issuer).
    Provider,
}

impl ActorKind {
    /// Every actor kind.
    pub const ALL: [ActorKind; 6] = [
        Self::Citizen,
        Self::Department,
        Self::Officer,
        Self::Operator,
        Self::System,
        Self::Provider,
    ];

    /// The stable string form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Citizen => "citizen",
            Self::Department => "department",
            Self::Officer => "officer",
            Self::Operator => "operator",
            Self::System => "system",
            Self::Provider => "provider",
        }
    }
}

impl FromStr for Action {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == text)
            .ok_or_else(|| ParseError::Action(ParseError::echo(text)))
    }
}

impl FromStr for Outcome {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == text)
            .ok_or_else(|| ParseError::Outcome(ParseError::echo(text)))
    }
}

impl FromStr for ActorKind {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == text)
            .ok_or_else(|| ParseError::ActorKind(ParseError::echo(text)))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for ActorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn check<T>(all: &[T], as_str: fn(T) -> &'static str)
    where
        T: Copy + Eq + fmt::Debug + FromStr + Serialize + for<'de> Deserialize<'de>,
    {
        let mut seen = HashSet::new();
        for &v in all {
            let s = as_str(v);
            assert!(seen.insert(s), "duplicate string form `{s}`");
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "`{s}`"
            );
            assert_eq!(s.parse::<T>().ok(), Some(v));
            // serde (entries) and as_str (columns) must never disagree.
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<T>(&format!("\"{s}\"")).unwrap(), v);
        }
    }

    #[test]
    fn string_forms_are_unique_stable_and_agree_with_serde() {
        check(&Action::ALL, Action::as_str);
        check(&Outcome::ALL, Outcome::as_str);
        check(&ActorKind::ALL, ActorKind::as_str);
    }

    #[test]
    fn string_forms_are_pinned() {
        // Renaming one of these would orphan every stored record that carries it.
        let actions: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(
            actions.join(","),
            "release,release-denied,consent-requested,consent-granted,consent-refused,\
             consent-revoked,consent-expired,delivery-queued,delivery-delivered,delivery-failed,\
             delivery-dead-lettered,sign-in,sign-in-failed,sign-out,identity-linked,\
             identity-unlinked,attribute-updated,attribute-erased,life-event,officer-search,\
             officer-view,officer-export,admin-action,delivery-cancelled,access-refused,\
             citizen-export,delegation-offered,delegation-accepted,delegation-registered,\
             delegation-ended"
        );
    }

    #[test]
    fn unknown_strings_are_refused_and_echo_is_bounded() {
        assert_eq!(
            "Release".parse::<Action>(),
            Err(ParseError::Action("Release".into()))
        );
        assert!(matches!(
            "allow".parse::<Outcome>(),
            Err(ParseError::Outcome(_))
        ));
        assert!(matches!(
            "robot".parse::<ActorKind>(),
            Err(ParseError::ActorKind(_))
        ));
        let long = "x".repeat(500);
        let msg = long.parse::<Action>().unwrap_err().to_string();
        assert!(msg.len() < 100, "{msg}");
    }
}
