//! The one read-and-decide sequence behind every way a citizen's values leave the broker by
//! pull — the attribute API (`release::attributes`) and the OpenID Provider's ID tokens and
//! userinfo (`provider::userinfo`): the consents for the department and purpose, the facts asked,
//! the best consent, and the decision made on them. Callers differ only in how they answer and
//! what they record.

use crate::citizens::{self, Fact};
use crate::consents;

use super::decide::{self, Decided, Question};
use super::{Release, ReleaseError};

/// What was read and decided.
#[derive(Debug)]
pub struct Decision {
    pub decided: Decided,
    /// The facts asked for that are held (the grants say which may leave).
    pub facts: Vec<Fact>,
    /// The consent the decision rests on, if any.
    pub consent_id: Option<String>,
    pub consent_expires_at_ms: Option<i64>,
    /// The delegate who gave that consent in the citizen's name, if a delegate did
    /// (`consents::ledger::grant_as_delegate`): a release resting on it names them in `act`.
    pub consent_delegate: Option<String>,
}

/// Who is asked about, by whom, for what.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    pub citizen_id: &'a str,
    pub citizen_deceased: bool,
    pub department: &'a str,
    pub purpose: &'a str,
    pub claims: &'a [String],
    pub now_ms: i64,
}

/// Reads what the decision needs and makes it. An unknown purpose is withheld for every claim by
/// the engine, so nothing is read for it.
pub async fn read_and_decide(state: &Release, asked: Asked<'_>) -> Result<Decision, ReleaseError> {
    let known_purpose = state.policy.catalogue().purpose(asked.purpose).is_some();
    let (consents, facts) = if known_purpose {
        let names: Vec<&str> = asked.claims.iter().map(String::as_str).collect();
        let consents =
            consents::for_release(&state.db, asked.citizen_id, asked.department, asked.purpose)
                .await?;
        let facts =
            citizens::current_facts(&state.db, &state.vault, asked.citizen_id, Some(&names))
                .await?;
        (consents, facts)
    } else {
        (Vec::new(), Vec::new())
    };
    let consent = consents::best_for_release(&consents, asked.claims, asked.purpose, asked.now_ms);
    let question = Question {
        department: asked.department,
        purpose: asked.purpose,
        claims: asked.claims,
        citizen_deceased: asked.citizen_deceased,
        now_ms: asked.now_ms,
    };
    let decided = decide::decide(&state.policy, &question, &facts, consent);
    Ok(Decision {
        decided,
        facts,
        consent_id: consent.map(|c| c.id().to_string()),
        consent_expires_at_ms: consent.and_then(|c| c.expires_at_ms()),
        consent_delegate: consent.and_then(consents::granted_by_delegate),
    })
}
