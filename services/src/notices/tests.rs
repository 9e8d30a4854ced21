use super::*;
use crate::audit_log::{ActorKind, AuditLog, Outcome};
use crate::testing::TestServices;

async fn record_about(t: &TestServices, citizen: &str, action: Action) {
    let mut r = AuditLog::record(
        action,
        Outcome::Permit,
        crate::audit_log::Actor::new(ActorKind::Department, "revenue-agency"),
    );
    r.citizen_id = Some(citizen.to_owned());
    r.department_id = Some("revenue-agency".into());
    r.attributes = vec!["address".into()];
    t.audit.append(r).await.unwrap();
    t.audit.integrate_batch(1_000).await.unwrap();
}

#[tokio::test]
async fn uses_of_a_citizens_data_are_unread_until_opened_and_other_records_are_not_notices() {
    let t = TestServices::new().await;
    let alice = uuid::Uuid::now_v7().to_string();
    let bob = uuid::Uuid::now_v7().to_string();
    assert_eq!(unread(&t.db, &alice).await.unwrap(), 0);
    record_about(&t, &alice, Action::Release).await;
    record_about(&t, &alice, Action::ConsentRequested).await;
    // Not notices: her own sign-in, and a release about Bob.
    record_about(&t, &alice, Action::SignIn).await;
    record_about(&t, &bob, Action::Release).await;
    assert_eq!(unread(&t.db, &alice).await.unwrap(), 2);

    let opened = open(&t.db, &alice).await.unwrap();
    let actions: Vec<&str> = opened.iter().map(|(r, _)| r.action.as_str()).collect();
    assert_eq!(actions, ["consent-requested", "release"], "newest first");
    assert!(opened.iter().all(|(_, new)| *new));
    assert_eq!(unread(&t.db, &alice).await.unwrap(), 0, "seen once opened");
    assert_eq!(unread(&t.db, &bob).await.unwrap(), 1, "Bob's are his own");

    record_about(&t, &alice, Action::DeliveryDelivered).await;
    assert_eq!(unread(&t.db, &alice).await.unwrap(), 1);
    let opened = open(&t.db, &alice).await.unwrap();
    let new: Vec<bool> = opened.iter().map(|(_, new)| *new).collect();
    assert_eq!(new, [true, false, false]);
    // Seeing an older page never moves the mark back.
    mark_seen(&t.db, &alice, 1).await.unwrap();
    assert_eq!(unread(&t.db, &alice).await.unwrap(), 0);
}

#[tokio::test]
async fn who_may_act_for_a_citizen_is_a_notice_but_an_offer_not_yet_accepted_is_not() {
    let t = TestServices::new().await;
    let alice = uuid::Uuid::now_v7().to_string();
    record_about(&t, &alice, Action::DelegationOffered).await;
    assert_eq!(unread(&t.db, &alice).await.unwrap(), 0, "her own offer");
    for action in [
        Action::DelegationRegistered,
        Action::DelegationAccepted,
        Action::DelegationEnded,
    ] {
        record_about(&t, &alice, action).await;
    }
    assert_eq!(unread(&t.db, &alice).await.unwrap(), 3);
}
