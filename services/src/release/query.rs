//! The attribute request as a department sends it: `?claims=a,b&purpose=p`, and the pairwise
//! subject in the path. Checked strictly and cheaply before anything is read from the database.
//!
//! INVARIANT: no error here repeats what the department sent, except names that have passed the
//! catalogue-name syntax check (a value typed into `claims` by mistake is never echoed).

/// Longest query string accepted.
pub const MAX_QUERY_BYTES: usize = 2048;
/// Most distinct claims in one request (the catalogue has fewer attributes than this).
pub const MAX_CLAIMS: usize = 32;
/// Longest pairwise subject id accepted (ours are 43 characters).
pub const MAX_SUBJECT_LEN: usize = 128;
const MAX_NAME_LEN: usize = 64;
/// Longest `holder_kid` accepted.
pub const MAX_KID_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the query string is longer than {MAX_QUERY_BYTES} bytes")]
    TooLarge,
    #[error("the query string is not valid `application/x-www-form-urlencoded`")]
    Unreadable,
    #[error("query parameter `{0}` is repeated")]
    Repeated(&'static str),
    #[error("unknown query parameter (only `claims`, `purpose` and `holder_kid` are accepted)")]
    UnknownParameter,
    #[error("query parameter `{0}` is required")]
    Missing(&'static str),
    #[error(
        "`claims` must be a comma-separated list of attribute names (lowercase letters, digits and `_`, at most {MAX_NAME_LEN} characters each)"
    )]
    BadClaim,
    #[error("`claims` names more than {MAX_CLAIMS} attributes")]
    TooManyClaims,
    #[error(
        "`purpose` must be a purpose code (lowercase letters, digits and `-`, at most {MAX_NAME_LEN} characters)"
    )]
    BadPurpose,
    #[error("`holder_kid` must be a key id (printable ascii, at most {MAX_KID_LEN} characters)")]
    BadHolderKid,
    #[error("`holder_kid` applies only to an sd-jwt release (`Accept: application/dc+sd-jwt`)")]
    HolderKidWithoutSdJwt,
}

/// A well-formed attribute request. Names are syntactically valid; whether they are catalogued
/// is the policy engine's question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeQuery {
    /// Distinct claim names, in the order asked.
    pub claims: Vec<String>,
    pub purpose: String,
    /// The `kid` of the client's registered key to bind in an SD-JWT release (`cnf.jwk`).
    pub holder_kid: Option<String>,
}

fn is_attribute_name(s: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&s.len())
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn is_purpose_code(s: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&s.len())
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_kid(s: &str) -> bool {
    (1..=MAX_KID_LEN).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
}

/// Whether a path segment could be a pairwise subject id (base64url, bounded). Anything else is
/// answered exactly like an unknown id.
pub fn is_subject(s: &str) -> bool {
    (1..=MAX_SUBJECT_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl AttributeQuery {
    /// Parses a raw query string.
    pub fn parse(raw: &str) -> Result<Self, QueryError> {
        if raw.len() > MAX_QUERY_BYTES {
            return Err(QueryError::TooLarge);
        }
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(raw).map_err(|_| QueryError::Unreadable)?;
        let (mut claims, mut purpose, mut holder_kid) = (None, None, None);
        for (key, value) in pairs {
            let slot = match key.as_str() {
                "claims" => (&mut claims, "claims"),
                "purpose" => (&mut purpose, "purpose"),
                "holder_kid" => (&mut holder_kid, "holder_kid"),
                _ => return Err(QueryError::UnknownParameter),
            };
            if slot.0.replace(value).is_some() {
                return Err(QueryError::Repeated(slot.1));
            }
        }
        let claims = claims.ok_or(QueryError::Missing("claims"))?;
        let purpose = purpose.ok_or(QueryError::Missing("purpose"))?;
        if !is_purpose_code(&purpose) {
            return Err(QueryError::BadPurpose);
        }
        if holder_kid.as_deref().is_some_and(|kid| !is_kid(kid)) {
            return Err(QueryError::BadHolderKid);
        }
        let mut names: Vec<String> = Vec::new();
        for name in claims.split(',').map(str::trim) {
            if !is_attribute_name(name) {
                return Err(QueryError::BadClaim);
            }
            if !names.iter().any(|n| n == name) {
                if names.len() == MAX_CLAIMS {
                    return Err(QueryError::TooManyClaims);
                }
                names.push(name.to_owned());
            }
        }
        Ok(Self {
            claims: names,
            purpose,
            holder_kid,
        })
    }
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_query_is_read_and_duplicates_are_dropped() {
        let q =
            AttributeQuery::parse("claims=address,given_name,address&purpose=benefit-eligibility")
                .unwrap();
        assert_eq!(q.claims, ["address", "given_name"]);
        assert_eq!(q.purpose, "benefit-eligibility");
        // Percent-encoded commas are the same list.
        let q = AttributeQuery::parse("purpose=p&claims=a%2Cb").unwrap();
        assert_eq!(q.claims, ["a", "b"]);
    }

    #[test]
    fn malformed_queries_are_refused_with_their_reason() {
        let cases = [
            ("", QueryError::Missing("claims")),
            ("claims=a", QueryError::Missing("purpose")),
            (
                "claims=a&purpose=p&claims=b",
                QueryError::Repeated("claims"),
            ),
            ("claims=a&purpose=p&debug=1", QueryError::UnknownParameter),
            ("claims=&purpose=p", QueryError::BadClaim),
            ("claims=a,,b&purpose=p", QueryError::BadClaim),
            ("claims=Given_Name&purpose=p", QueryError::BadClaim),
            ("claims=1985-04-12&purpose=p", QueryError::BadClaim),
            ("claims=a&purpose=Benefits!", QueryError::BadPurpose),
            ("claims=a&purpose=", QueryError::BadPurpose),
        ];
        for (raw, expected) in cases {
            assert_eq!(AttributeQuery::parse(raw), Err(expected), "{raw}");
        }
        let many: Vec<String> = (0..=MAX_CLAIMS).map(|i| format!("a{i}")).collect();
        assert_eq!(
            AttributeQuery::parse(&format!("claims={}&purpose=p", many.join(","))),
            Err(QueryError::TooManyClaims)
        );
        let long = format!("claims={}&purpose=p", "a".repeat(MAX_QUERY_BYTES));
        assert_eq!(AttributeQuery::parse(&long), Err(QueryError::TooLarge));
    }

    #[test]
    fn errors_never_repeat_what_was_sent() {
        let secret = "claims=4111111111111111&purpose=p";
        let message = AttributeQuery::parse(secret).unwrap_err().to_string();
        assert!(!message.contains("4111"), "{message}");
    }

    #[test]
    fn subjects_are_bounded_base64url() {
        assert!(is_subject(&"A".repeat(43)));
        assert!(is_subject("ab-_9"));
        assert!(!is_subject(""));
        assert!(!is_subject("a/b"));
        assert!(!is_subject("a.b"));
        assert!(!is_subject(&"A".repeat(MAX_SUBJECT_LEN + 1)));
    }
}
