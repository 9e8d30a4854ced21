use super::*;
use crate::keys::Secrets;
use sea_orm::EntityTrait;
use store::testdb::TestDb;

fn vault(current: &str, keys: &[(&str, u8)]) -> Vault {
    Vault::new(&Secrets {
        pairwise: vec![3; 32],
        master_keys: keys
            .iter()
            .map(|(k, b)| (k.to_string(), [*b; 32]))
            .collect(),
        current_master_key: current.into(),
    })
    .unwrap()
}

fn provenance(kind: SourceKind, source: &str, loa: u8, verified: bool) -> Provenance {
    Provenance {
        source_kind: kind,
        source_id: source.into(),
        method: "asserted".into(),
        loa,
        verified,
        recorded_at: now_ms(),
    }
}

#[tokio::test]
async fn values_are_versioned_encrypted_and_read_back() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let v = vault("mk1", &[("mk1", 1)]);
    let id = create(&db, &v).await.unwrap();
    let first = serde_json::json!({"street_address": "1 Main St", "locality": "Ottawa"});
    let second = serde_json::json!({"street_address": "2 Elm St", "locality": "Gatineau"});
    assert_eq!(
        record(
            &db,
            &v,
            &id,
            "address",
            &first,
            &provenance(SourceKind::Citizen, "citizen", 2, false)
        )
        .await
        .unwrap(),
        1
    );
    assert_eq!(
        record(
            &db,
            &v,
            &id,
            "address",
            &second,
            &provenance(SourceKind::Citizen, "citizen", 2, false)
        )
        .await
        .unwrap(),
        2
    );
    let current = current_fact(&db, &v, &id, "address")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((current.version, &current.value), (2, &second));
    assert_eq!(
        history(&db, &v, &id, "address").await.unwrap().len(),
        2,
        "nothing overwritten"
    );
    // At rest the value is ciphertext only.
    let rows = entities::attribute_value::Entity::find()
        .all(&db)
        .await
        .unwrap();
    for row in rows {
        assert!(
            !row.ciphertext
                .windows(6)
                .any(|w| w == b"Ottawa" || w == b"Gatine")
        );
    }
}

#[tokio::test]
async fn a_provider_never_silently_overwrites_a_department_verified_value_at_higher_assurance() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let v = vault("mk1", &[("mk1", 1)]);
    let id = create(&db, &v).await.unwrap();
    let verified = serde_json::json!("1970-01-01");
    record(
        &db,
        &v,
        &id,
        "birthdate",
        &verified,
        &provenance(SourceKind::Department, "vital-statistics", 3, true),
    )
    .await
    .unwrap();
    let outcome = record_asserted(
        &db,
        &v,
        &id,
        "birthdate",
        &serde_json::json!("1971-01-01"),
        &provenance(SourceKind::Provider, "bank", 2, false),
    )
    .await
    .unwrap();
    assert_eq!(
        outcome,
        AssertOutcome::KeptVerified {
            by: "vital-statistics".into(),
            loa: 3
        }
    );
    assert_eq!(
        current_fact(&db, &v, &id, "birthdate")
            .await
            .unwrap()
            .unwrap()
            .value,
        verified
    );
    // Same value again from the same provider: no new version.
    let name = serde_json::json!("Alice");
    let p = provenance(SourceKind::Provider, "bank", 2, false);
    assert_eq!(
        record_asserted(&db, &v, &id, "given_name", &name, &p)
            .await
            .unwrap(),
        AssertOutcome::Recorded(1)
    );
    assert_eq!(
        record_asserted(&db, &v, &id, "given_name", &name, &p)
            .await
            .unwrap(),
        AssertOutcome::Unchanged
    );
}

#[tokio::test]
async fn erasure_destroys_the_key_and_the_ciphertext_stays_unreadable() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let v = vault("mk1", &[("mk1", 1)]);
    let id = create(&db, &v).await.unwrap();
    record(
        &db,
        &v,
        &id,
        "email",
        &serde_json::json!("alice@example.ca"),
        &provenance(SourceKind::Citizen, "citizen", 1, false),
    )
    .await
    .unwrap();
    let key_before = entities::citizen_key::Entity::find_by_id(id.clone())
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    erase(&db, &id).await.unwrap();
    assert!(matches!(
        current_facts(&db, &v, &id, None).await,
        Err(CitizenError::Erased)
    ));
    // The ciphertext is still there, and no key left in the database opens it.
    let row = entities::attribute_value::Entity::find()
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        entities::citizen_key::Entity::find()
            .all(&db)
            .await
            .unwrap()
            .is_empty()
    );
    // Even the master key plus another citizen's data key cannot read it.
    let other = create(&db, &v).await.unwrap();
    let other_key = entities::citizen_key::Entity::find_by_id(other.clone())
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    let dk = v
        .unwrap(&other, &other_key.master_key_id, &other_key.wrapped_key)
        .unwrap();
    let sealed = Sealed {
        nonce: row.nonce,
        ciphertext: row.ciphertext,
    };
    assert!(dk.open_value(&id, "email", 1, &sealed).is_err());
    // Only the destroyed key could have: show the test would notice if it were kept.
    let kept = v
        .unwrap(&id, &key_before.master_key_id, &key_before.wrapped_key)
        .unwrap();
    assert!(kept.open_value(&id, "email", 1, &sealed).is_ok());
    assert_eq!(get(&db, &id).await.unwrap().unwrap().status, Status::Erased);
}

#[tokio::test]
async fn rotating_master_keys_rewraps_every_data_key() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let old = vault("mk1", &[("mk1", 1)]);
    let a = create(&db, &old).await.unwrap();
    record(
        &db,
        &old,
        &a,
        "email",
        &serde_json::json!("a@example.ca"),
        &provenance(SourceKind::Citizen, "citizen", 1, false),
    )
    .await
    .unwrap();
    let both = vault("mk2", &[("mk1", 1), ("mk2", 2)]);
    assert_eq!(rotate_data_keys(&db, &both).await.unwrap(), 1);
    assert_eq!(rotate_data_keys(&db, &both).await.unwrap(), 0, "idempotent");
    let only_new = vault("mk2", &[("mk2", 2)]);
    assert_eq!(
        current_fact(&db, &only_new, &a, "email")
            .await
            .unwrap()
            .unwrap()
            .value,
        serde_json::json!("a@example.ca")
    );
}

#[tokio::test]
async fn pairwise_ids_map_back_only_within_their_sector() {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let v = vault("mk1", &[("mk1", 1)]);
    let id = create(&db, &v).await.unwrap();
    let secret = [9u8; 32];
    let sub = pairwise::subject_for(&db, &secret, "https://revenue.example", &id)
        .await
        .unwrap();
    assert_eq!(
        pairwise::subject_for(&db, &secret, "https://revenue.example", &id)
            .await
            .unwrap(),
        sub,
        "idempotent"
    );
    assert_eq!(
        pairwise::citizen_for(&db, "https://revenue.example", &sub)
            .await
            .unwrap(),
        Some(id.clone())
    );
    assert_eq!(
        pairwise::citizen_for(&db, "https://passport.example", &sub)
            .await
            .unwrap(),
        None
    );
}
