//! The pull job: its pure parts and each change through the checks and the outbox, on the test
//! database (SQLite or PostgreSQL per `TUO_TEST_DATABASE`). Its table (claims, leases, cursor)
//! is tested in `pull/store/tests.rs`, one poll against a real feed over HTTP in
//! `pull/feed_tests.rs`, and the whole broker against a Node feed in `tests/e2e/relay/pull.rs`.

use adapters::{PulledChange, PulledValue};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use super::ingest::{self, Ingested};
use super::*;
use crate::relay::EventKind;
use crate::relay::entities::change;

pub(super) const REGISTRY: &str = "test-registry";
pub(super) const SECTOR: &str = "registry.test.example";

pub(super) fn pulled(subject: &str, attribute: &str, value: Value) -> PulledChange {
    PulledChange {
        subject: subject.into(),
        attribute: attribute.into(),
        value: PulledValue {
            value,
            verified_at: None,
            method: None,
        },
        changed_at: None,
    }
}

pub(super) fn address(street: &str) -> Value {
    json!({"street_address": street, "locality": "Gatineau", "region": "QC",
           "postal_code": "J8X 1A1", "country": "CA"})
}

/// An application state over a fresh database, with the catalogue's departments and a registry
/// department authoritative for addresses, names and dates of death.
pub(super) struct Harness {
    _services: crate::testing::TestServices,
    pub state: Relay,
    pub registry: Department,
}

impl Harness {
    pub async fn new() -> Self {
        let services = crate::testing::TestServices::new().await;
        let state = services.relay.clone();
        let registry = Department {
            id: REGISTRY.into(),
            name_en: "Test registry".into(),
            name_fr: "Registre d'essai".into(),
            sector_identifier: SECTOR.into(),
            active: true,
            authoritative_for: ["address", "given_name", "family_name", "date_of_death"]
                .map(String::from)
                .to_vec(),
            delivery: None,
        };
        departments::upsert(&state.db, &registry).await.unwrap();
        Self {
            _services: services,
            state,
            registry,
        }
    }

    /// A citizen and their pairwise subject id in the registry's sector.
    pub async fn citizen(&self) -> (String, String) {
        let id = crate::citizens::create(&self.state.db, &self.state.vault)
            .await
            .unwrap();
        let sub = crate::citizens::pairwise::subject_for(
            &self.state.db,
            &self.state.secrets.pairwise,
            SECTOR,
            &id,
        )
        .await
        .unwrap();
        (id, sub)
    }

    pub async fn ingest(&self, change: &PulledChange) -> Ingested {
        ingest::ingest(&self.state, &self.registry, 3, change)
            .await
            .unwrap()
    }

    pub async fn changes(&self) -> u64 {
        change::Entity::find().count(&self.state.db).await.unwrap()
    }

    /// The audit records of refused pulled changes: (reasons, attributes, citizen, entry bytes).
    pub async fn skips(&self) -> Vec<(audit::Record, Vec<u8>)> {
        use crate::audit_log::entities::record;
        self.state.audit.settle().await.unwrap();
        record::Entity::find()
            .filter(record::Column::Outcome.eq("error"))
            .order_by_asc(record::Column::Seq)
            .all(&self.state.db)
            .await
            .unwrap()
            .into_iter()
            .map(|row| {
                (
                    audit::Record::from_canonical(&row.entry).unwrap(),
                    row.entry,
                )
            })
            .filter(|(r, _)| r.detail.get("source").map(String::as_str) == Some("pull"))
            .collect()
    }
}

#[test]
fn each_attribute_makes_its_life_event() {
    assert_eq!(ingest::event_for("date_of_death"), EventKind::Death);
    assert_eq!(ingest::event_for("address"), EventKind::Move);
    assert_eq!(ingest::event_for("given_name"), EventKind::NameChange);
    assert_eq!(ingest::event_for("family_name"), EventKind::NameChange);
    assert_eq!(ingest::event_for("email"), EventKind::Update);
    assert_eq!(ingest::event_for("marital_status"), EventKind::Update);
}

#[test]
fn within_a_page_the_last_change_of_each_pair_counts() {
    let page = vec![
        pulled("a", "address", json!(1)),
        pulled("b", "address", json!(2)),
        pulled("a", "email", json!(3)),
        pulled("a", "address", json!(4)),
    ];
    let kept = ingest::latest_per_subject(page);
    let seen: Vec<(&str, &str, &Value)> = kept
        .iter()
        .map(|c| (c.subject.as_str(), c.attribute.as_str(), &c.value.value))
        .collect();
    assert_eq!(
        seen,
        [
            ("b", "address", &json!(2)),
            ("a", "email", &json!(3)),
            ("a", "address", &json!(4)),
        ]
    );
}

#[test]
fn failures_have_codes_that_never_carry_an_answer() {
    let cases = [
        (
            AdapterError::Status {
                status: 503,
                retry_after: Some(Duration::from_secs(2)),
            },
            "http_503",
        ),
        (
            AdapterError::Status {
                status: 404,
                retry_after: None,
            },
            "http_404",
        ),
        (AdapterError::Connect, "connect_failed"),
        (
            AdapterError::Timeout {
                timeout: Duration::from_secs(1),
            },
            "timeout",
        ),
        (
            AdapterError::ResponseTooLarge { limit: 10 },
            "response_too_large",
        ),
        (
            AdapterError::MalformedResponse {
                reason: "`changes` must be an array".into(),
            },
            "malformed_feed",
        ),
    ];
    for (error, code) in cases {
        assert_eq!(error_code(&error), code, "{error:?}");
    }
}

#[test]
fn a_cursor_belongs_to_the_feed_it_came_from() {
    let a = json!({"kind": "pull", "base_url": "https://a.example/tuo", "poll_interval_secs": 60});
    let same = json!({"kind": "pull", "base_url": "https://a.example/tuo", "page_size": 10});
    let other = json!({"kind": "pull", "base_url": "https://b.example/tuo"});
    assert_eq!(
        source_key(&a),
        source_key(&same),
        "tuning keeps the position"
    );
    assert_ne!(
        source_key(&a),
        source_key(&other),
        "another feed starts afresh"
    );
    assert_eq!(source_key(&a).len(), 64);
}

#[tokio::test]
async fn a_pulled_move_is_recorded_once_with_the_departments_provenance() {
    let h = Harness::new().await;
    let (citizen, sub) = h.citizen().await;
    let mut change = pulled(&sub, "address", address("2 New Street"));
    change.value.method = Some("document_check".into());
    let Ingested::Recorded { change_id } = h.ingest(&change).await else {
        panic!("recorded")
    };
    let row = change::Entity::find_by_id(change_id)
        .one(&h.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.kind.as_str(), row.source_id.as_str(), row.loa),
        ("move", REGISTRY, 3)
    );
    let fact = crate::citizens::current_fact(&h.state.db, &h.state.vault, &citizen, "address")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fact.value, address("2 New Street"));
    assert_eq!(
        fact.provenance.source_kind,
        crate::citizens::SourceKind::Department
    );
    assert_eq!(fact.provenance.method, "document_check");
    assert!(fact.provenance.verified);
    // The page read again (a crash before its cursor was stored): nothing new.
    assert_eq!(h.ingest(&change).await, Ingested::Unchanged);
    assert_eq!(h.changes().await, 1);
    // A new value is a new change; the old value again is a change too (it is not current).
    assert!(matches!(
        h.ingest(&pulled(&sub, "address", address("3 Next Street")))
            .await,
        Ingested::Recorded { .. }
    ));
    assert!(matches!(h.ingest(&change).await, Ingested::Recorded { .. }));
    assert_eq!(h.changes().await, 3);
}

#[tokio::test]
async fn the_same_value_from_another_source_is_recorded() {
    let h = Harness::new().await;
    let (citizen, sub) = h.citizen().await;
    crate::citizens::record(
        &h.state.db,
        &h.state.vault,
        &citizen,
        "address",
        &address("2 New Street"),
        &crate::citizens::Provenance {
            source_kind: crate::citizens::SourceKind::Citizen,
            source_id: "citizen".into(),
            method: "self-declared".into(),
            loa: 2,
            verified: false,
            recorded_at: 0,
        },
    )
    .await
    .unwrap();
    // The department now vouches for it at its level: worth recording.
    assert!(matches!(
        h.ingest(&pulled(&sub, "address", address("2 New Street")))
            .await,
        Ingested::Recorded { .. }
    ));
}

#[tokio::test]
async fn refused_changes_are_skipped_and_audited_without_their_value() {
    let h = Harness::new().await;
    let (citizen, sub) = h.citizen().await;
    let cases = [
        (
            pulled("no-such-subject", "address", address("9 Secret Lane")),
            "subject_not_found",
        ),
        (
            pulled(&sub, "birthdate", json!("1959-03-14")),
            "not_authoritative",
        ),
        (
            pulled(&sub, "address", json!("9 Secret Lane as text")),
            "invalid_value",
        ),
        (pulled(&sub, "shoe_size", json!(42)), "unknown_attribute"),
    ];
    for (change, code) in &cases {
        assert_eq!(
            h.ingest(change).await,
            Ingested::Skipped(code),
            "{change:?}"
        );
    }
    assert_eq!(h.changes().await, 0, "nothing recorded");
    let skips = h.skips().await;
    assert_eq!(skips.len(), cases.len());
    for ((record, entry), (change, code)) in skips.iter().zip(&cases) {
        assert_eq!(record.reasons, [*code]);
        assert_eq!(record.department_id.as_deref(), Some(REGISTRY));
        assert_eq!(record.actor.id, REGISTRY);
        let text = String::from_utf8_lossy(entry);
        assert!(
            !text.contains("Secret Lane") && !text.contains("1959"),
            "{text}"
        );
        if *code == "unknown_attribute" {
            assert!(
                record.attributes.is_empty(),
                "only catalogue names are recorded"
            );
        } else {
            assert_eq!(record.attributes, std::slice::from_ref(&change.attribute));
        }
    }
    // The citizen is named once they are known (not for an unknown subject).
    assert_eq!(skips[0].0.citizen_id, None);
    assert_eq!(
        skips[1].0.citizen_id, None,
        "a refused attribute is refused before the lookup"
    );
    let _ = citizen;
}

#[tokio::test]
async fn a_death_read_again_is_unchanged_and_later_changes_are_refused() {
    let h = Harness::new().await;
    let (citizen, sub) = h.citizen().await;
    let death = pulled(&sub, "date_of_death", json!("2026-11-20"));
    assert!(matches!(h.ingest(&death).await, Ingested::Recorded { .. }));
    let status = crate::citizens::get(&h.state.db, &citizen)
        .await
        .unwrap()
        .unwrap()
        .status;
    assert_eq!(status, crate::citizens::Status::Deceased);
    assert_eq!(h.ingest(&death).await, Ingested::Unchanged);
    assert_eq!(
        h.ingest(&pulled(&sub, "address", address("2 New Street")))
            .await,
        Ingested::Skipped("subject_deceased")
    );
    let skips = h.skips().await;
    assert_eq!(skips.len(), 1);
    assert_eq!(skips[0].0.citizen_id.as_deref(), Some(citizen.as_str()));
    assert_eq!(h.changes().await, 1);
}
