//! PKCE (RFC 7636) as FAPI 2.0 requires it: `S256` only (`plain` is refused, and so is a
//! missing method, which RFC 7636 would read as `plain`), checked when the request is pushed and
//! again when the code is redeemed.

use crate::encoding::{constant_time_eq, is_b64url, sha256_b64};
use crate::errors::ErrorCode;

/// Why a PKCE parameter was refused. Never carries the challenge or the verifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PkceError {
    #[error("`code_challenge` is required")]
    MissingChallenge,
    #[error("`code_challenge_method` is required and must be `S256`")]
    MissingMethod,
    #[error("`code_challenge_method` must be `S256` (`plain` is not accepted)")]
    UnsupportedMethod,
    #[error("`code_challenge` must be 43 base64url characters (an S256 challenge)")]
    MalformedChallenge,
    #[error("`code_verifier` is required")]
    MissingVerifier,
    #[error("`code_verifier` must be 43 to 128 characters of [A-Za-z0-9-._~]")]
    MalformedVerifier,
    #[error("`code_verifier` does not match the `code_challenge`")]
    Mismatch,
}

impl PkceError {
    /// At the PAR endpoint a bad challenge is `invalid_request`; at the token endpoint a bad
    /// or wrong verifier is `invalid_grant` (RFC 7636 §4.6).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::MissingVerifier | Self::MalformedVerifier | Self::Mismatch => {
                ErrorCode::InvalidGrant
            }
            _ => ErrorCode::InvalidRequest,
        }
    }
}

/// A checked S256 code challenge, as stored with the pushed request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Checks the `code_challenge` and `code_challenge_method` of an authorization request.
    pub fn from_request(challenge: Option<&str>, method: Option<&str>) -> Result<Self, PkceError> {
        let challenge = challenge.ok_or(PkceError::MissingChallenge)?;
        match method {
            None => return Err(PkceError::MissingMethod),
            Some("S256") => {}
            Some(_) => return Err(PkceError::UnsupportedMethod),
        }
        // An S256 challenge is base64url(SHA-256(..)): exactly 43 characters. Anything else
        // cannot match any verifier, so it is refused now rather than at the token endpoint.
        if challenge.len() != 43 || !is_b64url(challenge) {
            return Err(PkceError::MalformedChallenge);
        }
        Ok(Self(challenge.to_owned()))
    }

    /// The challenge a verifier produces (for clients and tests).
    pub fn from_verifier(verifier: &str) -> Result<Self, PkceError> {
        check_verifier_syntax(verifier)?;
        Ok(Self(sha256_b64(verifier.as_bytes())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks the `code_verifier` of the token request against this challenge (RFC 7636 §4.6).
    pub fn verify(&self, verifier: Option<&str>) -> Result<(), PkceError> {
        let verifier = verifier.ok_or(PkceError::MissingVerifier)?;
        check_verifier_syntax(verifier)?;
        let computed = sha256_b64(verifier.as_bytes());
        if constant_time_eq(computed.as_bytes(), self.0.as_bytes()) {
            Ok(())
        } else {
            Err(PkceError::Mismatch)
        }
    }
}

/// RFC 7636 §4.1: `code-verifier = 43*128unreserved`.
fn check_verifier_syntax(verifier: &str) -> Result<(), PkceError> {
    let ok = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if ok {
        Ok(())
    } else {
        Err(PkceError::MalformedVerifier)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b_example() {
        assert_eq!(
            CodeChallenge::from_verifier(VERIFIER).unwrap().as_str(),
            CHALLENGE
        );
        let challenge = CodeChallenge::from_request(Some(CHALLENGE), Some("S256")).unwrap();
        challenge.verify(Some(VERIFIER)).unwrap();
    }

    #[test]
    fn only_s256_with_a_well_formed_challenge_is_accepted() {
        for (challenge, method, expected) in [
            (None, Some("S256"), PkceError::MissingChallenge),
            (Some(CHALLENGE), None, PkceError::MissingMethod),
            (Some(CHALLENGE), Some("plain"), PkceError::UnsupportedMethod),
            (Some(CHALLENGE), Some("s256"), PkceError::UnsupportedMethod),
            (Some(VERIFIER), Some("plain"), PkceError::UnsupportedMethod),
            (Some("short"), Some("S256"), PkceError::MalformedChallenge),
            (
                Some(&CHALLENGE[..42]),
                Some("S256"),
                PkceError::MalformedChallenge,
            ),
            (
                Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"),
                Some("S256"),
                PkceError::MalformedChallenge,
            ),
        ] {
            let err = CodeChallenge::from_request(challenge, method).unwrap_err();
            assert_eq!(err, expected);
            assert_eq!(err.code(), ErrorCode::InvalidRequest);
        }
    }

    #[test]
    fn verifiers_are_checked_for_syntax_and_match() {
        let challenge = CodeChallenge::from_request(Some(CHALLENGE), Some("S256")).unwrap();
        for (verifier, expected) in [
            (None, PkceError::MissingVerifier),
            (Some(&VERIFIER[..42]), PkceError::MalformedVerifier),
            (Some("a".repeat(129).as_str()), PkceError::MalformedVerifier),
            (
                Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX!"),
                PkceError::MalformedVerifier,
            ),
            (
                Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"),
                PkceError::Mismatch,
            ),
        ] {
            let err = challenge.verify(verifier).unwrap_err();
            assert_eq!(err, expected);
            assert_eq!(err.code(), ErrorCode::InvalidGrant);
        }
        // The longest verifier allowed works.
        let long = "~".repeat(128);
        CodeChallenge::from_verifier(&long)
            .unwrap()
            .verify(Some(&long))
            .unwrap();
    }

    proptest! {
        #[test]
        fn parsing_any_challenge_and_verifier_never_panics(
            challenge in proptest::option::of("\\PC{0,60}"),
            method in proptest::option::of("\\PC{0,8}"),
            verifier in proptest::option::of("\\PC{0,140}"),
        ) {
            if let Ok(c) = CodeChallenge::from_request(challenge.as_deref(), method.as_deref()) {
                let _ = c.verify(verifier.as_deref());
            }
        }

        #[test]
        fn every_valid_verifier_matches_its_own_challenge_only(
            verifier in "[A-Za-z0-9._~-]{43,128}",
            other in "[A-Za-z0-9._~-]{43,128}",
        ) {
            let challenge = CodeChallenge::from_verifier(&verifier).unwrap();
            prop_assert!(challenge.verify(Some(&verifier)).is_ok());
            prop_assert_eq!(challenge.verify(Some(&other)).is_ok(), other == verifier);
        }
    }
}
