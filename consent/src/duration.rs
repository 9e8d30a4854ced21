//! How long a consent may last, and the checks a request or grant must pass before the broker
//! records it.

use std::collections::BTreeSet;

use crate::ledger::grant_terms;
use crate::{ConsentError, RequestTerms, TransitionFault};

/// One day in milliseconds.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Default and maximum consent durations.
///
/// The maximum defaults to 12 months (365 days), after the Australian Consumer Data Right rule
/// that a consent may not last longer than 12 months; the default to 90 days.
///
/// These rules are checked when a request or grant is *recorded*, not when history is replayed:
/// a rule change must not make old, valid histories unreadable. Replay checks only what is
/// intrinsic to a consent (see `Consent::apply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationRules {
    default_ms: i64,
    max_ms: i64,
}

impl Default for DurationRules {
    fn default() -> Self {
        Self {
            default_ms: 90 * DAY_MS,
            max_ms: 365 * DAY_MS,
        }
    }
}

impl DurationRules {
    /// Rules with this default and maximum.
    ///
    /// # Errors
    /// [`ConsentError::InvalidDurationRules`] unless `0 < default_ms <= max_ms`.
    pub fn new(default_ms: i64, max_ms: i64) -> Result<Self, ConsentError> {
        if default_ms <= 0 || default_ms > max_ms {
            return Err(ConsentError::InvalidDurationRules);
        }
        Ok(Self { default_ms, max_ms })
    }

    /// The duration a consent gets when nobody says otherwise.
    pub fn default_ms(&self) -> i64 {
        self.default_ms
    }

    /// The longest a consent may last.
    pub fn max_ms(&self) -> i64 {
        self.max_ms
    }

    /// Checks a department's request and returns the duration to record: the one asked for, or
    /// the default when none was given.
    ///
    /// # Errors
    /// `EmptyAttributeSet`, `DurationNotPositive` or `BeyondMaximum`.
    pub fn validate_request(
        &self,
        attributes: &BTreeSet<String>,
        requested_duration_ms: Option<i64>,
    ) -> Result<i64, ConsentError> {
        if attributes.is_empty() {
            return Err(ConsentError::EmptyAttributeSet);
        }
        let duration = requested_duration_ms.unwrap_or(self.default_ms);
        if duration <= 0 {
            return Err(ConsentError::DurationNotPositive);
        }
        if duration > self.max_ms {
            return Err(self.beyond_maximum());
        }
        Ok(duration)
    }

    /// Checks a citizen's grant made at `now_ms`, answering `request` (or on the citizen's own
    /// initiative when `None`), and returns the expiry to record.
    ///
    /// # Errors
    /// `EmptyAttributeSet`, `ExpiryRequired`, `ExpiryInPast`, `BeyondMaximum`,
    /// `AttributeNotRequested` or `GrantLongerThanRequested`.
    pub fn validate_grant(
        &self,
        request: Option<&RequestTerms>,
        attributes: &BTreeSet<String>,
        expires_at_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<i64, ConsentError> {
        if attributes.is_empty() {
            return Err(ConsentError::EmptyAttributeSet);
        }
        let expires_at_ms = expires_at_ms.ok_or(ConsentError::ExpiryRequired)?;
        if expires_at_ms <= now_ms {
            return Err(ConsentError::ExpiryInPast);
        }
        if expires_at_ms.saturating_sub(now_ms) > self.max_ms {
            return Err(self.beyond_maximum());
        }
        // The same checks `Consent::apply` makes, so an accepted grant always applies.
        grant_terms(request, attributes, expires_at_ms, now_ms).map_err(|fault| match fault {
            TransitionFault::AttributeNotRequested { attribute } => {
                ConsentError::AttributeNotRequested { attribute }
            }
            TransitionFault::GrantLongerThanRequested => ConsentError::GrantLongerThanRequested,
            TransitionFault::EmptyAttributeSet => ConsentError::EmptyAttributeSet,
            _ => ConsentError::ExpiryInPast,
        })?;
        Ok(expires_at_ms)
    }

    /// The expiry to offer the citizen by default for a grant at `now_ms`: the requested
    /// duration when answering a request (capped at the maximum), otherwise the default.
    pub fn default_expiry_ms(&self, request: Option<&RequestTerms>, now_ms: i64) -> i64 {
        let duration = request.map_or(self.default_ms, |request| {
            request.requested_duration_ms.min(self.max_ms)
        });
        now_ms.saturating_add(duration)
    }

    fn beyond_maximum(&self) -> ConsentError {
        ConsentError::BeyondMaximum {
            max_days: self.max_ms / DAY_MS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    fn request(names: &[&str], duration_ms: i64) -> RequestTerms {
        RequestTerms {
            attributes: set(names),
            requested_duration_ms: duration_ms,
            return_url: None,
            requested_at_ms: 0,
        }
    }

    #[test]
    fn defaults_follow_the_twelve_month_rule() {
        let rules = DurationRules::default();
        assert_eq!(rules.max_ms(), 365 * DAY_MS);
        assert_eq!(rules.default_ms(), 90 * DAY_MS);
    }

    #[test]
    fn rules_reject_a_default_beyond_the_maximum() {
        assert_eq!(
            DurationRules::new(400 * DAY_MS, 365 * DAY_MS),
            Err(ConsentError::InvalidDurationRules)
        );
        assert_eq!(
            DurationRules::new(0, 365 * DAY_MS),
            Err(ConsentError::InvalidDurationRules)
        );
        assert!(DurationRules::new(DAY_MS, DAY_MS).is_ok());
    }

    #[test]
    fn request_duration_defaults_and_is_bounded() {
        let rules = DurationRules::default();
        let attrs = set(&["address"]);
        assert_eq!(rules.validate_request(&attrs, None), Ok(90 * DAY_MS));
        assert_eq!(
            rules.validate_request(&attrs, Some(30 * DAY_MS)),
            Ok(30 * DAY_MS)
        );
        assert_eq!(
            rules.validate_request(&attrs, Some(366 * DAY_MS)),
            Err(ConsentError::BeyondMaximum { max_days: 365 })
        );
        assert_eq!(
            rules.validate_request(&attrs, Some(0)),
            Err(ConsentError::DurationNotPositive)
        );
        assert_eq!(
            rules.validate_request(&set(&[]), None),
            Err(ConsentError::EmptyAttributeSet)
        );
    }

    #[test]
    fn grant_errors_are_typed() {
        let rules = DurationRules::default();
        let now = 1_000 * DAY_MS;
        let asked = request(&["address", "birthdate"], 30 * DAY_MS);
        let attrs = set(&["address"]);
        assert_eq!(
            rules.validate_grant(Some(&asked), &attrs, None, now),
            Err(ConsentError::ExpiryRequired)
        );
        assert_eq!(
            rules.validate_grant(Some(&asked), &attrs, Some(now), now),
            Err(ConsentError::ExpiryInPast)
        );
        assert_eq!(
            rules.validate_grant(None, &attrs, Some(now + 400 * DAY_MS), now),
            Err(ConsentError::BeyondMaximum { max_days: 365 })
        );
        assert_eq!(
            rules.validate_grant(Some(&asked), &set(&[]), Some(now + DAY_MS), now),
            Err(ConsentError::EmptyAttributeSet)
        );
        assert_eq!(
            rules.validate_grant(Some(&asked), &set(&["email"]), Some(now + DAY_MS), now),
            Err(ConsentError::AttributeNotRequested {
                attribute: "email".to_owned()
            })
        );
        assert_eq!(
            rules.validate_grant(Some(&asked), &attrs, Some(now + 31 * DAY_MS), now),
            Err(ConsentError::GrantLongerThanRequested)
        );
        assert_eq!(
            rules.validate_grant(Some(&asked), &attrs, Some(now + 30 * DAY_MS), now),
            Ok(now + 30 * DAY_MS)
        );
        // A citizen-initiated grant is bounded only by the maximum.
        assert_eq!(
            rules.validate_grant(None, &set(&["email"]), Some(now + 365 * DAY_MS), now),
            Ok(now + 365 * DAY_MS)
        );
    }

    #[test]
    fn default_expiry_uses_the_request_then_the_default() {
        let rules = DurationRules::default();
        let asked = request(&["address"], 30 * DAY_MS);
        assert_eq!(rules.default_expiry_ms(Some(&asked), 5), 5 + 30 * DAY_MS);
        assert_eq!(rules.default_expiry_ms(None, 5), 5 + 90 * DAY_MS);
    }
}
