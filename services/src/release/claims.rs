//! The signed answer to an attribute request: a JWT whose `verified_claims` (OpenID Connect for
//! Identity Assurance 1.0) hold the released values, grouped by where each came from.
//!
//! [`build`] is the only code that puts attribute values into a response, and it takes
//! [`Grants`] by value: it cannot be called without a policy decision that released something,
//! and it reads only the attributes the grants list.

use serde::Serialize;
use serde_json::{Map, Value};

use super::decide::{Grants, UNAVAILABLE, Withheld};
use crate::citizens::{Fact, SourceKind};

/// The JWT header `typ` of a release (explicit typing, RFC 8725 §3.11).
pub const RELEASE_TYP: &str = "release+jwt";
/// How long a release JWT is valid: enough to receive and check it, not to pass it around.
pub const RELEASE_TTL_SECS: i64 = 300;
/// The trust framework named in `verification`: the Pan-Canadian Trust Framework, whose levels of
/// assurance 1–4 the broker records with every value.
pub const TRUST_FRAMEWORK: &str = "pctf";

/// The claims of a release JWT.
#[derive(Debug, Serialize)]
pub struct ReleaseClaims {
    pub iss: String,
    /// The department's client.
    pub aud: String,
    /// The department's pairwise subject id.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub purpose: String,
    /// The consent relied on; absent for a statutory release.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_id: Option<String>,
    /// The id of this release's audit record.
    pub txn: String,
    pub verified_claims: Vec<VerifiedClaims>,
    /// Claims asked for and not released, with codes (never values). Always present.
    pub withheld: Vec<Withheld>,
    /// The newest audit checkpoint an independent witness cosigned when this was released:
    /// evidence the department keeps that the log had that size and root (docs/audit.md).
    /// Absent while no witness has cosigned one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<CheckpointClaim>,
    /// RFC 8693 §4.1: the consent this release rests on was given by a delegate acting for the
    /// citizen; names the delegate by the recipient's pairwise subject (docs/delegation.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub act: Option<ActClaim>,
}

/// `act` (RFC 8693 §4.1): who acted for the subject, in the recipient's pairwise terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActClaim {
    pub sub: String,
}

/// `checkpoint`: a witnessed tree size and its root hash (hex, as in `/api/v1/audit/checkpoints`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointClaim {
    pub size: u64,
    pub root: String,
}

/// One `verified_claims` element: the values that share one source and verification.
#[derive(Debug, Serialize)]
pub struct VerifiedClaims {
    pub verification: Verification,
    pub claims: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub trust_framework: &'static str,
    /// `loa1` … `loa4`.
    pub assurance_level: String,
    /// When the source established the values (RFC 3339, UTC): the latest in the group.
    pub time: String,
    /// How: `asserted` (a credential provider at sign-in), `registry`, `document`,
    /// `self-declared`, …
    pub verification_process: String,
    pub evidence: Vec<Evidence>,
}

/// An `electronic_record` evidence naming the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub record: EvidenceRecord,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceRecord {
    /// `credential_provider`, `department_register` or `citizen_declaration`.
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// The provider's or department's id, or `citizen`.
    pub name: String,
}

/// Who the release is for and its bookkeeping, everything but the values.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub issuer: String,
    pub client_id: String,
    pub subject: String,
    pub purpose: String,
    pub txn: String,
    pub jti: String,
    pub now_s: i64,
    /// The newest witnessed checkpoint, if any.
    pub checkpoint: Option<CheckpointClaim>,
}

/// A built release: the claims to sign and the names of what they carry.
#[derive(Debug)]
pub struct Release {
    pub claims: ReleaseClaims,
    /// The attributes whose values are in `claims`, in the order asked.
    pub released: Vec<String>,
}

fn record_type(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Provider => "credential_provider",
        SourceKind::Department => "department_register",
        SourceKind::Citizen => "citizen_declaration",
    }
}

/// The facts `grants` permit, in the order given: what the OpenID Provider answers from (its ID
/// tokens and userinfo carry `verified_claims` built by `fapi::claims`). Like [`build`], it takes
/// the grants by value, and keeps only facts of an attribute they list.
pub fn granted_facts(grants: Grants, facts: Vec<Fact>) -> Vec<Fact> {
    let grants = grants.into_inner();
    // INVARIANT: a value leaves only for a name the grants list.
    facts
        .into_iter()
        .filter(|f| {
            grants
                .iter()
                .any(|g| g.attributes().any(|a| a == f.attribute))
        })
        .collect()
}

/// Builds the release from `grants`: the current value of each granted attribute, grouped by
/// provenance; granted attributes without a value are withheld as `unavailable`. `withheld` are
/// the claims the policy withheld; `asked` orders the result.
pub fn build(
    grants: Grants,
    facts: Vec<Fact>,
    withheld: Vec<Withheld>,
    asked: &[String],
    envelope: Envelope,
) -> Release {
    let grants = grants.into_inner();
    let consent_id = grants
        .iter()
        .find_map(|g| g.consent_id())
        .map(|id| id.to_string());
    let granted: Vec<String> = grants
        .iter()
        .flat_map(|g| g.attributes().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    let mut withheld = withheld;
    let mut released = Vec::new();
    let mut groups: Vec<(Verification, i64, Map<String, Value>)> = Vec::new();
    let mut facts = facts;
    for name in asked.iter().filter(|a| granted.contains(a)) {
        // INVARIANT: a value leaves only for a name the grants list.
        let Some(index) = facts.iter().position(|f| &f.attribute == name) else {
            withheld.push(Withheld {
                claim: name.clone(),
                code: UNAVAILABLE,
            });
            continue;
        };
        let fact = facts.swap_remove(index);
        let p = &fact.provenance;
        let verification = Verification {
            trust_framework: TRUST_FRAMEWORK,
            assurance_level: format!("loa{}", p.loa),
            time: String::new(),
            verification_process: p.method.clone(),
            evidence: vec![Evidence {
                type_: "electronic_record",
                record: EvidenceRecord {
                    type_: record_type(p.source_kind),
                    source: Source {
                        name: p.source_id.clone(),
                    },
                },
            }],
        };
        let recorded_at = p.recorded_at;
        match groups.iter_mut().find(|(v, _, _)| *v == verification) {
            Some((_, latest, claims)) => {
                *latest = (*latest).max(recorded_at);
                claims.insert(fact.attribute.clone(), fact.value);
            }
            None => {
                let mut claims = Map::new();
                claims.insert(fact.attribute.clone(), fact.value);
                groups.push((verification, recorded_at, claims));
            }
        }
        released.push(name.clone());
    }
    withheld.sort_by_key(|w| asked.iter().position(|a| *a == w.claim));
    let verified_claims = groups
        .into_iter()
        .map(|(mut verification, latest, claims)| {
            verification.time = consent::rfc3339_utc(latest);
            VerifiedClaims {
                verification,
                claims,
            }
        })
        .collect();
    Release {
        claims: ReleaseClaims {
            iss: envelope.issuer,
            aud: envelope.client_id,
            sub: envelope.subject,
            iat: envelope.now_s,
            exp: envelope.now_s + RELEASE_TTL_SECS,
            jti: envelope.jti,
            purpose: envelope.purpose,
            consent_id,
            txn: envelope.txn,
            verified_claims,
            withheld,
            checkpoint: envelope.checkpoint,
            act: None,
        },
        released,
    }
}
