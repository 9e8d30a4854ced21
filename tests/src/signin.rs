//! Sign-in worlds for the end-to-end tests: real OpenID providers (`provider.mjs`, i.e.
//! oidc-provider) and deliberately broken ones (`hostile-provider.mjs`) registered with a broker
//! whose configuration names them, a browser-like client that follows each hop, and counts of what
//! the database holds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

use crate::peers::Peer;
use crate::{Broker, BrokerEnv, TestDb, browser_client, free_port, temp_dir};

/// The client id every test provider registers for the broker.
pub const CLIENT_ID: &str = "tuo-broker";

/// Accounts of the oidc-provider instances (`sub` = the account id).
pub fn accounts(acr: &str) -> Value {
    let alice = json!({
        "given_name": "Alice",
        "family_name": "Tremblay",
        "birthdate": "1958-04-12",
        "email": "alice@example.org",
        "email_verified": true,
        "address": {"street_address": "123 Rue Principale", "locality": "Gatineau", "region": "QC",
            "postal_code": "J8X 1A1", "country": "CA"},
        "phone_number": "+1 819 555 0100",
        "acr": acr,
    });
    let mut twin = alice.clone();
    twin["acr"] = json!(acr);
    json!({
        "alice": alice,
        // Same name, birthdate and email as Alice, another person as far as anyone can prove.
        "alice-twin": twin,
        "bob": {"given_name": "Bob", "family_name": "Singh", "birthdate": "1990-11-02",
            "email": "bob@example.org", "acr": acr},
        "olivier": {"given_name": "Olivier", "family_name": "Officer", "acr": acr},
    })
}

/// An upstream provider started for one test.
pub struct Upstream {
    pub id: String,
    pub peer: Peer,
    pub issuer: String,
    pub secret: String,
    /// TOML lines for the broker's `[[providers]]` entry beyond the common ones.
    pub extra_toml: String,
    pub files: PathBuf,
}

impl Upstream {
    pub fn control(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

fn random_secret() -> String {
    uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string()
}

fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

/// Starts `provider.mjs` (oidc-provider) with the broker at `broker_base` as its one client.
/// `client` adds client metadata (e.g. `token_endpoint_auth_method`, `jwks`).
pub fn start_oidc(
    dir: &Path,
    id: &str,
    broker_base: &str,
    acr: &str,
    client: Value,
    port: Option<u16>,
) -> Upstream {
    let files = dir.join(id);
    std::fs::create_dir_all(&files).unwrap();
    let secret = random_secret();
    let mut registration = json!({
        "client_id": CLIENT_ID,
        "client_secret": secret,
        "redirect_uris": [format!("{broker_base}/signin/callback")],
        "post_logout_redirect_uris": [format!("{broker_base}/signout/done")],
    });
    if let (Some(r), Some(extra)) = (registration.as_object_mut(), client.as_object()) {
        for (k, v) in extra {
            r.insert(k.clone(), v.clone());
        }
    }
    write_json(&files.join("clients.json"), &json!([registration]));
    write_json(&files.join("accounts.json"), &accounts(acr));
    let mut args = vec![
        "--clients".to_owned(),
        files.join("clients.json").display().to_string(),
        "--accounts".to_owned(),
        files.join("accounts.json").display().to_string(),
    ];
    if let Some(port) = port {
        args.push("--issuer".into());
        args.push(format!("http://127.0.0.1:{port}"));
    }
    let peer = Peer::start("provider.mjs", &args);
    Upstream {
        id: id.to_owned(),
        issuer: peer.url.clone(),
        peer,
        secret,
        extra_toml: format!("acr_loa = {{ \"{acr}\" = {} }}\n", loa_of(acr)),
        files,
    }
}

fn loa_of(acr: &str) -> u8 {
    acr.chars()
        .last()
        .and_then(|c| c.to_digit(10))
        .map_or(1, |d| d as u8)
}

/// Starts `hostile-provider.mjs` with the broker registered; `other_issuer` is what its
/// `wrong-iss` and `iss-mixup` scenarios claim to be.
pub fn start_hostile(
    dir: &Path,
    id: &str,
    broker_base: &str,
    other_issuer: Option<&str>,
) -> Upstream {
    let files = dir.join(id);
    std::fs::create_dir_all(&files).unwrap();
    let secret = random_secret();
    write_json(
        &files.join("clients.json"),
        &json!([{
            "client_id": CLIENT_ID,
            "client_secret": secret,
            "redirect_uris": [format!("{broker_base}/signin/callback")],
        }]),
    );
    let mut args = vec![
        "--clients".to_owned(),
        files.join("clients.json").display().to_string(),
    ];
    if let Some(other) = other_issuer {
        args.push("--other-issuer".into());
        args.push(other.into());
    }
    let peer = Peer::start("hostile-provider.mjs", &args);
    Upstream {
        id: id.to_owned(),
        issuer: peer.url.clone(),
        peer,
        secret,
        extra_toml: "acr_loa = { \"urn:example:loa:2\" = 2 }\n".into(),
        files,
    }
}

/// The broker's `[[providers]]` entry for an upstream.
pub fn provider_toml(u: &Upstream) -> String {
    format!(
        "[[providers]]\nid = \"{id}\"\nname_en = \"{id} (EN)\"\nname_fr = \"{id} (FR)\"\n\
         issuer = \"{issuer}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{secret}\"\n{extra}\n",
        id = u.id,
        issuer = u.issuer,
        secret = u.secret,
        extra = u.extra_toml,
    )
}

/// A broker, its database and the providers it trusts.
pub struct World {
    pub db: TestDb,
    pub broker: Broker,
    pub upstreams: Vec<Upstream>,
    pub conn: DatabaseConnection,
    pub dir: tempfile::TempDir,
}

/// What a world is made of.
#[derive(Default)]
pub struct WorldSpec {
    /// oidc-provider instances: (id, acr, extra client metadata).
    pub oidc: Vec<(&'static str, &'static str, Value)>,
    /// hostile-provider instances: ids; the first one's `other_issuer` is the second's issuer.
    pub hostile: Vec<&'static str>,
    /// Raw TOML added to the broker's configuration (sections, officers, other providers).
    pub toml: String,
    /// Per-upstream TOML to add to its `[[providers]]` entry, by id.
    pub provider_extra: Vec<(&'static str, String)>,
}

impl World {
    pub async fn start(spec: WorldSpec) -> World {
        let db = TestDb::new().await.unwrap();
        let dir = temp_dir();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut upstreams = Vec::new();
        for (id, acr, client) in spec.oidc {
            upstreams.push(start_oidc(dir.path(), id, &base, acr, client, None));
        }
        let mut hostile_ids = spec.hostile.into_iter();
        if let Some(first) = hostile_ids.next() {
            let rest: Vec<Upstream> = hostile_ids
                .map(|id| start_hostile(dir.path(), id, &base, None))
                .collect();
            let other = rest.first().map(|u| u.issuer.clone());
            upstreams.push(start_hostile(dir.path(), first, &base, other.as_deref()));
            upstreams.extend(rest);
        }
        let mut toml = String::new();
        for u in &mut upstreams {
            if let Some((_, extra)) = spec.provider_extra.iter().find(|(id, _)| *id == u.id) {
                u.extra_toml.push_str(extra);
            }
            toml.push_str(&provider_toml(u));
        }
        toml.push_str(&spec.toml);
        let broker = start_broker(&db, dir.path(), port, &toml).await;
        let conn = Database::connect(db.url()).await.unwrap();
        World {
            db,
            broker,
            upstreams,
            conn,
            dir,
        }
    }

    pub fn upstream(&self, id: &str) -> &Upstream {
        self.upstreams.iter().find(|u| u.id == id).unwrap()
    }

    /// (citizens, identity links, sessions) rows.
    pub async fn counts(&self) -> (i64, i64, i64) {
        (
            count(&self.conn, "citizens").await,
            count(&self.conn, "identity_links").await,
            count(&self.conn, "sessions").await,
        )
    }

    /// The audit log's actions, oldest first.
    pub async fn audit_actions(&self) -> Vec<String> {
        self.audit_column("action").await
    }

    /// The audit log's outcomes, oldest first.
    pub async fn audit_outcomes(&self) -> Vec<String> {
        self.audit_column("outcome").await
    }

    async fn audit_column(&self, column: &str) -> Vec<String> {
        crate::audit_settled(&self.conn).await;
        let backend = self.conn.get_database_backend();
        self.conn
            .query_all_raw(Statement::from_string(
                backend,
                format!("SELECT {column} AS v FROM audit_records ORDER BY seq"),
            ))
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.try_get::<String>("", "v").unwrap())
            .collect()
    }
}

/// Writes the configuration and starts `broker serve` on `port`.
pub async fn start_broker(db: &TestDb, dir: &Path, port: u16, toml: &str) -> Broker {
    let data_dir = dir.join("broker-data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let config = dir.join("broker.toml");
    std::fs::write(&config, toml).unwrap();
    let config = config.display().to_string();
    let mut broker = Broker::spawn_on(
        port,
        db.url(),
        &data_dir,
        BrokerEnv::default(),
        &["--config", &config, "serve"],
    );
    broker.wait_ready(Duration::from_secs(60)).await;
    broker
}

pub async fn count(conn: &DatabaseConnection, table: &str) -> i64 {
    let backend = conn.get_database_backend();
    let row = conn
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// One HTTP response, read whole.
#[derive(Debug, Clone)]
pub struct Page {
    pub url: String,
    pub status: u16,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Page {
    pub fn sets_session_cookie(&self) -> bool {
        self.set_cookies
            .iter()
            .any(|c| c.starts_with("tuo_session=") && !c.starts_with("tuo_session=;"))
    }
}

/// A GET as a browser would send it (HTML wanted), without following redirects.
pub async fn get(client: &reqwest::Client, url: &str) -> Page {
    read(
        url,
        client
            .get(url)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// A form POST as a browser would send it.
pub async fn post_form(client: &reqwest::Client, url: &str, fields: &[(&str, &str)]) -> Page {
    read(
        url,
        client
            .post(url)
            .header("accept", "text/html")
            .form(fields)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn read(url: &str, res: reqwest::Response) -> Page {
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(|l| {
            url::Url::parse(url)
                .and_then(|u| u.join(l))
                .map(|u| u.to_string())
                .unwrap_or_else(|_| l.to_owned())
        });
    let set_cookies = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let body = unescape(&res.text().await.unwrap_or_default());
    Page {
        url: url.to_owned(),
        status,
        location,
        set_cookies,
        body,
    }
}

/// Undoes minijinja's HTML escaping (it writes `/` as `&#x2f;`), so tests read text as shown.
pub fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Follows redirects from `start` until the browser is about to load the broker's callback;
/// returns that callback URL, or the page where the journey stopped instead.
pub async fn to_callback(
    client: &reqwest::Client,
    broker: &Broker,
    start: &str,
) -> Result<String, Page> {
    let callback = broker.url("/signin/callback");
    let mut url = start.to_owned();
    for _ in 0..20 {
        if url.starts_with(&callback) {
            return Ok(url);
        }
        let page = get(client, &url).await;
        match (page.status, &page.location) {
            (300..=399, Some(next)) => url = next.clone(),
            _ => return Err(page),
        }
    }
    panic!("too many redirects from {start}");
}

/// A whole sign-in: start at `start` (a broker path), follow the provider's redirects, load the
/// callback. Returns the callback's response.
pub async fn sign_in(client: &reqwest::Client, broker: &Broker, start: &str) -> Page {
    match to_callback(client, broker, &broker.url(start)).await {
        Ok(callback) => get(client, &callback).await,
        Err(page) => page,
    }
}

/// The citizen sign-in path at `provider` as `who` (a `login_hint`).
pub fn start_path(provider: &str, who: &str) -> String {
    format!("/signin/with/{provider}?login_hint={who}")
}

/// The CSRF token in a page's forms.
pub fn csrf_token(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let i = html.find(marker).expect("a form with a CSRF token") + marker.len();
    html[i..].split('"').next().unwrap().to_owned()
}

/// Whether `/me` opens with this client's cookies (a live citizen session).
pub async fn has_citizen_session(client: &reqwest::Client, broker: &Broker) -> bool {
    get(client, &broker.url("/me")).await.status == 200
}

/// Parses a query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Replaces (or removes, with `None`) a query parameter.
pub fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut q = u.query_pairs_mut();
        q.clear();
        for (k, v) in &pairs {
            q.append_pair(k, v);
        }
        if let Some(v) = value {
            q.append_pair(name, v);
        }
    }
    u.to_string()
}

/// The `broker demo` process with its development providers, on `port`, `port + 1`, `port + 2`.
pub struct Demo {
    pub broker: Broker,
    pub dir: tempfile::TempDir,
}

/// A port such that it and the next five are free (the demo's providers, development receiver,
/// sample department application and mail catcher take those).
pub fn three_free_ports() -> u16 {
    for _ in 0..50 {
        let port = free_port();
        if port < 65000
            && (1..=5).all(|i| std::net::TcpListener::bind(("127.0.0.1", port + i)).is_ok())
        {
            return port;
        }
    }
    panic!("no six consecutive free ports");
}

/// The development provider's persona page → approve as `persona` → the broker's callback.
pub async fn choose_persona(client: &reqwest::Client, provider_page: &Page, persona: &str) -> Page {
    assert!(
        provider_page
            .body
            .contains("DEVELOPMENT PROVIDER — NOT FOR PRODUCTION"),
        "{}",
        provider_page.body
    );
    let marker = "name=\"interaction\" value=\"";
    let i = provider_page.body.find(marker).unwrap() + marker.len();
    let interaction = provider_page.body[i..].split('"').next().unwrap();
    let base = url::Url::parse(&provider_page.url).unwrap();
    let decide = base.join("/authorize/decide").unwrap();
    post_form(
        client,
        decide.as_str(),
        &[
            ("interaction", interaction),
            ("persona", persona),
            ("action", "approve"),
        ],
    )
    .await
}

/// Signs in at a demo development provider as `persona` (`officer`: at the officer sign-in);
/// returns the browser (with its session cookie) and the broker's answer to the callback.
pub async fn demo_sign_in(
    broker: &Broker,
    provider: &str,
    persona: &str,
    officer: bool,
) -> (reqwest::Client, Page) {
    let client = browser_client();
    let path = if officer {
        "/officer/signin/with/"
    } else {
        "/signin/with/"
    };
    let start = get(&client, &broker.url(&format!("{path}{provider}"))).await;
    let persona_page = get(&client, start.location.as_ref().unwrap()).await;
    let back = choose_persona(&client, &persona_page, persona).await;
    let landed = get(&client, back.location.as_ref().unwrap()).await;
    (client, landed)
}

impl Demo {
    /// The first line the demo printed that starts with `prefix` (trimmed), waiting for it.
    pub async fn printed_line(&self, prefix: &str) -> String {
        let out = self
            .broker
            .data_dir
            .join(format!("broker-{}.out", self.broker.port));
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            if let Some(line) = text.lines().map(str::trim).find(|l| l.starts_with(prefix)) {
                return line.to_owned();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the demo did not print `{prefix}`: {text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn start() -> Demo {
        let dir = temp_dir();
        let port = three_free_ports();
        let data_dir = dir.path().join("demo");
        let data = data_dir.display().to_string();
        let port_text = port.to_string();
        // `broker demo` sets its own bind address, public URL and database; the harness's
        // BROKER_* settings are overridden by it.
        let unused_db = format!("sqlite://{}/unused.db?mode=rwc", dir.path().display());
        let mut broker = Broker::spawn_on(
            port,
            &unused_db,
            dir.path(),
            BrokerEnv::default(),
            &["demo", "--port", &port_text, "--data-dir", &data],
        );
        broker.wait_ready(Duration::from_secs(60)).await;
        Demo { broker, dir }
    }
}
