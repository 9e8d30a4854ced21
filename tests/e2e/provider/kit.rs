//! What the provider tests share: a broker with a department web application registered (its
//! key held here, so any request at all can be built), a citizen with facts and a live session,
//! the endpoints read from discovery, and the pieces of a FAPI 2.0 client written by hand — PKCE,
//! DPoP proofs (ES256 with ring), client assertions, the consent screen's form — so the attack
//! catalogue can bend each one.

use std::time::Duration;

use broker_e2e::release::{FactSpec, RustClient, World, b64};
use broker_e2e::signin::unescape;
use broker_e2e::{Broker, BrokerEnv, free_port};
use ring::digest::{SHA256, digest};
use ring::rand::SystemRandom;
use ring::signature::{self as sig, KeyPair};
use serde_json::{Value, json};
use services::departments::{self, Client, ClientKeys};

pub const ESD: &str = "employment-social-development";
pub const ESD_SECTOR: &str = "esd.gc.example";
pub const PENSION: &str = "pension-enrolment";
/// What the department's application asks for by default (all granted by
/// `esd-identity-pension` under consent, at LoA 2).
pub const ASKED: [&str; 3] = ["given_name", "family_name", "birthdate"];
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The `claims` parameter asking `attributes` as `verified_claims`, in the userinfo response and
/// in the ID token, with their trust framework, assurance level and evidence (the source).
pub fn claims_request(attributes: &[&str]) -> Value {
    let claims: serde_json::Map<String, Value> = attributes
        .iter()
        .map(|a| ((*a).to_owned(), Value::Null))
        .collect();
    let verified = json!({
        "verification": {
            "trust_framework": null,
            "assurance_level": null,
            "evidence": [{"type": {"value": "electronic_record"}}],
        },
        "claims": claims,
    });
    json!({"userinfo": {"verified_claims": verified}, "id_token": {"verified_claims": verified}})
}

// ---- keys, proofs, PKCE ----------------------------------------------------------------------

/// An ES256 key held here: a DPoP key, or any JWS signer a test needs.
pub struct Es256Key {
    pkcs8: Vec<u8>,
    /// The public JWK (`kty`, `crv`, `x`, `y`).
    pub jwk: Value,
}

impl Es256Key {
    pub fn generate() -> Es256Key {
        let rng = SystemRandom::new();
        let pkcs8 = sig::EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap()
            .as_ref()
            .to_vec();
        let pair =
            sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
                .unwrap();
        let p = pair.public_key().as_ref();
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(&p[1..33]), "y": b64(&p[33..65])});
        Es256Key { pkcs8, jwk }
    }

    /// The RFC 7638 SHA-256 thumbprint (what `dpop_jkt` and `cnf.jkt` hold).
    pub fn thumbprint(&self) -> String {
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            self.jwk["x"].as_str().unwrap(),
            self.jwk["y"].as_str().unwrap()
        );
        b64(digest(&SHA256, canonical.as_bytes()))
    }

    /// `header.claims.signature`, signed ES256 whatever the header says.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(serde_json::to_vec(header).unwrap()),
            b64(serde_json::to_vec(claims).unwrap())
        );
        let rng = SystemRandom::new();
        let pair =
            sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &self.pkcs8, &rng)
                .unwrap();
        let signature = pair.sign(&rng, input.as_bytes()).unwrap();
        format!("{input}.{}", b64(signature.as_ref()))
    }

    /// A good DPoP proof (RFC 9449 §4.2) for `htm` `htu`, with `ath` when a token is given.
    pub fn proof(&self, htm: &str, htu: &str, access_token: Option<&str>) -> String {
        self.proof_with(htm, htu, access_token, |_, _| {})
    }

    /// A proof whose header and claims `tweak` may change before it is signed.
    pub fn proof_with(
        &self,
        htm: &str,
        htu: &str,
        access_token: Option<&str>,
        tweak: impl FnOnce(&mut Value, &mut Value),
    ) -> String {
        let mut header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk});
        let mut claims = json!({
            "jti": uuid::Uuid::new_v4().to_string(),
            "htm": htm,
            "htu": htu,
            "iat": now_secs(),
        });
        if let Some(token) = access_token {
            claims["ath"] = json!(b64(digest(&SHA256, token.as_bytes())));
        }
        tweak(&mut header, &mut claims);
        self.sign(&header, &claims)
    }
}

pub fn now_secs() -> i64 {
    store::now_ms() / 1000
}

/// A PKCE pair (RFC 7636, S256).
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Pkce {
        let verifier = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let challenge = b64(digest(&SHA256, verifier.as_bytes()));
        Pkce {
            verifier,
            challenge,
        }
    }
}

// ---- what the broker answered ----------------------------------------------------------------

/// One answer, read whole: status, JSON body (Null when not JSON), Location, WWW-Authenticate.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub location: Option<String>,
    pub www_authenticate: Option<String>,
    pub cache_control: Option<String>,
}

impl Answer {
    pub async fn read(res: reqwest::Response) -> Answer {
        let status = res.status().as_u16();
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let location = header("location");
        let www_authenticate = header("www-authenticate");
        let cache_control = header("cache-control");
        let url = res.url().clone();
        let text = res.text().await.unwrap_or_default();
        Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            location: location.map(|l| url.join(&l).map(|u| u.to_string()).unwrap_or(l)),
            www_authenticate,
            cache_control,
            text,
        }
    }

    /// The `error` member of a JSON body.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }

    /// A query parameter of the Location.
    pub fn location_param(&self, name: &str) -> Option<String> {
        self.location
            .as_deref()
            .and_then(|l| broker_e2e::signin::query_param(l, name))
    }
}

/// What one authorization code flow needs on the client's side.
pub struct Request {
    /// The PAR body's authorization parameters (no client authentication).
    pub params: Vec<(String, String)>,
    pub pkce: Pkce,
    pub dpop: Es256Key,
    pub state: String,
    pub nonce: String,
}

impl Request {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets (or, with `None`, removes) a parameter.
    pub fn set(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        self.params.retain(|(k, _)| k != name);
        if let Some(v) = value {
            self.params.push((name.to_owned(), v.to_owned()));
        }
        self
    }
}

/// The tokens of one flow.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: String,
    pub body: Value,
}

// ---- the world -------------------------------------------------------------------------------

/// A broker with the department's web application (`esd-web`, key held here) registered, and
/// Alice: facts asserted by her bank at LoA 2 and a live session in `browser`.
pub struct Op {
    pub world: World,
    pub broker: Broker,
    pub app: RustClient,
    pub redirect_uri: String,
    pub post_logout_uri: String,
    pub citizen: String,
    /// Alice's browser: a cookie jar holding her session; follows no redirect.
    pub browser: reqwest::Client,
    /// A client without cookies, following no redirect: the department's server.
    pub http: reqwest::Client,
    /// The discovery document.
    pub meta: Value,
}

/// Registers a web application client of `department` whose public key is `jwk`.
pub async fn register_web_client(
    conn: &sea_orm::DatabaseConnection,
    department: &str,
    client_id: &str,
    jwk: &Value,
    redirect_uris: &[&str],
    post_logout_redirect_uris: &[&str],
    backchannel_logout_uri: Option<&str>,
) {
    departments::upsert_client(
        conn,
        &Client {
            client_id: client_id.to_owned(),
            department_id: department.to_owned(),
            keys: ClientKeys::Inline(json!({ "keys": [jwk] })),
            scopes: vec!["attributes:read".to_owned()],
            redirect_uris: redirect_uris.iter().map(|s| (*s).to_owned()).collect(),
            post_logout_redirect_uris: post_logout_redirect_uris
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            backchannel_logout_uri: backchannel_logout_uri.map(str::to_owned),
        },
    )
    .await
    .unwrap();
}

pub fn no_redirects(cookies: Option<std::sync::Arc<reqwest::cookie::Jar>>) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30));
    match cookies {
        Some(jar) => builder.cookie_provider(jar),
        None => builder,
    }
    .build()
    .unwrap()
}

impl Op {
    pub async fn start() -> Op {
        Self::start_with(BrokerEnv::default()).await
    }

    pub async fn start_with(env: BrokerEnv) -> Op {
        let world = World::new().await;
        let citizen = world
            .citizen(&[
                FactSpec::provider("given_name", json!("Alice"), 2),
                FactSpec::provider("family_name", json!("Tremblay"), 2),
                FactSpec::provider("birthdate", json!("1958-04-12"), 2),
            ])
            .await;
        let app = RustClient::generate(ESD, "esd-web");
        // Nothing listens there: the tests read the Location the broker answers with.
        let app_base = format!("http://127.0.0.1:{}", free_port());
        let redirect_uri = format!("{app_base}/callback");
        let post_logout_uri = format!("{app_base}/signed-out");
        let mut jwk = app.public_jwk.clone();
        jwk["kid"] = json!(app.kid);
        register_web_client(
            &world.conn,
            ESD,
            &app.client_id,
            &jwk,
            &[&redirect_uri],
            &[&post_logout_uri],
            None,
        )
        .await;
        let broker = world.start_with(env).await;
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let browser = no_redirects(Some(jar.clone()));
        let http = no_redirects(None);
        let meta =
            broker_e2e::get_json(&http, &broker.url("/.well-known/openid-configuration")).await;
        let op = Op {
            world,
            broker,
            app,
            redirect_uri,
            post_logout_uri,
            citizen,
            browser,
            http,
            meta,
        };
        op.sign_in(&jar).await;
        op
    }

    /// Starts a session for Alice at LoA 2 in `browser`'s cookie jar.
    pub async fn sign_in(&self, jar: &reqwest::cookie::Jar) {
        let config = broker::config::Config {
            data_dir: self.broker.data_dir.clone(),
            ..broker::config::Config::default()
        };
        let (cookie, _) = services::sessions::start(
            &self.world.conn,
            &config.sessions,
            services::sessions::NewSession {
                citizen_id: Some(self.citizen.clone()),
                role: services::sessions::Role::Citizen,
                provider_id: None,
                loa: 2,
                id_token_hint: None,
            },
        )
        .await
        .unwrap();
        let url = url::Url::parse(self.issuer()).unwrap();
        jar.add_cookie_str(&format!("tuo_session={cookie}; Path=/"), &url);
    }

    pub fn issuer(&self) -> &str {
        &self.broker.base
    }

    /// An endpoint named in the discovery document.
    pub fn endpoint(&self, member: &str) -> String {
        self.meta[member]
            .as_str()
            .unwrap_or_else(|| panic!("discovery has no `{member}`: {}", self.meta))
            .to_owned()
    }

    /// A good client assertion of the application for the issuer.
    pub fn assertion(&self) -> String {
        self.app.assertion(self.issuer())
    }

    /// A good request: the default attributes under the pension purpose, once.
    pub fn request(&self) -> Request {
        self.request_for(&self.redirect_uri, "openid", &ASKED)
    }

    pub fn request_for(&self, redirect_uri: &str, scope: &str, attributes: &[&str]) -> Request {
        let pkce = Pkce::new();
        let state = uuid::Uuid::new_v4().simple().to_string();
        let nonce = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let mut params: Vec<(String, String)> = [
            ("client_id", self.app.client_id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", redirect_uri),
            ("scope", scope),
            ("state", state.as_str()),
            ("nonce", nonce.as_str()),
            ("code_challenge", pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        if !attributes.is_empty() {
            params.push(("claims".into(), claims_request(attributes).to_string()));
            params.push(("purpose".into(), PENSION.into()));
        }
        Request {
            params,
            pkce,
            dpop: Es256Key::generate(),
            state,
            nonce,
        }
    }

    /// `POST` the PAR endpoint with `form` as is and an optional DPoP header.
    pub async fn push_raw(&self, form: &[(String, String)], dpop: Option<String>) -> Answer {
        let mut req = self
            .http
            .post(self.endpoint("pushed_authorization_request_endpoint"))
            .form(form);
        if let Some(proof) = dpop {
            req = req.header("DPoP", proof);
        }
        Answer::read(req.send().await.unwrap()).await
    }

    /// The request's parameters with `assertion` as client authentication.
    pub fn with_assertion(&self, req: &Request, assertion: &str) -> Vec<(String, String)> {
        let mut form = req.params.clone();
        form.push(("client_assertion_type".into(), ASSERTION_TYPE.into()));
        form.push(("client_assertion".into(), assertion.into()));
        form
    }

    /// Pushes `req` with a fresh assertion and a DPoP proof of its key.
    pub async fn push(&self, req: &Request) -> Answer {
        let par = self.endpoint("pushed_authorization_request_endpoint");
        let proof = req.dpop.proof("POST", &par, None);
        self.push_raw(&self.with_assertion(req, &self.assertion()), Some(proof))
            .await
    }

    /// Pushes `req`, which must be accepted; its `request_uri`.
    pub async fn pushed(&self, req: &Request) -> String {
        let answer = self.push(req).await;
        assert_eq!(answer.status, 201, "PAR refused a good request: {answer:?}");
        // RFC 9126 §2.2, FAPI 2.0 §5.3.2.2: a urn, living under 600 seconds, never cached.
        let lifetime = answer.body["expires_in"].as_i64().unwrap_or_default();
        assert!((1..600).contains(&lifetime), "{answer:?}");
        assert_eq!(
            answer.cache_control.as_deref(),
            Some("no-store"),
            "{answer:?}"
        );
        let request_uri = answer.body["request_uri"].as_str().unwrap();
        assert!(
            request_uri.starts_with("urn:ietf:params:oauth:request_uri:"),
            "{answer:?}"
        );
        request_uri.to_owned()
    }

    /// The browser's authorization URL for a pushed request.
    pub fn authorize_url(&self, request_uri: &str) -> String {
        let mut url = url::Url::parse(&self.endpoint("authorization_endpoint")).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", &self.app.client_id)
            .append_pair("request_uri", request_uri);
        url.to_string()
    }

    /// A browser of someone without a session (its own cookie jar, no redirects followed).
    pub fn stranger(&self) -> reqwest::Client {
        no_redirects(Some(std::sync::Arc::new(reqwest::cookie::Jar::default())))
    }

    /// A GET as a browser sends it.
    pub async fn browse(&self, browser: &reqwest::Client, url: &str) -> Answer {
        let req = browser.get(url).header("accept", "text/html");
        Answer::read(req.send().await.unwrap()).await
    }

    /// A form POST as a browser sends it.
    pub async fn browse_post(
        &self,
        browser: &reqwest::Client,
        url: &str,
        form: &[(String, String)],
    ) -> Answer {
        let req = browser.post(url).header("accept", "text/html").form(form);
        Answer::read(req.send().await.unwrap()).await
    }

    /// Follows the browser from `url` through the broker (its redirects, the consent screen
    /// answered with `decision`, a logout confirmation) until the broker sends it elsewhere or shows something else;
    /// that last answer.
    pub async fn journey(&self, browser: &reqwest::Client, url: &str, decision: &str) -> Answer {
        let mut answer = self.browse(browser, url).await;
        for _ in 0..10 {
            match (answer.status, answer.location.clone()) {
                (300..=399, Some(next)) if next.starts_with(self.issuer()) => {
                    answer = self.browse(browser, &next).await;
                }
                (200, _) if answer.text.contains("action=\"/oauth2/") => {
                    let (action, mut form) = oauth2_form(&answer.text);
                    if answer.text.contains("name=\"decision\"") {
                        form.push(("decision".into(), decision.into()));
                    }
                    answer = self
                        .browse_post(browser, &self.broker.url(&action), &form)
                        .await;
                }
                _ => return answer,
            }
        }
        panic!("the broker kept the browser for ten hops from {url}: {answer:?}");
    }

    /// Pushes `req`, authorizes it in Alice's browser, approves; the code, after checking the
    /// answer's `state` and `iss` (RFC 9207).
    pub async fn code(&self, req: &Request) -> String {
        let request_uri = self.pushed(req).await;
        let answer = self
            .journey(&self.browser, &self.authorize_url(&request_uri), "approve")
            .await;
        let location = answer
            .location
            .clone()
            .unwrap_or_else(|| panic!("no redirect to the application: {answer:?}"));
        assert!(
            location.starts_with(req.param("redirect_uri").unwrap()),
            "{location}"
        );
        assert_eq!(answer.location_param("state").as_deref(), Some(&*req.state));
        assert_eq!(answer.location_param("iss").as_deref(), Some(self.issuer()));
        answer
            .location_param("code")
            .unwrap_or_else(|| panic!("no code: {location}"))
    }

    /// `POST` the token endpoint with `form` and an optional DPoP header.
    pub async fn token_raw(&self, form: &[(String, String)], dpop: Option<String>) -> Answer {
        let mut req = self.http.post(self.endpoint("token_endpoint")).form(form);
        if let Some(proof) = dpop {
            req = req.header("DPoP", proof);
        }
        Answer::read(req.send().await.unwrap()).await
    }

    /// The authorization_code grant's form for `code` (with a fresh assertion).
    pub fn code_form(&self, req: &Request, code: &str) -> Vec<(String, String)> {
        vec![
            ("grant_type".into(), "authorization_code".into()),
            ("code".into(), code.into()),
            (
                "redirect_uri".into(),
                req.param("redirect_uri").unwrap().into(),
            ),
            ("code_verifier".into(), req.pkce.verifier.clone()),
            ("client_id".into(), self.app.client_id.clone()),
            ("client_assertion_type".into(), ASSERTION_TYPE.into()),
            ("client_assertion".into(), self.assertion()),
        ]
    }

    /// A DPoP proof of `key` for the token endpoint.
    pub fn token_proof(&self, key: &Es256Key) -> String {
        key.proof("POST", &self.endpoint("token_endpoint"), None)
    }

    /// Redeems `code` as a good client would.
    pub async fn redeem(&self, req: &Request, code: &str) -> Answer {
        self.token_raw(
            &self.code_form(req, code),
            Some(self.token_proof(&req.dpop)),
        )
        .await
    }

    /// A whole good flow for `req`: its tokens.
    pub async fn tokens(&self, req: &Request) -> Tokens {
        let code = self.code(req).await;
        let answer = self.redeem(req, &code).await;
        tokens_of(&answer)
    }

    /// The refresh_token grant with a fresh assertion and a proof of `key`.
    pub async fn refresh(&self, refresh_token: &str, key: &Es256Key) -> Answer {
        let form = vec![
            ("grant_type".into(), "refresh_token".into()),
            ("refresh_token".into(), refresh_token.into()),
            ("client_id".into(), self.app.client_id.clone()),
            ("client_assertion_type".into(), ASSERTION_TYPE.into()),
            ("client_assertion".into(), self.assertion()),
        ];
        self.token_raw(&form, Some(self.token_proof(key))).await
    }

    /// `GET` userinfo with `Authorization: <scheme> <token>` and an optional DPoP proof.
    pub async fn userinfo_raw(&self, scheme: &str, token: &str, proof: Option<String>) -> Answer {
        let mut req = self
            .http
            .get(self.endpoint("userinfo_endpoint"))
            .header("authorization", format!("{scheme} {token}"));
        if let Some(proof) = proof {
            req = req.header("DPoP", proof);
        }
        Answer::read(req.send().await.unwrap()).await
    }

    /// Userinfo as a good client asks it.
    pub async fn userinfo(&self, token: &str, key: &Es256Key) -> Answer {
        let proof = key.proof("GET", &self.endpoint("userinfo_endpoint"), Some(token));
        self.userinfo_raw("DPoP", token, Some(proof)).await
    }

    /// The consent ledger's row counts.
    pub async fn ledger(&self) -> services::consents::LedgerCounts {
        services::consents::counts(&self.world.conn).await.unwrap()
    }

    /// The `access-refused` records, oldest first.
    pub async fn refusals(&self) -> Vec<audit::Record> {
        self.world
            .audit()
            .await
            .into_iter()
            .filter(|r| r.action == audit::Action::AccessRefused)
            .collect()
    }
}

/// The tokens of a 200 token response (panics with the answer otherwise).
pub fn tokens_of(answer: &Answer) -> Tokens {
    assert_eq!(answer.status, 200, "token request refused: {answer:?}");
    // RFC 6749 §5.1: tokens are never cached.
    assert_eq!(
        answer.cache_control.as_deref(),
        Some("no-store"),
        "{answer:?}"
    );
    let b = &answer.body;
    Tokens {
        access_token: b["access_token"].as_str().unwrap().to_owned(),
        refresh_token: b["refresh_token"].as_str().map(str::to_owned),
        id_token: b["id_token"].as_str().unwrap_or_default().to_owned(),
        body: b.clone(),
    }
}

/// The first form posting to `/oauth2/…` (the consent screen, a logout confirmation): its action,
/// its hidden fields (the CSRF token among them) and, on a form without a `decision`, its first
/// named button.
pub fn oauth2_form(html: &str) -> (String, Vec<(String, String)>) {
    post_form_fields(html, "/oauth2/")
}

/// The first form whose action starts with `action_prefix`: its action, hidden fields and, on a
/// form without a `decision`, its first named button.
pub fn post_form_fields(html: &str, action_prefix: &str) -> (String, Vec<(String, String)>) {
    let start = html
        .find(&format!("action=\"{action_prefix}"))
        .unwrap_or_else(|| panic!("no form posting to {action_prefix}: {html}"));
    let form_start = html[..start].rfind("<form").unwrap();
    let form_end = start + html[start..].find("</form>").unwrap();
    let form = &html[form_start..form_end];
    let action = attribute(&form[form.find("action=").unwrap()..], "action").unwrap();
    let mut fields = Vec::new();
    let mut button = None;
    for tag in form.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or_default();
        let Some(name) = attribute(tag, "name") else {
            continue;
        };
        if tag.starts_with("input") && attribute(tag, "type").as_deref() == Some("hidden") {
            fields.push((name, attribute(tag, "value").unwrap_or_default()));
        } else if tag.starts_with("button") && button.is_none() && name != "decision" {
            button = Some((name, attribute(tag, "value").unwrap_or_default()));
        }
    }
    fields.extend(button);
    (action, fields)
}

/// The value of `name="…"` in one tag, unescaped.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!("{name}=\"");
    let i = tag.find(&marker)? + marker.len();
    let value = &tag[i..i + tag[i..].find('"')?];
    Some(unescape(value))
}
