//! Bad input to the consent API and forms: a 4xx problem with a stable code, and nothing written
//! (consents, events, receipts and audit records counted before and after). And a bad catalogue
//! stops `broker serve` with one line naming the entry.

use broker_e2e::citizens::{pairwise_subject, signed_in};
use broker_e2e::departments::call;

use super::*;

#[tokio::test]
async fn bad_requests_are_refused_with_stable_codes_and_write_nothing() {
    let w = World::start(BrokerEnv::default()).await;
    // A department the registry knows but the catalogue does not, and one without the scope.
    let dir = temp_dir();
    let library = register(
        &w.conn,
        dir.path(),
        "municipal-library",
        "library.example",
        "ES256",
        &["consent:request"],
    )
    .await;
    let reader = register(
        &w.conn,
        dir.path(),
        "passport-office",
        "passport.gc.example",
        "ES256",
        &["attributes:read"],
    )
    .await;
    let alice = signed_in(&w.conn, &w.broker, 2).await;
    let sub = pairwise_subject(&w.conn, &w.broker, ESD_SECTOR, &alice.citizen_id).await;
    let library_sub =
        pairwise_subject(&w.conn, &w.broker, "library.example", &alice.citizen_id).await;
    let good = serde_json::json!({
        "subject": sub,
        "attributes": ["birthdate", "address"],
        "purpose": "pension-enrolment",
        "mode": "once",
        "duration_days": 90
    });
    let with = |field: &str, value: serde_json::Value| {
        let mut body = good.clone();
        body[field] = value;
        body.to_string()
    };
    let token = w.token(&w.esd);
    let before = counts(&w.conn).await;

    // Through the real openid-client: the problem document reaches the department intact.
    let out = call(
        &w.broker.base,
        &w.esd,
        None,
        &[
            "--post",
            "/api/v1/consent-requests",
            "--body",
            &with("attributes", serde_json::json!(["birthdate", "shoe_size"])),
        ],
    );
    assert_eq!(out["status"], 422, "{out}");
    assert_eq!(out["json"]["code"], "unknown_attribute");
    assert!(
        out["json"]["detail"]
            .as_str()
            .unwrap()
            .contains("`shoe_size`")
    );

    let http = reqwest::Client::new();
    let url = w.broker.url("/api/v1/consent-requests");
    let send = |token: &str, content_type: &str, body: String| {
        http.post(&url)
            .bearer_auth(token)
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    let json = "application/json";
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            json,
            with("purpose", "tax-audit".into()),
            422,
            "unknown_purpose",
        ),
        (json, with("mode", "weekly".into()), 422, "unknown_mode"),
        (
            json,
            with("subject", "not-a-subject-we-issued".into()),
            422,
            "unknown_subject",
        ),
        (
            json,
            with("duration_days", 400.into()),
            422,
            "duration_beyond_maximum",
        ),
        (
            json,
            with("duration_days", 0.into()),
            422,
            "invalid_duration",
        ),
        (
            json,
            with("duration_days", (-5).into()),
            422,
            "invalid_duration",
        ),
        (
            json,
            with("attributes", serde_json::json!([])),
            422,
            "no_attributes",
        ),
        (
            json,
            with("attributes", serde_json::json!(["birthdate", "email"])),
            422,
            "not_consentable",
        ),
        (
            json,
            with("purpose", "death-notification".into()),
            422,
            "not_consentable",
        ),
        (
            json,
            with("return_url", "javascript:alert(1)".into()),
            422,
            "invalid_return_url",
        ),
        (
            json,
            with("return_url", "http://esd.gc.example/back".into()),
            422,
            "invalid_return_url",
        ),
        (json, "{\"subject\": ".into(), 400, "malformed_json"),
        (json, with("colour", "blue".into()), 400, "malformed_json"),
        (
            json,
            with("attributes", "birthdate".into()),
            400,
            "malformed_json",
        ),
        (
            "text/plain",
            good.to_string(),
            415,
            "unsupported_media_type",
        ),
        (
            json,
            with("return_url", "https://esd.gc.example/".repeat(3000).into()),
            413,
            "payload_too_large",
        ),
    ];
    for (content_type, body, status, code) in cases {
        let res = send(&token, content_type, body.clone()).await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{code}: {body:.200}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{code}"
        );
        let problem: serde_json::Value = res.json().await.unwrap();
        assert_eq!(problem["code"], code, "{problem}");
        assert!(
            !problem["detail"].as_str().unwrap().contains(&sub),
            "{problem}"
        );
    }

    // A department outside the catalogue cannot ask; nor can a client without the scope, nor
    // a caller without a token.
    let library_body = serde_json::json!({
        "subject": library_sub, "attributes": ["address"],
        "purpose": "benefit-eligibility", "mode": "once"
    })
    .to_string();
    let res = send(&w.token(&library), json, library_body).await.unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["code"],
        "unknown_department"
    );
    let res = send(&w.token(&reader), json, good.to_string())
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["code"],
        "insufficient_scope"
    );
    let res = http.post(&url).json(&good).send().await.unwrap();
    assert_eq!(res.status(), 401);
    // Nothing written but the one audit record of the identified refusal (the client without
    // the scope); the caller without a token identified nobody, so wrote nothing.
    let after = counts(&w.conn).await;
    assert_eq!(after[..3], before[..3], "nothing written");
    assert_eq!(after[3], before[3] + 1, "the scope refusal is audited");

    // A good request, then the identical one again: a conflict, and still one request.
    let res = send(&token, json, good.to_string()).await.unwrap();
    assert_eq!(res.status(), 201);
    let id = res.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let after_one = counts(&w.conn).await;
    let res = send(&token, json, good.to_string()).await.unwrap();
    assert_eq!(res.status(), 409);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["code"],
        "consent_duplicate"
    );
    assert_eq!(counts(&w.conn).await, after_one);

    // Reading: another department's id, a made-up id and a malformed one are all 404.
    for (dept, path) in [
        (&w.revenue, format!("/api/v1/consent-requests/{id}")),
        (
            &w.esd,
            format!("/api/v1/consent-requests/{}", uuid::Uuid::now_v7()),
        ),
        (&w.esd, "/api/v1/consent-requests/..%2F..%2Fetc".to_owned()),
    ] {
        let res = http
            .get(w.broker.url(&path))
            .bearer_auth(w.token(dept))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }

    // A receipt that is not one.
    let (status, body) = super::verify_receipt(&w.broker, "not.a.receipt").await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "receipt_malformed");
}

#[tokio::test]
async fn a_form_without_the_right_csrf_token_is_403_and_changes_nothing() {
    let w = World::start(BrokerEnv::default()).await;
    let alice = signed_in(&w.conn, &w.broker, 2).await;
    let sub = pairwise_subject(&w.conn, &w.broker, ESD_SECTOR, &alice.citizen_id).await;
    let out = call(
        &w.broker.base,
        &w.esd,
        None,
        &[
            "--post",
            "/api/v1/consent-requests",
            "--body",
            &serde_json::json!({
                "subject": sub, "attributes": ["birthdate"],
                "purpose": "pension-enrolment", "mode": "once"
            })
            .to_string(),
        ],
    );
    assert_eq!(out["status"], 201, "{out}");
    let id = out["json"]["id"].as_str().unwrap().to_owned();
    let before = counts(&w.conn).await;
    let http = browser_client();
    for token in ["", "csrf_token=forged&", "csrf_token=&"] {
        for path in [
            format!("/me/requests/{id}/accept"),
            format!("/me/requests/{id}/refuse"),
            "/me/consents".to_owned(),
        ] {
            let res = http
                .post(w.broker.url(&path))
                .header("Cookie", format!("tuo_session={}", alice.cookie))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(format!(
                    "{token}attribute=birthdate&duration_days=30&department={ESD}&purpose=pension-enrolment&mode=once"
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 403, "{path} `{token}`");
            let problem: serde_json::Value = res.json().await.unwrap();
            assert_eq!(problem["code"], "csrf_failed");
        }
    }
    assert_eq!(counts(&w.conn).await, before, "no new consent_events row");
    // The right token works (the check is not simply refusing everything).
    let res = http
        .post(w.broker.url(&format!("/me/requests/{id}/refuse")))
        .header("Cookie", format!("tuo_session={}", alice.cookie))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("csrf_token={}", alice.csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(counts(&w.conn).await[1], before[1] + 1);
}

#[tokio::test]
async fn a_bad_catalogue_stops_serve_with_one_line_naming_the_entry() {
    let dir = temp_dir();
    let catalogue = dir.path().join("catalogue");
    std::fs::create_dir_all(&catalogue).unwrap();
    for entry in std::fs::read_dir(repo_root().join("policies").join("catalogue")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), catalogue.join(entry.file_name())).unwrap();
    }
    let purposes = catalogue.join("purposes.toml");
    let mut text = std::fs::read_to_string(&purposes).unwrap();
    text.push_str(
        "\n[[purpose]]\ncode = \"library-card\"\ncategory = \"leisure\"\nlegal_basis = \"By-law 12\"\n\
         legal_basis_fr = \"Règlement 12\"\ntext_en = \"To issue a library card.\"\n",
    );
    std::fs::write(&purposes, text).unwrap();
    let db = TestDb::new().await.unwrap();
    let data_dir = dir.path().join("data");
    let (data, cat) = (
        data_dir.display().to_string(),
        catalogue.display().to_string(),
    );
    let (status, _, err) = run_broker(
        &[
            ("BROKER_DATA_DIR", &data),
            ("BROKER_DATABASE_URL", db.url()),
            ("BROKER_CATALOGUE__DIR", &cat),
            ("BROKER_LOG_FORMAT", "json"),
        ],
        &["serve"],
    );
    assert!(!status.success());
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("error: ")
            && lines[0].contains("purposes.toml")
            && lines[0].contains("library-card"),
        "{err}"
    );
    // Nothing was written: no migration ran.
    let conn = sea_orm::Database::connect(db.url()).await.unwrap();
    let status = store::schema_status(&conn).await.unwrap();
    assert!(
        matches!(status, store::SchemaStatus::Pending(n) if n > 0),
        "{status:?}"
    );
}
