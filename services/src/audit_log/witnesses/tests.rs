use audit::{
    AddCheckpoint, CheckpointPolicy, CosignatureSigner, Ed25519Signer, KeyName, LogState,
    Witness as WitnessMachine,
};
use sea_orm::{DatabaseConnection, EntityTrait, Set};
use store::testdb::TestDb;

use super::*;
use crate::audit_log::tests::{keys, sample};
use crate::audit_log::{AuditLog, WritePath};

const ORIGIN: &str = "broker.example/audit";

async fn log_of(records: usize) -> (TestDb, DatabaseConnection, AuditLog) {
    let test = TestDb::new().await.unwrap();
    let db = test.migrated().await.unwrap();
    let policy = CheckpointPolicy {
        every_records: 3,
        every_ms: 0,
    };
    let log = AuditLog::with_path(db.clone(), keys(), policy, WritePath::Direct);
    for i in 0..records {
        log.append(sample(i)).await.unwrap();
    }
    (test, db, log)
}

fn notes() -> CheckpointNotes {
    let name = KeyName::new(ORIGIN).unwrap();
    CheckpointNotes::new(
        ORIGIN.into(),
        Ed25519Signer::from_seed(name, &[7; 32]).unwrap(),
    )
}

fn cosigner() -> CosignatureSigner {
    CosignatureSigner::from_seed(KeyName::new("commissioner.example").unwrap(), &[9; 32]).unwrap()
}

async fn checkpoint_at(db: &DatabaseConnection, size: i64) -> checkpoint::Model {
    checkpoint::Entity::find_by_id(size)
        .one(db)
        .await
        .unwrap()
        .unwrap()
}

/// The witness state machine accepts the notes and proofs the stored log gives, from nothing
/// to each checkpoint in turn, and the roots computed from stored nodes are the signed ones.
#[tokio::test]
async fn stored_nodes_give_roots_and_proofs_a_witness_accepts() {
    let (_test, db, _log) = log_of(10).await;
    let notes = notes();
    let machine = WitnessMachine::new(cosigner()).follow(ORIGIN, notes.verifier_key());
    let mut state: Option<LogState> = None;
    for size in [1i64, 4, 7, 10] {
        let cp = checkpoint_at(&db, size).await;
        assert_eq!(
            root_at(&db, size as u64).await.unwrap().as_bytes(),
            &cp.root_hash[..]
        );
        let old = state.map_or(0, |s| s.size);
        let proof = if old == 0 {
            Vec::new()
        } else {
            consistency_proof(&db, old, size as u64).await.unwrap()
        };
        let request = AddCheckpoint::new(old, proof, notes.note(&cp).unwrap()).unwrap();
        let cosigned = machine
            .add_checkpoint(&request, state.as_ref(), 1_767_225_600)
            .unwrap();
        state = Some(cosigned.state);
    }
    assert_eq!(state.unwrap().size, 10);
}

async fn store_cosignature(db: &DatabaseConnection, size: u64, root: Hash) {
    let line = cosigner()
        .cosign(&notes().body(size, root).unwrap(), 1_767_225_600)
        .unwrap()
        .to_line();
    cosignature::Entity::insert(cosignature::ActiveModel {
        witness: Set("commissioner".into()),
        tree_size: Set(size as i64),
        root_hash: Set(root.as_bytes().to_vec()),
        signature: Set(line),
        cosigned_at: Set(1_767_225_600),
        received_ms: Set(0),
    })
    .exec_without_returning(db)
    .await
    .unwrap();
}

fn configured_witness() -> Vec<Witness> {
    vec![Witness {
        name: "commissioner".into(),
        url: "http://127.0.0.1:1".into(),
        key: cosigner().verifier_key(),
    }]
}

#[tokio::test]
async fn cosignatures_of_the_stored_tree_verify() {
    let (_test, db, _log) = log_of(10).await;
    for size in [3, 6, 9] {
        let root = root_at(&db, size).await.unwrap();
        store_cosignature(&db, size, root).await;
    }
    let summary = verify_cosignatures(&db, &notes(), &configured_witness(), 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.verified, 3);
    assert_eq!(summary.latest.get("commissioner"), Some(&9));
    // Without the witness configured, nothing is checked and nothing is claimed.
    let summary = verify_cosignatures(&db, &notes(), &[], 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((summary.verified, summary.unconfigured), (0, 3));
}

#[tokio::test]
async fn a_cosigned_size_past_the_tree_is_a_rollback() {
    let (_test, db, _log) = log_of(10).await;
    let root = root_at(&db, 9).await.unwrap();
    store_cosignature(&db, 9, root).await;
    let finding = verify_cosignatures(&db, &notes(), &configured_witness(), 6)
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(
        finding,
        WitnessFinding::RolledBack {
            size: 9,
            tree_size: 6,
            ..
        }
    ));
}

#[tokio::test]
async fn a_cosigned_root_the_tree_does_not_have_is_a_fork() {
    let (_test, db, _log) = log_of(10).await;
    let other = root_at(&db, 5).await.unwrap();
    store_cosignature(&db, 6, other).await;
    let finding = verify_cosignatures(&db, &notes(), &configured_witness(), 10)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(finding, WitnessFinding::Forked { size: 6, .. }),
        "{finding}"
    );
}

#[tokio::test]
async fn a_cosignature_by_another_key_is_refused() {
    let (_test, db, _log) = log_of(10).await;
    let root = root_at(&db, 6).await.unwrap();
    store_cosignature(&db, 6, root).await;
    let impostor =
        CosignatureSigner::from_seed(KeyName::new("commissioner.example").unwrap(), &[8; 32])
            .unwrap();
    let witnesses = vec![Witness {
        key: impostor.verifier_key(),
        ..configured_witness().remove(0)
    }];
    let finding = verify_cosignatures(&db, &notes(), &witnesses, 10)
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(
        finding,
        WitnessFinding::BadCosignature { size: 6, .. }
    ));
}

#[test]
fn notes_are_deterministic_and_verify_with_the_published_key() {
    let notes = notes();
    let row = checkpoint::Model {
        tree_size: 5,
        root_hash: vec![1; 32],
        time_ms: 0,
        jws: String::new(),
    };
    let a = notes.note(&row).unwrap();
    assert_eq!(a.to_bytes(), notes.note(&row).unwrap().to_bytes());
    assert!(a.text().starts_with("broker.example/audit\n5\n"));
    a.verify(&[notes.verifier_key()]).unwrap();
}

#[test]
fn the_latest_cosigned_checkpoint_only_moves_forward() {
    let latest = LatestCosigned::default();
    assert_eq!(latest.get(), None);
    latest.offer(10, Hash::from_slice(&[1; 32]).unwrap());
    latest.offer(5, Hash::from_slice(&[2; 32]).unwrap());
    assert_eq!(latest.get().map(|(size, _)| size), Some(10));
    latest
        .clone()
        .offer(12, Hash::from_slice(&[3; 32]).unwrap());
    assert_eq!(
        latest.get(),
        Some((12, Hash::from_slice(&[3; 32]).unwrap()))
    );
}

#[test]
fn a_witness_key_that_does_not_parse_is_refused_naming_the_witness() {
    let good = WitnessConfig {
        name: "commissioner".into(),
        url: "https://witness.example/".into(),
        key: cosigner().verifier_key().to_string(),
    };
    let parsed = configured(std::slice::from_ref(&good)).unwrap();
    assert_eq!(
        parsed[0].url, "https://witness.example",
        "no trailing slash"
    );
    let bad = WitnessConfig {
        key: "not-a-key".into(),
        ..good
    };
    let err = configured(&[bad]).unwrap_err();
    assert!(err.to_string().contains("`commissioner`"), "{err}");
}
