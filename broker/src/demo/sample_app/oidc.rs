//! The sample application as an OAuth client of the broker, over HTTP like any department's web
//! application: discovery, the pushed authorization request, the code exchange, userinfo and the
//! JWK Set. Every call to the token endpoint and userinfo carries a DPoP proof (retried once with
//! the server's nonce when asked, RFC 9449 §8–9) and every call that authenticates the client a
//! fresh `private_key_jwt` assertion. Nothing here logs; errors name the step, never a token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::keys::{EsKey, KeyError, pkce_challenge, random_token};
use super::tokens::{self, Audience, IdToken, TokenError};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What the application asks for: Alice's name, birth date and address as verified claims, with
/// each value's trust framework, level of assurance and evidence (what the form shows under each
/// field), at level 2 or above.
pub fn claims_request() -> Value {
    serde_json::json!({
        "userinfo": {"verified_claims": {
            "verification": {
                "trust_framework": null,
                "assurance_level": null,
                "evidence": [{"type": {"value": "electronic_record"}}],
            },
            "claims": {"given_name": null, "family_name": null, "birthdate": null, "address": null},
        }},
        "id_token": {"acr": {"values": ["urn:tell-us-once:loa:2"]}},
    })
}

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("the broker's {0} could not be reached")]
    Unreachable(&'static str),
    #[error("the broker's {step} refused the request (`{code}`)")]
    Refused { step: &'static str, code: String },
    #[error("the broker's {0} answered something this application cannot read")]
    Unreadable(&'static str),
    #[error("the discovery document names another issuer")]
    Issuer,
    #[error("the token endpoint did not issue a dpop-bound access token")]
    TokenType,
    #[error("userinfo is about another subject than the id token")]
    Subject,
    #[error("a token from the broker was refused: {0}")]
    Token(#[from] TokenError),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// The members of the broker's discovery document the application uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub pushed_authorization_request_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

/// An authorization request on its way: what the callback needs to finish it.
#[derive(Clone)]
pub struct Pending {
    pub discovery: Discovery,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

/// What a finished sign-in gives: the verified ID token (kept for `id_token_hint` at logout) and
/// userinfo's answer.
pub struct SignedIn {
    pub id_token: String,
    pub claims: IdToken,
    pub userinfo: Value,
}

/// Which server gave a DPoP nonce: the authorization server's and the resource's are separate
/// (RFC 9449 §8, §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum NonceFrom {
    TokenEndpoint,
    Userinfo,
}

/// The client: its identity, keys, and the broker it talks to.
pub struct RelyingParty {
    pub issuer: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub client_key: EsKey,
    pub dpop_key: EsKey,
    http: reqwest::Client,
    nonces: Mutex<HashMap<NonceFrom, String>>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The OAuth error code of an error answer, kept only if it looks like one (it is shown on the
/// page).
fn error_code(body: &Value) -> String {
    body.get("error")
        .and_then(Value::as_str)
        .filter(|c| c.len() <= 64 && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .unwrap_or("unknown")
        .to_owned()
}

impl RelyingParty {
    pub fn new(
        issuer: String,
        client_id: String,
        redirect_uri: String,
        client_key: EsKey,
        dpop_key: EsKey,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            issuer,
            client_id,
            redirect_uri,
            client_key,
            dpop_key,
            http,
            nonces: Mutex::new(HashMap::new()),
        })
    }

    fn who(&self) -> Audience<'_> {
        Audience {
            issuer: &self.issuer,
            client_id: &self.client_id,
        }
    }

    async fn get_json(&self, step: &'static str, url: &str) -> Result<Value, FlowError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|_| FlowError::Unreachable(step))?;
        if !response.status().is_success() {
            return Err(FlowError::Unreadable(step));
        }
        response
            .json()
            .await
            .map_err(|_| FlowError::Unreadable(step))
    }

    /// The broker's discovery document, which must name the issuer it was fetched from
    /// (OpenID Connect Discovery 1.0 §4.3).
    pub async fn discover(&self) -> Result<Discovery, FlowError> {
        let step = "discovery document";
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let discovery: Discovery = serde_json::from_value(self.get_json(step, &url).await?)
            .map_err(|_| FlowError::Unreadable(step))?;
        if discovery.issuer != self.issuer {
            return Err(FlowError::Issuer);
        }
        Ok(discovery)
    }

    /// Pushes the authorization request (RFC 9126) and returns where to send the browser, with
    /// what the callback will need.
    pub async fn push_authorization_request(
        &self,
        ui_locale: &str,
    ) -> Result<(String, Pending), FlowError> {
        let step = "pushed authorization request endpoint";
        let discovery = self.discover().await?;
        let pending = Pending {
            discovery,
            state: random_token()?,
            nonce: random_token()?,
            verifier: random_token()?,
        };
        let endpoint = &pending.discovery.pushed_authorization_request_endpoint;
        let assertion = self
            .client_key
            .client_assertion(&self.client_id, &self.issuer, now())?;
        let form = [
            ("client_id", self.client_id.as_str()),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
            ("response_type", "code"),
            ("scope", "openid"),
            ("redirect_uri", &self.redirect_uri),
            ("state", &pending.state),
            ("nonce", &pending.nonce),
            ("code_challenge", &pkce_challenge(&pending.verifier)),
            ("code_challenge_method", "S256"),
            ("claims", &claims_request().to_string()),
            ("purpose", super::PURPOSE),
            ("dpop_jkt", &self.dpop_key.thumbprint()),
            ("ui_locales", ui_locale),
            // The demo's Alice already holds a consent for this purpose (seeded for the
            // attribute API's command), which would skip the consent screen; the sample is there
            // to show it. A department's own application leaves `prompt` out, so that a live
            // consent spares the citizen the screen.
            ("prompt", "consent"),
        ];
        let response = self
            .http
            .post(endpoint)
            .form(&form)
            .send()
            .await
            .map_err(|_| FlowError::Unreachable(step))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|_| FlowError::Unreadable(step))?;
        if status.as_u16() != 201 {
            return Err(FlowError::Refused {
                step,
                code: error_code(&body),
            });
        }
        let request_uri = body
            .get("request_uri")
            .and_then(Value::as_str)
            .ok_or(FlowError::Unreadable(step))?;
        let mut authorize = url::Url::parse(&pending.discovery.authorization_endpoint)
            .map_err(|_| FlowError::Unreadable("discovery document"))?;
        authorize
            .query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("request_uri", request_uri);
        Ok((authorize.into(), pending))
    }

    fn nonce(&self, from: NonceFrom) -> Option<String> {
        self.nonces.lock().ok()?.get(&from).cloned()
    }

    /// Keeps the nonce a response offers; says whether it is a new one.
    fn remember_nonce(&self, from: NonceFrom, response: &reqwest::Response) -> bool {
        let Some(nonce) = response
            .headers()
            .get("dpop-nonce")
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let Ok(mut nonces) = self.nonces.lock() else {
            return false;
        };
        nonces.insert(from, nonce.to_owned()).as_deref() != Some(nonce)
    }

    /// Exchanges the code (with the PKCE verifier, a DPoP proof and a client assertion), verifies
    /// the ID token, and reads userinfo with the DPoP-bound access token.
    pub async fn finish(&self, pending: &Pending, code: &str) -> Result<SignedIn, FlowError> {
        let step = "token endpoint";
        let endpoint = &pending.discovery.token_endpoint;
        let mut attempt = 0;
        let (status, body) = loop {
            attempt += 1;
            let assertion =
                self.client_key
                    .client_assertion(&self.client_id, &self.issuer, now())?;
            let nonce = self.nonce(NonceFrom::TokenEndpoint);
            let proof =
                self.dpop_key
                    .dpop_proof("POST", endpoint, None, nonce.as_deref(), now())?;
            let response = self
                .http
                .post(endpoint)
                .header("DPoP", proof)
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", &self.redirect_uri),
                    ("code_verifier", &pending.verifier),
                    ("client_id", &self.client_id),
                    ("client_assertion_type", ASSERTION_TYPE),
                    ("client_assertion", &assertion),
                ])
                .send()
                .await
                .map_err(|_| FlowError::Unreachable(step))?;
            let fresh_nonce = self.remember_nonce(NonceFrom::TokenEndpoint, &response);
            let status = response.status().as_u16();
            let body: Value = response
                .json()
                .await
                .map_err(|_| FlowError::Unreadable(step))?;
            // RFC 9449 §8: the server asks for its nonce; try once more with it.
            if status == 400 && error_code(&body) == "use_dpop_nonce" && fresh_nonce && attempt < 2
            {
                continue;
            }
            break (status, body);
        };
        if status != 200 {
            return Err(FlowError::Refused {
                step,
                code: error_code(&body),
            });
        }
        let text = |name: &str| body.get(name).and_then(Value::as_str);
        if !text("token_type").is_some_and(|t| t.eq_ignore_ascii_case("DPoP")) {
            return Err(FlowError::TokenType);
        }
        let access_token = text("access_token").ok_or(FlowError::Unreadable(step))?;
        let id_token = text("id_token").ok_or(FlowError::Unreadable(step))?;
        let jwks = self
            .get_json("key set", &pending.discovery.jwks_uri)
            .await?;
        let claims = tokens::verify_id_token(id_token, &jwks, self.who(), &pending.nonce)?;
        let userinfo = self
            .userinfo(&pending.discovery.userinfo_endpoint, access_token)
            .await?;
        // OIDC Core §5.3.2: userinfo's `sub` must be the ID token's.
        if userinfo.get("sub").and_then(Value::as_str) != Some(claims.sub.as_str()) {
            return Err(FlowError::Subject);
        }
        Ok(SignedIn {
            id_token: id_token.to_owned(),
            claims,
            userinfo,
        })
    }

    async fn userinfo(&self, endpoint: &str, access_token: &str) -> Result<Value, FlowError> {
        let step = "userinfo endpoint";
        let mut attempt = 0;
        loop {
            attempt += 1;
            let nonce = self.nonce(NonceFrom::Userinfo);
            let proof = self.dpop_key.dpop_proof(
                "GET",
                endpoint,
                Some(access_token),
                nonce.as_deref(),
                now(),
            )?;
            let response = self
                .http
                .get(endpoint)
                .header("Authorization", format!("DPoP {access_token}"))
                .header("DPoP", proof)
                .send()
                .await
                .map_err(|_| FlowError::Unreachable(step))?;
            let fresh_nonce = self.remember_nonce(NonceFrom::Userinfo, &response);
            let status = response.status().as_u16();
            // RFC 9449 §9: a resource asks for its nonce in `WWW-Authenticate`.
            let asks_nonce = response
                .headers()
                .get_all("www-authenticate")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.contains("use_dpop_nonce"));
            if status == 401 && asks_nonce && fresh_nonce && attempt < 2 {
                continue;
            }
            if status != 200 {
                return Err(FlowError::Refused {
                    step,
                    code: if asks_nonce {
                        "use_dpop_nonce".to_owned()
                    } else {
                        format!("http_{status}")
                    },
                });
            }
            return response
                .json()
                .await
                .map_err(|_| FlowError::Unreadable(step));
        }
    }

    /// Verifies a back-channel logout token against the broker's current key set.
    pub async fn verify_logout_token(&self, token: &str) -> Result<tokens::Logout, FlowError> {
        let discovery = self.discover().await?;
        let jwks = self.get_json("key set", &discovery.jwks_uri).await?;
        Ok(tokens::verify_logout_token(token, &jwks, self.who())?)
    }
}
