//! Who receives a change: a department with an active `ongoing` consent covering the attribute
//! and a Cedar `receive` permit, decided now, at the level of assurance of the new value. The
//! departments must be active and have a delivery adapter configured. After a death, the
//! statutory recipients of the date of death (purpose `death-notification`, no consent) receive
//! it, and every other holder of an active `ongoing` consent is told that releases stopped.
//!
//! Pure: no I/O. The preview page and the outbox ask the same function, so what the citizen is
//! shown is what is written.
//!
//! INVARIANT: a [`Recipient`] — the promise to send new values — is built only from a
//! [`ReleaseGrant`], and lists only the attributes its grant lists. A [`Notice`] carries names,
//! never values. The worker decides again, with a fresh grant, when it sends (`worker`).

use consent::{Consent, Mode, State};
use policies::{PolicyEngine, ReleaseGrant, ReleaseRequest};

use crate::departments::Department;

/// The purpose statutory death notices are decided under.
pub const DEATH_NOTIFICATION: &str = "death-notification";

/// One changed attribute and the level of assurance of its new value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub name: String,
    pub loa: u8,
}

/// A department that will receive new values, under the grant that allows it now.
///
/// No public constructor: only [`for_change`] and [`for_death`] build one, from a grant.
#[derive(Debug)]
pub struct Recipient {
    grant: ReleaseGrant,
}

impl Recipient {
    pub fn department_id(&self) -> &str {
        self.grant.department()
    }

    pub fn purpose(&self) -> &str {
        self.grant.purpose()
    }

    /// The consent relied on (none for a statutory release).
    pub fn consent_id(&self) -> Option<String> {
        self.grant.consent_id().map(|id| id.to_string())
    }

    /// The attributes whose new values it receives: exactly the grant's.
    pub fn attributes(&self) -> Vec<String> {
        self.grant.attributes().map(str::to_owned).collect()
    }

    /// The permits behind it (for the audit record).
    pub fn policy_ids(&self) -> Vec<String> {
        self.grant
            .policy_ids()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }
}

/// A department that is told something without any value: releases stopped after a death.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub department_id: String,
    pub purpose: String,
    pub consent_id: String,
    /// The attributes the consent covered (names only).
    pub attributes: Vec<String>,
}

/// Who hears of one change.
#[derive(Debug, Default)]
pub struct Plan {
    pub recipients: Vec<Recipient>,
    pub notices: Vec<Notice>,
}

impl Plan {
    /// Departments told anything, values or not.
    pub fn len(&self) -> usize {
        self.recipients.len() + self.notices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every department told anything, in order (values first), with the purpose it is told under.
    pub fn departments(&self) -> Vec<(&str, &str)> {
        self.recipients
            .iter()
            .map(|r| (r.department_id(), r.purpose()))
            .chain(
                self.notices
                    .iter()
                    .map(|n| (n.department_id.as_str(), n.purpose.as_str())),
            )
            .collect()
    }
}

/// The departments that may receive pushed changes: active, with an adapter.
fn can_receive<'a>(departments: &'a [Department], id: &str) -> Option<&'a Department> {
    departments
        .iter()
        .find(|d| d.id == id && d.active && d.delivery.is_some())
}

/// Whether `consent` is one the relay pushes under: `ongoing` and active now.
fn live_ongoing(consent: &Consent, now_ms: i64) -> bool {
    consent.mode() == Mode::Ongoing && consent.effective_state(now_ms) == State::Active
}

/// The recipients of a change of `changed` for a citizen whose consents are `consents`: one per
/// department and consent, each consent granting only attributes no earlier consent of the same
/// department already granted (so a department covered twice receives the change once).
pub fn for_change(
    engine: &PolicyEngine,
    departments: &[Department],
    consents: &[Consent],
    changed: &[Changed],
    citizen_deceased: bool,
    now_ms: i64,
) -> Vec<Recipient> {
    // One change has one provenance; if it ever mixed levels, decide at the lowest.
    let loa = changed.iter().map(|c| c.loa).min().unwrap_or(1);
    let mut out: Vec<Recipient> = Vec::new();
    for consent in consents {
        if !live_ongoing(consent, now_ms)
            || can_receive(departments, consent.department()).is_none()
        {
            continue;
        }
        let already: Vec<String> = out
            .iter()
            .filter(|r| r.department_id() == consent.department())
            .flat_map(Recipient::attributes)
            .collect();
        let attributes: Vec<String> = changed
            .iter()
            .map(|c| c.name.clone())
            .filter(|name| !already.contains(name))
            .filter(|name| consent.covers(name, consent.purpose(), now_ms).is_covered())
            .collect();
        if attributes.is_empty() {
            continue;
        }
        let decision = engine.decide_receive(
            &ReleaseRequest {
                department: consent.department(),
                purpose: consent.purpose(),
                attributes: &attributes,
                loa,
                citizen_deceased,
                actor_is_delegate: false,
                now_ms,
            },
            Some(consent),
        );
        if let Ok(grant) = decision.into_grant() {
            out.push(Recipient { grant });
        }
    }
    out
}

/// The recipients of a death: the statutory recipients of `date_of_death`, then every other
/// holder of an active `ongoing` consent, with a notice that releases stopped (no value).
pub fn for_death(
    engine: &PolicyEngine,
    departments: &[Department],
    consents: &[Consent],
    loa: u8,
    now_ms: i64,
) -> Plan {
    let mut plan = Plan::default();
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
                actor_is_delegate: false,
                now_ms,
            },
            None,
        );
        if let Ok(grant) = decision.into_grant() {
            plan.recipients.push(Recipient { grant });
        }
    }
    for consent in consents {
        if !live_ongoing(consent, now_ms)
            || can_receive(departments, consent.department()).is_none()
            || plan
                .departments()
                .iter()
                .any(|(d, _)| *d == consent.department())
        {
            continue;
        }
        plan.notices.push(Notice {
            department_id: consent.department().to_owned(),
            purpose: consent.purpose().to_owned(),
            consent_id: consent.id().to_string(),
            attributes: consent.attributes().map(str::to_owned).collect(),
        });
    }
    plan
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
        assert_eq!(got[0].department_id(), "revenue-agency");
        assert_eq!(got[0].attributes(), ["address"]);
        assert_eq!(got[0].policy_ids(), ["revenue-address-benefits"]);
        assert_eq!(got[0].consent_id(), Some(consents[0].id().to_string()));
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
        assert_eq!(got.recipients[0].department_id(), "revenue-agency");
        assert_eq!(got.recipients[0].attributes(), ["date_of_death"]);
        assert_eq!(got.recipients[0].consent_id(), None);
        assert_eq!(got.notices[0].department_id, "health-insurance");
        assert_eq!(got.notices[0].attributes, ["address"]);
        // and no address is pushed to anyone once the citizen is deceased
        assert!(for_change(&engine, &departments, &consents, &address(3), true, DAY).is_empty());
    }
}
