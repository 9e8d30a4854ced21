//! Release policy for the Tell Us Once broker: the attribute, purpose and department
//! catalogues, the Cedar schema and policies, and the release decision that yields a
//! [`ReleaseGrant`] — the only value that lets an attribute leave the broker.
//!
//! This crate owns *who may receive what, for which purpose, and why*. It must never do I/O
//! beyond reading its catalogue and policy files at load, never know HTTP or a database, and
//! never see an attribute value except to check its shape ([`Catalogue::validate_value`]),
//! which it never echoes.
//!
//! Start at [`PolicyEngine::load`] and [`PolicyEngine::decide`]. Files, embedded by default and
//! loadable from directories ([`PolicySource`]): `catalogue/*.toml` (the catalogues),
//! `cedar/broker.cedarschema` and `cedar/*.cedar` (the schema and policies).
//!
//! # Policy annotations
//!
//! Every policy has `@id("…")`, which becomes its Cedar policy id and the reason recorded in the
//! audit log. A `permit` also has `@legal_basis("…")`, `@consent("required" | "not-required")`
//! and optionally `@min_loa("1".."4")`; the decision enforces the last two again after Cedar
//! permits (belt and braces). A `forbid` may have `@code("…")`, a [`WithheldCode`] reported when
//! it fires. Unknown annotations are load errors, so a typo cannot silently weaken a policy.
//!
//! ```
//! use policies::{PolicyEngine, PolicySource, ReleaseRequest, WithheldCode};
//!
//! let engine = PolicyEngine::load(PolicySource::EMBEDDED)?;
//! let attributes = ["birthdate".to_owned()];
//! let request = ReleaseRequest {
//!     department: "employment-social-development",
//!     purpose: "pension-enrolment",
//!     attributes: &attributes,
//!     loa: 2,
//!     citizen_deceased: false,
//!     actor_is_delegate: false,
//!     now_ms: 0,
//! };
//! // No consent: withheld, and the permit that needs the consent is named.
//! let denial = engine.decide(&request, None).into_grant().unwrap_err();
//! assert_eq!(denial.codes(), [WithheldCode::NoConsent]);
//! # Ok::<(), policies::PolicyError>(())
//! ```

mod catalogue;
mod decision;
mod engine;
mod error;
mod grant;

pub use catalogue::{
    ATTRIBUTES_FILE, AttributeDef, AttributeType, Catalogue, DEPARTMENTS_FILE, DepartmentDef,
    PURPOSES_FILE, PurposeDef, Sensitivity,
};
pub use decision::{
    AttributeOutcome, Channel, Denial, ReleaseDecision, ReleaseRequest, Verdict, WithheldCode,
};
pub use engine::{
    PolicyEffect, PolicyEngine, PolicyInfo, PolicySource, SCHEMA_FILE, ValidationReport,
};
pub use error::{
    EntryKind, EntryProblem, PolicyError, PolicyProblem, Problems, ValueError, ValueFault,
};
pub use grant::{GrantedAttribute, ReleaseGrant};
