use proptest::prelude::*;
use ring::rand::SystemRandom;

use super::request_uri::{AuthorizeEntry, DEFAULT_LIFETIME_SECS, PREFIX, issue};
use super::*;

const CLIENT: &str = "esd-pension-app";
const REDIRECT: &str = "https://pension.esd.example/callback";
/// RFC 7636 Appendix B.
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
const NOW: i64 = 1_767_225_600;

fn registered() -> Vec<String> {
    vec![REDIRECT.to_string(), "http://127.0.0.1:8123/cb".to_string()]
}

/// Form parameters, in order.
type Pairs = Vec<(&'static str, String)>;

fn base() -> Pairs {
    vec![
        ("client_id", CLIENT.into()),
        ("response_type", "code".into()),
        ("redirect_uri", REDIRECT.into()),
        ("scope", "openid".into()),
        ("code_challenge", CHALLENGE.into()),
        ("code_challenge_method", "S256".into()),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
        ),
        ("client_assertion", "eyJ.assertion.sig".into()),
    ]
}

fn encode(pairs: &[(&str, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
        .finish()
}

fn push_with(
    pairs: &[(&str, String)],
    dpop_jkt: Option<&str>,
) -> Result<AuthorizationRequest, ParError> {
    let uris = registered();
    let context = PushContext {
        client_id: CLIENT,
        redirect_uris: &uris,
        dpop_jkt,
    };
    validate(encode(pairs).as_bytes(), &context, &ParPolicy::default())
}

fn push(pairs: &[(&str, String)]) -> Result<AuthorizationRequest, ParError> {
    push_with(pairs, None)
}

fn with(changes: &[(&'static str, &str)]) -> Pairs {
    let mut pairs = base();
    for (name, value) in changes {
        pairs.retain(|(n, _)| n != name);
        pairs.push((name, (*value).to_string()));
    }
    pairs
}

fn without(name: &str) -> Pairs {
    let mut pairs = base();
    pairs.retain(|(n, _)| *n != name);
    pairs
}

#[test]
fn a_minimal_fapi_request_is_accepted() {
    let request = push(&base()).unwrap();
    assert_eq!(request.client_id, CLIENT);
    assert_eq!(request.redirect_uri, REDIRECT);
    assert_eq!(request.scopes, ["openid"]);
    assert_eq!(request.consent_mode, ConsentMode::Once);
    assert_eq!(request.code_challenge.as_str(), CHALLENGE);
    assert_eq!(request.prompt, Prompt::default());
    assert_eq!(request.claims, None);
    assert_eq!(request.dpop_jkt, None);
}

#[test]
fn a_full_request_keeps_every_parameter() {
    let claims = r#"{"userinfo":{"verified_claims":{"verification":{"trust_framework":null},"claims":{"birthdate":null}}}}"#;
    let request = push(&with(&[
        ("scope", "openid offline_access openid email"),
        ("state", "af0ifjsldkj"),
        ("nonce", "n-0S6_WzA2Mj"),
        ("prompt", "login consent"),
        ("max_age", "300"),
        (
            "acr_values",
            "urn:tell-us-once:loa:3 urn:tell-us-once:loa:2",
        ),
        ("claims", claims),
        ("purpose", "pension-enrolment"),
        ("login_hint", "alice@example.ca"),
        ("id_token_hint", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"),
        ("ui_locales", "fr-CA en"),
        ("dpop_jkt", JKT),
        ("response_mode", "query"),
        ("resource", "https://ignored.example"),
    ]))
    .unwrap();
    assert_eq!(request.scopes, ["openid", "offline_access", "email"]);
    assert_eq!(request.consent_mode, ConsentMode::Ongoing);
    assert_eq!(request.state.as_deref(), Some("af0ifjsldkj"));
    assert_eq!(request.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
    assert_eq!(
        request.prompt,
        Prompt {
            none: false,
            login: true,
            consent: true
        }
    );
    assert_eq!(request.max_age, Some(300));
    assert_eq!(
        request.acr_values,
        ["urn:tell-us-once:loa:3", "urn:tell-us-once:loa:2"]
    );
    assert_eq!(request.claims.as_ref().unwrap().verified.len(), 1);
    assert_eq!(request.purpose.as_deref(), Some("pension-enrolment"));
    assert_eq!(request.login_hint.as_deref(), Some("alice@example.ca"));
    assert!(request.id_token_hint.is_some());
    assert_eq!(request.ui_locales, ["fr-CA", "en"]);
    assert_eq!(request.dpop_jkt.as_deref(), Some(JKT));
}

#[test]
fn every_rule_has_its_refusal_and_code() {
    use crate::errors::ErrorCode as C;
    let cases: Vec<(Pairs, ParError, C)> = vec![
        (
            with(&[("request_uri", "urn:ietf:params:oauth:request_uri:x")]),
            ParError::RequestUriPushed,
            C::InvalidRequest,
        ),
        (
            with(&[("request", "eyJ.e30.sig")]),
            ParError::RequestObject,
            C::RequestNotSupported,
        ),
        (
            without("client_id"),
            ParError::Missing("client_id"),
            C::InvalidRequest,
        ),
        (
            with(&[("client_id", "another-app")]),
            ParError::ClientMismatch,
            C::InvalidRequest,
        ),
        (
            without("response_type"),
            ParError::Missing("response_type"),
            C::InvalidRequest,
        ),
        (
            with(&[("response_type", "code id_token")]),
            ParError::ResponseType,
            C::UnsupportedResponseType,
        ),
        (
            with(&[("response_type", "token")]),
            ParError::ResponseType,
            C::UnsupportedResponseType,
        ),
        (
            with(&[("response_mode", "fragment")]),
            ParError::ResponseMode,
            C::InvalidRequest,
        ),
        (
            without("redirect_uri"),
            ParError::Missing("redirect_uri"),
            C::InvalidRequest,
        ),
        (
            with(&[("redirect_uri", "https://pension.esd.example/callback/")]),
            ParError::RedirectUri,
            C::InvalidRequest,
        ),
        (
            with(&[("redirect_uri", "https://evil.example/callback")]),
            ParError::RedirectUri,
            C::InvalidRequest,
        ),
        (
            without("scope"),
            ParError::Missing("scope"),
            C::InvalidRequest,
        ),
        (
            with(&[("scope", "email")]),
            ParError::NoOpenidScope,
            C::InvalidScope,
        ),
        (
            with(&[("scope", "openid admin")]),
            ParError::UnknownScope,
            C::InvalidScope,
        ),
        (
            without("code_challenge"),
            ParError::Pkce(PkceError::MissingChallenge),
            C::InvalidRequest,
        ),
        (
            without("code_challenge_method"),
            ParError::Pkce(PkceError::MissingMethod),
            C::InvalidRequest,
        ),
        (
            with(&[("code_challenge_method", "plain")]),
            ParError::Pkce(PkceError::UnsupportedMethod),
            C::InvalidRequest,
        ),
        (
            with(&[("state", &"s".repeat(2_049))]),
            ParError::TooLong("state"),
            C::InvalidRequest,
        ),
        (
            with(&[("state", "tab\there")]),
            ParError::Malformed("state"),
            C::InvalidRequest,
        ),
        (
            with(&[("nonce", &"n".repeat(256))]),
            ParError::TooLong("nonce"),
            C::InvalidRequest,
        ),
        (
            with(&[("prompt", "none login")]),
            ParError::PromptNoneWithOthers,
            C::InvalidRequest,
        ),
        (
            with(&[("prompt", "select_account")]),
            ParError::UnknownPrompt,
            C::InvalidRequest,
        ),
        (
            with(&[("max_age", "-1")]),
            ParError::MaxAge,
            C::InvalidRequest,
        ),
        (
            with(&[("max_age", "1.5")]),
            ParError::MaxAge,
            C::InvalidRequest,
        ),
        (
            with(&[("max_age", "99999999999")]),
            ParError::MaxAge,
            C::InvalidRequest,
        ),
        (
            with(&[("acr_values", "a\"b")]),
            ParError::Malformed("acr_values"),
            C::InvalidRequest,
        ),
        (
            with(&[("claims", "{\"userinfo\":{\"a\":null}}")]),
            ParError::PurposeRequired,
            C::InvalidRequest,
        ),
        (
            with(&[("claims", "not json"), ("purpose", "p")]),
            ParError::Claims(ClaimsError::NotJson),
            C::InvalidRequest,
        ),
        (
            with(&[("purpose", "Pension Enrolment")]),
            ParError::Malformed("purpose"),
            C::InvalidRequest,
        ),
        (
            with(&[("dpop_jkt", "short")]),
            ParError::Malformed("dpop_jkt"),
            C::InvalidRequest,
        ),
        (
            with(&[("id_token_hint", "not a jwt!")]),
            ParError::Malformed("id_token_hint"),
            C::InvalidRequest,
        ),
    ];
    for (pairs, expected, code) in cases {
        let err = push(&pairs).unwrap_err();
        assert_eq!(err, expected);
        assert_eq!(err.code(), code, "{expected}");
    }
}

#[test]
fn repeated_known_parameters_are_refused_unknown_ones_ignored() {
    let mut pairs = base();
    pairs.push(("scope", "openid".into()));
    assert_eq!(push(&pairs).unwrap_err(), ParError::Repeated("scope"));
    let mut pairs = base();
    pairs.push(("client_assertion", "again".into()));
    assert_eq!(
        push(&pairs).unwrap_err(),
        ParError::Repeated("client_assertion")
    );
    let mut pairs = base();
    pairs.push(("resource", "https://a.example".into()));
    pairs.push(("resource", "https://b.example".into()));
    pairs.push(("vendor_x", "1".into()));
    push(&pairs).unwrap();
    // An empty parameter is as if omitted (RFC 6749 §3.1).
    let request = push(&with(&[("state", ""), ("prompt", "")])).unwrap();
    assert_eq!(request.state, None);
}

#[test]
fn redirect_uris_must_be_https_or_loopback_and_registered_exactly() {
    push(&with(&[("redirect_uri", "http://127.0.0.1:8123/cb")])).unwrap();
    let uris = vec![
        "http://pension.esd.example/cb".to_string(),
        "https://pension.esd.example/cb#frag".to_string(),
        "custom:/cb".to_string(),
    ];
    for uri in &uris {
        let context = PushContext {
            client_id: CLIENT,
            redirect_uris: &uris,
            dpop_jkt: None,
        };
        let body = encode(&with(&[("redirect_uri", uri)]));
        assert_eq!(
            validate(body.as_bytes(), &context, &ParPolicy::default()).unwrap_err(),
            ParError::RedirectUri,
            "{uri}"
        );
    }
}

#[test]
fn the_dpop_key_of_the_push_binds_the_code_and_must_match_dpop_jkt() {
    let request = push_with(&base(), Some(JKT)).unwrap();
    assert_eq!(request.dpop_jkt.as_deref(), Some(JKT));
    push_with(&with(&[("dpop_jkt", JKT)]), Some(JKT)).unwrap();
    let other = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
    let err = push_with(&with(&[("dpop_jkt", other)]), Some(JKT)).unwrap_err();
    assert_eq!(err, ParError::DpopJktMismatch);
    assert_eq!(err.code(), crate::errors::ErrorCode::InvalidDpopProof);
}

#[test]
fn a_request_uri_is_issued_redeemed_once_by_its_client_before_it_expires() {
    let request = push(&base()).unwrap();
    let issued = issue(
        request.clone(),
        NOW,
        DEFAULT_LIFETIME_SECS,
        &SystemRandom::new(),
    )
    .unwrap();
    assert!(issued.request_uri.starts_with(PREFIX));
    assert_eq!(issued.request_uri.len(), PREFIX.len() + 43);
    assert_eq!(issued.expires_in, 60);
    assert_eq!(issued.record.expires_at, NOW + 60);
    assert_eq!(
        issued.response_body(),
        serde_json::json!({"request_uri": issued.request_uri, "expires_in": 60})
    );
    assert_ne!(issued.storage_key, issued.request_uri);
    // The stored record survives a round trip through JSON storage.
    let stored: request_uri::PushedRequest =
        serde_json::from_str(&serde_json::to_string(&issued.record).unwrap()).unwrap();
    assert_eq!(stored, issued.record);

    let query = encode(&[
        ("client_id", CLIENT.to_string()),
        ("request_uri", issued.request_uri.clone()),
        ("scope", "openid admin".to_string()),
    ]);
    let entry = AuthorizeEntry::parse(&query).unwrap();
    assert_eq!(entry.storage_key(), issued.storage_key);
    assert_eq!(
        entry.redeem(Some(stored.clone()), NOW + 59).unwrap(),
        request
    );
    // Used (the caller removed it): nothing stored any more.
    assert_eq!(
        entry.redeem(None, NOW + 1),
        Err(ParError::RequestUriUnknown)
    );
    assert_eq!(
        entry.redeem(Some(stored.clone()), NOW + 60),
        Err(ParError::RequestUriExpired)
    );
    let other = AuthorizeEntry {
        client_id: "another-app".into(),
        ..entry
    };
    let err = other.redeem(Some(stored), NOW).unwrap_err();
    assert_eq!(err, ParError::RequestUriOtherClient);
    assert_eq!(err.code(), crate::errors::ErrorCode::InvalidRequestUri);
    // Two issues never collide.
    let again = issue(request, NOW, 60, &SystemRandom::new()).unwrap();
    assert_ne!(again.request_uri, issued.request_uri);
}

#[test]
fn lifetimes_stay_under_fapi_limit() {
    let request = push(&base()).unwrap();
    for bad in [0, -5, 600, 3_600] {
        assert_eq!(
            issue(request.clone(), NOW, bad, &SystemRandom::new()).unwrap_err(),
            ParError::Lifetime
        );
    }
    issue(request, NOW, 599, &SystemRandom::new()).unwrap();
}

#[test]
fn the_authorization_endpoint_takes_only_pushed_requests() {
    let good = format!("{PREFIX}{}", "A".repeat(43));
    for (query, expected) in [
        (
            format!("client_id={CLIENT}&response_type=code&scope=openid"),
            ParError::NotPushed,
        ),
        (
            format!("request_uri={good}"),
            ParError::Missing("client_id"),
        ),
        (
            format!("client_id={CLIENT}&request_uri=https://evil.example/req"),
            ParError::RequestUriUnknown,
        ),
        (
            format!("client_id={CLIENT}&request_uri={PREFIX}short"),
            ParError::RequestUriUnknown,
        ),
        (
            format!("client_id={CLIENT}&request_uri={good}&request_uri={good}"),
            ParError::Repeated("request_uri"),
        ),
    ] {
        assert_eq!(
            AuthorizeEntry::parse(&query).unwrap_err(),
            expected,
            "{query}"
        );
    }
    let code = ParError::NotPushed.code();
    assert_eq!(code, crate::errors::ErrorCode::InvalidRequest);
}

#[test]
fn debug_output_hides_hints_state_and_the_request_uri() {
    let request = push(&with(&[
        ("state", "zzz-state"),
        ("nonce", "zzz-nonce"),
        ("login_hint", "zzz-alice@example.ca"),
        ("id_token_hint", "zzz.token.sig"),
        ("purpose", "pension-enrolment"),
        (
            "claims",
            r#"{"id_token":{"sub":{"value":"zzz-sub"},"given_name":{"value":"zzz-Alice"}}}"#,
        ),
    ]))
    .unwrap();
    let text = format!("{request:?}");
    assert!(!text.contains("zzz"), "{text}");
    assert!(text.contains("pension-enrolment") && text.contains("given_name"));
    let issued = issue(request, NOW, 60, &SystemRandom::new()).unwrap();
    assert!(!format!("{issued:?}").contains(&issued.request_uri));
    let entry = AuthorizeEntry::parse(&format!(
        "client_id={CLIENT}&request_uri={}",
        issued.request_uri
    ))
    .unwrap();
    assert!(!format!("{entry:?}").contains(&issued.request_uri));
}

#[test]
fn asking_for_attributes_by_scope_needs_a_purpose_too() {
    assert_eq!(
        push(&with(&[("scope", "openid profile")])).unwrap_err(),
        ParError::PurposeRequired
    );
    push(&with(&[
        ("scope", "openid profile"),
        ("purpose", "pension-enrolment"),
    ]))
    .unwrap();
    push(&with(&[("scope", "openid offline_access")])).unwrap();
}

#[test]
fn errors_name_parameters_never_values() {
    let err = push(&with(&[("redirect_uri", "https://zzz-secret.example/cb")])).unwrap_err();
    assert!(!err.to_string().contains("zzz-secret"));
    let err = push(&with(&[("state", &format!("zzz-{}", "\u{1}"))])).unwrap_err();
    assert!(!err.to_string().contains("zzz"));
}

proptest! {
    #[test]
    fn validating_any_body_never_panics(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let uris = registered();
        let context = PushContext { client_id: CLIENT, redirect_uris: &uris, dpop_jkt: None };
        let _ = validate(&body, &context, &ParPolicy::default());
    }

    #[test]
    fn validating_any_parameter_values_never_panics(
        values in proptest::collection::vec("\\PC{0,40}", 14),
    ) {
        let names = ["client_id", "response_type", "redirect_uri", "scope", "code_challenge",
            "code_challenge_method", "state", "nonce", "prompt", "max_age", "acr_values",
            "claims", "purpose", "dpop_jkt"];
        let pairs: Vec<(&str, String)> = names.iter().copied().zip(values).collect();
        let _ = push(&pairs);
    }

    #[test]
    fn parsing_any_authorization_query_never_panics(query in "\\PC{0,200}") {
        if let Ok(entry) = AuthorizeEntry::parse(&query) {
            let _ = entry.redeem(None, NOW);
        }
    }
}
