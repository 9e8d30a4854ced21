//! A development credential provider: a real (small) OpenID provider that `broker demo` starts on
//! its own port, so a newcomer can sign in with no outside service. The broker reaches it over
//! HTTP exactly like a production provider: discovery, JWKS, authorization code flow with PKCE
//! (S256 required), client authentication, a signed ID token (ES256, its own generated key),
//! userinfo, end-session, and `iss` in the authorization response (RFC 9207).
//!
//! INVARIANT: only `broker demo` starts it. Its pages say "DEVELOPMENT PROVIDER — NOT FOR
//! PRODUCTION"; anyone may pick any persona, which is the point of a demo and why it must never
//! be configured as a real provider.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde::Deserialize;
use serde_json::{Value, json};

use services::jose::b64;
use services::keys::SigningKeys;

/// A person one can sign in as.
#[derive(Debug, Clone)]
pub struct Persona {
    /// What the chooser posts (and a `login_hint` preselects).
    pub login: String,
    /// The subject identifier at this provider.
    pub sub: String,
    pub label_en: String,
    pub label_fr: String,
    /// Userinfo claims (without `sub`).
    pub claims: Value,
}

/// One development provider.
#[derive(Debug, Clone)]
pub struct DevProviderConfig {
    pub title_en: String,
    pub title_fr: String,
    pub port: u16,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub acr: String,
    pub personas: Vec<Persona>,
    /// Where its signing key is generated.
    pub key_dir: PathBuf,
}

/// A running development provider.
#[derive(Debug)]
pub struct RunningDevProvider {
    pub issuer: String,
    pub handle: actix_web::dev::ServerHandle,
}

const CODE_TTL: Duration = Duration::from_secs(60);
const INTERACTION_TTL: Duration = Duration::from_secs(600);
const TOKEN_TTL_SECS: i64 = 300;

struct Pending {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: String,
    hint: Option<String>,
    created: Instant,
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    nonce: Option<String>,
    code_challenge: String,
    persona: usize,
    created: Instant,
}

struct DevState {
    config: DevProviderConfig,
    issuer: String,
    keys: SigningKeys,
    pending: Mutex<HashMap<String, Pending>>,
    codes: Mutex<HashMap<String, Grant>>,
    tokens: Mutex<HashMap<String, (usize, Instant)>>,
}

type Data = web::Data<Arc<DevState>>;

fn random() -> String {
    let mut bytes = [0u8; 32];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    b64(bytes)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Digests compared, so the time taken says nothing about the expected secret.
fn same_secret(a: &str, b: &str) -> bool {
    let d = |s: &str| ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    d(a).as_ref() == d(b).as_ref()
}

/// Starts the provider on 127.0.0.1 at its port; it runs until the process ends or it is stopped.
pub async fn start(config: DevProviderConfig) -> Result<RunningDevProvider, String> {
    let keys = SigningKeys::open_dir(&config.key_dir, 0).map_err(|e| e.to_string())?;
    let issuer = format!("http://127.0.0.1:{}", config.port);
    let port = config.port;
    let state = Arc::new(DevState {
        config,
        issuer: issuer.clone(),
        keys,
        pending: Mutex::new(HashMap::new()),
        codes: Mutex::new(HashMap::new()),
        tokens: Mutex::new(HashMap::new()),
    });
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/", web::get().to(root))
            .route(
                "/.well-known/openid-configuration",
                web::get().to(discovery),
            )
            .route("/jwks", web::get().to(jwks))
            .route("/authorize", web::get().to(authorize))
            .route("/authorize/decide", web::post().to(decide))
            .route("/token", web::post().to(token))
            .route("/userinfo", web::get().to(userinfo))
            .route("/userinfo", web::post().to(userinfo))
            .route("/session/end", web::get().to(end_session))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", port))
    .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok(RunningDevProvider { issuer, handle })
}

/// Says what this is to whoever opens it in a browser.
async fn root(state: Data) -> HttpResponse {
    let (en, fr, iss) = (
        escape(&state.config.title_en),
        escape(&state.config.title_fr),
        escape(&state.issuer),
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{en} — development provider</title></head><body>\
             <h1>{en}: development provider — NOT FOR PRODUCTION</h1>\
             <p>A stand-in for a citizen's credential provider, started by <code>broker demo</code>. \
             It signs in made-up personas for the demo only; it checks no identity.</p>\
             <p>Sign in through the broker, not here. Its OpenID Connect metadata: \
             <a href=\"{iss}/.well-known/openid-configuration\">{iss}/.well-known/openid-configuration</a>.</p>\
             <div lang=\"fr\"><h2>{fr} : fournisseur de développement — PAS POUR LA PRODUCTION</h2>\
             <p>Une doublure d’un fournisseur d’identité, lancée par <code>broker demo</code>, qui connecte \
             des personnages fictifs pour la démonstration seulement. Connectez-vous par le courtier, pas ici.</p></div>\
             </body></html>"
        ))
}

async fn discovery(state: Data) -> HttpResponse {
    let iss = &state.issuer;
    HttpResponse::Ok().json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "userinfo_endpoint": format!("{iss}/userinfo"),
        "jwks_uri": format!("{iss}/jwks"),
        "end_session_endpoint": format!("{iss}/session/end"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "scopes_supported": ["openid", "profile", "email", "address", "phone"],
        "claims_supported": ["sub", "acr", "given_name", "family_name", "birthdate", "email",
            "email_verified", "address", "phone_number", "locale", "preferred_language"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "acr_values_supported": [state.config.acr],
        "ui_locales_supported": ["en", "fr"],
        "authorization_response_iss_parameter_supported": true,
    }))
}

async fn jwks(state: Data) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "keys": state.keys.published() }))
}

fn page(state: &DevState, body: &str) -> HttpResponse {
    let c = &state.config;
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title_en} — DEVELOPMENT PROVIDER</title>
<style>
body {{ font-family: sans-serif; margin: 0; color: #1a1a1a; background: #fff; }}
.banner {{ background: #7a0000; color: #fff; padding: 1rem; font-weight: bold; }}
main {{ max-width: 44rem; margin: 0 auto; padding: 1rem; }}
fieldset {{ border: 1px solid #555; padding: 1rem; }}
label {{ display: block; margin: .5rem 0; }}
button {{ font-size: 1rem; padding: .5rem 1rem; margin: 1rem .5rem 0 0; }}
:focus {{ outline: 3px solid #0535d2; outline-offset: 2px; }}
</style></head>
<body>
<div class="banner" role="note"><p>DEVELOPMENT PROVIDER — NOT FOR PRODUCTION</p><p lang="fr">FOURNISSEUR DE DÉVELOPPEMENT — NE PAS UTILISER EN PRODUCTION</p></div>
<main>
<h1>{title_en} / <span lang="fr">{title_fr}</span></h1>
{body}
</main>
</body></html>"#,
        title_en = escape(&c.title_en),
        title_fr = escape(&c.title_fr),
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html)
}

fn bad_request(state: &DevState, why: &str) -> HttpResponse {
    let mut res = page(
        state,
        &format!(
            "<p>This authorization request cannot be honoured: {}.</p>",
            escape(why)
        ),
    );
    *res.status_mut() = actix_web::http::StatusCode::BAD_REQUEST;
    res
}

/// Sends the browser back to the client with `params`, `state` and `iss`.
fn back_to_client(
    state: &DevState,
    redirect_uri: &str,
    params: &[(&str, &str)],
    client_state: Option<&str>,
) -> HttpResponse {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return bad_request(state, "the redirect URI is not a URL");
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
        if let Some(s) = client_state {
            q.append_pair("state", s);
        }
        q.append_pair("iss", &state.issuer);
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

async fn authorize(state: Data, query: web::Query<HashMap<String, String>>) -> HttpResponse {
    let q = &*query;
    let get = |k: &str| q.get(k).map(String::as_str);
    let c = &state.config;
    // Client and redirect URI first: until both are known-good, errors are shown, not redirected.
    if get("client_id") != Some(c.client_id.as_str()) {
        return bad_request(&state, "unknown client_id");
    }
    let Some(redirect_uri) = get("redirect_uri").filter(|r| c.redirect_uris.iter().any(|u| u == r))
    else {
        return bad_request(&state, "redirect_uri is not registered for this client");
    };
    let client_state = get("state");
    let refuse = |why: &str| {
        back_to_client(
            &state,
            redirect_uri,
            &[("error", "invalid_request"), ("error_description", why)],
            client_state,
        )
    };
    if get("response_type") != Some("code") {
        return refuse("response_type must be code");
    }
    if !get("scope").is_some_and(|s| s.split(' ').any(|x| x == "openid")) {
        return refuse("scope must include openid");
    }
    let Some(challenge) = get("code_challenge").filter(|c| c.len() >= 43 && c.len() <= 128) else {
        return refuse("PKCE is required: send an S256 code_challenge");
    };
    if get("code_challenge_method") != Some("S256") {
        return refuse("code_challenge_method must be S256");
    }
    let id = random();
    let pending = Pending {
        client_id: c.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        state: client_state.map(str::to_owned),
        nonce: get("nonce").map(str::to_owned),
        code_challenge: challenge.to_owned(),
        hint: get("login_hint").map(str::to_owned),
        created: Instant::now(),
    };
    let hint = pending.hint.clone();
    if let Ok(mut map) = state.pending.lock() {
        map.retain(|_, p| p.created.elapsed() < INTERACTION_TTL);
        map.insert(id.clone(), pending);
    }
    let mut personas = String::new();
    for (i, p) in c.personas.iter().enumerate() {
        let checked = match &hint {
            Some(h) => h == &p.login,
            None => i == 0,
        };
        personas.push_str(&format!(
            r#"<label><input type="radio" name="persona" value="{login}"{checked}> {en} / <span lang="fr">{fr}</span></label>"#,
            login = escape(&p.login),
            checked = if checked { " checked" } else { "" },
            en = escape(&p.label_en),
            fr = escape(&p.label_fr),
        ));
    }
    page(
        &state,
        &format!(
            r#"<p>Choose who to sign in as. No password: this provider is for demonstrations and development only.</p>
<p lang="fr">Choisissez sous quelle identité vous connecter. Aucun mot de passe : ce fournisseur sert uniquement aux démonstrations et au développement.</p>
<form method="post" action="/authorize/decide">
<input type="hidden" name="interaction" value="{id}">
<fieldset><legend>Demo persona / <span lang="fr">Personnage de démonstration</span></legend>
{personas}
</fieldset>
<button type="submit" name="action" value="approve">Sign in / <span lang="fr">Se connecter</span></button>
<button type="submit" name="action" value="cancel">Cancel / <span lang="fr">Annuler</span></button>
</form>"#
        ),
    )
}

#[derive(Debug, Deserialize)]
struct Decision {
    interaction: String,
    persona: Option<String>,
    action: String,
}

async fn decide(state: Data, form: web::Form<Decision>) -> HttpResponse {
    let Some(p) = state
        .pending
        .lock()
        .ok()
        .and_then(|mut m| m.remove(&form.interaction))
        .filter(|p| p.created.elapsed() < INTERACTION_TTL)
    else {
        return bad_request(
            &state,
            "this sign-in page expired; start again from the service",
        );
    };
    if form.action != "approve" {
        return back_to_client(
            &state,
            &p.redirect_uri,
            &[("error", "access_denied")],
            p.state.as_deref(),
        );
    }
    let Some(persona) = state
        .config
        .personas
        .iter()
        .position(|x| Some(&x.login) == form.persona.as_ref())
    else {
        return bad_request(&state, "no such persona");
    };
    let code = random();
    if let Ok(mut codes) = state.codes.lock() {
        codes.retain(|_, g| g.created.elapsed() < CODE_TTL);
        codes.insert(
            code.clone(),
            Grant {
                client_id: p.client_id,
                redirect_uri: p.redirect_uri.clone(),
                nonce: p.nonce,
                code_challenge: p.code_challenge,
                persona,
                created: Instant::now(),
            },
        );
    }
    back_to_client(
        &state,
        &p.redirect_uri,
        &[("code", &code)],
        p.state.as_deref(),
    )
}

fn token_error(status: u16, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .insert_header((header::CACHE_CONTROL, "no-store"))
    .json(json!({ "error": error, "error_description": description }))
}

/// `client_secret_basic` or `client_secret_post`: the client id, if the secret is right.
fn authenticate(
    state: &DevState,
    req: &HttpRequest,
    form: &HashMap<String, String>,
) -> Option<String> {
    let c = &state.config;
    let (id, secret) = match req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        Some(basic) => {
            use base64::Engine;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(basic.trim())
                .ok()?;
            let text = String::from_utf8(decoded).ok()?;
            let (id, secret) = text.split_once(':')?;
            let unform = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            (unform(id)?, unform(secret)?)
        }
        None => (
            form.get("client_id")?.clone(),
            form.get("client_secret")?.clone(),
        ),
    };
    (id == c.client_id && same_secret(&secret, &c.client_secret)).then_some(id)
}

async fn token(
    state: Data,
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let Some(client_id) = authenticate(&state, &req, &form) else {
        return token_error(401, "invalid_client", "client authentication failed");
    };
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return token_error(400, "unsupported_grant_type", "only authorization_code");
    }
    let grant = form
        .get("code")
        .and_then(|code| state.codes.lock().ok().and_then(|mut m| m.remove(code)));
    let Some(grant) = grant.filter(|g| g.created.elapsed() < CODE_TTL) else {
        return token_error(400, "invalid_grant", "unknown, used or expired code");
    };
    if grant.client_id != client_id || form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return token_error(
            400,
            "invalid_grant",
            "code issued to another client or redirect_uri",
        );
    }
    let verifier = form.get("code_verifier").map(String::as_str).unwrap_or("");
    let computed = b64(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    if verifier.len() < 43 || !same_secret(&computed, &grant.code_challenge) {
        return token_error(
            400,
            "invalid_grant",
            "code_verifier does not match code_challenge",
        );
    }
    let Some(persona) = state.config.personas.get(grant.persona) else {
        return token_error(400, "invalid_grant", "no such persona");
    };
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": state.issuer,
        "sub": persona.sub,
        "aud": client_id,
        "iat": now,
        "exp": now + TOKEN_TTL_SECS,
        "auth_time": now,
        "acr": state.config.acr,
        "amr": ["pwd"],
    });
    if let Some(nonce) = grant.nonce {
        claims["nonce"] = Value::String(nonce);
    }
    let Ok(id_token) = state.keys.sign(Some("JWT"), &claims) else {
        return token_error(500, "server_error", "cannot sign the ID token");
    };
    let access_token = random();
    if let Ok(mut tokens) = state.tokens.lock() {
        tokens.retain(|_, (_, t)| t.elapsed() < Duration::from_secs(TOKEN_TTL_SECS as u64));
        tokens.insert(access_token.clone(), (grant.persona, Instant::now()));
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL_SECS,
            "id_token": id_token,
            "scope": "openid profile email address phone",
        }))
}

async fn userinfo(state: Data, req: HttpRequest) -> HttpResponse {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let persona = bearer.and_then(|t| {
        state
            .tokens
            .lock()
            .ok()
            .and_then(|m| m.get(t).copied())
            .filter(|(_, at)| at.elapsed() < Duration::from_secs(TOKEN_TTL_SECS as u64))
            .and_then(|(i, _)| state.config.personas.get(i).cloned())
    });
    let Some(persona) = persona else {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\""))
            .finish();
    };
    let mut claims = persona.claims.as_object().cloned().unwrap_or_default();
    claims.insert("sub".into(), Value::String(persona.sub));
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Value::Object(claims))
}

/// RP-initiated logout: back to a registered `post_logout_redirect_uri` (with `state`), else a page.
async fn end_session(state: Data, query: web::Query<HashMap<String, String>>) -> HttpResponse {
    // The hint must be one of ours when given (its signature, not its freshness, is checked).
    let hint_ok = query.get("id_token_hint").is_none_or(|t| {
        state.keys.verify(t).is_ok_and(|(_, payload)| {
            serde_json::from_slice::<Value>(&payload)
                .ok()
                .and_then(|c| c.get("iss").and_then(Value::as_str).map(str::to_owned))
                .is_some_and(|iss| iss == state.issuer)
        })
    });
    let target = query.get("post_logout_redirect_uri").filter(|u| {
        state
            .config
            .post_logout_redirect_uris
            .iter()
            .any(|r| r == *u)
    });
    match target {
        Some(uri) if hint_ok => {
            let mut url = match url::Url::parse(uri) {
                Ok(u) => u,
                Err(_) => return bad_request(&state, "the post-logout redirect URI is not a URL"),
            };
            if let Some(s) = query.get("state") {
                url.query_pairs_mut().append_pair("state", s);
            }
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, url.to_string()))
                .finish()
        }
        _ => page(
            &state,
            r#"<p>You are signed out of the development provider.</p><p lang="fr">Vous êtes déconnecté du fournisseur de développement.</p>"#,
        ),
    }
}
