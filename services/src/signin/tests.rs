//! Repository tests: identity links and claim recording on the test database (SQLite or
//! PostgreSQL per `TUO_TEST_DATABASE`).

use std::sync::Arc;

use sea_orm::{EntityTrait, PaginatorTrait, TransactionTrait};
use serde_json::json;

use super::entities::identity_link;
use super::{claims, links};
use crate::audit_log::{AuditLog, entities::record};
use crate::citizens::{self, Provenance, SourceKind};
use crate::error::Error;
use crate::keys::{Secrets, SigningKeys};
use crate::vault::Vault;
use store::testdb::TestDb;

fn vault() -> Vault {
    Vault::new(&Secrets {
        pairwise: vec![3; 32],
        master_keys: [("mk1".to_owned(), [1u8; 32])].into_iter().collect(),
        current_master_key: "mk1".into(),
    })
    .unwrap()
}

fn audit(db: &sea_orm::DatabaseConnection) -> AuditLog {
    let dir = std::env::temp_dir().join(format!("tuo-signin-{}", uuid::Uuid::now_v7().simple()));
    AuditLog::new(
        db.clone(),
        Arc::new(SigningKeys::open_dir(&dir, 60).unwrap()),
        audit::CheckpointPolicy {
            every_records: 0,
            every_ms: 0,
        },
    )
}

async fn audited_actions(db: &sea_orm::DatabaseConnection) -> Vec<String> {
    // Queued records (PostgreSQL) are read once integrated.
    audit(db).settle().await.unwrap();
    record::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect()
}

#[tokio::test]
async fn links_are_unique_per_identity_and_the_last_one_stays() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let (v, log) = (vault(), audit(&db));
    let txn = db.begin().await.unwrap();
    let citizen = citizens::create(&txn, &v).await.unwrap();
    let first = links::create(&txn, &log, &citizen, "bank", "https://bank", "u1", 2)
        .await
        .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(
        links::find(&db, "https://bank", "u1").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(links::find(&db, "https://bank", "u2").await.unwrap(), None);

    // The same identity cannot be linked to a second citizen.
    let other = citizens::create(&db, &v).await.unwrap();
    let err = links::create(&db, &log, &other, "bank", "https://bank", "u1", 2)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Db(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))),
        "{err}"
    );

    // The only link cannot be removed.
    let err = links::unlink(&db, &log, &citizen, &first.id, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SignIn(super::SignInError::LastLink)));

    let second = links::create(&db, &log, &citizen, "prov", "https://prov", "p1", 3)
        .await
        .unwrap();
    // Not the one the session signed in with, nor someone else's.
    let err = links::unlink(&db, &log, &citizen, &second.id, Some("prov"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SignIn(super::SignInError::LinkInUse)));
    let err = links::unlink(&db, &log, &other, &second.id, None)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::SignIn(super::SignInError::LinkNotFound(_))
    ));

    let removed = links::unlink(&db, &log, &citizen, &second.id, Some("bank"))
        .await
        .unwrap();
    assert_eq!(removed.provider_id, "prov");
    assert_eq!(
        identity_link::Entity::find().count(&db).await.unwrap(),
        1,
        "only the first link is left"
    );
    // Each change was audited; refused ones changed nothing and left no record.
    assert_eq!(
        audited_actions(&db).await,
        ["identity-linked", "identity-linked", "identity-unlinked"]
    );
}

#[tokio::test]
async fn asserted_claims_are_versioned_and_never_replace_a_verified_department_value() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let v = vault();
    let citizen = citizens::create(&db, &v).await.unwrap();
    let alice = json!({
        "given_name": "Alice",
        "family_name": "Tremblay",
        "birthdate": "1958-04-12",
        "address": {"street_address": "123 Rue Principale", "locality": "Gatineau",
            "region": "QC", "postal_code": "J8X 1A1", "country": "CA"},
    })
    .as_object()
    .cloned()
    .unwrap();
    let first = claims::record(
        &db,
        &v,
        &policies::Catalogue::embedded().unwrap(),
        &citizen,
        "bank",
        2,
        &alice,
    )
    .await
    .unwrap();
    assert_eq!(
        first.updated,
        vec!["given_name", "family_name", "birthdate", "address"]
    );
    let fact = citizens::current_fact(&db, &v, &citizen, "given_name")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fact.value, json!("Alice"));
    assert_eq!(fact.provenance.source_kind, SourceKind::Provider);
    assert_eq!(fact.provenance.source_id, "bank");
    assert_eq!(fact.provenance.method, "asserted");
    assert_eq!(fact.provenance.loa, 2);

    // The same claims again from the same provider: nothing new.
    let again = claims::record(
        &db,
        &v,
        &policies::Catalogue::embedded().unwrap(),
        &citizen,
        "bank",
        2,
        &alice,
    )
    .await
    .unwrap();
    assert!(again.updated.is_empty() && again.not_taken.is_empty());

    // A department verifies the birthdate at level 4.
    citizens::record(
        &db,
        &v,
        &citizen,
        "birthdate",
        &json!("1958-04-21"),
        &Provenance {
            source_kind: SourceKind::Department,
            source_id: "vital-stats".into(),
            method: "registry".into(),
            loa: 4,
            verified: true,
            recorded_at: store::now_ms(),
        },
    )
    .await
    .unwrap();
    // Another provider at level 3 asserts a different birthdate and a new family name.
    let mut provincial = alice.clone();
    provincial.insert("family_name".into(), json!("Tremblay-Roy"));
    let later = claims::record(
        &db,
        &v,
        &policies::Catalogue::embedded().unwrap(),
        &citizen,
        "provincial",
        3,
        &provincial,
    )
    .await
    .unwrap();
    assert!(later.not_taken == vec!["birthdate"], "{later:?}");
    assert!(later.updated.contains(&"family_name".to_owned()));
    let birthdate = citizens::current_fact(&db, &v, &citizen, "birthdate")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        birthdate.value,
        json!("1958-04-21"),
        "the verified value stays"
    );
    let history = citizens::history(&db, &v, &citizen, "family_name")
        .await
        .unwrap();
    assert_eq!(history.len(), 2, "a new version, the old one kept");
    assert_eq!(history[0].provenance.source_id, "provincial");
    assert_eq!(history[0].provenance.loa, 3);

    let notices = claims::notices(&db, &citizen).await.unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].attribute, "birthdate");
    assert_eq!(notices[0].provider_id, "provincial");
    assert_eq!(notices[0].kept_source_id, "vital-stats");
    assert_eq!(notices[0].kept_loa, 4);

    // Once the provider agrees with the verified value, the notice goes.
    provincial.insert("birthdate".into(), json!("1958-04-21"));
    claims::record(
        &db,
        &v,
        &policies::Catalogue::embedded().unwrap(),
        &citizen,
        "provincial",
        3,
        &provincial,
    )
    .await
    .unwrap();
    assert!(claims::notices(&db, &citizen).await.unwrap().is_empty());
}
