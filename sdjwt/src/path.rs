//! Claim paths: JSON pointers (RFC 6901) with `*` as a segment meaning "every member of an object
//! or every element of an array".
//!
//! `/given_name`, `/address/locality`, `/nationalities/1`, `/verified_claims/*/claims/*`.
//! The issuer uses them to say what becomes selectively disclosable; the holder uses them to say
//! what to present. A segment that is exactly `*` is always the wildcard (a member literally named
//! `*` cannot be selected on its own); `~0` and `~1` escape `~` and `/` as in RFC 6901.

use std::fmt;

use serde_json::Value;

use crate::Error;

/// One concrete step into a JSON value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Step {
    Member(String),
    Index(usize),
}

/// A concrete location in a claims object.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClaimPath(pub(crate) Vec<Step>);

impl ClaimPath {
    pub(crate) fn child(&self, step: Step) -> Self {
        let mut steps = self.0.clone();
        steps.push(step);
        Self(steps)
    }

    /// Whether this is a member of the top-level object, and which.
    pub(crate) fn top_level_member(&self) -> Option<&str> {
        match self.0.as_slice() {
            [Step::Member(name)] => Some(name),
            _ => None,
        }
    }
}

impl fmt::Display for ClaimPath {
    /// The RFC 6901 pointer (`""` for the whole payload).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.0 {
            match step {
                Step::Member(name) => write!(f, "/{}", name.replace('~', "~0").replace('/', "~1"))?,
                Step::Index(index) => write!(f, "/{index}")?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Token(String),
    Wildcard,
}

impl Segment {
    fn matches(&self, step: &Step) -> bool {
        match (self, step) {
            (Segment::Wildcard, _) => true,
            (Segment::Token(token), Step::Member(name)) => token == name,
            (Segment::Token(token), Step::Index(index)) => parse_index(token) == Some(*index),
        }
    }
}

/// A parsed claim path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    text: String,
    segments: Vec<Segment>,
}

impl Pattern {
    pub(crate) fn parse(text: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidPath {
            path: text.to_owned(),
        };
        let Some(rest) = text.strip_prefix('/') else {
            return Err(invalid());
        };
        let mut segments = Vec::new();
        for raw in rest.split('/') {
            if raw == "*" {
                segments.push(Segment::Wildcard);
                continue;
            }
            segments.push(Segment::Token(unescape(raw).ok_or_else(invalid)?));
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    fn has_wildcard(&self) -> bool {
        self.segments.contains(&Segment::Wildcard)
    }

    /// Whether `path` is this pattern's location or lies beneath it.
    pub(crate) fn covers(&self, path: &ClaimPath) -> bool {
        self.segments.len() <= path.0.len()
            && self.segments.iter().zip(&path.0).all(|(s, p)| s.matches(p))
    }

    /// Every location in `value` this pattern names. A pattern without wildcards must name an
    /// existing location; with wildcards, branches that do not exist are skipped (a release with
    /// no `verification` member is not an error for `/verified_claims/*/verification/*`).
    pub(crate) fn expand(&self, value: &Value) -> Result<Vec<ClaimPath>, Error> {
        let mut found = Vec::new();
        let strict = !self.has_wildcard();
        let mut frontier = vec![(ClaimPath::default(), value)];
        for segment in &self.segments {
            let mut next = Vec::new();
            for (path, node) in frontier {
                match (segment, node) {
                    (Segment::Wildcard, Value::Object(map)) => next.extend(
                        map.iter()
                            .map(|(k, v)| (path.child(Step::Member(k.clone())), v)),
                    ),
                    (Segment::Wildcard, Value::Array(items)) => next.extend(
                        items
                            .iter()
                            .enumerate()
                            .map(|(i, v)| (path.child(Step::Index(i)), v)),
                    ),
                    (Segment::Token(token), Value::Object(map)) => {
                        if let Some(v) = map.get(token) {
                            next.push((path.child(Step::Member(token.clone())), v));
                        }
                    }
                    (Segment::Token(token), Value::Array(items)) => {
                        if let Some((i, v)) =
                            parse_index(token).and_then(|i| items.get(i).map(|v| (i, v)))
                        {
                            next.push((path.child(Step::Index(i)), v));
                        }
                    }
                    _ => {}
                }
            }
            if next.is_empty() && strict {
                return Err(Error::PathNotFound {
                    path: self.text.clone(),
                });
            }
            frontier = next;
        }
        found.extend(frontier.into_iter().map(|(path, _)| path));
        Ok(found)
    }
}

/// RFC 6901 unescaping: `~1` is `/`, `~0` is `~`, any other `~` is an error.
fn unescape(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// An array index as RFC 6901 writes it: decimal, no sign, no leading zero.
fn parse_index(token: &str) -> Option<usize> {
    let canonical = token == "0" || (!token.starts_with('0') && !token.is_empty());
    if canonical && token.bytes().all(|b| b.is_ascii_digit()) {
        token.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn paths(pattern: &str, value: &Value) -> Vec<String> {
        Pattern::parse(pattern)
            .unwrap()
            .expand(value)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn pointers_and_wildcards_expand_to_concrete_paths() {
        let claims = json!({
            "given_name": "A",
            "a/b": {"c~d": 1},
            "verified_claims": [
                {"verification": {"trust_framework": "pctf"}, "claims": {"given_name": "A", "birthdate": "x"}},
                {"verification": {"trust_framework": "pctf"}, "claims": {"birthdate": "y"}}
            ]
        });
        assert_eq!(paths("/given_name", &claims), ["/given_name"]);
        assert_eq!(paths("/a~1b/c~0d", &claims), ["/a~1b/c~0d"]);
        assert_eq!(
            paths("/verified_claims/*/claims/birthdate", &claims),
            [
                "/verified_claims/0/claims/birthdate",
                "/verified_claims/1/claims/birthdate"
            ]
        );
        assert_eq!(
            paths("/verified_claims/*/claims/given_name", &claims),
            ["/verified_claims/0/claims/given_name"]
        );
        assert_eq!(paths("/verified_claims/1", &claims), ["/verified_claims/1"]);
        assert!(paths("/verified_claims/*/evidence/*", &claims).is_empty());
    }

    #[test]
    fn a_concrete_path_must_exist() {
        let claims = json!({"a": [1, 2]});
        for missing in ["/b", "/a/2", "/a/01", "/a/-", "/a/x"] {
            assert!(
                matches!(
                    Pattern::parse(missing).unwrap().expand(&claims),
                    Err(Error::PathNotFound { .. })
                ),
                "{missing}"
            );
        }
    }

    #[test]
    fn malformed_pointers_are_refused() {
        for bad in ["", "a", "/a~", "/a~2"] {
            assert!(
                matches!(Pattern::parse(bad), Err(Error::InvalidPath { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn covers_means_at_or_beneath() {
        let pattern = Pattern::parse("/verified_claims/*/claims").unwrap();
        let at = ClaimPath(vec![
            Step::Member("verified_claims".into()),
            Step::Index(3),
            Step::Member("claims".into()),
        ]);
        assert!(pattern.covers(&at));
        assert!(pattern.covers(&at.child(Step::Member("birthdate".into()))));
        assert!(!pattern.covers(&ClaimPath(vec![Step::Member("verified_claims".into())])));
    }
}
