use serde_json::{Value, json};

use super::*;
use crate::{ValueError, ValueFault};

const ATTRIBUTES: &str = include_str!("../../catalogue/attributes.toml");
const PURPOSES: &str = include_str!("../../catalogue/purposes.toml");
const DEPARTMENTS: &str = include_str!("../../catalogue/departments.toml");

fn embedded() -> Catalogue {
    Catalogue::embedded().unwrap()
}

fn load_error(attributes: &str, purposes: &str, departments: &str) -> PolicyError {
    Catalogue::from_toml(attributes, purposes, departments).unwrap_err()
}

#[test]
fn the_demo_world_is_complete() {
    let catalogue = embedded();
    let names: Vec<&str> = catalogue
        .attributes()
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "given_name",
            "family_name",
            "birthdate",
            "address",
            "email",
            "phone_number",
            "preferred_language",
            "marital_status",
            "date_of_death"
        ]
    );
    let departments: Vec<&str> = catalogue
        .departments()
        .iter()
        .map(|d| d.id.as_str())
        .collect();
    assert_eq!(
        departments,
        [
            "revenue-agency",
            "employment-social-development",
            "passport-office",
            "vital-statistics",
            "health-insurance"
        ]
    );
    for code in [
        "benefit-eligibility",
        "pension-enrolment",
        "travel-document-issuance",
        "health-coverage-administration",
        "death-notification",
    ] {
        let purpose = catalogue.purpose(code).unwrap();
        assert!(purpose.illustrative, "{code} must be marked illustrative");
        assert!(!purpose.text_fr.is_empty() && !purpose.legal_basis_fr.is_empty());
    }
    let authorities: Vec<&str> = catalogue
        .authorities_for("date_of_death")
        .map(|d| d.id.as_str())
        .collect();
    assert_eq!(authorities, ["vital-statistics"]);
    assert_eq!(
        catalogue.department("revenue-agency").unwrap().name_fr,
        "Agence du revenu"
    );
    assert_eq!(
        catalogue.attribute("marital_status").unwrap().sensitivity,
        Sensitivity::High
    );
}

#[test]
fn an_unknown_attribute_in_a_department_is_named() {
    let departments = DEPARTMENTS.replace(
        "authoritative_for = [\"marital_status\"]",
        "authoritative_for = [\"marital_stat\"]",
    );
    let error = load_error(ATTRIBUTES, PURPOSES, &departments);
    assert_eq!(
        error.to_string(),
        "`departments.toml`: department `revenue-agency` names unknown attribute `marital_stat`"
    );
}

#[test]
fn a_duplicate_code_is_named() {
    let purposes = format!(
        "{PURPOSES}\n[[purpose]]\ncode = \"death-notification\"\ncategory = \"x\"\n\
         illustrative = true\nlegal_basis = \"x\"\nlegal_basis_fr = \"x\"\ntext_en = \"x\"\n\
         text_fr = \"x\"\n"
    );
    let error = load_error(ATTRIBUTES, &purposes, DEPARTMENTS);
    assert_eq!(
        error.to_string(),
        "`purposes.toml`: purpose `death-notification` is defined twice"
    );
}

#[test]
fn missing_french_text_is_named() {
    let attributes = ATTRIBUTES.replace("label_fr = \"Date du décès\"\n", "");
    let error = load_error(&attributes, PURPOSES, DEPARTMENTS);
    assert!(matches!(
        &error,
        PolicyError::CatalogueEntry { name, problem: EntryProblem::MissingFrench("label_fr"), .. }
            if name == "date_of_death"
    ));
    assert_eq!(
        error.to_string(),
        "`attributes.toml`: attribute `date_of_death` has no French text (`label_fr`)"
    );

    let purposes = PURPOSES.replacen("text_fr = ", "text_fr_draft = ", 1);
    let error = load_error(ATTRIBUTES, &purposes, DEPARTMENTS);
    assert!(
        matches!(error, PolicyError::CatalogueSyntax { ref file, .. } if file == "purposes.toml"),
        "an unknown field is a syntax error: {error}"
    );
    let purposes = PURPOSES.replacen("text_fr = \"Pour déterminer", "text_fr = \" \" # \"", 1);
    let error = load_error(ATTRIBUTES, &purposes, DEPARTMENTS);
    assert_eq!(
        error.to_string(),
        "`purposes.toml`: purpose `benefit-eligibility` has no French text (`text_fr`)"
    );
}

#[test]
fn the_illustrative_marker_is_required() {
    let purposes = PURPOSES.replacen("illustrative = true\n", "", 1);
    let error = load_error(ATTRIBUTES, &purposes, DEPARTMENTS);
    assert_eq!(
        error.to_string(),
        "`purposes.toml`: purpose `benefit-eligibility` has no `illustrative`"
    );
}

#[test]
fn bad_attribute_entries_are_named() {
    let cases = [
        (
            "[[attribute]]\nname = \"shoe\"\ntype = \"number\"\nsensitivity = \"low\"\nlabel_en = \"x\"\nlabel_fr = \"x\"\n",
            "`attributes.toml`: attribute `shoe` has unknown type `number` (expected string, date, address, email, phone or enum)",
        ),
        (
            "[[attribute]]\nname = \"shoe\"\ntype = \"enum\"\nsensitivity = \"low\"\nlabel_en = \"x\"\nlabel_fr = \"x\"\n",
            "`attributes.toml`: attribute `shoe` needs `values`: a non-empty list of distinct, non-empty strings",
        ),
        (
            "[[attribute]]\nname = \"shoe\"\ntype = \"string\"\nvalues = [\"a\"]\nsensitivity = \"low\"\nlabel_en = \"x\"\nlabel_fr = \"x\"\n",
            "`attributes.toml`: attribute `shoe` has `values` but is not of type enum",
        ),
        (
            "[[attribute]]\nname = \"Shoe Size\"\ntype = \"string\"\nsensitivity = \"low\"\nlabel_en = \"x\"\nlabel_fr = \"x\"\n",
            "`attributes.toml`: attribute `Shoe Size` is not a valid name (lowercase letters, digits, `_` or `-`, starting with a letter)",
        ),
        (
            "[[attribute]]\nname = \"shoe\"\ntype = \"string\"\nsensitivity = \"secret\"\nlabel_en = \"x\"\nlabel_fr = \"x\"\n",
            "`attributes.toml`: attribute `shoe` has unknown sensitivity `secret` (expected low, medium or high)",
        ),
        (
            "[[attribute]]\ntype = \"string\"\nsensitivity = \"low\"\nlabel_en = \"x\"\nlabel_fr = \"x\"\n",
            "`attributes.toml`: attribute `#10` has no `name`",
        ),
    ];
    for (extra, expected) in cases {
        let attributes = format!("{ATTRIBUTES}\n{extra}");
        let error = load_error(&attributes, PURPOSES, DEPARTMENTS);
        assert_eq!(error.to_string(), expected);
    }
}

#[test]
fn toml_syntax_errors_name_the_file_and_line() {
    let error = load_error("[[attribute]\nname = ", PURPOSES, DEPARTMENTS);
    let message = error.to_string();
    assert!(
        message.starts_with("`attributes.toml` is not a valid catalogue file: line 1"),
        "{message}"
    );
}

#[test]
fn load_dir_reads_the_crate_catalogue() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("catalogue");
    let loaded = Catalogue::load_dir(&dir).unwrap();
    assert_eq!(loaded.attributes(), embedded().attributes());
    let missing = Catalogue::load_dir(&dir.join("nowhere")).unwrap_err();
    assert!(
        missing.to_string().starts_with("cannot read `"),
        "{missing}"
    );
}

fn fault(attribute: &str, value: &Value) -> ValueFault {
    let error: ValueError = embedded().validate_value(attribute, value).unwrap_err();
    assert_eq!(error.attribute(), attribute);
    // The message never repeats the value.
    let shown = error.to_string();
    if let Some(text) = value.as_str().filter(|text| text.trim().len() > 2) {
        assert!(!shown.contains(text), "{shown} leaks the value");
    }
    error.fault().clone()
}

fn ok(attribute: &str, value: &Value) {
    assert_eq!(
        embedded().validate_value(attribute, value),
        Ok(()),
        "{attribute}: {value}"
    );
}

#[test]
fn strings() {
    ok("given_name", &json!("Alice"));
    ok("family_name", &json!("Tremblay-Côté"));
    assert_eq!(
        fault("given_name", &json!(42)),
        ValueFault::WrongType {
            expected: "a string"
        }
    );
    assert_eq!(fault("given_name", &json!("   ")), ValueFault::Empty);
    assert_eq!(
        fault("given_name", &json!("x".repeat(257))),
        ValueFault::TooLong { max: 256 }
    );
    assert_eq!(
        fault("given_name", &json!("Ali\u{7}ce")),
        ValueFault::ControlCharacter
    );
}

#[test]
fn dates() {
    ok("birthdate", &json!("1958-03-14"));
    ok("birthdate", &json!("2000-02-29"));
    ok("date_of_death", &json!("2024-02-29"));
    assert_eq!(
        fault("birthdate", &json!("1900-02-29")),
        ValueFault::NotARealDate
    );
    assert_eq!(
        fault("birthdate", &json!("2023-02-29")),
        ValueFault::NotARealDate
    );
    assert_eq!(
        fault("birthdate", &json!("1958-13-01")),
        ValueFault::NotARealDate
    );
    assert_eq!(
        fault("birthdate", &json!("1958-04-31")),
        ValueFault::NotARealDate
    );
    assert_eq!(
        fault("birthdate", &json!("0000-01-01")),
        ValueFault::NotARealDate
    );
    assert_eq!(
        fault("birthdate", &json!("14/03/1958")),
        ValueFault::NotIsoDate
    );
    assert_eq!(
        fault("birthdate", &json!("1958-3-14")),
        ValueFault::NotIsoDate
    );
    assert_eq!(
        fault("birthdate", &json!("1958-03-14T00:00:00Z")),
        ValueFault::NotIsoDate
    );
    assert_eq!(
        fault("birthdate", &json!("1958-0a-14")),
        ValueFault::NotIsoDate
    );
}

fn home() -> Value {
    json!({
        "street_address": "123 Main Street",
        "locality": "Ottawa",
        "region": "ON",
        "postal_code": "K1A 0B1",
        "country": "CA"
    })
}

#[test]
fn addresses() {
    ok("address", &home());
    let mut formatted = home();
    formatted["formatted"] = json!("123 Main Street\nOttawa ON  K1A 0B1\nCanada");
    ok("address", &formatted);

    let mut missing = home();
    missing.as_object_mut().unwrap().remove("postal_code");
    assert_eq!(
        fault("address", &missing),
        ValueFault::MissingField("postal_code")
    );
    let mut extra = home();
    extra["sin"] = json!("046 454 286");
    assert_eq!(fault("address", &extra), ValueFault::UnexpectedField);
    let mut blank = home();
    blank["locality"] = json!("");
    assert_eq!(fault("address", &blank), ValueFault::Empty);
    let mut number = home();
    number["postal_code"] = json!(12345);
    assert!(matches!(
        fault("address", &number),
        ValueFault::WrongType { .. }
    ));
    assert!(matches!(
        fault("address", &json!("123 Main Street, Ottawa")),
        ValueFault::WrongType { .. }
    ));
}

#[test]
fn emails() {
    ok("email", &json!("alice@example.ca"));
    ok("email", &json!("alice.tremblay+tuo@mail.example.gc.ca"));
    for bad in [
        "alice",
        "alice@example",
        "@example.ca",
        "alice smith@example.ca",
        "a@@example.ca",
        ".alice@example.ca",
        "alice@-example.ca",
    ] {
        assert_eq!(fault("email", &json!(bad)), ValueFault::NotAnEmail, "{bad}");
    }
}

#[test]
fn phones() {
    ok("phone_number", &json!("+16135550123"));
    ok("phone_number", &json!("+442079460000"));
    for bad in [
        "6135550123",
        "+0123456",
        "+1 613 555 0123",
        "+1613555012345678",
        "+",
    ] {
        assert_eq!(
            fault("phone_number", &json!(bad)),
            ValueFault::NotE164,
            "{bad}"
        );
    }
}

#[test]
fn enums() {
    ok("preferred_language", &json!("fr"));
    ok("marital_status", &json!("common_law"));
    assert_eq!(
        fault("preferred_language", &json!("de")),
        ValueFault::NotAllowed
    );
    assert_eq!(
        fault("marital_status", &json!("Married")),
        ValueFault::NotAllowed
    );
}

#[test]
fn unknown_attributes() {
    assert_eq!(
        fault("shoe_size", &json!("44")),
        ValueFault::UnknownAttribute
    );
    let error = embedded()
        .validate_value("shoe_size", &json!("44"))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid value for attribute `shoe_size`: the attribute is not in the catalogue"
    );
}
