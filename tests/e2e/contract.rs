//! The OpenAPI document is the contract: schemathesis (pinned in tests/peers/requirements.txt,
//! installed by scripts/setup-test-peers) fuzzes every operation of the real broker from its own
//! `/openapi.json`, with all checks and every phase (examples, coverage, fuzzing, stateful), once
//! for each kind of caller: a department holding a `private_key_jwt` token with every scope, a
//! citizen's session, an officer's session, and nobody. The settings every run shares (and why an
//! operation expects what it expects) are in tests/peers/schemathesis.toml.

use std::process::Command;

use broker_e2e::citizens::{officer_signed_in, signed_in};
use broker_e2e::release::{FactSpec, RustClient, World};
use broker_e2e::*;
use serde_json::json;

const ESD: &str = "employment-social-development";

/// How many cases per operation and phase: enough to reach every documented constraint, bounded so
/// the four runs stay within about a minute each on two cores. `scripts/fuzz` runs more by hand.
const EXAMPLES: &str = "12";

/// The credential a run holds, given to schemathesis through the document's security schemes
/// (so that it also tries each operation without it).
enum Credential {
    Token(String),
    Session(String),
    Nothing,
}

/// Runs schemathesis against `base` holding `credential`; returns (passed, output).
fn schemathesis(base: &str, caller: &str, credential: &Credential) -> (bool, String) {
    let root = repo_root();
    let bin = root.join("tests/peers/.venv/bin/schemathesis");
    assert!(
        bin.exists(),
        "schemathesis is not installed: run scripts/setup-test-peers"
    );
    // The shared settings, and this run's credential.
    let mut config = std::fs::read_to_string(root.join("tests/peers/schemathesis.toml")).unwrap();
    match credential {
        Credential::Token(t) => {
            config += &format!("\n[auth.openapi.department_token]\nbearer = \"{t}\"\n")
        }
        Credential::Session(c) => {
            config += &format!("\n[auth.openapi.session]\napi_key = \"{c}\"\n")
        }
        Credential::Nothing => {}
    }
    let dir = temp_dir();
    let path = dir.path().join("schemathesis.toml");
    std::fs::write(&path, config).unwrap();
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir.path())
        .arg("--no-color")
        .arg("--config-file")
        .arg(&path)
        .arg("run")
        .arg(format!("{base}/openapi.json"))
        .args([
            "--checks",
            "all",
            "--max-examples",
            EXAMPLES,
            "--seed",
            "17",
        ])
        // One worker: CPython 3.11 can fail compiling in two threads at once (hypothesis does).
        .args(["--workers", "1"])
        .env("NO_COLOR", "1");
    let out = cmd.output().expect("schemathesis runs");
    let text = format!(
        "== caller: {caller}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn schemathesis_finds_nothing_for_any_kind_of_caller() {
    let w = World::new().await;
    let broker = w.start().await;
    // Data for the operations to reach: a citizen with facts, a consent, a department client.
    let citizen = w
        .citizen(&[
            FactSpec::provider("given_name", json!("Alice"), 3),
            FactSpec::provider("birthdate", json!("1950-04-02"), 3),
        ])
        .await;
    w.subject(ESD, &citizen).await;
    w.grant(
        &citizen,
        ESD,
        "pension-enrolment",
        &["given_name", "birthdate"],
        30,
    )
    .await;
    let client = RustClient::generate(ESD, "contract-fuzzer");
    client.register(&w.conn, &services::oauth::scope::ALL).await;
    let token = client
        .token(&broker.base, Some(&services::oauth::scope::ALL.join(" ")))
        .await;
    let me = signed_in(&w.conn, &broker, 3).await;
    let (officer, _) = officer_signed_in(&w.conn, &broker).await;

    let runs = [
        ("department", Credential::Token(token)),
        ("citizen", Credential::Session(me.cookie)),
        ("officer", Credential::Session(officer)),
        ("nobody", Credential::Nothing),
    ];
    let mut failed = Vec::new();
    for (caller, credential) in &runs {
        let (ok, output) = schemathesis(&broker.base, caller, credential);
        if !ok {
            // The summary and each failure with its `curl` reproduction.
            failed.push(output);
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
