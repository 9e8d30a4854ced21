//! What the citizen pages show about a consent: names, purposes and labels from the catalogue in
//! the page's language, the state as the citizen should understand it now, and message keys for
//! the template to translate. No attribute value ever reaches a view: only catalogue names.

use consent::{ActorKind, Consent, DAY_MS, EventKind, State};
use policies::Catalogue;
use serde::Serialize;

use crate::i18n::Lang;
use services::consents::Ledger;

#[derive(Debug, Clone, Serialize)]
pub struct AttributeView {
    pub name: String,
    pub label: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub time_ms: i64,
    /// Message key of what happened.
    pub kind_key: String,
    /// Message key of who did it.
    pub actor_key: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConsentView {
    pub id: String,
    pub department: String,
    pub department_name: String,
    pub purpose: String,
    pub purpose_text: String,
    pub legal_basis: String,
    /// The purpose's legal basis is an illustrative example.
    pub illustrative: bool,
    pub mode: &'static str,
    pub mode_key: String,
    pub mode_hint_key: String,
    /// The effective state now (`active`, `expired`, …).
    pub state: &'static str,
    pub state_key: String,
    /// CSS badge variant for the state.
    pub badge: &'static str,
    pub attributes: Vec<AttributeView>,
    pub requested: Vec<AttributeView>,
    pub requested_days: Option<i64>,
    pub created_at: i64,
    pub granted_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub expiring_soon: bool,
    pub from_request: bool,
    pub return_url: Option<String>,
    pub history: Vec<EventView>,
}

/// A label from the catalogue in `lang`, or the name itself for an entry no longer catalogued.
pub fn attribute_label(catalogue: &Catalogue, lang: Lang, name: &str) -> String {
    match catalogue.attribute(name) {
        Some(a) => match lang {
            Lang::En => a.label_en.clone(),
            Lang::Fr => a.label_fr.clone(),
        },
        None => name.to_owned(),
    }
}

pub fn attributes<'a>(
    catalogue: &Catalogue,
    lang: Lang,
    names: impl IntoIterator<Item = &'a String>,
) -> Vec<AttributeView> {
    names
        .into_iter()
        .map(|name| AttributeView {
            name: name.clone(),
            label: attribute_label(catalogue, lang, name),
        })
        .collect()
}

pub fn department_name(catalogue: &Catalogue, lang: Lang, id: &str) -> String {
    match catalogue.department(id) {
        Some(d) => match lang {
            Lang::En => d.name_en.clone(),
            Lang::Fr => d.name_fr.clone(),
        },
        None => id.to_owned(),
    }
}

/// The purpose's plain-language text, its legal basis, and whether that basis is illustrative.
pub fn purpose_texts(catalogue: &Catalogue, lang: Lang, code: &str) -> (String, String, bool) {
    match catalogue.purpose(code) {
        Some(p) => match lang {
            Lang::En => (p.text_en.clone(), p.legal_basis.clone(), p.illustrative),
            Lang::Fr => (p.text_fr.clone(), p.legal_basis_fr.clone(), p.illustrative),
        },
        None => (code.to_owned(), String::new(), false),
    }
}

fn badge(state: State) -> &'static str {
    match state {
        State::Active => "ok",
        State::Requested => "pending",
        State::Revoked | State::Refused => "deny",
        State::Expired => "neutral",
    }
}

fn event_key(kind: EventKind) -> String {
    format!("consents.event.{}", kind.as_str())
}

fn actor_key(kind: ActorKind) -> String {
    let name = match kind {
        ActorKind::Citizen => "citizen",
        ActorKind::Department => "department",
        ActorKind::System => "system",
        ActorKind::Operator => "operator",
    };
    format!("consents.actor.{name}")
}

pub fn consent(state: &Ledger, lang: Lang, c: &Consent, now: i64) -> ConsentView {
    let effective = c.effective_state(now);
    let (purpose_text, legal_basis, illustrative) =
        purpose_texts(state.policy.catalogue(), lang, c.purpose());
    let soon = state.settings.expiring_soon_ms();
    ConsentView {
        id: c.id().to_string(),
        department: c.department().to_owned(),
        department_name: department_name(state.policy.catalogue(), lang, c.department()),
        purpose: c.purpose().to_owned(),
        purpose_text,
        legal_basis,
        illustrative,
        mode: c.mode().as_str(),
        mode_key: format!("consents.mode.{}", c.mode().as_str()),
        mode_hint_key: format!("consents.mode.{}_hint", c.mode().as_str()),
        state: effective.as_str(),
        state_key: format!("consents.state.{}", effective.as_str()),
        badge: badge(effective),
        attributes: c
            .grant()
            .map(|g| attributes(state.policy.catalogue(), lang, &g.attributes))
            .unwrap_or_default(),
        requested: c
            .request()
            .map(|r| attributes(state.policy.catalogue(), lang, &r.attributes))
            .unwrap_or_default(),
        requested_days: c
            .request()
            .map(|r| r.requested_duration_ms.div_euclid(DAY_MS).max(1)),
        created_at: c.created_at_ms(),
        granted_at: c.grant().map(|g| g.granted_at_ms),
        expires_at: c.expires_at_ms(),
        ended_at: c.ended_at_ms().or_else(|| {
            (effective == State::Expired)
                .then(|| c.expires_at_ms())
                .flatten()
        }),
        expiring_soon: effective == State::Active
            && c.expires_at_ms().is_some_and(|end| end - now <= soon),
        from_request: c.request().is_some(),
        return_url: c.request().and_then(|r| r.return_url.clone()),
        history: c
            .history()
            .iter()
            .map(|e| EventView {
                time_ms: e.time_ms,
                kind_key: event_key(e.change.kind()),
                actor_key: actor_key(e.actor.kind),
            })
            .collect(),
    }
}

/// A citizen's consents, as the list page groups them.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Grouped {
    pub pending: Vec<ConsentView>,
    pub expiring_soon: Vec<ConsentView>,
    pub active: Vec<ConsentView>,
    pub past: Vec<ConsentView>,
}

pub fn grouped(state: &Ledger, lang: Lang, all: &[Consent], now: i64) -> Grouped {
    let mut out = Grouped::default();
    for c in all {
        let v = consent(state, lang, c, now);
        match c.effective_state(now) {
            State::Requested => out.pending.push(v),
            State::Active if v.expiring_soon => out.expiring_soon.push(v),
            State::Active => out.active.push(v),
            _ => out.past.push(v),
        }
    }
    // Soonest to end first.
    out.expiring_soon.sort_by_key(|v| v.expires_at);
    out
}

/// One choice of duration in a form.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DurationChoice {
    pub days: i64,
    pub selected: bool,
}

/// Durations offered up to `max_days`, with `selected_days` chosen (and offered even if unusual).
pub fn duration_choices(max_days: i64, selected_days: i64) -> Vec<DurationChoice> {
    let mut days: Vec<i64> = [7, 30, 90, 180, 365]
        .into_iter()
        .filter(|d| *d <= max_days)
        .collect();
    for extra in [max_days, selected_days] {
        if extra >= 1 && extra <= max_days && !days.contains(&extra) {
            days.push(extra);
        }
    }
    days.sort_unstable();
    days.into_iter()
        .map(|d| DurationChoice {
            days: d,
            selected: d == selected_days,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_choices_stop_at_the_maximum_and_keep_the_selection() {
        let days: Vec<i64> = duration_choices(60, 45).iter().map(|c| c.days).collect();
        assert_eq!(days, vec![7, 30, 45, 60]);
        assert!(
            duration_choices(60, 45)
                .iter()
                .any(|c| c.days == 45 && c.selected)
        );
        let days: Vec<i64> = duration_choices(365, 90).iter().map(|c| c.days).collect();
        assert_eq!(days, vec![7, 30, 90, 180, 365]);
    }
}
