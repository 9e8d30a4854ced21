//! A department's adapter config: a `kind` plus that kind's settings, and the strict reader each
//! adapter uses to turn the settings into its typed config.
//!
//! The reader, not serde, checks the settings so that every error names the field and none repeats
//! the value (a mistyped `authorization` is still a secret).

use std::fmt;

use reqwest::header::HeaderValue;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::AdapterError;

/// A department's adapter config as stored or written by an operator, e.g.
/// `{"kind": "push", "endpoint": "https://dept.example/events", "timeout_ms": 5000}`.
///
/// `Debug` names the settings but never shows their values.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterConfig {
    /// The registry key: `push`, `file-drop` or `pull`.
    pub kind: String,
    /// Everything else in the object, checked by the adapter that `kind` names.
    #[serde(flatten)]
    pub settings: Map<String, Value>,
}

impl AdapterConfig {
    /// Splits a JSON object into its `kind` and settings.
    pub fn from_json(value: Value) -> Result<Self, AdapterError> {
        let Value::Object(mut settings) = value else {
            return Err(AdapterError::InvalidConfig {
                reason: "expected a JSON object",
            });
        };
        match settings.remove("kind") {
            Some(Value::String(kind)) => Ok(Self { kind, settings }),
            Some(_) => Err(AdapterError::InvalidConfig {
                reason: "`kind` must be a string",
            }),
            None => Err(AdapterError::InvalidConfig {
                reason: "missing `kind`",
            }),
        }
    }

    /// Parses JSON text, e.g. a column of the departments table.
    pub fn from_json_str(text: &str) -> Result<Self, AdapterError> {
        let value = serde_json::from_str(text).map_err(|_| AdapterError::InvalidConfig {
            reason: "not valid JSON",
        })?;
        Self::from_json(value)
    }
}

impl fmt::Debug for AdapterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdapterConfig")
            .field("kind", &self.kind)
            .field("settings", &self.settings.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A bearer secret sent as `Authorization: Bearer …`; `Debug` shows nothing of it.
#[derive(Clone)]
pub struct BearerToken(HeaderValue);

impl BearerToken {
    /// The token alone, without the `Bearer ` prefix: 1 to 4096 visible ASCII characters.
    pub fn new(token: &str) -> Result<Self, AdapterError> {
        Self::parse(token).ok_or(AdapterError::InvalidArgument {
            field: "authorization",
            reason: BEARER_RULE,
        })
    }

    fn parse(token: &str) -> Option<Self> {
        let visible =
            (1..=4096).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic());
        if !visible {
            return None;
        }
        let mut value = HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
        // Keeps the secret out of reqwest's and hyper's own debug output.
        value.set_sensitive(true);
        Some(Self(value))
    }

    pub(crate) fn header_value(&self) -> HeaderValue {
        self.0.clone()
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

const BEARER_RULE: &str =
    "must be the token alone (no `Bearer` prefix), 1 to 4096 visible ascii characters";

/// Reads one adapter's settings: typed getters that name the field on error, and [`finish`]
/// refusing any setting nobody asked for.
///
/// [`finish`]: Settings::finish
pub(crate) struct Settings<'a> {
    kind: &'static str,
    map: &'a Map<String, Value>,
    known: Vec<&'static str>,
}

impl<'a> Settings<'a> {
    pub(crate) fn new(kind: &'static str, map: &'a Map<String, Value>) -> Self {
        Self {
            kind,
            map,
            known: Vec::new(),
        }
    }

    /// An error about `field` in these settings.
    pub(crate) fn invalid(&self, field: &'static str, reason: impl Into<String>) -> AdapterError {
        AdapterError::InvalidSetting {
            kind: self.kind,
            field,
            reason: reason.into(),
        }
    }

    // `null` counts as absent, so a config template can leave optional settings empty.
    fn get(&mut self, field: &'static str) -> Option<&'a Value> {
        self.known.push(field);
        self.map.get(field).filter(|value| !value.is_null())
    }

    pub(crate) fn string(&mut self, field: &'static str) -> Result<Option<&'a str>, AdapterError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(self.invalid(field, "must be a string")),
        }
    }

    pub(crate) fn required_string(&mut self, field: &'static str) -> Result<&'a str, AdapterError> {
        self.string(field)?.ok_or(AdapterError::MissingSetting {
            kind: self.kind,
            field,
        })
    }

    /// A whole number in `min..=max`, or `default` when absent.
    pub(crate) fn integer(
        &mut self,
        field: &'static str,
        min: u64,
        max: u64,
        default: u64,
    ) -> Result<u64, AdapterError> {
        match self.get(field) {
            None => Ok(default),
            Some(value) => value
                .as_u64()
                .filter(|number| (min..=max).contains(number))
                .ok_or_else(|| {
                    self.invalid(field, format!("must be a whole number from {min} to {max}"))
                }),
        }
    }

    pub(crate) fn boolean(
        &mut self,
        field: &'static str,
        default: bool,
    ) -> Result<bool, AdapterError> {
        match self.get(field) {
            None => Ok(default),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(_) => Err(self.invalid(field, "must be `true` or `false`")),
        }
    }

    /// The optional `authorization` bearer secret.
    pub(crate) fn bearer(
        &mut self,
        field: &'static str,
    ) -> Result<Option<BearerToken>, AdapterError> {
        match self.string(field)? {
            None => Ok(None),
            Some(token) => BearerToken::parse(token)
                .map(Some)
                .ok_or_else(|| self.invalid(field, BEARER_RULE)),
        }
    }

    /// Refuses settings that no getter asked for: a typo must not silently fall back to a default.
    pub(crate) fn finish(self) -> Result<(), AdapterError> {
        match self
            .map
            .keys()
            .find(|key| !self.known.contains(&key.as_str()))
        {
            None => Ok(()),
            Some(unknown) => Err(AdapterError::UnknownSetting {
                kind: self.kind,
                field: unknown.chars().take(64).collect(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn from_json_splits_kind_and_settings_and_round_trips() {
        let config =
            AdapterConfig::from_json(json!({"kind": "push", "endpoint": "https://x.example/e"}))
                .unwrap();
        assert_eq!(config.kind, "push");
        assert_eq!(config.settings.keys().collect::<Vec<_>>(), ["endpoint"]);
        let text = serde_json::to_string(&config).unwrap();
        let back: AdapterConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back, config);
        assert_eq!(AdapterConfig::from_json_str(&text).unwrap(), config);
    }

    #[test]
    fn from_json_refuses_a_missing_or_non_string_kind() {
        let missing = AdapterConfig::from_json(json!({"endpoint": "x"})).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "invalid adapter config: missing `kind`"
        );
        let number = AdapterConfig::from_json(json!({"kind": 7})).unwrap_err();
        assert!(number.to_string().contains("`kind` must be a string"));
        assert!(AdapterConfig::from_json(json!(["push"])).is_err());
        assert!(AdapterConfig::from_json_str("{not json").is_err());
    }

    #[test]
    fn debug_shows_setting_names_not_values() {
        let config =
            AdapterConfig::from_json(json!({"kind": "push", "authorization": "hunter2-secret"}))
                .unwrap();
        let shown = format!("{config:?}");
        assert!(shown.contains("authorization"));
        assert!(!shown.contains("hunter2"), "{shown}");
        let token = BearerToken::new("hunter2-secret").unwrap();
        assert!(!format!("{token:?}").contains("hunter2"));
    }

    #[test]
    fn bearer_token_refuses_spaces_and_control_characters() {
        assert!(BearerToken::new("Bearer abc").is_err());
        assert!(BearerToken::new("abc\ndef").is_err());
        assert!(BearerToken::new("").is_err());
        let error = BearerToken::new("has space secret")
            .unwrap_err()
            .to_string();
        assert!(!error.contains("secret"), "{error}");
        assert!(BearerToken::new("abc.DEF-123_~+/=").is_ok());
    }

    #[test]
    fn settings_name_the_field_and_hide_the_value() {
        let map = json!({"timeout_ms": "soon", "authorization": 42, "extra": true});
        let map = map.as_object().unwrap();

        let mut settings = Settings::new("push", map);
        let error = settings
            .integer("timeout_ms", 1, 10, 5)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "invalid `timeout_ms` in the `push` adapter settings: must be a whole number from 1 to 10"
        );
        assert!(!error.contains("soon"));
        let error = settings.bearer("authorization").unwrap_err().to_string();
        assert!(
            error.contains("`authorization`") && !error.contains("42"),
            "{error}"
        );
        let error = settings
            .required_string("endpoint")
            .unwrap_err()
            .to_string();
        assert_eq!(error, "missing `endpoint` in the `push` adapter settings");
        let error = settings.finish().unwrap_err().to_string();
        assert_eq!(error, "unknown setting `extra` for the `push` adapter");
    }
}
