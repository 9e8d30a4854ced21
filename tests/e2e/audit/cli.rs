//! `broker audit verify` and `broker audit export`, the real binary, on a log written by the real
//! broker (its officer searches) and by its library (releases), then tampered with in the
//! database: verify names the row.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use services::audit_log::entities::record;

use super::*;

async fn set_entry(conn: &DatabaseConnection, seq: i64, entry: Vec<u8>) {
    record::Entity::update_many()
        .col_expr(record::Column::Entry, Expr::value(entry))
        .filter(record::Column::Seq.eq(seq))
        .exec(conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn verify_is_clean_then_names_the_row_edited_or_deleted_in_the_database() {
    let db = TestDb::new().await.unwrap();
    let conn = db.migrated().await.unwrap();
    let broker = Broker::start_with(&db, env()).await;
    let log = log_of(&conn, &broker);
    releases(&log, "citizen-a", 12).await;
    // The broker appends its own record for an officer's search.
    let cookie = officer_cookie(&conn, &broker).await;
    let res = reqwest::Client::new()
        .get(broker.url("/api/v1/audit/records?department=revenue-agency"))
        .header("Cookie", format!("tuo_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let (code, out, err) = run_cli(&db, &broker, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.starts_with("ok: 13 records verified"), "{out}");
    assert!(out.contains("signed checkpoints verified"), "{out}");

    // One byte of one entry, changed in the database.
    let row = record::Entity::find_by_id(7i64)
        .one(&conn)
        .await
        .unwrap()
        .unwrap();
    let mut edited = row.entry.clone();
    let at = edited.len() / 2;
    edited[at] ^= 0x20;
    set_entry(&conn, 7, edited).await;
    let (code, out, err) = run_cli(&db, &broker, &["audit", "verify"]);
    assert_eq!(code, 2, "{out}\n{err}");
    let line = out.lines().last().unwrap();
    assert!(line.starts_with("TAMPERED"), "{out}");
    assert!(
        line.contains(&format!("record 7 (`{}`) was edited", row.id)),
        "{line}"
    );
    assert_eq!(out.lines().count(), 1, "one clear line: {out}");

    // Put it back: clean again. Then delete a row: named as missing.
    set_entry(&conn, 7, row.entry.clone()).await;
    let (code, out, _) = run_cli(&db, &broker, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
    let gone = record::Entity::find_by_id(3i64)
        .one(&conn)
        .await
        .unwrap()
        .unwrap();
    let next = record::Entity::find_by_id(4i64)
        .one(&conn)
        .await
        .unwrap()
        .unwrap();
    record::Entity::delete_by_id(gone.seq)
        .exec(&conn)
        .await
        .unwrap();
    let (code, out, _) = run_cli(&db, &broker, &["audit", "verify"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&format!(
            "record 3 is missing: 1 record(s) deleted before the record now stored as `{}`",
            next.id
        )),
        "{out}"
    );
}

#[tokio::test]
async fn export_writes_csv_and_json_lines_with_proofs_that_check_against_a_signed_checkpoint() {
    let db = TestDb::new().await.unwrap();
    let conn = db.migrated().await.unwrap();
    let broker = Broker::start_with(&db, env()).await;
    let log = log_of(&conn, &broker);
    let ids = releases(&log, "citizen-a", 11).await;

    let (code, out, err) = run_cli(
        &db,
        &broker,
        &[
            "audit",
            "export",
            "--format",
            "csv",
            "--from",
            "2000-01-01",
            "--to",
            "2999-12-31",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "seq,id,time,action,outcome,actor_kind,actor_id,citizen_id,department_id,client_id,purpose,consent_id,request_id,attributes,reasons,leaf_hash"
    );
    // The 11 releases, then the export's own record (an operator's export is audited too).
    assert_eq!(lines.len(), 1 + 12, "{out}");
    for (line, id) in lines[1..12].iter().zip(&ids) {
        assert!(
            line.contains(id)
                && line.contains(",release,permit,department,revenue-agency,citizen-a,"),
            "{line}"
        );
    }
    assert!(
        lines[12].contains(",officer-export,ok,operator,cli,"),
        "{}",
        lines[12]
    );

    // A time range that excludes everything: only the header.
    let (code, out, _) = run_cli(
        &db,
        &broker,
        &[
            "audit",
            "export",
            "--format",
            "csv",
            "--from",
            "2000-01-01",
            "--to",
            "2000-01-02",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1, "{out}");
    let (code, _, err) = run_cli(&db, &broker, &["audit", "export", "--from", "last tuesday"]);
    assert_eq!(code, 1);
    assert!(err.contains("the filter `from` is invalid"), "{err}");

    // JSON Lines with proofs, to a file.
    let file = broker.data_dir.join("export.jsonl");
    let (code, out, err) = run_cli(
        &db,
        &broker,
        &[
            "audit",
            "export",
            "--format",
            "jsonl",
            "--proofs",
            "--output",
            &file.display().to_string(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("exported 14 records"), "{out}");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut proven = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(proof) = v.get("proof") else {
            continue;
        };
        let entry = services::jose::b64_decode(v["entry"].as_str().unwrap()).unwrap();
        let path: Vec<audit::Hash> = proof["path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| audit::Hash::from_hex(h.as_str().unwrap()).unwrap())
            .collect();
        let root =
            audit::Hash::from_hex(proof["checkpoint"]["root_hash"].as_str().unwrap()).unwrap();
        audit::verify_inclusion(
            &audit::leaf_hash(&entry),
            v["seq"].as_u64().unwrap(),
            proof["checkpoint"]["tree_size"].as_u64().unwrap(),
            &path,
            &root,
        )
        .unwrap();
        // The checkpoint's signature is the broker's (independent JOSE implementation).
        let (ok, stdout, stderr) = broker_e2e::peers::run_node(
            "verify-jws.mjs",
            &[
                "--jwks".to_owned(),
                broker.url("/jwks.json"),
                "--typ".to_owned(),
                "checkpoint+jws".to_owned(),
            ],
            Some(proof["checkpoint"]["jws"].as_str().unwrap()),
        );
        assert!(ok, "{stdout}\n{stderr}");
        let verified: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(verified["payload"]["type"], "audit-checkpoint");
        assert_eq!(
            verified["payload"]["root_hash"],
            proof["checkpoint"]["root_hash"]
        );
        proven += 1;
        if proven == 2 {
            break;
        }
    }
    assert_eq!(
        proven, 2,
        "records covered by a checkpoint carry proofs:\n{text}"
    );
}
