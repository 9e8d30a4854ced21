//! Witnessed checkpoints against the real `broker witness`: the broker sends each new checkpoint
//! (a C2SP signed note and a consistency proof) and stores the cosignatures as the log grows;
//! then someone holding the database and both signing keys rolls the log back and forks it.
//! The witness refuses both (and a forged extension, whose proof cannot link it to what was
//! cosigned), and
//! `broker audit verify` reports both from the stored cosignatures.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use audit::{AddCheckpoint, Frontier, Hash, NodeId, Note, NoteSignature, VerifierKey};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use services::audit_log::entities::{checkpoint, cosignature, head, node};
use services::audit_log::witnesses::{CheckpointNotes, consistency_proof, root_at};

use super::*;

const ORIGIN: &str = "e2e.example/audit";
const WITNESS: &str = "commissioner";

/// A running `broker witness`, killed when dropped.
struct WitnessProcess {
    child: Child,
    url: String,
    state_file: PathBuf,
}

impl WitnessProcess {
    /// Writes the witness's file (following `ORIGIN` with `log_key`), prints its key, starts it.
    async fn start(dir: &Path, log_key: &VerifierKey) -> (Self, VerifierKey) {
        let port = free_port();
        let file = dir.join("witness.toml");
        std::fs::write(
            &file,
            format!(
                "name = \"commissioner.example/witness\"\nbind = \"127.0.0.1:{port}\"\n\
                 key_file = \"witness.key\"\nstate_file = \"witness-state.json\"\n\n\
                 [[logs]]\norigin = \"{ORIGIN}\"\nkey = \"{log_key}\"\n"
            ),
        )
        .unwrap();
        let path = file.display().to_string();
        let (status, out, err) = run_broker(&[], &["witness", &path, "--print-key"]);
        assert!(status.success(), "{out}\n{err}");
        let key = VerifierKey::parse(out.trim()).expect("the witness prints its verifier key");
        let log = std::fs::File::create(dir.join("witness.log")).unwrap();
        let child = Command::new(broker_bin())
            .args(["witness", &path])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the witness does not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let witness = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            state_file: dir.join("witness-state.json"),
        };
        (witness, key)
    }

    /// The size the witness stores for `ORIGIN`, from its state file.
    fn stored_size(&self) -> Option<u64> {
        let text = std::fs::read_to_string(&self.state_file).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v["logs"][ORIGIN]["size"].as_u64()
    }

    /// Posts an `add-checkpoint` as anyone could: its status and body.
    async fn add(&self, request: &AddCheckpoint) -> (u16, String) {
        let res = reqwest::Client::new()
            .post(format!("{}/add-checkpoint", self.url))
            .body(request.to_bytes())
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The newest stored checkpoint.
async fn newest_checkpoint(conn: &DatabaseConnection) -> checkpoint::Model {
    checkpoint::Entity::find()
        .order_by_desc(checkpoint::Column::TreeSize)
        .one(conn)
        .await
        .unwrap()
        .expect("a checkpoint")
}

/// Waits until the witness's cosignature of the newest checkpoint is stored; returns its size.
async fn cosigned_newest(conn: &DatabaseConnection, broker: &Broker) -> u64 {
    audit_settled(conn).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let newest = newest_checkpoint(conn).await.tree_size;
        let cosigned = cosignature::Entity::find()
            .filter(cosignature::Column::Witness.eq(WITNESS))
            .order_by_desc(cosignature::Column::TreeSize)
            .one(conn)
            .await
            .unwrap()
            .map(|c| c.tree_size);
        if cosigned == Some(newest) {
            return newest as u64;
        }
        assert!(
            Instant::now() < deadline,
            "checkpoint {newest} not cosigned (stored: {cosigned:?}):\n{}",
            broker.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `broker --config FILE <args>` on the broker's database and data directory.
fn run_with(db: &TestDb, broker: &Broker, config: &Path, args: &[&str]) -> (i32, String, String) {
    let data_dir = broker.data_dir.display().to_string();
    let config = config.display().to_string();
    let mut all = vec!["--config", config.as_str()];
    all.extend_from_slice(args);
    let (status, out, err) = run_broker(
        &[
            ("BROKER_DATABASE_URL", db.url()),
            ("BROKER_DATA_DIR", &data_dir),
        ],
        &all,
    );
    (status.code().unwrap_or(-1), out, err)
}

/// What someone with the database does to make the log `size` records long again, consistently:
/// records, nodes and checkpoints past it deleted, the head rebuilt from the remaining nodes.
async fn truncate(conn: &DatabaseConnection, size: u64) {
    use services::audit_log::entities::record;
    record::Entity::delete_many()
        .filter(record::Column::Seq.gte(size as i64))
        .exec(conn)
        .await
        .unwrap();
    for n in node::Entity::find().all(conn).await.unwrap() {
        if ((n.idx as u64 + 1) << n.level) > size {
            node::Entity::delete_by_id((n.level, n.idx))
                .exec(conn)
                .await
                .unwrap();
        }
    }
    checkpoint::Entity::delete_many()
        .filter(checkpoint::Column::TreeSize.gt(size as i64))
        .exec(conn)
        .await
        .unwrap();
    let kept = newest_checkpoint(conn).await;
    assert_eq!(kept.tree_size as u64, size, "truncated to a checkpoint");
    let stored: std::collections::BTreeMap<NodeId, Hash> = node::Entity::find()
        .all(conn)
        .await
        .unwrap()
        .into_iter()
        .map(|n| {
            (
                NodeId::new(n.level as u8, n.idx as u64).unwrap(),
                Hash::from_slice(&n.hash).unwrap(),
            )
        })
        .collect();
    let frontier = Frontier::from_nodes(size, &stored).unwrap();
    head::Entity::update_many()
        .col_expr(head::Column::TreeSize, Expr::value(size as i64))
        .col_expr(
            head::Column::RootHash,
            Expr::value(frontier.root().as_bytes().to_vec()),
        )
        .col_expr(head::Column::Frontier, Expr::value(frontier.to_bytes()))
        .col_expr(head::Column::CheckpointSize, Expr::value(size as i64))
        .col_expr(head::Column::CheckpointMs, Expr::value(kept.time_ms))
        .exec(conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn checkpoints_are_cosigned_as_the_log_grows_and_a_rollback_and_a_fork_are_refused_and_detected()
 {
    let db = TestDb::new().await.unwrap();
    let conn = db.migrated().await.unwrap();
    let dir = temp_dir();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    // The broker's note key exists before the broker starts: the witness is configured with it.
    let notes = CheckpointNotes::new(
        ORIGIN.into(),
        services::keys::open_note_key(&data_dir, ORIGIN).unwrap(),
    );
    let (witness, witness_key) = WitnessProcess::start(dir.path(), &notes.verifier_key()).await;
    let config = dir.path().join("broker.toml");
    std::fs::write(
        &config,
        format!(
            "[audit]\norigin = \"{ORIGIN}\"\ncheckpoint_every_records = 5\ncheckpoint_every_secs = 0\n\
             witness_retry_max_secs = 1\n\n[[audit.witnesses]]\nname = \"{WITNESS}\"\n\
             url = \"{}\"\nkey = \"{witness_key}\"\n",
            witness.url
        ),
    )
    .unwrap();
    let config_arg = config.display().to_string();
    let mut broker = Broker::spawn(
        db.url(),
        &data_dir,
        BrokerEnv::default(),
        &["--config", &config_arg, "serve"],
    );
    broker.wait_ready(Duration::from_secs(60)).await;
    let log = log_of(&conn, &broker);

    // The log grows; each newest checkpoint is cosigned, and the witness keeps only the latest.
    releases(&log, "citizen-a", 6).await;
    let first = cosigned_newest(&conn, &broker).await;
    releases(&log, "citizen-a", 10).await;
    let n = cosigned_newest(&conn, &broker).await;
    assert!(n > first, "{first} then {n}");
    assert_eq!(witness.stored_size(), Some(n));

    // After a restart the sender resumes from what the table says the witness holds.
    broker.stop();
    let mut broker = Broker::spawn(
        db.url(),
        &data_dir,
        BrokerEnv::default(),
        &["--config", &config_arg, "serve"],
    );
    broker.wait_ready(Duration::from_secs(60)).await;
    let log = log_of(&conn, &broker);
    releases(&log, "citizen-a", 5).await;
    let before = n;
    let n = cosigned_newest(&conn, &broker).await;
    assert!(n > before, "{before} then {n}");
    assert_eq!(witness.stored_size(), Some(n));

    // Anyone can check the published note and the witness's cosignature of it.
    let body = reqwest::get(broker.url("/api/v1/audit/checkpoint"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut published = Note::parse(body.as_bytes()).unwrap();
    assert!(
        published.text().starts_with(&format!("{ORIGIN}\n{n}\n")),
        "{body}"
    );
    let stored = cosignature::Entity::find_by_id((WITNESS.to_owned(), n as i64))
        .one(&conn)
        .await
        .unwrap()
        .unwrap();
    for line in NoteSignature::parse_lines(&stored.signature).unwrap() {
        published.add_signature(line).unwrap();
    }
    let verified = published
        .verify(&[notes.verifier_key(), witness_key.clone()])
        .unwrap();
    assert_eq!(
        verified.len(),
        2,
        "signed by the log and cosigned by the witness"
    );

    let (code, out, err) = run_with(&db, &broker, &config, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains(&format!(
            "witness cosignatures verified (`{WITNESS}` up to size {n})"
        )),
        "{out}"
    );
    broker.stop();

    // Rollback: the log cut back to its previous checkpoint, consistently, and that smaller
    // checkpoint signed again with the note key and offered to the witness.
    let m = checkpoint::Entity::find()
        .filter(checkpoint::Column::TreeSize.lt(n as i64))
        .order_by_desc(checkpoint::Column::TreeSize)
        .one(&conn)
        .await
        .unwrap()
        .unwrap()
        .tree_size as u64;
    truncate(&conn, m).await;
    let rolled_back = notes.note(&newest_checkpoint(&conn).await).unwrap();
    // As if the witness were at m: it answers with the size it holds.
    let (status, body) = witness
        .add(&AddCheckpoint::new(m, Vec::new(), rolled_back).unwrap())
        .await;
    assert_eq!((status, body.as_str()), (409, format!("{n}\n").as_str()));
    assert_eq!(
        witness.stored_size(),
        Some(n),
        "the witness keeps what it cosigned"
    );
    let (code, out, err) = run_with(&db, &broker, &config, &["audit", "verify"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.starts_with("TAMPERED")
            && out.contains(&format!(
                "witness `{WITNESS}` cosigned a checkpoint of size {n}"
            ))
            && out.contains("rolled back"),
        "{out}"
    );

    // Fork: another history of the same size n, checkpoint signed, offered to the witness.
    let forger = services::audit_log::AuditLog::for_command(
        conn.clone(),
        std::sync::Arc::new(
            services::keys::open_signing_keys(&config_of(&broker).keys, &broker.data_dir).unwrap(),
        ),
        audit::CheckpointPolicy {
            every_records: 5,
            every_ms: 0,
        },
    );
    releases(&forger, "citizen-b", (n - m) as usize).await;
    forger.checkpoint_now().await.unwrap();
    let forked = newest_checkpoint(&conn).await;
    assert_eq!(forked.tree_size as u64, n);
    let (status, body) = witness
        .add(&AddCheckpoint::new(n, Vec::new(), notes.note(&forked).unwrap()).unwrap())
        .await;
    // A fork is a 409 naming the size held, the same as the old size sent.
    assert_eq!((status, body.as_str()), (409, format!("{n}\n").as_str()));
    // The forged history's verify is clean but for the witness.
    let (code, out, err) = run_with(&db, &broker, &config, &["audit", "verify"]);
    assert_eq!(code, 2, "{out}\n{err}");
    let cosigned_root = Hash::from_slice(&stored.root_hash).unwrap().to_hex();
    assert!(
        out.starts_with("TAMPERED")
            && out.contains(&format!(
                "witness `{WITNESS}` cosigned root {cosigned_root} at size {n}"
            ))
            && out.contains("forked"),
        "{out}"
    );
    assert_ne!(root_at(&conn, n).await.unwrap().to_hex(), cosigned_root);

    // Growing the forged history does not help: no proof links it to what was cosigned.
    releases(&forger, "citizen-b", 5).await;
    forger.checkpoint_now().await.unwrap();
    let grown = newest_checkpoint(&conn).await;
    let proof = consistency_proof(&conn, n, grown.tree_size as u64)
        .await
        .unwrap();
    let (status, body) = witness
        .add(&AddCheckpoint::new(n, proof, notes.note(&grown).unwrap()).unwrap())
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(witness.stored_size(), Some(n));
    // Not signed by the log's key: 403; a log the witness does not follow: 404.
    let impostor =
        audit::Ed25519Signer::from_seed(audit::KeyName::new(ORIGIN).unwrap(), &[1; 32]).unwrap();
    let root = Hash::from_slice(&grown.root_hash).unwrap();
    let unsigned = audit::TlogCheckpoint::new(ORIGIN, n + 5, root)
        .unwrap()
        .sign(&impostor)
        .unwrap();
    let (status, _) = witness
        .add(&AddCheckpoint::new(n, Vec::new(), unsigned).unwrap())
        .await;
    assert_eq!(status, 403);
    let elsewhere = audit::KeyName::new("elsewhere.example/log").unwrap();
    let other_log = audit::TlogCheckpoint::new("elsewhere.example/log", 1, root)
        .unwrap()
        .sign(&audit::Ed25519Signer::from_seed(elsewhere, &[2; 32]).unwrap())
        .unwrap();
    let (status, _) = witness
        .add(&AddCheckpoint::new(0, Vec::new(), other_log).unwrap())
        .await;
    assert_eq!(status, 404);
    assert_eq!(witness.stored_size(), Some(n));
    // The fork and the forged extension, signed by the log, are kept as evidence (the rolled
    // back checkpoint is one the witness may have seen honestly: stale, not proof).
    let evidence = std::fs::read_to_string(witness.state_file.with_extension("evidence")).unwrap();
    assert_eq!(evidence.lines().count(), 2, "{evidence}");
    assert!(evidence.contains("fork"), "{evidence}");
}

/// A department's release names the newest checkpoint the witness cosigned: evidence that
/// stays with the department whatever later happens to the broker's log.
#[tokio::test]
async fn a_release_carries_the_newest_witnessed_checkpoint() {
    use broker_e2e::departments::call;
    use broker_e2e::release::{FactSpec, World, attributes_path, verify_release};
    const ESD: &str = "employment-social-development";
    const PENSION: &str = "pension-enrolment";

    let world = World::new().await;
    let citizen = world
        .citizen(&[FactSpec::provider(
            "given_name",
            serde_json::json!("Alice"),
            2,
        )])
        .await;
    let sub = world.subject(ESD, &citizen).await;
    world
        .grant(&citizen, ESD, PENSION, &["given_name"], 30)
        .await;
    let dept = world.node_client(ESD, "ES256", &["attributes:read"]).await;
    let notes = CheckpointNotes::new(
        ORIGIN.into(),
        services::keys::open_note_key(world.dir.path(), ORIGIN).unwrap(),
    );
    let witness_dir = temp_dir();
    let (witness, witness_key) =
        WitnessProcess::start(witness_dir.path(), &notes.verifier_key()).await;
    let broker = world
        .start_with(
            BrokerEnv::default()
                .set("BROKER_AUDIT__ORIGIN", ORIGIN)
                .set("BROKER_AUDIT__WITNESS_RETRY_MAX_SECS", "1")
                .set(
                    "BROKER_AUDIT__WITNESSES",
                    format!(
                        "[{{name=\"{WITNESS}\",url=\"{}\",key=\"{witness_key}\"}}]",
                        witness.url
                    ),
                ),
        )
        .await;
    let n = cosigned_newest(&world.conn, &broker).await;
    let root = cosignature::Entity::find_by_id((WITNESS.to_owned(), n as i64))
        .one(&world.conn)
        .await
        .unwrap()
        .unwrap()
        .root_hash;
    // The broker learns of the cosignature within a tick of its sender.
    let deadline = Instant::now() + Duration::from_secs(10);
    let payload = loop {
        let out = call(
            &broker.base,
            &dept,
            None,
            &["--get", &attributes_path(&sub, "given_name", PENSION)],
        );
        assert_eq!(out["status"], 200, "{out}");
        let payload = verify_release(&broker, out["body"].as_str().unwrap(), &dept.client_id);
        if payload.get("checkpoint").is_some() || Instant::now() > deadline {
            break payload;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let claim = &payload["checkpoint"];
    let size = claim["size"].as_u64().expect("a checkpoint claim");
    assert!(size >= n, "{payload}");
    let stored = cosignature::Entity::find_by_id((WITNESS.to_owned(), size as i64))
        .one(&world.conn)
        .await
        .unwrap()
        .expect("the claim names a cosigned checkpoint");
    assert_eq!(
        claim["root"],
        Hash::from_slice(&stored.root_hash).unwrap().to_hex()
    );
    assert!(size > n || stored.root_hash == root);
}
