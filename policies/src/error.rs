//! The crate's one error enum and the details its variants carry.

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong loading catalogues and policies, or checking a value.
///
/// Messages name files, entries, policies and attributes in backticks, never a value.
#[derive(Debug, Error)]
pub enum PolicyError {
    /// A file could not be read.
    #[error("cannot read `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A catalogue file is not the expected TOML.
    #[error("`{file}` is not a valid catalogue file: {message}")]
    CatalogueSyntax {
        /// The file name.
        file: String,
        /// The parser's message.
        message: String,
    },
    /// A catalogue entry is wrong; the entry is named.
    #[error("`{file}`: {kind} `{name}` {problem}")]
    CatalogueEntry {
        /// The file name.
        file: String,
        /// What kind of entry.
        kind: EntryKind,
        /// The entry's name, code or id (or `#n` when it has none).
        name: String,
        /// What is wrong with it.
        problem: EntryProblem,
    },
    /// The Cedar schema does not parse.
    #[error("`{file}` is not a valid Cedar schema: {message}")]
    Schema {
        /// The file name.
        file: String,
        /// Cedar's message.
        message: String,
    },
    /// A policy file does not parse.
    #[error("`{file}` is not valid Cedar: {message}")]
    PolicySyntax {
        /// The file name.
        file: String,
        /// Cedar's message.
        message: String,
    },
    /// A policy is wrong; the file and policy are named.
    #[error("`{file}`: policy `{policy}` {problem}")]
    Policy {
        /// The file name.
        file: String,
        /// The policy's `@id` (or `#n`, its position in the file, when it has none).
        policy: String,
        /// What is wrong with it.
        problem: PolicyProblem,
    },
    /// Policies fail strict validation against the schema.
    #[error("policies fail strict validation against the schema: {0}")]
    Validation(Problems),
    /// The catalogue could not be turned into Cedar entities.
    #[error("cannot build Cedar entities from the catalogue: {message}")]
    Entities {
        /// Cedar's message.
        message: String,
    },
    /// A value does not fit its attribute's type.
    #[error(transparent)]
    Value(#[from] ValueError),
}

/// The kinds of catalogue entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// An `[[attribute]]`.
    Attribute,
    /// A `[[purpose]]`.
    Purpose,
    /// A `[[department]]`.
    Department,
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Attribute => "attribute",
            Self::Purpose => "purpose",
            Self::Department => "department",
        })
    }
}

/// What is wrong with a catalogue entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryProblem {
    /// Two entries share a name.
    Duplicate,
    /// A required field is missing or empty.
    Missing(&'static str),
    /// A French text (`*_fr`) is missing or empty.
    MissingFrench(&'static str),
    /// The name is not lowercase letters, digits, `_` or `-`, starting with a letter.
    BadName,
    /// An unknown `type`.
    UnknownType(String),
    /// An unknown `sensitivity`.
    UnknownSensitivity(String),
    /// An `enum` attribute without `values`, or with an empty or duplicated value.
    BadEnumValues,
    /// `values` given on an attribute that is not an `enum`.
    ValuesWithoutEnum,
    /// A reference to an attribute that is not in the catalogue.
    UnknownAttribute(String),
}

impl fmt::Display for EntryProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Duplicate => f.write_str("is defined twice"),
            Self::Missing(field) => write!(f, "has no `{field}`"),
            Self::MissingFrench(field) => write!(f, "has no French text (`{field}`)"),
            Self::BadName => f.write_str(
                "is not a valid name (lowercase letters, digits, `_` or `-`, starting with a letter)",
            ),
            Self::UnknownType(kind) => write!(
                f,
                "has unknown type `{kind}` (expected string, date, address, email, phone or enum)"
            ),
            Self::UnknownSensitivity(level) => {
                write!(f, "has unknown sensitivity `{level}` (expected low, medium or high)")
            }
            Self::BadEnumValues => {
                f.write_str("needs `values`: a non-empty list of distinct, non-empty strings")
            }
            Self::ValuesWithoutEnum => f.write_str("has `values` but is not of type enum"),
            Self::UnknownAttribute(name) => write!(f, "names unknown attribute `{name}`"),
        }
    }
}

/// What is wrong with a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyProblem {
    /// No `@id("…")` annotation.
    MissingId,
    /// The same `@id` in two places.
    DuplicateId {
        /// The file of the first definition.
        first_file: String,
    },
    /// Templates are not supported: every policy is static.
    Template,
    /// A required annotation is missing.
    MissingAnnotation(&'static str),
    /// An annotation has a value outside its allowed set.
    BadAnnotation {
        /// The annotation key.
        key: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// An annotation this crate does not know (likely a typo).
    UnknownAnnotation(String),
    /// An entity literal not in the catalogue.
    UnknownEntity(String),
}

impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingId => f.write_str("has no `@id` annotation"),
            Self::DuplicateId { first_file } => {
                write!(f, "is already defined in `{first_file}`")
            }
            Self::Template => f.write_str("is a template; only static policies are supported"),
            Self::MissingAnnotation(key) => write!(f, "has no `@{key}` annotation"),
            Self::BadAnnotation { key, expected } => {
                write!(
                    f,
                    "has an invalid `@{key}` annotation (expected {expected})"
                )
            }
            Self::UnknownAnnotation(key) => write!(f, "has unknown annotation `@{key}`"),
            Self::UnknownEntity(entity) => {
                write!(f, "names `{entity}`, which is not in the catalogue")
            }
        }
    }
}

/// A list of problems, each naming its file and policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<String>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("; "))
    }
}

/// A value that does not fit its attribute. It names the attribute and the rule, never the value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid value for attribute `{attribute}`: {fault}")]
pub struct ValueError {
    attribute: String,
    fault: ValueFault,
}

impl ValueError {
    pub(crate) fn new(attribute: &str, fault: ValueFault) -> Self {
        Self {
            attribute: attribute.to_owned(),
            fault,
        }
    }

    /// The attribute the value was for.
    pub fn attribute(&self) -> &str {
        &self.attribute
    }

    /// Which rule the value broke.
    pub fn fault(&self) -> &ValueFault {
        &self.fault
    }
}

/// Which rule a value broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueFault {
    /// The attribute is not in the catalogue.
    UnknownAttribute,
    /// The JSON type is wrong (for example a number for a string).
    WrongType {
        /// What was expected.
        expected: &'static str,
    },
    /// An empty or blank string.
    Empty,
    /// Longer than allowed.
    TooLong {
        /// The maximum, in characters.
        max: usize,
    },
    /// Contains control characters.
    ControlCharacter,
    /// Not written `YYYY-MM-DD`.
    NotIsoDate,
    /// Written `YYYY-MM-DD` but not a day of the calendar.
    NotARealDate,
    /// An address without one of its fields.
    MissingField(&'static str),
    /// An address with a field that is not part of the OpenID Connect `address` claim.
    UnexpectedField,
    /// Not an email address.
    NotAnEmail,
    /// Not an E.164 telephone number.
    NotE164,
    /// Not one of the enum's allowed values.
    NotAllowed,
}

impl fmt::Display for ValueFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownAttribute => f.write_str("the attribute is not in the catalogue"),
            Self::WrongType { expected } => write!(f, "expected {expected}"),
            Self::Empty => f.write_str("it is empty"),
            Self::TooLong { max } => write!(f, "it is longer than {max} characters"),
            Self::ControlCharacter => f.write_str("it contains control characters"),
            Self::NotIsoDate => f.write_str("expected a date written YYYY-MM-DD"),
            Self::NotARealDate => f.write_str("the date does not exist"),
            Self::MissingField(field) => write!(f, "the address has no `{field}`"),
            Self::UnexpectedField => f.write_str("the address has a field it should not have"),
            Self::NotAnEmail => f.write_str("expected an email address"),
            Self::NotE164 => f.write_str(
                "expected an E.164 number: `+`, country code and number, at most 15 digits",
            ),
            Self::NotAllowed => f.write_str("it is not one of the allowed values"),
        }
    }
}
