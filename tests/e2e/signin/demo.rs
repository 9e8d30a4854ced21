//! `broker demo`: the development credential providers are real OpenID providers reached over
//! HTTP; a newcomer signs in as a demo persona and sees their name and where each fact came from.

use broker_e2e::signin::*;
use broker_e2e::*;
use serde_json::json;

#[tokio::test]
async fn broker_demo_signs_a_newcomer_in_through_its_development_providers() {
    let demo = Demo::start().await;
    let broker = &demo.broker;
    let client = browser_client();
    let list = get(&client, &broker.url("/signin")).await;
    assert!(
        list.body
            .contains("Sign in with Bank sign-in partner (development)")
    );
    assert!(
        list.body
            .contains("Sign in with Provincial digital ID (development)")
    );

    // The bank's development provider, over HTTP like any provider.
    let start = get(&client, &broker.url("/signin/with/demo-bank")).await;
    assert_eq!(start.status, 303);
    let authorize = start.location.unwrap();
    assert!(authorize.starts_with(&format!("http://127.0.0.1:{}/authorize?", broker.port + 1)));
    assert_eq!(
        query_param(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    let persona_page = get(&client, &authorize).await;
    assert_eq!(persona_page.status, 200);
    assert!(persona_page.body.contains("Alice Tremblay"));
    let back = choose_persona(&client, &persona_page, "alice").await;
    let callback = back.location.unwrap();
    assert!(
        callback.starts_with(&broker.url("/signin/callback?")),
        "{callback}"
    );
    assert!(query_param(&callback, "iss").is_some(), "RFC 9207 iss");
    let signed_in = get(&client, &callback).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);

    let me = get(&client, &broker.url("/me")).await;
    assert!(me.body.contains("Hello, Alice Tremblay"), "{}", me.body);
    // She is the demo's seeded citizen (her bank identity was linked at demo start): the pension
    // office's request to her is waiting, and her consent for it is listed.
    let requests = get(&client, &broker.url("/me/requests")).await;
    assert_eq!(requests.status, 200);
    assert!(
        requests.body.contains("Employment and Social Development"),
        "{}",
        requests.body
    );
    let consents = get(&client, &broker.url("/me/consents")).await;
    assert!(
        consents.body.contains("Employment and Social Development"),
        "{}",
        consents.body
    );
    let info = get(&client, &broker.url("/me/information")).await;
    for expected in [
        "Bank sign-in partner (development)",
        "Provided at sign-in",
        "Level 2",
        "1958-04-12",
        "123, rue Principale",
        "Gatineau QC J8X 1A1",
        // Held in E.164, the catalogue's one rule for telephone numbers (separators dropped).
        "+18195550100",
        "French",
    ] {
        assert!(info.body.contains(expected), "{expected}: {}", info.body);
    }

    // Alice links her provincial digital ID (level 3) in the same session.
    let link = post_form(
        &client,
        &broker.url("/me/links"),
        &[
            ("provider", "demo-provincial-id"),
            ("csrf_token", &csrf_token(&info.body)),
        ],
    )
    .await;
    let persona_page = get(&client, link.location.as_ref().unwrap()).await;
    let back = choose_persona(&client, &persona_page, "alice").await;
    let linked = get(&client, back.location.as_ref().unwrap()).await;
    assert_eq!(linked.status, 303, "{}", linked.body);
    let info = get(&client, &broker.url("/me/information")).await;
    assert!(
        info.body.contains("Provincial digital ID (development)") && info.body.contains("Level 3")
    );

    // Olivier Officer is the demo's privacy officer.
    let (_officer, page) = demo_sign_in(broker, "demo-provincial-id", "olivier", true).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        page.location.as_deref(),
        Some(broker.url("/officer").as_str())
    );
    assert!(page.sets_session_cookie());

    // The development provider is strict like a real one: PKCE S256 and client authentication.
    let bank = format!("http://127.0.0.1:{}", broker.port + 1);
    // Its root page says what it is, in both languages.
    let root = get(&browser_client(), &format!("{bank}/")).await;
    assert_eq!(root.status, 200);
    assert!(
        root.body
            .contains("development provider — NOT FOR PRODUCTION")
            && root.body.contains("PAS POUR LA PRODUCTION"),
        "{}",
        root.body
    );
    let no_pkce = get(
        &browser_client(),
        &format!(
            "{bank}/authorize?response_type=code&client_id=tell-us-once-demo&scope=openid&state=s\
             &redirect_uri={}",
            url::form_urlencoded::byte_serialize(broker.url("/signin/callback").as_bytes())
                .collect::<String>()
        ),
    )
    .await;
    let refused = no_pkce.location.unwrap();
    assert_eq!(
        query_param(&refused, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_param(&refused, "state").as_deref(), Some("s"));
    let token = reqwest::Client::new()
        .post(format!("{bank}/token"))
        .basic_auth("tell-us-once-demo", Some("not-the-secret"))
        .form(&[("grant_type", "authorization_code"), ("code", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 401);

    // Sign-out goes through the development provider's end-session endpoint and back.
    let me = get(&client, &broker.url("/me")).await;
    let out = post_form(
        &client,
        &broker.url("/signout"),
        &[("csrf_token", &csrf_token(&me.body))],
    )
    .await;
    let end = out.location.unwrap();
    assert!(end.contains("/session/end?"), "{end}");
    let back = get(&client, &end).await;
    assert_eq!(
        back.location.as_deref(),
        Some(broker.url("/signout/done").as_str())
    );
}

#[tokio::test]
async fn broker_demo_in_a_real_browser() {
    let demo = Demo::start().await;
    let result =
        super::browser::run_scenario("scenario-demo.mjs", json!({ "broker": demo.broker.base }));
    assert!(
        result["banner"]
            .as_str()
            .unwrap()
            .contains("DEVELOPMENT PROVIDER — NOT FOR PRODUCTION")
    );
    assert_eq!(result["greeting"], "Hello, Alice Tremblay");
    let facts = result["facts"].as_str().unwrap();
    assert!(
        facts.contains("Bank sign-in partner (development)") && facts.contains("Tremblay"),
        "{facts}"
    );
    for page in [
        "signinViolations",
        "providerViolations",
        "dashboardViolations",
        "informationViolations",
    ] {
        assert_eq!(result[page], json!([]), "{page}: {}", result[page]);
    }
}

/// Every citizen and officer page, at 375 px and 1280 px, in English and French: nothing scrolls sideways
/// and the content keeps its space above the footer (Chromium measures it).
#[tokio::test]
async fn no_page_scrolls_sideways_on_a_phone_in_either_language() {
    let demo = Demo::start().await;
    // No English UI text on a French page (passages marked lang="en" aside): the scenario looks
    // for these in every French page's text.
    let english = english_only_ui_strings();
    assert!(english.len() > 100, "{}", english.len());
    let result = super::browser::run_scenario(
        "scenario-layout.mjs",
        json!({ "broker": demo.broker.base, "english": english }),
    );
    for found in [
        "consent", "request", "record", "status", "unlink", "accepted",
    ] {
        assert!(result[found].is_string(), "no {found} page: {result}");
    }
    // The linked sign-in's page must say so, and accepting lands on the consent it granted.
    assert!(
        result["linked"]
            .as_str()
            .unwrap()
            .starts_with("/me/information"),
        "{result}"
    );
    assert!(
        result["accepted"]
            .as_str()
            .unwrap()
            .ends_with("?done=granted"),
        "{result}"
    );
    // 17 citizen pages signed in, 3 after linking and accepting, 2 signed out and 4 officer pages,
    // each at two widths in two languages (and the change's preview at both widths).
    assert_eq!(result["checked"], (17 + 3 + 2 + 4) * 4, "{result}");
    assert_eq!(result["problems"], json!([]), "{result:#}");
    // axe-core on every page (at 1280 px, both languages).
    assert_eq!(
        result["violations"],
        json!([]),
        "{:#}",
        result["violations"]
    );
    assert_eq!(
        result["frenchChecked"].as_array().unwrap().len(),
        26,
        "{result}"
    );
    assert_eq!(
        result["english"],
        json!([]),
        "English on French pages: {:#}",
        result["english"]
    );
}

/// Pieces (around `{placeholders}`, at least 16 characters with a space) of every English message
/// that no French message contains: if one shows on a French page, the page is not all French.
fn english_only_ui_strings() -> Vec<String> {
    let values = |lang: &str| -> Vec<String> {
        let dir = repo_root().join("web/i18n").join(lang);
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
                if let Some((_, v)) = line.split_once(" = \"") {
                    out.push(v.trim_end_matches('"').replace("\\\"", "\""));
                }
            }
        }
        out
    };
    let french = values("fr").join("\n");
    let mut pieces: Vec<String> = values("en")
        .iter()
        .flat_map(|v| {
            v.split(['{', '}'])
                .step_by(2)
                .map(str::trim)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|p| p.chars().count() >= 16 && p.contains(' ') && !french.contains(p.as_str()))
        .collect();
    pieces.sort();
    pieces.dedup();
    pieces
}
