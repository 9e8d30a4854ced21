//! The citizen's pages: preview lists who will receive a change, confirming records it and shows
//! each department's status (refreshing while pending); a change nobody receives sends nothing
//! and says so; a withdrawn consent is pushed to the department that held it.

use std::time::Duration;

use broker_e2e::citizens::{SignedIn, signed_in};
use serde_json::json;

use super::*;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get_page(relay: &Relay, who: &SignedIn, path: &str) -> (u16, String) {
    let res = client()
        .get(relay.broker.url(path))
        .header("Cookie", format!("tuo_session={}", who.cookie))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn post_page(
    relay: &Relay,
    who: &SignedIn,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, Option<String>, String) {
    let mut form: Vec<(&str, &str)> = vec![("csrf_token", who.csrf.as_str())];
    form.extend_from_slice(fields);
    let res = client()
        .post(relay.broker.url(path))
        .header("Cookie", format!("tuo_session={}", who.cookie))
        .header("Accept", "text/html")
        .form(&form)
        .send()
        .await
        .unwrap();
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (res.status().as_u16(), location, res.text().await.unwrap())
}

const NEW_ADDRESS: [(&str, &str); 6] = [
    ("attribute", "address"),
    ("street_address", "42 Rue du Moulin"),
    ("locality", "Gatineau"),
    ("region", "QC"),
    ("postal_code", "J8Y 2B2"),
    ("country", "CA"),
];

#[tokio::test]
async fn a_citizen_previews_who_receives_a_move_confirms_and_watches_it_arrive() {
    let relay = Relay::start(&[], fast_env()).await;
    let who = signed_in(&relay.conn, &relay.broker, 2).await;
    relay
        .ongoing(&who.citizen_id, REVENUE, BENEFITS, &["address"])
        .await;
    relay
        .ongoing(&who.citizen_id, ESD, PENSION, &["address"])
        .await;
    let (status, form) = get_page(&relay, &who, "/me/update").await;
    assert_eq!(status, 200);
    assert!(form.contains("action=\"/me/update/preview\""));
    let before = relay.counts().await;
    let (status, _, preview) = post_page(&relay, &who, "/me/update/preview", &NEW_ADDRESS).await;
    assert_eq!(status, 200, "{preview}");
    assert!(preview.contains("Revenue Agency"), "{preview}");
    assert!(
        preview.contains("Employment and Social Development"),
        "{preview}"
    );
    assert!(!preview.contains("Health Insurance Plan"), "{preview}");
    assert!(!preview.contains("id=\"no-recipients\""));
    // The preview writes nothing.
    assert_eq!(relay.counts().await, before);
    let (status, location, _) = post_page(&relay, &who, "/me/update", &NEW_ADDRESS).await;
    assert_eq!(status, 303);
    let location = location.unwrap();
    assert!(location.starts_with("/me/updates/"), "{location}");
    // The value is the citizen's own, at the session's level of assurance.
    let fact = citizens::current_fact(&relay.conn, &relay.vault, &who.citizen_id, "address")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fact.value["street_address"], "42 Rue du Moulin");
    assert_eq!(fact.provenance.source_kind, SourceKind::Citizen);
    assert_eq!(fact.provenance.loa, 2);
    relay
        .wait_until("both deliveries", Duration::from_secs(20), || async {
            relay.deliveries("delivered").await.len() == 2
        })
        .await;
    let (status, page) = get_page(&relay, &who, &location).await;
    assert_eq!(status, 200);
    assert_eq!(
        page.matches("data-status=\"delivered\"").count(),
        2,
        "{page}"
    );
    assert!(
        !page.contains("http-equiv=\"refresh\""),
        "nothing pending: no refresh"
    );
    // Another citizen cannot see it.
    let other = signed_in(&relay.conn, &relay.broker, 2).await;
    let (status, _) = get_page(&relay, &other, &location).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_pending_delivery_shows_its_next_attempt_and_the_page_refreshes_itself_when_asked() {
    let relay = Relay::start(&["revenue=never"], fast_env()).await;
    let who = signed_in(&relay.conn, &relay.broker, 2).await;
    relay
        .ongoing(&who.citizen_id, REVENUE, BENEFITS, &["address"])
        .await;
    let (_, location, _) = post_page(&relay, &who, "/me/update", &NEW_ADDRESS).await;
    let location = location.unwrap();
    let (status, page) = get_page(&relay, &who, &location).await;
    assert_eq!(status, 200);
    assert!(page.contains("data-status=\"pending\""), "{page}");
    assert!(page.contains("Next attempt"), "{page}");
    // It refreshes itself only when the citizen asks (WCAG 2.2.1), and they can stop it.
    assert!(!page.contains("http-equiv=\"refresh\""), "{page}");
    assert!(
        page.contains("?auto=1\">Refresh this page every 5 seconds"),
        "{page}"
    );
    let (_, page) = get_page(&relay, &who, &format!("{location}?auto=1")).await;
    assert!(page.contains("http-equiv=\"refresh\""), "{page}");
    assert!(page.contains("Stop refreshing"), "{page}");
}

/// The citizen's page says what happened to a dead letter: refused by the department on the first
/// attempt, or unreachable after several; in English and in French. What is stored of the
/// receiver's answer is a class, a code and a short clean excerpt.
#[tokio::test]
async fn a_dead_letter_is_worded_by_what_happened_and_how_many_attempts() {
    let env = fast_env().set("BROKER_RELAY__MAX_ATTEMPTS", "2");
    let relay = Relay::start(&["revenue=reject", "esd=fail-then-ok:99"], env).await;
    let who = signed_in(&relay.conn, &relay.broker, 2).await;
    relay
        .ongoing(&who.citizen_id, REVENUE, BENEFITS, &["address"])
        .await;
    relay
        .ongoing(&who.citizen_id, ESD, PENSION, &["address"])
        .await;
    let (_, location, _) = post_page(&relay, &who, "/me/update", &NEW_ADDRESS).await;
    let location = location.unwrap();
    relay
        .wait_until("two dead letters", Duration::from_secs(20), || async {
            relay.deliveries("failed").await.len() == 2
        })
        .await;
    let failed = relay.deliveries("failed").await;
    let stored = |department: &str| {
        let row = failed
            .iter()
            .find(|d| d.department_id == department)
            .unwrap();
        (row.attempts, row.last_error.clone().unwrap())
    };
    let (attempts, refused) = stored(REVENUE);
    assert_eq!(attempts, 1);
    assert_eq!(
        refused, "refused: access_denied: http status 400: this department refuses the event",
        "class, code, excerpt"
    );
    let (attempts, unreachable) = stored(ESD);
    assert_eq!(attempts, 2);
    assert!(
        unreachable.starts_with("unreachable: http_500: "),
        "{unreachable}"
    );
    assert!(!unreachable.contains("Moulin") && !refused.contains("Moulin"));

    let (status, page) = get_page(&relay, &who, &location).await;
    assert_eq!(status, 200);
    assert_eq!(page.matches("data-status=\"failed\"").count(), 2, "{page}");
    assert!(
        page.contains("The department&#x27;s system refused it on the first attempt.")
            || page.contains("The department's system refused it on the first attempt."),
        "{page}"
    );
    assert!(
        page.contains("could not be reached; we tried 2 times."),
        "{page}"
    );
    assert!(!page.contains("several attempts"), "{page}");
    assert_eq!(page.matches("Our operators have been told.").count(), 2);

    let res = client()
        .get(relay.broker.url(&location))
        .header("Cookie", format!("tuo_session={}", who.cookie))
        .header("Accept", "text/html")
        .header("Accept-Language", "fr-CA,fr;q=0.9")
        .send()
        .await
        .unwrap();
    let page = res.text().await.unwrap();
    assert!(page.contains("dès la première tentative"), "{page}");
    assert!(page.contains("nous avons essayé 2 fois"), "{page}");
    assert_eq!(page.matches("Nos opérateurs en ont été avisés.").count(), 2);
}

#[tokio::test]
async fn a_change_nobody_receives_sends_nothing_and_the_page_says_so() {
    let relay = Relay::start(&[], fast_env()).await;
    let who = signed_in(&relay.conn, &relay.broker, 3).await;
    // A `once` consent is not a reason to push.
    let (status, _, preview) = post_page(&relay, &who, "/me/update/preview", &NEW_ADDRESS).await;
    assert_eq!(status, 200);
    assert!(preview.contains("id=\"no-recipients\""), "{preview}");
    let (status, location, _) = post_page(&relay, &who, "/me/update", &NEW_ADDRESS).await;
    assert_eq!(status, 303);
    let (_, page) = get_page(&relay, &who, &location.unwrap()).await;
    assert!(page.contains("id=\"no-recipients\""), "{page}");
    assert!(!page.contains("http-equiv=\"refresh\""));
    assert_eq!(relay.counts().await[1], 0, "no delivery row");
    tokio::time::sleep(Duration::from_millis(500)).await;
    for path in ["revenue", "esd", "health"] {
        assert_eq!(relay.stats(path).await["posts"], 0);
    }
}

#[tokio::test]
async fn a_bad_form_is_shown_again_and_changes_nothing() {
    let relay = Relay::start(&[], fast_env()).await;
    let who = signed_in(&relay.conn, &relay.broker, 2).await;
    let before = relay.counts().await;
    let mut fields = NEW_ADDRESS.to_vec();
    fields[1] = ("street_address", "   ");
    let (status, _, page) = post_page(&relay, &who, "/me/update", &fields).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("error-summary"), "{page}");
    let (status, _, _) = post_page(&relay, &who, "/me/update", &[("attribute", "birthdate")]).await;
    assert_eq!(status, 400);
    // Without the CSRF token: refused.
    let res = client()
        .post(relay.broker.url("/me/update"))
        .header("Cookie", format!("tuo_session={}", who.cookie))
        .form(&NEW_ADDRESS)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(relay.counts().await, before);
}

#[tokio::test]
async fn a_withdrawn_consent_is_pushed_to_the_department_that_held_it() {
    let relay = Relay::start(&[], fast_env()).await;
    let who = signed_in(&relay.conn, &relay.broker, 2).await;
    let consent = relay
        .ongoing(&who.citizen_id, REVENUE, BENEFITS, &["address"])
        .await;
    let (status, _, body) = post_page(
        &relay,
        &who,
        &format!("/me/consents/{}/revoke", consent.id()),
        &[],
    )
    .await;
    assert_eq!(status, 303, "{body}");
    relay
        .wait_until("the revocation", Duration::from_secs(20), || async {
            relay.stats("revenue").await["accepted"] == 1
        })
        .await;
    let received = relay.received("revenue").await;
    let (uri, event) = event_of(&received[0]);
    assert_eq!(uri, "urn:tell-us-once:secevent:consent-revoked");
    assert_eq!(event["consent_id"], json!(consent.id().to_string()));
    assert_eq!(event["state"], "revoked");
    assert_eq!(event["attributes"], json!(["address"]));
}

/// Two changes of the address before the first went out: the first is never sent, and the
/// citizen's page and the operator's list say it was replaced.
#[tokio::test]
async fn a_change_replaced_before_it_went_out_is_shown_as_replaced() {
    // No worker: nothing goes out while the citizen changes their mind.
    let env = fast_env().set("BROKER_RELAY__WORKER", "false");
    let relay = Relay::start(&[], env).await;
    let who = signed_in(&relay.conn, &relay.broker, 2).await;
    relay
        .ongoing(&who.citizen_id, REVENUE, BENEFITS, &["address"])
        .await;
    let (_, first, _) = post_page(&relay, &who, "/me/update", &NEW_ADDRESS).await;
    let mut second_address = NEW_ADDRESS;
    second_address[1] = ("street_address", "43 Rue du Moulin");
    let (_, second, _) = post_page(&relay, &who, "/me/update", &second_address).await;
    let superseded = relay.deliveries("superseded").await;
    assert_eq!(superseded.len(), 1);
    let pending = relay.deliveries("pending").await;
    assert_eq!(pending.len(), 1);
    assert_eq!(
        superseded[0].last_error.as_deref(),
        Some(format!("superseded: {}", pending[0].id).as_str())
    );
    let (status, page) = get_page(&relay, &who, &first.unwrap()).await;
    assert_eq!(status, 200);
    assert!(page.contains("data-status=\"superseded\""), "{page}");
    assert!(page.contains("Replaced"), "{page}");
    assert!(
        page.contains("a newer change of this information replaced it"),
        "{page}"
    );
    let (_, page) = get_page(&relay, &who, &second.unwrap()).await;
    assert!(page.contains("data-status=\"pending\""), "{page}");
    // The operator's view.
    let url = relay.db.url().to_owned();
    let data_dir = relay.broker.data_dir.display().to_string();
    let (status, out, err) = run_broker(
        &[
            ("BROKER_DATABASE_URL", url.as_str()),
            ("BROKER_DATA_DIR", data_dir.as_str()),
        ],
        &["deliveries", "list", "--status", "superseded"],
    );
    assert!(status.success(), "{out}\n{err}");
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{out}");
    assert!(
        rows[0].contains(&superseded[0].id) && rows[0].contains("\tsuperseded\t"),
        "{out}"
    );
}
