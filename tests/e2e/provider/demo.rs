//! `broker demo`'s sample department web application: the pension office's application form,
//! served by the demo as a development sample, signs Alice in through the broker (PAR, PKCE,
//! DPoP, `private_key_jwt`), shows the broker's consent screen, and comes back with the form
//! filled from verified facts (issue 14, "Done when").

use broker_e2e::peers::run_node;
use broker_e2e::signin::*;
use broker_e2e::*;
use serde_json::{Value, json};

/// The sample application's base URL, as the demo banner names it.
async fn sample_app(demo: &Demo) -> String {
    let line = demo.printed_line("Sample department").await;
    assert!(
        line.ends_with(
            "(development sample: an old-age pension form that signs in through the broker)"
        ),
        "{line}"
    );
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap();
    url.trim_end_matches('/').to_owned()
}

#[tokio::test]
async fn broker_demo_serves_a_sample_department_application_marked_as_such() {
    let demo = Demo::start().await;
    let app = sample_app(&demo).await;
    let client = browser_client();
    let page = get(&client, &format!("{app}/")).await;
    assert_eq!(page.status, 200);
    for expected in [
        "Development sample — not a real government service",
        "Exemple de développement — pas un vrai service gouvernemental",
        "<h1>Apply for the Old Age Security pension</h1>",
        "<label for=\"given_name\">Given name</label>",
        ">Sign in with Tell Us Once</button>",
    ] {
        assert!(page.body.contains(expected), "{expected}: {}", page.body);
    }
    // Empty until signed in.
    assert!(
        page.body
            .contains("<input id=\"given_name\" name=\"given_name\" value=\"\"")
    );
    let french = get(&client, &format!("{app}/?lang=fr")).await;
    assert!(french.body.starts_with("<!doctype html><html lang=\"fr\">"));
    assert!(
        french
            .body
            .contains("<h1>Demander la pension de la Sécurité de la vieillesse</h1>")
    );

    // Its forms need the session's CSRF token: a forged sign-in goes nowhere.
    let forged = post_form(
        &browser_client(),
        &format!("{app}/login"),
        &[("csrf_token", "forged")],
    )
    .await;
    assert_eq!(forged.status, 303);
    assert_eq!(forged.location, Some(format!("{app}/")));
    // A logout token that is not one is refused, and forgets nothing.
    let refused = post_form(
        &browser_client(),
        &format!("{app}/backchannel-logout"),
        &[("logout_token", "not.a.token")],
    )
    .await;
    assert_eq!(refused.status, 400);

    // Its client key is kept in the data directory, for the owner only.
    // `<data dir>/demo/`, the data directory being `demo` in the test's directory.
    let key = demo.dir.path().join("demo/demo/esd-pension-web.es256.p8");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key)
            .unwrap_or_else(|e| panic!("{}: {e}", key.display()))
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn alice_fills_the_sample_pension_form_through_the_broker_in_a_real_browser() {
    let demo = Demo::start().await;
    let app = sample_app(&demo).await;
    let shots = temp_dir();
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/e2e/provider/demo-sample-app.mjs"
    );
    let (ok, out, err) = run_node(
        "run-browser-script.mjs",
        &[
            scenario.to_owned(),
            json!({ "app": app, "broker": demo.broker.base }).to_string(),
            "--screenshot-dir".into(),
            shots.path().display().to_string(),
        ],
        None,
    );
    assert!(
        ok,
        "the scenario failed: {out}\n{err}\nbroker log:\n{}",
        demo.broker.log_text()
    );
    let result: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert!(
        result["banner"]
            .as_str()
            .unwrap()
            .contains("Development sample — not a real government service"),
        "{result}"
    );
    for claim in ["given_name", "family_name", "birthdate", "address"] {
        assert_eq!(result["before"][claim], "", "{claim}: {result}");
    }
    // Through the broker's sign-in and its consent screen for the pension office.
    let pages = result["pages"].as_array().unwrap();
    assert!(
        pages[0]
            .as_str()
            .unwrap()
            .starts_with(&demo.broker.url("/signin")),
        "{result}"
    );
    assert!(
        pages
            .last()
            .unwrap()
            .as_str()
            .unwrap()
            .starts_with(&demo.broker.url("/oauth2/interaction/")),
        "{result}"
    );
    assert!(
        result["consentHeading"]
            .as_str()
            .unwrap()
            .ends_with("asks to know who you are"),
        "{result}"
    );
    // Alice's facts as the demo seeds them (broker/src/demo/release.rs).
    assert_eq!(result["after"]["given_name"], "Alice", "{result}");
    assert_eq!(result["after"]["family_name"], "Tremblay");
    assert_eq!(result["after"]["birthdate"], "1958-04-12");
    assert_eq!(
        result["after"]["address"],
        "123, rue Principale\nGatineau QC J8X 1A1\nCA"
    );
    // Each value with its source and level of assurance: the bank at level 2, the birth date
    // from vital statistics at level 3.
    let source = |claim: &str| result["sources"][claim].as_str().unwrap().to_owned();
    assert!(
        source("given_name").contains("level of assurance 2"),
        "{result}"
    );
    assert!(
        source("birthdate").contains("level of assurance 3"),
        "{result}"
    );
    assert!(source("birthdate").contains("vital-statistics"), "{result}");
    assert_eq!(
        result["frenchHeading"],
        "Demander la pension de la Sécurité de la vieillesse"
    );
    assert_eq!(result["french"]["given_name"], "Alice");
    for page in ["formViolations", "filledViolations", "frenchViolations"] {
        assert_eq!(result[page], json!([]), "{page}: {}", result[page]);
    }
    // Signed out through the broker and back: the form is empty again.
    assert_eq!(result["signedOut"], "You are signed out.");
    assert_eq!(result["afterLogout"]["given_name"], "");

    // Issue 15, "Done when": the sample department's use of her facts is a notice, and Alice's
    // weekly digest (a "week" lasts 30 s in the demo) reaches the demo's mail catcher, in her
    // language (French, from her sign-in), without a value.
    let mail = demo.dir.path().join("demo/mail/1.eml");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let eml = loop {
        if let Ok(text) = std::fs::read_to_string(&mail) {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no digest in the demo's mail catcher; log:\n{}",
            demo.broker.log_text()
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    assert!(eml.contains("To: alice.tremblay@example.ca"), "{eml}");
    assert!(eml.contains("Content-Language: fr"), "{eml}");
    assert!(!eml.contains("1958-04-12"), "{eml}");
    let banner = demo
        .printed_line("the witness has cosigned the log at size")
        .await;
    assert!(banner.contains("root "), "{banner}");
}
