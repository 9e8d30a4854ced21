//! Disclosures (RFC 9901 §4.2): `base64url([salt, name, value])` for an object member,
//! `base64url([salt, value])` for an array element, referenced by the digest of that text.

use serde_json::{Value, json};

use crate::Error;
use crate::encoding::{b64, b64_decode, digest, is_b64url, parse_strict};

/// What a disclosure reveals: a member of an object, or an element of an array.
#[derive(Debug, Clone, PartialEq)]
pub enum Disclosed {
    Member { name: String, value: Value },
    Element { value: Value },
}

/// One disclosure: its encoded text (which is what is hashed and sent), its digest, and its
/// decoded content.
#[derive(Clone, PartialEq)]
pub struct Disclosure {
    encoded: String,
    digest: String,
    salt: String,
    disclosed: Disclosed,
}

impl std::fmt::Debug for Disclosure {
    /// Never prints the salt or the value: a disclosure is the very data a holder may withhold.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.disclosed {
            Disclosed::Member { .. } => "member",
            Disclosed::Element { .. } => "element",
        };
        f.debug_struct("Disclosure")
            .field("kind", &kind)
            .finish_non_exhaustive()
    }
}

impl Disclosure {
    /// Creates the disclosure of an object member. `salt` is the base64url text of fresh random
    /// bytes, unique to this claim (RFC 9901 §9.3).
    pub(crate) fn member(salt: String, name: &str, value: Value) -> Result<Self, Error> {
        let encoded =
            b64(serde_json::to_vec(&json!([salt, name, value])).map_err(|_| Error::Encode)?);
        Ok(Self {
            digest: digest(&encoded),
            encoded,
            salt,
            disclosed: Disclosed::Member {
                name: name.to_owned(),
                value,
            },
        })
    }

    /// Creates the disclosure of an array element.
    pub(crate) fn element(salt: String, value: Value) -> Result<Self, Error> {
        let encoded = b64(serde_json::to_vec(&json!([salt, value])).map_err(|_| Error::Encode)?);
        Ok(Self {
            digest: digest(&encoded),
            encoded,
            salt,
            disclosed: Disclosed::Element { value },
        })
    }

    /// Decodes a disclosure as received. `index` is its position in the presentation, for errors.
    pub fn parse(encoded: &str, index: usize) -> Result<Self, Error> {
        let bad = |what| Error::Disclosure { index, what };
        if !is_b64url(encoded) {
            return Err(bad("not base64url"));
        }
        let bytes = b64_decode(encoded).ok_or_else(|| bad("not base64url"))?;
        let Some(Value::Array(mut items)) = parse_strict(&bytes) else {
            return Err(bad("not a well-formed json array"));
        };
        let disclosed = match items.len() {
            3 => {
                let value = items.pop().unwrap_or(Value::Null);
                let Some(Value::String(name)) = items.pop() else {
                    return Err(bad("claim name is not a string"));
                };
                Disclosed::Member { name, value }
            }
            2 => Disclosed::Element {
                value: items.pop().unwrap_or(Value::Null),
            },
            _ => return Err(bad("not two or three elements")),
        };
        let Some(Value::String(salt)) = items.pop() else {
            return Err(bad("salt is not a string"));
        };
        Ok(Self {
            encoded: encoded.to_owned(),
            digest: digest(encoded),
            salt,
            disclosed,
        })
    }

    /// The text as sent between tildes.
    pub fn encoded(&self) -> &str {
        &self.encoded
    }

    /// The base64url SHA-256 digest that references this disclosure.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The salt (never log it: it is what keeps an undisclosed value unguessable).
    pub fn salt(&self) -> &str {
        &self.salt
    }

    /// What the disclosure reveals.
    pub fn disclosed(&self) -> &Disclosed {
        &self.disclosed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_member_and_element_disclosures_decode() {
        // RFC 9901 §4.2.1 and §4.2.2.
        let member = Disclosure::parse(
            "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0",
            0,
        )
        .unwrap();
        assert_eq!(member.salt(), "_26bc4LT-ac6q2KI6cBW5es");
        assert_eq!(
            member.disclosed(),
            &Disclosed::Member {
                name: "family_name".into(),
                value: json!("Möbius")
            }
        );
        assert_eq!(
            member.digest(),
            "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0"
        );

        let element = Disclosure::parse("WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIkZSIl0", 1).unwrap();
        assert_eq!(
            element.disclosed(),
            &Disclosed::Element { value: json!("FR") }
        );
        assert_eq!(
            element.digest(),
            "w0I8EKcdCtUPkGCNUrfwVp2xEgNjtoIDlOxc9-PlOhs"
        );
    }

    #[test]
    fn rfc_encoding_variants_decode_to_the_same_claim_with_other_digests() {
        // RFC 9901 §4.2.1: whitespace, escapes and newlines may differ; each text is its own digest.
        let variants = [
            "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNXHUwMGY2Yml1cyJd",
            "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsImZhbWlseV9uYW1lIiwiTcO2Yml1cyJd",
            "WwoiXzI2YmM0TFQtYWM2cTJLSTZjQlc1ZXMiLAoiZmFtaWx5X25hbWUiLAoiTcO2Yml1cyIKXQ",
        ];
        let mut digests = std::collections::BTreeSet::new();
        for text in variants {
            let d = Disclosure::parse(text, 0).unwrap();
            assert_eq!(
                d.disclosed(),
                &Disclosed::Member {
                    name: "family_name".into(),
                    value: json!("Möbius")
                }
            );
            digests.insert(d.digest().to_owned());
        }
        assert_eq!(digests.len(), 3);
    }

    #[test]
    fn malformed_disclosures_are_refused() {
        let cases = [
            (String::new(), "not base64url"),
            ("e30".to_owned(), "not a well-formed json array"), // {}
            ("WyJzIl0=".to_owned(), "not base64url"),           // padded
            (b64(br#"["s"]"#), "not two or three elements"),
            (b64(br#"["s","n","v","x"]"#), "not two or three elements"),
            (b64(br#"[1,"n","v"]"#), "salt is not a string"),
            (b64(br#"[1,"v"]"#), "salt is not a string"),
            (b64(br#"["s",2,"v"]"#), "claim name is not a string"),
            (
                b64(br#"["s","n",{"a":1,"a":2}]"#),
                "not a well-formed json array",
            ),
        ];
        for (text, what) in &cases {
            match Disclosure::parse(text, 4) {
                Err(Error::Disclosure {
                    index: 4,
                    what: got,
                }) => assert_eq!(&got, what, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        // Whitespace around the array is valid JSON, and a disclosure of its own.
        assert!(Disclosure::parse(&b64(br#" ["s","n","v"] "#), 0).is_ok());
    }

    #[test]
    fn debug_hides_salt_and_value() {
        let d = Disclosure::member("c2FsdHNhbHQ".into(), "birthdate", json!("1958-04-12")).unwrap();
        let shown = format!("{d:?}");
        assert!(
            !shown.contains("1958") && !shown.contains("c2FsdHNhbHQ"),
            "{shown}"
        );
    }
}
