//! A department's web application built on openid-client 6, unchanged (`tests/peers/rp.mjs`),
//! signs Alice in through the broker as its OpenID Provider: discovery, PAR with
//! `private_key_jwt`, PKCE S256 and DPoP, the `claims` parameter with `verified_claims` and a
//! purpose; Alice signs in at her bank (oidc-provider) and approves on the consent screen in
//! headless Chromium, in English and then in French through the language toggle, with axe-core
//! on both; the ID token (signature checked by openid-client against the broker's JWKS) and
//! userinfo carry her pairwise subject and exactly the consented attributes; the refresh token
//! rotates and dies with the consent withdrawn at /me/consents; signing out at the broker sends a
//! back-channel logout token the application verifies with jose; RP-initiated logout returns to
//! the application.

use std::time::{Duration, Instant};

use broker_e2e::citizens::pairwise_subject;
use broker_e2e::departments::keygen;
use broker_e2e::peers::{Peer, peers_dir, run_node};
use broker_e2e::signin::*;
use broker_e2e::{browser_client, temp_dir};
use serde_json::{Value, json};

use super::kit::*;

const CLIENT_ID: &str = "esd-forms";

/// rp.mjs's control API.
struct Rp {
    peer: Peer,
    http: reqwest::Client,
}

impl Rp {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.peer.url)
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn status(&self) -> Value {
        broker_e2e::get_json(&self.http, &self.url("/control/status")).await
    }

    async fn flow(&self, state: &str) -> Value {
        self.status().await["flows"][state].clone()
    }

    /// Waits until `ready` holds of the status, or panics with it after `within`.
    async fn until(&self, within: Duration, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let status = self.status().await;
            if ready(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{what} within {within:?}: {status}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn request(scope: &str, prompt: Option<&str>) -> Value {
    let mut r = json!({"scope": scope, "claims": claims_request(&ASKED), "purpose": PENSION});
    if let Some(p) = prompt {
        r["prompt"] = json!(p);
    }
    r
}

/// The one `verified_claims` element: Alice's three facts from her bank sign-in, at LoA 2.
fn assert_verified_claims(where_: &str, value: &Value) {
    let list = value["verified_claims"]
        .as_array()
        .unwrap_or_else(|| panic!("{where_}: no verified_claims array: {value}"));
    assert_eq!(list.len(), 1, "{where_}: one source: {value}");
    let v = &list[0];
    assert_eq!(
        v["claims"],
        json!({"given_name": "Alice", "family_name": "Tremblay", "birthdate": "1958-04-12"}),
        "{where_}: exactly the consented attributes"
    );
    let verification = &v["verification"];
    assert_eq!(verification["trust_framework"], "pctf", "{where_}: {v}");
    assert_eq!(verification["assurance_level"], "loa2", "{where_}: {v}");
    let record = &verification["evidence"][0]["record"];
    assert_eq!(
        verification["evidence"][0]["type"], "electronic_record",
        "{v}"
    );
    assert_eq!(record["type"], "credential_provider", "{where_}: {v}");
    assert_eq!(
        record["source"]["name"], "bank",
        "{where_}: the source: {v}"
    );
}

/// Follows a reqwest browser from `start` — redirects anywhere, the broker's consent screen
/// (approved) and logout confirmation, the upstream provider's logout confirmation — until it is
/// sent to `stop_at`; that answer.
async fn follow(op_base: &str, client: &reqwest::Client, start: &str, stop_at: &str) -> Page {
    let mut page = get(client, start).await;
    for _ in 0..16 {
        match (page.status, page.location.clone()) {
            (300..=399, Some(next)) if next.starts_with(stop_at) => return page,
            (300..=399, Some(next)) => page = get(client, &next).await,
            (200, _) if page.body.contains("<form") => {
                let (action, mut fields) = if page.url.starts_with(op_base) {
                    oauth2_form(&page.body)
                } else {
                    post_form_fields(&page.body, "")
                };
                if page.body.contains("name=\"decision\"") {
                    fields.push(("decision".into(), "approve".into()));
                }
                let pairs: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let target = url::Url::parse(&page.url).unwrap().join(&action).unwrap();
                page = post_form(client, target.as_str(), &pairs).await;
            }
            _ => return page,
        }
    }
    panic!("ran in circles from {start}: {page:?}");
}

#[tokio::test]
async fn openid_client_signs_alice_in_with_her_consent_in_english_and_french_and_logs_out() {
    let world = World::start(WorldSpec {
        oidc: vec![("bank", "urn:test:loa2", Value::Null)],
        ..Default::default()
    })
    .await;
    let broker = &world.broker;
    let http = reqwest::Client::new();
    // Alice is who the bank signs in (its login form is tested in signin::browser).
    let res = http
        .post(world.upstream("bank").control("/control/default-login"))
        .json(&json!({"account": "alice"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());

    // The department's application: its key, its server, its registration.
    let keys = temp_dir();
    let (key_file, mut jwk) = keygen(keys.path(), "ES256", "esd-forms-key");
    jwk["kid"] = json!("esd-forms-key");
    let peer = Peer::start(
        "rp.mjs",
        &[
            "--issuer".into(),
            broker.base.clone(),
            "--client-id".into(),
            CLIENT_ID.into(),
            "--key".into(),
            key_file,
        ],
    );
    let rp = Rp {
        peer,
        http: http.clone(),
    };
    register_web_client(
        &world.conn,
        ESD,
        CLIENT_ID,
        &jwk,
        &[&rp.url("/callback")],
        &[&rp.url("/logged-out")],
        Some(&rp.url("/backchannel-logout")),
    )
    .await;
    broker
        .registry_caught_up(&world.conn, Duration::from_secs(10))
        .await;

    // Discovery says what the application relies on (the whole document is fapi's tests').
    let meta = broker_e2e::get_json(&http, &broker.url("/.well-known/openid-configuration")).await;
    assert_eq!(
        meta["require_pushed_authorization_requests"], true,
        "{meta}"
    );
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(meta["response_types_supported"], json!(["code"]));
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        json!(["private_key_jwt"])
    );
    assert_eq!(meta["backchannel_logout_supported"], true);
    assert_eq!(meta["claims_parameter_supported"], true);
    assert_eq!(meta["verified_claims_supported"], true);
    assert!(
        meta["dpop_signing_alg_values_supported"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("ES256"))),
        "{meta}"
    );
    for member in [
        "pushed_authorization_request_endpoint",
        "end_session_endpoint",
    ] {
        assert!(
            meta[member]
                .as_str()
                .is_some_and(|u| u.starts_with(&broker.base)),
            "{member}"
        );
    }

    // In Chromium: a once consent in English (signing in at the bank first), then an ongoing
    // one in French.
    let shots = temp_dir();
    let args = json!({
        "broker": broker.base,
        "rp": rp.peer.url,
        "providerLink": "Sign in with bank (EN)",
        "account": "alice",
        "flows": [
            {"label": "once (en)", "lang": "en", "request": request("openid", None)},
            {"label": "ongoing (fr)", "lang": "fr",
             "request": request("openid offline_access", Some("consent"))},
        ],
    });
    let scenario = peers_dir().join("scenarios/provider/consent.mjs");
    let (ok, out, err) = run_node(
        "run-browser-script.mjs",
        &[
            scenario.display().to_string(),
            args.to_string(),
            "--screenshot-dir".into(),
            shots.path().display().to_string(),
        ],
        None,
    );
    assert!(
        ok,
        "scenario failed: {out}\n{err}\nrp: {}\nbroker log:\n{}",
        rp.status().await,
        broker.log_text()
    );
    let result: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();

    // The consent screen: no axe violation, in either language; it says who asks, why, on what
    // legal basis, and what.
    let screens = result["screens"].as_array().unwrap();
    assert_eq!(screens.len(), 2, "{result}");
    for s in screens {
        assert_eq!(
            s["violations"],
            json!([]),
            "axe-core on {}: {s}",
            s["label"]
        );
    }
    let (en, fr) = (&screens[0], &screens[1]);
    assert_eq!(
        (en["lang"].as_str(), fr["lang"].as_str()),
        (Some("en"), Some("fr"))
    );
    let en_text = en["text"].as_str().unwrap();
    for expected in [
        "Employment and Social Development",
        "To enrol you in the Old Age Security pension",
        "Old Age Security Act",
        "Given name",
        "Family name",
        "Date of birth",
        // Each value's source by its name in the page's language, not its id.
        "Confirmed by your sign-in partner (bank (EN))",
    ] {
        assert!(
            en_text.contains(expected),
            "`{expected}` on the screen: {en_text}"
        );
    }
    let fr_text = fr["text"].as_str().unwrap();
    for expected in [
        "Emploi et Développement social",
        "Pour vous inscrire à la pension de la Sécurité de la vieillesse",
        "Loi sur la sécurité de la vieillesse",
        "Prénom",
        "Nom de famille",
        "Date de naissance",
        "Confirmé par votre partenaire de connexion (bank (FR))",
    ] {
        assert!(
            fr_text.contains(expected),
            "`{expected}` à l'écran : {fr_text}"
        );
    }
    assert_ne!(
        en["approveLabel"], fr["approveLabel"],
        "the buttons are translated"
    );

    // What the application got, flow by flow.
    let flows = result["flows"].as_array().unwrap();
    let once_state = flows[0]["state"].as_str().unwrap().to_owned();
    let ongoing_state = flows[1]["state"].as_str().unwrap().to_owned();
    let citizen = single_citizen(&world).await;
    let sub = pairwise_subject(&world.conn, broker, ESD_SECTOR, &citizen).await;
    for state in [&once_state, &ongoing_state] {
        let flow = rp.flow(state).await;
        assert_eq!(flow["status"], "done", "{flow}");
        assert_eq!(flow["callback"]["iss"], broker.base, "RFC 9207: {flow}");
        assert_eq!(flow["callback"]["state"], *state, "{flow}");
        // openid-client lowercases token_type (RFC 6749 §5.1: case-insensitive); the raw
        // answer's `DPoP` is checked in provider::attacks.
        assert_eq!(flow["tokens"]["token_type"], "dpop", "{flow}");
        assert_eq!(flow["idTokenHeader"]["alg"], "ES256", "{flow}");
        let id = &flow["claims"];
        assert_eq!(id["iss"], broker.base, "{id}");
        assert_eq!(id["aud"], CLIENT_ID, "{id}");
        assert_eq!(
            id["sub"], sub,
            "the pairwise subject of the attribute API: {id}"
        );
        assert_eq!(id["nonce"], flow["request"]["nonce"], "{id}");
        assert!(id["auth_time"].is_i64() && id["sid"].is_string(), "{id}");
        assert!(
            id["acr"].as_str().is_some_and(|a| a.ends_with('2')),
            "LoA 2: {id}"
        );
        assert_verified_claims("id_token", id);
        let info = &flow["userinfo"];
        assert_eq!(info["sub"], sub, "{info}");
        assert_verified_claims("userinfo", info);
    }
    let once = rp.flow(&once_state).await;
    assert!(
        once["tokens"]["refresh_token"].is_null(),
        "a once consent gets no refresh token: {once}"
    );

    // The ongoing consent's refresh token rotates, and the new access token works.
    let refreshed = rp
        .post("/control/refresh", json!({"state": ongoing_state}))
        .await;
    assert_eq!(refreshed["ok"], true, "{refreshed}");
    let rotated = refreshed["tokens"]["refresh_token"].as_str().unwrap();
    assert_ne!(rotated, refreshed["used"].as_str().unwrap(), "rotated");
    let info = rp
        .post("/control/userinfo", json!({"state": ongoing_state}))
        .await;
    assert_eq!(info["ok"], true, "{info}");
    assert_eq!(info["userinfo"]["sub"], sub);

    // Alice withdraws the ongoing consent at /me/consents: the refresh token dies with it.
    let session = result["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "tuo_session")
        .expect("the browser's session")["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let jar_url = url::Url::parse(&broker.base).unwrap();
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    jar.add_cookie_str(&format!("tuo_session={session}; Path=/"), &jar_url);
    let alice = no_redirects(Some(jar));
    let ongoing = services::consents::for_citizen(&world.conn, &citizen)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.mode() == consent::Mode::Ongoing && c.department() == ESD)
        .expect("the ongoing consent is in the ledger");
    let revoke = format!("/me/consents/{}/revoke", ongoing.id());
    let page = get(&alice, &broker.url(&revoke)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let done = post_form(
        &alice,
        &broker.url(&revoke),
        &[("csrf_token", &csrf_token(&page.body))],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    // The access token still in the application's hands releases nothing any more: values
    // leave only under a consent that is live now.
    let after = rp
        .post("/control/userinfo", json!({"state": ongoing_state}))
        .await;
    assert!(
        after["ok"] == false || after["userinfo"]["verified_claims"].is_null(),
        "nothing released after the withdrawal: {after}"
    );
    let refused = rp
        .post("/control/refresh", json!({"state": ongoing_state}))
        .await;
    assert_eq!(refused["ok"], false, "{refused}");
    assert_eq!(refused["error"], "invalid_grant", "{refused}");
    assert_eq!(refused["status"], 400, "{refused}");

    // Alice signs out at the broker: the application gets a back-channel logout token for her
    // session, which jose verified (typ logout+jwt, the broker's key, issuer, audience).
    let me = get(&alice, &broker.url("/me")).await;
    let out = post_form(
        &alice,
        &broker.url("/signout"),
        &[("csrf_token", &csrf_token(&me.body))],
    )
    .await;
    assert_eq!(out.status, 303, "{}", out.body);
    let sid = once["claims"]["sid"].clone();
    let status = rp
        .until(Duration::from_secs(10), "a back-channel logout", |s| {
            s["logouts"]
                .as_array()
                .is_some_and(|l| l.iter().any(|t| t["claims"]["sid"] == sid))
        })
        .await;
    for token in status["logouts"].as_array().unwrap() {
        assert_eq!(token["valid"], true, "every logout token verifies: {token}");
        assert_eq!(token["header"]["typ"], "logout+jwt", "{token}");
        assert_eq!(token["claims"]["aud"], CLIENT_ID, "{token}");
        assert_eq!(token["claims"]["sub"], sub, "{token}");
        assert!(token["claims"]["nonce"].is_null(), "{token}");
    }
    assert_ne!(
        get(&alice, &broker.url("/me")).await.status,
        200,
        "signed out"
    );

    // RP-initiated logout: Alice signs in again, the application signs her in, then sends her
    // to the broker's end-session endpoint; she comes back to the application with its state.
    let again = browser_client();
    let page = sign_in(&again, broker, &start_path("bank", "alice")).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let pushed = rp
        .post("/control/authorize", request("openid", Some("consent")))
        .await;
    let landed = follow(
        &broker.base,
        &again,
        pushed["url"].as_str().unwrap(),
        &rp.url("/"),
    )
    .await;
    let callback = landed.location.clone().expect("back to the application");
    assert!(callback.starts_with(&rp.url("/callback")), "{callback}");
    assert_eq!(get(&again, &callback).await.status, 200);
    let state = pushed["state"].as_str().unwrap();
    assert_eq!(rp.flow(state).await["status"], "done");
    let logout = rp
        .post("/control/logout-url", json!({"state": state}))
        .await;
    let back = follow(
        &broker.base,
        &again,
        logout["url"].as_str().unwrap(),
        &rp.url("/"),
    )
    .await;
    let to = back.location.clone().expect("back to the application");
    assert!(to.starts_with(&rp.url("/logged-out")), "{back:?}");
    assert_eq!(
        query_param(&to, "state").as_deref(),
        logout["state"].as_str()
    );
    assert_eq!(get(&again, &to).await.status, 200);
    assert_ne!(
        get(&again, &broker.url("/me")).await.status,
        200,
        "the broker's session ended"
    );
}

async fn single_citizen(world: &World) -> String {
    use sea_orm::ConnectionTrait;
    let backend = world.conn.get_database_backend();
    let rows = world
        .conn
        .query_all_raw(sea_orm::Statement::from_string(
            backend,
            "SELECT citizen_id FROM identity_links",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "one citizen signed in");
    rows[0].try_get::<String>("", "citizen_id").unwrap()
}
