//! Who receives a change: a department with an active `ongoing` consent covering the attribute
//! and a Cedar `receive` permit, decided now, at the level of assurance of the new value. The
//! departments must be active and have a delivery adapter configured. After a death, the
//! statutory recipients of the date of death (purpose `death-notification`, no consent) receive
//! it, and every other holder of an active `ongoing` consent is told that releases stopped.
//!
//! Pure: no I/O. The preview page and the outbox ask the same function, so what the citizen is
//! shown is what is written.

use consent::{Consent, Mode, State};
use policies::{PolicyEngine, ReleaseRequest};

use crate::departments::Department;

/// The purpose statutory death notices are decided under.
pub const DEATH_NOTIFICATION: &str = "death-notification";

/// One changed attribute and the level of assurance of its new value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub name: String,
    pub loa: u8,
}

/// What the relay will send one department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub department_id: String,
    pub purpose: Option<String>,
    pub consent_id: Option<String>,
    /// The attributes whose new values it receives (empty for a notice without values).
    pub attributes: Vec<String>,
    /// The permits behind it (for the audit record).
    pub policy_ids: Vec<String>,
    /// `true` for the notice that releases stopped (after a death), which carries no value.
    pub notice_only: bool,
}

/// The departments that may receive pushed changes: active, with an adapter.
fn can_receive<'a>(departments: &'a [Department], id: &str) -> Option<&'a Department> {
    departments
        .iter()
        .find(|d| d.id == id && d.active && d.delivery.is_some())
}

/// The recipients of a change of `changed` for a citizen whose consents are `consents`.
pub fn for_change(
    engine: &PolicyEngine,
    departments: &[Department],
    consents: &[Consent],
    changed: &[Changed],
    citizen_deceased: bool,
    now_ms: i64,
) -> Vec<Recipient> {
    let mut out: Vec<Recipient> = Vec::new();
    for consent in consents {
        if consent.mode() != Mode::Ongoing || consent.effective_state(now_ms) != State::Active {
            continue;
        }
        if can_receive(departments, consent.department()).is_none() {
            continue;
        }
        for item in changed {
            if !consent
                .covers(&item.name, consent.purpose(), now_ms)
                .is_covered()
            {
                continue;
            }
            let attributes = [item.name.clone()];
            let decision = engine.decide_receive(
                &ReleaseRequest {
                    department: consent.department(),
                    purpose: consent.purpose(),
                    attributes: &attributes,
                    loa: item.loa,
                    citizen_deceased,
                    now_ms,
                },
                Some(consent),
            );
            let Ok(grant) = decision.into_grant() else {
                continue;
            };
            let policy_ids: Vec<String> =
                grant.policy_ids().into_iter().map(str::to_owned).collect();
            add(
                &mut out,
                consent.department(),
                Some(consent.purpose()),
                Some(consent.id().to_string()),
                grant.attributes().map(str::to_owned).collect(),
                policy_ids,
            );
        }
    }
    out
}

fn add(
    out: &mut Vec<Recipient>,
    department: &str,
    purpose: Option<&str>,
    consent_id: Option<String>,
    attributes: Vec<String>,
    policy_ids: Vec<String>,
) {
    // One delivery per department and change, whatever the number of consents behind it.
    if let Some(existing) = out.iter_mut().find(|r| r.department_id == department) {
        for a in attributes {
            if !existing.attributes.contains(&a) {
                existing.attributes.push(a);
            }
        }
        for p in policy_ids {
            if !existing.policy_ids.contains(&p) {
                existing.policy_ids.push(p);
            }
        }
        return;
    }
    out.push(Recipient {
        department_id: department.to_owned(),
        purpose: purpose.map(str::to_owned),
        consent_id,
        attributes,
        policy_ids,
        notice_only: false,
    });
}

/// The recipients of a death: the statutory recipients of `date_of_death`, then every other
/// holder of an active `ongoing` consent, with a notice that releases stopped (no value).
pub fn for_death(
    engine: &PolicyEngine,
    departments: &[Department],
    consents: &[Consent],
    loa: u8,
    now_ms: i64,
) -> Vec<Recipient> {
    let mut out = Vec::new();
    let attributes = ["date_of_death".to_owned()];
    for department in departments
        .iter()
        .filter(|d| d.active && d.delivery.is_some())
    {
        let decision = engine.decide_receive(
            &ReleaseRequest {
                department: &department.id,
                purpose: DEATH_NOTIFICATION,
                attributes: &attributes,
                loa,
                citizen_deceased: true,
                now_ms,
            },
            None,
        );
        if let Ok(grant) = decision.into_grant() {
            let policy_ids = grant.policy_ids().into_iter().map(str::to_owned).collect();
            add(
                &mut out,
                &department.id,
                Some(DEATH_NOTIFICATION),
                None,
                grant.attributes().map(str::to_owned).collect(),
                policy_ids,
            );
        }
    }
    for consent in consents {
        if consent.mode() != Mode::Ongoing || consent.effective_state(now_ms) != State::Active {
            continue;
        }
        if can_receive(departments, consent.department()).is_none()
            || out.iter().any(|r| r.department_id == consent.department())
        {
            continue;
        }
        out.push(Recipient {
            department_id: consent.department().to_owned(),
            purpose: Some(consent.purpose().to_owned()),
            consent_id: Some(consent.id().to_string()),
            attributes: Vec::new(),
            policy_ids: Vec::new(),
            notice_only: true,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use consent::{Actor, Change, ConsentEvent, Uuid};
    use policies::PolicySource;

    const DAY: i64 = 86_400_000;

    fn department(id: &str, delivery: bool) -> Department {
        Department {
            id: id.into(),
            name_en: id.into(),
            name_fr: id.into(),
            sector_identifier: format!("{id}.example"),
            active: true,
            authoritative_for: Vec::new(),
            delivery: delivery
                .then(|| serde_json::json!({"kind": "push", "endpoint": "http://127.0.0.1:1/e"})),
        }
    }

    fn consent(department: &str, purpose: &str, mode: Mode, attributes: &[&str]) -> Consent {
        Consent::replay(
            Uuid::now_v7(),
            Uuid::now_v7(),
            department,
            purpose,
            mode,
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

    fn address(loa: u8) -> Vec<Changed> {
        vec![Changed {
            name: "address".into(),
            loa,
        }]
    }

    #[test]
    fn only_ongoing_active_consents_with_a_permit_and_an_adapter_receive() {
        let engine = PolicyEngine::load(PolicySource::EMBEDDED).unwrap();
        let departments = [
            department("revenue-agency", true),
            department("health-insurance", true),
            department("employment-social-development", false),
            department("passport-office", true),
        ];
        let consents = [
            consent(
                "revenue-agency",
                "benefit-eligibility",
                Mode::Ongoing,
                &["address"],
            ),
            // once: not pushed
            consent(
                "health-insurance",
                "health-coverage-administration",
                Mode::Once,
                &["address"],
            ),
            // no adapter
            consent(
                "employment-social-development",
                "pension-enrolment",
                Mode::Ongoing,
                &["address"],
            ),
        ];
        let got = for_change(&engine, &departments, &consents, &address(2), false, DAY);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].department_id, "revenue-agency");
        assert_eq!(got[0].attributes, ["address"]);
        assert_eq!(got[0].policy_ids, ["revenue-address-benefits"]);
        // below the policy's assurance: nobody
        assert!(for_change(&engine, &departments, &consents, &address(1), false, DAY).is_empty());
        // after the consent's expiry: nobody
        assert!(
            for_change(
                &engine,
                &departments,
                &consents,
                &address(2),
                false,
                31 * DAY
            )
            .is_empty()
        );
        // a consent not covering the attribute: nobody
        let email = [Changed {
            name: "email".into(),
            loa: 3,
        }];
        assert!(for_change(&engine, &departments, &consents, &email, false, DAY).is_empty());
    }

    #[test]
    fn a_death_goes_to_statutory_recipients_and_stops_the_others() {
        let engine = PolicyEngine::load(PolicySource::EMBEDDED).unwrap();
        let departments = [
            department("revenue-agency", true),
            department("health-insurance", true),
        ];
        let consents = [consent(
            "health-insurance",
            "health-coverage-administration",
            Mode::Ongoing,
            &["address"],
        )];
        let got = for_death(&engine, &departments, &consents, 3, DAY);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].department_id, "revenue-agency");
        assert_eq!(got[0].attributes, ["date_of_death"]);
        assert!(!got[0].notice_only);
        assert_eq!(got[1].department_id, "health-insurance");
        assert!(got[1].notice_only && got[1].attributes.is_empty());
        // and no address is pushed to anyone once the citizen is deceased
        assert!(for_change(&engine, &departments, &consents, &address(3), true, DAY).is_empty());
    }
}
