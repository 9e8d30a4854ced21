//! The bearer check: the `Authorization` header's token, and the verification of the broker's own
//! access tokens. A token we sign verifies to the claims we signed; any other text, including a
//! signed token with one character changed, cut short or with a part repeated, is `invalid_token`.

use std::sync::LazyLock;

use proptest::prelude::*;

use super::*;
use crate::error::PublicError;
use crate::testing::proptest_cases;

const ISSUER: &str = "http://127.0.0.1:8080";
const NOW: i64 = 1_800_000_000;

static KEYS: LazyLock<SigningKeys> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!(
        "tuo-bearer-props-{}",
        uuid::Uuid::now_v7().simple()
    ));
    SigningKeys::open_dir(&dir, 60).unwrap()
});

fn claims() -> impl Strategy<Value = AccessClaims> {
    (
        any::<String>(),
        any::<String>(),
        "[a-z:]{0,20}( [a-z:]{1,20}){0,3}",
        any::<i64>(),
        (NOW + 1)..i64::MAX,
        any::<String>(),
        proptest::option::of("[A-Za-z0-9_-]{43}"),
    )
        .prop_map(
            |(client_id, dept, scope, iat, exp, jti, jkt)| AccessClaims {
                iss: ISSUER.into(),
                sub: client_id.clone(),
                aud: api_audience(ISSUER),
                client_id,
                dept,
                scope,
                iat,
                exp,
                jti,
                cnf: jkt.map(|jkt| crate::provider::token::Confirmation { jkt }),
            },
        )
}

fn base64url_token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.~+/=-]{1,300}"
}

/// `Bearer` in any letter case.
fn scheme() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<bool>(), 6).prop_map(|upper| {
        "bearer"
            .chars()
            .zip(upper)
            .map(|(c, u)| if u { c.to_ascii_uppercase() } else { c })
            .collect()
    })
}

fn refused(result: Result<AccessClaims, BearerError>) -> Result<(), TestCaseError> {
    match result {
        Err(e) => {
            prop_assert_eq!(&e, &BearerError::Invalid);
            prop_assert_eq!(Error::from(e).code(), "invalid_token");
            Ok(())
        }
        Ok(c) => Err(TestCaseError::fail(format!("accepted: {c:?}"))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(128)))]

    #[test]
    fn the_header_gives_its_token_in_any_letter_case(scheme in scheme(), token in base64url_token(), pad in "[ ]{0,3}") {
        let header = format!("{scheme} {pad}{token}{pad}");
        prop_assert_eq!(bearer_token(Some(&header)), Ok(token));
    }

    #[test]
    fn any_header_gives_a_trimmed_token_or_invalid_token(header in proptest::option::of(any::<String>())) {
        match bearer_token(header.as_deref()) {
            Ok(token) => {
                let header = header.unwrap_or_default();
                prop_assert!(header.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("bearer ")));
                prop_assert!(!token.is_empty() && token.len() <= 8192 && token.trim() == token);
            }
            Err(e) => {
                prop_assert_eq!(e == BearerError::Missing, header.is_none());
                prop_assert_eq!(Error::from(e).code(), "invalid_token");
            }
        }
    }

    #[test]
    fn near_miss_headers_are_invalid(token in base64url_token(), which in 0..5usize) {
        let header = match which {
            0 => format!("Bearer{token}"),
            1 => format!("Basic {token}"),
            2 => "Bearer    ".to_owned(),
            3 => format!("Bearer {}", "a".repeat(8193)),
            _ => format!("Bearerx {token}"),
        };
        prop_assert_eq!(bearer_token(Some(&header)), Err(BearerError::Invalid));
    }

    #[test]
    fn a_token_we_sign_verifies_to_the_same_claims(c in claims()) {
        let token = KEYS.sign(Some("at+jwt"), &c).unwrap();
        let verifier = TokenVerifier::default();
        prop_assert_eq!(verifier.verify(&KEYS, ISSUER, &token, NOW), Ok(c.clone()));
        // And again from the cache.
        prop_assert_eq!(verifier.verify(&KEYS, ISSUER, &token, NOW), Ok(c));
    }

    #[test]
    fn one_changed_character_is_invalid_token(
        c in claims(),
        at in any::<prop::sample::Index>(),
        to in prop_oneof![4 => "[A-Za-z0-9_.-]", 1 => any::<char>().prop_map(String::from)],
    ) {
        let token = KEYS.sign(Some("at+jwt"), &c).unwrap();
        let i = at.index(token.len());
        prop_assume!(token[i..=i] != to);
        let mut changed = token.clone();
        changed.replace_range(i..=i, &to);
        refused(TokenVerifier::default().verify(&KEYS, ISSUER, &changed, NOW))?;
    }

    #[test]
    fn a_token_cut_short_or_with_a_part_repeated_is_invalid_token(c in claims(), cut in any::<prop::sample::Index>(), part in 0..3usize) {
        let token = KEYS.sign(Some("at+jwt"), &c).unwrap();
        refused(TokenVerifier::default().verify(&KEYS, ISSUER, &token[..cut.index(token.len())], NOW))?;
        let parts: Vec<&str> = token.split('.').collect();
        let mut repeated = parts.clone();
        repeated.insert(part, parts[part]);
        refused(TokenVerifier::default().verify(&KEYS, ISSUER, &repeated.join("."), NOW))?;
        let with_padding = format!("{token}=");
        refused(TokenVerifier::default().verify(&KEYS, ISSUER, &with_padding, NOW))?;
    }

    #[test]
    fn our_signature_over_other_claims_or_another_type_is_invalid_token(
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        typ in proptest::option::of("[a-z+]{0,12}"),
    ) {
        let token = KEYS.sign_bytes(typ.as_deref(), &payload).unwrap();
        refused(TokenVerifier::default().verify(&KEYS, ISSUER, &token, NOW))?;
    }

    #[test]
    fn arbitrary_text_is_invalid_token(token in prop_oneof![any::<String>(), "[A-Za-z0-9_-]{1,40}\\.[A-Za-z0-9_-]{1,40}\\.[A-Za-z0-9_-]{0,90}"]) {
        refused(TokenVerifier::default().verify(&KEYS, ISSUER, &token, NOW))?;
    }
}
