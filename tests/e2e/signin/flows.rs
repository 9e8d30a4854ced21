//! Sign-in through real OpenID providers (two oidc-provider instances with different issuers):
//! first sign-in, provenance, linking by proof only, unlinking, officers, sign-out with
//! RP-initiated logout, `private_key_jwt` with RS256 ID tokens, and provider key rotation.

use broker_e2e::signin::*;
use broker_e2e::*;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const BANK_ACR: &str = "urn:test:loa2";
const PROV_ACR: &str = "urn:test:loa3";

async fn two_providers(toml: &str) -> World {
    World::start(WorldSpec {
        oidc: vec![
            ("bank", BANK_ACR, Value::Null),
            ("prov", PROV_ACR, Value::Null),
        ],
        toml: toml.to_owned(),
        ..Default::default()
    })
    .await
}

async fn citizen_ids(world: &World) -> Vec<String> {
    let backend = world.conn.get_database_backend();
    world
        .conn
        .query_all_raw(sea_orm::Statement::from_string(
            backend,
            "SELECT citizen_id FROM identity_links ORDER BY created_at",
        ))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.try_get::<String>("", "citizen_id").unwrap())
        .collect()
}

#[tokio::test]
async fn a_first_sign_in_creates_the_citizen_link_and_session_and_shows_where_facts_came_from() {
    let world = two_providers("").await;
    let client = browser_client();
    let page = sign_in(&client, &world.broker, &start_path("bank", "alice")).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        page.location.as_deref(),
        Some(world.broker.url("/me").as_str())
    );
    let cookie = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("tuo_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert_eq!(world.counts().await, (1, 1, 1));

    let me = get(&client, &world.broker.url("/me")).await;
    assert_eq!(me.status, 200);
    assert!(me.body.contains("Hello, Alice Tremblay"), "{}", me.body);
    // The dashboard carries the consent summary (no requests yet for a new citizen).
    assert!(
        me.body.contains("consent-summary-heading")
            && me.body.contains("No request is waiting for your answer."),
        "{}",
        me.body
    );
    assert!(
        me.body
            .contains("signed in with bank (EN) (level of assurance 2)")
    );

    let info = get(&client, &world.broker.url("/me/information")).await;
    assert_eq!(info.status, 200);
    for expected in [
        "Alice",
        "Tremblay",
        "1958-04-12",
        "alice@example.org",
        // Held in E.164, the catalogue's one rule for telephone numbers (separators dropped).
        "+18195550100",
        "123 Rue Principale",
        "Gatineau QC J8X 1A1",
        "bank (EN)",
        "Provided at sign-in",
        "Level 2",
    ] {
        assert!(info.body.contains(expected), "{expected}: {}", info.body);
    }
    // In French, the provider's French name.
    client
        .get(world.broker.url("/lang/fr?next=/me/information"))
        .send()
        .await
        .unwrap();
    let fr = get(&client, &world.broker.url("/me/information")).await;
    assert!(fr.body.contains("bank (FR)") && fr.body.contains("Fourni à la connexion"));

    // Signing in again (another browser) finds the same citizen; no second link.
    let again = browser_client();
    let page = sign_in(&again, &world.broker, &start_path("bank", "alice")).await;
    assert_eq!(page.status, 303);
    assert_eq!(world.counts().await, (1, 1, 2));
    assert_eq!(
        world.audit_actions().await,
        ["identity-linked", "sign-in", "sign-in"]
    );
    // Nothing personal reached the log.
    let log = world.broker.log_text();
    for secret in ["Tremblay", "1958-04-12", "alice@example.org", "Principale"] {
        assert!(!log.contains(secret), "`{secret}` was logged");
    }
}

#[tokio::test]
async fn a_second_provider_is_linked_only_by_proof_in_one_session_and_can_be_unlinked() {
    let world = two_providers("").await;
    let alice = browser_client();
    assert_eq!(
        sign_in(&alice, &world.broker, &start_path("bank", "alice"))
            .await
            .status,
        303
    );

    // Same name, birthdate and email at the bank, another subject: another citizen, not a link.
    let twin = browser_client();
    assert_eq!(
        sign_in(&twin, &world.broker, &start_path("bank", "alice-twin"))
            .await
            .status,
        303
    );
    assert_eq!(world.counts().await.0, 2, "no link on matching claims");

    // Alice links her provincial ID from her session: she proves both in one session.
    let info = get(&alice, &world.broker.url("/me/information")).await;
    assert!(info.body.contains("Link another sign-in"), "{}", info.body);
    let csrf = csrf_token(&info.body);
    let refused = post_form(
        &alice,
        &world.broker.url("/me/links"),
        &[("provider", "prov")],
    )
    .await;
    assert_eq!(refused.status, 403, "no CSRF token, no link");
    let start = post_form(
        &alice,
        &world.broker.url("/me/links"),
        &[
            ("provider", "prov"),
            ("login_hint", "alice"),
            ("csrf_token", &csrf),
        ],
    )
    .await;
    assert_eq!(start.status, 303, "{}", start.body);
    let callback = to_callback(&alice, &world.broker, start.location.as_ref().unwrap())
        .await
        .unwrap();
    let linked = get(&alice, &callback).await;
    assert_eq!(linked.status, 303, "{}", linked.body);
    assert_eq!(
        linked.location.as_deref(),
        Some(world.broker.url("/me/information?linked=prov").as_str())
    );
    assert!(
        !linked.sets_session_cookie(),
        "the session stays the one Alice had"
    );
    let ids = citizen_ids(&world).await;
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], ids[2], "bank and provincial ID are one citizen");
    let info = get(&alice, &world.broker.url("/me/information?linked=prov")).await;
    assert!(
        info.body
            .contains("prov (EN) is now linked to your account.")
    );
    assert!(
        info.body.contains("Level 3"),
        "facts from the provincial ID: {}",
        info.body
    );

    // Signing in with the provincial ID now reaches the same citizen.
    let phone = browser_client();
    assert_eq!(
        sign_in(&phone, &world.broker, &start_path("prov", "alice"))
            .await
            .status,
        303
    );
    assert_eq!(world.counts().await.0, 2);

    // The twin cannot take Alice's provincial identity: it is linked elsewhere.
    let info = get(&twin, &world.broker.url("/me/information")).await;
    let start = post_form(
        &twin,
        &world.broker.url("/me/links"),
        &[
            ("provider", "prov"),
            ("login_hint", "alice"),
            ("csrf_token", &csrf_token(&info.body)),
        ],
    )
    .await;
    let callback = to_callback(&twin, &world.broker, start.location.as_ref().unwrap())
        .await
        .unwrap();
    let page = get(&twin, &callback).await;
    assert_eq!(page.status, 409, "{}", page.body);
    assert!(page.body.contains("identity_linked_elsewhere"));
    assert_eq!(citizen_ids(&world).await, ids, "no link changed");

    // Alice removes the provincial ID: a confirmation step, then a CSRF-protected post.
    let info = get(&alice, &world.broker.url("/me/information")).await;
    let marker = "href=\"/me/links/";
    let i = info.body.find(marker).expect("an unlink link") + marker.len();
    let link_id = info.body[i..].split('/').next().unwrap().to_owned();
    let confirm = get(
        &alice,
        &world.broker.url(&format!("/me/links/{link_id}/unlink")),
    )
    .await;
    assert_eq!(confirm.status, 200);
    assert!(
        confirm.body.contains("Remove prov (EN)?"),
        "{}",
        confirm.body
    );
    let no_csrf = post_form(
        &alice,
        &world.broker.url(&format!("/me/links/{link_id}/unlink")),
        &[],
    )
    .await;
    assert_eq!(no_csrf.status, 403);
    assert_eq!(world.counts().await.1, 3);
    let done = post_form(
        &alice,
        &world.broker.url(&format!("/me/links/{link_id}/unlink")),
        &[("csrf_token", &csrf_token(&confirm.body))],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(world.counts().await.1, 2);
    // The session that came in through the provincial ID has ended; Alice's bank one has not.
    assert!(!has_citizen_session(&phone, &world.broker).await);
    assert!(has_citizen_session(&alice, &world.broker).await);

    // The last link (also the one in use) cannot be removed.
    let info = get(&alice, &world.broker.url("/me/information")).await;
    assert!(info.body.contains("In use for this session"));
    let bank_link = citizen_link_id(&world, &ids[0]).await;
    let page = post_form(
        &alice,
        &world.broker.url(&format!("/me/links/{bank_link}/unlink")),
        &[("csrf_token", &csrf_token(&info.body))],
    )
    .await;
    assert_eq!(page.status, 409);
    assert!(
        page.body
            .contains("Error code: identity_link_in_use (HTTP 409)"),
        "{}",
        page.body
    );
    assert!(page.body.contains("We could not make this change"));
    assert_eq!(world.counts().await.1, 2);

    // Every link and unlink is in the audit log, the refused one too (as a denial).
    assert_eq!(
        world.audit_actions().await,
        [
            "identity-linked", // Alice at the bank
            "sign-in",
            "identity-linked", // the twin
            "sign-in",
            "identity-linked", // Alice's provincial ID
            "sign-in",         // Alice with it, on her phone
            "identity-linked", // the twin's attempt, denied
            "identity-unlinked",
        ]
    );
    assert_eq!(world.audit_outcomes().await[6], "deny");
}

async fn citizen_link_id(world: &World, citizen: &str) -> String {
    let backend = world.conn.get_database_backend();
    world
        .conn
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DbBackend::Postgres => {
                    "SELECT id FROM identity_links WHERE citizen_id = $1"
                }
                _ => "SELECT id FROM identity_links WHERE citizen_id = ?",
            },
            [citizen.into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<String>("", "id")
        .unwrap()
}

#[tokio::test]
async fn only_configured_officers_get_an_officer_session() {
    let world = two_providers(
        "[[officers]]\nid = \"olivier\"\nprovider = \"prov\"\nsubject = \"olivier\"\n",
    )
    .await;
    let choose = get(&browser_client(), &world.broker.url("/officer/signin")).await;
    assert!(choose.body.contains("/officer/signin/with/prov"));
    assert!(
        !choose.body.contains("/officer/signin/with/bank"),
        "no officer signs in there"
    );
    // The officer's page speaks to an officer, not to a citizen.
    assert!(choose.body.contains("audit console"), "{}", choose.body);
    assert!(
        !choose.body.contains("we create your account")
            && !choose.body.contains("other facts it holds"),
        "{}",
        choose.body
    );

    let olivier = browser_client();
    let page = sign_in(
        &olivier,
        &world.broker,
        "/officer/signin/with/prov?login_hint=olivier",
    )
    .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        page.location.as_deref(),
        Some(world.broker.url("/officer").as_str())
    );
    assert!(page.sets_session_cookie());
    assert_eq!(world.counts().await, (0, 0, 1), "an officer is no citizen");
    assert_eq!(count(&world.conn, "officer_sessions").await, 1);
    assert!(!has_citizen_session(&olivier, &world.broker).await);

    // Alice signs in fine at the provincial ID, but she is no officer.
    let alice = browser_client();
    let page = sign_in(
        &alice,
        &world.broker,
        "/officer/signin/with/prov?login_hint=alice",
    )
    .await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("officer_not_authorised"));
    assert!(
        page.body
            .contains("you are not a designated privacy officer")
    );
    assert!(!page.sets_session_cookie());
    assert_eq!(world.counts().await, (0, 0, 1));
    assert_eq!(world.audit_actions().await, ["sign-in", "sign-in-failed"]);
}

#[tokio::test]
async fn sign_out_ends_the_session_and_sends_the_browser_to_the_providers_end_session() {
    let world = two_providers("").await;
    let client = browser_client();
    assert_eq!(
        sign_in(&client, &world.broker, &start_path("bank", "alice"))
            .await
            .status,
        303
    );
    let me = get(&client, &world.broker.url("/me")).await;
    let without = post_form(&client, &world.broker.url("/signout"), &[]).await;
    assert_eq!(without.status, 403, "the sign-out form is CSRF-protected");
    assert!(has_citizen_session(&client, &world.broker).await);

    let out = post_form(
        &client,
        &world.broker.url("/signout"),
        &[("csrf_token", &csrf_token(&me.body))],
    )
    .await;
    assert_eq!(out.status, 303, "{}", out.body);
    assert!(
        out.set_cookies
            .iter()
            .any(|c| c.starts_with("tuo_session=;") || c.contains("Max-Age=0")),
        "{:?}",
        out.set_cookies
    );
    assert!(!has_citizen_session(&client, &world.broker).await);
    let location = out.location.unwrap();
    let bank = world.upstream("bank");
    assert!(
        location.starts_with(&format!("{}/session/end?", bank.issuer)),
        "{location}"
    );
    assert_eq!(
        query_param(&location, "post_logout_redirect_uri").as_deref(),
        Some(world.broker.url("/signout/done").as_str())
    );
    assert_eq!(
        query_param(&location, "client_id").as_deref(),
        Some(CLIENT_ID)
    );
    let hint = query_param(&location, "id_token_hint").unwrap();
    assert_eq!(hint.split('.').count(), 3, "the ID token the bank issued");
    // oidc-provider accepts the request and asks its user to confirm.
    let confirm = get(&client, &location).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains("logout"), "{}", confirm.body);
    // The page it would return to.
    let done = get(&client, &world.broker.url("/signout/done")).await;
    assert!(done.body.contains("You are signed out"));
    assert!(
        world
            .audit_actions()
            .await
            .ends_with(&["sign-out".to_owned()])
    );
}

#[tokio::test]
async fn private_key_jwt_client_authentication_and_rs256_id_tokens_work() {
    let dir = temp_dir();
    let key = dir.path().join("rp-key.p8");
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &ring::rand::SystemRandom::new(),
    )
    .unwrap();
    std::fs::write(&key, pkcs8.as_ref()).unwrap();
    let public = services::keys::SigningKeys::from_configured_file(&key)
        .unwrap()
        .published();
    let db = TestDb::new().await.unwrap();
    let port = free_port();
    let upstream = start_oidc(
        dir.path(),
        "bank",
        &format!("http://127.0.0.1:{port}"),
        BANK_ACR,
        json!({
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": public},
            "id_token_signed_response_alg": "RS256",
        }),
        None,
    );
    let toml = format!(
        "[[providers]]\nid = \"bank\"\nname_en = \"Bank\"\nname_fr = \"Banque\"\n\
         issuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nprivate_key_file = \"{}\"\n\
         acr_loa = {{ \"{BANK_ACR}\" = 2 }}\n",
        upstream.issuer,
        key.display()
    );
    let broker = start_broker(&db, dir.path(), port, &toml).await;
    let client = browser_client();
    let page = sign_in(&client, &broker, &start_path("bank", "alice")).await;
    assert_eq!(page.status, 303, "{}\n{}", page.body, broker.log_text());
    let me = get(&client, &broker.url("/me")).await;
    assert!(me.body.contains("Hello, Alice Tremblay"));
}

#[tokio::test]
async fn after_the_provider_rotates_its_keys_the_broker_fetches_them_again() {
    let db = TestDb::new().await.unwrap();
    let dir = temp_dir();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let provider_port = free_port();
    let upstream = start_oidc(
        dir.path(),
        "bank",
        &base,
        BANK_ACR,
        Value::Null,
        Some(provider_port),
    );
    let toml = format!(
        "{}[signin]\njwks_min_refresh_secs = 0\n",
        provider_toml(&upstream)
    );
    let broker = start_broker(&db, dir.path(), port, &toml).await;
    let first = sign_in(&browser_client(), &broker, &start_path("bank", "alice")).await;
    assert_eq!(first.status, 303, "{}", first.body);
    assert!(!broker.log_text().contains("JWKS fetched again"));

    // The provider restarts with new signing keys (new kids) at the same issuer.
    let Upstream { peer, files, .. } = upstream;
    drop(peer);
    let restarted = broker_e2e::peers::Peer::start(
        "provider.mjs",
        &[
            "--clients".into(),
            files.join("clients.json").display().to_string(),
            "--accounts".into(),
            files.join("accounts.json").display().to_string(),
            "--issuer".into(),
            format!("http://127.0.0.1:{provider_port}"),
        ],
    );
    let second = sign_in(&browser_client(), &broker, &start_path("bank", "alice")).await;
    assert_eq!(second.status, 303, "{}\n{}", second.body, broker.log_text());
    assert!(
        broker
            .log_text()
            .contains("unknown key id; JWKS fetched again")
    );
    let conn = sea_orm::Database::connect(db.url()).await.unwrap();
    assert_eq!(count(&conn, "citizens").await, 1, "the same citizen");
    drop(restarted);
}

#[tokio::test]
async fn a_value_a_department_verified_higher_is_kept_and_the_citizen_is_told() {
    let world = two_providers("").await;
    let client = browser_client();
    assert_eq!(
        sign_in(&client, &world.broker, &start_path("bank", "alice"))
            .await
            .status,
        303
    );
    let citizen = citizen_ids(&world).await[0].clone();
    // The vital statistics office verifies Alice's birthdate (a different day) at level 4.
    let config = broker::config::Config {
        data_dir: world.broker.data_dir.clone(),
        ..broker::config::Config::default()
    };
    let vault = services::vault::Vault::new(
        &services::keys::load_secrets(&config.keys, &config.data_dir).unwrap(),
    )
    .unwrap();
    services::departments::upsert(
        &world.conn,
        &services::departments::Department {
            id: "vital-stats".into(),
            name_en: "Vital Statistics Office".into(),
            name_fr: "Bureau de l'état civil".into(),
            sector_identifier: "vital.example".into(),
            active: true,
            authoritative_for: vec!["birthdate".into()],
            delivery: None,
        },
    )
    .await
    .unwrap();
    services::citizens::record(
        &world.conn,
        &vault,
        &citizen,
        "birthdate",
        &json!("1958-04-21"),
        &services::citizens::Provenance {
            source_kind: services::citizens::SourceKind::Department,
            source_id: "vital-stats".into(),
            method: "registry".into(),
            loa: 4,
            verified: true,
            recorded_at: 1_700_000_000_000,
        },
    )
    .await
    .unwrap();
    // Alice signs in again; the bank still says 1958-04-12.
    let again = browser_client();
    assert_eq!(
        sign_in(&again, &world.broker, &start_path("bank", "alice"))
            .await
            .status,
        303
    );
    let info = get(&again, &world.broker.url("/me/information")).await;
    let row = info.body.split("id=\"fact-birthdate\"").nth(1).unwrap();
    let row = row.split("</tr>").next().unwrap();
    assert!(
        row.contains("1958-04-21") && row.contains("Vital Statistics Office"),
        "{row}"
    );
    assert!(
        row.contains("From an official registry") && row.contains("Level 4"),
        "{row}"
    );
    assert!(
        info.body
            .contains("bank (EN) (level 2) gave a different value for “Date of birth”")
            && info
                .body
                .contains("We kept the value verified by Vital Statistics Office at level 4."),
        "{}",
        info.body
    );
    assert!(
        !info.body.contains("1958-04-12"),
        "the provider's value is not shown as current"
    );
}
