//! The attack catalogue: each case ends on a clear error page (4xx, or 502 for a failing provider)
//! and creates no citizen, no identity link and no session (checked in the database and by the
//! absence of a working session cookie). The broken provider is `hostile-provider.mjs`, its
//! scenario picked per authorization request through `login_hint`; a second hostile instance is
//! another configured provider, for the mix-up case.

use broker_e2e::signin::*;
use broker_e2e::*;
use serde_json::Value;

async fn hostile_world_with(toml: &str) -> World {
    World::start(WorldSpec {
        hostile: vec!["hostile", "other"],
        toml: toml.to_owned(),
        ..Default::default()
    })
    .await
}

async fn hostile_world() -> World {
    hostile_world_with("").await
}

/// Signs in at the hostile provider with `scenario`, in a fresh browser.
async fn attempt(world: &World, scenario: &str) -> (reqwest::Client, Page) {
    let client = browser_client();
    let page = sign_in(&client, &world.broker, &start_path("hostile", scenario)).await;
    (client, page)
}

/// The refusal page, and nothing created: no citizen, link or session row, no session cookie.
async fn assert_refused(
    world: &World,
    client: &reqwest::Client,
    page: &Page,
    status: u16,
    code: &str,
) {
    assert_eq!(page.status, status, "{}", page.body);
    assert!(
        page.body
            .contains(&format!("Error code: {code} (HTTP {status})")),
        "expected `{code}`: {}",
        page.body
    );
    assert!(page.body.contains("Nothing was created or changed."));
    assert!(!page.sets_session_cookie(), "{:?}", page.set_cookies);
    assert!(!has_citizen_session(client, &world.broker).await);
    assert_eq!(world.counts().await, (0, 0, 0), "citizens, links, sessions");
}

/// The refusal was audited as a failed sign-in with its code.
async fn assert_audited(world: &World, code: &str) {
    let actions = world.audit_actions().await;
    assert_eq!(actions, vec!["sign-in-failed"], "{actions:?}");
    let backend = world.conn.get_database_backend();
    let row = world
        .conn
        .query_one_raw(sea_orm::Statement::from_string(
            backend,
            "SELECT entry FROM audit_records",
        ))
        .await
        .unwrap()
        .unwrap();
    let entry: Vec<u8> = row.try_get("", "entry").unwrap();
    let entry: Value = serde_json::from_slice(&entry).unwrap();
    assert_eq!(entry["reasons"][0], code, "{entry}");
    assert_eq!(entry["actor"]["kind"], "provider", "{entry}");
}

/// What the hostile provider received at one endpoint.
async fn hostile_log(world: &World, endpoint: &str) -> Vec<Value> {
    reqwest::get(
        world
            .upstream("hostile")
            .control(&format!("/control/log?endpoint={endpoint}")),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

use sea_orm::ConnectionTrait;

macro_rules! id_token_attack {
    ($name:ident, $scenario:literal, $fault:literal) => {
        #[tokio::test]
        async fn $name() {
            let world = hostile_world().await;
            let (client, page) = attempt(&world, $scenario).await;
            assert_refused(&world, &client, &page, 400, "signin_id_token_invalid").await;
            assert_audited(&world, "signin_id_token_invalid").await;
            // Refused for the intended reason, after the code was exchanged.
            assert_eq!(hostile_log(&world, "token").await.len(), 1);
            let log = world.broker.log_text();
            assert!(
                log.contains(concat!("failed the `", $fault, "` check")),
                "{log}"
            );
        }
    };
}

/// An ID token without a claim the specification requires cannot even be read: it is an invalid
/// ID token (400, audited), not an unavailable provider (502, "try again").
#[tokio::test]
async fn an_id_token_missing_a_required_claim_is_invalid_not_a_provider_failure() {
    for scenario in ["sub-missing", "iat-missing"] {
        let world = hostile_world().await;
        let (client, page) = attempt(&world, scenario).await;
        assert_refused(&world, &client, &page, 400, "signin_id_token_invalid").await;
        assert_audited(&world, "signin_id_token_invalid").await;
        assert_eq!(hostile_log(&world, "token").await.len(), 1, "{scenario}");
    }
}

id_token_attack!(id_token_with_alg_none_is_refused, "alg-none", "algorithm");
id_token_attack!(
    id_token_hmac_signed_with_the_client_secret_is_refused,
    "hs256-client-secret",
    "algorithm"
);
id_token_attack!(
    id_token_signed_by_an_unknown_key_is_refused,
    "unknown-kid",
    "unknown key"
);
id_token_attack!(
    id_token_with_a_bad_signature_is_refused,
    "bad-signature",
    "signature"
);
id_token_attack!(
    id_token_from_another_issuer_is_refused,
    "wrong-iss",
    "issuer"
);
id_token_attack!(
    id_token_for_another_audience_is_refused,
    "wrong-aud",
    "audience"
);
id_token_attack!(
    id_token_with_several_audiences_and_no_azp_is_refused,
    "multi-aud-no-azp",
    "audience"
);
id_token_attack!(expired_id_token_is_refused, "expired", "expired");
id_token_attack!(
    id_token_issued_in_the_future_is_refused,
    "iat-future",
    "issued in the future"
);
id_token_attack!(
    id_token_with_another_nonce_is_refused,
    "nonce-mismatch",
    "nonce"
);
id_token_attack!(
    id_token_without_the_nonce_is_refused,
    "nonce-missing",
    "nonce"
);

#[tokio::test]
async fn the_hostile_provider_in_its_honest_scenario_signs_in_with_pkce_s256() {
    // The control for every case here: the same provider, not misbehaving, works.
    let world = hostile_world().await;
    let (client, page) = attempt(&world, "pkce-check").await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        page.location.as_deref(),
        Some(world.broker.url("/me").as_str())
    );
    assert!(page.sets_session_cookie());
    assert!(has_citizen_session(&client, &world.broker).await);
    assert_eq!(world.counts().await, (1, 1, 1));
    let authorize = &hostile_log(&world, "authorize").await[0]["params"];
    assert_eq!(authorize["code_challenge_method"], "S256");
    assert_eq!(authorize["response_type"], "code");
    assert!(authorize["code_challenge"].as_str().unwrap().len() >= 43);
    assert!(authorize["nonce"].as_str().unwrap().len() >= 32);
    assert!(authorize["state"].as_str().unwrap().len() >= 32);
    let token = &hostile_log(&world, "token").await[0];
    assert_eq!(token["client_auth"], "client_secret_basic");
    assert!(token["params"]["code_verifier"].as_str().unwrap().len() >= 43);
}

#[tokio::test]
async fn userinfo_about_another_subject_is_refused() {
    let world = hostile_world().await;
    let (client, page) = attempt(&world, "userinfo-sub-mismatch").await;
    assert_refused(&world, &client, &page, 400, "signin_userinfo_mismatch").await;
    assert_audited(&world, "signin_userinfo_mismatch").await;
    assert_eq!(hostile_log(&world, "userinfo").await.len(), 1);
}

#[tokio::test]
async fn an_iss_parameter_naming_another_configured_provider_is_a_mix_up_and_refused() {
    let world = hostile_world().await;
    let other = world.upstream("other").issuer.clone();
    let client = browser_client();
    let callback = to_callback(
        &client,
        &world.broker,
        &world.broker.url(&start_path("hostile", "iss-mixup")),
    )
    .await
    .unwrap();
    assert_eq!(
        query_param(&callback, "iss").as_deref(),
        Some(other.as_str())
    );
    let page = get(&client, &callback).await;
    assert_refused(&world, &client, &page, 400, "signin_issuer_mismatch").await;
    assert_audited(&world, "signin_issuer_mismatch").await;
    assert!(
        hostile_log(&world, "token").await.is_empty(),
        "the code is never sent anywhere after a mix-up"
    );
}

#[tokio::test]
async fn a_response_without_iss_from_a_provider_that_advertises_it_is_refused() {
    let world = hostile_world().await;
    let client = browser_client();
    let callback = to_callback(
        &client,
        &world.broker,
        &world.broker.url(&start_path("hostile", "ok")),
    )
    .await
    .unwrap();
    let page = get(&client, &with_param(&callback, "iss", None)).await;
    assert_refused(&world, &client, &page, 400, "signin_issuer_mismatch").await;
    assert!(hostile_log(&world, "token").await.is_empty());
}

#[tokio::test]
async fn a_callback_without_state_is_refused() {
    let world = hostile_world().await;
    let client = browser_client();
    let callback = to_callback(
        &client,
        &world.broker,
        &world.broker.url(&start_path("hostile", "ok")),
    )
    .await
    .unwrap();
    let page = get(&client, &with_param(&callback, "state", None)).await;
    assert_refused(&world, &client, &page, 400, "signin_state_missing").await;
    assert!(hostile_log(&world, "token").await.is_empty());
}

#[tokio::test]
async fn a_callback_with_a_wrong_state_is_refused() {
    let world = hostile_world().await;
    let client = browser_client();
    let callback = to_callback(
        &client,
        &world.broker,
        &world.broker.url(&start_path("hostile", "ok")),
    )
    .await
    .unwrap();
    let forged = "A".repeat(43);
    let page = get(&client, &with_param(&callback, "state", Some(&forged))).await;
    assert_refused(&world, &client, &page, 400, "signin_state_invalid").await;
    assert!(hostile_log(&world, "token").await.is_empty());
}

#[tokio::test]
async fn an_expired_state_is_refused() {
    let world = hostile_world_with("[signin]\nrequest_ttl_secs = 1\n").await;
    let client = browser_client();
    let callback = to_callback(
        &client,
        &world.broker,
        &world.broker.url(&start_path("hostile", "ok")),
    )
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let page = get(&client, &callback).await;
    assert_refused(&world, &client, &page, 400, "signin_state_expired").await;
    assert!(hostile_log(&world, "token").await.is_empty());
}

#[tokio::test]
async fn a_replayed_callback_is_refused_and_changes_nothing() {
    let world = hostile_world().await;
    let client = browser_client();
    let callback = to_callback(
        &client,
        &world.broker,
        &world.broker.url(&start_path("hostile", "ok")),
    )
    .await
    .unwrap();
    let first = get(&client, &callback).await;
    assert_eq!(first.status, 303, "{}", first.body);
    assert_eq!(world.counts().await, (1, 1, 1));
    // The same browser, and a fresh one, replay it.
    for replayer in [client.clone(), browser_client()] {
        let page = get(&replayer, &callback).await;
        assert!(page.status == 400, "{}", page.body);
        assert!(
            page.body.contains("signin_state_used") || page.body.contains("signin_state_invalid"),
            "{}",
            page.body
        );
        assert!(!page.sets_session_cookie());
    }
    assert_eq!(world.counts().await, (1, 1, 1), "nothing more was created");
    assert_eq!(
        hostile_log(&world, "token").await.len(),
        1,
        "the code was used once"
    );
}

#[tokio::test]
async fn a_state_from_another_browser_is_refused_and_left_for_its_owner() {
    let world = hostile_world().await;
    let victim = browser_client();
    let callback = to_callback(
        &victim,
        &world.broker,
        &world.broker.url(&start_path("hostile", "ok")),
    )
    .await
    .unwrap();
    // An attacker who got hold of the callback URL loads it in their own browser.
    let attacker = browser_client();
    let page = get(&attacker, &callback).await;
    assert_refused(&world, &attacker, &page, 400, "signin_state_invalid").await;
    assert!(hostile_log(&world, "token").await.is_empty());
    // The sign-in still belongs to the browser that started it.
    let page = get(&victim, &callback).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(has_citizen_session(&victim, &world.broker).await);
    assert!(!has_citizen_session(&attacker, &world.broker).await);
}

#[tokio::test]
async fn a_replayed_authorization_code_is_refused_by_the_provider_and_by_the_broker() {
    let world = hostile_world().await;
    let client = browser_client();
    let first = to_callback(
        &client,
        &world.broker,
        &world.broker.url(&start_path("hostile", "code-replay")),
    )
    .await
    .unwrap();
    assert_eq!(get(&client, &first).await.status, 303);
    assert_eq!(world.counts().await, (1, 1, 1));
    // The old code, injected into a new sign-in of the same browser.
    let second = to_callback(
        &client,
        &world.broker,
        &world.broker.url(&start_path("hostile", "code-replay")),
    )
    .await
    .unwrap();
    let old_code = query_param(&first, "code").unwrap();
    let page = get(&client, &with_param(&second, "code", Some(&old_code))).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("signin_code_rejected"), "{}", page.body);
    assert!(!page.sets_session_cookie());
    assert_eq!(world.counts().await, (1, 1, 1), "nothing more was created");
    let tokens = hostile_log(&world, "token").await;
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[1]["params"]["code"], old_code.as_str());
}

#[tokio::test]
async fn a_code_from_another_sign_in_fails_pkce() {
    let world = hostile_world().await;
    let client = browser_client();
    // Two sign-ins started in this browser; the code of the first arrives with the second's state.
    let a = to_callback(
        &client,
        &world.broker,
        &world.broker.url(&start_path("hostile", "pkce-check")),
    )
    .await
    .unwrap();
    let b = to_callback(
        &client,
        &world.broker,
        &world.broker.url(&start_path("hostile", "pkce-check")),
    )
    .await
    .unwrap();
    let injected = with_param(&b, "code", query_param(&a, "code").as_deref());
    let page = get(&client, &injected).await;
    assert_refused(&world, &client, &page, 400, "signin_code_rejected").await;
    let tokens = hostile_log(&world, "token").await;
    assert_eq!(tokens.len(), 1);
    assert!(tokens[0]["params"]["code_verifier"].as_str().unwrap().len() >= 43);
}

#[tokio::test]
async fn an_id_token_with_the_nonce_of_an_earlier_sign_in_is_refused() {
    let world = hostile_world().await;
    let client = browser_client();
    let first = to_callback(
        &client,
        &world.broker,
        &world.broker.url(&start_path("hostile", "ok")),
    )
    .await
    .unwrap();
    assert_eq!(get(&client, &first).await.status, 303);
    let old_nonce = hostile_log(&world, "authorize").await[0]["params"]["nonce"]
        .as_str()
        .unwrap()
        .to_owned();
    // The attacker obtains a code for the broker's client carrying that old nonce (without PKCE)…
    let hostile = world.upstream("hostile");
    let mut authorize = url::Url::parse(&hostile.control("/authorize")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", &world.broker.url("/signin/callback"))
        .append_pair("scope", "openid")
        .append_pair("state", "attacker")
        .append_pair("nonce", &old_nonce)
        .append_pair("login_hint", "ok");
    let attacker = browser_client();
    let minted = get(&attacker, authorize.as_str()).await.location.unwrap();
    // …and slips it into a new sign-in of the victim's browser.
    let second = to_callback(
        &client,
        &world.broker,
        &world.broker.url(&start_path("hostile", "ok")),
    )
    .await
    .unwrap();
    let page = get(
        &client,
        &with_param(&second, "code", query_param(&minted, "code").as_deref()),
    )
    .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.body.contains("signin_id_token_invalid"),
        "{}",
        page.body
    );
    assert!(world.broker.log_text().contains("failed the `nonce` check"));
    assert_eq!(world.counts().await, (1, 1, 1), "nothing more was created");
}

#[tokio::test]
async fn the_provider_refusing_the_sign_in_ends_on_a_clear_page() {
    let world = World::start(WorldSpec {
        oidc: vec![("bank", "urn:test:loa2", Value::Null)],
        ..Default::default()
    })
    .await;
    let client = browser_client();
    // provider.mjs ends the flow with `access_denied` for an unknown account ("cancelled").
    let page = sign_in(&client, &world.broker, &start_path("bank", "nobody")).await;
    assert_refused(&world, &client, &page, 400, "signin_cancelled").await;
    assert!(
        !page.body.contains("unknown account"),
        "the provider's description is not echoed"
    );
}

#[tokio::test]
async fn a_provider_answering_500_at_the_token_endpoint_gives_a_502_page_with_retry() {
    let world = hostile_world().await;
    let (client, page) = attempt(&world, "token-500").await;
    assert_refused(&world, &client, &page, 502, "signin_provider_unavailable").await;
    assert!(
        page.body.contains("href=\"/signin/with/hostile\""),
        "retry link: {}",
        page.body
    );
    assert!(page.body.contains("Try again"));
}

#[tokio::test]
async fn a_provider_that_never_answers_gives_a_502_page_after_the_timeout() {
    let world = hostile_world_with("[signin]\nhttp_timeout_secs = 2\n").await;
    let started = std::time::Instant::now();
    let (client, page) = attempt(&world, "token-slow").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_refused(&world, &client, &page, 502, "signin_provider_unavailable").await;
    assert!(page.body.contains("href=\"/signin/with/hostile\""));
}

#[tokio::test]
async fn an_unreachable_provider_gives_a_502_page_with_retry() {
    // Port 1 (tcpmux): nothing listens there, and no other test can start listening there (a
    // port that was merely free a moment ago can be taken by a peer another test starts).
    let world = hostile_world_with(
        "[[providers]]\nid = \"down\"\nname_en = \"Down\"\nname_fr = \"En panne\"\n\
         issuer = \"http://127.0.0.1:1\"\nclient_id = \"x\"\nclient_secret = \"y\"\n",
    )
    .await;
    let client = browser_client();
    let page = get(&client, &world.broker.url("/signin/with/down")).await;
    assert_refused(&world, &client, &page, 502, "signin_provider_unavailable").await;
    assert!(
        page.body.contains("href=\"/signin/with/down\""),
        "{}",
        page.body
    );
    // The sign-in page still lists it: it may come back.
    let list = get(&client, &world.broker.url("/signin")).await;
    assert!(list.body.contains("Sign in with Down"), "{}", list.body);
}

#[tokio::test]
async fn a_provider_whose_discovery_fails_gives_a_502_page_and_retry_works_once_it_is_back() {
    let db = TestDb::new().await.unwrap();
    let dir = temp_dir();
    let port = free_port();
    let hostile = start_hostile(
        dir.path(),
        "hostile",
        &format!("http://127.0.0.1:{port}"),
        None,
    );
    let control = reqwest::Client::new();
    let set_discovery_500 = |on: bool| {
        control
            .post(hostile.control("/control/scenario"))
            .json(&serde_json::json!({"discovery_500": on}))
            .send()
    };
    set_discovery_500(true).await.unwrap();
    let broker = start_broker(&db, dir.path(), port, &provider_toml(&hostile)).await;
    let client = browser_client();
    let page = get(&client, &broker.url("/signin/with/hostile")).await;
    assert_eq!(page.status, 502, "{}", page.body);
    assert!(
        page.body
            .contains("Error code: signin_provider_unavailable (HTTP 502)")
    );
    assert!(
        page.body.contains("href=\"/signin/with/hostile\""),
        "{}",
        page.body
    );
    let conn = sea_orm::Database::connect(db.url()).await.unwrap();
    assert_eq!(
        count(&conn, "signin_requests").await,
        0,
        "no sign-in was started"
    );
    assert_eq!(count(&conn, "sessions").await, 0);
    // The provider recovers; the retry link now leads to it.
    set_discovery_500(false).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let retry = get(&client, &broker.url("/signin/with/hostile")).await;
    assert_eq!(retry.status, 303, "{}", retry.body);
    assert!(retry.location.unwrap().starts_with(&hostile.issuer));
}

#[tokio::test]
async fn oversized_and_malformed_callbacks_are_refused() {
    let world = hostile_world().await;
    let client = browser_client();
    let callback = to_callback(
        &client,
        &world.broker,
        &world.broker.url(&start_path("hostile", "ok")),
    )
    .await
    .unwrap();
    let huge = "c".repeat(5000);
    let state = query_param(&callback, "state").unwrap();
    for bad in [
        with_param(&callback, "code", Some(&huge)),
        format!("{callback}&state={state}"),
        format!("{callback}&code=%ff%fe"),
        format!("{}&pad={}", callback, "p".repeat(4100)),
    ] {
        let page = get(&client, &bad).await;
        assert_refused(&world, &client, &page, 400, "signin_callback_malformed").await;
    }
    assert!(hostile_log(&world, "token").await.is_empty());
    // Nothing was consumed by the malformed attempts: the real callback still works.
    assert_eq!(get(&client, &callback).await.status, 303);
}

#[tokio::test]
async fn an_unknown_provider_is_a_404_page() {
    let world = hostile_world().await;
    let client = browser_client();
    let page = get(&client, &world.broker.url("/signin/with/nope")).await;
    assert_refused(&world, &client, &page, 404, "signin_unknown_provider").await;
    // API clients get a problem document with the same code.
    let res = reqwest::get(world.broker.url("/signin/with/nope"))
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "signin_unknown_provider");
}
