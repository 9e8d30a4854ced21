//! `broker demo` for a privacy officer: the demo department fetches Alice's attributes with the
//! printed command; Olivier Officer signs in, finds the release in the console and exports it;
//! `broker audit verify` is clean on the demo's database, and names the row edited afterwards.

use broker_e2e::signin::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use services::audit_log::entities::record;

use super::*;

#[tokio::test]
async fn in_the_demo_an_officer_finds_and_exports_a_release_and_verify_names_an_edited_row() {
    let demo = Demo::start().await;
    let broker = &demo.broker;

    // The demo department fetches Alice's signed attributes (the printed command).
    let command = demo.printed_line("node tests/peers/department.mjs").await;
    let args: Vec<String> = command
        .split(' ')
        .skip(2)
        .map(|w| w.trim_matches('\'').to_owned())
        .collect();
    let (ok, out, err) = peers::run_node("department.mjs", &args, None);
    assert!(ok, "{out}{err}");
    let out: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(out["status"], 200, "{out}");

    // Olivier Officer signs in at the provincial ID and lands on the console.
    let (officer, landed) = demo_sign_in(broker, "demo-provincial-id", "olivier", true).await;
    assert_eq!(
        landed.location.as_deref(),
        Some(broker.url("/officer").as_str())
    );
    let filter = "department=employment-social-development&action=release";
    let console = get(&officer, &broker.url(&format!("/officer?{filter}"))).await;
    assert_eq!(console.status, 200, "{}", console.body);
    assert!(
        console.body.contains("Information released")
            && console.body.contains("Employment and Social Development")
            && console
                .body
                .contains("Given name, Family name, Date of birth, Home address"),
        "{}",
        console.body
    );
    let export = get(
        &officer,
        &broker.url(&format!("/officer/export?{filter}&format=csv")),
    )
    .await;
    assert_eq!(export.status, 200);
    let rows: Vec<&str> = export.body.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "one release: {}", export.body);
    assert!(
        rows[0].contains("release") && rows[0].contains("employment-social-development"),
        "{}",
        rows[0]
    );
    assert!(
        !export.body.contains("Tremblay"),
        "names only, never values"
    );

    // `broker audit verify` on the demo's own database: clean.
    let data_dir = demo.dir.path().join("demo");
    let data = data_dir.display().to_string();
    let env = [("BROKER_DATA_DIR", data.as_str())];
    let (status, out, err) = run_broker(&env, &["audit", "verify"]);
    assert!(status.success(), "{out}{err}");
    assert!(out.starts_with("ok: "), "{out}");

    // The demo's witness cosigned the log's checkpoints: its state names the demo's log.
    let state = data_dir.join("witness/witness-state.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let size = loop {
        let text = std::fs::read_to_string(&state).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let size = v["logs"]
            .as_object()
            .and_then(|logs| logs.values().next())
            .and_then(|log| log["size"].as_u64());
        if let Some(size) = size {
            break size;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no cosigned checkpoint: {text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(size >= 1);

    // One row edited in the database: verify names it.
    let conn = sea_orm::Database::connect(format!("sqlite://{}/broker.db", data_dir.display()))
        .await
        .unwrap();
    let row = record::Entity::find()
        .filter(record::Column::Action.eq("release"))
        .order_by_asc(record::Column::Seq)
        .one(&conn)
        .await
        .unwrap()
        .expect("the release is in the log");
    let mut entry = row.entry.clone();
    let at = entry.len() / 2;
    entry[at] ^= 0x01;
    record::Entity::update_many()
        .col_expr(record::Column::Entry, Expr::value(entry))
        .filter(record::Column::Seq.eq(row.seq))
        .exec(&conn)
        .await
        .unwrap();
    let (status, out, err) = run_broker(&env, &["audit", "verify"]);
    assert_eq!(status.code(), Some(2), "{out}{err}");
    assert!(
        out.contains(&format!("record {} (`{}`)", row.seq, row.id)),
        "{out}"
    );
}
