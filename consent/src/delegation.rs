//! Delegation: a citizen (the *delegator*) authorises another citizen (the *delegate*) to act
//! for them, for some purposes and attributes, with some powers, for a bounded time. Like a
//! consent, a delegation is an append-only list of events and its state is derived by replaying
//! them; like a consent's, its expiry ends it without anyone recording anything.
//!
//! Two ways in: a citizen *offers* a delegation (it waits for the delegate to accept an
//! invitation, and is live only once accepted), or a department that is the authority for it
//! (a court-ordered guardianship, a registered power of attorney) *registers* it, naming a legal
//! basis, and it is live at once. Either party, and the registering department, can end it.
//!
//! This module does no I/O and reads no clock: the time is passed in.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest label (how the delegate sees the person they act for).
pub const MAX_LABEL_CHARS: usize = 80;
/// Longest legal basis text.
pub const MAX_LEGAL_BASIS_CHARS: usize = 200;

/// What a delegate may do. `view` is implied by every delegation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Power {
    /// See the represented person's facts (within the delegation's attributes).
    View,
    /// Change them (the change is relayed like the person's own).
    ChangeFacts,
    /// Give consents in their name (within the delegation's purposes and attributes).
    GiveConsents,
}

impl Power {
    /// Every power, in order.
    pub const ALL: [Power; 3] = [Self::View, Self::ChangeFacts, Self::GiveConsents];

    /// The stable string form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::ChangeFacts => "change_facts",
            Self::GiveConsents => "give_consents",
        }
    }
}

impl fmt::Display for Power {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not a power.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a power (`view`, `change_facts`, `give_consents`)")]
pub struct UnknownPower(pub String);

impl FromStr for Power {
    type Err = UnknownPower;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPower(s.chars().take(32).collect()))
    }
}

/// Who made the delegation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// The delegator, on the broker's pages (or their delegate, onwards, when allowed).
    Citizen,
    /// A department that is the authority for it, under a legal basis.
    Department {
        department: String,
        legal_basis: String,
    },
}

impl Origin {
    /// `citizen` or `department`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Citizen => "citizen",
            Self::Department { .. } => "department",
        }
    }
}

/// What a delegation allows, for how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegationTerms {
    /// Always holds `view`.
    pub powers: BTreeSet<Power>,
    /// The purposes a delegate may give consents for.
    pub purposes: BTreeSet<String>,
    /// The attributes a delegate may see, change and consent to share.
    pub attributes: BTreeSet<String>,
    pub valid_from_ms: i64,
    /// Required: every delegation ends.
    pub valid_until_ms: i64,
    /// Whether the delegate may delegate onwards (within these terms). No by default.
    pub may_delegate: bool,
    /// How the delegate sees the person they act for ("Alice Martin", "My mother"), chosen by
    /// whoever made the delegation. Not an attribute value of the catalogue.
    pub label: String,
}

impl DelegationTerms {
    /// Terms with `view` added to `powers`.
    pub fn with_view(mut self) -> Self {
        self.powers.insert(Power::View);
        self
    }

    /// The rules every delegation's terms obey, whoever makes it.
    pub fn check(&self, max_ms: i64, now_ms: i64) -> Result<(), DelegationRuleError> {
        let label = self.label.trim();
        if label.is_empty() || label.chars().count() > MAX_LABEL_CHARS {
            return Err(DelegationRuleError::Label);
        }
        if self.attributes.is_empty() {
            return Err(DelegationRuleError::NoAttributes);
        }
        if !self.powers.contains(&Power::View) {
            return Err(DelegationRuleError::ViewMissing);
        }
        if self.valid_until_ms <= self.valid_from_ms || self.valid_until_ms <= now_ms {
            return Err(DelegationRuleError::InvalidPeriod);
        }
        if self.valid_until_ms - self.valid_from_ms.max(now_ms) > max_ms {
            return Err(DelegationRuleError::BeyondMaximum {
                max_days: max_ms / crate::DAY_MS,
            });
        }
        Ok(())
    }

    /// Whether these terms give nothing beyond `outer` (an onward delegation's bound).
    pub fn within(&self, outer: &DelegationTerms) -> bool {
        self.powers.is_subset(&outer.powers)
            && self.purposes.is_subset(&outer.purposes)
            && self.attributes.is_subset(&outer.attributes)
            && self.valid_from_ms >= outer.valid_from_ms
            && self.valid_until_ms <= outer.valid_until_ms
            && (!self.may_delegate || outer.may_delegate)
    }
}

/// Who ended a delegation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    Delegator,
    Delegate,
    /// The department that registered it.
    Department,
}

impl EndedBy {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Delegator => "delegator",
            Self::Delegate => "delegate",
            Self::Department => "department",
        }
    }
}

/// One change to a delegation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum DelegationChange {
    /// A citizen offered it; it waits for the delegate to accept the invitation.
    Offered {
        terms: DelegationTerms,
        invitation_expires_at_ms: i64,
        /// The delegation this one was made under, when a delegate delegates onwards.
        parent: Option<Uuid>,
    },
    /// The delegate accepted the invitation: the delegation is live.
    Accepted { delegate: Uuid },
    /// A department registered it (live at once).
    Registered {
        delegate: Uuid,
        terms: DelegationTerms,
        department: String,
        legal_basis: String,
    },
    /// A party ended it.
    Ended { by: EndedBy },
}

impl DelegationChange {
    /// The stored kind of the event.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Offered { .. } => "offered",
            Self::Accepted { .. } => "accepted",
            Self::Registered { .. } => "registered",
            Self::Ended { .. } => "ended",
        }
    }
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegationEvent {
    /// From 1, without gaps.
    pub seq: u32,
    pub time_ms: i64,
    /// Who recorded it: a citizen's internal id or a department's id.
    pub actor: String,
    pub change: DelegationChange,
}

/// Where a delegation stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DelegationState {
    /// Offered, the invitation not yet accepted and still good.
    Invited,
    /// Offered, and the invitation lapsed unaccepted.
    InvitationLapsed,
    /// Accepted or registered, before its start.
    Scheduled,
    /// The delegate may act.
    Live,
    /// Past its end.
    Expired,
    /// A party ended it.
    Ended,
}

impl DelegationState {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::InvitationLapsed => "invitation_lapsed",
            Self::Scheduled => "scheduled",
            Self::Live => "live",
            Self::Expired => "expired",
            Self::Ended => "ended",
        }
    }
}

/// The rules of a delegation, broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DelegationRuleError {
    #[error("the label must be 1 to 80 characters")]
    Label,
    #[error("a delegation covers at least one attribute")]
    NoAttributes,
    #[error("every delegation allows `view`")]
    ViewMissing,
    #[error("a delegation ends after it starts, and in the future")]
    InvalidPeriod,
    #[error("the duration is beyond the maximum of {max_days} days")]
    BeyondMaximum { max_days: i64 },
    #[error("a delegation history starts with its offer or its registration")]
    NoOpening,
    #[error("a `{kind}` event cannot follow in state `{state}`")]
    Transition {
        kind: &'static str,
        state: &'static str,
    },
    #[error("event {seq} is out of sequence")]
    Sequence { seq: u32 },
}

/// What a delegation allows, checked for one act: refused with what it lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Beyond {
    #[error("the delegation does not give the power `{0}`")]
    Power(Power),
    #[error("the delegation does not cover attribute `{0}`")]
    Attribute(String),
    #[error("the delegation does not cover purpose `{0}`")]
    Purpose(String),
}

/// A delegation, as its events make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    id: Uuid,
    delegator: Uuid,
    delegate: Option<Uuid>,
    terms: DelegationTerms,
    origin: Origin,
    parent: Option<Uuid>,
    invitation_expires_at_ms: Option<i64>,
    accepted: bool,
    ended: Option<(i64, EndedBy)>,
    created_at_ms: i64,
    last_seq: u32,
    last_time_ms: i64,
}

impl Delegation {
    /// Rebuilds a delegation from its stored events, in order.
    pub fn replay(
        id: Uuid,
        delegator: Uuid,
        events: impl IntoIterator<Item = DelegationEvent>,
    ) -> Result<Self, DelegationRuleError> {
        let mut events = events.into_iter();
        let first = events.next().ok_or(DelegationRuleError::NoOpening)?;
        if first.seq != 1 {
            return Err(DelegationRuleError::Sequence { seq: first.seq });
        }
        let mut d = match first.change {
            DelegationChange::Offered {
                terms,
                invitation_expires_at_ms,
                parent,
            } => Self {
                id,
                delegator,
                delegate: None,
                terms,
                origin: Origin::Citizen,
                parent,
                invitation_expires_at_ms: Some(invitation_expires_at_ms),
                accepted: false,
                ended: None,
                created_at_ms: first.time_ms,
                last_seq: 1,
                last_time_ms: first.time_ms,
            },
            DelegationChange::Registered {
                delegate,
                terms,
                department,
                legal_basis,
            } => Self {
                id,
                delegator,
                delegate: Some(delegate),
                terms,
                origin: Origin::Department {
                    department,
                    legal_basis,
                },
                parent: None,
                invitation_expires_at_ms: None,
                accepted: true,
                ended: None,
                created_at_ms: first.time_ms,
                last_seq: 1,
                last_time_ms: first.time_ms,
            },
            _ => return Err(DelegationRuleError::NoOpening),
        };
        for e in events {
            d.apply(e)?;
        }
        Ok(d)
    }

    /// Applies the next event, if the delegation's history allows it.
    pub fn apply(&mut self, event: DelegationEvent) -> Result<(), DelegationRuleError> {
        if event.seq != self.last_seq + 1 {
            return Err(DelegationRuleError::Sequence { seq: event.seq });
        }
        let refused = |d: &Self| DelegationRuleError::Transition {
            kind: event.change.kind(),
            state: d.recorded_state_name(),
        };
        match &event.change {
            DelegationChange::Accepted { delegate }
                if !self.accepted
                    && self.ended.is_none()
                    && self
                        .invitation_expires_at_ms
                        .is_some_and(|t| event.time_ms < t) =>
            {
                self.delegate = Some(*delegate);
                self.accepted = true;
            }
            DelegationChange::Ended { by } if self.ended.is_none() => {
                self.ended = Some((event.time_ms, *by));
            }
            _ => return Err(refused(self)),
        }
        self.last_seq = event.seq;
        self.last_time_ms = self.last_time_ms.max(event.time_ms);
        Ok(())
    }

    fn recorded_state_name(&self) -> &'static str {
        if self.ended.is_some() {
            "ended"
        } else if self.accepted {
            "accepted"
        } else {
            "invited"
        }
    }

    /// Where it stands at `now_ms`. Expiry needs no event: past its end, it is expired.
    pub fn state(&self, now_ms: i64) -> DelegationState {
        if self.ended.is_some() {
            return DelegationState::Ended;
        }
        if now_ms >= self.terms.valid_until_ms {
            return DelegationState::Expired;
        }
        if !self.accepted {
            return match self.invitation_expires_at_ms {
                Some(t) if now_ms < t => DelegationState::Invited,
                _ => DelegationState::InvitationLapsed,
            };
        }
        if now_ms < self.terms.valid_from_ms {
            return DelegationState::Scheduled;
        }
        DelegationState::Live
    }

    /// Whether `delegate` may act under it at `now_ms`.
    pub fn is_live_for(&self, delegate: Uuid, now_ms: i64) -> bool {
        self.delegate == Some(delegate) && self.state(now_ms) == DelegationState::Live
    }

    /// Whether it allows `power` over `attribute` (if any) for `purpose` (if any).
    pub fn allows(
        &self,
        power: Power,
        attribute: Option<&str>,
        purpose: Option<&str>,
    ) -> Result<(), Beyond> {
        if !self.terms.powers.contains(&power) {
            return Err(Beyond::Power(power));
        }
        if let Some(a) = attribute
            && !self.terms.attributes.contains(a)
        {
            return Err(Beyond::Attribute(a.to_owned()));
        }
        if let Some(p) = purpose
            && !self.terms.purposes.contains(p)
        {
            return Err(Beyond::Purpose(p.to_owned()));
        }
        Ok(())
    }

    pub fn id(&self) -> Uuid {
        self.id
    }
    pub fn delegator(&self) -> Uuid {
        self.delegator
    }
    pub fn delegate(&self) -> Option<Uuid> {
        self.delegate
    }
    pub fn terms(&self) -> &DelegationTerms {
        &self.terms
    }
    pub fn origin(&self) -> &Origin {
        &self.origin
    }
    pub fn parent(&self) -> Option<Uuid> {
        self.parent
    }
    pub fn invitation_expires_at_ms(&self) -> Option<i64> {
        self.invitation_expires_at_ms
    }
    pub fn ended(&self) -> Option<(i64, EndedBy)> {
        self.ended
    }
    pub fn created_at_ms(&self) -> i64 {
        self.created_at_ms
    }
    /// The sequence number the next event takes.
    pub fn next_seq(&self) -> u32 {
        self.last_seq + 1
    }
    pub fn last_event_time_ms(&self) -> i64 {
        self.last_time_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DAY_MS;

    fn terms(from: i64, until: i64) -> DelegationTerms {
        DelegationTerms {
            powers: [Power::View, Power::ChangeFacts].into(),
            purposes: ["benefit-eligibility".to_owned()].into(),
            attributes: ["address".to_owned()].into(),
            valid_from_ms: from,
            valid_until_ms: until,
            may_delegate: false,
            label: "Alice".to_owned(),
        }
    }

    fn offered(until: i64) -> Delegation {
        Delegation::replay(
            Uuid::nil(),
            Uuid::nil(),
            [DelegationEvent {
                seq: 1,
                time_ms: 0,
                actor: "alice".into(),
                change: DelegationChange::Offered {
                    terms: terms(0, until),
                    invitation_expires_at_ms: 100,
                    parent: None,
                },
            }],
        )
        .unwrap()
    }

    fn accept(d: &mut Delegation, at: i64) -> Result<(), DelegationRuleError> {
        d.apply(DelegationEvent {
            seq: d.next_seq(),
            time_ms: at,
            actor: "bob".into(),
            change: DelegationChange::Accepted {
                delegate: Uuid::max(),
            },
        })
    }

    #[test]
    fn an_offer_is_live_only_once_accepted_and_only_for_its_delegate() {
        let mut d = offered(1000);
        assert_eq!(d.state(10), DelegationState::Invited);
        assert!(!d.is_live_for(Uuid::max(), 10));
        accept(&mut d, 10).unwrap();
        assert!(d.is_live_for(Uuid::max(), 11));
        assert!(!d.is_live_for(Uuid::nil(), 11));
        assert_eq!(d.state(1000), DelegationState::Expired);
        assert!(!d.is_live_for(Uuid::max(), 1000));
    }

    #[test]
    fn an_invitation_is_single_use_and_lapses() {
        let mut d = offered(1000);
        assert!(accept(&mut d, 100).is_err(), "lapsed at 100");
        assert_eq!(d.state(100), DelegationState::InvitationLapsed);
        accept(&mut d, 50).unwrap();
        assert!(accept(&mut d, 60).is_err(), "used once already");
    }

    #[test]
    fn ending_is_final() {
        let mut d = offered(1000);
        accept(&mut d, 10).unwrap();
        d.apply(DelegationEvent {
            seq: 3,
            time_ms: 20,
            actor: "alice".into(),
            change: DelegationChange::Ended {
                by: EndedBy::Delegator,
            },
        })
        .unwrap();
        assert_eq!(d.state(21), DelegationState::Ended);
        assert!(!d.is_live_for(Uuid::max(), 21));
        let again = DelegationEvent {
            seq: 4,
            time_ms: 30,
            actor: "bob".into(),
            change: DelegationChange::Ended {
                by: EndedBy::Delegate,
            },
        };
        assert!(d.apply(again).is_err());
    }

    #[test]
    fn powers_purposes_and_attributes_bound_each_act() {
        let mut d = offered(1000);
        accept(&mut d, 10).unwrap();
        assert!(d.allows(Power::ChangeFacts, Some("address"), None).is_ok());
        assert_eq!(
            d.allows(Power::GiveConsents, Some("address"), None),
            Err(Beyond::Power(Power::GiveConsents))
        );
        assert_eq!(
            d.allows(Power::View, Some("birthdate"), None),
            Err(Beyond::Attribute("birthdate".into()))
        );
        assert_eq!(
            d.allows(Power::View, None, Some("pension-enrolment")),
            Err(Beyond::Purpose("pension-enrolment".into()))
        );
    }

    #[test]
    fn terms_need_an_end_within_the_maximum_and_view() {
        let now = 1_000;
        assert!(terms(now, now + DAY_MS).check(30 * DAY_MS, now).is_ok());
        assert_eq!(
            terms(now, now + 31 * DAY_MS).check(30 * DAY_MS, now),
            Err(DelegationRuleError::BeyondMaximum { max_days: 30 })
        );
        assert_eq!(
            terms(now, now).check(30 * DAY_MS, now),
            Err(DelegationRuleError::InvalidPeriod)
        );
        let mut no_view = terms(now, now + DAY_MS);
        no_view.powers.remove(&Power::View);
        assert_eq!(
            no_view.check(30 * DAY_MS, now),
            Err(DelegationRuleError::ViewMissing)
        );
        assert!(no_view.with_view().check(30 * DAY_MS, now).is_ok());
    }

    #[test]
    fn onward_terms_stay_within_their_parent() {
        let outer = terms(0, 1000);
        assert!(terms(10, 900).within(&outer));
        assert!(!terms(0, 2000).within(&outer));
        let mut more = terms(0, 900);
        more.powers.insert(Power::GiveConsents);
        assert!(!more.within(&outer));
        let mut onward = terms(0, 900);
        onward.may_delegate = true;
        assert!(!onward.within(&outer));
    }

    #[test]
    fn power_strings_are_stable() {
        for p in Power::ALL {
            assert_eq!(p.as_str().parse::<Power>(), Ok(p));
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.as_str())
            );
        }
        assert!("admin".parse::<Power>().is_err());
    }
}
