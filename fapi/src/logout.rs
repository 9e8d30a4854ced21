//! Logout tokens for OpenID Connect Back-Channel Logout 1.0: when a citizen signs out at the
//! broker, each department application they signed in to is told so by a signed JWT POSTed to
//! its registered `backchannel_logout_uri`.
//!
//! This module builds the claims (§2.4) and signs them through the caller's [`Signer`]; sending
//! them (and retrying) is the caller's.

use ring::rand::SecureRandom;
use serde::Serialize;
use serde_json::{Value, json};

use crate::encoding::b64;
use crate::jws::{SignError, Signer, sign_compact};

/// The event member of every logout token (§2.4).
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The explicit type of a logout token (§2.4, RFC 8725 §3.11), which keeps it from being
/// accepted as an ID token.
pub const TYP: &str = "logout+jwt";
/// A logout token is for immediate delivery; two minutes covers retries of one delivery.
pub const DEFAULT_LIFETIME_SECS: i64 = 120;

/// Why a logout token could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogoutError {
    #[error("a logout token needs `sub`, `sid` or both")]
    NoSubject,
    #[error("a logout token needs a non-empty issuer and audience")]
    Party,
    #[error("the lifetime of a logout token must be 1 to 600 seconds")]
    Lifetime,
    #[error("the random source failed")]
    Random,
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// Whom the logout is about: the pairwise subject the department knows, the session id it was
/// given (`sid` in the ID token), or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutSubject {
    Subject(String),
    Session(String),
    Both { sub: String, sid: String },
}

/// The claims of one logout token (§2.4). There is no `nonce`, and no way to add one: §2.4
/// forbids it, so that a logout token can never pass for an ID token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogoutToken {
    pub iss: String,
    /// The department's `client_id`.
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    events: Value,
}

impl LogoutToken {
    pub fn new(
        issuer: &str,
        client_id: &str,
        subject: LogoutSubject,
        now: i64,
        lifetime_secs: i64,
        rng: &dyn SecureRandom,
    ) -> Result<Self, LogoutError> {
        if issuer.is_empty() || client_id.is_empty() {
            return Err(LogoutError::Party);
        }
        if !(1..=600).contains(&lifetime_secs) {
            return Err(LogoutError::Lifetime);
        }
        let (sub, sid) = match subject {
            LogoutSubject::Subject(sub) => (Some(sub), None),
            LogoutSubject::Session(sid) => (None, Some(sid)),
            LogoutSubject::Both { sub, sid } => (Some(sub), Some(sid)),
        };
        if sub.as_deref().is_some_and(str::is_empty) || sid.as_deref().is_some_and(str::is_empty) {
            return Err(LogoutError::NoSubject);
        }
        let mut random = [0u8; 16];
        rng.fill(&mut random).map_err(|_| LogoutError::Random)?;
        Ok(Self {
            iss: issuer.to_owned(),
            aud: client_id.to_owned(),
            iat: now,
            exp: now.saturating_add(lifetime_secs),
            jti: b64(random),
            sub,
            sid,
            events: json!({ EVENT: {} }),
        })
    }

    /// The claims as JSON.
    pub fn claims(&self) -> Value {
        // INVARIANT: serialising this struct of strings and integers cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The signed token, header `{"alg", "kid", "typ": "logout+jwt"}`.
    pub fn sign(&self, signer: &dyn Signer) -> Result<String, LogoutError> {
        Ok(sign_compact(signer, TYP, &self.claims())?)
    }
}

/// The body of the back-channel POST (§2.5): `logout_token=<jwt>`, form-encoded.
pub fn request_body(logout_token: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("logout_token", logout_token)
        .finish()
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;

    use super::*;
    use crate::jws::Jws;
    use crate::testing::TestKey;

    const NOW: i64 = 1_767_225_600;

    fn token(subject: LogoutSubject) -> LogoutToken {
        LogoutToken::new(
            "https://broker.example",
            "esd-pension-app",
            subject,
            NOW,
            DEFAULT_LIFETIME_SECS,
            &SystemRandom::new(),
        )
        .unwrap()
    }

    #[test]
    fn the_claims_are_those_of_section_2_4_and_no_nonce() {
        let t = token(LogoutSubject::Both {
            sub: "pairwise-1".into(),
            sid: "session-9".into(),
        });
        let claims = t.claims();
        let object = claims.as_object().unwrap();
        let mut members: Vec<&str> = object.keys().map(String::as_str).collect();
        members.sort_unstable();
        assert_eq!(
            members,
            ["aud", "events", "exp", "iat", "iss", "jti", "sid", "sub"]
        );
        assert_eq!(claims["iss"], "https://broker.example");
        assert_eq!(claims["aud"], "esd-pension-app");
        assert_eq!(claims["exp"], NOW + 120);
        assert_eq!(claims["events"], json!({EVENT: {}}));
        assert_eq!(t.jti.len(), 22);
        assert!(!object.contains_key("nonce"));
    }

    #[test]
    fn sub_or_sid_alone_is_enough_and_neither_may_be_empty() {
        let only_sid = token(LogoutSubject::Session("session-9".into())).claims();
        assert!(only_sid.get("sub").is_none() && only_sid["sid"] == "session-9");
        let only_sub = token(LogoutSubject::Subject("pairwise-1".into())).claims();
        assert!(only_sub.get("sid").is_none() && only_sub["sub"] == "pairwise-1");
        let rng = SystemRandom::new();
        let build = |subject, iss: &str, aud: &str, lifetime| {
            LogoutToken::new(iss, aud, subject, NOW, lifetime, &rng)
        };
        assert!(matches!(
            build(LogoutSubject::Subject(String::new()), "i", "a", 60),
            Err(LogoutError::NoSubject)
        ));
        assert!(matches!(
            build(LogoutSubject::Session("s".into()), "", "a", 60),
            Err(LogoutError::Party)
        ));
        assert!(matches!(
            build(LogoutSubject::Session("s".into()), "i", "a", 0),
            Err(LogoutError::Lifetime)
        ));
    }

    #[test]
    fn jtis_are_fresh_for_each_token() {
        let a = token(LogoutSubject::Subject("s".into()));
        let b = token(LogoutSubject::Subject("s".into()));
        assert_ne!(a.jti, b.jti);
    }

    #[test]
    fn the_signed_token_is_typed_and_verifies_with_the_signing_key() {
        let key = TestKey::es256();
        let signed = token(LogoutSubject::Subject("pairwise-1".into()))
            .sign(&key)
            .unwrap();
        let jws = Jws::parse(&signed).unwrap();
        assert_eq!(jws.header["typ"], TYP);
        assert_eq!(jws.header["alg"], "ES256");
        assert_eq!(jws.header["kid"], "test-key");
        assert_eq!(jws.payload["sub"], "pairwise-1");
        let public = crate::jwk::PublicJwk::from_json(&key.public_jwk()).unwrap();
        assert!(public.verifies(
            crate::jws::Algorithm::Es256,
            jws.signing_input(),
            jws.signature()
        ));
        assert_eq!(
            request_body("a.b+c"),
            "logout_token=a.b%2Bc",
            "form-encoded for the POST"
        );
    }
}
