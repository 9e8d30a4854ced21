//! The policy engine: the catalogue, the Cedar schema, policies and entities, all built once at
//! load, and the release decisions.

use std::collections::HashMap;
use std::path::Path;

use cedar_policy::{Authorizer, Entities, EntityUid, PolicySet};
use consent::Consent;
use serde::Serialize;

use crate::decision::{Channel, ReleaseDecision, ReleaseRequest};
use crate::grant::PermitTerms;
use crate::{Catalogue, PolicyError, WithheldCode};

mod evaluate;
mod load;

#[cfg(test)]
mod tests;

pub use load::{PolicyEffect, PolicyInfo};

/// The schema's file name, in the policy directory.
pub const SCHEMA_FILE: &str = "broker.cedarschema";

const EMBEDDED_SCHEMA: &str = include_str!("../cedar/broker.cedarschema");
/// The embedded policy files. A test checks this list against the `cedar/` directory.
const EMBEDDED_POLICIES: [(&str, &str); 7] = [
    ("common.cedar", include_str!("../cedar/common.cedar")),
    (
        "death-notification.cedar",
        include_str!("../cedar/death-notification.cedar"),
    ),
    (
        "employment-social-development.cedar",
        include_str!("../cedar/employment-social-development.cedar"),
    ),
    (
        "health-insurance.cedar",
        include_str!("../cedar/health-insurance.cedar"),
    ),
    (
        "passport-office.cedar",
        include_str!("../cedar/passport-office.cedar"),
    ),
    (
        "representation.cedar",
        include_str!("../cedar/representation.cedar"),
    ),
    (
        "revenue-agency.cedar",
        include_str!("../cedar/revenue-agency.cedar"),
    ),
];

/// Where to load catalogues and policies from; each part is embedded unless a directory is given
/// (the `catalogue.dir` and `catalogue.policy_dir` settings).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicySource<'a> {
    /// A directory holding `attributes.toml`, `purposes.toml` and `departments.toml`.
    pub catalogue_dir: Option<&'a Path>,
    /// A directory holding `broker.cedarschema` and the `*.cedar` policy files.
    pub policy_dir: Option<&'a Path>,
}

impl PolicySource<'static> {
    /// Everything compiled into the crate (the demo world).
    pub const EMBEDDED: Self = Self {
        catalogue_dir: None,
        policy_dir: None,
    };
}

/// What `broker policies validate` reports once everything has loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationReport {
    /// How many attributes, purposes and departments the catalogue holds.
    pub attributes: usize,
    /// See `attributes`.
    pub purposes: usize,
    /// See `attributes`.
    pub departments: usize,
    /// Every policy, in load order.
    pub policies: Vec<PolicyInfo>,
    /// Cedar's warnings (the policies are valid; these deserve a look).
    pub warnings: Vec<String>,
}

/// Catalogues plus Cedar policies, ready to decide. Cheap to share (`Arc<PolicyEngine>`); every
/// Cedar structure is built once at load, so a decision only builds its request.
#[derive(Debug)]
pub struct PolicyEngine {
    catalogue: Catalogue,
    policies: PolicySet,
    slices: load::Slices,
    entities: Entities,
    authorizer: Authorizer,
    permits: HashMap<String, PermitTerms>,
    forbid_codes: HashMap<String, WithheldCode>,
    infos: Vec<PolicyInfo>,
    warnings: Vec<String>,
    uids: Uids,
}

/// Entity uids made once, so a decision does not parse names.
#[derive(Debug)]
struct Uids {
    release: EntityUid,
    receive: EntityUid,
    departments: HashMap<String, EntityUid>,
    attributes: HashMap<String, EntityUid>,
    purposes: HashMap<String, EntityUid>,
}

impl PolicyEngine {
    /// Loads and validates catalogues and policies: every policy must carry its annotations,
    /// name only catalogued entities, and pass strict validation against the schema.
    ///
    /// # Errors
    /// The first problem found, naming the file and the entry or policy.
    pub fn load(source: PolicySource<'_>) -> Result<Self, PolicyError> {
        let catalogue = match source.catalogue_dir {
            Some(dir) => Catalogue::load_dir(dir)?,
            None => Catalogue::embedded()?,
        };
        match source.policy_dir {
            Some(dir) => {
                let schema = read(&dir.join(SCHEMA_FILE))?;
                let files = read_policy_files(dir)?;
                Self::from_parts(catalogue, &schema, &files)
            }
            None => {
                let files: Vec<(String, String)> = EMBEDDED_POLICIES
                    .iter()
                    .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
                    .collect();
                Self::from_parts(catalogue, EMBEDDED_SCHEMA, &files)
            }
        }
    }

    /// Loads from a catalogue, the schema text and `(file name, text)` policy files.
    ///
    /// # Errors
    /// As [`PolicyEngine::load`].
    pub fn from_parts(
        catalogue: Catalogue,
        schema: &str,
        policy_files: &[(String, String)],
    ) -> Result<Self, PolicyError> {
        let loaded = load::load(&catalogue, (SCHEMA_FILE, schema), policy_files)?;
        let uids = Uids::new(&catalogue)?;
        Ok(Self {
            catalogue,
            policies: loaded.policies,
            slices: loaded.slices,
            entities: loaded.entities,
            authorizer: Authorizer::new(),
            permits: loaded.permits,
            forbid_codes: loaded.forbid_codes,
            infos: loaded.infos,
            warnings: loaded.warnings,
            uids,
        })
    }

    /// Loads `source` and reports what it holds: the `broker policies validate` command.
    ///
    /// # Errors
    /// As [`PolicyEngine::load`].
    pub fn validate(source: PolicySource<'_>) -> Result<ValidationReport, PolicyError> {
        Self::load(source).map(|engine| engine.report())
    }

    /// What this engine holds.
    pub fn report(&self) -> ValidationReport {
        ValidationReport {
            attributes: self.catalogue.attributes().len(),
            purposes: self.catalogue.purposes().len(),
            departments: self.catalogue.departments().len(),
            policies: self.infos.clone(),
            warnings: self.warnings.clone(),
        }
    }

    /// The catalogue the policies were checked against.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// Every policy, in load order.
    pub fn policies(&self) -> &[PolicyInfo] {
        &self.infos
    }

    /// One policy by id (for example to show a decision's reasons).
    pub fn policy(&self, id: &str) -> Option<&PolicyInfo> {
        self.infos.iter().find(|info| info.id == id)
    }

    /// The pull decision (`GET …/attributes`): per attribute, granted with its determining
    /// policies and legal bases, or withheld with a code and reasons.
    ///
    /// `consent` is the citizen's most recent consent for this department and purpose, if the
    /// broker found one (the broker matches the citizen; this crate checks department, purpose,
    /// attributes, state and expiry). Statutory permits need none.
    ///
    /// Each attribute is evaluated with the real context; on a deny, a forbid's `@code` (or
    /// `policy_denied`) is reported, and otherwise the attribute is re-evaluated with the
    /// consent active and/or the highest level of assurance to tell `no_consent` (and its
    /// expired / revoked / not-covering variants) and `insufficient_assurance` from a plain
    /// `policy_denied`. On a permit, the permits' `@consent` and `@min_loa` are enforced again.
    pub fn decide(
        &self,
        request: &ReleaseRequest<'_>,
        consent: Option<&Consent>,
    ) -> ReleaseDecision {
        self.decide_on(Channel::Pull, request, consent)
    }

    /// The push decision (the relay delivering a changed value): as [`PolicyEngine::decide`]
    /// with the Cedar action `receive`, and where consent is required it must be `ongoing`.
    pub fn decide_receive(
        &self,
        request: &ReleaseRequest<'_>,
        consent: Option<&Consent>,
    ) -> ReleaseDecision {
        self.decide_on(Channel::Push, request, consent)
    }
}

impl Uids {
    fn new(catalogue: &Catalogue) -> Result<Self, PolicyError> {
        let error = |message: String| PolicyError::Entities { message };
        let map = |type_name: &str,
                   ids: Vec<&String>|
         -> Result<HashMap<String, EntityUid>, PolicyError> {
            ids.into_iter()
                .map(|id| Ok((id.clone(), load::uid(type_name, id).map_err(error)?)))
                .collect()
        };
        Ok(Self {
            release: load::action_uid(Channel::Pull.cedar_action()).map_err(error)?,
            receive: load::action_uid(Channel::Push.cedar_action()).map_err(error)?,
            departments: map(
                load::DEPARTMENT,
                catalogue.departments().iter().map(|d| &d.id).collect(),
            )?,
            attributes: map(
                load::ATTRIBUTE,
                catalogue.attributes().iter().map(|a| &a.name).collect(),
            )?,
            purposes: map(
                load::PURPOSE,
                catalogue.purposes().iter().map(|p| &p.code).collect(),
            )?,
        })
    }
}

fn read(path: &Path) -> Result<String, PolicyError> {
    std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Every `*.cedar` file in `dir`, sorted by name so load order (and error order) is stable.
fn read_policy_files(dir: &Path) -> Result<Vec<(String, String)>, PolicyError> {
    let read_error = |source| PolicyError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        if path.extension().is_some_and(|ext| ext == "cedar") {
            names.push(path);
        }
    }
    names.sort();
    names
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
            Ok((name, read(&path)?))
        })
        .collect()
}
