//! File drop against a real temporary directory.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use super::*;

fn adapter(directory: &Path) -> FileDropAdapter {
    FileDropAdapter::new(FileDropConfig {
        directory: directory.to_path_buf(),
        batch_interval: Duration::from_secs(86_400),
        window_offset: Duration::ZERO,
    })
}

fn event(jti: &str) -> Outgoing {
    Outgoing {
        jti: jti.to_owned(),
        department_id: "health".to_owned(),
        set_jwt: format!("eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiJ{jti}In0.c2ln"),
        event_type: "https://schemas.tell-us-once.example/event/attribute-changed".to_owned(),
        issued_at_ms: 1_767_232_800_123,
    }
}

fn batch(prefix: &str, len: usize) -> Vec<Outgoing> {
    (0..len)
        .map(|i| event(&format!("{prefix}-{i:05}")))
        .collect()
}

fn names(directory: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_batch_becomes_one_complete_json_lines_file() {
    let directory = tempfile::tempdir().unwrap();
    let sent = batch("k", 3);

    let outcomes = adapter(directory.path()).deliver_batch(&sent).await;

    let names = names(directory.path());
    assert_eq!(names.len(), 1, "{names:?}");
    let name = &names[0];
    assert!(name.ends_with("-k-00000.jsonl"), "{name}");
    assert_eq!(
        outcomes,
        vec![DeliveryOutcome::delivered(format!("written to {name}")); 3]
    );

    let contents = fs::read_to_string(directory.path().join(name)).unwrap();
    let lines: Vec<Value> = contents
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for (line, event) in lines.iter().zip(&sent) {
        assert_eq!(line["jti"], event.jti.as_str());
        assert_eq!(line["event_type"], event.event_type.as_str());
        assert_eq!(line["issued_at"], "2026-01-01T02:00:00.123Z");
        assert_eq!(line["set"], event.set_jwt.as_str());
        assert_eq!(line.as_object().unwrap().len(), 4);
    }
    assert!(contents.ends_with('\n'));
}

#[tokio::test]
async fn names_sort_in_write_order_whatever_the_jti() {
    let directory = tempfile::tempdir().unwrap();
    let adapter = adapter(directory.path());
    for first in ["zulu", "mike", "alpha"] {
        adapter.deliver_batch(&batch(first, 1)).await;
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let names = names(directory.path());
    assert_eq!(names.len(), 3);
    let firsts: Vec<&str> = names
        .iter()
        .map(|name| name.split('-').nth(1).unwrap())
        .collect();
    assert_eq!(firsts, ["zulu", "mike", "alpha"], "{names:?}");
    // `20260101T020000.123Z-…`: a fixed-width UTC timestamp leads every name.
    let stamp = &names[0][..20];
    assert!(
        chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%.3fZ").is_ok(),
        "{stamp}"
    );
}

#[tokio::test]
async fn concurrent_batches_never_clobber_each_other() {
    let directory = tempfile::tempdir().unwrap();
    let adapter = Arc::new(adapter(directory.path()));
    let mut tasks = Vec::new();
    for writer in 0..16 {
        let adapter = Arc::clone(&adapter);
        tasks.push(tokio::spawn(async move {
            adapter
                .deliver_batch(&batch(&format!("w{writer:02}"), 50))
                .await
        }));
    }
    for task in tasks {
        assert!(
            task.await
                .unwrap()
                .iter()
                .all(DeliveryOutcome::is_delivered)
        );
    }

    let names = names(directory.path());
    assert_eq!(names.len(), 16, "{names:?}");
    let mut jtis = HashSet::new();
    for name in &names {
        let contents = fs::read_to_string(directory.path().join(name)).unwrap();
        for line in contents.lines() {
            let line: Value = serde_json::from_str(line).unwrap();
            assert!(jtis.insert(line["jti"].as_str().unwrap().to_owned()));
        }
    }
    assert_eq!(jtis.len(), 16 * 50);
}

#[tokio::test]
async fn the_same_name_twice_gets_a_new_file_not_a_replacement() {
    let directory = tempfile::tempdir().unwrap();
    let first = publish(directory.path(), "20260101T020000.000Z-x", b"first\n").unwrap();
    let second = publish(directory.path(), "20260101T020000.000Z-x", b"second\n").unwrap();
    assert_ne!(first, second);
    assert_eq!(fs::read(directory.path().join(&first)).unwrap(), b"first\n");
    assert_eq!(
        fs::read(directory.path().join(&second)).unwrap(),
        b"second\n"
    );
}

#[tokio::test]
async fn a_reader_only_ever_sees_complete_files() {
    const LINES: usize = 2_000;
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().to_path_buf();
    let done = Arc::new(AtomicBool::new(false));

    // A batch system polling the directory while batches are being written.
    let reader_done = Arc::clone(&done);
    let reader = std::thread::spawn(move || {
        let mut checked = 0;
        while !reader_done.load(Ordering::SeqCst) {
            for entry in fs::read_dir(&path).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                if !name.ends_with(".jsonl") {
                    continue;
                }
                let contents = fs::read_to_string(path.join(&name)).unwrap();
                assert_eq!(
                    contents.lines().count(),
                    LINES,
                    "partial file visible: {name}"
                );
                assert!(contents.ends_with('\n'));
                checked += 1;
            }
        }
        checked
    });

    let adapter = adapter(directory.path());
    for round in 0..8 {
        let outcomes = adapter
            .deliver_batch(&batch(&format!("r{round}"), LINES))
            .await;
        assert!(outcomes.iter().all(DeliveryOutcome::is_delivered));
    }
    done.store(true, Ordering::SeqCst);
    assert!(reader.join().unwrap() > 0, "the reader never saw a file");

    let names = names(directory.path());
    assert_eq!(names.len(), 8);
    assert!(
        names.iter().all(|name| name.ends_with(".jsonl")),
        "left over: {names:?}"
    );
}

#[tokio::test]
async fn an_unwritable_directory_means_retry_for_every_event() {
    let directory = tempfile::tempdir().unwrap();
    let missing = directory.path().join("not-mounted-yet");
    let outcomes = adapter(&missing).deliver_batch(&batch("m", 2)).await;
    assert_eq!(outcomes.len(), 2);
    for outcome in outcomes {
        assert_eq!(outcome.error_code(), Some("file_write_failed"));
        assert!(
            matches!(outcome, DeliveryOutcome::Retry { .. }),
            "{outcome:?}"
        );
    }
    assert!(!missing.exists());
}

#[tokio::test]
async fn an_empty_batch_writes_nothing() {
    let directory = tempfile::tempdir().unwrap();
    assert!(
        adapter(directory.path())
            .deliver_batch(&[])
            .await
            .is_empty()
    );
    assert!(names(directory.path()).is_empty());
}

#[test]
fn the_window_is_what_was_configured() {
    let adapter = adapter(Path::new("/var/lib/tuo/drop"));
    assert_eq!(adapter.batch_interval(), Duration::from_secs(86_400));
    assert_eq!(
        adapter.schedule(),
        DeliverySchedule::Windowed {
            interval: Duration::from_secs(86_400),
            offset: Duration::ZERO
        }
    );
}

#[test]
fn names_keep_only_safe_characters_of_the_jti() {
    let now = chrono::DateTime::from_timestamp_millis(1_767_232_800_123).unwrap();
    assert_eq!(
        base_name(now, "../../etc/passwd"),
        "20260101T020000.123Z-etcpasswd"
    );
    assert_eq!(base_name(now, "///"), "20260101T020000.123Z-batch");
}
