use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::encoding::b64;
use crate::testing::TestKey;

/// RFC 9449 Figure 2 (decoded in Figure 4): the proof of the token request of Figure 5.
const RFC_TOKEN_PROOF: &str = concat!(
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6Ik",
    "VDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCR",
    "nMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JE",
    "QSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIj",
    "oiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwia",
    "WF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg",
    "4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
);

/// RFC 9449 Figure 13 (decoded in Figure 14): the proof of the protected resource request,
/// with `ath` for the access token below.
const RFC_RESOURCE_PROOF: &str = concat!(
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6Ik",
    "VDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCR",
    "nMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JE",
    "QSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIj",
    "oiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0Z",
    "WRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNF",
    "c05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71E",
    "OptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
);

/// RFC 9449 Figure 13's access token.
const RFC_ACCESS_TOKEN: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";

/// RFC 9449 Figure 9: the thumbprint of the examples' key.
const RFC_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

const TOKEN_URI: &str = "https://broker.example/oauth2/token";
const NOW: i64 = 1_767_225_600;

fn token_request() -> DpopRequest<'static> {
    DpopRequest {
        method: "POST",
        uri: TOKEN_URI,
        access_token: None,
        nonces: None,
    }
}

fn claims() -> Value {
    json!({"jti": "e1j3V_bKic8-LAEB", "htm": "POST", "htu": TOKEN_URI, "iat": NOW})
}

fn check(proof: &str, request: &DpopRequest<'_>) -> Result<VerifiedProof, DpopError> {
    verify(proof, request, &DpopPolicy::default(), NOW)
}

#[test]
fn rfc9449_token_request_proof_verifies_with_its_published_thumbprint() {
    let request = DpopRequest {
        method: "POST",
        uri: "https://server.example.com/token",
        access_token: None,
        nonces: None,
    };
    let proof = verify(
        RFC_TOKEN_PROOF,
        &request,
        &DpopPolicy::default(),
        1_562_262_616,
    )
    .unwrap();
    assert_eq!(proof.jkt, RFC_JKT);
    assert_eq!(proof.jti, "-BwC3ESc6acc2lTc");
    assert_eq!(proof.iat, 1_562_262_616);
    assert_eq!(proof.algorithm, Algorithm::Es256);
    assert_eq!(proof.remember_until, 1_562_262_676);
    proof.check_binding(RFC_JKT).unwrap();
    // RFC 9449 §10: the dpop_jkt of Figure 25 is another key's (RFC 7638's example).
    assert_eq!(
        proof.check_binding("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"),
        Err(DpopError::KeyMismatch)
    );
}

#[test]
fn rfc9449_resource_proof_verifies_with_its_access_token_hash() {
    assert_eq!(
        access_token_hash(RFC_ACCESS_TOKEN),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
    let request = DpopRequest {
        method: "GET",
        uri: "https://resource.example.org/protectedresource",
        access_token: Some(RFC_ACCESS_TOKEN),
        nonces: None,
    };
    let proof = verify(
        RFC_RESOURCE_PROOF,
        &request,
        &DpopPolicy::default(),
        1_562_262_618,
    )
    .unwrap();
    assert_eq!(proof.jkt, RFC_JKT);
    assert_eq!(proof.jti, "e1j3V_bKic8-LAEB");
    let other_token = DpopRequest {
        access_token: Some("another-token"),
        ..request
    };
    assert_eq!(
        verify(
            RFC_RESOURCE_PROOF,
            &other_token,
            &DpopPolicy::default(),
            1_562_262_618
        ),
        Err(DpopError::AccessTokenHash)
    );
}

#[test]
fn proofs_of_every_accepted_key_kind_verify() {
    let rs256 = [
        Algorithm::Es256,
        Algorithm::Ps256,
        Algorithm::EdDsa,
        Algorithm::Rs256,
    ];
    let policy = DpopPolicy {
        algorithms: &rs256,
        ..DpopPolicy::default()
    };
    for key in [
        TestKey::es256(),
        TestKey::ed25519(),
        TestKey::rsa("PS256"),
        TestKey::rsa("RS256"),
    ] {
        let proof = key.dpop_proof(&claims());
        let verified = verify(&proof, &token_request(), &policy, NOW).unwrap();
        let expected = PublicJwk::from_json(&key.public_jwk())
            .unwrap()
            .thumbprint();
        assert_eq!(verified.jkt, expected, "{}", key.alg());
        assert_eq!(verified.algorithm.name(), key.alg());
    }
    // RS256 is outside FAPI 2.0's list: refused unless the caller lists it.
    let proof = TestKey::rsa("RS256").dpop_proof(&claims());
    assert_eq!(check(&proof, &token_request()), Err(DpopError::Algorithm));
    // `Ed25519` (RFC 9864's fully specified name) is EdDSA.
    let ed = TestKey::ed25519();
    let header = json!({"typ": "dpop+jwt", "alg": "Ed25519", "jwk": ed.public_jwk()});
    check(&ed.sign_jws(&header, &claims()), &token_request()).unwrap();
}

#[test]
fn the_header_checks_each_have_their_error() {
    let key = TestKey::es256();
    let jwk = key.public_jwk();
    let mut private = jwk.clone();
    private["d"] = json!(b64([1u8; 32]));
    let ed_jwk = TestKey::ed25519().public_jwk();
    let cases: Vec<(Value, DpopError)> = vec![
        (json!({"alg": "ES256", "jwk": jwk}), DpopError::Type),
        (
            json!({"typ": "JWT", "alg": "ES256", "jwk": jwk}),
            DpopError::Type,
        ),
        (
            json!({"typ": "at+jwt", "alg": "ES256", "jwk": jwk}),
            DpopError::Type,
        ),
        (
            json!({"typ": 1, "alg": "ES256", "jwk": jwk}),
            DpopError::Type,
        ),
        (
            json!({"typ": "dpop+jwt", "alg": "none", "jwk": jwk}),
            DpopError::Algorithm,
        ),
        (
            json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": jwk}),
            DpopError::Algorithm,
        ),
        (json!({"typ": "dpop+jwt", "jwk": jwk}), DpopError::Algorithm),
        (
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk, "crit": ["exp"]}),
            DpopError::CriticalHeader,
        ),
        (json!({"typ": "dpop+jwt", "alg": "ES256"}), DpopError::NoKey),
        (
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": private}),
            DpopError::Key(JwkError::PrivateKeyMaterial { member: "d" }),
        ),
        (
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "oct", "k": "AAAA"}}),
            DpopError::Key(JwkError::PrivateKeyMaterial { member: "k" }),
        ),
        (
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": ed_jwk}),
            DpopError::KeyAlgorithm,
        ),
    ];
    for (header, expected) in cases {
        let proof = key.sign_jws(&header, &claims());
        assert_eq!(check(&proof, &token_request()), Err(expected), "{header}");
    }
    // Case and the `application/` prefix do not matter for `typ` (RFC 7515 §4.1.9).
    for typ in ["DPoP+JWT", "application/dpop+jwt"] {
        let header = json!({"typ": typ, "alg": "ES256", "jwk": jwk});
        check(&key.sign_jws(&header, &claims()), &token_request()).unwrap();
    }
}

#[test]
fn a_signature_by_another_key_or_over_other_content_is_refused() {
    let key = TestKey::es256();
    let other = TestKey::es256();
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": other.public_jwk()});
    assert_eq!(
        check(&key.sign_jws(&header, &claims()), &token_request()),
        Err(DpopError::Signature)
    );
    let proof = key.dpop_proof(&claims());
    let (signed, _) = proof.rsplit_once('.').unwrap();
    let forged = format!("{signed}.{}", b64([0u8; 64]));
    assert_eq!(check(&forged, &token_request()), Err(DpopError::Signature));
}

#[test]
fn the_claim_checks_each_have_their_error() {
    let key = TestKey::es256();
    let with = |member: &str, value: Value| {
        let mut c = claims();
        c[member] = value;
        key.dpop_proof(&c)
    };
    let without = |member: &str| {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(member);
        key.dpop_proof(&c)
    };
    let cases: Vec<(String, DpopError)> = vec![
        (without("jti"), DpopError::MissingClaim("jti")),
        (without("htm"), DpopError::MissingClaim("htm")),
        (without("htu"), DpopError::MissingClaim("htu")),
        (without("iat"), DpopError::MissingClaim("iat")),
        (with("jti", json!("")), DpopError::MissingClaim("jti")),
        (with("jti", json!(7)), DpopError::ClaimType("jti")),
        (with("htm", json!(["POST"])), DpopError::ClaimType("htm")),
        (
            with("iat", json!("1767225600")),
            DpopError::ClaimType("iat"),
        ),
        (
            with("jti", json!("x".repeat(MAX_JTI_LEN + 1))),
            DpopError::JtiTooLong,
        ),
        (with("htm", json!("GET")), DpopError::Method),
        (with("htm", json!("post")), DpopError::Method),
        (
            with("htu", json!("https://broker.example/oauth2/par")),
            DpopError::Uri,
        ),
        (
            with("htu", json!("https://evil.example/oauth2/token")),
            DpopError::Uri,
        ),
        (
            with("htu", json!("http://broker.example/oauth2/token")),
            DpopError::Uri,
        ),
        (with("htu", json!("/oauth2/token")), DpopError::Uri),
        (with("iat", json!(NOW - 61)), DpopError::Stale),
        (with("iat", json!(NOW + 11)), DpopError::IssuedInFuture),
    ];
    for (proof, expected) in cases {
        assert_eq!(
            check(&proof, &token_request()),
            Err(expected.clone()),
            "{expected}"
        );
        assert_eq!(expected.code(), ErrorCode::InvalidDpopProof);
    }
    // The edges of the window are inside it; query and fragment of htu are ignored.
    for ok in [
        with("iat", json!(NOW - 60)),
        with("iat", json!(NOW + 10)),
        with(
            "htu",
            json!("https://BROKER.example:443/oauth2/token?x=1#y"),
        ),
    ] {
        check(&ok, &token_request()).unwrap();
    }
}

#[test]
fn no_window_lets_a_proof_from_more_than_a_minute_ahead_through() {
    let key = TestKey::es256();
    let mut c = claims();
    c["iat"] = json!(NOW + 61);
    let generous = DpopPolicy {
        max_future_secs: 3_600,
        ..DpopPolicy::default()
    };
    assert_eq!(
        verify(&key.dpop_proof(&c), &token_request(), &generous, NOW),
        Err(DpopError::IssuedInFuture)
    );
    c["iat"] = json!(NOW + 60);
    verify(&key.dpop_proof(&c), &token_request(), &generous, NOW).unwrap();
}

#[test]
fn a_resource_request_needs_ath_for_its_token() {
    let key = TestKey::es256();
    let request = DpopRequest {
        method: "GET",
        uri: "https://broker.example/oauth2/userinfo",
        access_token: Some("the-access-token"),
        nonces: None,
    };
    let mut c = json!({"jti": "j1", "htm": "GET", "htu": request.uri, "iat": NOW});
    assert_eq!(
        check(&key.dpop_proof(&c), &request),
        Err(DpopError::MissingAccessTokenHash)
    );
    c["ath"] = json!(7);
    assert_eq!(
        check(&key.dpop_proof(&c), &request),
        Err(DpopError::ClaimType("ath"))
    );
    c["ath"] = json!(access_token_hash("another-token"));
    assert_eq!(
        check(&key.dpop_proof(&c), &request),
        Err(DpopError::AccessTokenHash)
    );
    c["ath"] = json!(access_token_hash("the-access-token"));
    check(&key.dpop_proof(&c), &request).unwrap();
}

#[test]
fn a_server_nonce_once_asked_for_must_be_a_current_one() {
    let key = TestKey::es256();
    let current = ["n-new", "n-old"];
    let request = DpopRequest {
        nonces: Some(&current),
        ..token_request()
    };
    let mut c = claims();
    assert_eq!(
        check(&key.dpop_proof(&c), &request),
        Err(DpopError::MissingNonce)
    );
    c["nonce"] = json!("n-stale");
    let stale = check(&key.dpop_proof(&c), &request).unwrap_err();
    assert_eq!(stale, DpopError::Nonce);
    assert_eq!(stale.code(), ErrorCode::UseDpopNonce);
    c["nonce"] = json!("n-old");
    check(&key.dpop_proof(&c), &request).unwrap();
    // A nonce the server did not ask for is not checked.
    check(&key.dpop_proof(&c), &token_request()).unwrap();
}

#[test]
fn exactly_one_header_is_accepted() {
    let proof = TestKey::es256().dpop_proof(&claims());
    let policy = DpopPolicy::default();
    assert_eq!(
        verify_header(&[], &token_request(), &policy, NOW),
        Err(DpopError::Missing)
    );
    assert_eq!(
        verify_header(&[&proof, &proof], &token_request(), &policy, NOW),
        Err(DpopError::MultipleHeaders)
    );
    verify_header(&[&proof], &token_request(), &policy, NOW).unwrap();
    let two_in_one = format!("{proof}, {proof}");
    assert_eq!(
        verify_header(&[&two_in_one], &token_request(), &policy, NOW),
        Err(DpopError::Malformed)
    );
}

#[test]
fn replay_keys_separate_endpoints_and_proofs() {
    let key = TestKey::es256();
    let a = check(&key.dpop_proof(&claims()), &token_request()).unwrap();
    let again = check(&key.dpop_proof(&claims()), &token_request()).unwrap();
    assert_eq!(
        a.replay_key, again.replay_key,
        "same jti, same endpoint: a replay"
    );
    let mut other = claims();
    other["jti"] = json!("another-jti");
    let b = check(&key.dpop_proof(&other), &token_request()).unwrap();
    assert_ne!(a.replay_key, b.replay_key);
    let par_uri = "https://broker.example/oauth2/par";
    let mut at_par = claims();
    at_par["htu"] = json!(par_uri);
    let par = DpopRequest {
        uri: par_uri,
        ..token_request()
    };
    let c = check(&key.dpop_proof(&at_par), &par).unwrap();
    assert_ne!(a.replay_key, c.replay_key);
}

#[test]
fn oversized_malformed_and_misconfigured_inputs() {
    assert_eq!(check("a.b", &token_request()), Err(DpopError::Malformed));
    assert_eq!(
        check(&"a".repeat(MAX_PROOF_LEN + 1), &token_request()),
        Err(DpopError::Malformed)
    );
    let proof = TestKey::es256().dpop_proof(&claims());
    let relative = DpopRequest {
        uri: "/oauth2/token",
        ..token_request()
    };
    let err = check(&proof, &relative).unwrap_err();
    assert_eq!(err, DpopError::RequestUri);
    assert_eq!(err.code(), ErrorCode::ServerError);
}

#[test]
fn error_messages_never_carry_proof_content() {
    let key = TestKey::es256();
    let mut c = claims();
    c["htu"] = json!("https://secret-looking.example/zzz-unique");
    let err = check(&key.dpop_proof(&c), &token_request()).unwrap_err();
    let text = err.to_string();
    assert!(!text.contains("zzz-unique") && !text.contains("secret-looking"));
    assert_eq!(text, text.to_lowercase());
}

proptest! {
    #[test]
    fn verifying_any_text_never_panics(proof in "\\PC{0,400}") {
        let _ = check(&proof, &token_request());
    }

    #[test]
    fn verifying_jwt_shaped_noise_never_panics(
        header in "[A-Za-z0-9_-]{0,80}",
        payload in "[A-Za-z0-9_-]{0,80}",
        signature in "[A-Za-z0-9_-]{0,90}",
    ) {
        let _ = check(&format!("{header}.{payload}.{signature}"), &token_request());
    }

    #[test]
    fn any_json_header_and_claims_never_panic(
        typ in prop_oneof![Just(json!("dpop+jwt")), Just(json!(null)), any::<i64>().prop_map(|n| json!(n))],
        alg in prop_oneof![Just("ES256"), Just("EdDSA"), Just("PS256"), Just("none"), Just("HS256")],
        htm in "[A-Z]{0,7}",
        iat in any::<i64>(),
        jti in "\\PC{0,20}",
    ) {
        let key = TestKey::es256();
        let header = json!({"typ": typ, "alg": alg, "jwk": key.public_jwk()});
        let proof = key.sign_jws(&header, &json!({"jti": jti, "htm": htm, "htu": TOKEN_URI, "iat": iat}));
        let _ = check(&proof, &token_request());
    }

    #[test]
    fn changing_any_one_character_of_a_valid_proof_is_refused(index in 0usize..2_000, replacement in "[A-Za-z0-9_.-]") {
        let proof = TestKey::es256().dpop_proof(&claims());
        let index = index % proof.len();
        let mut bytes = proof.clone().into_bytes();
        let new = replacement.as_bytes()[0];
        prop_assume!(bytes[index] != new);
        bytes[index] = new;
        let tampered = String::from_utf8(bytes).unwrap();
        prop_assert!(check(&tampered, &token_request()).is_err());
    }
}
