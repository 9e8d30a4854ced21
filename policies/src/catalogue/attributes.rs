//! `attributes.toml`: the facts the broker can hold.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{ATTRIBUTES_FILE, display_name, entry_error, is_valid_name, required};
use crate::PolicyError;
use crate::error::{EntryKind, EntryProblem};

/// A catalogued attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttributeDef {
    /// Its name, as used in claims, consents and policies.
    pub name: String,
    /// Its type, which fixes the values it accepts.
    pub kind: AttributeType,
    /// How sensitive it is.
    pub sensitivity: Sensitivity,
    /// English label.
    pub label_en: String,
    /// French label.
    pub label_fr: String,
}

/// The type of an attribute's values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AttributeType {
    /// Free text (a name).
    String,
    /// An ISO 8601 calendar date, `YYYY-MM-DD`.
    Date,
    /// The OpenID Connect `address` claim shape.
    Address,
    /// An email address.
    Email,
    /// An E.164 telephone number.
    Phone,
    /// One of a fixed list of codes.
    Enum {
        /// The allowed codes.
        values: Vec<String>,
    },
}

/// How sensitive an attribute is. `High` attributes are listed as sensitive in receipts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Ordinary contact or identity data.
    Low,
    /// Data that identifies or locates a person more precisely.
    Medium,
    /// Data whose disclosure can harm (civil status, death).
    High,
}

impl Sensitivity {
    /// The catalogue spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

impl fmt::Display for Sensitivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
    #[serde(default)]
    attribute: Vec<Raw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    values: Option<Vec<String>>,
    sensitivity: Option<String>,
    label_en: Option<String>,
    label_fr: Option<String>,
}

pub(super) fn parse(file: File) -> Result<Vec<AttributeDef>, PolicyError> {
    file.attribute
        .into_iter()
        .enumerate()
        .map(|(position, raw)| {
            let shown = display_name(raw.name.as_ref(), position);
            let fail =
                |problem| entry_error(ATTRIBUTES_FILE, EntryKind::Attribute, &shown, problem);
            let name = required(raw.name, "name", fail)?;
            if !is_valid_name(&name) {
                return Err(fail(EntryProblem::BadName));
            }
            let kind = parse_type(required(raw.kind, "type", fail)?, raw.values).map_err(fail)?;
            let sensitivity = match required(raw.sensitivity, "sensitivity", fail)?.as_str() {
                "low" => Sensitivity::Low,
                "medium" => Sensitivity::Medium,
                "high" => Sensitivity::High,
                other => return Err(fail(EntryProblem::UnknownSensitivity(other.to_owned()))),
            };
            Ok(AttributeDef {
                name,
                kind,
                sensitivity,
                label_en: required(raw.label_en, "label_en", fail)?,
                label_fr: required(raw.label_fr, "label_fr", fail)?,
            })
        })
        .collect()
}

fn parse_type(kind: String, values: Option<Vec<String>>) -> Result<AttributeType, EntryProblem> {
    let simple = match kind.as_str() {
        "string" => AttributeType::String,
        "date" => AttributeType::Date,
        "address" => AttributeType::Address,
        "email" => AttributeType::Email,
        "phone" => AttributeType::Phone,
        "enum" => {
            let values = values.ok_or(EntryProblem::BadEnumValues)?;
            let distinct: BTreeSet<&str> = values.iter().map(String::as_str).collect();
            if values.is_empty()
                || distinct.len() != values.len()
                || values.iter().any(|v| v.trim().is_empty())
            {
                return Err(EntryProblem::BadEnumValues);
            }
            return Ok(AttributeType::Enum { values });
        }
        _ => return Err(EntryProblem::UnknownType(kind)),
    };
    if values.is_some() {
        return Err(EntryProblem::ValuesWithoutEnum);
    }
    Ok(simple)
}
