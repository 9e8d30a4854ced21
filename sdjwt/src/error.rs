//! The one error type of the crate.
//!
//! Messages are lowercase and never carry a claim value, a salt, a digest or a token: a caller may
//! log them or put them in a problem document. What they do carry is the issuer's own
//! configuration (a selection path) or a position (the index of a disclosure).

/// Everything that can go wrong while issuing, presenting or verifying an SD-JWT.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- issuance and selection: the caller's configuration ---
    /// A selection path is not a JSON pointer (RFC 6901, with `*` for "every member or element").
    #[error("`{path}` is not a valid claim path")]
    InvalidPath { path: String },
    /// A path without wildcards names a claim that is not there.
    #[error("no claim at `{path}`")]
    PathNotFound { path: String },
    /// The path names something that must stay in the clear (RFC 9901 §9.7) or the payload itself.
    #[error("`{path}` may not be selectively disclosable: {reason}")]
    NotDisclosable { path: String, reason: &'static str },
    /// The claims to issue use a name that SD-JWT reserves (`_sd`, `...`, `_sd_alg`).
    #[error("claims may not contain the reserved member `{name}`")]
    ReservedName { name: &'static str },
    /// The claims to issue are not a JSON object.
    #[error("the claims to issue must be a json object")]
    ClaimsNotObject,
    /// The claims already carry `cnf` while a holder key was given too.
    #[error("the claims already carry `cnf`; give the holder key once")]
    HolderKeyConflict,
    /// A presentation pattern selects no disclosure.
    #[error("`{pattern}` selects no selectively disclosable claim")]
    SelectionMatchesNothing { pattern: String },
    /// The decoy range is empty or too large.
    #[error("the decoy range must satisfy min <= max <= 64")]
    DecoyRange,

    // --- keys and signatures ---
    /// A JWK is not a public EC P-256 or Ed25519 key we can use.
    #[error("unsupported or malformed key: {what}")]
    Key { what: &'static str },
    /// A JWK carries private key material where only a public key belongs.
    #[error("a public key was expected, the jwk carries private key material")]
    PrivateKeyMaterial,
    /// The random source failed.
    #[error("the random source failed")]
    Random,
    /// The caller's signer failed.
    #[error("signing failed")]
    Signer {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The caller's signer returned a token that is not a JWS over what it was given.
    #[error("the signer returned a token that does not sign the given header and payload")]
    SignerOutput,
    /// JSON could not be written.
    #[error("cannot encode json")]
    Encode,

    // --- parsing a presentation ---
    /// The compact serialisation is not `<jwt>~<disclosure>~…~[<kb-jwt>]`.
    #[error("malformed sd-jwt: {what}")]
    Malformed { what: &'static str },
    /// One disclosure (counted from 0 in the order presented) is not a valid disclosure.
    #[error("disclosure {index} is malformed: {what}")]
    Disclosure { index: usize, what: &'static str },

    // --- the issuer-signed JWT ---
    /// The JWS algorithm is `none`, unknown, or does not match the key.
    #[error("unsupported or forbidden signing algorithm")]
    Algorithm,
    /// The `typ` header is not the one expected.
    #[error("unexpected `typ` header (expected `{expected}`)")]
    Typ { expected: String },
    /// No given key matches the token's `kid` (or several keys and no `kid`).
    #[error("no matching issuer key")]
    UnknownKey,
    /// The issuer's signature does not verify.
    #[error("issuer signature does not verify")]
    Signature,
    /// `_sd_alg` names a hash this crate does not accept, or appears below the top level.
    #[error("unsupported or misplaced `_sd_alg`")]
    HashAlgorithm,
    /// `iss` is not the expected issuer.
    #[error("unexpected issuer")]
    Issuer,
    /// `exp` has passed.
    #[error("the sd-jwt has expired")]
    Expired,
    /// `nbf` is still ahead.
    #[error("the sd-jwt is not valid yet")]
    NotYetValid,
    /// `iat` is in the future.
    #[error("the sd-jwt was issued in the future")]
    IssuedInFuture,
    /// A claim the verifier requires (after processing) is absent.
    #[error("required claim `{name}` is missing")]
    MissingClaim { name: String },
    /// A registered claim (`exp`, `nbf`, `iat`, `iss`, `cnf`) has the wrong type.
    #[error("claim `{name}` has the wrong type")]
    ClaimType { name: &'static str },

    // --- digests and disclosures (RFC 9901 §7.1) ---
    /// The same digest appears twice in the payload or in disclosures.
    #[error("a digest appears more than once")]
    DuplicateDigest,
    /// The same disclosure is presented twice.
    #[error("disclosure {index} is presented more than once")]
    DuplicateDisclosure { index: usize },
    /// A presented disclosure is referenced by no digest.
    #[error("disclosure {index} is not referenced by any digest")]
    UnreferencedDisclosure { index: usize },
    /// `_sd` or `...` used other than to carry digests.
    #[error("misuse of `{member}`: {what}")]
    DigestMisuse {
        member: &'static str,
        what: &'static str,
    },
    /// An object digest points at an array-element disclosure, or the other way round.
    #[error("disclosure {index} does not fit where its digest is")]
    DisclosureKind { index: usize },
    /// A disclosed claim name is `_sd` or `...`.
    #[error("disclosure {index} discloses a reserved name")]
    DisclosedReservedName { index: usize },
    /// A disclosed claim name is already present at its level.
    #[error("disclosure {index} repeats a claim name already present at its level")]
    ClaimNameClash { index: usize },
    /// The payload and its disclosures nest deeper than this crate follows.
    #[error("the claims nest too deeply")]
    TooDeep,

    // --- key binding (RFC 9901 §4.3, §7.3) ---
    /// Key binding is required and the presentation has no KB-JWT.
    #[error("key binding is required and missing")]
    KeyBindingMissing,
    /// A KB-JWT came where none was expected (an issuance, or a verifier not checking binding).
    #[error("a key binding jwt was not expected")]
    KeyBindingUnexpected,
    /// The SD-JWT has no usable `cnf.jwk` to check a KB-JWT with.
    #[error("the sd-jwt binds no usable holder key (`cnf.jwk`)")]
    HolderKeyMissing,
    /// The KB-JWT is malformed, mistyped or lacks a required claim.
    #[error("malformed key binding jwt: {what}")]
    KeyBindingMalformed { what: &'static str },
    /// The KB-JWT's signature does not verify with the holder key.
    #[error("key binding signature does not verify")]
    KeyBindingSignature,
    /// The KB-JWT is for another audience.
    #[error("key binding jwt is for another audience")]
    KeyBindingAudience,
    /// The KB-JWT carries another nonce.
    #[error("key binding jwt carries another nonce")]
    KeyBindingNonce,
    /// The KB-JWT's `iat` is outside the accepted window.
    #[error("key binding jwt is too old or from the future")]
    KeyBindingTime,
    /// `sd_hash` does not match the presented SD-JWT.
    #[error("key binding jwt does not match the presented sd-jwt (`sd_hash`)")]
    KeyBindingSdHash,
}

impl Error {
    pub(crate) fn malformed(what: &'static str) -> Self {
        Self::Malformed { what }
    }

    pub(crate) fn misuse(member: &'static str, what: &'static str) -> Self {
        Self::DigestMisuse { member, what }
    }
}
