use super::*;
use crate::audit_log::{Action, ActorKind, AuditLog, Outcome};
use crate::testing::TestServices;
use crate::{Defaults, digests};

/// A compressed week of 1000 s: periods are far longer than the test, and the test moves the
/// job's clock, not the records'.
const WEEK_MS: i64 = 1_000_000;

async fn services(default_frequency: Frequency) -> TestServices {
    TestServices::with(Defaults {
        digest: DigestConfig {
            default_frequency,
            compressed_week_secs: 1_000,
            ..DigestConfig::default()
        },
        ..Defaults::default()
    })
    .await
}

async fn record_about(t: &TestServices, citizen: &str, action: Action) {
    let mut r = AuditLog::record(
        action,
        Outcome::Permit,
        crate::audit_log::Actor::new(ActorKind::Department, "revenue-agency"),
    );
    r.citizen_id = Some(citizen.to_owned());
    r.department_id = Some("revenue-agency".into());
    r.purpose = Some("tax-filing".into());
    r.attributes = vec!["address".into()];
    t.audit.append(r).await.unwrap();
    t.audit.integrate_batch(1_000).await.unwrap();
}

/// The job's clock starts at a compressed month's start well after now (the clock is the job's
/// argument; records keep their real time), so which periods end when is the test's choice.
fn base() -> i64 {
    (store::now_ms().div_euclid(MONTH_MS) + 10) * MONTH_MS
}

const MONTH_MS: i64 = 4 * WEEK_MS;

/// The start of the compressed week after the one holding `ms`.
fn next_week(ms: i64) -> i64 {
    (ms.div_euclid(WEEK_MS) + 1) * WEEK_MS + 1
}

async fn digests_of(t: &TestServices, citizen: &str) -> Vec<digest::Model> {
    digest::Entity::find()
        .filter(digest::Column::CitizenId.eq(citizen))
        .order_by_asc(digest::Column::CreatedAt)
        .all(&t.db)
        .await
        .unwrap()
}

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[tokio::test]
async fn each_citizen_with_notices_gets_one_digest_a_period_at_the_frequency_they_chose() {
    let t = services(Frequency::Weekly).await;
    let d = &t.digests;
    let (alice, bob, carol, dan) = (id(), id(), id(), id());
    d.choose(&bob, Frequency::Never, Lang::En).await.unwrap();
    d.choose(&dan, Frequency::Monthly, Lang::Fr).await.unwrap();
    assert_eq!(
        d.preferences(&dan).await.unwrap(),
        Preferences {
            frequency: Frequency::Monthly,
            lang: Some(Lang::Fr),
            chosen: true
        }
    );
    assert!(!d.preferences(&alice).await.unwrap().chosen);
    // The first passes, run before these notices: they find none.
    let start = base();
    assert_eq!(d.turn(start).await.unwrap().created, 0);
    for who in [&alice, &bob, &carol, &dan] {
        record_about(&t, who, Action::Release).await;
    }
    record_about(&t, &alice, Action::ConsentRequested).await;
    // Not a notice: Carol's own sign-in.
    let erin = id();
    record_about(&t, &erin, Action::SignIn).await;

    // Within the week nothing more is due: that week's digests wait for its end.
    let turn = d.turn(start + 1).await.unwrap();
    assert_eq!(turn.created, 0);

    let later = next_week(start);
    let turn = d.turn(later).await.unwrap();
    assert_eq!(
        turn.created, 2,
        "Alice and Carol (the weekly default); not Bob (never), not Dan (monthly)"
    );
    assert_eq!(turn.sent, 0, "no mailer: nothing is sent");
    let a = digests_of(&t, &alice).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].status, "pending");
    assert_eq!(
        about::count_between(&t.db, &alice, &ACTIONS, (a[0].from_seq, a[0].to_seq))
            .await
            .unwrap(),
        2
    );
    assert!(digests_of(&t, &bob).await.is_empty());
    assert!(digests_of(&t, &erin).await.is_empty());
    assert!(digests_of(&t, &dan).await.is_empty());

    // Running again (another instance, a restart) makes no second digest for the period.
    assert_eq!(d.turn(later).await.unwrap().created, 0);
    assert_eq!(d.turn(later + 10).await.unwrap().created, 0);

    // A new notice goes in the next week's digest, which starts where the last one ended.
    record_about(&t, &alice, Action::DeliveryDelivered).await;
    let after = next_week(later);
    assert_eq!(d.turn(after).await.unwrap().created, 1);
    let a = digests_of(&t, &alice).await;
    assert_eq!(a.len(), 2);
    assert_eq!(a[1].from_seq, a[0].to_seq, "no notice twice");
    assert_eq!(
        about::count_between(&t.db, &alice, &ACTIONS, (a[1].from_seq, a[1].to_seq))
            .await
            .unwrap(),
        1
    );

    // Dan's month (four compressed weeks) ends: his digest holds his one notice.
    assert!(digests_of(&t, &dan).await.is_empty());
    d.turn(start + MONTH_MS + 1).await.unwrap();
    let dn = digests_of(&t, &dan).await;
    assert_eq!(dn.len(), 1);
    assert!(dn[0].period.starts_with("monthly:"));
}

#[tokio::test]
async fn a_pass_interrupted_before_it_completed_is_finished_with_the_bounds_it_started_with() {
    let t = services(Frequency::Weekly).await;
    let alice = id();
    let now = base();
    t.digests.turn(now).await.unwrap();
    record_about(&t, &alice, Action::Release).await;
    let later = next_week(now);
    let period = t
        .digests
        .cadence()
        .last_ended(Frequency::Weekly, later)
        .unwrap();
    // An instance fixed the pass's bounds and stopped before making any digest.
    let started = t
        .digests
        .start_pass(Frequency::Weekly, &period, later)
        .await
        .unwrap();
    // Records written since are not in this pass (they are the next one's).
    let bob = id();
    record_about(&t, &bob, Action::Release).await;
    let turn = t.digests.turn(later).await.unwrap();
    assert_eq!(turn.created, 1, "Alice only");
    let a = digests_of(&t, &alice).await;
    assert_eq!(a[0].to_seq, started.up_to_seq);
    assert!(digests_of(&t, &bob).await.is_empty());
    assert_eq!(
        t.digests.turn(next_week(later)).await.unwrap().created,
        1,
        "Bob's, a week on"
    );
}

#[test]
fn a_digest_names_departments_information_and_purposes_in_the_citizens_language_and_links_each_record()
 {
    let catalogue = crate::policy::load(&crate::policy::CatalogueConfig::default()).unwrap();
    let record = RecordView {
        seq: 7,
        id: "0193-rec".into(),
        time: String::new(),
        time_ms: 1_764_000_000_000,
        action: "release".into(),
        outcome: "permit".into(),
        actor_kind: "department".into(),
        actor_id: "revenue-agency".into(),
        citizen_id: Some("c".into()),
        department_id: Some("revenue-agency".into()),
        client_id: None,
        purpose: Some("tax-filing".into()),
        consent_id: None,
        request_id: None,
        attributes: vec!["address".into(), "birthdate".into()],
        reasons: Vec::new(),
        detail: Default::default(),
        leaf_hash: String::new(),
        entry: String::new(),
    };
    let en = digests::compose::digest(
        Lang::En,
        catalogue.catalogue(),
        "https://broker.example/",
        std::slice::from_ref(&record),
        3,
    );
    assert!(en.subject.contains("3 new notices"), "{}", en.subject);
    assert!(en.body.contains("A department received your information"));
    assert!(
        en.body.contains("Home address, Date of birth"),
        "{}",
        en.body
    );
    assert!(
        en.body
            .contains("https://broker.example/me/activity/0193-rec")
    );
    assert!(en.body.contains("… and 2 more."));
    assert!(en.body.contains("https://broker.example/me/notices/digest"));
    let fr = digests::compose::digest(
        Lang::Fr,
        catalogue.catalogue(),
        "https://broker.example",
        &[record],
        1,
    );
    assert!(fr.subject.contains("1 nouveaux avis"), "{}", fr.subject);
    assert!(fr.body.contains("Un ministère a reçu vos renseignements"));
    assert!(fr.body.contains("Adresse du domicile"), "{}", fr.body);
    assert!(!fr.body.contains("de plus"));
}

#[tokio::test]
async fn a_digest_left_sending_by_a_stopped_instance_is_marked_interrupted_and_never_sent_again() {
    let t = services(Frequency::Weekly).await;
    let alice = id();
    let now = base();
    t.digests.turn(now).await.unwrap();
    record_about(&t, &alice, Action::Release).await;
    let later = next_week(now);
    assert_eq!(t.digests.turn(later).await.unwrap().created, 1);
    // An instance claimed it and stopped in the middle of the SMTP conversation.
    digest::Entity::update_many()
        .col_expr(
            digest::Column::Status,
            Expr::value(Status::Sending.as_str()),
        )
        .col_expr(digest::Column::ClaimedAt, Expr::value(later))
        .filter(digest::Column::CitizenId.eq(alice.as_str()))
        .exec(&t.db)
        .await
        .unwrap();
    // Within the claim's lease it is left alone…
    t.digests.turn(later + 1_000).await.unwrap();
    assert_eq!(digests_of(&t, &alice).await[0].status, "sending");
    // …after it, it is interrupted: never pending again, so never sent twice.
    t.digests.turn(later + 10 * 60_000).await.unwrap();
    let a = digests_of(&t, &alice).await;
    assert_eq!(a[0].status, "interrupted");
    assert_eq!(
        t.digests.recent(&alice, 5).await.unwrap()[0].status,
        Status::Interrupted
    );
}

#[tokio::test]
async fn an_erased_citizens_digest_is_cancelled_without_reading_or_sending_anything() {
    let t = services(Frequency::Weekly).await;
    let alice = crate::citizens::create(&t.db, &t.vault).await.unwrap();
    let now = base();
    t.digests.turn(now).await.unwrap();
    record_about(&t, &alice, Action::Release).await;
    assert_eq!(t.digests.turn(next_week(now)).await.unwrap().created, 1);
    crate::admin::erase_citizen(&t.db, &t.audit, &alice, "test-operator")
        .await
        .unwrap();
    // Nothing listens on this port: a send would be a retry, not a cancellation.
    let digests = Digests {
        mailer: Some(
            mailer::Mailer::new(
                &SmtpConfig {
                    host: "127.0.0.1".into(),
                    port: 9,
                    security: SmtpSecurity::None,
                    ..SmtpConfig::default()
                },
                "Tell Us Once <notices@broker.test>",
                crate::testing::ISSUER,
            )
            .unwrap(),
        ),
        ..t.digests.clone()
    };
    let turn = digests.turn(next_week(now) + 1).await.unwrap();
    assert_eq!((turn.sent, turn.retried, turn.failed), (0, 0, 1));
    assert_eq!(
        digests.recent(&alice, 5).await.unwrap()[0].status,
        Status::Cancelled
    );
}
