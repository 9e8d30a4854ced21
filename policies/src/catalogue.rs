//! The attribute, purpose and department catalogues: TOML files, embedded by default and
//! loadable from a directory, validated as a whole so a bad entry is named at load.

use std::collections::HashMap;
use std::path::Path;

use serde::de::DeserializeOwned;

use crate::PolicyError;
use crate::error::{EntryKind, EntryProblem};

mod attributes;
mod departments;
mod purposes;
mod value;

#[cfg(test)]
mod tests;

pub use attributes::{AttributeDef, AttributeType, Sensitivity};
pub use departments::DepartmentDef;
pub use purposes::PurposeDef;

/// The attribute catalogue's file name.
pub const ATTRIBUTES_FILE: &str = "attributes.toml";
/// The purpose catalogue's file name.
pub const PURPOSES_FILE: &str = "purposes.toml";
/// The department catalogue's file name.
pub const DEPARTMENTS_FILE: &str = "departments.toml";

const EMBEDDED_ATTRIBUTES: &str = include_str!("../catalogue/attributes.toml");
const EMBEDDED_PURPOSES: &str = include_str!("../catalogue/purposes.toml");
const EMBEDDED_DEPARTMENTS: &str = include_str!("../catalogue/departments.toml");

/// The three catalogues, validated together. Built only by loading, so a `Catalogue` in hand is
/// always consistent (every attribute a department or policy names exists).
#[derive(Debug, Clone)]
pub struct Catalogue {
    attributes: Vec<AttributeDef>,
    purposes: Vec<PurposeDef>,
    departments: Vec<DepartmentDef>,
    attribute_index: HashMap<String, usize>,
    purpose_index: HashMap<String, usize>,
    department_index: HashMap<String, usize>,
}

impl Catalogue {
    /// The catalogues compiled into the crate (the demo world).
    ///
    /// # Errors
    /// Only if the embedded files are broken, which the crate's tests rule out.
    pub fn embedded() -> Result<Self, PolicyError> {
        Self::from_toml(EMBEDDED_ATTRIBUTES, EMBEDDED_PURPOSES, EMBEDDED_DEPARTMENTS)
    }

    /// Reads `attributes.toml`, `purposes.toml` and `departments.toml` from `dir`.
    ///
    /// # Errors
    /// A read error, a syntax error, or the first bad entry, named.
    pub fn load_dir(dir: &Path) -> Result<Self, PolicyError> {
        let attributes = read(&dir.join(ATTRIBUTES_FILE))?;
        let purposes = read(&dir.join(PURPOSES_FILE))?;
        let departments = read(&dir.join(DEPARTMENTS_FILE))?;
        Self::from_toml(&attributes, &purposes, &departments)
    }

    /// Parses and validates the three catalogues from their TOML text.
    ///
    /// # Errors
    /// A syntax error, or the first bad entry, named with its file.
    pub fn from_toml(
        attributes: &str,
        purposes: &str,
        departments: &str,
    ) -> Result<Self, PolicyError> {
        let attributes = attributes::parse(parse_file(ATTRIBUTES_FILE, attributes)?)?;
        let attribute_index = index(ATTRIBUTES_FILE, EntryKind::Attribute, &attributes, |a| {
            &a.name
        })?;
        let purposes = purposes::parse(parse_file(PURPOSES_FILE, purposes)?)?;
        let purpose_index = index(PURPOSES_FILE, EntryKind::Purpose, &purposes, |p| &p.code)?;
        let departments = departments::parse(parse_file(DEPARTMENTS_FILE, departments)?, |name| {
            attribute_index.contains_key(name)
        })?;
        let department_index = index(DEPARTMENTS_FILE, EntryKind::Department, &departments, |d| {
            &d.id
        })?;
        Ok(Self {
            attributes,
            purposes,
            departments,
            attribute_index,
            purpose_index,
            department_index,
        })
    }

    /// One attribute by name.
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attribute_index
            .get(name)
            .and_then(|&i| self.attributes.get(i))
    }

    /// All attributes, in file order.
    pub fn attributes(&self) -> &[AttributeDef] {
        &self.attributes
    }

    /// One purpose by code.
    pub fn purpose(&self, code: &str) -> Option<&PurposeDef> {
        self.purpose_index
            .get(code)
            .and_then(|&i| self.purposes.get(i))
    }

    /// All purposes, in file order.
    pub fn purposes(&self) -> &[PurposeDef] {
        &self.purposes
    }

    /// One department by id.
    pub fn department(&self, id: &str) -> Option<&DepartmentDef> {
        self.department_index
            .get(id)
            .and_then(|&i| self.departments.get(i))
    }

    /// All departments, in file order.
    pub fn departments(&self) -> &[DepartmentDef] {
        &self.departments
    }

    /// The departments authoritative for `attribute`.
    pub fn authorities_for<'a>(
        &'a self,
        attribute: &'a str,
    ) -> impl Iterator<Item = &'a DepartmentDef> {
        self.departments
            .iter()
            .filter(move |d| d.authoritative_for.iter().any(|a| a == attribute))
    }

    /// Checks that `value` fits `attribute`'s type. The error names the attribute and the rule,
    /// never the value.
    ///
    /// # Errors
    /// A [`crate::ValueError`] (the attribute is unknown, or the value does not fit).
    pub fn validate_value(
        &self,
        attribute: &str,
        value: &serde_json::Value,
    ) -> Result<(), crate::ValueError> {
        let Some(def) = self.attribute(attribute) else {
            return Err(crate::ValueError::new(
                attribute,
                crate::ValueFault::UnknownAttribute,
            ));
        };
        value::validate(&def.kind, value).map_err(|fault| crate::ValueError::new(attribute, fault))
    }
}

fn read(path: &Path) -> Result<String, PolicyError> {
    std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
        path: path.to_owned(),
        source,
    })
}

fn parse_file<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, PolicyError> {
    toml::from_str(text).map_err(|error| {
        let line = error
            .span()
            .and_then(|span| text.get(..span.start))
            .map_or(0, |before| before.matches('\n').count() + 1);
        PolicyError::CatalogueSyntax {
            file: file.to_owned(),
            message: format!("line {line}: {}", error.message().trim_end()),
        }
    })
}

fn index<T>(
    file: &str,
    kind: EntryKind,
    entries: &[T],
    key: impl Fn(&T) -> &String,
) -> Result<HashMap<String, usize>, PolicyError> {
    let mut map = HashMap::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        if map.insert(key(entry).clone(), i).is_some() {
            return Err(entry_error(file, kind, key(entry), EntryProblem::Duplicate));
        }
    }
    Ok(map)
}

pub(crate) fn entry_error(
    file: &str,
    kind: EntryKind,
    name: &str,
    problem: EntryProblem,
) -> PolicyError {
    PolicyError::CatalogueEntry {
        file: file.to_owned(),
        kind,
        name: name.to_owned(),
        problem,
    }
}

/// Takes a required text field, or names the entry that lacks it.
pub(crate) fn required(
    value: Option<String>,
    field: &'static str,
    on_missing: impl FnOnce(EntryProblem) -> PolicyError,
) -> Result<String, PolicyError> {
    match value {
        Some(text) if !text.trim().is_empty() => Ok(text),
        _ if field.ends_with("_fr") => Err(on_missing(EntryProblem::MissingFrench(field))),
        _ => Err(on_missing(EntryProblem::Missing(field))),
    }
}

/// Lowercase letters, digits, `_` and `-`, starting with a letter, at most 64 characters.
pub(crate) fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// The entry's name for messages: its key, or its position when the key is missing.
pub(crate) fn display_name(key: Option<&String>, position: usize) -> String {
    match key {
        Some(name) if !name.is_empty() => name.clone(),
        _ => format!("#{}", position + 1),
    }
}
