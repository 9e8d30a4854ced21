//! What a citizen can consent to: the Cedar policies decide. An attribute is *consentable* for a
//! department and purpose when the policies withhold it without a consent (`no_consent`) and
//! release it with one, at the highest level of assurance (the assurance actually reached is the
//! release path's to check). For an `ongoing` consent, pushing the changes must be allowed too.
//!
//! Department requests and citizens' own grants are both checked here, so neither can record a
//! consent that no policy would ever honour, nor ask consent for what a statute already allows.

use std::collections::BTreeSet;

use consent::{Actor, Change, Consent, ConsentEvent, DAY_MS, Mode, Uuid};
use policies::{PolicyEngine, ReleaseDecision, ReleaseRequest, WithheldCode};

/// The highest level of assurance: consentability does not depend on how the citizen signed in.
const BEST_LOA: u8 = 4;

/// One department and purpose a citizen may consent to, with the attributes they may share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub department: String,
    pub purpose: String,
    pub attributes: BTreeSet<String>,
}

/// The subset of `candidates` that `department` may receive for `purpose` by consent in `mode`.
pub fn consentable(
    engine: &PolicyEngine,
    department: &str,
    purpose: &str,
    mode: Mode,
    candidates: &BTreeSet<String>,
    now_ms: i64,
) -> BTreeSet<String> {
    consentable_by(engine, department, purpose, mode, candidates, now_ms, false)
}

/// [`consentable`], when the consent would be given by a representative (a delegate acting for
/// the citizen, Cedar's `context.actor_is_delegate`) or not.
pub fn consentable_by(
    engine: &PolicyEngine,
    department: &str,
    purpose: &str,
    mode: Mode,
    candidates: &BTreeSet<String>,
    now_ms: i64,
    actor_is_delegate: bool,
) -> BTreeSet<String> {
    if candidates.is_empty() {
        return BTreeSet::new();
    }
    let asked: Vec<String> = candidates.iter().cloned().collect();
    let request = ReleaseRequest {
        department,
        purpose,
        attributes: &asked,
        loa: BEST_LOA,
        citizen_deceased: false,
        actor_is_delegate,
        now_ms,
    };
    // A consent that covers every candidate, as if the citizen had just granted it.
    let probe = Consent::replay(
        Uuid::nil(),
        Uuid::nil(),
        department,
        purpose,
        mode,
        [ConsentEvent::new(
            1,
            Actor::system("policy-probe"),
            now_ms,
            Change::Granted {
                attributes: candidates.clone(),
                expires_at_ms: now_ms.saturating_add(DAY_MS),
            },
        )],
    );
    let Ok(probe) = probe else {
        return BTreeSet::new();
    };
    let without = engine.decide(&request, None);
    let with_pull = engine.decide(&request, Some(&probe));
    let with_push = (mode == Mode::Ongoing).then(|| engine.decide_receive(&request, Some(&probe)));
    candidates
        .iter()
        .filter(|name| {
            withheld(&without, name) == Some(WithheldCode::NoConsent)
                && granted(&with_pull, name)
                && with_push.as_ref().is_none_or(|d| granted(d, name))
        })
        .cloned()
        .collect()
}

fn withheld(decision: &ReleaseDecision, attribute: &str) -> Option<WithheldCode> {
    decision
        .outcomes()
        .iter()
        .find(|o| o.attribute == attribute)
        .and_then(|o| o.withheld_code())
}

fn granted(decision: &ReleaseDecision, attribute: &str) -> bool {
    decision
        .outcomes()
        .iter()
        .any(|o| o.attribute == attribute && o.withheld_code().is_none())
}

/// Every department and purpose a citizen may consent to on their own initiative, with the
/// attributes each allows, in catalogue order.
pub fn offers(engine: &PolicyEngine, now_ms: i64) -> Vec<Offer> {
    let catalogue = engine.catalogue();
    let all: BTreeSet<String> = catalogue
        .attributes()
        .iter()
        .map(|a| a.name.clone())
        .collect();
    let mut out = Vec::new();
    for department in catalogue.departments() {
        for purpose in catalogue.purposes() {
            let attributes = consentable(
                engine,
                &department.id,
                &purpose.code,
                Mode::Once,
                &all,
                now_ms,
            );
            if !attributes.is_empty() {
                out.push(Offer {
                    department: department.id.clone(),
                    purpose: purpose.code.clone(),
                    attributes,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use policies::PolicySource;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn consentable_follows_the_policies() {
        let engine = PolicyEngine::load(PolicySource::EMBEDDED).unwrap();
        let now = 1_800_000_000_000;
        let asked = set(&["birthdate", "address", "email", "date_of_death"]);
        let got = consentable(
            &engine,
            "employment-social-development",
            "pension-enrolment",
            Mode::Ongoing,
            &asked,
            now,
        );
        assert_eq!(got, set(&["address", "birthdate"]));
        // The statutory death notification needs no consent, so none is offered.
        let statutory = consentable(
            &engine,
            "revenue-agency",
            "death-notification",
            Mode::Once,
            &set(&["date_of_death"]),
            now,
        );
        assert!(statutory.is_empty());
        let offers = offers(&engine, now);
        assert!(
            offers
                .iter()
                .any(|o| o.department == "employment-social-development"
                    && o.purpose == "pension-enrolment"
                    && o.attributes.contains("birthdate"))
        );
        assert!(
            offers.iter().all(|o| o.purpose != "death-notification"),
            "{offers:?}"
        );
    }
}
