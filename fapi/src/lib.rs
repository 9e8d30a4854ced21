//! The protocol core of the broker as an OpenID Provider to departments' web applications,
//! under the FAPI 2.0 Security Profile: pushed authorization requests, PKCE S256, DPoP-bound
//! tokens, the `claims` parameter with `verified_claims`, levels of assurance, back-channel
//! logout tokens, and the discovery document that states all of it.
//!
//! This crate owns the rules: what a request must hold, what a proof must prove, what may be
//! answered. It never does I/O — no HTTP, no storage, no clock (callers pass `now`), no key store
//! (it signs through a [`jws::Signer`] the caller supplies) — so the web layer that wires it is
//! thin and every rule is tested here. It never logs, and no error message or `Debug` output
//! carries a token, a proof, a claim value or anything else a client sent: errors name the check
//! or parameter that failed, and map to a standard [`errors::ErrorCode`].
//!
//! Where to start:
//! - [`par::validate`] reads a pushed authorization request; [`par::request_uri`] issues and
//!   redeems its `request_uri`.
//! - [`dpop::verify`] checks a DPoP proof and gives the key thumbprint to bind tokens to.
//! - [`pkce::CodeChallenge`] checks the challenge at the push and the verifier at the token
//!   endpoint.
//! - [`claims::ClaimsRequest`] reads the `claims` parameter; [`claims::verified_claims`] builds
//!   the answer.
//! - [`acr::AcrMapping`] maps `acr` values to levels 1–4 and decides on step-up;
//!   [`interaction::next_step`] puts that together with `prompt`, `max_age` and consent into the
//!   authorization endpoint's next step.
//! - [`logout::LogoutToken`] builds back-channel logout tokens.
//! - [`metadata::ProviderMetadata`] is the discovery document.
//!
//! Crypto is ring's, as everywhere in the workspace; only asymmetric algorithms exist here.
//!
//! A pushed request, its `request_uri`, and the authorization endpoint redeeming it once:
//!
//! ```
//! use fapi::par::{self, request_uri::{self, AuthorizeEntry}, ConsentMode, PushContext};
//!
//! let registered = vec!["https://pension.esd.example/callback".to_string()];
//! let context = PushContext {
//!     client_id: "esd-pension-app",        // authenticated by its private_key_jwt
//!     redirect_uris: &registered,
//!     dpop_jkt: None,                      // or the thumbprint of the push's DPoP proof
//! };
//! let body = "client_id=esd-pension-app&response_type=code&scope=openid%20offline_access\
//!     &redirect_uri=https%3A%2F%2Fpension.esd.example%2Fcallback\
//!     &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
//! let request = par::validate(body.as_bytes(), &context, &par::ParPolicy::default())?;
//! assert_eq!(request.consent_mode, ConsentMode::Ongoing);
//!
//! let now = 1_767_225_600;
//! let issued = request_uri::issue(request, now, 60, &ring::rand::SystemRandom::new())?;
//! // The caller stores `issued.record` under `issued.storage_key` and answers 201 with
//! // `issued.response_body()`. Later, at the authorization endpoint:
//! let query = format!("client_id=esd-pension-app&request_uri={}", issued.request_uri);
//! let entry = AuthorizeEntry::parse(&query)?;
//! assert_eq!(entry.storage_key(), issued.storage_key);
//! let stored = Some(issued.record);           // taken out of storage: single use
//! let request = entry.redeem(stored, now + 5)?;
//! assert_eq!(request.redirect_uri, "https://pension.esd.example/callback");
//! # Ok::<(), fapi::par::ParError>(())
//! ```

pub mod acr;
pub mod claims;
pub mod dpop;
mod encoding;
pub mod errors;
pub mod interaction;
pub mod jwk;
pub mod jws;
pub mod logout;
pub mod metadata;
pub mod par;
pub mod pkce;

pub use encoding::{rfc3339, sha256_b64};
pub use errors::ErrorCode;

#[cfg(test)]
mod testing;
