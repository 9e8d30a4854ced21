//! Configuration of citizen and officer sign-in: the upstream credential providers, the privacy
//! officers among their users, and the tunables of the relying-party flow: the broker's
//! configuration's `providers`, `officers` and `signin`.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::lang::Lang;
use crate::secret::Secret;

/// One upstream OpenID provider (`[[providers]]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Stable id used in URLs, sessions and provenance (`[a-z0-9-]`, at most 64).
    pub id: String,
    /// What citizens see, in English and in French.
    pub name_en: String,
    pub name_fr: String,
    /// The provider's issuer identifier; discovery is at `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// `client_secret_basic` authentication. Exactly one of `client_secret`,
    /// `client_secret_file` and `private_key_file` must be set.
    #[serde(default)]
    pub client_secret: Secret,
    /// A file holding the client secret (trailing newline ignored).
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// `private_key_jwt` authentication with this PKCS#8 (DER) ES256 key; its `kid` is the
    /// RFC 7638 thumbprint of the public key.
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    /// Scopes asked for; must include `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The provider's `acr` values mapped to a level of assurance (1–4). An absent or unlisted
    /// `acr` means level 1.
    #[serde(default)]
    pub acr_loa: BTreeMap<String, u8>,
    /// Fetch the userinfo endpoint after the token exchange (its `sub` must match).
    #[serde(default = "yes")]
    pub userinfo: bool,
}

fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email", "address", "phone"]
        .into_iter()
        .map(String::from)
        .collect()
}

fn yes() -> bool {
    true
}

/// A privacy officer: an upstream identity allowed an officer session (`[[officers]]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficerConfig {
    /// The officer's id in the audit log.
    pub id: String,
    /// The provider id they sign in with, and their `sub` there.
    pub provider: String,
    pub subject: String,
}

/// Tunables of the relying-party flow (`[signin]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignInConfig {
    /// How long a started sign-in may take before its `state` expires.
    pub request_ttl_secs: u64,
    /// Clock skew tolerated on an ID token's `iat`.
    pub clock_skew_secs: u64,
    /// Timeout of each request to a provider (discovery, JWKS, token, userinfo).
    pub http_timeout_secs: u64,
    /// Discovery (and JWKS) are fetched again this often.
    pub discovery_refresh_secs: u64,
    /// An unknown `kid` makes the broker fetch the provider's JWKS again, at most this often.
    pub jwks_min_refresh_secs: u64,
}

impl Default for SignInConfig {
    fn default() -> Self {
        Self {
            request_ttl_secs: 600,
            clock_skew_secs: 60,
            http_timeout_secs: 10,
            discovery_refresh_secs: 3600,
            jwks_min_refresh_secs: 30,
        }
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn invalid(message: String) -> String {
    message
}

/// The sign-in sections of the configuration, checked together.
#[derive(Debug, Clone, Copy)]
pub struct Sections<'a> {
    pub providers: &'a [ProviderConfig],
    pub officers: &'a [OfficerConfig],
    pub signin: &'a SignInConfig,
}

/// Checks that hold across the sign-in sections; the message names the key at fault.
pub fn validate(config: Sections<'_>) -> Result<(), String> {
    let mut seen = HashSet::new();
    for p in config.providers {
        if !valid_id(&p.id) {
            return Err(invalid(format!(
                "`providers.id` `{}` must be 1–64 of a-z, 0-9 and `-`",
                p.id
            )));
        }
        if !seen.insert(p.id.as_str()) {
            return Err(invalid(format!("provider `{}` is listed twice", p.id)));
        }
        let issuer = url::Url::parse(&p.issuer).map_err(|e| {
            invalid(format!(
                "provider `{}`: `issuer` `{}` is not a URL: {e}",
                p.id, p.issuer
            ))
        })?;
        let loopback = matches!(issuer.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if !(issuer.scheme() == "https" || (issuer.scheme() == "http" && loopback)) {
            return Err(invalid(format!(
                "provider `{}`: `issuer` must use https (plain http only on 127.0.0.1)",
                p.id
            )));
        }
        if issuer.query().is_some() || issuer.fragment().is_some() {
            return Err(invalid(format!(
                "provider `{}`: `issuer` must not have a query or fragment",
                p.id
            )));
        }
        if p.client_id.is_empty() {
            return Err(invalid(format!(
                "provider `{}`: `client_id` is empty",
                p.id
            )));
        }
        let methods = [
            !p.client_secret.is_empty(),
            p.client_secret_file.is_some(),
            p.private_key_file.is_some(),
        ]
        .iter()
        .filter(|set| **set)
        .count();
        if methods != 1 {
            return Err(invalid(format!(
                "provider `{}`: set exactly one of `client_secret`, `client_secret_file` and \
                 `private_key_file`",
                p.id
            )));
        }
        if !p.scopes.iter().any(|s| s == "openid") {
            return Err(invalid(format!(
                "provider `{}`: `scopes` must include `openid`",
                p.id
            )));
        }
        if let Some((acr, loa)) = p.acr_loa.iter().find(|(_, loa)| !(1..=4).contains(*loa)) {
            return Err(invalid(format!(
                "provider `{}`: `acr_loa` maps `{acr}` to {loa}; levels are 1 to 4",
                p.id
            )));
        }
        if p.name_en.trim().is_empty() || p.name_fr.trim().is_empty() {
            return Err(invalid(format!(
                "provider `{}`: `name_en` and `name_fr` are both required",
                p.id
            )));
        }
    }
    let mut officer_ids = HashSet::new();
    for o in config.officers {
        if !seen.contains(o.provider.as_str()) {
            return Err(invalid(format!(
                "officer `{}` signs in with provider `{}`, which is not configured",
                o.id, o.provider
            )));
        }
        if o.id.trim().is_empty() || o.subject.is_empty() {
            return Err(invalid(
                "every officer needs an `id` and a `subject`".to_owned(),
            ));
        }
        if !officer_ids.insert(o.id.as_str()) {
            return Err(invalid(format!("officer `{}` is listed twice", o.id)));
        }
    }
    let s = config.signin;
    if s.request_ttl_secs == 0 || s.http_timeout_secs == 0 || s.discovery_refresh_secs == 0 {
        return Err(invalid(
            "`signin.request_ttl_secs`, `signin.http_timeout_secs` and \
             `signin.discovery_refresh_secs` must be at least 1"
                .to_owned(),
        ));
    }
    Ok(())
}

impl ProviderConfig {
    /// The display name in a language.
    pub fn name(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.name_en,
            Lang::Fr => &self.name_fr,
        }
    }

    /// The level of assurance an `acr` value stands for.
    pub fn loa_for(&self, acr: Option<&str>) -> u8 {
        acr.and_then(|a| self.acr_loa.get(a).copied()).unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(id: &str) -> ProviderConfig {
        ProviderConfig {
            id: id.into(),
            name_en: "Bank".into(),
            name_fr: "Banque".into(),
            issuer: "https://id.bank.example".into(),
            client_id: "broker".into(),
            client_secret: Secret::new("s"),
            client_secret_file: None,
            private_key_file: None,
            scopes: default_scopes(),
            acr_loa: BTreeMap::from([("urn:bank:loa2".to_owned(), 2)]),
            userinfo: true,
        }
    }

    struct Owned(Vec<ProviderConfig>, Vec<OfficerConfig>, SignInConfig);

    fn with(providers: Vec<ProviderConfig>, officers: Vec<OfficerConfig>) -> Owned {
        Owned(providers, officers, SignInConfig::default())
    }

    fn validate(config: &Owned) -> Result<(), String> {
        super::validate(Sections {
            providers: &config.0,
            officers: &config.1,
            signin: &config.2,
        })
    }

    #[test]
    fn a_well_formed_provider_and_officer_pass() {
        let officer = OfficerConfig {
            id: "olivier".into(),
            provider: "bank".into(),
            subject: "u-1".into(),
        };
        validate(&with(vec![provider("bank")], vec![officer])).unwrap();
    }

    #[test]
    fn bad_providers_are_refused_with_their_id() {
        let mut http = provider("bank");
        http.issuer = "http://id.bank.example".into();
        let mut two_methods = provider("bank");
        two_methods.private_key_file = Some("/k".into());
        let mut none = provider("bank");
        none.client_secret = Secret::default();
        let mut no_openid = provider("bank");
        no_openid.scopes = vec!["profile".into()];
        let mut bad_loa = provider("bank");
        bad_loa.acr_loa.insert("x".into(), 5);
        for (case, config) in [
            ("http", with(vec![http], vec![])),
            ("two methods", with(vec![two_methods], vec![])),
            ("no method", with(vec![none], vec![])),
            ("no openid", with(vec![no_openid], vec![])),
            ("loa 5", with(vec![bad_loa], vec![])),
            ("bad id", with(vec![provider("Bank!")], vec![])),
            (
                "twice",
                with(vec![provider("bank"), provider("bank")], vec![]),
            ),
        ] {
            let err = validate(&config).unwrap_err().to_string();
            assert!(err.contains("provider"), "{case}: {err}");
        }
    }

    #[test]
    fn loopback_http_issuers_are_allowed_for_tests_and_the_demo() {
        let mut p = provider("bank");
        p.issuer = "http://127.0.0.1:8081".into();
        validate(&with(vec![p], vec![])).unwrap();
    }

    #[test]
    fn officers_must_name_a_configured_provider() {
        let officer = OfficerConfig {
            id: "olivier".into(),
            provider: "nowhere".into(),
            subject: "u-1".into(),
        };
        let err = validate(&with(vec![provider("bank")], vec![officer]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`nowhere`"), "{err}");
    }

    #[test]
    fn absent_or_unknown_acr_is_level_one() {
        let p = provider("bank");
        assert_eq!(p.loa_for(Some("urn:bank:loa2")), 2);
        assert_eq!(p.loa_for(Some("urn:other")), 1);
        assert_eq!(p.loa_for(None), 1);
    }
}
