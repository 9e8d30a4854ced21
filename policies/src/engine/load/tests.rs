//! Loading: the embedded policies validate, the directory matches the embedded copy, and every
//! load error names its file and policy.

use crate::engine::{EMBEDDED_POLICIES, PolicyEngine, PolicySource};
use crate::{Catalogue, PolicyEffect, PolicyError, WithheldCode};

const SCHEMA: &str = include_str!("../../../cedar/broker.cedarschema");

fn engine() -> PolicyEngine {
    PolicyEngine::load(PolicySource::EMBEDDED).unwrap()
}

fn custom(policies: &[(&str, &str)]) -> Result<PolicyEngine, PolicyError> {
    let files: Vec<(String, String)> = policies
        .iter()
        .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
        .collect();
    PolicyEngine::from_parts(Catalogue::embedded()?, SCHEMA, &files)
}

#[test]
fn the_embedded_policies_validate_against_the_schema() {
    let report = PolicyEngine::validate(PolicySource::EMBEDDED).unwrap();
    assert_eq!(
        (report.attributes, report.purposes, report.departments),
        (9, 5, 5)
    );
    assert_eq!(report.policies.len(), 11);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let engine = engine();
    let forbid = engine.policy("forbid-release-after-death").unwrap();
    assert_eq!(forbid.effect, PolicyEffect::Forbid);
    assert_eq!(forbid.code, Some(WithheldCode::SubjectDeceased));
    let statutory = engine.policy("statutory-death-notification").unwrap();
    assert_eq!(statutory.consent_required, Some(false));
    for info in engine.policies() {
        assert!(
            info.legal_basis
                .as_deref()
                .is_some_and(|basis| basis.contains("illustrative")),
            "{} must say its legal basis is illustrative",
            info.id
        );
    }
}

#[test]
fn the_directory_loads_like_the_embedded_copy() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let catalogue_dir = dir.join("catalogue");
    let policy_dir = dir.join("cedar");
    let from_dir = PolicyEngine::load(PolicySource {
        catalogue_dir: Some(&catalogue_dir),
        policy_dir: Some(&policy_dir),
    })
    .unwrap();
    assert_eq!(from_dir.policies(), engine().policies());
    // Every file in cedar/ is embedded, and nothing else.
    let mut on_disk: Vec<String> = std::fs::read_dir(dir.join("cedar"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".cedar"))
        .collect();
    on_disk.sort();
    let embedded: Vec<&str> = EMBEDDED_POLICIES.iter().map(|(name, _)| *name).collect();
    assert_eq!(on_disk, embedded);
}

fn load_error(text: &str) -> String {
    custom(&[
        ("common.cedar", include_str!("../../../cedar/common.cedar")),
        ("bad.cedar", text),
    ])
    .unwrap_err()
    .to_string()
}

const PERMIT_HEAD: &str = "@legal_basis(\"x\")\n@consent(\"required\")\n";

#[test]
fn load_errors_name_the_file_and_policy() {
    let cases = [
        (
            format!("{PERMIT_HEAD}permit (principal, action, resource);"),
            "`bad.cedar`: policy `#1` has no `@id` annotation",
        ),
        (
            format!("@id(\"forbid-release-after-death\")\n{PERMIT_HEAD}permit (principal, action, resource);"),
            "`bad.cedar`: policy `forbid-release-after-death` is already defined in `common.cedar`",
        ),
        (
            "@id(\"p\")\n@consent(\"required\")\npermit (principal, action, resource);".to_owned(),
            "`bad.cedar`: policy `p` has no `@legal_basis` annotation",
        ),
        (
            "@id(\"p\")\n@legal_basis(\"x\")\n@consent(\"maybe\")\npermit (principal, action, resource);".to_owned(),
            "`bad.cedar`: policy `p` has an invalid `@consent` annotation (expected `required` or `not-required`)",
        ),
        (
            format!("@id(\"p\")\n{PERMIT_HEAD}@min_loa(\"5\")\npermit (principal, action, resource);"),
            "`bad.cedar`: policy `p` has an invalid `@min_loa` annotation (expected a level of assurance from 1 to 4)",
        ),
        (
            format!("@id(\"p\")\n{PERMIT_HEAD}@legal_bases(\"y\")\npermit (principal, action, resource);"),
            "`bad.cedar`: policy `p` has unknown annotation `@legal_bases`",
        ),
        (
            "@id(\"f\")\n@code(\"because\")\nforbid (principal, action, resource);".to_owned(),
            "`bad.cedar`: policy `f` has an invalid `@code` annotation (expected a withheld code such as `subject_deceased`)",
        ),
        (
            format!("@id(\"p\")\n{PERMIT_HEAD}permit (principal, action, resource == Attribute::\"shoe_size\");"),
            "`bad.cedar`: policy `p` names `Attribute::\"shoe_size\"`, which is not in the catalogue",
        ),
        (
            format!("@id(\"p\")\n{PERMIT_HEAD}permit (principal, action, resource) when {{ context.purpose == Purpose::\"marketing\" }};"),
            "`bad.cedar`: policy `p` names `Purpose::\"marketing\"`, which is not in the catalogue",
        ),
        (
            format!("@id(\"p\")\n{PERMIT_HEAD}permit (principal == Department::\"bank\", action, resource);"),
            "`bad.cedar`: policy `p` names `Department::\"bank\"`, which is not in the catalogue",
        ),
        (
            "@id(\"t\")\n@legal_basis(\"x\")\n@consent(\"required\")\npermit (principal == ?principal, action, resource);".to_owned(),
            "`bad.cedar`: policy `t` is a template; only static policies are supported",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(load_error(&text), expected);
    }
}

#[test]
fn schema_and_syntax_errors_name_the_file_and_policy() {
    let message = load_error(&format!(
        "@id(\"typo\")\n{PERMIT_HEAD}permit (principal, action, resource) when {{ context.consnt == \"active\" }};"
    ));
    assert!(
        message.starts_with(
            "policies fail strict validation against the schema: `bad.cedar`: policy `typo`: "
        ),
        "{message}"
    );
    let message = load_error("permit (principal, action, resource) when {");
    assert!(
        message.starts_with("`bad.cedar` is not valid Cedar: "),
        "{message}"
    );
    let error =
        PolicyEngine::from_parts(Catalogue::embedded().unwrap(), "entity ;", &[]).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("`broker.cedarschema` is not a valid Cedar schema: "),
        "{error}"
    );
}
