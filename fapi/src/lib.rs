//! The protocol core of the broker as an OpenID Provider to departments' web applications,
//! under the FAPI 2.0 Security Profile.
//!
//! WIP
pub mod acr;
pub mod claims;
pub mod dpop;
mod encoding;
pub mod errors;
pub mod jwk;
pub mod jws;
pub mod par;
pub mod pkce;

#[cfg(test)]
mod testing;
