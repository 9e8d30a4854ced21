//! The real sign-in pages in headless Chromium: a person signs in at oidc-provider through its
//! login form and lands on their dashboard; axe-core finds no WCAG 2.1 A/AA violation on the
//! broker's sign-in and "my information" pages (English and French).

use broker_e2e::peers::{peers_dir, run_node};
use broker_e2e::signin::*;
use broker_e2e::*;
use serde_json::{Value, json};

/// Runs a scenario from `tests/peers/fixtures/signin` and returns its result.
pub fn run_scenario(name: &str, args: Value) -> Value {
    let dir = temp_dir();
    let script = peers_dir().join("fixtures").join("signin").join(name);
    let (ok, out, err) = run_node(
        "run-browser-script.mjs",
        &[
            script.display().to_string(),
            args.to_string(),
            "--screenshot-dir".into(),
            dir.path().display().to_string(),
        ],
        None,
    );
    assert!(ok, "{name} failed: {out}\n{err}");
    serde_json::from_str(out.trim()).unwrap()
}

#[tokio::test]
async fn a_person_signs_in_through_the_providers_login_form_and_the_pages_pass_axe() {
    let world = World::start(WorldSpec {
        oidc: vec![("bank", "urn:test:loa2", Value::Null)],
        ..Default::default()
    })
    .await;
    let result = run_scenario(
        "scenario-signin.mjs",
        json!({
            "broker": world.broker.base,
            "provider": world.upstream("bank").issuer,
            "providerLink": "Sign in with bank (EN)",
            "account": "alice",
        }),
    );
    assert_eq!(result["signinHeading"], "Sign in to Tell Us Once");
    assert_eq!(result["greeting"], "Hello, Alice Tremblay");
    let facts = result["facts"].as_str().unwrap();
    assert!(
        facts.contains("Alice") && facts.contains("bank (EN)"),
        "{facts}"
    );
    assert!(
        facts.contains("Provided at sign-in") && facts.contains("Level 2"),
        "{facts}"
    );
    assert_eq!(result["frenchHeading"], "Mes renseignements");
    for page in [
        "signinViolations",
        "informationViolations",
        "frenchViolations",
    ] {
        assert_eq!(result[page], json!([]), "{page}: {}", result[page]);
    }
    let session = result["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "tuo_session")
        .expect("a session cookie");
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["sameSite"], "Lax");
    assert_eq!(world.counts().await, (1, 1, 1));
}
