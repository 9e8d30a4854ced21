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
//! - [`acr::AcrMapping`] maps `acr` values to levels 1–4 and decides on step-up.
//! - [`logout::LogoutToken`] builds back-channel logout tokens.
//! - [`metadata::ProviderMetadata`] is the discovery document.
//!
//! Crypto is ring's, as everywhere in the workspace; only asymmetric algorithms exist here.

pub mod acr;
pub mod claims;
pub mod dpop;
mod encoding;
pub mod errors;
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
