//! The consent pages and ledger in process: the real application (`server::app`) over a test
//! database (SQLite or PostgreSQL per `TUO_TEST_DATABASE`), citizens signed in with real sessions.

use actix_web::test;
use consent::{DAY_MS, State};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use services::consents::ledger::{self, RequestInput};

use services::sessions::{NewSession, Role};

pub(super) struct Harness {
    pub state: crate::testing::TestWeb,
}

impl Harness {
    pub async fn new() -> Self {
        Self {
            state: crate::testing::TestWeb::new().await,
        }
    }

    /// A citizen with a live session: (citizen id, session cookie value, CSRF token).
    pub async fn citizen(&self) -> (String, String, String) {
        let id = services::citizens::create(&self.state.db, &self.state.vault)
            .await
            .unwrap();
        let (token, s) = services::sessions::start(
            &self.state.db,
            &self.state.sessions.settings,
            NewSession {
                citizen_id: Some(id.clone()),
                role: Role::Citizen,
                provider_id: None,
                loa: 2,
                id_token_hint: None,
            },
        )
        .await
        .unwrap();
        (id, token, s.csrf_token)
    }

    /// A department's request for `citizen`, as the API would record it.
    pub async fn request(
        &self,
        department: &str,
        citizen: &str,
        attributes: &[&str],
        purpose: &str,
        days: i64,
    ) -> consent::Consent {
        let dept = services::departments::get(&self.state.db, department)
            .await
            .unwrap()
            .unwrap();
        let subject = services::citizens::pairwise::subject_for(
            &self.state.db,
            &self.state.secrets.pairwise,
            &dept.sector_identifier,
            citizen,
        )
        .await
        .unwrap();
        ledger::request(
            &self.state.ledger,
            &dept,
            "test-client",
            RequestInput {
                subject,
                attributes: attributes.iter().map(|a| (*a).to_owned()).collect(),
                purpose: purpose.to_owned(),
                mode: "ongoing".to_owned(),
                duration_days: Some(days),
                return_url: Some("https://esd.example/pension/return".to_owned()),
            },
        )
        .await
        .unwrap()
    }

    pub async fn counts(&self) -> (u64, u64, u64) {
        self.state.audit.settle().await.unwrap();
        let db = &self.state.db;
        let ledger = services::consents::counts(db).await.unwrap();
        (
            ledger.events,
            ledger.receipts,
            services::audit_log::entities::record::Entity::find()
                .count(db)
                .await
                .unwrap(),
        )
    }
}

fn get(path: &str, cookie: &str, lang: &str) -> test::TestRequest {
    test::TestRequest::get()
        .uri(path)
        .insert_header(("Cookie", format!("tuo_session={cookie}")))
        .insert_header(("Accept-Language", lang))
        .insert_header(("Accept", "text/html"))
}

fn post(path: &str, cookie: &str, body: &str) -> test::TestRequest {
    test::TestRequest::post()
        .uri(path)
        .insert_header(("Cookie", format!("tuo_session={cookie}")))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .insert_header(("Accept", "text/html"))
        .set_payload(body.to_owned())
}

/// Sends one request: (status, body, `Location`).
macro_rules! call {
    ($app:expr, $req:expr $(,)?) => {{
        let res = test::call_service(&$app, $req.to_request()).await;
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = test::read_body(res).await;
        (
            status,
            String::from_utf8_lossy(&body).into_owned(),
            location,
        )
    }};
}

mod language;

#[tokio::test]
async fn a_request_accepted_in_part_gets_a_receipt_and_is_revoked_with_audit_records() {
    let h = Harness::new().await;
    let (citizen, cookie, csrf) = h.citizen().await;
    let req = h
        .request(
            "employment-social-development",
            &citizen,
            &["birthdate", "address"],
            "pension-enrolment",
            90,
        )
        .await;
    let app = test::init_service(crate::app(h.state.web.clone())).await;
    let id = req.id().to_string();

    let (status, html, _) = call!(app, get("/me/requests", &cookie, "en"));
    assert_eq!(status, 200);
    assert!(html.contains(&format!("/me/requests/{id}")), "{html}");
    assert!(html.contains("Employment and Social Development asks for your consent"));

    // Accept part: one attribute, 30 days instead of 90.
    let before = h.counts().await;
    let (status, _, res) = call!(
        app,
        post(
            &format!("/me/requests/{id}/accept"),
            &cookie,
            &format!("csrf_token={csrf}&attribute=birthdate&duration_days=30"),
        ),
    );
    assert_eq!(status, 303);
    assert_eq!(res, format!("/me/consents/{id}?done=granted"));
    let after = h.counts().await;
    assert_eq!(
        (after.0 - before.0, after.1 - before.1, after.2 - before.2),
        (1, 1, 1)
    );
    let consent = services::consents::load(&h.state.db, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(consent.recorded_state(), State::Active);
    assert_eq!(consent.attributes().collect::<Vec<_>>(), vec!["birthdate"]);
    let grant = consent.grant().unwrap();
    assert_eq!(grant.expires_at_ms - grant.granted_at_ms, 30 * DAY_MS);

    // The receipt: on the page, as a download, and verified against the keys and the ledger.
    let (status, html, _) = call!(
        app,
        get(&format!("/me/consents/{id}?done=granted"), &cookie, "en")
    );
    assert_eq!(status, 200);
    assert!(html.contains("Your consent is recorded"), "{html}");
    assert!(
        html.contains("https:&#x2f;&#x2f;esd.example&#x2f;pension&#x2f;return"),
        "{html}"
    );
    let (status, jws, _) = call!(
        app,
        get(&format!("/me/consents/{id}/receipt.jwt"), &cookie, "en"),
    );
    assert_eq!(status, 200);
    let verified =
        services::consents::receipts::verify(&h.state.db, &h.state.keys, &jws, store::now_ms())
            .await
            .unwrap();
    assert_eq!(verified.consent_state, "active");
    assert_eq!(verified.attributes, vec!["birthdate"]);
    let claims = services::consents::receipts::decode(&jws).unwrap();
    let sector = services::departments::get(&h.state.db, "employment-social-development")
        .await
        .unwrap()
        .unwrap()
        .sector_identifier;
    assert_eq!(
        claims.claims.pii_principal_id,
        services::citizens::pairwise::compute(&h.state.secrets.pairwise, &sector, &citizen),
        "the receipt names the citizen by the recipient's pairwise id"
    );
    assert_ne!(claims.claims.pii_principal_id, citizen);
    let (status, html, _) = call!(
        app,
        get(&format!("/me/consents/{id}/receipt"), &cookie, "en"),
    );
    assert_eq!(status, 200);
    assert!(html.contains(&claims.claims.consent_receipt_id));

    // Withdraw: a confirmation page, then the POST.
    let (status, html, _) = call!(
        app,
        get(&format!("/me/consents/{id}/revoke"), &cookie, "en"),
    );
    assert_eq!(status, 200);
    assert!(html.contains("Yes, withdraw my consent"));
    let (status, _, res) = call!(
        app,
        post(
            &format!("/me/consents/{id}/revoke"),
            &cookie,
            &format!("csrf_token={csrf}"),
        ),
    );
    assert_eq!(status, 303);
    assert_eq!(res, format!("/me/consents/{id}?done=revoked"));
    let consent = services::consents::load(&h.state.db, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(consent.recorded_state(), State::Revoked);
    let verified =
        services::consents::receipts::verify(&h.state.db, &h.state.keys, &jws, store::now_ms())
            .await
            .unwrap();
    assert_eq!(verified.consent_state, "revoked");
    // The release path sees the revocation at once.
    assert!(
        !consent
            .covers("birthdate", "pension-enrolment", store::now_ms())
            .is_covered()
    );

    h.state.audit.settle().await.unwrap();
    let actions: Vec<String> = services::audit_log::entities::record::Entity::find()
        .all(&h.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(
        actions,
        vec!["consent-requested", "consent-granted", "consent-revoked"]
    );
}

#[tokio::test]
async fn a_missing_or_wrong_csrf_token_is_403_and_changes_nothing() {
    let h = Harness::new().await;
    let (citizen, cookie, csrf) = h.citizen().await;
    let pending = h
        .request(
            "employment-social-development",
            &citizen,
            &["birthdate"],
            "pension-enrolment",
            30,
        )
        .await;
    let app = test::init_service(crate::app(h.state.web.clone())).await;
    // An active consent to try to withdraw.
    let (status, _, res) = call!(
        app,
        post(
            "/me/consents",
            &cookie,
            &format!(
                "csrf_token={csrf}&department=revenue-agency&purpose=benefit-eligibility&mode=once&attribute=address&duration_days=30"
            ),
        ),
    );
    assert_eq!(status, 303);
    let active = res
        .trim_start_matches("/me/consents/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let p = pending.id();
    let before = h.counts().await;
    for token in ["", "csrf_token=wrong&", "csrf_token=&"] {
        for (path, rest) in [
            (format!("/me/requests/{p}/accept"), "attribute=birthdate"),
            (format!("/me/requests/{p}/refuse"), ""),
            (format!("/me/consents/{active}/revoke"), ""),
            (
                "/me/consents".to_owned(),
                "department=revenue-agency&purpose=benefit-eligibility&mode=ongoing&attribute=email&duration_days=30",
            ),
        ] {
            let (status, html, _) = call!(app, post(&path, &cookie, &format!("{token}{rest}")));
            assert_eq!(status, 403, "{path} with `{token}`");
            assert!(html.contains("csrf_failed"), "{html}");
        }
    }
    assert_eq!(h.counts().await, before, "no event, receipt or audit row");
    assert_eq!(
        services::consents::load(&h.state.db, &p.to_string())
            .await
            .unwrap()
            .unwrap()
            .recorded_state(),
        State::Requested
    );
}

#[tokio::test]
async fn refused_form_input_is_shown_again_with_its_reason_and_writes_nothing() {
    let h = Harness::new().await;
    let (citizen, cookie, csrf) = h.citizen().await;
    let req = h
        .request(
            "employment-social-development",
            &citizen,
            &["birthdate", "address"],
            "pension-enrolment",
            30,
        )
        .await;
    let app = test::init_service(crate::app(h.state.web.clone())).await;
    let id = req.id();
    let before = h.counts().await;
    let accept = format!("/me/requests/{id}/accept");
    let cases: Vec<(String, String, u16, &str)> = vec![
        (accept.clone(), "duration_days=30".into(), 422, "Select at least one piece"),
        (
            accept.clone(),
            "attribute=email&duration_days=30".into(),
            422,
            "only share information the department asked for",
        ),
        (
            accept.clone(),
            "attribute=birthdate&duration_days=31".into(),
            422,
            "no longer than the department asked",
        ),
        (
            accept.clone(),
            "attribute=birthdate&duration_days=abc".into(),
            422,
            "Choose for how long",
        ),
        (
            "/me/consents".into(),
            "department=revenue-agency&purpose=benefit-eligibility&mode=once&duration_days=30".into(),
            422,
            "Select at least one piece",
        ),
        (
            "/me/consents".into(),
            "department=revenue-agency&purpose=benefit-eligibility&mode=once&attribute=address&duration_days=400".into(),
            422,
            "at most the maximum",
        ),
        (
            "/me/consents".into(),
            "department=passport-office&purpose=benefit-eligibility&mode=once&attribute=address&duration_days=30".into(),
            422,
            "The rules do not let this department",
        ),
        (
            "/me/consents".into(),
            "department=nowhere&purpose=benefit-eligibility&mode=once&attribute=address&duration_days=30".into(),
            422,
            "Choose a department from the list",
        ),
        (
            "/me/consents".into(),
            "department=revenue-agency&purpose=benefit-eligibility&mode=sometimes&attribute=address&duration_days=30".into(),
            422,
            "Choose how to share",
        ),
        (
            format!("/me/consents/{id}/revoke"),
            String::new(),
            409,
            "not active, so it cannot be withdrawn",
        ),
    ];
    for (path, body, expected, message) in cases {
        let (status, html, _) = call!(
            app,
            post(&path, &cookie, &format!("csrf_token={csrf}&{body}")),
        );
        assert_eq!(status, expected, "{path} {body}: {html}");
        assert!(html.contains(message), "{path} {body}: {html}");
        assert!(html.contains("There is a problem"), "{path}: error summary");
    }
    assert_eq!(h.counts().await, before);

    // A second active consent identical to an existing one is refused.
    let grant = format!(
        "csrf_token={csrf}&department=revenue-agency&purpose=benefit-eligibility&mode=once&attribute=address&duration_days=30"
    );
    let (status, _, _) = call!(app, post("/me/consents", &cookie, &grant));
    assert_eq!(status, 303);
    let before = h.counts().await;
    let (status, html, _) = call!(app, post("/me/consents", &cookie, &grant));
    assert_eq!(status, 409);
    assert!(html.contains("already have the same consent"), "{html}");
    assert_eq!(h.counts().await, before);

    // Another citizen's consent does not exist for this one.
    let (_, other_cookie, other_csrf) = h.citizen().await;
    let (status, _, _) = call!(app, get(&format!("/me/requests/{id}"), &other_cookie, "en"));
    assert_eq!(status, 404);
    let (status, _, _) = call!(
        app,
        post(
            &format!("/me/requests/{id}/refuse"),
            &other_cookie,
            &format!("csrf_token={other_csrf}"),
        ),
    );
    assert_eq!(status, 404);
    assert_eq!(h.counts().await, before);
}

#[tokio::test]
async fn the_sweep_records_each_expiry_once_with_an_audit_record() {
    let h = Harness::new().await;
    let (citizen, _, _) = h.citizen().await;
    let who = services::consents::ledger::Citizen {
        id: &citizen,
        loa: 2,
        lang: crate::i18n::Lang::En,
    };
    let (short, _) = ledger::grant_own(
        &h.state.ledger,
        &who,
        services::consents::ledger::GrantInput {
            department: "revenue-agency".into(),
            purpose: "benefit-eligibility".into(),
            mode: "once".into(),
            attributes: vec!["address".into()],
            duration_days: Some(7),
        },
    )
    .await
    .unwrap();
    let (long, _) = ledger::grant_own(
        &h.state.ledger,
        &who,
        services::consents::ledger::GrantInput {
            department: "revenue-agency".into(),
            purpose: "benefit-eligibility".into(),
            mode: "ongoing".into(),
            attributes: vec!["address".into()],
            duration_days: Some(90),
        },
    )
    .await
    .unwrap();
    let now = store::now_ms();
    assert_eq!(
        services::consents::expiry::sweep(&h.state.ledger, now)
            .await
            .unwrap(),
        0
    );
    let later = now + 8 * DAY_MS;
    assert_eq!(
        services::consents::expiry::sweep(&h.state.ledger, later)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        services::consents::expiry::sweep(&h.state.ledger, later)
            .await
            .unwrap(),
        0,
        "recorded once"
    );
    let short = services::consents::load(&h.state.db, &short.id().to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(short.recorded_state(), State::Expired);
    assert_eq!(
        short.history().last().unwrap().actor.id,
        services::consents::expiry::SWEEP_ACTOR
    );
    let long = services::consents::load(&h.state.db, &long.id().to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(long.recorded_state(), State::Active);
    h.state.audit.settle().await.unwrap();
    let expired = services::audit_log::entities::record::Entity::find()
        .filter(services::audit_log::entities::record::Column::Action.eq("consent-expired"))
        .all(&h.state.db)
        .await
        .unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].citizen_id.as_deref(), Some(citizen.as_str()));
}
