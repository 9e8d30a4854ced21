//! Embeds templates, message catalogues and static assets into the binary, so the broker serves
//! every page and asset itself (no internet, no files beside the binary). Adding a file under
//! `templates/`, `i18n/<lang>/` or `assets/` is enough: this script lists them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files(dir: &Path, ext: Option<&str>, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, ext, out);
        } else if ext.is_none_or(|ext| path.extension().and_then(|e| e.to_str()) == Some(ext)) {
            out.push(path);
        }
    }
}

fn rel(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let mut code = String::new();
    for (name, dir, ext, text) in [
        ("TEMPLATES", "templates", Some("html"), true),
        ("MESSAGES", "i18n", Some("toml"), true),
        ("ASSETS", "assets", None, false),
    ] {
        let base = root.join(dir);
        println!("cargo:rerun-if-changed={}", base.display());
        let mut found = Vec::new();
        files(&base, ext, &mut found);
        let ty = if text { "&str" } else { "&[u8]" };
        let mac = if text { "include_str" } else { "include_bytes" };
        let _ = writeln!(code, "pub static {name}: &[(&str, {ty})] = &[");
        for path in &found {
            let _ = writeln!(
                code,
                "    ({:?}, {mac}!({:?})),",
                rel(&base, path),
                path.display().to_string()
            );
        }
        code.push_str("];\n");
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("embedded.rs");
    if let Err(e) = std::fs::write(&out, code) {
        println!("cargo:warning=cannot write {}: {e}", out.display());
    }
}
