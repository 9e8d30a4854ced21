//! The consent pages and ledger in process: the real application (`server::app`) over a test
//! database (SQLite or PostgreSQL per `TUO_TEST_DATABASE`), citizens signed in with real sessions.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::{test, web};
use consent::{DAY_MS, State};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::ledger::{self, RequestInput};
use crate::server::AppState;
use crate::store::testdb::TestDb;
use crate::web::session::{self, NewSession, Role};

pub(super) struct Harness {
    _test: TestDb,
    pub state: AppState,
}

impl Harness {
    pub async fn new() -> Self {
        let test = TestDb::new().await.unwrap();
        let db = test.migrated().await.unwrap();
        let dir =
            std::env::temp_dir().join(format!("tuo-consents-{}", uuid::Uuid::now_v7().simple()));
        let state = AppState::build(Arc::new(test.config(&dir)), db).unwrap();
        crate::departments::sync_catalogue(&state.db, state.policy.catalogue().departments())
            .await
            .unwrap();
        Self { _test: test, state }
    }

    /// A citizen with a live session: (citizen id, session cookie value, CSRF token).
    pub async fn citizen(&self) -> (String, String, String) {
        let id = crate::citizens::create(&self.state.db, &self.state.vault)
            .await
            .unwrap();
        let (token, s) = session::start(
            &self.state.db,
            &self.state.config,
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
        let dept = crate::departments::get(&self.state.db, department)
            .await
            .unwrap()
            .unwrap();
        let subject = crate::citizens::pairwise::subject_for(
            &self.state.db,
            &self.state.secrets.pairwise,
            &dept.sector_identifier,
            citizen,
        )
        .await
        .unwrap();
        ledger::request(
            &self.state,
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
        let db = &self.state.db;
        (
            super::entities::event::Entity::find()
                .count(db)
                .await
                .unwrap(),
            super::entities::receipt::Entity::find()
                .count(db)
                .await
                .unwrap(),
            crate::audit_log::entities::record::Entity::find()
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
    let app = test::init_service(crate::server::app(web::Data::new(h.state.clone()))).await;
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
    let consent = super::load(&h.state.db, &id).await.unwrap().unwrap();
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
        super::receipts::verify(&h.state.db, &h.state.keys, &jws, crate::store::now_ms())
            .await
            .unwrap();
    assert_eq!(verified.consent_state, "active");
    assert_eq!(verified.attributes, vec!["birthdate"]);
    let claims = super::receipts::decode(&jws).unwrap();
    let sector = crate::departments::get(&h.state.db, "employment-social-development")
        .await
        .unwrap()
        .unwrap()
        .sector_identifier;
    assert_eq!(
        claims.claims.pii_principal_id,
        crate::citizens::pairwise::compute(&h.state.secrets.pairwise, &sector, &citizen),
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
    let consent = super::load(&h.state.db, &id).await.unwrap().unwrap();
    assert_eq!(consent.recorded_state(), State::Revoked);
    let verified =
        super::receipts::verify(&h.state.db, &h.state.keys, &jws, crate::store::now_ms())
            .await
            .unwrap();
    assert_eq!(verified.consent_state, "revoked");
    // The release path sees the revocation at once.
    assert!(
        !consent
            .covers("birthdate", "pension-enrolment", crate::store::now_ms())
            .is_covered()
    );

    let actions: Vec<String> = crate::audit_log::entities::record::Entity::find()
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
    let app = test::init_service(crate::server::app(web::Data::new(h.state.clone()))).await;
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
        super::load(&h.state.db, &p.to_string())
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
    let app = test::init_service(crate::server::app(web::Data::new(h.state.clone()))).await;
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

/// Every message value of one language (areas `consents` and `common`) and the catalogue's labels
/// in that language, in pieces (around `{placeholders}`) long enough to be told apart.
fn texts_of(h: &Harness, lang: &str) -> Vec<String> {
    let other = if lang == "en" { "fr" } else { "en" };
    let mut mine = BTreeMap::new();
    let mut theirs = BTreeMap::new();
    for (path, text) in crate::web::embedded::MESSAGES {
        let Some((l, file)) = path.split_once('/') else {
            continue;
        };
        if !["consents.toml", "common.toml"].contains(&file) {
            continue;
        }
        let table: toml::Table = toml::from_str(text).unwrap();
        let target = if l == lang {
            &mut mine
        } else if l == other {
            &mut theirs
        } else {
            continue;
        };
        flatten(file, &toml::Value::Table(table), target);
    }
    let mut out: Vec<String> = Vec::new();
    for (key, text) in &mine {
        if theirs.get(key) == Some(text) {
            continue;
        }
        out.extend(pieces(text));
    }
    let c = h.state.policy.catalogue();
    let pairs: Vec<(String, String)> = c
        .attributes()
        .iter()
        .map(|a| (a.label_en.clone(), a.label_fr.clone()))
        .chain(
            c.departments()
                .iter()
                .map(|d| (d.name_en.clone(), d.name_fr.clone())),
        )
        .chain(c.purposes().iter().flat_map(|p| {
            [
                (p.text_en.clone(), p.text_fr.clone()),
                (p.legal_basis.clone(), p.legal_basis_fr.clone()),
            ]
        }))
        .collect();
    for (en, fr) in pairs {
        if en != fr {
            out.push(if lang == "en" { en } else { fr });
        }
    }
    out
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, String>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                flatten(&format!("{prefix}.{k}"), v, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        _ => {}
    }
}

fn pieces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let (piece, tail) = match rest.find('{') {
            Some(i) => (&rest[..i], rest[i..].find('}').map(|j| &rest[i + j + 1..])),
            None => (rest, None),
        };
        let trimmed = piece.trim_matches(|c: char| c.is_whitespace() || ",.:;".contains(c));
        if trimmed.chars().filter(|c| c.is_alphabetic()).count() >= 4 {
            out.push(trimmed.to_owned());
        }
        match tail {
            Some(t) => rest = t,
            None => break,
        }
    }
    out
}

/// Whether `text` occurs in `html` as whole words (so `Consent` is not found in `Consentements`).
fn contains_words(html: &str, text: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-');
    html.match_indices(text).any(|(i, _)| {
        !word(html[..i].chars().next_back()) && !word(html[i + text.len()..].chars().next())
    })
}

/// A message key rendered as itself (what `t` shows for a missing key): `consents.x…`.
fn shows_a_key(html: &str) -> bool {
    ["consents.", "common.", "error."].iter().any(|prefix| {
        html.match_indices(prefix).any(|(i, _)| {
            html[i + prefix.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase())
        })
    })
}

fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

#[tokio::test]
async fn every_consent_page_is_entirely_in_the_language_asked_for() {
    let h = Harness::new().await;
    let (citizen, cookie, csrf) = h.citizen().await;
    let app = test::init_service(crate::server::app(web::Data::new(h.state.clone()))).await;
    let mut ids = BTreeMap::new();
    for lang in ["en", "fr"] {
        // A pending request, an active consent (with a receipt in this language), a past one.
        let pending = h
            .request(
                "employment-social-development",
                &citizen,
                if lang == "en" {
                    &["birthdate"]
                } else {
                    &["address"]
                },
                "pension-enrolment",
                90,
            )
            .await;
        let granted = h
            .request(
                "revenue-agency",
                &citizen,
                if lang == "en" {
                    &["address"]
                } else {
                    &["email"]
                },
                "benefit-eligibility",
                60,
            )
            .await;
        let who = super::ledger::Citizen {
            id: &citizen,
            loa: 2,
            lang: if lang == "en" {
                crate::web::i18n::Lang::En
            } else {
                crate::web::i18n::Lang::Fr
            },
        };
        ledger::accept(
            &h.state,
            &who,
            &granted.id().to_string(),
            &[if lang == "en" { "address" } else { "email" }],
            None,
        )
        .await
        .unwrap();
        ids.insert(lang, (pending.id().to_string(), granted.id().to_string()));
    }
    let refused = h
        .request(
            "revenue-agency",
            &citizen,
            &["phone_number"],
            "benefit-eligibility",
            30,
        )
        .await;
    ledger::refuse(&h.state, &citizen, &refused.id().to_string())
        .await
        .unwrap();

    for (lang, other) in [("en", "fr"), ("fr", "en")] {
        let (pending, active) = &ids[lang];
        let mut pages = vec![
            ("GET", "/me/consents".to_owned(), String::new()),
            ("GET", "/me/consents/new".to_owned(), String::new()),
            (
                "GET",
                "/me/consents/new?offer=revenue-agency:benefit-eligibility".to_owned(),
                String::new(),
            ),
            ("GET", format!("/me/consents/{active}"), String::new()),
            (
                "GET",
                format!("/me/consents/{active}?done=granted"),
                String::new(),
            ),
            (
                "GET",
                format!("/me/consents/{active}/revoke"),
                String::new(),
            ),
            (
                "GET",
                format!("/me/consents/{active}/receipt"),
                String::new(),
            ),
            (
                "GET",
                format!("/me/consents/{}", refused.id()),
                String::new(),
            ),
            ("GET", "/me/requests".to_owned(), String::new()),
            ("GET", format!("/me/requests/{pending}"), String::new()),
            ("GET", format!("/me/requests/{active}"), String::new()),
            // Forms shown again with an error summary.
            (
                "POST",
                format!("/me/requests/{pending}/accept"),
                format!("csrf_token={csrf}&duration_days=9999"),
            ),
            (
                "POST",
                "/me/consents".to_owned(),
                format!(
                    "csrf_token={csrf}&department=revenue-agency&purpose=benefit-eligibility&mode=once&duration_days=30"
                ),
            ),
        ];
        let forbidden = texts_of(&h, other);
        let expected = texts_of(&h, lang);
        let mut checked = 0;
        for (method, path, body) in pages.drain(..) {
            let req = if method == "GET" {
                get(&path, &cookie, lang)
            } else {
                post(&path, &cookie, &body).insert_header(("Accept-Language", lang))
            };
            let (status, html, _) = call!(app, req);
            assert!(status == 200 || status == 422, "{path}: {status} {html}");
            assert!(html.contains(&format!("<html lang=\"{lang}\">")), "{path}");
            for text in &forbidden {
                assert!(
                    !contains_words(&html, text) && !contains_words(&html, &escaped(text)),
                    "{lang} page {path} shows {other} text `{text}`"
                );
            }
            assert!(!shows_a_key(&html), "{path} shows a message key: {html}");
            assert!(
                expected.iter().any(|t| html.contains(&escaped(t))),
                "{path} shows no {lang} text"
            );
            checked += 1;
        }
        assert_eq!(checked, 13);

        // The dashboard partial, as the lead will include it in `/me`.
        let summary = super::pages::summary(
            &h.state,
            &citizen,
            crate::web::i18n::Lang::parse(lang).unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(summary.pending_requests, 2);
        let common = crate::web::pages::Common {
            lang: if lang == "en" { "en" } else { "fr" },
            other_lang: if lang == "en" { "fr" } else { "en" },
            here: "/me".into(),
            signed_in: true,
            officer: false,
            csrf_token: None,
        };
        let html = h
            .state
            .pages
            .render(
                "consents/_summary.html",
                &common,
                &serde_json::json!({ "consent_summary": summary }),
            )
            .unwrap();
        assert!(html.contains("/me/requests"));
        for text in &forbidden {
            assert!(
                !contains_words(&html, &escaped(text)),
                "summary shows `{text}`"
            );
        }
        assert!(!shows_a_key(&html), "{html}");
    }
}

#[tokio::test]
async fn the_sweep_records_each_expiry_once_with_an_audit_record() {
    let h = Harness::new().await;
    let (citizen, _, _) = h.citizen().await;
    let who = super::ledger::Citizen {
        id: &citizen,
        loa: 2,
        lang: crate::web::i18n::Lang::En,
    };
    let (short, _) = ledger::grant_own(
        &h.state,
        &who,
        super::ledger::GrantInput {
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
        &h.state,
        &who,
        super::ledger::GrantInput {
            department: "revenue-agency".into(),
            purpose: "benefit-eligibility".into(),
            mode: "ongoing".into(),
            attributes: vec!["address".into()],
            duration_days: Some(90),
        },
    )
    .await
    .unwrap();
    let now = crate::store::now_ms();
    assert_eq!(super::expiry::sweep(&h.state, now).await.unwrap(), 0);
    let later = now + 8 * DAY_MS;
    assert_eq!(super::expiry::sweep(&h.state, later).await.unwrap(), 1);
    assert_eq!(
        super::expiry::sweep(&h.state, later).await.unwrap(),
        0,
        "recorded once"
    );
    let short = super::load(&h.state.db, &short.id().to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(short.recorded_state(), State::Expired);
    assert_eq!(
        short.history().last().unwrap().actor.id,
        super::expiry::SWEEP_ACTOR
    );
    let long = super::load(&h.state.db, &long.id().to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(long.recorded_state(), State::Active);
    let expired = crate::audit_log::entities::record::Entity::find()
        .filter(crate::audit_log::entities::record::Column::Action.eq("consent-expired"))
        .all(&h.state.db)
        .await
        .unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].citizen_id.as_deref(), Some(citizen.as_str()));
}

#[tokio::test]
async fn the_demo_seeds_the_pension_office_request_once() {
    let h = Harness::new().await;
    let (citizen, cookie, _) = h.citizen().await;
    let ids = super::demo::seed_requests(&h.state, &citizen)
        .await
        .unwrap();
    assert_eq!(ids.len(), 1);
    assert!(
        super::demo::seed_requests(&h.state, &citizen)
            .await
            .unwrap()
            .is_empty(),
        "idempotent"
    );
    let app = test::init_service(crate::server::app(web::Data::new(h.state.clone()))).await;
    let (status, html, _) = call!(app, get(&format!("/me/requests/{}", ids[0]), &cookie, "en"));
    assert_eq!(status, 200);
    assert!(
        html.contains("Date of birth") && html.contains("Home address"),
        "{html}"
    );
}

/// The application with every French message replaced by a marker: whatever French page text is
/// neither a marker nor catalogue or configuration data did not come through `t()`.
fn marked_state(h: &Harness) -> AppState {
    let files: Vec<(String, String)> = crate::web::embedded::MESSAGES
        .iter()
        .map(|(path, text)| {
            if !path.starts_with("fr/") {
                return ((*path).to_owned(), (*text).to_owned());
            }
            let mut table: toml::Table = toml::from_str(text).unwrap();
            mark(&mut table);
            ((*path).to_owned(), toml::to_string(&table).unwrap())
        })
        .collect();
    let messages =
        crate::web::i18n::Messages::from_files(files.iter().map(|(p, t)| (p.as_str(), t.as_str())))
            .unwrap();
    let pages = crate::web::pages::Pages::new(Arc::new(messages)).unwrap();
    AppState {
        pages: Arc::new(pages),
        ..h.state.clone()
    }
}

fn mark(table: &mut toml::Table) {
    for (_, value) in table.iter_mut() {
        match value {
            toml::Value::Table(t) => mark(t),
            toml::Value::String(s) => *s = "⟦⟧".to_owned(),
            _ => {}
        }
    }
}

/// The words of a page's text that are not markers, catalogue or configuration data, numbers,
/// identifiers or URLs.
fn stray_words(h: &Harness, html: &str) -> Vec<String> {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let mut text = text
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("⟦⟧", " ");
    let c = h.state.policy.catalogue();
    let controller = &h.state.config.consent.controller;
    let mut data: Vec<String> = c
        .attributes()
        .iter()
        .flat_map(|a| [a.label_fr.clone(), a.name.clone()])
        .chain(
            c.departments()
                .iter()
                .flat_map(|d| [d.name_fr.clone(), d.id.clone()]),
        )
        .chain(
            c.purposes()
                .iter()
                .flat_map(|p| [p.text_fr.clone(), p.legal_basis_fr.clone(), p.code.clone()]),
        )
        .chain([
            controller.name_fr.clone(),
            controller.contact_fr.clone(),
            controller.street_address.clone(),
            controller.locality.clone(),
            controller.region.clone(),
            controller.postal_code.clone(),
            controller.country.clone(),
            controller.email.clone(),
            consent::RECEIPT_VERSION.to_owned(),
        ])
        .collect();
    data.sort_by_key(|d| std::cmp::Reverse(d.len()));
    for d in &data {
        text = text.replace(d.as_str(), " ");
    }
    text.split_whitespace()
        .filter(|w| !w.contains("://") && !w.contains('@'))
        .flat_map(|w| w.split(|c: char| "()[],.;:·—–/?!«»\"".contains(c)))
        .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 2)
        .filter(|w| !w.chars().any(|c| c.is_ascii_digit()) && w.len() < 20)
        .filter(|w| !["UTC", "http", "https", "jwt"].contains(w))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn no_page_text_bypasses_the_message_catalogue() {
    let h = Harness::new().await;
    let (citizen, cookie, csrf) = h.citizen().await;
    let state = marked_state(&h);
    let app = test::init_service(crate::server::app(web::Data::new(state.clone()))).await;
    let pending = h
        .request(
            "employment-social-development",
            &citizen,
            &["birthdate", "address"],
            "pension-enrolment",
            90,
        )
        .await;
    let granted = h
        .request(
            "revenue-agency",
            &citizen,
            &["address", "email"],
            "benefit-eligibility",
            60,
        )
        .await;
    let who = super::ledger::Citizen {
        id: &citizen,
        loa: 2,
        lang: crate::web::i18n::Lang::Fr,
    };
    let active = granted.id().to_string();
    ledger::accept(&state, &who, &active, &["address"], Some(30))
        .await
        .unwrap();
    let pending = pending.id().to_string();
    let pages = [
        get("/me/consents", &cookie, "fr"),
        get("/me/consents/new", &cookie, "fr"),
        get(
            "/me/consents/new?offer=revenue-agency:benefit-eligibility",
            &cookie,
            "fr",
        ),
        get(
            &format!("/me/consents/{active}?done=granted"),
            &cookie,
            "fr",
        ),
        get(&format!("/me/consents/{active}/revoke"), &cookie, "fr"),
        get(&format!("/me/consents/{active}/receipt"), &cookie, "fr"),
        get("/me/requests", &cookie, "fr"),
        get(&format!("/me/requests/{pending}"), &cookie, "fr"),
        get(&format!("/me/requests/{active}"), &cookie, "fr"),
        post(
            &format!("/me/requests/{pending}/accept"),
            &cookie,
            &format!("csrf_token={csrf}"),
        )
        .insert_header(("Accept-Language", "fr")),
    ];
    for req in pages {
        let (status, html, _) = call!(app, req);
        assert!(status == 200 || status == 422, "{status}: {html}");
        assert!(html.contains("⟦⟧"), "rendered with the marked messages");
        let stray = stray_words(&h, &html);
        assert!(
            stray.is_empty(),
            "text not from the catalogue: {stray:?}\n{html}"
        );
    }
}
