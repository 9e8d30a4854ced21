//! File drop: for a department whose batch system cannot receive webhooks, each batch becomes one
//! JSON Lines file in the department's directory, picked up on its own schedule.
//!
//! A file is published atomically: written as `<name>.jsonl.tmp`, synced, renamed to
//! `<name>.jsonl`, and the directory synced. A reader that looks only at `*.jsonl` therefore sees a
//! whole file or none, even across a crash. Names start with the UTC write time, so they sort in
//! the order they were written, followed by the batch's first `jti`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::config::Settings;
use crate::http::HttpClient;
use crate::registry::Adapter;
use crate::{
    AdapterError, BoxFuture, DeliveryAdapter, DeliveryOutcome, DeliverySchedule, Outgoing,
};

/// The registry key.
pub const KIND: &str = "file-drop";

/// Extension of a published batch file.
pub const BATCH_EXTENSION: &str = "jsonl";

const TMP_SUFFIX: &str = ".tmp";
const MAX_NAME_ATTEMPTS: u32 = 100;

/// A file drop's settings:
/// `{"kind": "file-drop", "directory": "/var/lib/tuo/drop/health", "batch_interval_secs": 86400,
///   "window_offset_secs": 7200}`.
#[derive(Debug, Clone)]
pub struct FileDropConfig {
    /// Absolute path of the department's drop directory; it must exist and be writable.
    pub directory: PathBuf,
    /// One batch per window of this length (`batch_interval_secs`, default 86 400: nightly).
    pub batch_interval: Duration,
    /// Where in the interval the window opens, from midnight UTC (`window_offset_secs`, default 0).
    pub window_offset: Duration,
}

impl FileDropConfig {
    fn from_settings(settings: &mut Settings<'_>) -> Result<Self, AdapterError> {
        let directory = PathBuf::from(settings.required_string("directory")?);
        if !directory.is_absolute() {
            return Err(settings.invalid("directory", "must be an absolute path"));
        }
        let interval = settings.integer("batch_interval_secs", 60, 7 * 86_400, 86_400)?;
        let offset = settings.integer("window_offset_secs", 0, 7 * 86_400, 0)?;
        if offset >= interval {
            return Err(settings.invalid(
                "window_offset_secs",
                "must be smaller than `batch_interval_secs`",
            ));
        }
        Ok(Self {
            directory,
            batch_interval: Duration::from_secs(interval),
            window_offset: Duration::from_secs(offset),
        })
    }
}

/// Registration: see [`crate::registry`].
pub(crate) fn build(
    settings: &mut Settings<'_>,
    _http: &HttpClient,
) -> Result<Adapter, AdapterError> {
    let config = FileDropConfig::from_settings(settings)?;
    Ok(Adapter::delivery(FileDropAdapter::new(config)))
}

/// Writes batches of SETs into one department's drop directory.
#[derive(Debug)]
pub struct FileDropAdapter {
    config: FileDropConfig,
}

/// One line of a batch file. The SET carries the signed data; the batch system verifies it
/// against the broker's JWKS, the other members only help it sort and route.
#[derive(Serialize)]
struct Line<'a> {
    jti: &'a str,
    event_type: &'a str,
    /// RFC 3339, UTC, milliseconds.
    issued_at: String,
    set: &'a str,
}

impl FileDropAdapter {
    pub fn new(config: FileDropConfig) -> Self {
        Self { config }
    }

    /// The configured window length, for the relay's scheduling.
    pub fn batch_interval(&self) -> Duration {
        self.config.batch_interval
    }

    async fn write(&self, batch: &[Outgoing]) -> Result<String, io::Error> {
        let mut contents = Vec::new();
        for event in batch {
            let line = Line {
                jti: &event.jti,
                event_type: &event.event_type,
                issued_at: rfc3339_ms(event.issued_at_ms),
                set: &event.set_jwt,
            };
            serde_json::to_writer(&mut contents, &line)?;
            contents.push(b'\n');
        }
        let first_jti = batch.first().map_or("", |event| event.jti.as_str());
        let base = base_name(chrono::Utc::now(), first_jti);
        let directory = self.config.directory.clone();
        // File I/O and fsync block: keep them off the async workers.
        tokio::task::spawn_blocking(move || publish(&directory, &base, &contents))
            .await
            .map_err(io::Error::other)?
    }
}

impl DeliveryAdapter for FileDropAdapter {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn schedule(&self) -> DeliverySchedule {
        DeliverySchedule::Windowed {
            interval: self.config.batch_interval,
            offset: self.config.window_offset,
        }
    }

    fn deliver_batch<'a>(&'a self, batch: &'a [Outgoing]) -> BoxFuture<'a, Vec<DeliveryOutcome>> {
        Box::pin(async move {
            if batch.is_empty() {
                return Vec::new();
            }
            // One file per batch: every event shares its fate.
            let outcome = match self.write(batch).await {
                Ok(file_name) => DeliveryOutcome::delivered(format!("written to {file_name}")),
                Err(error) => DeliveryOutcome::retry(
                    "file_write_failed",
                    format!("could not write the batch file: {}", error.kind()),
                ),
            };
            vec![outcome; batch.len()]
        })
    }
}

/// `20250131T020000.123Z-<jti>`: fixed-width UTC time first so names sort by write time.
fn base_name(now: chrono::DateTime<chrono::Utc>, first_jti: &str) -> String {
    let jti: String = first_jti
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(64)
        .collect();
    let jti = if jti.is_empty() {
        "batch".to_owned()
    } else {
        jti
    };
    format!("{}-{jti}", now.format("%Y%m%dT%H%M%S%.3fZ"))
}

fn rfc3339_ms(unix_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(unix_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Publishes `contents` as `<name>.jsonl` under the first free name `base`, `base-1`, …
///
/// INVARIANT: `<name>.jsonl` only ever appears by `rename` of a synced temporary file, so it is
/// complete from the moment it is visible; the temporary file is created with `create_new`, so two
/// writers never share one, and an existing batch file is never replaced.
fn publish(directory: &Path, base: &str, contents: &[u8]) -> io::Result<String> {
    for attempt in 0..MAX_NAME_ATTEMPTS {
        let name = match attempt {
            0 => format!("{base}.{BATCH_EXTENSION}"),
            n => format!("{base}-{n}.{BATCH_EXTENSION}"),
        };
        let final_path = directory.join(&name);
        let tmp_path = directory.join(format!("{name}{TMP_SUFFIX}"));
        if final_path.try_exists()? {
            continue;
        }
        let file = match create_new(&tmp_path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        };
        match write_and_rename(file, contents, &tmp_path, &final_path) {
            Ok(()) => {
                sync_directory(directory)?;
                return Ok(name);
            }
            Err(error) => {
                // Best effort: a leftover `.tmp` is never mistaken for a batch.
                let _ = fs::remove_file(&tmp_path);
                if error.kind() != io::ErrorKind::AlreadyExists {
                    return Err(error);
                }
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free batch file name",
    ))
}

fn write_and_rename(
    mut file: File,
    contents: &[u8],
    tmp: &Path,
    final_path: &Path,
) -> io::Result<()> {
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    if final_path.try_exists()? {
        // Someone published this name while we wrote: do not replace their batch.
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "batch file name taken",
        ));
    }
    fs::rename(tmp, final_path)
}

fn create_new(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Personal data: readable by the batch system's group, nobody else.
        options.mode(0o640);
    }
    options.open(path)
}

/// Makes the rename itself durable.
fn sync_directory(directory: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(directory)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = directory;
    Ok(())
}

#[cfg(test)]
mod tests;
