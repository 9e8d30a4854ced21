//! The `[consent]` configuration section: how long consents last, what "expiring soon" means, how
//! often the expiry sweep runs, and who the controller named in receipts is.

use consent::{DAY_MS, DurationRules};
use serde::{Deserialize, Serialize};

/// `[consent]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsentConfig {
    /// The duration a consent gets when nobody asks for another, in days.
    pub default_duration_days: u32,
    /// The longest a consent may last, in days (12 months by default).
    pub max_duration_days: u32,
    /// An active consent is "expiring soon" when it ends within this many days.
    pub expiring_soon_days: u32,
    /// How often the background sweep records the expiry of lapsed consents, in seconds.
    pub expiry_sweep_secs: u64,
    /// The privacy notice named in receipts (`policyUrl`); the broker's home page when unset.
    pub policy_url: Option<String>,
    /// The controller named in receipts (`piiControllers`).
    pub controller: ControllerConfig,
    /// The longest a delegation may last, in days (two years by default).
    pub delegation_max_days: u32,
    /// How long a delegation's invitation may wait to be accepted, in hours.
    pub delegation_invitation_hours: u32,
}

/// `[consent.controller]`: the organisation operating the broker, as receipts name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControllerConfig {
    /// The controller's name in English.
    pub name: String,
    /// The controller's name in French.
    pub name_fr: String,
    /// An office or role to contact, in English.
    pub contact: String,
    /// The same, in French.
    pub contact_fr: String,
    pub street_address: String,
    pub locality: String,
    pub region: String,
    pub postal_code: String,
    pub country: String,
    pub email: String,
    pub phone: Option<String>,
    /// The controller's web site; the broker's public URL when unset.
    pub url: Option<String>,
}

impl Default for ConsentConfig {
    fn default() -> Self {
        Self {
            default_duration_days: 90,
            max_duration_days: 365,
            expiring_soon_days: 30,
            expiry_sweep_secs: 60,
            policy_url: None,
            controller: ControllerConfig::default(),
            delegation_max_days: 730,
            delegation_invitation_hours: 48,
        }
    }
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            name: "Tell Us Once broker operator (demonstration)".into(),
            name_fr: "Exploitant du courtier Une fois suffit (démonstration)".into(),
            contact: "Privacy office".into(),
            contact_fr: "Bureau de la protection des renseignements personnels".into(),
            street_address: "90 Elgin Street".into(),
            locality: "Ottawa".into(),
            region: "ON".into(),
            postal_code: "K1A 0A1".into(),
            country: "CA".into(),
            email: "privacy@tell-us-once.example".into(),
            phone: None,
            url: None,
        }
    }
}

impl ConsentConfig {
    /// The duration rules these settings describe.
    ///
    /// # Errors
    /// A message naming the keys when `0 < default <= maximum` does not hold.
    pub fn rules(&self) -> Result<DurationRules, String> {
        DurationRules::new(
            i64::from(self.default_duration_days) * DAY_MS,
            i64::from(self.max_duration_days) * DAY_MS,
        )
        .map_err(|_| {
            "`consent.default_duration_days` must be at least 1 and at most \
             `consent.max_duration_days`"
                .to_owned()
        })
    }

    /// Checks that hold across keys (called by `Config::load`).
    pub fn validate(&self) -> Result<(), String> {
        self.rules()?;
        if self.delegation_max_days == 0 || self.delegation_invitation_hours == 0 {
            return Err(
                "`consent.delegation_max_days` and `consent.delegation_invitation_hours` must be at least 1"
                    .to_owned(),
            );
        }
        if self.expiry_sweep_secs == 0 {
            return Err("`consent.expiry_sweep_secs` must be at least 1".to_owned());
        }
        if let Some(url) = &self.policy_url
            && url::Url::parse(url).is_err()
        {
            return Err(format!("`consent.policy_url` `{url}` is not a URL"));
        }
        if let Some(url) = &self.controller.url
            && url::Url::parse(url).is_err()
        {
            return Err(format!("`consent.controller.url` `{url}` is not a URL"));
        }
        Ok(())
    }

    /// The longest a delegation may last, in milliseconds.
    pub fn delegation_max_ms(&self) -> i64 {
        i64::from(self.delegation_max_days) * DAY_MS
    }

    /// How long an invitation to accept a delegation lasts, in milliseconds.
    pub fn invitation_ms(&self) -> i64 {
        i64::from(self.delegation_invitation_hours) * 3_600_000
    }

    /// The "expiring soon" window in milliseconds.
    pub fn expiring_soon_ms(&self) -> i64 {
        i64::from(self.expiring_soon_days) * DAY_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_twelve_month_rule_and_bad_values_are_named() {
        let c = ConsentConfig::default();
        assert_eq!(c.rules().unwrap().max_ms(), 365 * DAY_MS);
        assert!(c.validate().is_ok());
        let bad = ConsentConfig {
            default_duration_days: 400,
            ..ConsentConfig::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .contains("consent.default_duration_days")
        );
        let bad = ConsentConfig {
            expiry_sweep_secs: 0,
            ..ConsentConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("expiry_sweep_secs"));
        let bad = ConsentConfig {
            policy_url: Some("not a url".into()),
            ..ConsentConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("policy_url"));
    }
}
