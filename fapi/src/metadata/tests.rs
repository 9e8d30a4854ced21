use serde_json::Value;

use super::*;

fn metadata(issuer: &str) -> Result<ProviderMetadata, MetadataError> {
    let claims = vec!["given_name".to_string(), "birthdate".to_string()];
    let acr = AcrMapping::default();
    ProviderMetadata::new(&ProviderConfig {
        issuer,
        claims_supported: &claims,
        acr: &acr,
        extra_grant_types: &["client_credentials"],
        extra_scopes: &["attributes:read"],
        client_algorithms: &Algorithm::FAPI,
    })
}

fn present(document: &Value, member: &str) -> bool {
    match document.get(member) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

/// OpenID Connect Discovery 1.0 §3: the members marked REQUIRED (`token_endpoint` is required
/// unless only the implicit flow is used, which is never the case here).
const OIDC_REQUIRED: [&str; 7] = [
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
];

/// RFC 8414 §2: the members marked REQUIRED (`authorization_endpoint` unless no grant uses
/// it, `token_endpoint` unless only implicit).
const RFC8414_REQUIRED: [&str; 4] = [
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "response_types_supported",
];

/// What the profile's own specifications ask an authorization server to publish: RFC 9126 §5,
/// RFC 9449 §5.1, RFC 9207 §3, OpenID Identity Assurance §9 and Back-Channel Logout §2.1.
const PROFILE_MEMBERS: [&str; 9] = [
    "pushed_authorization_request_endpoint",
    "require_pushed_authorization_requests",
    "dpop_signing_alg_values_supported",
    "authorization_response_iss_parameter_supported",
    "verified_claims_supported",
    "trust_frameworks_supported",
    "evidence_supported",
    "claims_in_verified_claims_supported",
    "backchannel_logout_supported",
];

#[test]
fn the_openid_configuration_has_every_member_discovery_requires() {
    let document = metadata("https://broker.example")
        .unwrap()
        .openid_configuration();
    for member in OIDC_REQUIRED.iter().chain(&PROFILE_MEMBERS) {
        assert!(present(&document, member), "{member}");
    }
}

#[test]
fn the_authorization_server_metadata_has_every_member_rfc8414_requires() {
    let document = metadata("https://broker.example")
        .unwrap()
        .oauth_authorization_server();
    for member in RFC8414_REQUIRED.iter().chain(&PROFILE_MEMBERS) {
        assert!(present(&document, member), "{member}");
    }
    assert_eq!(
        document,
        metadata("https://broker.example")
            .unwrap()
            .openid_configuration(),
        "the two documents agree (RFC 8414 §5)"
    );
}

#[test]
fn the_profile_is_stated_as_it_is_enforced() {
    let document = metadata("https://broker.example")
        .unwrap()
        .openid_configuration();
    let list = |member: &str| -> Vec<String> {
        document[member]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(document["issuer"], "https://broker.example");
    assert_eq!(
        document["pushed_authorization_request_endpoint"],
        "https://broker.example/oauth2/par"
    );
    assert_eq!(document["require_pushed_authorization_requests"], true);
    assert_eq!(
        document["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(document["claims_parameter_supported"], true);
    assert_eq!(document["request_parameter_supported"], false);
    assert_eq!(list("response_types_supported"), ["code"]);
    assert_eq!(list("response_modes_supported"), ["query"]);
    assert_eq!(list("code_challenge_methods_supported"), ["S256"]);
    assert_eq!(list("subject_types_supported"), ["pairwise"]);
    assert_eq!(
        list("token_endpoint_auth_methods_supported"),
        ["private_key_jwt"]
    );
    assert_eq!(list("id_token_signing_alg_values_supported"), ["ES256"]);
    assert_eq!(
        list("dpop_signing_alg_values_supported"),
        ["ES256", "PS256", "EdDSA"]
    );
    assert_eq!(
        list("prompt_values_supported"),
        ["none", "login", "consent"]
    );
    assert_eq!(list("trust_frameworks_supported"), ["pctf"]);
    assert_eq!(
        list("grant_types_supported"),
        ["authorization_code", "refresh_token", "client_credentials"]
    );
    assert_eq!(
        list("scopes_supported"),
        [
            "openid",
            "offline_access",
            "profile",
            "email",
            "address",
            "phone",
            "attributes:read"
        ]
    );
    assert_eq!(
        list("acr_values_supported"),
        [1, 2, 3, 4].map(|n| format!("urn:tell-us-once:loa:{n}"))
    );
    assert_eq!(
        list("claims_in_verified_claims_supported"),
        ["given_name", "birthdate"]
    );
    for alg in ["none", "RS256", "HS256"] {
        assert!(!list("dpop_signing_alg_values_supported").contains(&alg.to_string()));
        assert!(!list("id_token_signing_alg_values_supported").contains(&alg.to_string()));
    }
    // Nothing in the document is empty or null.
    for (member, value) in document.as_object().unwrap() {
        assert!(!value.is_null(), "{member}");
        assert!(present(&document, member) || value == false, "{member}");
    }
}

#[test]
fn issuers_must_be_https_or_loopback_http_without_query_or_fragment() {
    for good in [
        "https://broker.example",
        "https://broker.example/tuo",
        "http://127.0.0.1:8080",
        "http://localhost:8080",
    ] {
        metadata(good).unwrap();
    }
    for bad in [
        "http://broker.example",
        "https://broker.example?x=1",
        "https://broker.example#f",
        "broker.example",
        "",
    ] {
        assert_eq!(metadata(bad).unwrap_err(), MetadataError::Issuer, "{bad}");
    }
}

#[test]
fn well_known_locations_follow_each_spec() {
    let root = metadata("https://broker.example").unwrap();
    assert_eq!(
        root.well_known_paths(),
        (
            "/.well-known/openid-configuration".to_string(),
            "/.well-known/oauth-authorization-server".to_string()
        )
    );
    let tenant = metadata("https://gov.example/tuo/").unwrap();
    assert_eq!(
        tenant.well_known_paths(),
        (
            "/tuo/.well-known/openid-configuration".to_string(),
            "/.well-known/oauth-authorization-server/tuo".to_string()
        )
    );
    assert_eq!(
        tenant.token_endpoint,
        "https://gov.example/tuo/oauth2/token"
    );
}
