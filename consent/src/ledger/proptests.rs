//! Random histories checked against a small reference model written independently of the
//! implementation: a table of allowed edges and the conditions on each.

use proptest::prelude::*;

use super::*;
use crate::{Actor, DAY_MS};

const UNIVERSE: [&str; 4] = ["address", "birthdate", "email", "given_name"];
const PURPOSE: &str = "pension-enrolment";

#[derive(Debug, Clone)]
enum Action {
    Request {
        attributes: BTreeSet<String>,
        days: i64,
    },
    Grant {
        attributes: BTreeSet<String>,
        days: i64,
    },
    Refuse,
    Revoke,
    Expire,
}

#[derive(Debug, Clone)]
struct Step {
    action: Action,
    /// Time since the previous step, in ms; sometimes negative.
    delta_ms: i64,
    /// Whether to use a wrong sequence number.
    bad_seq: bool,
}

fn attribute_set() -> impl Strategy<Value = BTreeSet<String>> {
    proptest::sample::subsequence(UNIVERSE.to_vec(), 0..=UNIVERSE.len())
        .prop_map(|names| names.into_iter().map(str::to_owned).collect())
}

fn step() -> impl Strategy<Value = Step> {
    let action = prop_oneof![
        3 => (attribute_set(), -1i64..40).prop_map(|(attributes, days)| Action::Request { attributes, days }),
        4 => (attribute_set(), -1i64..40).prop_map(|(attributes, days)| Action::Grant { attributes, days }),
        1 => Just(Action::Refuse),
        2 => Just(Action::Revoke),
        2 => Just(Action::Expire),
    ];
    let delta = prop_oneof![
        1 => Just(-1i64),
        6 => 0i64..(45 * DAY_MS),
    ];
    (action, delta, proptest::bool::weighted(0.05)).prop_map(|(action, delta_ms, bad_seq)| Step {
        action,
        delta_ms,
        bad_seq,
    })
}

/// The reference model: what a consent should be after the accepted events.
#[derive(Debug, Clone, Default)]
struct Model {
    state: Option<State>,
    request: Option<(BTreeSet<String>, i64)>,
    grant: Option<(BTreeSet<String>, i64)>,
    last_time: Option<i64>,
    accepted: u64,
}

impl Model {
    /// Returns whether the event is accepted, updating the model if so.
    fn offer(&mut self, seq: u64, time: i64, change: &Change) -> bool {
        if seq != self.accepted + 1 || self.last_time.is_some_and(|last| time < last) {
            return false;
        }
        let next = match (self.state, change) {
            (
                None,
                Change::Requested {
                    attributes,
                    requested_duration_ms,
                    ..
                },
            ) if !attributes.is_empty() && *requested_duration_ms > 0 => {
                self.request = Some((attributes.clone(), *requested_duration_ms));
                State::Requested
            }
            (
                None,
                Change::Granted {
                    attributes,
                    expires_at_ms,
                },
            ) if !attributes.is_empty() && *expires_at_ms > time => {
                self.grant = Some((attributes.clone(), *expires_at_ms));
                State::Active
            }
            (
                Some(State::Requested),
                Change::Granted {
                    attributes,
                    expires_at_ms,
                },
            ) => {
                let Some((asked, duration)) = &self.request else {
                    return false;
                };
                let fits = !attributes.is_empty()
                    && attributes.is_subset(asked)
                    && *expires_at_ms > time
                    && *expires_at_ms - time <= *duration;
                if !fits {
                    return false;
                }
                self.grant = Some((attributes.clone(), *expires_at_ms));
                State::Active
            }
            (Some(State::Requested), Change::Refused) => State::Refused,
            (Some(State::Active), Change::Revoked) if time < self.expiry() => State::Revoked,
            (Some(State::Active), Change::Expired) if time >= self.expiry() => State::Expired,
            _ => return false,
        };
        self.state = Some(next);
        self.last_time = Some(time);
        self.accepted += 1;
        true
    }

    fn expiry(&self) -> i64 {
        self.grant.as_ref().map_or(i64::MAX, |(_, end)| *end)
    }

    fn effective(&self, now: i64) -> Option<State> {
        match self.state {
            Some(State::Active) if now >= self.expiry() => Some(State::Expired),
            other => other,
        }
    }

    fn coverage(&self, attribute: &str, now: i64) -> Option<Coverage> {
        Some(match self.effective(now)? {
            State::Requested => Coverage::Pending,
            State::Refused => Coverage::Refused,
            State::Revoked => Coverage::Revoked,
            State::Expired => Coverage::Expired,
            State::Active => match &self.grant {
                Some((granted, _)) if granted.contains(attribute) => Coverage::Covered,
                _ => Coverage::AttributeNotCovered,
            },
        })
    }
}

fn to_change(action: &Action, time: i64) -> Change {
    match action {
        Action::Request { attributes, days } => Change::Requested {
            attributes: attributes.clone(),
            requested_duration_ms: days * DAY_MS,
            return_url: None,
        },
        Action::Grant { attributes, days } => Change::Granted {
            attributes: attributes.clone(),
            expires_at_ms: time + days * DAY_MS,
        },
        Action::Refuse => Change::Refused,
        Action::Revoke => Change::Revoked,
        Action::Expire => Change::Expired,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn derived_state_matches_the_reference_model(
        steps in proptest::collection::vec(step(), 1..12),
        probe in proptest::sample::select(UNIVERSE.to_vec()),
        probe_offset in 0i64..(60 * DAY_MS),
    ) {
        let mut model = Model::default();
        let mut consent: Option<Consent> = None;
        let mut time = 1_000_000i64;

        for step in &steps {
            time += step.delta_ms;
            let next_seq = consent.as_ref().map_or(1, Consent::next_seq);
            let seq = if step.bad_seq { next_seq + 1 } else { next_seq };
            let change = to_change(&step.action, time);
            let event = ConsentEvent::new(seq, Actor::citizen("alice"), time, change.clone());
            let expected = model.offer(seq, time, &change);

            match consent.as_mut() {
                None => {
                    let opened = Consent::replay(
                        Uuid::nil(), Uuid::nil(), "employment-social-development", PURPOSE,
                        Mode::Ongoing, [event],
                    );
                    prop_assert_eq!(opened.is_ok(), expected);
                    consent = opened.ok();
                }
                Some(current) => {
                    let before = current.clone();
                    let was_terminal = before.recorded_state().is_terminal();
                    let applied = current.apply(event);
                    prop_assert_eq!(applied.is_ok(), expected);
                    // History only grows: the old history is a prefix of the new one.
                    prop_assert!(current.history().len() >= before.history().len());
                    prop_assert_eq!(&current.history()[..before.history().len()], before.history());
                    // A refused event changes nothing.
                    if applied.is_err() {
                        prop_assert_eq!(&*current, &before);
                    }
                    // No exit from a terminal state.
                    if was_terminal {
                        prop_assert!(applied.is_err());
                        prop_assert_eq!(current.recorded_state(), before.recorded_state());
                    }
                }
            }

            let derived = consent.as_ref().map(Consent::recorded_state);
            prop_assert_eq!(derived, model.state);
            prop_assert_eq!(consent.as_ref().map_or(0, |c| c.history().len() as u64), model.accepted);
        }

        let now = time + probe_offset;
        prop_assert_eq!(consent.as_ref().map(|c| c.effective_state(now)), model.effective(now));
        prop_assert_eq!(consent.as_ref().map(|c| c.covers(probe, PURPOSE, now)), model.coverage(probe, now));
        if let Some(consent) = &consent {
            prop_assert_eq!(consent.covers(probe, "travel-document-issuance", now), Coverage::OtherPurpose);
            // Replaying the accepted history gives the same consent.
            let again = Consent::replay(
                consent.id(), consent.citizen(), consent.department(), consent.purpose(),
                consent.mode(), consent.history().to_vec(),
            );
            prop_assert_eq!(again.as_ref(), Ok(consent));
        }
    }
}
