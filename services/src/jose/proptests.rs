//! Compact JWS splitting and base64url: what we write parses back, and what we parse is exactly
//! one spelling of it (so no change to a token's text can go unnoticed).

use proptest::prelude::*;

use super::*;
use crate::testing::proptest_cases;

/// Text made mostly of the characters a compact JWS is made of, with some others.
fn jws_like() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            6 => proptest::char::ranges(vec!['A'..='Z', 'a'..='z', '0'..='9'].into()),
            2 => Just('.'),
            1 => prop_oneof![Just('-'), Just('_'), Just('='), Just('+'), Just('/'), Just(' ')],
            1 => any::<char>(),
        ],
        0..64,
    )
    .prop_map(|c| c.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(256)))]

    #[test]
    fn split_compact_takes_exactly_three_parts_with_a_header_and_payload(token in jws_like()) {
        let dots = token.matches('.').count();
        match split_compact(&token) {
            Some((header, payload, signature)) => {
                prop_assert_eq!(dots, 2);
                prop_assert!(!header.is_empty() && !payload.is_empty());
                prop_assert_eq!(format!("{header}.{payload}.{signature}"), token);
            }
            None => {
                let parts: Vec<&str> = token.split('.').collect();
                prop_assert!(dots != 2 || parts[0].is_empty() || parts[1].is_empty(), "{token:?}");
            }
        }
    }

    #[test]
    fn split_compact_never_panics_on_any_text(token in any::<String>()) {
        let _ = split_compact(&token);
    }

    #[test]
    fn base64url_round_trips_and_stays_in_its_alphabet(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let text = b64(&bytes);
        prop_assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        prop_assert_eq!(b64_decode(&text).ok(), Some(bytes));
    }

    /// Decoding accepts one spelling per byte string (no padding, no stray trailing bits), so a
    /// changed character in a signed part always changes the bytes or is refused.
    #[test]
    fn base64url_decoding_is_canonical(text in jws_like()) {
        if let Ok(bytes) = b64_decode(&text) {
            prop_assert_eq!(b64(bytes), text);
        }
    }

    #[test]
    fn one_changed_character_never_decodes_to_the_same_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 1..96),
        at in any::<prop::sample::Index>(),
        to in any::<char>(),
    ) {
        let text = b64(&bytes);
        let i = at.index(text.len());
        prop_assume!(text.as_bytes()[i] as char != to);
        let mut changed = text.clone();
        changed.replace_range(i..=i, to.encode_utf8(&mut [0; 4]));
        prop_assert_ne!(b64_decode(&changed).ok(), Some(bytes));
    }
}
