//! SD-JWT releases (RFC 9901, issue 16): the real binary answers `Accept: application/dc+sd-jwt`
//! with an SD-JWT bound to the department's registered key, and an independent implementation in
//! the test peers (`@sd-jwt/core` 0.19.0 with node:crypto, `sd-jwt.mjs`) presents only the date
//! of birth with a Key Binding JWT, verifies it against the broker's `/jwks.json`, and refuses a
//! tampered presentation.

use broker_e2e::departments::call;
use broker_e2e::peers::run_node;
use broker_e2e::release::*;
use serde_json::json;

use super::{ESD, PENSION, alice};

fn header(jws: &str) -> serde_json::Value {
    use base64::Engine;
    let part = jws.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn an_sd_jwt_release_is_presented_with_only_the_birthdate_and_verified_by_an_independent_implementation()
 {
    let world = World::new().await;
    let citizen = alice(&world).await;
    let sub = world.subject(ESD, &citizen).await;
    world
        .grant(
            &citizen,
            ESD,
            PENSION,
            &["given_name", "family_name", "birthdate", "address"],
            30,
        )
        .await;
    let dept = world.node_client(ESD, "ES256", &["attributes:read"]).await;
    let broker = world.start().await;
    let path = attributes_path(
        &sub,
        "given_name,family_name,birthdate,address,marital_status",
        PENSION,
    );

    // The default stays the plain signed JWT.
    let plain = call(&broker.base, &dept, None, &["--get", &path]);
    assert_eq!(plain["status"], 200, "{plain}");
    assert_eq!(plain["contentType"], "application/jwt", "{plain}");

    let out = call(
        &broker.base,
        &dept,
        None,
        &["--accept", "application/dc+sd-jwt", "--get", &path],
    );
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(out["contentType"], "application/dc+sd-jwt", "{out}");
    let issued = out["body"].as_str().unwrap();
    assert!(issued.ends_with('~'), "an issuance ends with `~`");
    let jwt = issued.split('~').next().unwrap();
    assert_eq!(header(jwt)["typ"], "dc+sd-jwt");
    assert_eq!(header(jwt)["alg"], "ES256");
    let issued_payload = payload(jwt);
    // The department's registered key is the holder key.
    let bound = &issued_payload["cnf"]["jwk"];
    for member in ["kty", "crv", "x", "y", "kid"] {
        assert_eq!(bound[member], dept.public_jwk[member], "{member}: {bound}");
    }
    assert_eq!(issued_payload["aud"], dept.client_id);
    let (iat, exp) = (
        issued_payload["iat"].as_i64().unwrap(),
        issued_payload["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 7_200, "two hours, within the 30-day consent");
    // Nothing about the citizen is readable without a disclosure, and nothing unasked left.
    for hidden in ["sub", "purpose", "consent_id", "txn", "withheld"] {
        assert!(
            issued_payload.get(hidden).is_none(),
            "{hidden} is concealed"
        );
    }
    let clear = issued_payload.to_string();
    assert!(
        !clear.contains("Alice") && !clear.contains("1958"),
        "{clear}"
    );
    assert!(!issued.contains("married"));

    // The audit record names the format; the JWT's jti is its request id.
    let jti = issued_payload["jti"].as_str().unwrap();
    let records = world.audit().await;
    let record = records
        .iter()
        .find(|r| r.request_id.as_deref() == Some(jti))
        .expect("a release record for the SD-JWT");
    assert_eq!(record.action.as_str(), "release");
    assert_eq!(
        record.detail.get("format").map(String::as_str),
        Some("dc+sd-jwt")
    );
    assert_eq!(
        record.attributes,
        ["given_name", "family_name", "birthdate", "address"]
    );

    // The department presents only the date of birth to a contractor, key-bound; the contractor
    // verifies it; every tampering is refused.
    let file = world.dir.path().join("release.sd-jwt");
    std::fs::write(&file, issued).unwrap();
    let args: Vec<String> = [
        "--in",
        &file.display().to_string(),
        "--key",
        &dept.private_key_file,
        "--issuer",
        &broker.base,
        "--claims",
        "birthdate",
        "--audience",
        "https://contractor.example",
        "--nonce",
        "n-42",
        "--tampering",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (ok, stdout, stderr) = run_node("sd-jwt.mjs", &args, None);
    let result: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|_| panic!("sd-jwt.mjs said: {stdout}\n{stderr}"));
    assert!(ok, "{result}\n{stderr}");
    assert_eq!(result["verified"]["ok"], true, "{result}");
    let shown = &result["verified"]["payload"];
    assert_eq!(shown["iss"], broker.base);
    let elements = shown["verified_claims"].as_array().unwrap();
    let disclosed: Vec<&serde_json::Value> = elements
        .iter()
        .filter(|e| e["claims"].as_object().is_some_and(|c| !c.is_empty()))
        .collect();
    assert_eq!(disclosed.len(), 1, "{shown}");
    assert_eq!(disclosed[0]["claims"], json!({"birthdate": "1958-04-12"}));
    let shown_text = shown.to_string();
    for hidden in ["Alice", "Tremblay", "Ottawa", &sub, PENSION] {
        assert!(!shown_text.contains(hidden), "{hidden} shown: {shown_text}");
    }
    for (attack, outcome) in result["tampering"].as_object().unwrap() {
        assert_eq!(outcome["ok"], false, "{attack} was accepted: {outcome}");
    }
    assert_eq!(result["tampering"].as_object().unwrap().len(), 5);

    // A key the client never registered cannot be asked for; `holder_kid` is for SD-JWTs only.
    let unknown = call(
        &broker.base,
        &dept,
        None,
        &[
            "--accept",
            "application/dc+sd-jwt",
            "--get",
            &format!("{path}&holder_kid=not-registered"),
        ],
    );
    assert_eq!(unknown["status"], 422, "{unknown}");
    assert_eq!(
        unknown["json"]["code"], "holder_key_unavailable",
        "{unknown}"
    );
    let named = call(
        &broker.base,
        &dept,
        None,
        &[
            "--accept",
            "application/dc+sd-jwt",
            "--get",
            &format!(
                "{path}&holder_kid={}",
                dept.public_jwk["kid"].as_str().unwrap()
            ),
        ],
    );
    assert_eq!(named["status"], 200, "{named}");
    let misplaced = call(
        &broker.base,
        &dept,
        None,
        &["--get", &format!("{path}&holder_kid=x")],
    );
    assert_eq!(misplaced["status"], 400, "{misplaced}");
    assert_eq!(misplaced["json"]["code"], "malformed_query");
    let refused = world.audit().await;
    assert!(refused.iter().any(|r| r.action.as_str() == "release-denied"
        && r.reasons.first().map(String::as_str) == Some("holder_key_unavailable")
        && r.detail.get("format").map(String::as_str) == Some("dc+sd-jwt")));
}
