//! The Node peers in `tests/peers` (see its README): each prints `READY <url>` when listening.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{repo_root, signal, wait_for_ready_line, wait_timeout};

pub fn peers_dir() -> PathBuf {
    repo_root().join("tests").join("peers")
}

/// A running Node peer.
pub struct Peer {
    child: Option<Child>,
    pub url: String,
    pub name: String,
}

impl Peer {
    /// Starts `node <script> <args…>` in `tests/peers` and waits for its READY line.
    pub fn start(script: &str, args: &[String]) -> Peer {
        let dir = peers_dir();
        assert!(
            dir.join("node_modules").exists(),
            "tests/peers/node_modules is missing: run scripts/setup-test-peers"
        );
        let mut child = Command::new("node")
            .arg("--no-warnings")
            .arg(script)
            .args(args)
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start node {script}: {e}"));
        let url = match wait_for_ready_line(&mut child, Duration::from_secs(30)) {
            Some(url) => url,
            None => {
                let _ = child.kill();
                panic!("{script} did not print READY within 30 s");
            }
        };
        Peer {
            child: Some(child),
            url,
            name: script.to_owned(),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "TERM");
            if wait_timeout(&mut child, Duration::from_secs(5)).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Runs a Node script to completion; returns (success, stdout, stderr).
pub fn run_node(script: &str, args: &[String], stdin: Option<&str>) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new("node")
        .arg("--no-warnings")
        .arg(script)
        .args(args)
        .current_dir(peers_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start node {script}: {e}"));
    if let Some(input) = stdin
        && let Some(mut pipe) = child.stdin.take()
    {
        let _ = pipe.write_all(input.as_bytes());
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("node output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
