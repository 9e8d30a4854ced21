//! One decision: evaluate each attribute with the real context, then, on a deny, re-evaluate
//! with hypothetical contexts to say precisely why.

use std::collections::HashSet;

use cedar_policy::{Context, Decision, EntityUid, PolicySet, Request, RestrictedExpression};
use consent::Consent;

use super::{PolicyEngine, load};
use crate::decision::{
    AttributeOutcome, Channel, Denial, ReleaseDecision, ReleaseRequest, Verdict, WithheldCode,
};
use crate::grant::{
    ConsentProof, ConsentStatus, GrantedAttribute, ReleaseGrant, Unjustified, justify,
};

/// The highest level of assurance; used for the "would a higher LoA help?" re-evaluation.
const MAX_LOA: u8 = 4;

/// The parts of the Cedar context that vary between the real and hypothetical evaluations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Facts {
    consent: ConsentStatus,
    loa: u8,
}

/// The fixed parts of one attribute's evaluation.
struct Subject<'a> {
    /// The policies that can apply to this department and attribute.
    policies: &'a PolicySet,
    action: &'a EntityUid,
    principal: EntityUid,
    resource: &'a EntityUid,
    purpose: &'a EntityUid,
    citizen_deceased: bool,
    actor_is_delegate: bool,
    now_ms: i64,
}

/// What Cedar said, reduced to what the decision needs.
struct Answer {
    allowed: bool,
    /// Satisfied policies: permits on allow, forbids on deny. Sorted.
    reasons: Vec<String>,
    /// Policies that failed to evaluate. Sorted.
    errored: Vec<String>,
}

impl PolicyEngine {
    pub(super) fn decide_on(
        &self,
        channel: Channel,
        request: &ReleaseRequest<'_>,
        consent: Option<&Consent>,
    ) -> ReleaseDecision {
        let mut granted = Vec::new();
        let mut outcomes: Vec<AttributeOutcome> = Vec::new();
        let mut seen = HashSet::with_capacity(request.attributes.len());
        for attribute in request.attributes {
            if !seen.insert(attribute.as_str()) {
                continue;
            }
            let verdict = match self.decide_attribute(channel, request, consent, attribute) {
                Ok(justified) => {
                    let verdict = Verdict::Granted {
                        policy_ids: justified.policy_ids().to_vec(),
                        legal_bases: justified.legal_bases().to_vec(),
                    };
                    granted.push(justified);
                    verdict
                }
                Err(unjustified) => Verdict::Withheld {
                    code: unjustified.code,
                    policy_ids: unjustified.policy_ids,
                },
            };
            outcomes.push(AttributeOutcome {
                attribute: attribute.clone(),
                verdict,
            });
        }
        match ReleaseGrant::assemble(
            request.department,
            request.purpose,
            channel,
            granted,
            outcomes,
        ) {
            Ok(grant) => ReleaseDecision::Release(grant),
            Err(outcomes) => ReleaseDecision::Deny(Denial {
                department: request.department.to_owned(),
                purpose: request.purpose.to_owned(),
                channel,
                outcomes,
            }),
        }
    }

    fn decide_attribute(
        &self,
        channel: Channel,
        request: &ReleaseRequest<'_>,
        consent: Option<&Consent>,
        attribute: &str,
    ) -> Result<GrantedAttribute, Unjustified> {
        let withheld = |code| Unjustified {
            code,
            policy_ids: Vec::new(),
        };
        let purpose = self
            .uids
            .purposes
            .get(request.purpose)
            .ok_or_else(|| withheld(WithheldCode::PurposeUnknown))?;
        let resource = self
            .uids
            .attributes
            .get(attribute)
            .ok_or_else(|| withheld(WithheldCode::AttributeUnknown))?;
        // A department missing from the catalogue is still evaluated: deny by default decides.
        let principal = match self.uids.departments.get(request.department) {
            Some(uid) => uid.clone(),
            None => load::uid(load::DEPARTMENT, request.department)
                .map_err(|_| withheld(WithheldCode::PolicyDenied))?,
        };
        let policies = self
            .slices
            .get(request.department)
            .and_then(|by_attribute| by_attribute.get(attribute))
            .unwrap_or(&self.policies);
        let subject = Subject {
            policies,
            action: match channel {
                Channel::Pull => &self.uids.release,
                Channel::Push => &self.uids.receive,
            },
            principal,
            resource,
            purpose,
            citizen_deceased: request.citizen_deceased,
            actor_is_delegate: request.actor_is_delegate,
            now_ms: request.now_ms,
        };
        let proof = ConsentProof::check(
            consent,
            request.department,
            request.purpose,
            channel,
            attribute,
            request.now_ms,
        );
        let facts = Facts {
            consent: match &proof {
                Ok(_) => ConsentStatus::Active,
                Err(status) => *status,
            },
            loa: request.loa.clamp(1, MAX_LOA),
        };

        let answer = self.evaluate(&subject, facts);
        if answer.allowed {
            let permits: Vec<&_> = answer
                .reasons
                .iter()
                .filter_map(|id| self.permits.get(id))
                .collect();
            return justify(attribute, &permits, proof, facts.loa);
        }
        Err(self.explain_deny(&subject, facts, answer))
    }

    /// Why Cedar denied: a forbid (with its `@code`), or — by asking again with the consent
    /// active and/or the highest assurance — a missing consent or insufficient assurance, or
    /// else a plain policy deny.
    fn explain_deny(&self, subject: &Subject<'_>, facts: Facts, answer: Answer) -> Unjustified {
        if !answer.reasons.is_empty() {
            let code = answer
                .reasons
                .iter()
                .find_map(|id| self.forbid_codes.get(id).copied())
                .unwrap_or(WithheldCode::PolicyDenied);
            return Unjustified {
                code,
                policy_ids: answer.reasons,
            };
        }
        let with_consent = Facts {
            consent: ConsentStatus::Active,
            ..facts
        };
        let with_assurance = Facts {
            loa: MAX_LOA,
            ..facts
        };
        let with_both = Facts {
            consent: ConsentStatus::Active,
            loa: MAX_LOA,
        };
        let consent_missing = facts.consent != ConsentStatus::Active;
        let assurance_short = facts.loa < MAX_LOA;
        let hypotheses = [
            (consent_missing, with_consent, facts.consent.withheld_code()),
            (
                assurance_short,
                with_assurance,
                WithheldCode::InsufficientAssurance,
            ),
            // Both missing: consent is what the citizen must act on first.
            (
                consent_missing && assurance_short,
                with_both,
                facts.consent.withheld_code(),
            ),
        ];
        for (applies, hypothetical, code) in hypotheses {
            if !applies {
                continue;
            }
            let would = self.evaluate(subject, hypothetical);
            if would.allowed {
                return Unjustified {
                    code,
                    policy_ids: would.reasons,
                };
            }
        }
        Unjustified {
            code: WithheldCode::PolicyDenied,
            policy_ids: answer.errored,
        }
    }

    /// One Cedar evaluation. Fails closed: a request that cannot be built is a deny.
    fn evaluate(&self, subject: &Subject<'_>, facts: Facts) -> Answer {
        let denied = Answer {
            allowed: false,
            reasons: Vec::new(),
            errored: Vec::new(),
        };
        let Some(context) = context(subject, facts) else {
            return denied;
        };
        let Ok(request) = Request::new(
            subject.principal.clone(),
            subject.action.clone(),
            subject.resource.clone(),
            context,
            // The context is built here to the schema's shape (a test checks it against the
            // schema); skipping per-request validation keeps a decision in microseconds.
            None,
        ) else {
            return denied;
        };
        let response = self
            .authorizer
            .is_authorized(&request, subject.policies, &self.entities);
        let diagnostics = response.diagnostics();
        let mut reasons: Vec<String> = diagnostics.reason().map(|id| id.to_string()).collect();
        let mut errored: Vec<String> = diagnostics
            .errors()
            .map(|error| match error {
                cedar_policy::AuthorizationError::PolicyEvaluationError(error) => {
                    error.policy_id().to_string()
                }
            })
            .collect();
        reasons.sort();
        errored.sort();
        Answer {
            allowed: response.decision() == Decision::Allow,
            reasons,
            errored,
        }
    }

    /// The real context of a request, checked against the schema (for tests).
    #[cfg(test)]
    pub(super) fn context_matches_schema(&self, schema: &cedar_policy::Schema) -> bool {
        let Some(purpose) = self.uids.purposes.values().next() else {
            return false;
        };
        let Some(resource) = self.uids.attributes.values().next() else {
            return false;
        };
        let Some(principal) = self.uids.departments.values().next() else {
            return false;
        };
        let subject = Subject {
            policies: &self.policies,
            action: &self.uids.release,
            principal: principal.clone(),
            resource,
            purpose,
            citizen_deceased: false,
            actor_is_delegate: false,
            now_ms: 0,
        };
        let facts = Facts {
            consent: ConsentStatus::None,
            loa: 2,
        };
        context(&subject, facts).is_some_and(|context| {
            Request::new(
                subject.principal.clone(),
                subject.action.clone(),
                subject.resource.clone(),
                context,
                Some(schema),
            )
            .is_ok()
        })
    }
}

fn context(subject: &Subject<'_>, facts: Facts) -> Option<Context> {
    Context::from_pairs([
        (
            "purpose".to_owned(),
            RestrictedExpression::new_entity_uid(subject.purpose.clone()),
        ),
        (
            "consent".to_owned(),
            RestrictedExpression::new_string(facts.consent.as_str().to_owned()),
        ),
        (
            "loa".to_owned(),
            RestrictedExpression::new_long(i64::from(facts.loa)),
        ),
        (
            "citizen_deceased".to_owned(),
            RestrictedExpression::new_bool(subject.citizen_deceased),
        ),
        (
            "now".to_owned(),
            RestrictedExpression::new_long(subject.now_ms),
        ),
        (
            "actor_is_delegate".to_owned(),
            RestrictedExpression::new_bool(subject.actor_is_delegate),
        ),
    ])
    .ok()
}
