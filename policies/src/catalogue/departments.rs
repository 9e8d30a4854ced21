//! `departments.toml`: who the broker knows, and what each is the authoritative source of.

use serde::{Deserialize, Serialize};

use super::{DEPARTMENTS_FILE, display_name, entry_error, is_valid_name, required};
use crate::PolicyError;
use crate::error::{EntryKind, EntryProblem};

/// A department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DepartmentDef {
    /// Its id, as used in policies and consents.
    pub id: String,
    /// English name.
    pub name_en: String,
    /// French name.
    pub name_fr: String,
    /// The sector its pairwise subject ids are derived for (OpenID Connect Core §8.1).
    pub sector_identifier: String,
    /// The attributes it is the authoritative source of.
    pub authoritative_for: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
    #[serde(default)]
    department: Vec<Raw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    id: Option<String>,
    name_en: Option<String>,
    name_fr: Option<String>,
    sector_identifier: Option<String>,
    #[serde(default)]
    authoritative_for: Vec<String>,
}

pub(super) fn parse(
    file: File,
    attribute_exists: impl Fn(&str) -> bool,
) -> Result<Vec<DepartmentDef>, PolicyError> {
    file.department
        .into_iter()
        .enumerate()
        .map(|(position, raw)| {
            let shown = display_name(raw.id.as_ref(), position);
            let fail =
                |problem| entry_error(DEPARTMENTS_FILE, EntryKind::Department, &shown, problem);
            let id = required(raw.id, "id", fail)?;
            if !is_valid_name(&id) {
                return Err(fail(EntryProblem::BadName));
            }
            if let Some(unknown) = raw.authoritative_for.iter().find(|a| !attribute_exists(a)) {
                return Err(fail(EntryProblem::UnknownAttribute(unknown.clone())));
            }
            Ok(DepartmentDef {
                id,
                name_en: required(raw.name_en, "name_en", fail)?,
                name_fr: required(raw.name_fr, "name_fr", fail)?,
                sector_identifier: required(raw.sector_identifier, "sector_identifier", fail)?,
                authoritative_for: raw.authoritative_for,
            })
        })
        .collect()
}
