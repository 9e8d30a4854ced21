//! Secret files: created with mode 0600, written whole (temp file, fsync, rename) so a crash never
//! leaves half a key behind.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use ring::rand::{SecureRandom, SystemRandom};

use super::KeyError;

/// Writes `bytes` to `path` atomically with mode 0600.
pub(crate) fn write_secret_file(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    super::ensure_dir(dir)?;
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::now_v7().simple()));
    let write = |p: &Path| -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(p)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(p, path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write(&tmp).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        KeyError::Write {
            path: path.to_owned(),
            source,
        }
    })
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, KeyError> {
    std::fs::read(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })
}

pub(crate) fn random_bytes(len: usize) -> Result<Vec<u8>, KeyError> {
    let mut out = vec![0u8; len];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| KeyError::Random)?;
    Ok(out)
}

/// Reads a raw secret, or generates `len` random bytes into it on first use.
pub(crate) fn load_or_generate_secret(path: &Path, len: usize) -> Result<Vec<u8>, KeyError> {
    if path.exists() {
        let bytes = read_file(path)?;
        if bytes.len() < 16 {
            return Err(KeyError::Invalid {
                path: path.to_owned(),
                what: "secret (too short)",
            });
        }
        return Ok(bytes);
    }
    let bytes = random_bytes(len)?;
    write_secret_file(path, &bytes)?;
    Ok(bytes)
}

/// Master keys live one per file, `<kid>.key`, kid sortable by creation time.
pub(crate) fn load_or_generate_master_keys(
    dir: &Path,
) -> Result<BTreeMap<String, [u8; 32]>, KeyError> {
    let mut keys = read_master_keys(dir)?;
    if keys.is_empty() {
        generate_master_key(dir)?;
        keys = read_master_keys(dir)?;
    }
    Ok(keys)
}

fn read_master_keys(dir: &Path) -> Result<BTreeMap<String, [u8; 32]>, KeyError> {
    let mut keys = BTreeMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(keys),
        Err(source) => {
            return Err(KeyError::Read {
                path: dir.to_owned(),
                source,
            });
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("key") {
            continue;
        }
        let Some(kid) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        let bytes = read_file(&path)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Invalid {
            path: path.clone(),
            what: "master key (32 bytes)",
        })?;
        keys.insert(kid, key);
    }
    Ok(keys)
}

pub(crate) fn generate_master_key(dir: &Path) -> Result<String, KeyError> {
    let kid = format!("mk-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%3f"));
    write_secret_file(&dir.join(format!("{kid}.key")), &random_bytes(32)?)?;
    Ok(kid)
}
