//! What an authoritative department reports (`POST /api/v1/subjects/{sub}/attributes`, or its
//! change feed read by a pull source), and the checks every report passes before anything is
//! written: the event and the attributes it carries, each attribute against the catalogue (name
//! and type), that the department is authoritative for each one, and the subject in the
//! department's own sector.

use serde::Deserialize;

use super::{EventKind, RelayError};
use crate::citizens::{Citizen, CitizenError, Status};
use crate::departments::Department;

/// A department's report.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// `move` (carries `address`), `name-change` (`given_name` and/or `family_name`) or `death`
    /// (`date_of_death`); absent for a plain update of attributes.
    pub event: Option<String>,
    /// The new values by attribute name, each of its catalogue type.
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// How the department established the values (default `registry`).
    pub method: Option<String>,
    /// The level of assurance of the values, 1–4 (default 3).
    pub loa: Option<u8>,
}

fn shorten(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Checks a report against the catalogue and the department's authority. Pure.
pub fn check(
    catalogue: &policies::Catalogue,
    department: &Department,
    report: &Report,
) -> Result<(EventKind, Vec<(String, serde_json::Value)>), RelayError> {
    let kind = match report.event.as_deref() {
        None => EventKind::Update,
        Some("move") => EventKind::Move,
        Some("name-change") => EventKind::NameChange,
        Some("death") => EventKind::Death,
        Some(other) => return Err(RelayError::UnknownEvent(shorten(other))),
    };
    if report.attributes.is_empty() {
        return Err(RelayError::NoAttributes);
    }
    for (name, value) in &report.attributes {
        if catalogue.attribute(name).is_none() {
            return Err(RelayError::UnknownAttribute(shorten(name)));
        }
        catalogue.validate_value(name, value)?;
    }
    let names: Vec<&str> = report.attributes.keys().map(String::as_str).collect();
    let fits = match kind {
        EventKind::Move => names == ["address"],
        EventKind::NameChange => names
            .iter()
            .all(|n| matches!(*n, "given_name" | "family_name")),
        EventKind::Death => names == ["date_of_death"],
        _ => true,
    };
    if !fits {
        return Err(RelayError::EventMismatch {
            event: kind.as_str(),
            expected: match kind {
                EventKind::Move => "exactly `address`",
                EventKind::NameChange => "`given_name` and/or `family_name` only",
                _ => "exactly `date_of_death`",
            },
        });
    }
    if let Some(name) = names
        .iter()
        .find(|n| !department.authoritative_for.iter().any(|a| a == *n))
    {
        return Err(RelayError::NotAuthoritative((*name).to_owned()));
    }
    Ok((
        kind,
        report
            .attributes
            .iter()
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect(),
    ))
}

/// The citizen behind `sub`, looked up in `department`'s sector only (another sector's id is
/// "not found", like an unknown one), and not erased. Shared by reports through the API and
/// changes from a pull source ([`super::pull`]).
pub async fn find_subject<C: sea_orm::ConnectionTrait>(
    conn: &C,
    department: &Department,
    sub: &str,
) -> Result<Citizen, RelayError> {
    if !crate::release::query::is_subject(sub) {
        return Err(RelayError::SubjectNotFound);
    }
    let citizen_id =
        crate::citizens::pairwise::citizen_for(conn, &department.sector_identifier, sub)
            .await
            .map_err(CitizenError::from)?
            .ok_or(RelayError::SubjectNotFound)?;
    let citizen = crate::citizens::get(conn, &citizen_id)
        .await?
        .ok_or(RelayError::SubjectNotFound)?;
    match citizen.status {
        Status::Erased => Err(RelayError::SubjectNotFound),
        Status::Active | Status::Deceased => Ok(citizen),
    }
}

/// A deceased citizen's facts take no further change.
pub fn accepts_changes(citizen: &Citizen) -> Result<(), RelayError> {
    match citizen.status {
        Status::Deceased => Err(RelayError::SubjectDeceased),
        Status::Erased => Err(RelayError::SubjectNotFound),
        Status::Active => Ok(()),
    }
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::PublicError;

    fn department(authoritative: &[&str]) -> Department {
        Department {
            id: "vital-statistics".into(),
            name_en: "v".into(),
            name_fr: "v".into(),
            sector_identifier: "v.example".into(),
            active: true,
            authoritative_for: authoritative.iter().map(|s| s.to_string()).collect(),
            delivery: None,
        }
    }

    fn report(event: Option<&str>, attributes: serde_json::Value) -> Report {
        Report {
            event: event.map(str::to_owned),
            attributes: attributes.as_object().cloned().unwrap_or_default(),
            method: None,
            loa: None,
        }
    }

    fn code(r: Result<(EventKind, Vec<(String, serde_json::Value)>), RelayError>) -> &'static str {
        r.err().map_or("ok", |e| e.code())
    }

    #[test]
    fn reports_are_checked_whole_with_stable_codes() {
        let catalogue = policies::Catalogue::embedded().unwrap();
        let vitals = department(&["birthdate", "date_of_death"]);
        let death = report(
            Some("death"),
            serde_json::json!({"date_of_death": "2026-11-01"}),
        );
        let (kind, values) = check(&catalogue, &vitals, &death).unwrap();
        assert_eq!(kind, EventKind::Death);
        assert_eq!(values[0].0, "date_of_death");
        let cases = [
            (
                report(None, serde_json::json!({"shoe_size": 42})),
                "unknown_attribute",
            ),
            (
                report(None, serde_json::json!({"birthdate": 19590314})),
                "invalid_value",
            ),
            (
                report(None, serde_json::json!({"birthdate": "1959-02-30"})),
                "invalid_value",
            ),
            (
                report(None, serde_json::json!({"email": "a@b.example"})),
                "not_authoritative",
            ),
            (
                report(
                    Some("wedding"),
                    serde_json::json!({"birthdate": "1959-03-14"}),
                ),
                "unknown_event",
            ),
            (
                report(
                    Some("death"),
                    serde_json::json!({"birthdate": "1959-03-14"}),
                ),
                "event_attributes_mismatch",
            ),
            (
                report(
                    Some("move"),
                    serde_json::json!({"date_of_death": "2026-11-01"}),
                ),
                "event_attributes_mismatch",
            ),
            (report(None, serde_json::json!({})), "no_attributes"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                code(check(&catalogue, &vitals, &input)),
                expected,
                "{input:?}"
            );
        }
    }

    #[test]
    fn an_error_never_repeats_the_value() {
        let catalogue = policies::Catalogue::embedded().unwrap();
        let vitals = department(&["birthdate"]);
        let bad = report(
            None,
            serde_json::json!({"birthdate": "secret-looking-value"}),
        );
        let message = check(&catalogue, &vitals, &bad).unwrap_err().to_string();
        assert!(message.contains("`birthdate`"), "{message}");
        assert!(!message.contains("secret-looking-value"), "{message}");
    }
}
