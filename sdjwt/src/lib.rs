//! SD-JWT (RFC 9901, Selective Disclosure for JSON Web Tokens) for the Tell Us Once broker:
//! issuing a release whose every claim can be disclosed on its own, presenting a subset bound to
//! one verifier with a Key Binding JWT, and verifying such a presentation.
//!
//! This crate owns the format and every check in it. It never does I/O: no HTTP, no files, no
//! clock (callers pass `now`), no key store (the issuer signs through a [`Signer`] the caller
//! supplies, so the broker's private keys never enter it). It never logs, and neither its errors
//! nor its `Debug` output carry a claim value, a salt or a token.
//!
//! Start at [`Issuer::issue`] (the broker), [`Credential::receive`] and
//! [`Credential::present_bound`] (a department passing part of a release on), and [`verify`]
//! (a third party). Claims are chosen by [claim paths](path): JSON pointers with `*`.
//!
//! ```
//! use sdjwt::{Credential, Es256Key, IssuerCheck, Issuer, KeyBinding, KeyBindingRequest, verify};
//! use serde_json::json;
//!
//! let broker_key = Es256Key::generate()?;   // the broker signs through its own key store
//! let department = Es256Key::generate()?;   // the holder key the department registered
//! let release = json!({
//!     "iss": "https://broker.example", "iat": 1_767_225_600, "exp": 1_767_225_900,
//!     "verified_claims": [{
//!         "verification": {"trust_framework": "pctf", "assurance_level": "loa3"},
//!         "claims": {"given_name": "Alice", "birthdate": "1958-04-12"}
//!     }]
//! });
//! let issued = Issuer::new().issue(
//!     &release,
//!     &["/verified_claims/*/claims/*", "/verified_claims/*/verification/*"],
//!     Some(department.public_jwk()),
//!     &broker_key,
//! )?;
//!
//! let broker_keys = [broker_key.public_jwk().clone()];
//! let now = 1_767_225_700;
//! let held = Credential::receive(issued.compact(), &IssuerCheck::new(&broker_keys, now))?;
//! let request = KeyBindingRequest { audience: "https://contractor.example", nonce: "n-42", issued_at: now };
//! let presentation = held.present_bound(&["/verified_claims/*/claims/birthdate"], &request, &department)?;
//!
//! let verified = verify(
//!     &presentation,
//!     &IssuerCheck::new(&broker_keys, now),
//!     KeyBinding::Required { audience: "https://contractor.example", nonce: "n-42", max_age_secs: 300 },
//! )?;
//! assert_eq!(
//!     verified.claims()["verified_claims"],
//!     json!([{"verification": {}, "claims": {"birthdate": "1958-04-12"}}])
//! );
//! # Ok::<(), sdjwt::Error>(())
//! ```

mod disclosure;
mod encoding;
mod error;
mod issue;
mod jose;
pub mod path;
mod present;
mod process;
mod sign;
mod verify;

pub use disclosure::{Disclosed, Disclosure};
pub use encoding::{SD_ALG, digest};
pub use error::Error;
pub use issue::{Decoys, Issued, Issuer, Randomness};
pub use jose::{Algorithm, Jwk};
pub use path::ClaimPath;
pub use present::{Credential, KeyBindingRequest};
pub use sign::{Es256Key, JwsHeader, Signer, SignerError};
pub use verify::{IssuerCheck, KeyBinding, Verified, verify};

/// The `typ` of an issuer-signed SD-JWT from the broker (the media type `application/dc+sd-jwt`,
/// as SD-JWT VC registers it).
pub const TYP_SD_JWT: &str = "dc+sd-jwt";

/// The `typ` of a Key Binding JWT (RFC 9901 §4.3).
pub const TYP_KB_JWT: &str = "kb+jwt";

/// How deep claims may nest, counting through disclosures. The broker's releases nest about six
/// levels; the bound keeps recursion (and so the stack) finite whatever a presentation holds.
pub const MAX_DEPTH: usize = 64;
