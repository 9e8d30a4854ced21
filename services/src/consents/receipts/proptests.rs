//! Consent receipts as presented: a receipt we sign decodes to what we signed, whatever its
//! texts hold; any other text is `receipt_malformed` or `receipt_signature_invalid` (never a
//! panic, never a database read), and a receipt of ours the ledger did not issue is
//! `receipt_not_in_ledger`.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use consent::{Actor, Change, ConsentEvent, DAY_MS, Mode, Uuid};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::*;
use crate::error::PublicError;
use crate::testing::proptest_cases;

const NOW_MS: i64 = 1_800_000_000_000;

static KEYS: LazyLock<SigningKeys> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!(
        "tuo-receipt-props-{}",
        uuid::Uuid::now_v7().simple()
    ));
    SigningKeys::open_dir(&dir, 60).unwrap()
});

fn config() -> Config {
    Config::with_cases(proptest_cases(128))
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-zA-Z ,.'\"\n-]{0,40}"]
}

fn receipt() -> impl Strategy<Value = SignedReceipt> {
    let names = proptest::sample::subsequence(
        vec![
            "address",
            "birthdate",
            "email",
            "given_name",
            "marital_status",
        ],
        1..=5,
    );
    (
        (
            names,
            0i64..4_000_000_000_000,
            1i64..400,
            any::<bool>(),
            any::<[u8; 16]>(),
        ),
        (text(), text(), text(), text(), text(), text()),
        (text(), proptest::option::of(text()), any::<i64>()),
    )
        .prop_map(
            |((names, granted_at, days, ongoing, id), (a, b, c, d, e, f), (g, phone, iat))| {
                let attributes: BTreeSet<String> = names.into_iter().map(str::to_owned).collect();
                let consent = Consent::replay(
                    Uuid::from_bytes(id),
                    Uuid::nil(),
                    "employment-social-development",
                    "pension-enrolment",
                    if ongoing { Mode::Ongoing } else { Mode::Once },
                    [ConsentEvent::new(
                        1,
                        Actor::citizen("alice"),
                        granted_at,
                        Change::Granted {
                            attributes,
                            expires_at_ms: granted_at + days * DAY_MS,
                        },
                    )],
                )
                .unwrap();
                let facts = ReceiptFacts {
                    receipt_id: uuid::Uuid::now_v7().to_string(),
                    pii_principal_id: a,
                    collection_method: b,
                    language: "fr".into(),
                    controller: PiiController {
                        name: c,
                        on_behalf: false,
                        contact: d,
                        address: PostalAddress {
                            street_address: e,
                            locality: "Ottawa".into(),
                            region: "ON".into(),
                            postal_code: "K1A 0A1".into(),
                            country: "CA".into(),
                        },
                        email: f,
                        phone,
                        url: "https://broker.example".into(),
                    },
                    policy_url: "https://broker.example/privacy".into(),
                    purpose_text: g,
                    purpose_category: "benefits".into(),
                    legal_basis: "Act".into(),
                    recipient_name: "Employment".into(),
                    sensitive_attributes: vec!["birthdate".into(), "marital_status".into()],
                    withdrawal: Withdrawal {
                        url: "https://broker.example/me".into(),
                        text: "Withdraw.".into(),
                    },
                };
                SignedReceipt {
                    iss: "https://broker.example".into(),
                    iat,
                    claims: ReceiptClaims::build(&consent, facts).unwrap(),
                    act: None,
                }
            },
        )
}

/// A presented text that is not one of our receipts: unreadable, or its signature fails.
fn unreadable(e: &LedgerError) -> bool {
    matches!(
        e,
        LedgerError::ReceiptMalformed | LedgerError::ReceiptSignature
    )
}

fn malformed(result: Result<SignedReceipt, LedgerError>) -> Result<(), TestCaseError> {
    match result {
        Err(e) => {
            prop_assert_eq!(e.code(), "receipt_malformed");
            Ok(())
        }
        Ok(r) => Err(TestCaseError::fail(format!("decoded: {r:?}"))),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_receipt_we_sign_decodes_to_what_we_signed(r in receipt()) {
        let jws = KEYS.sign(Some(RECEIPT_TYP), &r).unwrap();
        prop_assert_eq!(decode(&jws).unwrap(), r);
    }

    #[test]
    fn any_text_is_receipt_malformed(jws in prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{1,40}\\.[A-Za-z0-9_-]{1,80}\\.[A-Za-z0-9_-]{0,40}",
    ]) {
        malformed(decode(&jws))?;
    }

    #[test]
    fn a_receipt_cut_short_or_with_its_payload_changed_is_receipt_malformed(r in receipt(), cut in any::<prop::sample::Index>(), to in "[^A-Za-z0-9_-]") {
        // `decode` reads stored receipts' claims: the payload is what it checks.
        let jws = KEYS.sign(Some(RECEIPT_TYP), &r).unwrap();
        let (first_dot, second_dot) = (jws.find('.').unwrap(), jws.rfind('.').unwrap());
        let at = first_dot + 1 + cut.index(second_dot - first_dot - 1);
        malformed(decode(&jws[..at]))?;
        let mut changed = jws.clone();
        changed.replace_range(at..=at, &to);
        malformed(decode(&changed))?;
        let mut cut_payload = jws.clone();
        cut_payload.replace_range(at..second_dot, "");
        malformed(decode(&cut_payload))?;
    }
}

/// `verify` refuses any text it is given before reading the database, and a receipt of ours the
/// ledger never stored after reading it.
#[test]
fn presented_receipts_are_refused_with_their_reason() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let test = rt.block_on(store::testdb::TestDb::new()).unwrap();
    let db = rt.block_on(test.migrated()).unwrap();
    let check = |jws: &str| {
        rt.block_on(verify(&db, &KEYS, jws, NOW_MS))
            .map(|v| v.receipt_id)
    };

    let texts = prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{1,40}\\.[A-Za-z0-9_-]{1,80}\\.[A-Za-z0-9_-]{0,90}",
    ];
    TestRunner::new(config())
        .run(&texts, |jws| {
            let e = check(&jws).unwrap_err();
            prop_assert!(unreadable(&e), "{e:?}");
            Ok(())
        })
        .unwrap();

    let mutated = (
        receipt(),
        any::<prop::sample::Index>(),
        "[A-Za-z0-9_.-]|\\PC",
    );
    TestRunner::new(config())
        .run(&mutated, |(r, at, to)| {
            let jws = KEYS.sign(Some(RECEIPT_TYP), &r).unwrap();
            // Ours, signed, never stored.
            prop_assert_eq!(check(&jws).unwrap_err().code(), "receipt_not_in_ledger");
            // Signed as something else.
            let token = KEYS.sign(Some("at+jwt"), &r).unwrap();
            prop_assert_eq!(check(&token).unwrap_err().code(), "receipt_malformed");
            let i = at.index(jws.len());
            prop_assume!(jws[i..=i] != to);
            let mut changed = jws.clone();
            changed.replace_range(i..=i, &to);
            let e = check(&changed).unwrap_err();
            prop_assert!(unreadable(&e), "{e:?}");
            Ok(())
        })
        .unwrap();
}
