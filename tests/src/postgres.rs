//! A PostgreSQL 15 server of a test's own, for tests that stop or restart the server: the suite's
//! shared server (`TUO_TEST_POSTGRES_URL`) serves other tests in parallel and is never touched.
//!
//! `initdb` and `postgres` refuse to run as root; as root the binaries run as the `postgres` user
//! (`runuser`) in a temporary directory handed over to it. The server listens on 127.0.0.1 only,
//! on a free port, with its socket in that directory, and trusts every local connection. Dropping
//! the value stops it at once, so a failing test leaves no server behind.

use std::path::PathBuf;
use std::process::Command;

/// Where Debian's packages put the PostgreSQL 15 binaries.
const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A private PostgreSQL cluster; stopped on drop.
pub struct Cluster {
    pub port: u16,
    dir: tempfile::TempDir,
    as_postgres: bool,
}

impl Cluster {
    /// Creates a cluster (the `postgres` superuser, trust authentication) and starts it.
    pub fn start() -> Cluster {
        let dir = crate::temp_dir();
        let as_postgres = is_root();
        if as_postgres {
            let owner = Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path())
                .status()
                .expect("run chown");
            assert!(owner.success(), "cannot hand the cluster's directory over");
        }
        let cluster = Cluster {
            port: crate::free_port(),
            dir,
            as_postgres,
        };
        let data = cluster.data().display().to_string();
        cluster.run(
            "initdb",
            &["-A", "trust", "-U", "postgres", "--no-sync", "-D", &data],
        );
        let settings = format!(
            "\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n",
            cluster.port,
            cluster.dir.path().display()
        );
        let conf = cluster.data().join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("read postgresql.conf");
        text.push_str(&settings);
        std::fs::write(&conf, text).expect("write postgresql.conf");
        cluster.up();
        cluster
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`: where to create databases.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server as a crash would (`immediate`): every connection cut mid-statement, no
    /// shutdown checkpoint; the next start recovers from the write-ahead log.
    pub fn crash(&self) {
        let data = self.data().display().to_string();
        self.run("pg_ctl", &["stop", "-m", "immediate", "-w", "-D", &data]);
    }

    /// Starts the server and waits until it accepts connections.
    pub fn up(&self) {
        let data = self.data().display().to_string();
        let log = self.log().display().to_string();
        self.run(
            "pg_ctl",
            &["start", "-w", "-t", "60", "-D", &data, "-l", &log],
        );
    }

    /// The server's own log.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// `<BIN>/<program> <args>`, or panics with its output.
    fn run(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed ({}):\n{}{}\nserver log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log_text()
        );
    }

    /// `<BIN>/<program>`, as `postgres` when we are root, in the cluster's directory (ours may
    /// be closed to that user).
    fn command(&self, program: &str) -> Command {
        let bin = format!("{BIN}/{program}");
        let mut cmd = if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--", &bin]);
            cmd
        } else {
            Command::new(bin)
        };
        cmd.current_dir(self.dir.path());
        cmd
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        // pg_ctl waits for the server to be gone; one already stopped (or never started) fails
        // harmlessly.
        let _ = self
            .command("pg_ctl")
            .args(["stop", "-m", "immediate", "-D", &data])
            .output();
    }
}

/// Whether this process runs as root (`id -u`).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}
