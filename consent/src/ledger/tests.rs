use super::*;
use crate::{Actor, DAY_MS};

const PURPOSE: &str = "benefit-eligibility";

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|name| (*name).to_owned()).collect()
}

fn requested(seq: u64, time_ms: i64, list: &[&str], duration_ms: i64) -> ConsentEvent {
    ConsentEvent::new(
        seq,
        Actor::department("revenue-agency"),
        time_ms,
        Change::Requested {
            attributes: names(list),
            requested_duration_ms: duration_ms,
            return_url: Some("https://revenue.example/back".to_owned()),
        },
    )
}

fn granted(seq: u64, time_ms: i64, list: &[&str], expires_at_ms: i64) -> ConsentEvent {
    ConsentEvent::new(
        seq,
        Actor::citizen("alice"),
        time_ms,
        Change::Granted {
            attributes: names(list),
            expires_at_ms,
        },
    )
}

fn simple(seq: u64, time_ms: i64, change: Change) -> ConsentEvent {
    ConsentEvent::new(seq, Actor::system("sweep"), time_ms, change)
}

fn replay(events: Vec<ConsentEvent>) -> Result<Consent, ConsentError> {
    Consent::replay(
        Uuid::nil(),
        Uuid::nil(),
        "revenue-agency",
        PURPOSE,
        Mode::Ongoing,
        events,
    )
}

fn active() -> Consent {
    replay(vec![
        requested(1, 0, &["address", "email"], 30 * DAY_MS),
        granted(2, 100, &["address"], 100 + 30 * DAY_MS),
    ])
    .unwrap()
}

fn fault(result: Result<(), TransitionError>) -> TransitionFault {
    result.unwrap_err().fault().clone()
}

#[test]
fn request_then_partial_grant_is_active() {
    let consent = active();
    assert_eq!(consent.recorded_state(), State::Active);
    assert_eq!(consent.attributes().collect::<Vec<_>>(), vec!["address"]);
    assert_eq!(consent.expires_at_ms(), Some(100 + 30 * DAY_MS));
    assert_eq!(consent.created_at_ms(), 0);
    assert_eq!(consent.next_seq(), 3);
    assert_eq!(
        consent.request().map(|r| r.attributes.len()),
        Some(2),
        "the request is kept beside the grant"
    );
}

#[test]
fn citizen_initiated_grant_opens_an_active_consent() {
    let consent = replay(vec![granted(1, 5, &["address"], 5 + DAY_MS)]).unwrap();
    assert_eq!(consent.recorded_state(), State::Active);
    assert!(consent.request().is_none());
}

#[test]
fn empty_history_is_refused() {
    assert_eq!(replay(vec![]), Err(ConsentError::EmptyHistory));
}

#[test]
fn a_consent_cannot_open_with_an_ending() {
    for change in [Change::Refused, Change::Revoked, Change::Expired] {
        let error = replay(vec![simple(1, 0, change)]).unwrap_err();
        let ConsentError::Transition(error) = error else {
            panic!("expected a transition error");
        };
        assert_eq!(error.from(), None);
        assert_eq!(error.fault(), &TransitionFault::NotAllowed);
    }
}

#[test]
fn expiry_is_effective_before_it_is_recorded() {
    let consent = active();
    let end = 100 + 30 * DAY_MS;
    assert_eq!(consent.effective_state(end - 1), State::Active);
    assert_eq!(consent.effective_state(end), State::Expired);
    assert!(consent.expiry_due(end));
    assert!(!consent.expiry_due(end - 1));
    assert_eq!(consent.recorded_state(), State::Active);
}

#[test]
fn coverage_gives_the_precise_reason() {
    let mut consent = active();
    let end = 100 + 30 * DAY_MS;
    assert_eq!(consent.covers("address", PURPOSE, 200), Coverage::Covered);
    assert_eq!(
        consent.covers("email", PURPOSE, 200),
        Coverage::AttributeNotCovered
    );
    assert_eq!(
        consent.covers("address", "pension-enrolment", 200),
        Coverage::OtherPurpose
    );
    assert_eq!(consent.covers("address", PURPOSE, end), Coverage::Expired);
    consent
        .apply(simple(3, 300, Change::Revoked).with_reason("citizen_request"))
        .unwrap();
    assert_eq!(consent.covers("address", PURPOSE, 400), Coverage::Revoked);
    assert_eq!(consent.ended_at_ms(), Some(300));
    // A revoked consent stays revoked even once its expiry passes.
    assert_eq!(
        consent.covers("address", PURPOSE, end + 1),
        Coverage::Revoked
    );

    let pending = replay(vec![requested(1, 0, &["address"], DAY_MS)]).unwrap();
    assert_eq!(pending.covers("address", PURPOSE, 1), Coverage::Pending);
    let mut refused = pending;
    refused.apply(simple(2, 1, Change::Refused)).unwrap();
    assert_eq!(refused.covers("address", PURPOSE, 2), Coverage::Refused);
}

#[test]
fn grant_must_fit_the_request() {
    let mut consent = replay(vec![requested(1, 0, &["address"], 10 * DAY_MS)]).unwrap();
    assert_eq!(
        fault(consent.apply(granted(2, 1, &["address", "email"], 2))),
        TransitionFault::AttributeNotRequested {
            attribute: "email".to_owned()
        }
    );
    assert_eq!(
        fault(consent.apply(granted(2, 1, &["address"], 2 + 10 * DAY_MS))),
        TransitionFault::GrantLongerThanRequested
    );
    assert_eq!(
        fault(consent.apply(granted(2, 1, &[], 2))),
        TransitionFault::EmptyAttributeSet
    );
    assert_eq!(
        fault(consent.apply(granted(2, 5, &["address"], 5))),
        TransitionFault::ExpiryNotAfterGrant
    );
    // None of the refused events left a trace.
    assert_eq!(consent.history().len(), 1);
    assert_eq!(consent.recorded_state(), State::Requested);
}

#[test]
fn sequence_and_time_are_checked() {
    let mut consent = active();
    assert_eq!(
        fault(consent.apply(simple(4, 300, Change::Revoked))),
        TransitionFault::OutOfSequence { expected: 3 }
    );
    assert_eq!(
        fault(consent.apply(simple(3, 99, Change::Revoked))),
        TransitionFault::TimeBeforePrevious
    );
    let error = replay(vec![requested(2, 0, &["address"], DAY_MS)]).unwrap_err();
    assert!(matches!(
        error,
        ConsentError::Transition(ref e) if e.fault() == &TransitionFault::OutOfSequence { expected: 1 }
    ));
}

#[test]
fn endings_must_tell_the_truth_about_the_expiry() {
    let end = 100 + 30 * DAY_MS;
    let mut consent = active();
    assert_eq!(
        fault(consent.apply(simple(3, end, Change::Revoked))),
        TransitionFault::AlreadyExpired
    );
    assert_eq!(
        fault(consent.apply(simple(3, end - 1, Change::Expired))),
        TransitionFault::NotYetExpired
    );
    consent.apply(simple(3, end, Change::Expired)).unwrap();
    assert_eq!(consent.recorded_state(), State::Expired);
}

#[test]
fn nothing_leaves_a_terminal_state() {
    let mut consent = active();
    consent.apply(simple(3, 300, Change::Revoked)).unwrap();
    for change in [
        Change::Revoked,
        Change::Expired,
        Change::Refused,
        Change::Granted {
            attributes: names(&["address"]),
            expires_at_ms: 400 + DAY_MS,
        },
    ] {
        let error = consent.apply(simple(4, 400, change)).unwrap_err();
        assert_eq!(error.from(), Some(State::Revoked));
        assert_eq!(error.fault(), &TransitionFault::NotAllowed);
    }
    assert_eq!(consent.history().len(), 3);
}

#[test]
fn error_messages_name_the_event_and_state() {
    let mut consent = active();
    let error = consent.apply(simple(3, 300, Change::Refused)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "event 3 (`refused`) cannot apply to a consent that is active: \
         the state machine has no such transition"
    );
}

#[test]
fn events_round_trip_through_json() {
    let event = granted(2, 100, &["address"], 200).with_reason("citizen_initiated");
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["change"]["type"], "granted");
    assert_eq!(json["actor"]["kind"], "citizen");
    let back: ConsentEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back, event);
}
