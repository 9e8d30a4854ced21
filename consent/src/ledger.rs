//! A consent as derived from its events: replay, apply, and the questions the release path asks.

use std::collections::BTreeSet;

use serde::Serialize;
use uuid::Uuid;

use crate::{
    Change, ConsentError, ConsentEvent, Coverage, EventKind, Mode, State, TransitionError,
    TransitionFault,
};

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

/// What a department asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestTerms {
    /// The attributes asked for.
    pub attributes: BTreeSet<String>,
    /// The longest the consent may last, counted from the grant.
    pub requested_duration_ms: i64,
    /// Where the citizen goes back to after answering.
    pub return_url: Option<String>,
    /// When the request was recorded.
    pub requested_at_ms: i64,
}

/// What the citizen granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantTerms {
    /// The attributes granted (a subset of the request, if there was one).
    pub attributes: BTreeSet<String>,
    /// When the grant was recorded.
    pub granted_at_ms: i64,
    /// When the consent ends.
    pub expires_at_ms: i64,
}

/// One consent: citizen × recipient department × attributes × purpose × mode × expiry.
///
/// Every field is derived from the history; the only way to change a `Consent` is
/// [`Consent::apply`], which appends. There is deliberately no `Deserialize`: a consent is
/// rebuilt from its stored events with [`Consent::replay`], never loaded as a finished value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Consent {
    id: Uuid,
    citizen: Uuid,
    department: String,
    purpose: String,
    mode: Mode,
    state: State,
    request: Option<RequestTerms>,
    grant: Option<GrantTerms>,
    ended_at_ms: Option<i64>,
    history: Vec<ConsentEvent>,
}

impl Consent {
    /// Rebuilds a consent from its stored events, in order, checking every transition.
    ///
    /// The identity (id, citizen, department, purpose, mode) is stored beside the events; the
    /// events carry everything that changes.
    ///
    /// # Errors
    /// [`ConsentError::EmptyHistory`] with no event, [`ConsentError::Transition`] for the first
    /// event that cannot apply.
    pub fn replay(
        id: Uuid,
        citizen: Uuid,
        department: impl Into<String>,
        purpose: impl Into<String>,
        mode: Mode,
        events: impl IntoIterator<Item = ConsentEvent>,
    ) -> Result<Self, ConsentError> {
        let mut events = events.into_iter();
        let first = events.next().ok_or(ConsentError::EmptyHistory)?;
        let mut consent = Self::open(id, citizen, department.into(), purpose.into(), mode, first)?;
        for event in events {
            consent.apply(event)?;
        }
        Ok(consent)
    }

    fn open(
        id: Uuid,
        citizen: Uuid,
        department: String,
        purpose: String,
        mode: Mode,
        first: ConsentEvent,
    ) -> Result<Self, TransitionError> {
        let (seq, kind) = (first.seq, first.change.kind());
        let refuse = move |fault| TransitionError::new(seq, None, kind, fault);
        if first.seq != 1 {
            return Err(refuse(TransitionFault::OutOfSequence { expected: 1 }));
        }
        let (state, request, grant) = match &first.change {
            Change::Requested {
                attributes,
                requested_duration_ms,
                return_url,
            } => {
                check_request(attributes, *requested_duration_ms).map_err(refuse)?;
                let terms = RequestTerms {
                    attributes: attributes.clone(),
                    requested_duration_ms: *requested_duration_ms,
                    return_url: return_url.clone(),
                    requested_at_ms: first.time_ms,
                };
                (State::Requested, Some(terms), None)
            }
            // A citizen-initiated grant: there is no request to bound it.
            Change::Granted {
                attributes,
                expires_at_ms,
            } => {
                let terms =
                    grant_terms(None, attributes, *expires_at_ms, first.time_ms).map_err(refuse)?;
                (State::Active, None, Some(terms))
            }
            // INVARIANT: a consent opens only by a request or a grant; nothing can end what
            // never began.
            Change::Refused | Change::Revoked | Change::Expired => {
                return Err(refuse(TransitionFault::NotAllowed));
            }
        };
        Ok(Self {
            id,
            citizen,
            department,
            purpose,
            mode,
            state,
            request,
            grant,
            ended_at_ms: None,
            history: vec![first],
        })
    }

    /// Applies one new event, or leaves the consent untouched and says why not.
    ///
    /// Edges: requested → active | refused; active → revoked | expired. A revocation must be
    /// dated before the expiry and an expiry at or after it, so the history says truthfully
    /// what ended the consent.
    ///
    /// # Errors
    /// A [`TransitionError`] naming the event, the state and the fault.
    pub fn apply(&mut self, event: ConsentEvent) -> Result<(), TransitionError> {
        let (seq, from, kind) = (event.seq, Some(self.state), event.change.kind());
        let refuse = move |fault| TransitionError::new(seq, from, kind, fault);
        let expected = self.next_seq();
        if event.seq != expected {
            return Err(refuse(TransitionFault::OutOfSequence { expected }));
        }
        if event.time_ms < self.last_event_time_ms() {
            return Err(refuse(TransitionFault::TimeBeforePrevious));
        }
        // INVARIANT: nothing leaves a terminal state. Only the four edges below exist, and none
        // starts from `Revoked`, `Expired` or `Refused`.
        match (self.state, &event.change) {
            (
                State::Requested,
                Change::Granted {
                    attributes,
                    expires_at_ms,
                },
            ) => {
                let terms = grant_terms(
                    self.request.as_ref(),
                    attributes,
                    *expires_at_ms,
                    event.time_ms,
                )
                .map_err(refuse)?;
                self.grant = Some(terms);
                self.state = State::Active;
            }
            (State::Requested, Change::Refused) => {
                self.state = State::Refused;
                self.ended_at_ms = Some(event.time_ms);
            }
            (State::Active, Change::Revoked) => {
                if self.expires_at_ms().is_some_and(|end| event.time_ms >= end) {
                    return Err(refuse(TransitionFault::AlreadyExpired));
                }
                self.state = State::Revoked;
                self.ended_at_ms = Some(event.time_ms);
            }
            (State::Active, Change::Expired) => {
                if self.expires_at_ms().is_some_and(|end| event.time_ms < end) {
                    return Err(refuse(TransitionFault::NotYetExpired));
                }
                self.state = State::Expired;
                self.ended_at_ms = Some(event.time_ms);
            }
            _ => return Err(refuse(TransitionFault::NotAllowed)),
        }
        // INVARIANT: history only grows. Events are pushed after every check has passed (so a
        // refused event leaves no trace) and nothing in this crate removes one.
        self.history.push(event);
        Ok(())
    }

    /// The consent's id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The citizen's internal id (never shown to a department).
    pub fn citizen(&self) -> Uuid {
        self.citizen
    }

    /// The recipient department's id.
    pub fn department(&self) -> &str {
        &self.department
    }

    /// The purpose code.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// Once or ongoing.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The recorded state, regardless of the clock. Use [`Consent::effective_state`] to decide
    /// anything.
    pub fn recorded_state(&self) -> State {
        self.state
    }

    /// The state at `now_ms`: an active consent whose expiry has passed is `Expired` even before
    /// the expiry event is recorded, so releases stop at once.
    pub fn effective_state(&self, now_ms: i64) -> State {
        match (self.state, self.expires_at_ms()) {
            (State::Active, Some(end)) if now_ms >= end => State::Expired,
            (state, _) => state,
        }
    }

    /// Whether the expiry has passed but no `Expired` event is recorded yet: the sweep should
    /// append one (sequence [`Consent::next_seq`], dated at or after the expiry).
    pub fn expiry_due(&self, now_ms: i64) -> bool {
        self.state == State::Active && self.effective_state(now_ms) == State::Expired
    }

    /// Whether this consent lets `attribute` be released for `purpose` at `now_ms`, and if not,
    /// the precise reason. The purpose is checked first, so a consent for another purpose never
    /// reports its own state as if it were about this one.
    pub fn covers(&self, attribute: &str, purpose: &str, now_ms: i64) -> Coverage {
        if purpose != self.purpose {
            return Coverage::OtherPurpose;
        }
        match self.effective_state(now_ms) {
            State::Requested => Coverage::Pending,
            State::Refused => Coverage::Refused,
            State::Revoked => Coverage::Revoked,
            State::Expired => Coverage::Expired,
            State::Active => match &self.grant {
                Some(grant) if grant.attributes.contains(attribute) => Coverage::Covered,
                _ => Coverage::AttributeNotCovered,
            },
        }
    }

    /// The request, if the consent began with one.
    pub fn request(&self) -> Option<&RequestTerms> {
        self.request.as_ref()
    }

    /// The grant, once there is one.
    pub fn grant(&self) -> Option<&GrantTerms> {
        self.grant.as_ref()
    }

    /// The granted attributes (empty before a grant).
    pub fn attributes(&self) -> impl Iterator<Item = &str> {
        self.grant
            .iter()
            .flat_map(|grant| grant.attributes.iter().map(String::as_str))
    }

    /// When the consent ends or ended by its expiry, once granted.
    pub fn expires_at_ms(&self) -> Option<i64> {
        self.grant.as_ref().map(|grant| grant.expires_at_ms)
    }

    /// When a terminal event was recorded.
    pub fn ended_at_ms(&self) -> Option<i64> {
        self.ended_at_ms
    }

    /// When the first event was recorded.
    pub fn created_at_ms(&self) -> i64 {
        self.history.first().map_or(0, |event| event.time_ms)
    }

    /// Every event, oldest first.
    pub fn history(&self) -> &[ConsentEvent] {
        &self.history
    }

    /// The sequence number the next event must carry.
    pub fn next_seq(&self) -> u64 {
        self.history
            .last()
            .map_or(1, |event| event.seq.saturating_add(1))
    }

    /// The time of the latest event; a new event may not be dated before it.
    pub fn last_event_time_ms(&self) -> i64 {
        self.history.last().map_or(i64::MIN, |event| event.time_ms)
    }

    /// The kind of the latest event.
    pub fn last_event_kind(&self) -> Option<EventKind> {
        self.history.last().map(|event| event.change.kind())
    }
}

fn check_request(attributes: &BTreeSet<String>, duration_ms: i64) -> Result<(), TransitionFault> {
    // INVARIANT: a request names at least one attribute and a positive duration.
    if attributes.is_empty() {
        return Err(TransitionFault::EmptyAttributeSet);
    }
    if duration_ms <= 0 {
        return Err(TransitionFault::DurationNotPositive);
    }
    Ok(())
}

/// Checks a grant against the request it answers (if any) and builds its terms.
pub(crate) fn grant_terms(
    request: Option<&RequestTerms>,
    attributes: &BTreeSet<String>,
    expires_at_ms: i64,
    granted_at_ms: i64,
) -> Result<GrantTerms, TransitionFault> {
    // INVARIANT: an active consent has a non-empty attribute set, an expiry after its grant,
    // and, when it answers a request, no attribute and no duration beyond what was asked.
    if attributes.is_empty() {
        return Err(TransitionFault::EmptyAttributeSet);
    }
    if expires_at_ms <= granted_at_ms {
        return Err(TransitionFault::ExpiryNotAfterGrant);
    }
    if let Some(request) = request {
        if let Some(extra) = attributes.difference(&request.attributes).next() {
            return Err(TransitionFault::AttributeNotRequested {
                attribute: extra.clone(),
            });
        }
        if expires_at_ms.saturating_sub(granted_at_ms) > request.requested_duration_ms {
            return Err(TransitionFault::GrantLongerThanRequested);
        }
    }
    Ok(GrantTerms {
        attributes: attributes.clone(),
        granted_at_ms,
        expires_at_ms,
    })
}
