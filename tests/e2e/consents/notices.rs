//! Access notices end to end (issue 15 §1): a department fetches a citizen's birthdate from the
//! real broker; the citizen's dashboard counts one new notice, `/me/notices` shows it (who, which
//! information, why — never the value) in English and in French with a link to its record and
//! proof, and once seen the dashboard counts none. A department's refused call names the citizen
//! too, and becomes the next notice.

use broker_e2e::citizens::{pairwise_subject, signed_in};
use serde_json::json;
use services::citizens::{Provenance, SourceKind};

use super::*;

const BIRTHDATE: &str = "1961-07-23";

async fn integrated(w: &World) {
    audit_settled(&w.conn).await;
}

#[tokio::test]
async fn a_release_becomes_a_notice_counted_on_the_dashboard_until_seen_and_shows_no_value() {
    let w = World::start(BrokerEnv::default()).await;
    let alice = signed_in(&w.conn, &w.broker, 3).await;
    let services = broker_e2e::services_for(&w.broker.env, &w.conn);
    let provenance = Provenance {
        source_kind: SourceKind::Department,
        source_id: "vital-statistics".to_owned(),
        method: "registry".to_owned(),
        loa: 3,
        verified: true,
        recorded_at: store::now_ms(),
    };
    services::citizens::record(
        &w.conn,
        &services.vault,
        &alice.citizen_id,
        "birthdate",
        &json!(BIRTHDATE),
        &provenance,
    )
    .await
    .unwrap();
    pension_consent(&w, &alice.citizen_id, ::consent::Mode::Once).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = format!("tuo_session={}", alice.cookie);
    let page = |path: &'static str, lang: &'static str| {
        let http = http.clone();
        let cookie = cookie.clone();
        let url = w.broker.url(path);
        async move {
            let res = http
                .get(url)
                .header("Cookie", cookie)
                .header("Accept-Language", lang)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{path}");
            res.text().await.unwrap()
        }
    };
    integrated(&w).await;
    assert!(page("/me", "en").await.contains("No new notice."));

    // The pension office fetches her birthdate.
    let sub = pairwise_subject(&w.conn, &w.broker, ESD_SECTOR, &alice.citizen_id).await;
    let token = w.token(&w.esd);
    let released = http
        .get(w.broker.url(&format!(
            "/api/v1/subjects/{sub}/attributes?claims=birthdate&purpose=pension-enrolment"
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(released.status(), 200);
    integrated(&w).await;

    let dashboard = page("/me", "en").await;
    assert!(
        dashboard.contains("1 new notices about the use of your information."),
        "{dashboard}"
    );
    let dashboard_fr = page("/me", "fr").await;
    assert!(dashboard_fr.contains("1 nouveaux avis"), "{dashboard_fr}");

    let notices = page("/me/notices", "fr").await;
    assert!(notices.contains("Mes avis"), "{notices}");
    assert!(notices.contains("Nouveau"), "{notices}");
    assert!(notices.contains("href=\"/me/activity/"), "{notices}");
    assert!(
        !notices.contains(BIRTHDATE),
        "a notice never shows the value"
    );
    // Seen: no longer counted, no longer new.
    assert!(page("/me", "en").await.contains("No new notice."));
    let again = page("/me/notices", "en").await;
    assert!(
        again.contains("Nothing new since you last looked."),
        "{again}"
    );
    assert!(
        again.contains("Date of birth") || again.contains("birthdate"),
        "{again}"
    );

    // A refused call that names her is a notice too.
    let refused = http
        .get(w.broker.url(&format!(
            "/api/v1/subjects/{sub}/attributes?claims=marital_status&purpose=pension-enrolment"
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    integrated(&w).await;
    assert!(
        page("/me", "en")
            .await
            .contains("1 new notices about the use of your information.")
    );
    // Only for a signed-in citizen.
    let anonymous = http.get(w.broker.url("/me/notices")).send().await.unwrap();
    assert_eq!(anonymous.status(), 303);
}
