//! The audit API, the officer console and "my activity" in process: the real application over a
//! test database, with real sessions and real access tokens. Who sees what: a citizen only their
//! own records, a department without `audit:read` nothing, an officer or an `audit:read` client
//! everything — and every officer or machine query is itself in the log.

use actix_web::test;
use audit::{Action, Actor, ActorKind, Outcome};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::Value;

use services::audit_log::AuditLog;
use services::audit_log::entities::record;
use services::sessions::{NewSession, Role};
use store::now_ms;

struct Harness {
    state: crate::testing::TestWeb,
}

impl Harness {
    async fn new() -> Self {
        Self {
            state: crate::testing::TestWeb::new().await,
        }
    }

    async fn session(&self, role: Role, citizen_id: Option<String>) -> String {
        let (token, s) = services::sessions::start(
            &self.state.db,
            &self.state.sessions.settings,
            NewSession {
                citizen_id,
                role,
                provider_id: None,
                loa: 2,
                id_token_hint: None,
            },
        )
        .await
        .unwrap();
        if role == Role::Officer {
            services::signin::entities::officer_session::ActiveModel {
                session_hash: Set(s.id_hash.clone()),
                officer_id: Set("olivier".into()),
                provider_id: Set("prov".into()),
                created_at: Set(now_ms()),
            }
            .insert(&self.state.db)
            .await
            .unwrap();
        }
        token
    }

    /// An access token of a registered client of `department` with `scopes`.
    async fn token(&self, department: &str, scopes: &[&str]) -> String {
        let client_id = format!("{department}-audit-{}", scopes.len());
        services::departments::upsert_client(
            &self.state.db,
            &services::departments::Client {
                client_id: client_id.clone(),
                department_id: department.into(),
                keys: services::departments::ClientKeys::Inline(serde_json::json!({"keys": []})),
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                redirect_uris: Vec::new(),
                post_logout_redirect_uris: Vec::new(),
                backchannel_logout_uri: None,
            },
        )
        .await
        .unwrap();
        let now = now_ms() / 1000;
        let issuer = services::testing::ISSUER;
        self.state
            .keys
            .sign(
                Some("at+jwt"),
                &services::oauth::token::AccessClaims {
                    iss: issuer.to_owned(),
                    sub: client_id.clone(),
                    aud: services::oauth::api_audience(issuer),
                    client_id,
                    dept: department.into(),
                    scope: scopes.join(" "),
                    iat: now,
                    exp: now + 300,
                    jti: uuid::Uuid::now_v7().to_string(),
                    cnf: None,
                },
            )
            .unwrap()
    }

    /// A release to `department` about `citizen`, as the release API records it.
    async fn release(&self, citizen: &str, department: &str, outcome: Outcome) -> String {
        let mut r = AuditLog::record(
            if outcome == Outcome::Permit {
                Action::Release
            } else {
                Action::ReleaseDenied
            },
            outcome,
            Actor::new(ActorKind::Department, department),
        );
        r.citizen_id = Some(citizen.into());
        r.department_id = Some(department.into());
        r.purpose = Some("benefit-eligibility".into());
        r.attributes = vec!["address".into(), "marital_status".into()];
        let id = self.state.audit.append(r).await.unwrap().id;
        self.state.audit.settle().await.unwrap();
        id
    }

    async fn count(&self, action: Action) -> u64 {
        self.state.audit.settle().await.unwrap();
        record::Entity::find()
            .filter(record::Column::Action.eq(action.as_str()))
            .count(&self.state.db)
            .await
            .unwrap()
    }
}

macro_rules! app {
    ($h:expr) => {
        test::init_service(crate::app($h.state.web.clone())).await
    };
}

fn req(path: &str, cookie: Option<&str>, bearer: Option<&str>) -> test::TestRequest {
    let mut req = test::TestRequest::get().uri(path);
    if let Some(c) = cookie {
        req = req.insert_header(("Cookie", format!("{}={c}", crate::session::SESSION_COOKIE)));
    }
    if let Some(b) = bearer {
        req = req.insert_header(("Authorization", format!("Bearer {b}")));
    }
    req
}

/// Sends one GET: (status, body).
macro_rules! get {
    ($app:expr, $path:expr, $cookie:expr, $bearer:expr $(,)?) => {
        get!($app, $path, $cookie, $bearer, "en")
    };
    ($app:expr, $path:expr, $cookie:expr, $bearer:expr, $lang:expr $(,)?) => {{
        let r = req($path, $cookie, $bearer).insert_header(("Accept-Language", $lang));
        let res = test::call_service(&$app, r.to_request()).await;
        let status = res.status().as_u16();
        let body = test::read_body(res).await;
        (status, String::from_utf8_lossy(&body).into_owned())
    }};
}

fn ids(body: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(body).unwrap();
    v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn a_citizen_sees_only_their_own_a_department_none_an_officer_all_and_officers_are_recorded()
{
    let h = Harness::new().await;
    let alice = services::citizens::create(&h.state.db, &h.state.vault)
        .await
        .unwrap();
    let bob = services::citizens::create(&h.state.db, &h.state.vault)
        .await
        .unwrap();
    let a1 = h.release(&alice, "revenue-agency", Outcome::Permit).await;
    let b1 = h.release(&bob, "revenue-agency", Outcome::Permit).await;
    let a2 = h
        .release(&alice, "employment-social-development", Outcome::Deny)
        .await;
    let app = app!(h);
    let alice_cookie = h.session(Role::Citizen, Some(alice.clone())).await;
    let officer_cookie = h.session(Role::Officer, None).await;

    // Nobody: 401, nothing recorded.
    let (status, body) = get!(app, "/api/v1/audit/records", None, None);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("invalid_token"), "{body}");

    // Alice: her two records, newest first; asking for Bob's gets nothing.
    let (status, body) = get!(app, "/api/v1/audit/records", Some(&alice_cookie), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), [a2.clone(), a1.clone()]);
    let (_, body) = get!(
        app,
        &format!("/api/v1/audit/records?citizen={bob}"),
        Some(&alice_cookie),
        None,
    );
    assert!(ids(&body).is_empty(), "{body}");
    let (status, _) = get!(
        app,
        &format!("/api/v1/audit/records/{b1}/proof"),
        Some(&alice_cookie),
        None,
    );
    assert_eq!(
        status, 404,
        "another citizen's record does not exist for Alice"
    );
    assert_eq!(
        h.count(Action::OfficerSearch).await,
        0,
        "a citizen's own view is not an officer query"
    );

    // A department without audit:read: 403, and its token with the scope: everything.
    let plain = h.token("revenue-agency", &["attributes:read"]).await;
    let (status, body) = get!(app, "/api/v1/audit/records", None, Some(&plain));
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("insufficient_scope"), "{body}");
    let (status, _) = get!(
        app,
        &format!("/api/v1/audit/records/{a1}/proof"),
        None,
        Some(&plain),
    );
    assert_eq!(status, 403);
    assert_eq!(h.count(Action::OfficerSearch).await, 0);
    let machine = h.token("revenue-agency", &["audit:read"]).await;
    let (status, body) = get!(
        app,
        "/api/v1/audit/records?action=release",
        None,
        Some(&machine),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), [b1.clone(), a1.clone()]);
    assert_eq!(
        h.count(Action::OfficerSearch).await,
        1,
        "the machine query is recorded"
    );

    // The officer: all of them, and the search is in the log with its filters.
    let (status, body) = get!(
        app,
        "/api/v1/audit/records?department=revenue-agency",
        Some(&officer_cookie),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let seen = ids(&body);
    assert!(
        seen.contains(&a1) && seen.contains(&b1) && !seen.contains(&a2),
        "{seen:?}"
    );
    h.state.audit.settle().await.unwrap();
    let searches = record::Entity::find()
        .filter(record::Column::Action.eq("officer-search"))
        .order_by_asc(record::Column::Seq)
        .all(&h.state.db)
        .await
        .unwrap();
    assert_eq!(searches.len(), 2);
    let officer_search = audit::Record::from_canonical(&searches[1].entry).unwrap();
    assert_eq!(
        officer_search.actor,
        Actor::new(ActorKind::Officer, "olivier")
    );
    assert_eq!(officer_search.detail["filter_department"], "revenue-agency");
    assert!(
        officer_search.citizen_id.is_none(),
        "a search is not about one citizen's data"
    );

    // Alice's proof checks against the signed checkpoint with the crate's verifier.
    let (status, body) = get!(
        app,
        &format!("/api/v1/audit/records/{a1}/proof"),
        Some(&alice_cookie),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let proof = &v["proof"];
    let path: Vec<audit::Hash> = proof["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| audit::Hash::from_hex(h.as_str().unwrap()).unwrap())
        .collect();
    let jws = proof["checkpoint"]["jws"].as_str().unwrap();
    let (_, payload) = h.state.keys.verify(jws).unwrap();
    let signed = audit::Checkpoint::from_canonical(&payload).unwrap();
    let entry = services::jose::b64_decode(v["record"]["entry"].as_str().unwrap()).unwrap();
    audit::verify_inclusion(
        &audit::leaf_hash(&entry),
        proof["leaf_index"].as_u64().unwrap(),
        signed.tree_size,
        &path,
        &signed.root_hash,
    )
    .unwrap();
    let (status, body) = get!(
        app,
        &format!("/api/v1/audit/records/{a1}/proof"),
        Some(&officer_cookie),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        h.count(Action::OfficerView).await,
        1,
        "the officer's view is recorded"
    );

    // Checkpoints are public.
    let (status, body) = get!(app, "/api/v1/audit/checkpoints", None, None);
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(!v["checkpoints"].as_array().unwrap().is_empty());

    // The newest one, as a C2SP signed note under the log's origin, signed by its note key.
    let (status, body) = get!(app, "/api/v1/audit/checkpoint", None, None);
    assert_eq!(status, 200, "{body}");
    let note = audit::Note::parse(body.as_bytes()).unwrap();
    note.verify(&[h.state.records.notes.verifier_key()])
        .unwrap();
    let checkpoint = audit::TlogCheckpoint::parse(note.text()).unwrap();
    assert_eq!(checkpoint.origin(), h.state.records.notes.origin());
    let newest = &v["checkpoints"][0];
    assert_eq!(Some(checkpoint.size()), newest["tree_size"].as_u64());
    assert_eq!(
        Some(checkpoint.root_hash().to_hex().as_str()),
        newest["root_hash"].as_str()
    );
}

#[actix_web::test]
async fn bad_filters_are_400_with_a_stable_code_and_nothing_is_recorded() {
    let h = Harness::new().await;
    let app = app!(h);
    let officer = h.session(Role::Officer, None).await;
    for (query, code) in [
        ("action=teleport", "audit_invalid_filter"),
        ("outcome=maybe", "audit_invalid_filter"),
        ("from=yesterday", "audit_invalid_filter"),
        ("from=2026-11-27&to=2026-11-26", "audit_invalid_filter"),
        ("limit=0", "audit_invalid_filter"),
        ("limit=501", "audit_invalid_filter"),
        ("citizen=a%20b", "audit_invalid_filter"),
        ("cursor=abc", "audit_invalid_cursor"),
    ] {
        let (status, body) = get!(
            app,
            &format!("/api/v1/audit/records?{query}"),
            Some(&officer),
            None,
        );
        assert_eq!(status, 400, "{query}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["code"], code, "{query}: {body}");
    }
    assert_eq!(h.count(Action::OfficerSearch).await, 0);
}

#[actix_web::test]
async fn cursor_pages_cover_every_match_once() {
    let h = Harness::new().await;
    let mut made = Vec::new();
    for i in 0..7 {
        made.push(
            h.release(&format!("c{i}"), "revenue-agency", Outcome::Permit)
                .await,
        );
    }
    let app = app!(h);
    let officer = h.session(Role::Officer, None).await;
    let mut seen = Vec::new();
    let mut path = "/api/v1/audit/records?action=release&limit=3".to_owned();
    loop {
        let (status, body) = get!(app, &path, Some(&officer), None);
        assert_eq!(status, 200, "{body}");
        seen.extend(ids(&body));
        let v: Value = serde_json::from_str(&body).unwrap();
        match v["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/audit/records?action=release&limit=3&cursor={c}"),
            None => break,
        }
    }
    made.reverse();
    assert_eq!(seen, made);
}

#[actix_web::test]
async fn the_console_and_my_activity_render_in_both_languages_and_need_their_session() {
    let h = Harness::new().await;
    let alice = services::citizens::create(&h.state.db, &h.state.vault)
        .await
        .unwrap();
    let a1 = h.release(&alice, "revenue-agency", Outcome::Permit).await;
    let app = app!(h);
    let officer = h.session(Role::Officer, None).await;
    let alice_cookie = h.session(Role::Citizen, Some(alice.clone())).await;

    let (status, _) = get!(app, "/officer", None, None);
    assert_eq!(status, 303, "no session: to the officer sign-in");
    let (status, _) = get!(app, "/officer", Some(&alice_cookie), None);
    assert_eq!(status, 303, "a citizen is no officer");
    let (status, body) = get!(
        app,
        "/officer?department=revenue-agency",
        Some(&officer),
        None
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<h1>Audit log</h1>"), "{body}");
    assert!(body.contains(&alice), "the officer sees the citizen id");
    assert!(
        body.contains("export?department=revenue-agency&amp;format=csv"),
        "{body}"
    );
    let (status, body) = get!(app, "/officer?from=nonsense", Some(&officer), None);
    assert_eq!(status, 400);
    assert!(body.contains("alert-error"), "{body}");
    let (status, body) = get!(app, "/officer/unusual", Some(&officer), None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<h1>Unusual access</h1>"));
    // The officer's own searches above are in the log (on PostgreSQL, once integrated).
    h.state.audit.settle().await.unwrap();
    let (status, body) = get!(app, "/officer", Some(&officer), None, "fr-CA,fr");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<h1>Journal d’audit</h1>"), "{body}");
    assert!(body.contains("Renseignements communiqués"), "{body}");
    // Who acted, in French; the id stays as stored.
    assert!(
        body.contains("Agent de protection de la vie privée <code>"),
        "{body}"
    );
    assert!(!body.contains("<code>officer "), "{body}");
    let (_, body) = get!(app, "/officer/unusual", Some(&officer), None, "fr");
    assert!(body.contains("<h1>Accès inhabituels</h1>"), "{body}");
    // Numbers in the French format.
    assert!(body.contains("3,0"), "the factor as 3,0: {body}");
    assert!(!body.contains("3.0"), "{body}");

    let (status, body) = get!(
        app,
        "/officer/export?department=revenue-agency&format=csv",
        Some(&officer),
        None,
    );
    assert_eq!(status, 200);
    let mut lines = body.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("seq,id,time,action,outcome")
    );
    let line = lines.next().unwrap();
    assert!(
        line.contains(&a1) && line.contains("address marital_status"),
        "{line}"
    );
    assert_eq!(lines.next(), None);
    assert_eq!(h.count(Action::OfficerExport).await, 1);

    let (status, body) = get!(app, "/me/activity", Some(&alice_cookie), None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<h1>My activity</h1>"));
    assert!(body.contains(&format!("/me/activity/{a1}")));
    assert!(
        !body.contains(&alice),
        "the citizen's internal id is not shown"
    );
    let (status, body) = get!(
        app,
        &format!("/me/activity/{a1}"),
        Some(&alice_cookie),
        None
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Inclusion proof"), "{body}");
    let (_, body) = get!(app, "/me/activity", Some(&alice_cookie), None, "fr");
    assert!(body.contains("<h1>Mon activité</h1>"), "{body}");
    let (status, body) = get!(
        app,
        &format!("/me/activity/{a1}/proof.json"),
        Some(&alice_cookie),
        None
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["record"]["id"], a1.as_str());
    let (status, _) = get!(app, "/me/activity", Some(&officer), None);
    assert_eq!(status, 303, "an officer has no activity page");
}

#[actix_web::test]
async fn checkpoints_signed_by_an_archived_key_still_verify_and_its_public_half_is_served() {
    let h = Harness::new().await;
    let app = app!(h);
    h.release("c1", "revenue-agency", Outcome::Permit).await;
    let old = h.state.keys.current_kid();
    // Two rotations with no grace period: the first key is archived (private half deleted).
    let dir = services::keys::keys_dir(h.state.services.data_dir()).join("signing");
    services::keys::rotate_dir(&dir, 0).unwrap();
    services::keys::rotate_dir(&dir, 0).unwrap();
    h.state.keys.reload().unwrap();
    h.release("c2", "revenue-agency", Outcome::Permit).await;
    h.state.audit.checkpoint_now().await.unwrap();

    let (_, body) = get!(app, "/jwks.json", None, None);
    assert!(!body.contains(&old), "no longer published for tokens");
    let (status, body) = get!(app, "/api/v1/audit/keys", None, None);
    assert_eq!(status, 200, "{body}");
    let keys: Value = serde_json::from_str(&body).unwrap();
    let kids: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(kids.contains(&old.as_str()), "{kids:?}");
    assert_eq!(kids[0], h.state.keys.current_kid(), "published keys first");

    // The whole log, its first checkpoint signed by the archived key, verifies clean.
    let verdict = services::audit_log::verify::verify(&h.state.db, &h.state.keys, 0, |_| {})
        .await
        .unwrap();
    assert!(
        matches!(verdict, services::audit_log::verify::Verdict::Clean(ref s) if s.checkpoints_verified >= 2),
        "{verdict:?}"
    );
}

#[actix_web::test]
async fn the_console_names_each_refusals_reason_in_both_languages_and_filters_by_it() {
    let h = Harness::new().await;
    let alice = services::citizens::create(&h.state.db, &h.state.vault)
        .await
        .unwrap();
    let mut ids_by_reason = Vec::new();
    for reason in ["no_consent", "consent_revoked", "policy_denied"] {
        let mut r = AuditLog::record(
            Action::ReleaseDenied,
            Outcome::Deny,
            Actor::new(ActorKind::Department, "revenue-agency"),
        );
        r.citizen_id = Some(alice.clone());
        r.department_id = Some("revenue-agency".into());
        r.reasons = vec![reason.into(), "some-policy-id".into()];
        ids_by_reason.push(h.state.audit.append(r).await.unwrap().id);
    }
    h.state.audit.settle().await.unwrap();
    let app = app!(h);
    let officer = h.session(Role::Officer, None).await;

    let (status, body) = get!(app, "/officer", Some(&officer), None, "en");
    assert_eq!(status, 200, "{body}");
    for words in [
        "Reason",
        "No consent",
        "Consent withdrawn",
        "Not allowed by policy",
    ] {
        assert!(body.contains(words), "{words} missing");
    }
    assert!(
        !body.contains("some-policy-id"),
        "policy ids stay in the JSON"
    );
    let (_, body) = get!(app, "/officer", Some(&officer), None, "fr");
    for words in [
        "Motif",
        "Aucun consentement",
        "Consentement retiré",
        "Non permis par la politique",
    ] {
        assert!(body.contains(words), "{words} missing");
    }

    // The filter: only the revoked consent, in the page and in the API.
    let (status, body) = get!(app, "/officer?reason=consent_revoked", Some(&officer), None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&format!("/api/v1/audit/records/{}/proof", ids_by_reason[1])));
    assert!(!body.contains(&format!("/api/v1/audit/records/{}/proof", ids_by_reason[0])));
    assert!(!body.contains(&format!("/api/v1/audit/records/{}/proof", ids_by_reason[2])));
    let (status, body) = get!(
        app,
        "/api/v1/audit/records?reason=policy_denied&limit=1",
        Some(&officer),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), [ids_by_reason[2].clone()]);
    let (status, body) = get!(
        app,
        "/api/v1/audit/records?reason=Policy%20Denied",
        Some(&officer),
        None,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("audit_invalid_filter"), "{body}");
}

#[actix_web::test]
async fn every_reason_the_console_offers_has_words_in_both_languages() {
    let messages = crate::i18n::Messages::embedded().unwrap();
    for code in super::console::REASON_CODES {
        for lang in [crate::i18n::Lang::En, crate::i18n::Lang::Fr] {
            assert!(
                messages.has(lang, &format!("audit.reasons.{code}")),
                "{code} has no words in {lang:?}"
            );
        }
    }
}
