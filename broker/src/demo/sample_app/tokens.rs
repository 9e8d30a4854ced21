//! Checking what the broker signs for the sample application: the ID token (OIDC Core §3.1.3.7)
//! and the back-channel logout token (Back-Channel Logout 1.0 §2.6), each against the broker's
//! JWK Set as fetched from its `jwks_uri`. No I/O here, so every refusal is tested without a
//! broker. Errors name the check that failed, never a token or a claim's value.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// The event a logout token must carry (Back-Channel Logout 1.0 §2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a well-formed jws")]
    Malformed,
    #[error("the token is not signed with es256")]
    Algorithm,
    #[error("the token's `typ` is not the one expected")]
    Type,
    #[error("no key of the broker's jwk set matches the token's `kid`")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token's `iss` is not the broker")]
    Issuer,
    #[error("the token's `aud` is not this application")]
    Audience,
    #[error("the token lacks the claim `{0}`")]
    MissingClaim(&'static str),
    #[error("the token's claims cannot be read")]
    Claims,
    #[error("the id token's `nonce` is not the one sent")]
    Nonce,
    #[error("the logout token carries a `nonce`")]
    LogoutNonce,
    #[error("the logout token lacks the back-channel logout event")]
    Event,
}

/// Who the broker is and who this application is.
#[derive(Debug, Clone, Copy)]
pub struct Audience<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
}

/// What the application keeps of a verified ID token.
#[derive(Debug, Clone)]
pub struct IdToken {
    pub sub: String,
    pub sid: Option<String>,
    pub acr: Option<String>,
}

/// Whose sessions a verified logout token ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logout {
    pub sid: Option<String>,
    pub sub: Option<String>,
}

/// Verifies an ID token: ES256 under a key of `jwks`, `iss`, `aud` (and `azp` if there are
/// several audiences), `exp`, `iat`, `sub`, and the `nonce` of the request.
pub fn verify_id_token(
    token: &str,
    jwks: &Value,
    who: Audience<'_>,
    nonce: &str,
) -> Result<IdToken, TokenError> {
    let claims = verify(token, jwks, who, |typ| {
        // A JWT of another kind signed by the same key is not an ID token (RFC 8725 §3.11).
        typ.is_none_or(|t| t.eq_ignore_ascii_case("jwt"))
    })?;
    if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
        return Err(TokenError::Nonce);
    }
    if let Some(Value::Array(audiences)) = claims.get("aud")
        && audiences.len() > 1
        && claims.get("azp").and_then(Value::as_str) != Some(who.client_id)
    {
        return Err(TokenError::Audience);
    }
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    Ok(IdToken {
        sub: text("sub").ok_or(TokenError::MissingClaim("sub"))?,
        sid: text("sid"),
        acr: text("acr"),
    })
}

/// Verifies a logout token (Back-Channel Logout 1.0 §2.6): `typ` `logout+jwt`, ES256 under a
/// key of `jwks`, `iss`, `aud`, `iat`, `exp`, `jti`, the logout event, `sid` or `sub`, and no
/// `nonce`.
pub fn verify_logout_token(
    token: &str,
    jwks: &Value,
    who: Audience<'_>,
) -> Result<Logout, TokenError> {
    let claims = verify(token, jwks, who, |typ| {
        typ.is_some_and(|t| {
            let t = t.to_ascii_lowercase();
            t == "logout+jwt" || t == "application/logout+jwt"
        })
    })?;
    if claims.get("nonce").is_some() {
        return Err(TokenError::LogoutNonce);
    }
    for name in ["iat", "jti"] {
        if claims.get(name).is_none() {
            return Err(TokenError::MissingClaim(name));
        }
    }
    if !claims
        .get("events")
        .and_then(Value::as_object)
        .is_some_and(|events| {
            events
                .get(BACKCHANNEL_LOGOUT_EVENT)
                .is_some_and(Value::is_object)
        })
    {
        return Err(TokenError::Event);
    }
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    let logout = Logout {
        sid: text("sid"),
        sub: text("sub"),
    };
    if logout.sid.is_none() && logout.sub.is_none() {
        return Err(TokenError::MissingClaim("sid"));
    }
    Ok(logout)
}

/// The checks both tokens share: the header's `typ` (by `typ_ok`) and `alg`, the key named by
/// `kid`, the signature, `iss`, `aud`, `exp`.
fn verify(
    token: &str,
    jwks: &Value,
    who: Audience<'_>,
    typ_ok: impl Fn(Option<&str>) -> bool,
) -> Result<serde_json::Map<String, Value>, TokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
    if header.alg != Algorithm::ES256 {
        return Err(TokenError::Algorithm);
    }
    if !typ_ok(header.typ.as_deref()) {
        return Err(TokenError::Type);
    }
    let key = key_for(jwks, header.kid.as_deref()).ok_or(TokenError::UnknownKey)?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[who.issuer]);
    validation.set_audience(&[who.client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.leeway = 5;
    let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key, &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => TokenError::Signature,
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::InvalidIssuer => TokenError::Issuer,
            ErrorKind::InvalidAudience => TokenError::Audience,
            ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
                "iss" => TokenError::MissingClaim("iss"),
                "aud" => TokenError::MissingClaim("aud"),
                _ => TokenError::MissingClaim("exp"),
            },
            ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Json(_) => {
                TokenError::Malformed
            }
            _ => TokenError::Claims,
        })?;
    Ok(data.claims)
}

/// The P-256 key of `jwks` with this `kid` (or the only one, when the token names none).
fn key_for(jwks: &Value, kid: Option<&str>) -> Option<DecodingKey> {
    let keys: Vec<&Value> = jwks
        .get("keys")?
        .as_array()?
        .iter()
        .filter(|k| {
            k.get("kty").and_then(Value::as_str) == Some("EC")
                && k.get("crv").and_then(Value::as_str) == Some("P-256")
                && k.get("use").is_none_or(|u| u == "sig")
        })
        .collect();
    let key = match kid {
        Some(kid) => keys
            .into_iter()
            .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid))?,
        None => match keys.as_slice() {
            [only] => *only,
            _ => return None,
        },
    };
    DecodingKey::from_ec_components(key.get("x")?.as_str()?, key.get("y")?.as_str()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::sample_app::keys::EsKey;
    use serde_json::json;

    const ISSUER: &str = "http://127.0.0.1:8080";
    const CLIENT: &str = "esd-pension-web";
    const WHO: Audience<'static> = Audience {
        issuer: ISSUER,
        client_id: CLIENT,
    };

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn logout_claims() -> Value {
        json!({
            "iss": ISSUER, "aud": CLIENT, "iat": now(), "exp": now() + 120,
            "jti": "a1b2c3", "sid": "session-1", "sub": "pairwise-1",
            "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        })
    }

    fn signed(key: &EsKey, typ: &str, claims: &Value) -> String {
        key.sign(json!({"typ": typ, "kid": key.thumbprint()}), claims)
            .unwrap()
    }

    #[test]
    fn a_logout_token_from_the_broker_names_the_session_to_forget() {
        services::jose::install_crypto_provider();
        let broker = EsKey::generate().unwrap();
        let jwks = broker.registration_jwks();
        let token = signed(&broker, "logout+jwt", &logout_claims());
        assert_eq!(
            verify_logout_token(&token, &jwks, WHO),
            Ok(Logout {
                sid: Some("session-1".into()),
                sub: Some("pairwise-1".into())
            })
        );
    }

    #[test]
    fn a_logout_token_is_refused_with_a_nonce_another_issuer_or_another_type() {
        services::jose::install_crypto_provider();
        let broker = EsKey::generate().unwrap();
        let jwks = broker.registration_jwks();
        let refused = |typ: &str, claims: Value| {
            verify_logout_token(&signed(&broker, typ, &claims), &jwks, WHO).unwrap_err()
        };
        let mut with_nonce = logout_claims();
        with_nonce["nonce"] = "n".into();
        assert_eq!(refused("logout+jwt", with_nonce), TokenError::LogoutNonce);
        let mut other_issuer = logout_claims();
        other_issuer["iss"] = "http://127.0.0.1:9999".into();
        assert_eq!(refused("logout+jwt", other_issuer), TokenError::Issuer);
        assert_eq!(refused("JWT", logout_claims()), TokenError::Type);
        let mut other_audience = logout_claims();
        other_audience["aud"] = "someone-else".into();
        assert_eq!(refused("logout+jwt", other_audience), TokenError::Audience);
        let mut no_event = logout_claims();
        no_event["events"] = json!({"http://example.com/other": {}});
        assert_eq!(refused("logout+jwt", no_event), TokenError::Event);
        let mut nobody = logout_claims();
        nobody.as_object_mut().unwrap().remove("sid");
        nobody.as_object_mut().unwrap().remove("sub");
        assert_eq!(
            refused("logout+jwt", nobody),
            TokenError::MissingClaim("sid")
        );
        let mut expired = logout_claims();
        expired["exp"] = (now() - 600).into();
        assert_eq!(refused("logout+jwt", expired), TokenError::Expired);
        // Signed by someone else with the broker's `kid`.
        let forger = EsKey::generate().unwrap();
        let forged = forger
            .sign(
                json!({"typ": "logout+jwt", "kid": broker.thumbprint()}),
                &logout_claims(),
            )
            .unwrap();
        assert_eq!(
            verify_logout_token(&forged, &jwks, WHO),
            Err(TokenError::Signature)
        );
        let unknown = signed(&forger, "logout+jwt", &logout_claims());
        assert_eq!(
            verify_logout_token(&unknown, &jwks, WHO),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn an_id_token_must_carry_the_nonce_sent() {
        services::jose::install_crypto_provider();
        let broker = EsKey::generate().unwrap();
        let jwks = broker.registration_jwks();
        let claims = json!({
            "iss": ISSUER, "aud": CLIENT, "iat": now(), "exp": now() + 300,
            "sub": "pairwise-1", "sid": "session-1", "nonce": "n-1",
            "acr": "urn:tell-us-once:loa:2",
        });
        let token = signed(&broker, "JWT", &claims);
        let id = verify_id_token(&token, &jwks, WHO, "n-1").unwrap();
        assert_eq!(id.sub, "pairwise-1");
        assert_eq!(id.sid.as_deref(), Some("session-1"));
        assert_eq!(id.acr.as_deref(), Some("urn:tell-us-once:loa:2"));
        assert_eq!(
            verify_id_token(&token, &jwks, WHO, "n-2").unwrap_err(),
            TokenError::Nonce
        );
        // A logout token is not an ID token, even with the right claims.
        let logout_typed = signed(&broker, "logout+jwt", &claims);
        assert_eq!(
            verify_id_token(&logout_typed, &jwks, WHO, "n-1").unwrap_err(),
            TokenError::Type
        );
        let other_client = Audience {
            client_id: "another-client",
            ..WHO
        };
        assert_eq!(
            verify_id_token(&token, &jwks, other_client, "n-1").unwrap_err(),
            TokenError::Audience
        );
    }
}
