//! A disclosure not yet made is decided again, and withdrawn with what ended it: in process, over
//! the real ledger, outbox and worker (SQLite or PostgreSQL per `TUO_TEST_DATABASE`). The same
//! story end to end, against a real receiver, is in `tests/e2e/relay/withdrawal.rs`.

use audit::{Actor, ActorKind};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use super::EventKind;
use super::entities::delivery;
use super::outbox::{self, NewChange};
use super::recheck::{self, Verdict};
use super::worker::{CANCELLED, PENDING};
use crate::audit_log::entities::record as audit_row;
use crate::citizens::{Provenance, SourceKind};
use crate::consents::ledger::{self, Citizen, GrantInput};
use crate::lang::Lang;
use crate::testing::TestServices;
use store::now_ms;

const REVENUE: &str = "revenue-agency";
const BENEFITS: &str = "benefit-eligibility";
const DAY: i64 = 86_400_000;

pub(super) struct Harness {
    pub(super) state: TestServices,
}

fn address(street: &str) -> serde_json::Value {
    json!({"street_address": street, "locality": "Gatineau", "region": "QC",
        "postal_code": "J8X 1A1", "country": "CA"})
}

impl Harness {
    /// The revenue agency receives pushes (at an address nothing listens on: nothing is sent
    /// here; these tests are about what is decided).
    pub(super) async fn new() -> Self {
        let state = TestServices::new().await;
        let mut revenue = crate::departments::get(&state.db, REVENUE)
            .await
            .unwrap()
            .unwrap();
        revenue.delivery = Some(json!({"kind": "push", "endpoint": "http://127.0.0.1:9/events"}));
        crate::departments::upsert(&state.db, &revenue)
            .await
            .unwrap();
        Self { state }
    }

    /// A citizen with an ongoing address consent to the revenue agency, granted through the
    /// ledger (receipt and audit record included).
    pub(super) async fn citizen_with_consent(&self) -> (String, consent::Consent) {
        let id = crate::citizens::create(&self.state.db, &self.state.vault)
            .await
            .unwrap();
        let (consent, _receipt) = ledger::grant_own(
            &self.state.ledger,
            &Citizen {
                id: &id,
                loa: 3,
                lang: Lang::En,
            },
            GrantInput {
                department: REVENUE.into(),
                purpose: BENEFITS.into(),
                mode: "ongoing".into(),
                attributes: vec!["address".into()],
                duration_days: Some(1),
            },
        )
        .await
        .unwrap();
        (id, consent)
    }

    /// The citizen moves (a department-verified address at level 3).
    async fn moves(&self, citizen: &str) -> outbox::Recorded {
        self.moves_to(citizen, "2 New Street").await.unwrap()
    }

    /// The citizen moves to `street`.
    pub(super) async fn moves_to(
        &self,
        citizen: &str,
        street: &str,
    ) -> Result<outbox::Recorded, crate::Error> {
        outbox::record(
            &self.state.relay,
            NewChange {
                citizen_id: citizen.to_owned(),
                kind: EventKind::Move,
                values: vec![("address".into(), address(street))],
                provenance: Provenance {
                    source_kind: SourceKind::Citizen,
                    source_id: "citizen".into(),
                    method: "self-declared".into(),
                    loa: 3,
                    verified: false,
                    recorded_at: now_ms(),
                },
                actor: Actor::new(ActorKind::Citizen, citizen),
                department_id: None,
                client_id: None,
                delegation_id: None,
            },
        )
        .await
    }

    pub(super) async fn deliveries(&self, citizen: &str) -> Vec<delivery::Model> {
        delivery::Entity::find()
            .filter(delivery::Column::CitizenId.eq(citizen))
            .all(&self.state.db)
            .await
            .unwrap()
    }

    async fn actions(&self, action: &str) -> usize {
        self.state.audit.settle().await.unwrap();
        audit_row::Entity::find()
            .filter(audit_row::Column::Action.eq(action))
            .all(&self.state.db)
            .await
            .unwrap()
            .len()
    }
}

#[tokio::test]
async fn withdrawing_a_consent_cancels_its_undelivered_values_in_the_same_transaction() {
    let h = Harness::new().await;
    let (citizen, consent) = h.citizen_with_consent().await;
    let recorded = h.moves(&citizen).await;
    assert_eq!(recorded.recipients, [REVENUE]);
    let queued = h.deliveries(&citizen).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].status, PENDING);
    assert_eq!(queued[0].consent_id, Some(consent.id().to_string()));

    ledger::revoke(&h.state.ledger, &citizen, &consent.id().to_string())
        .await
        .unwrap();
    let after = h.deliveries(&citizen).await;
    let value = after.iter().find(|d| d.event == "move").unwrap();
    assert_eq!(value.status, CANCELLED);
    assert_eq!(value.last_error.as_deref(), Some("consent_revoked"));
    // Only the notice is left to send, and it says how the consent ended.
    let notice = after.iter().find(|d| d.event == "consent-revoked").unwrap();
    assert_eq!(notice.status, PENDING);
    let change = super::entities::change::Entity::find_by_id(notice.change_id.clone())
        .one(&h.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(change.ended.as_deref(), Some("revoked"));
    assert_eq!(h.actions("delivery-cancelled").await, 1);
}

#[tokio::test]
async fn a_delivery_is_decided_again_when_it_is_sent() {
    let h = Harness::new().await;
    let (citizen, consent) = h.citizen_with_consent().await;
    h.moves(&citizen).await;
    let row = h.deliveries(&citizen).await.remove(0);
    let change = super::entities::change::Entity::find_by_id(row.change_id.clone())
        .one(&h.state.db)
        .await
        .unwrap()
        .unwrap();
    let department = crate::departments::get(&h.state.db, REVENUE)
        .await
        .unwrap()
        .unwrap();
    let who = crate::citizens::get(&h.state.db, &citizen).await.unwrap();
    let consents: std::collections::HashMap<String, consent::Consent> =
        crate::consents::load_many(&h.state.db, &[consent.id().to_string()])
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.id().to_string(), c))
            .collect();
    let decide = |department: &crate::departments::Department,
                  who: Option<&crate::citizens::Citizen>,
                  consents: &std::collections::HashMap<String, consent::Consent>,
                  now: i64| {
        recheck::decide(
            &h.state.policy,
            &row,
            &change,
            department,
            who,
            consents,
            now,
        )
        .unwrap()
    };
    let now = now_ms();
    // Now: a grant for exactly the queued attribute, under the queued consent.
    match decide(&department, who.as_ref(), &consents, now) {
        Verdict::Values(grant) => {
            assert_eq!(grant.attributes().collect::<Vec<_>>(), ["address"]);
            assert_eq!(grant.consent_id(), Some(consent.id()));
        }
        other => panic!("expected a grant, got {other:?}"),
    }
    // Past the consent's expiry (before any sweep recorded it): cancelled, with the reason.
    let later = decide(&department, who.as_ref(), &consents, now + 2 * DAY);
    assert!(
        matches!(later, Verdict::Cancel("consent_expired")),
        "{later:?}"
    );
    // The department disabled, the citizen erased: cancelled too.
    let mut disabled = department.clone();
    disabled.active = false;
    let off = decide(&disabled, who.as_ref(), &consents, now);
    assert!(
        matches!(off, Verdict::Cancel("department_disabled")),
        "{off:?}"
    );
    let gone = decide(&department, None, &consents, now);
    assert!(
        matches!(gone, Verdict::Cancel("citizen_erased")),
        "{gone:?}"
    );
    // A consent that cannot be found is not one to send under.
    let missing = decide(&department, who.as_ref(), &Default::default(), now);
    assert!(
        matches!(missing, Verdict::Cancel("no_consent")),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_death_withdraws_the_other_facts_still_queued() {
    let h = Harness::new().await;
    let (citizen, _consent) = h.citizen_with_consent().await;
    h.moves(&citizen).await;
    outbox::record(
        &h.state.relay,
        NewChange {
            citizen_id: citizen.clone(),
            kind: EventKind::Death,
            values: vec![("date_of_death".into(), json!("2026-11-30"))],
            provenance: Provenance {
                source_kind: SourceKind::Department,
                source_id: "vital-statistics".into(),
                method: "registry".into(),
                loa: 3,
                verified: true,
                recorded_at: now_ms(),
            },
            actor: Actor::new(ActorKind::Department, "vital-statistics"),
            department_id: Some("vital-statistics".into()),
            client_id: None,
            delegation_id: None,
        },
    )
    .await
    .unwrap();
    let rows = h.deliveries(&citizen).await;
    let moved = rows.iter().find(|d| d.event == "move").unwrap();
    assert_eq!(moved.status, CANCELLED);
    assert_eq!(moved.last_error.as_deref(), Some("subject_deceased"));
    // The death itself goes to its statutory recipient (the revenue agency), not cancelled.
    let death = rows.iter().find(|d| d.event == "death").unwrap();
    assert_eq!(death.status, PENDING);
    assert_eq!(death.purpose.as_deref(), Some("death-notification"));
}

#[tokio::test]
async fn an_erasure_cancels_everything_queued_about_the_citizen() {
    let h = Harness::new().await;
    let (citizen, _consent) = h.citizen_with_consent().await;
    h.moves(&citizen).await;
    let erased = crate::admin::erase_citizen(&h.state.db, &h.state.audit, &citizen, "test")
        .await
        .unwrap();
    assert_eq!(erased.deliveries_cancelled, 1);
    let rows = h.deliveries(&citizen).await;
    assert!(rows.iter().all(|d| d.status == CANCELLED), "{rows:?}");
    assert_eq!(rows[0].last_error.as_deref(), Some("citizen_erased"));
    // Erased once: a second erasure is refused and changes nothing.
    assert!(
        crate::admin::erase_citizen(&h.state.db, &h.state.audit, &citizen, "test")
            .await
            .is_err()
    );
    assert_eq!(h.actions("attribute-erased").await, 1);
}
