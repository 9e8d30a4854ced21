//! A change a delegate enters for the person they act for reaches the departments she chose to
//! share it with, and every SET it leads to names the delegate (RFC 8693 `act`) in that
//! department's pairwise terms; a change she enters herself names nobody.

use std::time::Duration;

use broker_e2e::citizens::{SignedIn, signed_in};
use services::consents::delegations::{self, Offeror, TermsInput};

use super::*;

async fn post(relay: &Relay, who: &SignedIn, path: &str, fields: &[(&str, &str)]) -> u16 {
    let mut form: Vec<(&str, &str)> = vec![("csrf_token", who.csrf.as_str())];
    form.extend_from_slice(fields);
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(relay.broker.url(path))
        .header("Cookie", format!("tuo_session={}", who.cookie))
        .form(&form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn address(street: &'static str) -> [(&'static str, &'static str); 6] {
    [
        ("attribute", "address"),
        ("street_address", street),
        ("locality", "Gatineau"),
        ("region", "QC"),
        ("postal_code", "J8Y 2B2"),
        ("country", "CA"),
    ]
}

#[tokio::test]
async fn delegation_a_delegates_change_is_pushed_with_act_naming_the_delegate() {
    let relay = Relay::start(&[], fast_env()).await;
    let alice = signed_in(&relay.conn, &relay.broker, 2).await;
    let bob = signed_in(&relay.conn, &relay.broker, 2).await;
    relay
        .ongoing(&alice.citizen_id, REVENUE, BENEFITS, &["address"])
        .await;
    let ledger = &relay.services.ledger;
    let offered = delegations::offer(
        ledger,
        Offeror::Citizen(&alice.citizen_id),
        TermsInput {
            powers: vec!["change_facts".into()],
            purposes: vec![BENEFITS.into()],
            attributes: vec!["address".into()],
            duration_days: 30,
            valid_until_ms: None,
            may_delegate: false,
            label: "Alice".into(),
        },
    )
    .await
    .unwrap();
    let d = delegations::accept(ledger, &bob.citizen_id, &offered.invitation)
        .await
        .unwrap();
    let id = d.id().to_string();

    // Bob acts for her on the pages and enters her new address once.
    assert_eq!(
        post(&relay, &bob, "/me/acting-for", &[("delegation", &id)]).await,
        303
    );
    assert_eq!(
        post(&relay, &bob, "/me/update", &address("7 Rue des Pins")).await,
        303
    );
    relay
        .wait_until("the delegate's change", Duration::from_secs(20), || async {
            relay.deliveries("delivered").await.len() == 1
        })
        .await;
    let sector = departments::get(&relay.conn, REVENUE)
        .await
        .unwrap()
        .unwrap()
        .sector_identifier;
    let pairwise =
        |citizen: &str| services::citizens::pairwise::compute(&relay.pairwise, &sector, citizen);
    let received = relay.received("revenue").await;
    assert_eq!(received.len(), 1, "{received:?}");
    let payload = &received[0]["payload"];
    assert_eq!(payload["sub"], pairwise(&alice.citizen_id).as_str());
    assert_eq!(
        payload["act"],
        serde_json::json!({ "sub": pairwise(&bob.citizen_id) })
    );
    assert_ne!(
        payload["act"]["sub"],
        bob.citizen_id.as_str(),
        "never the internal id"
    );

    // Her own change names nobody.
    assert_eq!(
        post(&relay, &alice, "/me/update", &address("9 Rue des Pins")).await,
        303
    );
    relay
        .wait_until("her own change", Duration::from_secs(20), || async {
            relay.deliveries("delivered").await.len() == 2
        })
        .await;
    let received = relay.received("revenue").await;
    assert_eq!(received.len(), 2, "{received:?}");
    assert!(
        received
            .iter()
            .filter(|r| r["payload"].get("act").is_none())
            .count()
            == 1,
        "{received:?}"
    );
}
