//! The decision for one attribute request: each claim is decided at the level of assurance of
//! the value that would be released (its provenance LoA), under the citizen's best consent for
//! the department and purpose.
//!
//! Claims are grouped by that LoA and the policy engine decides each group, so the cost is one
//! Cedar evaluation per claim, as for a single decision. A claim with no stored value is decided
//! at the highest LoA: if policy would release it, it is withheld as `unavailable`; if not, the
//! policy's own code is reported, so a department learns nothing about values it may not have.

use consent::Consent;
use policies::{PolicyEngine, ReleaseGrant, ReleaseRequest};
use serde::Serialize;

use crate::citizens::Fact;

/// The highest level of assurance (Pan-Canadian Trust Framework).
pub const MAX_LOA: u8 = 4;

/// The code of a claim the policy would release but for which no value is held.
pub const UNAVAILABLE: &str = "unavailable";

/// What is being decided.
#[derive(Debug, Clone, Copy)]
pub struct Question<'a> {
    pub department: &'a str,
    pub purpose: &'a str,
    /// Distinct claim names, in the order asked.
    pub claims: &'a [String],
    pub citizen_deceased: bool,
    pub now_ms: i64,
}

/// A claim not released, and why (a stable code, never a value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Withheld {
    pub claim: String,
    /// A policy code (`no_consent`, `insufficient_assurance`, …) or `unavailable`.
    pub code: &'static str,
}

/// The grants of one request, one per level of assurance that released something.
///
/// INVARIANT: never empty. Only [`decide`] builds one, and only from `ReleaseGrant`s, which only
/// the policy engine can make: holding `Grants` is holding permission to release.
#[derive(Debug)]
pub struct Grants(Vec<ReleaseGrant>);

impl Grants {
    /// Spends the grants: each one, by value.
    pub fn into_inner(self) -> Vec<ReleaseGrant> {
        self.0
    }
}

/// The outcome of [`decide`].
#[derive(Debug)]
pub enum Decided {
    /// At least one claim may be released.
    Release {
        grants: Grants,
        /// Claims withheld by policy, in the order asked.
        withheld: Vec<Withheld>,
        /// The permits behind the granted claims, deduplicated.
        policy_ids: Vec<String>,
    },
    /// Nothing may be released.
    Deny {
        /// Every claim, in the order asked.
        withheld: Vec<Withheld>,
        /// The distinct codes, in the order first met.
        codes: Vec<&'static str>,
        /// The policies behind the denial (forbids that fired, permits that would have allowed it).
        policy_ids: Vec<String>,
    },
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// Decides `question`, given the current `facts` of the asked claims and the consent to judge by.
pub fn decide(
    engine: &PolicyEngine,
    question: &Question<'_>,
    facts: &[Fact],
    consent: Option<&Consent>,
) -> Decided {
    let mut groups: Vec<(u8, Vec<String>)> = Vec::new();
    for claim in question.claims {
        let loa = facts
            .iter()
            .find(|f| &f.attribute == claim)
            .map_or(MAX_LOA, |f| f.provenance.loa.clamp(1, MAX_LOA));
        match groups.iter_mut().find(|(l, _)| *l == loa) {
            Some((_, names)) => names.push(claim.clone()),
            None => groups.push((loa, vec![claim.clone()])),
        }
    }
    let mut grants = Vec::new();
    let mut withheld: Vec<Withheld> = Vec::new();
    let mut granted_ids: Vec<String> = Vec::new();
    let mut denied_ids: Vec<String> = Vec::new();
    for (loa, attributes) in &groups {
        let decision = engine.decide(
            &ReleaseRequest {
                department: question.department,
                purpose: question.purpose,
                attributes,
                loa: *loa,
                citizen_deceased: question.citizen_deceased,
                actor_is_delegate: false,
                now_ms: question.now_ms,
            },
            consent,
        );
        for outcome in decision.outcomes() {
            match outcome.withheld_code() {
                Some(code) => {
                    withheld.push(Withheld {
                        claim: outcome.attribute.clone(),
                        code: code.as_str(),
                    });
                    for id in outcome.policy_ids() {
                        push_unique(&mut denied_ids, id.clone());
                    }
                }
                None => {
                    for id in outcome.policy_ids() {
                        push_unique(&mut granted_ids, id.clone());
                    }
                }
            }
        }
        if let Ok(grant) = decision.into_grant() {
            grants.push(grant);
        }
    }
    withheld.sort_by_key(|w| question.claims.iter().position(|c| *c == w.claim));
    if grants.is_empty() {
        let mut codes = Vec::new();
        for w in &withheld {
            push_unique(&mut codes, w.code);
        }
        return Decided::Deny {
            withheld,
            codes,
            policy_ids: denied_ids,
        };
    }
    Decided::Release {
        grants: Grants(grants),
        withheld,
        policy_ids: granted_ids,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::citizens::{Provenance, SourceKind};
    use consent::{Actor, Change, ConsentEvent, Mode, Uuid};
    use policies::PolicySource;

    const DAY: i64 = 86_400_000;
    const ESD: &str = "employment-social-development";

    fn fact(attribute: &str, loa: u8) -> Fact {
        Fact {
            attribute: attribute.into(),
            version: 1,
            value: serde_json::json!("x"),
            provenance: Provenance {
                source_kind: SourceKind::Provider,
                source_id: "bank".into(),
                method: "asserted".into(),
                loa,
                verified: true,
                recorded_at: 0,
            },
        }
    }

    fn granted(attributes: &[&str]) -> Consent {
        Consent::replay(
            Uuid::now_v7(),
            Uuid::now_v7(),
            ESD,
            "pension-enrolment",
            Mode::Once,
            [ConsentEvent::new(
                1,
                Actor::citizen("c"),
                0,
                Change::Granted {
                    attributes: attributes.iter().map(|s| s.to_string()).collect(),
                    expires_at_ms: 30 * DAY,
                },
            )],
        )
        .unwrap()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_claim_is_decided_at_its_own_values_assurance() {
        let engine = PolicyEngine::load(PolicySource::EMBEDDED).unwrap();
        let claims = names(&["birthdate", "marital_status", "family_name"]);
        let consent = granted(&["birthdate", "marital_status", "family_name"]);
        let question = Question {
            department: ESD,
            purpose: "pension-enrolment",
            claims: &claims,
            citizen_deceased: false,
            now_ms: DAY,
        };
        // marital_status needs LoA 3; its value is LoA 2. birthdate is LoA 3 and needs 2.
        let facts = [fact("birthdate", 3), fact("marital_status", 2)];
        let Decided::Release {
            grants,
            withheld,
            policy_ids,
        } = decide(&engine, &question, &facts, Some(&consent))
        else {
            panic!("expected a release");
        };
        let released: Vec<String> = grants
            .into_inner()
            .iter()
            .flat_map(|g| g.attributes().map(str::to_owned).collect::<Vec<_>>())
            .collect();
        // family_name has no value: decided at LoA 4 and granted (then reported unavailable).
        assert_eq!(released, ["birthdate", "family_name"]);
        assert_eq!(
            withheld,
            [Withheld {
                claim: "marital_status".into(),
                code: "insufficient_assurance"
            }]
        );
        assert_eq!(policy_ids, ["esd-identity-pension"]);
    }

    #[test]
    fn nothing_granted_is_a_denial_with_every_code() {
        let engine = PolicyEngine::load(PolicySource::EMBEDDED).unwrap();
        let claims = names(&["address", "email"]);
        let question = Question {
            department: ESD,
            purpose: "pension-enrolment",
            claims: &claims,
            citizen_deceased: false,
            now_ms: DAY,
        };
        let Decided::Deny {
            withheld, codes, ..
        } = decide(&engine, &question, &[fact("address", 2)], None)
        else {
            panic!("expected a denial");
        };
        assert_eq!(codes, ["no_consent", "policy_denied"]);
        assert_eq!(withheld[0].claim, "address");
        assert_eq!(withheld[1].claim, "email");
        // A deceased citizen: the forbid's code, whatever the consent says.
        let dead = Question {
            citizen_deceased: true,
            claims: &claims[..1],
            ..question
        };
        let consent = granted(&["address"]);
        let Decided::Deny { codes, .. } =
            decide(&engine, &dead, &[fact("address", 3)], Some(&consent))
        else {
            panic!("expected a denial");
        };
        assert_eq!(codes, ["subject_deceased"]);
    }
}
