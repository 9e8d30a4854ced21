//! Value validation per attribute type. Faults describe the rule broken, never the value.

use serde_json::Value;

use super::AttributeType;
use crate::ValueFault;

/// Longest accepted free-text value, in characters.
const MAX_TEXT: usize = 256;
/// Longest accepted email address (RFC 5321 path limit).
const MAX_EMAIL: usize = 254;
/// The OpenID Connect `address` claim members we require.
const ADDRESS_FIELDS: [&str; 5] = [
    "street_address",
    "locality",
    "region",
    "postal_code",
    "country",
];
/// The optional member we also accept.
const ADDRESS_FORMATTED: &str = "formatted";

pub(super) fn validate(kind: &AttributeType, value: &Value) -> Result<(), ValueFault> {
    match kind {
        AttributeType::String => text(value, "a string").map(drop),
        AttributeType::Date => date(text(value, "a date string")?),
        AttributeType::Address => address(value),
        AttributeType::Email => email(text(value, "an email address string")?),
        AttributeType::Phone => phone(text(value, "a telephone number string")?),
        AttributeType::Enum { values } => {
            let code = text(value, "a string")?;
            if values.iter().any(|allowed| allowed == code) {
                Ok(())
            } else {
                Err(ValueFault::NotAllowed)
            }
        }
    }
}

/// A non-blank string of printable characters, at most [`MAX_TEXT`] long.
fn text<'a>(value: &'a Value, expected: &'static str) -> Result<&'a str, ValueFault> {
    let Value::String(s) = value else {
        return Err(ValueFault::WrongType { expected });
    };
    if s.trim().is_empty() {
        return Err(ValueFault::Empty);
    }
    if s.chars().count() > MAX_TEXT {
        return Err(ValueFault::TooLong { max: MAX_TEXT });
    }
    if s.chars().any(char::is_control) {
        return Err(ValueFault::ControlCharacter);
    }
    Ok(s)
}

/// `YYYY-MM-DD`, and a day that exists in the proleptic Gregorian calendar.
fn date(s: &str) -> Result<(), ValueFault> {
    let bytes = s.as_bytes();
    let shape = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shape {
        return Err(ValueFault::NotIsoDate);
    }
    let number = |range: std::ops::Range<usize>| {
        s.get(range)
            .and_then(|part| part.parse::<u32>().ok())
            .ok_or(ValueFault::NotIsoDate)
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(ValueFault::NotARealDate),
    };
    if year == 0 || day == 0 || day > days_in_month {
        return Err(ValueFault::NotARealDate);
    }
    Ok(())
}

/// An object with the five OpenID Connect address members (and optionally `formatted`), each a
/// non-blank string; nothing else.
fn address(value: &Value) -> Result<(), ValueFault> {
    let Value::Object(members) = value else {
        return Err(ValueFault::WrongType {
            expected: "an address object",
        });
    };
    for field in ADDRESS_FIELDS {
        let member = members.get(field).ok_or(ValueFault::MissingField(field))?;
        text(member, "a string in every address field")?;
    }
    if let Some(formatted) = members.get(ADDRESS_FORMATTED) {
        // `formatted` spans lines (OIDC uses "\n"), so only its type and length are checked.
        let Value::String(s) = formatted else {
            return Err(ValueFault::WrongType {
                expected: "a string in every address field",
            });
        };
        if s.chars().count() > MAX_TEXT * 2 {
            return Err(ValueFault::TooLong { max: MAX_TEXT * 2 });
        }
    }
    let known = |key: &String| ADDRESS_FIELDS.contains(&key.as_str()) || key == ADDRESS_FORMATTED;
    if !members.keys().all(known) {
        return Err(ValueFault::UnexpectedField);
    }
    Ok(())
}

/// A pragmatic check, not RFC 5322: one `@`, a non-empty local part, a dotted domain of
/// letters, digits and hyphens, no spaces.
fn email(s: &str) -> Result<(), ValueFault> {
    if s.len() > MAX_EMAIL {
        return Err(ValueFault::TooLong { max: MAX_EMAIL });
    }
    let Some((local, domain)) = s.split_once('@') else {
        return Err(ValueFault::NotAnEmail);
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok {
        Ok(())
    } else {
        Err(ValueFault::NotAnEmail)
    }
}

/// E.164: `+`, a non-zero first digit, at most 15 digits in all.
fn phone(s: &str) -> Result<(), ValueFault> {
    let Some(digits) = s.strip_prefix('+') else {
        return Err(ValueFault::NotE164);
    };
    let ok = (2..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    if ok { Ok(()) } else { Err(ValueFault::NotE164) }
}
