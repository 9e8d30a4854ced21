//! `purposes.toml`: why a department may receive an attribute.

use serde::{Deserialize, Serialize};

use super::{PURPOSES_FILE, display_name, entry_error, is_valid_name, required};
use crate::PolicyError;
use crate::error::{EntryKind, EntryProblem};

/// A registered purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurposeDef {
    /// Its code, as used in requests, consents and policies.
    pub code: String,
    /// Its category (the consent receipt's `purposeCategory`).
    pub category: String,
    /// The legal basis, a statute citation, in English.
    pub legal_basis: String,
    /// The legal basis in French.
    pub legal_basis_fr: String,
    /// Plain-language text shown to citizens, in English.
    pub text_en: String,
    /// The same in French.
    pub text_fr: String,
    /// Whether this purpose and its legal basis are illustrative examples, not legal advice.
    /// Pages must say so when true.
    pub illustrative: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
    #[serde(default)]
    purpose: Vec<Raw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    code: Option<String>,
    category: Option<String>,
    legal_basis: Option<String>,
    legal_basis_fr: Option<String>,
    text_en: Option<String>,
    text_fr: Option<String>,
    illustrative: Option<bool>,
}

pub(super) fn parse(file: File) -> Result<Vec<PurposeDef>, PolicyError> {
    file.purpose
        .into_iter()
        .enumerate()
        .map(|(position, raw)| {
            let shown = display_name(raw.code.as_ref(), position);
            let fail = |problem| entry_error(PURPOSES_FILE, EntryKind::Purpose, &shown, problem);
            let code = required(raw.code, "code", fail)?;
            if !is_valid_name(&code) {
                return Err(fail(EntryProblem::BadName));
            }
            Ok(PurposeDef {
                code,
                category: required(raw.category, "category", fail)?,
                legal_basis: required(raw.legal_basis, "legal_basis", fail)?,
                legal_basis_fr: required(raw.legal_basis_fr, "legal_basis_fr", fail)?,
                text_en: required(raw.text_en, "text_en", fail)?,
                text_fr: required(raw.text_fr, "text_fr", fail)?,
                // Required, with no default: every purpose states whether it is only an example.
                illustrative: raw
                    .illustrative
                    .ok_or_else(|| fail(EntryProblem::Missing("illustrative")))?,
            })
        })
        .collect()
}
