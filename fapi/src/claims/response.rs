//! Building `verified_claims` from the values the broker may release, in the shape of the
//! release JWT (docs/release.md): one element per source and verification, `trust_framework`
//! `pctf`, `assurance_level` `loa1`…`loa4`, evidence an `electronic_record` naming the source.
//!
//! The caller passes only values it may release (those the policy engine granted and the
//! citizen consented to); this module then keeps only what was asked, as IA §6.5 says: a claim
//! not asked, not held, or not matching its `value(s)` is omitted; a group whose verification
//! does not match the constraints on `verification` is omitted whole; no error is ever raised.

use std::fmt;

use serde_json::{Map, Value, json};

use super::request::{Target, VerifiedClaimsRequest};
use crate::acr::Level;
use crate::encoding::rfc3339;

/// The trust framework every broker value is verified under (the Pan-Canadian Trust
/// Framework; not a registered IA value).
pub const TRUST_FRAMEWORK: &str = "pctf";

/// Where a value came from (evidence `record.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    CredentialProvider,
    DepartmentRegister,
    CitizenDeclaration,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CredentialProvider => "credential_provider",
            Self::DepartmentRegister => "department_register",
            Self::CitizenDeclaration => "citizen_declaration",
        }
    }
}

/// How a value was established.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Provenance {
    pub source_kind: SourceKind,
    /// The source's registered name (`bank-sign-in-partner`, `vital-statistics`).
    pub source: String,
    /// `verification_process` (`asserted`, …).
    pub verification_process: String,
    pub level: Level,
    /// When the value was recorded, Unix seconds.
    pub recorded_at: i64,
}

/// A value the broker may release, with its provenance.
#[derive(Clone, PartialEq)]
pub struct HeldClaim {
    pub name: String,
    pub value: Value,
    pub provenance: Provenance,
}

impl fmt::Debug for HeldClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // INVARIANT: no attribute value in Debug output (and so in no log or panic message).
        f.debug_struct("HeldClaim")
            .field("name", &self.name)
            .field("provenance", &self.provenance)
            .finish_non_exhaustive()
    }
}

/// `verified_claims` for one target, and the names of the claims that left.
#[derive(Clone, PartialEq)]
pub struct Released {
    /// The `verified_claims` array (empty: leave the member out).
    pub verified_claims: Vec<Value>,
    /// Each claim name released, once, in order of release: what the audit record lists.
    pub claims: Vec<String>,
}

impl fmt::Debug for Released {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Released")
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

/// Answers the `verified_claims` requests for `target` from `held` at time `now`.
pub fn verified_claims(
    requests: &[VerifiedClaimsRequest],
    target: Target,
    held: &[HeldClaim],
    now: i64,
) -> Released {
    // Groups in order of first appearance: one per source and verification.
    let mut groups: Vec<(&Provenance, Vec<&HeldClaim>)> = Vec::new();
    for claim in held {
        let key = &claim.provenance;
        match groups.iter_mut().find(|(p, _)| same_verification(p, key)) {
            Some((_, members)) => members.push(claim),
            None => groups.push((key, vec![claim])),
        }
    }
    let mut released = Released {
        verified_claims: Vec::new(),
        claims: Vec::new(),
    };
    for request in requests.iter().filter(|r| r.target == target) {
        let v = &request.verification;
        if v.unsatisfiable
            || v.trust_framework
                .as_ref()
                .is_some_and(|c| !c.allows(TRUST_FRAMEWORK))
        {
            continue;
        }
        for (provenance, members) in &groups {
            if !v
                .assurance_level
                .as_ref()
                .is_none_or(|c| c.allows(provenance.level.assurance_level()))
                || !v
                    .verification_process
                    .as_ref()
                    .is_none_or(|c| c.allows(&provenance.verification_process))
                || !v.evidence.as_ref().is_none_or(|filters| {
                    filters
                        .iter()
                        .any(|e| e.evidence_type == "electronic_record")
                })
            {
                continue;
            }
            let mut claims = Map::new();
            let mut names = Vec::new();
            let mut time = i64::MIN;
            for asked in &request.claims {
                let Some(held) = members.iter().find(|h| h.name == asked.name) else {
                    continue;
                };
                if asked
                    .values
                    .as_ref()
                    .is_some_and(|vs| !vs.contains(&held.value))
                    || claims.contains_key(&held.name)
                {
                    continue;
                }
                claims.insert(held.name.clone(), held.value.clone());
                names.push(held.name.clone());
                time = time.max(held.provenance.recorded_at);
            }
            if claims.is_empty() {
                continue;
            }
            if let Some(max_age) = v.time.as_ref().and_then(|t| t.max_age)
                && i128::from(now) - i128::from(time) > i128::from(max_age)
            {
                continue;
            }
            for name in names {
                if !released.claims.contains(&name) {
                    released.claims.push(name);
                }
            }
            let mut verification = Map::new();
            verification.insert("trust_framework".into(), json!(TRUST_FRAMEWORK));
            if v.assurance_level.is_some() {
                verification.insert(
                    "assurance_level".into(),
                    json!(provenance.level.assurance_level()),
                );
            }
            if v.time.is_some() {
                verification.insert("time".into(), json!(rfc3339(time)));
            }
            if v.verification_process.is_some() {
                verification.insert(
                    "verification_process".into(),
                    json!(provenance.verification_process),
                );
            }
            if v.evidence.is_some() {
                verification.insert(
                    "evidence".into(),
                    json!([{
                        "type": "electronic_record",
                        "record": {
                            "type": provenance.source_kind.as_str(),
                            "source": {"name": provenance.source},
                        },
                    }]),
                );
            }
            released
                .verified_claims
                .push(json!({"verification": verification, "claims": claims}));
        }
    }
    released
}

/// Same source and same verification: the grouping of the release JWT. The recording time is
/// not part of it (an element's `time` is the latest of its claims).
fn same_verification(a: &Provenance, b: &Provenance) -> bool {
    a.source_kind == b.source_kind
        && a.source == b.source
        && a.verification_process == b.verification_process
        && a.level == b.level
}
