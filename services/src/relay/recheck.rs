//! The decision at the moment of sending. A delivery was planned when its change was recorded;
//! by the time it goes out the consent may have been withdrawn or have lapsed, the department
//! disabled, the citizen erased or deceased, or the policies changed. So every delivery is
//! decided again, from fresh reads, just before its SET is built: a delivery of new values goes
//! out only with a `ReleaseGrant` made now, and carries only what that grant lists.
//!
//! INVARIANT: [`Verdict::Values`] is the only way to a SET with values (`set::disclosure` takes
//! its grant), and it is built only from `PolicyEngine::decide_receive` on the consent as stored
//! now. Anything unreadable is an error, never a default.

use std::collections::HashMap;

use consent::Consent;
use policies::{PolicyEngine, ReleaseGrant, ReleaseRequest};

use super::EventKind;
use super::entities::{change, delivery};
use super::set::{self, BuildError};
use crate::citizens::{Citizen, Status};
use crate::departments::Department;

/// What to do with one claimed delivery.
#[derive(Debug)]
pub enum Verdict {
    /// Send these values: exactly what the grant lists.
    Values(ReleaseGrant),
    /// Send a notice without values.
    Notice,
    /// Do not send, ever: the code says why (`consent_revoked`, `department_disabled`, …).
    Cancel(&'static str),
}

/// Decides `delivery` now, from fresh reads: `citizen` is `None` when the citizen row is gone,
/// `consents` holds the consents the batch's deliveries were queued under, as stored now.
pub fn decide(
    engine: &PolicyEngine,
    delivery: &delivery::Model,
    change: &change::Model,
    department: &Department,
    citizen: Option<&Citizen>,
    consents: &HashMap<String, Consent>,
    now_ms: i64,
) -> Result<Verdict, BuildError> {
    let kind = EventKind::parse(&delivery.event).ok_or(BuildError::Corrupt)?;
    if !department.active {
        return Ok(Verdict::Cancel("department_disabled"));
    }
    let Some(citizen) = citizen.filter(|c| c.status != Status::Erased) else {
        return Ok(Verdict::Cancel("citizen_erased"));
    };
    if !kind.carries_values() {
        return Ok(Verdict::Notice);
    }
    let purpose = delivery.purpose.as_deref().ok_or(BuildError::Corrupt)?;
    let consent = match &delivery.consent_id {
        Some(id) => match consents.get(id) {
            Some(consent) => Some(consent),
            // A consent row never goes away; one that did is not one to send under.
            None => return Ok(Verdict::Cancel("no_consent")),
        },
        None => None,
    };
    if consent.is_some_and(|c| c.citizen().to_string() != delivery.citizen_id) {
        return Err(BuildError::Corrupt);
    }
    let attributes = set::names(delivery)?;
    let loa = u8::try_from(change.loa)
        .ok()
        .filter(|l| (1..=4).contains(l))
        .ok_or(BuildError::Corrupt)?;
    Ok(judge(
        engine,
        &ReleaseRequest {
            department: &department.id,
            purpose,
            attributes: &attributes,
            loa,
            citizen_deceased: citizen.status == Status::Deceased,
            actor_is_delegate: false,
            now_ms,
        },
        consent,
    ))
}

/// The policy's answer for a push now: a grant, or the first reason it gives for refusing.
fn judge(
    engine: &PolicyEngine,
    request: &ReleaseRequest<'_>,
    consent: Option<&Consent>,
) -> Verdict {
    match engine.decide_receive(request, consent).into_grant() {
        Ok(grant) => Verdict::Values(grant),
        Err(denial) => Verdict::Cancel(
            denial
                .codes()
                .first()
                .map_or("policy_denied", |code| code.as_str()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use consent::{Actor, Change, ConsentEvent, Mode, Uuid};
    use policies::PolicySource;

    const DAY: i64 = 86_400_000;

    fn ongoing(department: &str, purpose: &str) -> Consent {
        Consent::replay(
            Uuid::now_v7(),
            Uuid::now_v7(),
            department,
            purpose,
            Mode::Ongoing,
            [ConsentEvent::new(
                1,
                Actor::citizen("c"),
                0,
                Change::Granted {
                    attributes: ["address".to_owned()].into(),
                    expires_at_ms: 30 * DAY,
                },
            )],
        )
        .unwrap()
    }

    fn request<'a>(attributes: &'a [String], now_ms: i64, deceased: bool) -> ReleaseRequest<'a> {
        ReleaseRequest {
            department: "revenue-agency",
            purpose: "benefit-eligibility",
            attributes,
            loa: 3,
            citizen_deceased: deceased,
            actor_is_delegate: false,
            now_ms,
        }
    }

    #[test]
    fn a_withdrawn_lapsed_or_missing_consent_is_a_cancellation_with_its_reason() {
        let engine = PolicyEngine::load(PolicySource::EMBEDDED).unwrap();
        let address = ["address".to_owned()];
        let mut consent = ongoing("revenue-agency", "benefit-eligibility");
        match judge(&engine, &request(&address, DAY, false), Some(&consent)) {
            Verdict::Values(grant) => {
                assert_eq!(grant.attributes().collect::<Vec<_>>(), ["address"]);
            }
            other => panic!("expected a grant, got {other:?}"),
        }
        let expired = judge(&engine, &request(&address, 31 * DAY, false), Some(&consent));
        assert!(
            matches!(expired, Verdict::Cancel("consent_expired")),
            "{expired:?}"
        );
        consent
            .apply(ConsentEvent::new(
                2,
                Actor::citizen("c"),
                DAY,
                Change::Revoked,
            ))
            .unwrap();
        let revoked = judge(&engine, &request(&address, 2 * DAY, false), Some(&consent));
        assert!(
            matches!(revoked, Verdict::Cancel("consent_revoked")),
            "{revoked:?}"
        );
        let none = judge(&engine, &request(&address, DAY, false), None);
        assert!(matches!(none, Verdict::Cancel("no_consent")), "{none:?}");
    }

    #[test]
    fn a_deceased_citizens_address_is_not_pushed_under_a_live_consent() {
        let engine = PolicyEngine::load(PolicySource::EMBEDDED).unwrap();
        let address = ["address".to_owned()];
        let consent = ongoing("revenue-agency", "benefit-eligibility");
        let verdict = judge(&engine, &request(&address, DAY, true), Some(&consent));
        assert!(matches!(verdict, Verdict::Cancel(_)), "{verdict:?}");
    }
}
