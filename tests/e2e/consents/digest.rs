//! The e-mail digest of notices end to end (issue 15 §1): the citizen chooses a weekly digest in
//! French in Chromium; a department fetches her date of birth from the real broker; the notice is
//! on her page; the broker's digest job e-mails her, through a real SMTP server (nodemailer's
//! `smtp-server`, `tests/peers/mailbox.mjs`), a French digest naming the department and the
//! information, linking the record, and holding no value. A later use makes a second digest that
//! repeats nothing. The job survives a crash: a digest that could not be handed to the SMTP
//! server is sent by the next broker process, after a refusal to try later, exactly once.
//!
//! Weeks are compressed to two seconds (`digest.compressed_week_secs`), so a "week" ends while
//! the test waits for its e-mail.

use std::path::Path;
use std::time::{Duration, Instant};

use broker_e2e::citizens::{SignedIn, pairwise_subject, signed_in};
use broker_e2e::peers::{Peer, peers_dir, run_node};
use serde_json::{Value, json};
use services::citizens::{Provenance, SourceKind};
use services::digests::Status;

use super::*;

const BIRTHDATE: &str = "1961-07-23";
const ADDRESS: &str = "alice.tremblay@example.test";

fn digest_env(smtp_port: u16, default_frequency: &str) -> BrokerEnv {
    BrokerEnv::default()
        .set("BROKER_DIGEST__ENABLED", "true")
        .set("BROKER_DIGEST__DEFAULT_FREQUENCY", default_frequency)
        .set("BROKER_DIGEST__COMPRESSED_WEEK_SECS", "2")
        .set("BROKER_DIGEST__CHECK_EVERY_SECS", "1")
        .set("BROKER_DIGEST__RETRY_AFTER_SECS", "1")
        .set("BROKER_DIGEST__FROM", "Tell Us Once <notices@broker.test>")
        .set("BROKER_DIGEST__SMTP__HOST", "127.0.0.1")
        .set("BROKER_DIGEST__SMTP__PORT", smtp_port.to_string())
        .set("BROKER_DIGEST__SMTP__SECURITY", "none")
        .set("BROKER_DIGEST__SMTP__TIMEOUT_SECS", "5")
}

/// Alice's e-mail address and date of birth, and her consent to the pension office.
async fn alice_with_consent(w: &World, alice: &SignedIn) {
    let services = broker_e2e::services_for(&w.broker.env, &w.conn);
    let provenance = Provenance {
        source_kind: SourceKind::Department,
        source_id: "vital-statistics".to_owned(),
        method: "registry".to_owned(),
        loa: 3,
        verified: true,
        recorded_at: store::now_ms(),
    };
    for (name, value) in [("birthdate", BIRTHDATE), ("email", ADDRESS)] {
        services::citizens::record(
            &w.conn,
            &services.vault,
            &alice.citizen_id,
            name,
            &json!(value),
            &provenance,
        )
        .await
        .unwrap();
    }
    pension_consent(w, &alice.citizen_id, ::consent::Mode::Ongoing).await;
}

/// The pension office fetches Alice's date of birth; returns the release's audit record id.
async fn fetch_birthdate(w: &World, alice: &SignedIn) -> String {
    let sub = pairwise_subject(&w.conn, &w.broker, ESD_SECTOR, &alice.citizen_id).await;
    let res = reqwest::Client::new()
        .get(w.broker.url(&format!(
            "/api/v1/subjects/{sub}/attributes?claims=birthdate&purpose=pension-enrolment"
        )))
        .bearer_auth(w.token(&w.esd))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    audit_settled(&w.conn).await;
    let services = broker_e2e::services_for(&w.broker.env, &w.conn);
    let newest = services::audit_log::about::newest(
        &w.conn,
        &alice.citizen_id,
        &[services::audit_log::Action::Release],
        1,
    )
    .await
    .unwrap();
    drop(services);
    newest[0].id.clone()
}

/// Waits for the `n`th message in the mailbox (a minute at most).
async fn nth_mail(dir: &Path, n: usize, broker: &Broker) -> Value {
    let file = dir.join(format!("{n}.json"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            return serde_json::from_str(&text).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no message {n} within a minute; broker log:\n{}",
            broker.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn mails_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .count()
}

fn browser(w: &World, alice: &SignedIn, step: &str) -> Value {
    let scenario = peers_dir()
        .join("scenarios/audit/digest.mjs")
        .display()
        .to_string();
    let args = vec![
        scenario,
        json!({ "base": w.broker.base, "cookie": alice.cookie, "step": step }).to_string(),
    ];
    let (ok, stdout, stderr) = run_node("run-browser-script.mjs", &args, None);
    assert!(
        ok,
        "scenario failed: {stdout}\n{stderr}\nbroker log:\n{}",
        w.broker.log_text()
    );
    let result: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    for p in result["pages"].as_array().unwrap() {
        assert_eq!(p["violations"], json!([]), "{p}");
    }
    result
}

#[tokio::test]
async fn a_release_is_a_notice_on_the_page_and_in_a_french_digest_e_mail_that_holds_no_value() {
    let mail = temp_dir();
    let port = free_port();
    let _smtp = Peer::start(
        "mailbox.mjs",
        &[
            "--port".into(),
            port.to_string(),
            "--dir".into(),
            mail.path().display().to_string(),
        ],
    );
    // Citizens who have not chosen get none: Alice's digest is her own choice.
    let w = World::start(digest_env(port, "never")).await;
    let alice = signed_in(&w.conn, &w.broker, 3).await;
    alice_with_consent(&w, &alice).await;

    let chosen = browser(&w, &alice, "choose");
    assert_eq!(
        chosen["texts"]["saved"], "Your choice is saved.",
        "{chosen}"
    );
    assert_eq!(chosen["texts"]["weeklyChecked"], true);
    assert_eq!(chosen["texts"]["lang"], "fr");
    assert_eq!(chosen["texts"]["address"], true, "her address is shown");

    let record = fetch_birthdate(&w, &alice).await;
    let seen = browser(&w, &alice, "notices");
    let notices = seen["texts"]["notices"].as_str().unwrap();
    assert!(notices.contains("Date of birth"), "{notices}");
    assert!(!notices.contains(BIRTHDATE));
    assert_eq!(seen["texts"]["newBadges"], 1, "{seen}");
    assert_eq!(seen["texts"]["record"], format!("/me/activity/{record}"));

    let first = nth_mail(mail.path(), 1, &w.broker).await;
    assert_eq!(first["envelope"]["to"], json!([ADDRESS]));
    assert_eq!(first["envelope"]["from"], "notices@broker.test");
    assert_eq!(first["contentLanguage"], "fr");
    let subject = first["subject"].as_str().unwrap();
    assert!(subject.contains("1 nouveaux avis"), "{subject}");
    let text = first["text"].as_str().unwrap();
    assert!(
        text.contains("Un ministère a reçu vos renseignements"),
        "{text}"
    );
    assert!(text.contains("Date de naissance"), "{text}");
    assert!(
        text.contains(&w.broker.url(&format!("/me/activity/{record}"))),
        "{text}"
    );
    assert!(text.contains(&w.broker.url("/me/notices/digest")));
    assert!(!first["raw"].as_str().unwrap().contains(BIRTHDATE));
    assert!(first["messageId"].as_str().unwrap().starts_with("<digest-"));

    // A second use: the next digest lists it alone, never the first again.
    let second_record = fetch_birthdate(&w, &alice).await;
    let second = nth_mail(mail.path(), 2, &w.broker).await;
    let text = second["text"].as_str().unwrap();
    assert!(text.contains(&second_record), "{text}");
    assert!(!text.contains(&record), "{text}");
    assert_ne!(second["messageId"], first["messageId"]);

    // Her settings page lists both, sent (marked so once the SMTP server has answered).
    let services = broker_e2e::services_for(&w.broker.env, &w.conn);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sent = services
            .digests
            .recent(&alice.citizen_id, 10)
            .await
            .unwrap();
        assert_eq!(sent.len(), 2, "{sent:?}");
        if sent.iter().all(|d| d.status == Status::Sent) {
            break;
        }
        assert!(Instant::now() < deadline, "{sent:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(mails_in(mail.path()), 2);
}

#[tokio::test]
async fn a_digest_the_smtp_server_could_not_take_is_sent_once_by_the_next_broker_process() {
    let mail = temp_dir();
    // No SMTP server yet on this port: the first broker cannot hand the digest over.
    let port = free_port();
    let mut w = World::start(digest_env(port, "weekly")).await;
    let alice = signed_in(&w.conn, &w.broker, 3).await;
    alice_with_consent(&w, &alice).await;
    fetch_birthdate(&w, &alice).await;
    let services = broker_e2e::services_for(&w.broker.env, &w.conn);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let recent = services.digests.recent(&alice.citizen_id, 5).await.unwrap();
        if recent.len() == 1 && w.broker.log_text().contains("notice digest not sent") {
            assert_eq!(recent[0].status, Status::Pending, "{recent:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no failed attempt; log:\n{}",
            w.broker.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The broker dies; the SMTP server comes up, busy at first (451: try again later).
    w.broker.kill();
    let _smtp = Peer::start(
        "mailbox.mjs",
        &[
            "--port".into(),
            port.to_string(),
            "--dir".into(),
            mail.path().display().to_string(),
            "--fail-first".into(),
            "1".into(),
        ],
    );
    let mut next = Broker::spawn(
        w.db.url(),
        &w.broker.data_dir,
        digest_env(port, "weekly"),
        &["serve"],
    );
    next.wait_ready(Duration::from_secs(60)).await;
    let mail_1 = nth_mail(mail.path(), 1, &next).await;
    assert_eq!(mail_1["envelope"]["to"], json!([ADDRESS]));
    assert_eq!(mail_1["contentLanguage"], "en");
    // Sent, once: the digest is marked sent, and later turns of the job send nothing more.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let recent = services.digests.recent(&alice.citizen_id, 5).await.unwrap();
        if recent.first().is_some_and(|d| d.status == Status::Sent) {
            assert_eq!(recent.len(), 1, "{recent:?}");
            break;
        }
        assert!(Instant::now() < deadline, "{recent:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(mails_in(mail.path()), 1);
    // The operator sees it: one try refused for now (451), then one sent.
    let metrics = reqwest::get(next.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("broker_notice_digests_total{outcome=\"retry\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("broker_notice_digests_total{outcome=\"sent\"} 1"));
}
