//! RFC 9901's own examples, checked byte for byte: the digest of every example disclosure, and
//! the example presentations verified with the example issuer key (Appendix A.5) — including the
//! Key Binding JWT of §5.2, whose signature, `sd_hash`, nonce and audience are all fixed there.
//!
//! The vectors are copied as the RFC prints them (wrapped at 72 columns); whitespace is removed
//! before use.

use sdjwt::{
    Credential, Disclosed, Disclosure, Error, IssuerCheck, Jwk, KeyBinding, digest, verify,
};
use serde_json::{Value, json};

fn squash(text: &str) -> String {
    text.split_whitespace().collect()
}

/// RFC 9901 Appendix A.5.
fn rfc_issuer_keys() -> Vec<Jwk> {
    vec![
        Jwk::from_json(&json!({
            "kty": "EC", "crv": "P-256",
            "x": "b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ",
            "y": "Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8"
        }))
        .unwrap(),
    ]
}

/// The examples use `typ: example+sd-jwt`; the broker's is `dc+sd-jwt`.
const RFC_TYP: &str = "example+sd-jwt";
/// Between the examples' `iat` (1683000000) / KB-JWT `iat` (1748537243) and `exp` (1883000000).
const RFC_NOW: i64 = 1_748_537_300;

fn rfc_check(keys: &[Jwk]) -> IssuerCheck<'_> {
    IssuerCheck {
        typ: RFC_TYP,
        issuer: Some("https://issuer.example.com"),
        ..IssuerCheck::new(keys, RFC_NOW)
    }
}

/// (disclosure as printed, its SHA-256 digest as printed).
const DIGESTS: &[(&str, &str)] = &[
    // §5.1
    (
        "WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgImdpdmVuX25hbWUiLCAiSm9o
      biJd",
        "jsu9yVulwQQlhFlM_3JlzMaSFzglhQG0DpfayQwLUK4",
    ),
    (
        "WyJlbHVWNU9nM2dTTklJOEVZbnN4QV9BIiwgImZhbWlseV9uYW1lIiwgIkRv
      ZSJd",
        "TGf4oLbgwd5JQaHyKVQZU9UdGE0w5rtDsrZzfUaomLo",
    ),
    (
        "WyI2SWo3dE0tYTVpVlBHYm9TNXRtdlZBIiwgImVtYWlsIiwgImpvaG5kb2VA
      ZXhhbXBsZS5jb20iXQ",
        "JzYjH4svliH0R3PyEMfeZu6Jt69u5qehZo7F7EPYlSE",
    ),
    (
        "WyJlSThaV205UW5LUHBOUGVOZW5IZGhRIiwgInBob25lX251bWJlciIsICIr
      MS0yMDItNTU1LTAxMDEiXQ",
        "PorFbpKuVu6xymJagvkFsFXAbRoc2JGlAUA2BA4o7cI",
    ),
    (
        "WyJRZ19PNjR6cUF4ZTQxMmExMDhpcm9BIiwgInBob25lX251bWJlcl92ZXJp
      ZmllZCIsIHRydWVd",
        "XQ_3kPKt1XyX7KANkqVR6yZ2Va5NrPIvPYbyMvRKBMM",
    ),
    (
        "WyJBSngtMDk1VlBycFR0TjRRTU9xUk9BIiwgImFkZHJlc3MiLCB7InN0cmVl
      dF9hZGRyZXNzIjogIjEyMyBNYWluIFN0IiwgImxvY2FsaXR5IjogIkFueXRv
      d24iLCAicmVnaW9uIjogIkFueXN0YXRlIiwgImNvdW50cnkiOiAiVVMifV0",
        "XzFrzwscM6Gn6CJDc6vVK8BkMnfG8vOSKfpPIZdAfdE",
    ),
    (
        "WyJQYzMzSk0yTGNoY1VfbEhnZ3ZfdWZRIiwgImJpcnRoZGF0ZSIsICIxOTQw
      LTAxLTAxIl0",
        "gbOsI4Edq2x2Kw-w5wPEzakob9hV1cRD0ATN3oQL9JM",
    ),
    (
        "WyJHMDJOU3JRZmpGWFE3SW8wOXN5YWpBIiwgInVwZGF0ZWRfYXQiLCAxNTcw
      MDAwMDAwXQ",
        "CrQe7S5kqBAHt-nMYXgc6bdt2SH5aTY1sU_M-PgkjPI",
    ),
    (
        "WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIlVTIl0",
        "pFndjkZ_VCzmyTa6UjlZo3dh-ko8aIKQc9DlGzhaVYo",
    ),
    (
        "WyJuUHVvUW5rUkZxM0JJZUFtN0FuWEZBIiwgIkRFIl0",
        "7Cf6JkPudry3lcbwHgeZ8khAv1U1OSlerP0VkBJrWZ0",
    ),
    // §4.2.2
    (
        "WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIkZSIl0",
        "w0I8EKcdCtUPkGCNUrfwVp2xEgNjtoIDlOxc9-PlOhs",
    ),
    // §6.1 (flat)
    (
        "WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgImFkZHJlc3MiLCB7InN0cmVl
      dF9hZGRyZXNzIjogIlNjaHVsc3RyLiAxMiIsICJsb2NhbGl0eSI6ICJTY2h1
      bHBmb3J0YSIsICJyZWdpb24iOiAiU2FjaHNlbi1BbmhhbHQiLCAiY291bnRy
      eSI6ICJERSJ9XQ",
        "fOBUSQvo46yQO-wRwXBcGqvnbKIueISEL961_Sjd4do",
    ),
    // §6.2 (structured) and §6.3 (recursive)
    (
        "WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgInN0cmVldF9hZGRyZXNzIiwg
      IlNjaHVsc3RyLiAxMiJd",
        "9gjVuXtdFROCgRrtNcGUXmF65rdezi_6Er_j76kmYyM",
    ),
    (
        "WyJlbHVWNU9nM2dTTklJOEVZbnN4QV9BIiwgImxvY2FsaXR5IiwgIlNjaHVs
      cGZvcnRhIl0",
        "6vh9bq-zS4GKM_7GpggVbYzzu6oOGXrmNVGPHP75Ud0",
    ),
    (
        "WyI2SWo3dE0tYTVpVlBHYm9TNXRtdlZBIiwgInJlZ2lvbiIsICJTYWNoc2Vu
      LUFuaGFsdCJd",
        "KURDPh4ZC19-3tiz-Df39V8eidy1oV3a3H1Da2N0g88",
    ),
    (
        "WyJlSThaV205UW5LUHBOUGVOZW5IZGhRIiwgImNvdW50cnkiLCAiREUiXQ",
        "WN9r9dCBJ8HTCsS2jKASxTjEyW5m5x65_Z_2ro2jfXM",
    ),
    (
        "WyJRZ19PNjR6cUF4ZTQxMmExMDhpcm9BIiwgImFkZHJlc3MiLCB7Il9zZCI6
      IFsiNnZoOWJxLXpTNEdLTV83R3BnZ1ZiWXp6dTZvT0dYcm1OVkdQSFA3NVVk
      MCIsICI5Z2pWdVh0ZEZST0NnUnJ0TmNHVVhtRjY1cmRlemlfNkVyX2o3Nmtt
      WXlNIiwgIktVUkRQaDRaQzE5LTN0aXotRGYzOVY4ZWlkeTFvVjNhM0gxRGEy
      TjBnODgiLCAiV045cjlkQ0JKOEhUQ3NTMmpLQVN4VGpFeVc1bTV4NjVfWl8y
      cm8yamZYTSJdfV0",
        "HvrKX6fPV0v9K_yCVFBiLFHsMaxcD_114Em6VT8x1lg",
    ),
    // Appendix A.2 (OpenID Connect for Identity Assurance `verified_claims`)
    (
        "WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgInRpbWUiLCAiMjAxMi0wNC0y
      M1QxODoyNVoiXQ",
        "vTwe3raHIFYgFA3xaUD2aMxFz5oDo8iBu05qKlOg9Lw",
    ),
    (
        "WyJlbHVWNU9nM2dTTklJOEVZbnN4QV9BIiwgInZlcmlmaWNhdGlvbl9wcm9j
      ZXNzIiwgImYyNGM2Zi02ZDNmLTRlYzUtOTczZS1iMGQ4NTA2ZjNiYzciXQ",
        "7h4UE9qScvDKodXVCuoKfKBJpVBfXMF_TmAGVaZe3Sc",
    ),
    (
        "WyI2SWo3dE0tYTVpVlBHYm9TNXRtdlZBIiwgInR5cGUiLCAiZG9jdW1lbnQi
      XQ",
        "G5EnhOAOoU9X_6QMNvzFXjpEA_Rc-AEtm1bG_wcaKIk",
    ),
    (
        "WyJlSThaV205UW5LUHBOUGVOZW5IZGhRIiwgIm1ldGhvZCIsICJwaXBwIl0",
        "WpxQ4HSoEtcTmCCKOeDslB_emucYLz2oO8oHNr1bEVQ",
    ),
    (
        "WyJRZ19PNjR6cUF4ZTQxMmExMDhpcm9BIiwgInRpbWUiLCAiMjAxMi0wNC0y
      MlQxMTozMFoiXQ",
        "9wpjVPWuD7PK0nsQDL8B06lmdgV3LVybhHydQpTNyLI",
    ),
    (
        "WyJBSngtMDk1VlBycFR0TjRRTU9xUk9BIiwgImRvY3VtZW50IiwgeyJ0eXBl
      IjogImlkY2FyZCIsICJpc3N1ZXIiOiB7Im5hbWUiOiAiU3RhZHQgQXVnc2J1
      cmciLCAiY291bnRyeSI6ICJERSJ9LCAibnVtYmVyIjogIjUzNTU0NTU0Iiwg
      ImRhdGVfb2ZfaXNzdWFuY2UiOiAiMjAxMC0wMy0yMyIsICJkYXRlX29mX2V4
      cGlyeSI6ICIyMDIwLTAzLTIyIn1d",
        "IhwFrWUB63RcZq9yvgZ0XPc7Gowh3O2kqXeBIswg1B4",
    ),
    (
        "WyJQYzMzSk0yTGNoY1VfbEhnZ3ZfdWZRIiwgeyJfc2QiOiBbIjl3cGpWUFd1
      RDdQSzBuc1FETDhCMDZsbWRnVjNMVnliaEh5ZFFwVE55TEkiLCAiRzVFbmhP
      QU9vVTlYXzZRTU52ekZYanBFQV9SYy1BRXRtMWJHX3djYUtJayIsICJJaHdG
      cldVQjYzUmNacTl5dmdaMFhQYzdHb3doM08ya3FYZUJJc3dnMUI0IiwgIldw
      eFE0SFNvRXRjVG1DQ0tPZURzbEJfZW11Y1lMejJvTzhvSE5yMWJFVlEiXX1d",
        "tYJ0TDucyZZCRMbROG4qRO5vkPSFRxFhUELc18CSl3k",
    ),
    (
        "WyJHMDJOU3JRZmpGWFE3SW8wOXN5YWpBIiwgImdpdmVuX25hbWUiLCAiTWF4
      Il0",
        "S_498bbpKzB6Eanftss0xc7cOaoneRr3pKr7NdRmsMo",
    ),
    (
        "WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgImZhbWlseV9uYW1lIiwgIk1c
      dTAwZmNsbGVyIl0",
        "Wxh_sV3iRH9bgrTBJi-aYHNCLt-vjhX1sd-igOf_9lk",
    ),
    (
        "WyJuUHVvUW5rUkZxM0JJZUFtN0FuWEZBIiwgIm5hdGlvbmFsaXRpZXMiLCBb
      IkRFIl1d",
        "hvDXhwmGcJQsBCA2OtjuLAcwAMpDsaU0nkovcKOqWNE",
    ),
    (
        "WyI1YlBzMUlxdVpOYTBoa2FGenp6Wk53IiwgImJpcnRoZGF0ZSIsICIxOTU2
      LTAxLTI4Il0",
        "WNA-UNK7F_zhsAb9syWO6IIQ1uHlTmOU8r8CvJ0cIMk",
    ),
    (
        "WyI1YTJXMF9OcmxFWnpmcW1rXzdQcS13IiwgInBsYWNlX29mX2JpcnRoIiwg
      eyJjb3VudHJ5IjogIklTIiwgImxvY2FsaXR5IjogIlx1MDBkZXlra3ZhYlx1
      MDBlNmphcmtsYXVzdHVyIn1d",
        "RiOiCn6_w5ZHaadkQMrcQJf0Jte5RwurRs54231DTlo",
    ),
    (
        "WyJ5MXNWVTV3ZGZKYWhWZGd3UGdTN1JRIiwgImFkZHJlc3MiLCB7ImxvY2Fs
      aXR5IjogIk1heHN0YWR0IiwgInBvc3RhbF9jb2RlIjogIjEyMzQ0IiwgImNv
      dW50cnkiOiAiREUiLCAic3RyZWV0X2FkZHJlc3MiOiAiV2VpZGVuc3RyYVx1
      MDBkZmUgMjIifV0",
        "_O-wJiH3enSB4ROHntToQT8JmLtz-mhO2f1c89XoerQ",
    ),
    (
        "WyJIYlE0WDhzclZXM1FEeG5JSmRxeU9BIiwgImJpcnRoX21pZGRsZV9uYW1l
      IiwgIlRpbW90aGV1cyJd",
        "otkxuT14nBiwzNJ3MPaOitOl9pVnXOaEHal_xkyNfKI",
    ),
    (
        "WyJDOUdTb3VqdmlKcXVFZ1lmb2pDYjFBIiwgInNhbHV0YXRpb24iLCAiRHIu
      Il0",
        "-aSznId9mWM8ocuQolCllsxVggq1-vHW4OtnhUtVmWw",
    ),
    (
        "WyJreDVrRjE3Vi14MEptd1V4OXZndnR3IiwgIm1zaXNkbiIsICI0OTEyMzQ1
      Njc4OSJd",
        "IKbrYNn3vA7WEFrysvbdBJjDDU_EvQIr0W18vTRpUSg",
    ),
];

#[test]
fn every_example_disclosure_has_the_rfc_digest() {
    for (printed, expected) in DIGESTS {
        let text = squash(printed);
        assert_eq!(&digest(&text), expected, "{text}");
        let parsed = Disclosure::parse(&text, 0).unwrap();
        assert_eq!(parsed.digest(), *expected);
        assert_eq!(
            parsed.salt().len(),
            22,
            "128-bit salts, as the RFC recommends"
        );
    }
}

#[test]
fn example_disclosures_decode_to_the_rfc_contents() {
    let given = Disclosure::parse(&squash(DIGESTS[0].0), 0).unwrap();
    assert_eq!(given.salt(), "2GLC42sKQveCfGfryNRN9w");
    assert_eq!(
        given.disclosed(),
        &Disclosed::Member {
            name: "given_name".into(),
            value: json!("John")
        }
    );
    let verified = Disclosure::parse(&squash(DIGESTS[4].0), 0).unwrap();
    assert_eq!(
        verified.disclosed(),
        &Disclosed::Member {
            name: "phone_number_verified".into(),
            value: json!(true)
        }
    );
    let us = Disclosure::parse(&squash(DIGESTS[8].0), 0).unwrap();
    assert_eq!(us.disclosed(), &Disclosed::Element { value: json!("US") });
    // A.2: "M\u00fcller" is an escape in the disclosure, a plain "Müller" once decoded.
    let mueller = Disclosure::parse(&squash(DIGESTS[25].0), 0).unwrap();
    assert_eq!(
        mueller.disclosed(),
        &Disclosed::Member {
            name: "family_name".into(),
            value: json!("Müller")
        }
    );
}

/// §5.1: the issuer-signed JWT.
const ISSUER_JWT_5: &str = "
   eyJhbGciOiAiRVMyNTYiLCAidHlwIjogImV4YW1wbGUrc2Qtand0In0.eyJfc2QiOiBb
   IkNyUWU3UzVrcUJBSHQtbk1ZWGdjNmJkdDJTSDVhVFkxc1VfTS1QZ2tqUEkiLCAiSnpZ
   akg0c3ZsaUgwUjNQeUVNZmVadTZKdDY5dTVxZWhabzdGN0VQWWxTRSIsICJQb3JGYnBL
   dVZ1Nnh5bUphZ3ZrRnNGWEFiUm9jMkpHbEFVQTJCQTRvN2NJIiwgIlRHZjRvTGJnd2Q1
   SlFhSHlLVlFaVTlVZEdFMHc1cnREc3JaemZVYW9tTG8iLCAiWFFfM2tQS3QxWHlYN0tB
   TmtxVlI2eVoyVmE1TnJQSXZQWWJ5TXZSS0JNTSIsICJYekZyendzY002R242Q0pEYzZ2
   Vks4QmtNbmZHOHZPU0tmcFBJWmRBZmRFIiwgImdiT3NJNEVkcTJ4Mkt3LXc1d1BFemFr
   b2I5aFYxY1JEMEFUTjNvUUw5Sk0iLCAianN1OXlWdWx3UVFsaEZsTV8zSmx6TWFTRnpn
   bGhRRzBEcGZheVF3TFVLNCJdLCAiaXNzIjogImh0dHBzOi8vaXNzdWVyLmV4YW1wbGUu
   Y29tIiwgImlhdCI6IDE2ODMwMDAwMDAsICJleHAiOiAxODgzMDAwMDAwLCAic3ViIjog
   InVzZXJfNDIiLCAibmF0aW9uYWxpdGllcyI6IFt7Ii4uLiI6ICJwRm5kamtaX1ZDem15
   VGE2VWpsWm8zZGgta284YUlLUWM5RGxHemhhVllvIn0sIHsiLi4uIjogIjdDZjZKa1B1
   ZHJ5M2xjYndIZ2VaOGtoQXYxVTFPU2xlclAwVmtCSnJXWjAifV0sICJfc2RfYWxnIjog
   InNoYS0yNTYiLCAiY25mIjogeyJqd2siOiB7Imt0eSI6ICJFQyIsICJjcnYiOiAiUC0y
   NTYiLCAieCI6ICJUQ0FFUjE5WnZ1M09IRjRqNFc0dmZTVm9ISVAxSUxpbERsczd2Q2VH
   ZW1jIiwgInkiOiAiWnhqaVdXYlpNUUdIVldLVlE0aGJTSWlyc1ZmdWVjQ0U2dDRqVDlG
   MkhaUSJ9fX0.ow2VRoOnXDjBhV-c2XUX9zWmHhbd5hao3xa39DfE4UX_wlsBlh5KBsmK
   eDd59GgpIbWFIomQWRy3A4L-St_6aQ";

/// §5.2: the SD-JWT+KB presentation (given_name, family_name, address, one nationality).
const PRESENTATION_5_2: &str = "
   eyJhbGciOiAiRVMyNTYiLCAidHlwIjogImV4YW1wbGUrc2Qtand0In0.eyJfc2QiOiBb
   IkNyUWU3UzVrcUJBSHQtbk1ZWGdjNmJkdDJTSDVhVFkxc1VfTS1QZ2tqUEkiLCAiSnpZ
   akg0c3ZsaUgwUjNQeUVNZmVadTZKdDY5dTVxZWhabzdGN0VQWWxTRSIsICJQb3JGYnBL
   dVZ1Nnh5bUphZ3ZrRnNGWEFiUm9jMkpHbEFVQTJCQTRvN2NJIiwgIlRHZjRvTGJnd2Q1
   SlFhSHlLVlFaVTlVZEdFMHc1cnREc3JaemZVYW9tTG8iLCAiWFFfM2tQS3QxWHlYN0tB
   TmtxVlI2eVoyVmE1TnJQSXZQWWJ5TXZSS0JNTSIsICJYekZyendzY002R242Q0pEYzZ2
   Vks4QmtNbmZHOHZPU0tmcFBJWmRBZmRFIiwgImdiT3NJNEVkcTJ4Mkt3LXc1d1BFemFr
   b2I5aFYxY1JEMEFUTjNvUUw5Sk0iLCAianN1OXlWdWx3UVFsaEZsTV8zSmx6TWFTRnpn
   bGhRRzBEcGZheVF3TFVLNCJdLCAiaXNzIjogImh0dHBzOi8vaXNzdWVyLmV4YW1wbGUu
   Y29tIiwgImlhdCI6IDE2ODMwMDAwMDAsICJleHAiOiAxODgzMDAwMDAwLCAic3ViIjog
   InVzZXJfNDIiLCAibmF0aW9uYWxpdGllcyI6IFt7Ii4uLiI6ICJwRm5kamtaX1ZDem15
   VGE2VWpsWm8zZGgta284YUlLUWM5RGxHemhhVllvIn0sIHsiLi4uIjogIjdDZjZKa1B1
   ZHJ5M2xjYndIZ2VaOGtoQXYxVTFPU2xlclAwVmtCSnJXWjAifV0sICJfc2RfYWxnIjog
   InNoYS0yNTYiLCAiY25mIjogeyJqd2siOiB7Imt0eSI6ICJFQyIsICJjcnYiOiAiUC0y
   NTYiLCAieCI6ICJUQ0FFUjE5WnZ1M09IRjRqNFc0dmZTVm9ISVAxSUxpbERsczd2Q2VH
   ZW1jIiwgInkiOiAiWnhqaVdXYlpNUUdIVldLVlE0aGJTSWlyc1ZmdWVjQ0U2dDRqVDlG
   MkhaUSJ9fX0.ow2VRoOnXDjBhV-c2XUX9zWmHhbd5hao3xa39DfE4UX_wlsBlh5KBsmK
   eDd59GgpIbWFIomQWRy3A4L-St_6aQ~WyJlbHVWNU9nM2dTTklJOEVZbnN4QV9BIiwgI
   mZhbWlseV9uYW1lIiwgIkRvZSJd~WyJBSngtMDk1VlBycFR0TjRRTU9xUk9BIiwgImFk
   ZHJlc3MiLCB7InN0cmVldF9hZGRyZXNzIjogIjEyMyBNYWluIFN0IiwgImxvY2FsaXR5
   IjogIkFueXRvd24iLCAicmVnaW9uIjogIkFueXN0YXRlIiwgImNvdW50cnkiOiAiVVMi
   fV0~WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgImdpdmVuX25hbWUiLCAiSm9obiJd
   ~WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIlVTIl0~eyJhbGciOiAiRVMyNTYiLCA
   idHlwIjogImtiK2p3dCJ9.eyJub25jZSI6ICIxMjM0NTY3ODkwIiwgImF1ZCI6ICJodH
   RwczovL3ZlcmlmaWVyLmV4YW1wbGUub3JnIiwgImlhdCI6IDE3NDg1MzcyNDMsICJzZF
   9oYXNoIjogIkczSTh6LWNGTUFUQUsyZXA4TVhXay12bmpJM1g2LWFhaFllVTlUdnp6M0
   UifQ.PqD8kiTmgP5PDvnRB8PzuzHYU5hH8bEw88jFN9aT5a5CblBjVcFig044UoWeJU6
   cUqBPAXVh0XAL8of4_Sp71g";

fn rfc_binding(nonce: &'static str, audience: &'static str) -> KeyBinding<'static> {
    KeyBinding::Required {
        audience,
        nonce,
        max_age_secs: 300,
    }
}

#[test]
fn the_section_5_presentation_verifies_with_its_key_binding() {
    let keys = rfc_issuer_keys();
    let verified = verify(
        &squash(PRESENTATION_5_2),
        &rfc_check(&keys),
        rfc_binding("1234567890", "https://verifier.example.org"),
    )
    .unwrap();
    // The Processed SD-JWT Payload printed at the end of §5.2.
    let expected = json!({
        "iss": "https://issuer.example.com",
        "iat": 1683000000,
        "exp": 1883000000,
        "sub": "user_42",
        "nationalities": ["US"],
        "cnf": {"jwk": {"kty": "EC", "crv": "P-256",
                        "x": "TCAER19Zvu3OHF4j4W4vfSVoHIP1ILilDls7vCeGemc",
                        "y": "ZxjiWWbZMQGHVWKVQ4hbSIirsVfuecCE6t4jT9F2HZQ"}},
        "family_name": "Doe",
        "address": {"street_address": "123 Main St", "locality": "Anytown",
                    "region": "Anystate", "country": "US"},
        "given_name": "John"
    });
    assert_eq!(Value::Object(verified.claims().clone()), expected);
    assert_eq!(
        verified.disclosed(),
        [
            "/address",
            "/family_name",
            "/given_name",
            "/nationalities/0"
        ]
    );
}

#[test]
fn the_section_5_presentation_is_refused_for_another_nonce_audience_or_time() {
    let keys = rfc_issuer_keys();
    let presentation = squash(PRESENTATION_5_2);
    let check = rfc_check(&keys);
    let refused =
        |binding, check: &IssuerCheck<'_>| verify(&presentation, check, binding).unwrap_err();
    assert!(matches!(
        refused(
            rfc_binding("1234567891", "https://verifier.example.org"),
            &check
        ),
        Error::KeyBindingNonce
    ));
    assert!(matches!(
        refused(
            rfc_binding("1234567890", "https://other.example.org"),
            &check
        ),
        Error::KeyBindingAudience
    ));
    let an_hour_later = IssuerCheck {
        now: RFC_NOW + 3600,
        ..check.clone()
    };
    assert!(matches!(
        refused(
            rfc_binding("1234567890", "https://verifier.example.org"),
            &an_hour_later
        ),
        Error::KeyBindingTime
    ));
    // A verifier that does not ask for key binding is not handed one to ignore.
    assert!(matches!(
        refused(KeyBinding::NotRequired, &check),
        Error::KeyBindingUnexpected
    ));
    // Without the KB-JWT, a verifier that requires binding refuses (§7.3 step 2).
    let stripped = &presentation[..=presentation.rfind('~').unwrap()];
    assert!(matches!(
        verify(
            stripped,
            &check,
            rfc_binding("1234567890", "https://verifier.example.org")
        ),
        Err(Error::KeyBindingMissing)
    ));
    // Dropping one disclosure breaks `sd_hash`, though every remaining part is genuine.
    let mut parts: Vec<&str> = presentation.split('~').collect();
    parts.remove(2);
    assert!(matches!(
        verify(
            &parts.join("~"),
            &check,
            rfc_binding("1234567890", "https://verifier.example.org")
        ),
        Err(Error::KeyBindingSdHash)
    ));
}

#[test]
fn the_section_5_issuance_is_received_and_presented_by_path() {
    let keys = rfc_issuer_keys();
    let disclosures: Vec<String> = DIGESTS[..10].iter().map(|(d, _)| squash(d)).collect();
    let issued = format!("{}~{}~", squash(ISSUER_JWT_5), disclosures.join("~"));
    let held = Credential::receive(&issued, &rfc_check(&keys)).unwrap();
    assert_eq!(
        held.disclosable(),
        [
            "/address",
            "/birthdate",
            "/email",
            "/family_name",
            "/given_name",
            "/nationalities/0",
            "/nationalities/1",
            "/phone_number",
            "/phone_number_verified",
            "/updated_at"
        ]
    );
    assert_eq!(held.claims()["nationalities"], json!(["US", "DE"]));
    assert_eq!(held.claims()["updated_at"], json!(1570000000));

    // The same four disclosures §5.2 presents, chosen by path.
    let presented = held
        .present(&[
            "/given_name",
            "/family_name",
            "/address",
            "/nationalities/0",
        ])
        .unwrap();
    let rfc = squash(PRESENTATION_5_2);
    let mut ours: Vec<&str> = presented.split('~').collect();
    let mut theirs: Vec<&str> = rfc[..=rfc.rfind('~').unwrap()].split('~').collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(ours, theirs);
}

/// Appendix A.2: `verified_claims` with concealed `verification` members, a concealed evidence
/// element holding concealed members of its own, and concealed `claims` members.
const PRESENTATION_A_2: &str = "
   eyJhbGciOiAiRVMyNTYiLCAidHlwIjogImV4YW1wbGUrc2Qtand0In0.eyJfc2QiOiBb
   Ii1hU3puSWQ5bVdNOG9jdVFvbENsbHN4VmdncTEtdkhXNE90bmhVdFZtV3ciLCAiSUti
   cllObjN2QTdXRUZyeXN2YmRCSmpERFVfRXZRSXIwVzE4dlRScFVTZyIsICJvdGt4dVQx
   NG5CaXd6TkozTVBhT2l0T2w5cFZuWE9hRUhhbF94a3lOZktJIl0sICJpc3MiOiAiaHR0
   cHM6Ly9pc3N1ZXIuZXhhbXBsZS5jb20iLCAiaWF0IjogMTY4MzAwMDAwMCwgImV4cCI6
   IDE4ODMwMDAwMDAsICJ2ZXJpZmllZF9jbGFpbXMiOiB7InZlcmlmaWNhdGlvbiI6IHsi
   X3NkIjogWyI3aDRVRTlxU2N2REtvZFhWQ3VvS2ZLQkpwVkJmWE1GX1RtQUdWYVplM1Nj
   IiwgInZUd2UzcmFISUZZZ0ZBM3hhVUQyYU14Rno1b0RvOGlCdTA1cUtsT2c5THciXSwg
   InRydXN0X2ZyYW1ld29yayI6ICJkZV9hbWwiLCAiZXZpZGVuY2UiOiBbeyIuLi4iOiAi
   dFlKMFREdWN5WlpDUk1iUk9HNHFSTzV2a1BTRlJ4RmhVRUxjMThDU2wzayJ9XX0sICJj
   bGFpbXMiOiB7Il9zZCI6IFsiUmlPaUNuNl93NVpIYWFka1FNcmNRSmYwSnRlNVJ3dXJS
   czU0MjMxRFRsbyIsICJTXzQ5OGJicEt6QjZFYW5mdHNzMHhjN2NPYW9uZVJyM3BLcjdO
   ZFJtc01vIiwgIldOQS1VTks3Rl96aHNBYjlzeVdPNklJUTF1SGxUbU9VOHI4Q3ZKMGNJ
   TWsiLCAiV3hoX3NWM2lSSDliZ3JUQkppLWFZSE5DTHQtdmpoWDFzZC1pZ09mXzlsayIs
   ICJfTy13SmlIM2VuU0I0Uk9IbnRUb1FUOEptTHR6LW1oTzJmMWM4OVhvZXJRIiwgImh2
   RFhod21HY0pRc0JDQTJPdGp1TEFjd0FNcERzYVUwbmtvdmNLT3FXTkUiXX19LCAiX3Nk
   X2FsZyI6ICJzaGEtMjU2In0.O38EcHIv7tKbnDcEugtuGpI_YXkVTyrQhNPg6rywVzhM
   h7FJ9qDcPHs8YZ-9DjYlRHBgix4j4vx-ZiZQMlUxkw~WyIyR0xDNDJzS1F2ZUNmR2Zye
   U5STjl3IiwgInRpbWUiLCAiMjAxMi0wNC0yM1QxODoyNVoiXQ~WyJQYzMzSk0yTGNoY1
   VfbEhnZ3ZfdWZRIiwgeyJfc2QiOiBbIjl3cGpWUFd1RDdQSzBuc1FETDhCMDZsbWRnVj
   NMVnliaEh5ZFFwVE55TEkiLCAiRzVFbmhPQU9vVTlYXzZRTU52ekZYanBFQV9SYy1BRX
   RtMWJHX3djYUtJayIsICJJaHdGcldVQjYzUmNacTl5dmdaMFhQYzdHb3doM08ya3FYZU
   JJc3dnMUI0IiwgIldweFE0SFNvRXRjVG1DQ0tPZURzbEJfZW11Y1lMejJvTzhvSE5yMW
   JFVlEiXX1d~WyJlSThaV205UW5LUHBOUGVOZW5IZGhRIiwgIm1ldGhvZCIsICJwaXBwI
   l0~WyJHMDJOU3JRZmpGWFE3SW8wOXN5YWpBIiwgImdpdmVuX25hbWUiLCAiTWF4Il0~W
   yJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgImZhbWlseV9uYW1lIiwgIk1cdTAwZmNsb
   GVyIl0~WyJ5MXNWVTV3ZGZKYWhWZGd3UGdTN1JRIiwgImFkZHJlc3MiLCB7ImxvY2Fsa
   XR5IjogIk1heHN0YWR0IiwgInBvc3RhbF9jb2RlIjogIjEyMzQ0IiwgImNvdW50cnkiO
   iAiREUiLCAic3RyZWV0X2FkZHJlc3MiOiAiV2VpZGVuc3RyYVx1MDBkZmUgMjIifV0~";

#[test]
fn the_verified_claims_example_verifies_to_the_rfc_payload() {
    let keys = rfc_issuer_keys();
    let verified = verify(
        &squash(PRESENTATION_A_2),
        &rfc_check(&keys),
        KeyBinding::NotRequired,
    )
    .unwrap();
    let expected = json!({
        "iss": "https://issuer.example.com",
        "iat": 1683000000,
        "exp": 1883000000,
        "verified_claims": {
            "verification": {
                "trust_framework": "de_aml",
                "evidence": [{"method": "pipp"}],
                "time": "2012-04-23T18:25Z"
            },
            "claims": {
                "given_name": "Max",
                "family_name": "Müller",
                "address": {"locality": "Maxstadt", "postal_code": "12344",
                            "country": "DE", "street_address": "Weidenstraße 22"}
            }
        }
    });
    assert_eq!(Value::Object(verified.claims().clone()), expected);
    // No `cnf` in this example: a verifier requiring key binding cannot be satisfied.
    assert!(matches!(
        verify(
            &squash(PRESENTATION_A_2),
            &rfc_check(&keys),
            rfc_binding("1234567890", "https://verifier.example.org")
        ),
        Err(Error::KeyBindingMissing)
    ));
}

#[test]
fn the_verified_claims_example_refuses_a_nested_disclosure_without_its_parent() {
    // `method` sits inside the concealed evidence element: without that element's disclosure,
    // nothing references it (RFC 9901 §4.2.6: disclosures must connect to the payload).
    let keys = rfc_issuer_keys();
    let presentation = squash(PRESENTATION_A_2);
    let mut parts: Vec<&str> = presentation.split('~').collect();
    parts.remove(2); // the evidence element
    assert!(matches!(
        verify(&parts.join("~"), &rfc_check(&keys), KeyBinding::NotRequired),
        Err(Error::UnreferencedDisclosure { .. })
    ));
}

/// Appendix A.1: a structured address with decoy digests; region and country disclosed.
const PRESENTATION_A_1: &str = "
   eyJhbGciOiAiRVMyNTYiLCAidHlwIjogImV4YW1wbGUrc2Qtand0In0.eyJfc2QiOiBb
   IkM5aW5wNllvUmFFWFI0Mjd6WUpQN1FyazFXSF84YmR3T0FfWVVyVW5HUVUiLCAiS3Vl
   dDF5QWEwSElRdlluT1ZkNTloY1ZpTzlVZzZKMmtTZnFZUkJlb3d2RSIsICJNTWxkT0ZG
   ekIyZDB1bWxtcFRJYUdlcmhXZFVfUHBZZkx2S2hoX2ZfOWFZIiwgIlg2WkFZT0lJMnZQ
   TjQwVjd4RXhad1Z3ejd5Um1MTmNWd3Q1REw4Ukx2NGciLCAiWTM0em1JbzBRTExPdGRN
   cFhHd2pCZ0x2cjE3eUVoaFlUMEZHb2ZSLWFJRSIsICJmeUdwMFdUd3dQdjJKRFFsbjFs
   U2lhZW9iWnNNV0ExMGJRNTk4OS05RFRzIiwgIm9tbUZBaWNWVDhMR0hDQjB1eXd4N2ZZ
   dW8zTUhZS08xNWN6LVJaRVlNNVEiLCAiczBCS1lzTFd4UVFlVTh0VmxsdE03TUtzSVJU
   ckVJYTFQa0ptcXhCQmY1VSJdLCAiaXNzIjogImh0dHBzOi8vaXNzdWVyLmV4YW1wbGUu
   Y29tIiwgImlhdCI6IDE2ODMwMDAwMDAsICJleHAiOiAxODgzMDAwMDAwLCAiYWRkcmVz
   cyI6IHsiX3NkIjogWyI2YVVoelloWjdTSjFrVm1hZ1FBTzN1MkVUTjJDQzFhSGhlWnBL
   bmFGMF9FIiwgIkF6TGxGb2JrSjJ4aWF1cFJFUHlvSnotOS1OU2xkQjZDZ2pyN2ZVeW9I
   emciLCAiUHp6Y1Z1MHFiTXVCR1NqdWxmZXd6a2VzRDl6dXRPRXhuNUVXTndrclEtayIs
   ICJiMkRrdzBqY0lGOXJHZzhfUEY4WmN2bmNXN3p3Wmo1cnlCV3ZYZnJwemVrIiwgImNQ
   WUpISVo4VnUtZjlDQ3lWdWIyVWZnRWs4anZ2WGV6d0sxcF9KbmVlWFEiLCAiZ2xUM2hy
   U1U3ZlNXZ3dGNVVEWm1Xd0JUdzMyZ25VbGRJaGk4aEdWQ2FWNCIsICJydkpkNmlxNlQ1
   ZWptc0JNb0d3dU5YaDlxQUFGQVRBY2k0MG9pZEVlVnNBIiwgInVOSG9XWWhYc1poVkpD
   TkUyRHF5LXpxdDd0NjlnSkt5NVFhRnY3R3JNWDQiXX0sICJfc2RfYWxnIjogInNoYS0y
   NTYifQ.WWmFzrc3IRJFnvpmKGw_g9jYWnZxyZ7bGvZHkLI8159HJl8y-BBZ2K09bnMkm
   6QWlxLYpUIbolRHK75Jxk-SWw~WyJHMDJOU3JRZmpGWFE3SW8wOXN5YWpBIiwgInJlZ2
   lvbiIsICJcdTZlMmZcdTUzM2EiXQ~WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgImN
   vdW50cnkiLCAiSlAiXQ~";

#[test]
fn the_decoy_example_verifies_to_the_rfc_payload() {
    let keys = rfc_issuer_keys();
    let verified = verify(
        &squash(PRESENTATION_A_1),
        &rfc_check(&keys),
        KeyBinding::NotRequired,
    )
    .unwrap();
    let expected = json!({
        "iss": "https://issuer.example.com",
        "iat": 1683000000,
        "exp": 1883000000,
        "address": {"region": "港区", "country": "JP"}
    });
    assert_eq!(Value::Object(verified.claims().clone()), expected);
}

#[test]
fn the_examples_are_refused_with_another_key_type_or_issuer() {
    let keys = rfc_issuer_keys();
    let presentation = squash(PRESENTATION_A_1);
    let other_key = [sdjwt::Es256Key::generate().unwrap().public_jwk().clone()];
    assert!(matches!(
        verify(
            &presentation,
            &rfc_check(&other_key),
            KeyBinding::NotRequired
        ),
        Err(Error::Signature)
    ));
    let broker_typ = IssuerCheck {
        typ: sdjwt::TYP_SD_JWT,
        ..rfc_check(&keys)
    };
    assert!(matches!(
        verify(&presentation, &broker_typ, KeyBinding::NotRequired),
        Err(Error::Typ { .. })
    ));
    let other_issuer = IssuerCheck {
        issuer: Some("https://broker.example"),
        ..rfc_check(&keys)
    };
    assert!(matches!(
        verify(&presentation, &other_issuer, KeyBinding::NotRequired),
        Err(Error::Issuer)
    ));
    let after_expiry = IssuerCheck {
        now: 1_883_000_000 + 61,
        ..rfc_check(&keys)
    };
    assert!(matches!(
        verify(&presentation, &after_expiry, KeyBinding::NotRequired),
        Err(Error::Expired)
    ));
}
