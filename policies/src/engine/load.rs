//! Loading: parse the schema and policy files, read each policy's annotations, check every
//! entity it names against the catalogue, validate strictly against the schema, and build the
//! Cedar entities once.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Effect, Entities, Entity, EntityId, EntityTypeName, EntityUid, Policy, PolicyId, PolicySet,
    PrincipalConstraint, ResourceConstraint, RestrictedExpression, Schema, ValidationMode,
    Validator,
};
use serde::Serialize;

use crate::error::{PolicyProblem, Problems};
use crate::grant::PermitTerms;
use crate::{Catalogue, PolicyError, WithheldCode};

#[cfg(test)]
mod tests;

/// Entity type names in the schema.
pub(super) const DEPARTMENT: &str = "Department";
pub(super) const ATTRIBUTE: &str = "Attribute";
pub(super) const PURPOSE: &str = "Purpose";
const ACTION: &str = "Action";

const PERMIT_ANNOTATIONS: [&str; 5] = ["id", "legal_basis", "consent", "min_loa", "description"];
const FORBID_ANNOTATIONS: [&str; 4] = ["id", "legal_basis", "code", "description"];

/// A policy as listed by `broker policies validate` and shown to privacy officers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyInfo {
    /// The `@id`.
    pub id: String,
    /// The file it was read from.
    pub file: String,
    /// `permit` or `forbid`.
    pub effect: PolicyEffect,
    /// The `@legal_basis`, if any (always present on permits).
    pub legal_basis: Option<String>,
    /// For permits: whether `@consent("required")`.
    pub consent_required: Option<bool>,
    /// For permits: the `@min_loa` (1 when absent).
    pub min_loa: Option<u8>,
    /// For forbids: the `@code` reported when it fires.
    pub code: Option<WithheldCode>,
}

/// A policy's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyEffect {
    /// Allows, when its conditions hold and nothing forbids.
    Permit,
    /// Denies, whatever permits.
    Forbid,
}

/// Everything loading produces.
pub(super) struct Loaded {
    pub(super) policies: PolicySet,
    pub(super) slices: Slices,
    pub(super) entities: Entities,
    pub(super) permits: HashMap<String, PermitTerms>,
    pub(super) forbid_codes: HashMap<String, WithheldCode>,
    pub(super) infos: Vec<PolicyInfo>,
    pub(super) warnings: Vec<String>,
}

pub(super) fn load(
    catalogue: &Catalogue,
    schema_file: (&str, &str),
    policy_files: &[(String, String)],
) -> Result<Loaded, PolicyError> {
    let (file, text) = schema_file;
    let (schema, schema_warnings) =
        Schema::from_cedarschema_str(text).map_err(|error| PolicyError::Schema {
            file: file.to_owned(),
            message: error.to_string(),
        })?;
    let mut warnings: Vec<String> = schema_warnings
        .map(|warning| format!("`{file}`: {warning}"))
        .collect();

    let mut policies = PolicySet::new();
    let mut file_of: HashMap<String, String> = HashMap::new();
    let mut permits = HashMap::new();
    let mut forbid_codes = HashMap::new();
    let mut infos = Vec::new();
    for (file, text) in policy_files {
        let parsed = PolicySet::from_str(text).map_err(|error| PolicyError::PolicySyntax {
            file: file.clone(),
            message: error.to_string(),
        })?;
        if let Some(template) = parsed.templates().next() {
            let name = template.annotation("id").unwrap_or(template.id().as_ref());
            return Err(policy_error(file, name, PolicyProblem::Template));
        }
        for (position, policy) in parsed.policies().enumerate() {
            let Some(id) = policy.annotation("id").filter(|id| !id.trim().is_empty()) else {
                return Err(policy_error(
                    file,
                    &format!("#{}", position + 1),
                    PolicyProblem::MissingId,
                ));
            };
            if let Some(first_file) = file_of.get(id) {
                let problem = PolicyProblem::DuplicateId {
                    first_file: first_file.clone(),
                };
                return Err(policy_error(file, id, problem));
            }
            let fail = |problem| policy_error(file, id, problem);
            check_entities(catalogue, policy).map_err(fail)?;
            let info = read_annotations(file, id, policy, &mut permits, &mut forbid_codes)
                .map_err(fail)?;
            infos.push(info);
            file_of.insert(id.to_owned(), file.clone());
            // Cannot fail: ids were checked unique above.
            policies
                .add(policy.new_id(PolicyId::new(id)))
                .map_err(|_| {
                    fail(PolicyProblem::DuplicateId {
                        first_file: file.clone(),
                    })
                })?;
        }
    }

    let validator = Validator::new(schema);
    let validation = validator.validate(&policies, ValidationMode::Strict);
    // "`file`: policy `id`: message", without Cedar's own "for policy `id`, " prefix.
    let place = |id: &PolicyId, message: String| {
        let file = file_of
            .get(AsRef::<str>::as_ref(id))
            .map_or("?", String::as_str);
        let prefix = format!("for policy `{id}`, ");
        let message = message.strip_prefix(&prefix).unwrap_or(&message);
        format!("`{file}`: policy `{id}`: {message}")
    };
    let problems: Vec<String> = validation
        .validation_errors()
        .map(|error| place(error.policy_id(), error.to_string()))
        .collect();
    if !problems.is_empty() {
        return Err(PolicyError::Validation(Problems(problems)));
    }
    warnings.extend(
        validation
            .validation_warnings()
            .map(|warning| place(warning.policy_id(), warning.to_string())),
    );

    let entities = build_entities(catalogue, validator.schema())?;
    let slices = slice(catalogue, &policies)?;
    Ok(Loaded {
        policies,
        slices,
        entities,
        permits,
        forbid_codes,
        infos,
        warnings,
    })
}

fn policy_error(file: &str, policy: &str, problem: PolicyProblem) -> PolicyError {
    PolicyError::Policy {
        file: file.to_owned(),
        policy: policy.to_owned(),
        problem,
    }
}

/// Every department, attribute and purpose a policy names must be in the catalogue: a typo in
/// an id would otherwise make a permit silently never match (or a forbid never fire).
fn check_entities(catalogue: &Catalogue, policy: &Policy) -> Result<(), PolicyProblem> {
    for uid in policy.entity_literals() {
        let id = uid.id().unescaped();
        let known = match uid.type_name().to_string().as_str() {
            DEPARTMENT => catalogue.department(id).is_some(),
            ATTRIBUTE => catalogue.attribute(id).is_some(),
            PURPOSE => catalogue.purpose(id).is_some(),
            // Actions and other types are checked by schema validation.
            _ => true,
        };
        if !known {
            return Err(PolicyProblem::UnknownEntity(uid.to_string()));
        }
    }
    Ok(())
}

fn read_annotations(
    file: &str,
    id: &str,
    policy: &Policy,
    permits: &mut HashMap<String, PermitTerms>,
    forbid_codes: &mut HashMap<String, WithheldCode>,
) -> Result<PolicyInfo, PolicyProblem> {
    let allowed: &[&str] = match policy.effect() {
        Effect::Permit => &PERMIT_ANNOTATIONS,
        Effect::Forbid => &FORBID_ANNOTATIONS,
    };
    if let Some((key, _)) = policy.annotations().find(|(key, _)| !allowed.contains(key)) {
        return Err(PolicyProblem::UnknownAnnotation(key.to_owned()));
    }
    let legal_basis = policy.annotation("legal_basis").map(str::to_owned);
    let mut info = PolicyInfo {
        id: id.to_owned(),
        file: file.to_owned(),
        effect: PolicyEffect::Permit,
        legal_basis,
        consent_required: None,
        min_loa: None,
        code: None,
    };
    match policy.effect() {
        Effect::Permit => {
            let terms = PermitTerms::from_annotations(id, |key| policy.annotation(key))?;
            info.consent_required = Some(terms.consent_required());
            info.min_loa = Some(terms.min_loa());
            permits.insert(id.to_owned(), terms);
        }
        Effect::Forbid => {
            info.effect = PolicyEffect::Forbid;
            if let Some(text) = policy.annotation("code") {
                let code =
                    WithheldCode::from_str(text).map_err(|()| PolicyProblem::BadAnnotation {
                        key: "code".to_owned(),
                        expected: "a withheld code such as `subject_deceased`",
                    })?;
                info.code = Some(code);
                forbid_codes.insert(id.to_owned(), code);
            }
        }
    }
    Ok(info)
}

/// Per department, per attribute: the policies whose scope can match them.
pub(super) type Slices = HashMap<String, HashMap<String, PolicySet>>;

/// Cedar evaluates every policy of a set; slicing by scope keeps a decision to the few policies
/// that could apply. A policy is left out of a slice only when its scope says
/// `principal == D` or `resource == A` for another D or A: such a policy can neither be
/// satisfied nor error (scope is checked before conditions), so each slice decides exactly as
/// the whole set would, with the same reasons.
fn slice(catalogue: &Catalogue, policies: &PolicySet) -> Result<Slices, PolicyError> {
    let mut slices = Slices::new();
    for department in catalogue.departments() {
        let principal =
            uid(DEPARTMENT, &department.id).map_err(|message| PolicyError::Entities { message })?;
        let by_attribute = slices.entry(department.id.clone()).or_default();
        for attribute in catalogue.attributes() {
            let resource = uid(ATTRIBUTE, &attribute.name)
                .map_err(|message| PolicyError::Entities { message })?;
            let relevant = policies.policies().filter(|policy| {
                let principal_may = match policy.principal_constraint() {
                    PrincipalConstraint::Eq(only) => only == principal,
                    _ => true,
                };
                let resource_may = match policy.resource_constraint() {
                    ResourceConstraint::Eq(only) => only == resource,
                    _ => true,
                };
                principal_may && resource_may
            });
            let set = PolicySet::from_policies(relevant.cloned()).map_err(|error| {
                PolicyError::Entities {
                    message: error.to_string(),
                }
            })?;
            by_attribute.insert(attribute.name.clone(), set);
        }
    }
    Ok(slices)
}

/// The catalogue as Cedar entities (plus the schema's actions), built once at load.
fn build_entities(catalogue: &Catalogue, schema: &Schema) -> Result<Entities, PolicyError> {
    let entities_error = |message: String| PolicyError::Entities { message };
    let mut entities = Vec::new();
    for department in catalogue.departments() {
        entities.push(Entity::new_no_attrs(
            uid(DEPARTMENT, &department.id).map_err(entities_error)?,
            HashSet::new(),
        ));
    }
    for purpose in catalogue.purposes() {
        entities.push(Entity::new_no_attrs(
            uid(PURPOSE, &purpose.code).map_err(entities_error)?,
            HashSet::new(),
        ));
    }
    for attribute in catalogue.attributes() {
        let attrs = HashMap::from([(
            "sensitivity".to_owned(),
            RestrictedExpression::new_string(attribute.sensitivity.as_str().to_owned()),
        )]);
        let entity = Entity::new(
            uid(ATTRIBUTE, &attribute.name).map_err(entities_error)?,
            attrs,
            HashSet::new(),
        )
        .map_err(|error| entities_error(error.to_string()))?;
        entities.push(entity);
    }
    Entities::from_entities(entities, Some(schema))
        .map_err(|error| entities_error(error.to_string()))
}

/// `Type::"id"`.
pub(super) fn uid(type_name: &str, id: &str) -> Result<EntityUid, String> {
    let type_name = EntityTypeName::from_str(type_name).map_err(|error| error.to_string())?;
    Ok(EntityUid::from_type_name_and_id(
        type_name,
        EntityId::new(id),
    ))
}

/// `Action::"name"`.
pub(super) fn action_uid(name: &str) -> Result<EntityUid, String> {
    uid(ACTION, name)
}
