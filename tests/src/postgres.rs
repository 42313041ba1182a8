//! A PostgreSQL server of the test's own: a fresh cluster (`initdb`) on a free loopback
//! port, that the test may restart, stop and start without touching the shared server the
//! rest of the suite uses. Removed when dropped. Its clock may be set back (libfaketime)
//! to create records that look old.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{is_root, runs};

pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
}

/// The newest installed PostgreSQL's binaries (`/usr/lib/postgresql/N/bin`), else `PATH`.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<u32> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    match versions.last() {
        Some(v) => PathBuf::from(format!("/usr/lib/postgresql/{v}/bin")),
        None => PathBuf::new(),
    }
}

/// libfaketime's preload library (Debian's `libfaketime`, installed by
/// `scripts/system-packages`): `/usr/lib/<multiarch>/faketime/libfaketime.so.1`.
pub fn libfaketime() -> PathBuf {
    std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|d| d.path().join("faketime/libfaketime.so.1"))
        .find(|p| p.exists())
        .expect("libfaketime is missing: run scripts/system-packages")
}

/// PostgreSQL refuses to run as root: there its commands run as the `postgres` user, with
/// `env` setting `vars` (runuser would not pass them all, LD_PRELOAD among them).
fn as_server_user(program: &Path, vars: &[(&str, String)]) -> Command {
    let mut cmd = if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--", "env"]);
        cmd
    } else {
        Command::new("env")
    };
    cmd.args(vars.iter().map(|(k, v)| format!("{k}={v}")));
    cmd.arg(program);
    cmd
}

impl Postgres {
    /// Initialises and starts a cluster with trust authentication on 127.0.0.1.
    pub fn start() -> Postgres {
        let port = crate::free_port();
        let dir = std::env::temp_dir().join(format!("charter-pg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            let mut chown = Command::new("chown");
            chown.arg("postgres").arg(&dir);
            runs(&mut chown);
        }
        let pg = Postgres {
            dir,
            bin: bin_dir(),
            port,
        };
        let mut initdb = as_server_user(&pg.bin.join("initdb"), &[]);
        initdb
            .args(["--auth=trust", "--username=postgres", "--no-sync", "-D"])
            .arg(pg.data());
        runs(&mut initdb);
        pg.pg_ctl("start", None);
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Runs `pg_ctl <action>`; a start or restart runs the server with its clock shifted by
    /// `clock` (see [`Postgres::restart_with_clock`]) when given.
    fn pg_ctl(&self, action: &str, clock: Option<&str>) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c max_connections=200",
            self.port,
            self.dir.display()
        );
        // pg_ctl passes its environment to the server, and runs shifted too so that the start
        // time it reads back from postmaster.pid agrees with its own clock.
        let vars = match clock {
            Some(offset) => vec![
                ("LD_PRELOAD", libfaketime().display().to_string()),
                ("FAKETIME", offset.to_string()),
                ("FAKETIME_DONT_FAKE_MONOTONIC", "1".to_string()),
            ],
            None => vec![],
        };
        let mut cmd = as_server_user(&self.bin.join("pg_ctl"), &vars);
        cmd.args([action, "-w", "-t", "60", "-m", "fast", "-D"])
            .arg(self.data())
            .args(["-l"])
            .arg(self.dir.join("log"))
            .args(["-o", &options]);
        runs(&mut cmd);
    }

    /// The superuser URL of `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// `pg_ctl restart -m fast`: open connections are terminated, the server comes back
    /// (on the real clock).
    pub fn restart(&self) {
        self.pg_ctl("restart", None);
    }

    /// Restarts the server (or starts it after [`Postgres::stop`]) with its clock shifted
    /// by `offset`, a libfaketime relative offset such as `"-400d"` (`now()` is then 400
    /// days ago and advances normally); `None` restores the real clock. Open connections are
    /// terminated. [`Postgres::restart`] and [`Postgres::start_again`] use the real clock.
    pub fn restart_with_clock(&self, offset: Option<&str>) {
        self.pg_ctl("restart", offset);
    }

    pub fn stop(&self) {
        self.pg_ctl("stop", None);
    }

    /// Starts the server again after [`Postgres::stop`], on the real clock.
    pub fn start_again(&self) {
        self.pg_ctl("start", None);
    }

    /// Whether the server accepts connections within `within`.
    pub fn wait_ready(&self, within: Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            let ok = Command::new(self.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Postgres {
    /// Charter on this server: a test configuration for its database `charter`, migrated
    /// by `charter migrate`, and a store connected to it.
    pub async fn charter(&self) -> (charter_core::config::Config, charter_store::Store) {
        let config = crate::test_config(&[("CHARTER_DATABASE_URL", &self.url("charter"))]);
        crate::succeeds(crate::charter_cmd(&config).arg("migrate")).await;
        let store = charter_store::Store::connect(&config, config.master_key.clone().unwrap())
            .await
            .unwrap();
        (config, store)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let mut cmd = as_server_user(&self.bin.join("pg_ctl"), &[]);
        cmd.args(["stop", "-m", "immediate", "-D"]).arg(self.data());
        let _ = cmd.output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::Postgres;
    use std::process::Command;

    /// The server's clock minus ours, in seconds.
    fn skew(pg: &Postgres) -> i64 {
        let out = crate::runs(
            Command::new(pg.bin.join("psql"))
                .arg(pg.url("postgres"))
                .args(["-At", "-c", "SELECT extract(epoch FROM now())::bigint"]),
        );
        let server: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        server - chrono::Utc::now().timestamp()
    }

    #[test]
    fn the_clock_is_set_back_and_restored() {
        let pg = Postgres::start();
        assert!(skew(&pg).abs() < 60);
        pg.restart_with_clock(Some("-400d"));
        let days = skew(&pg) as f64 / 86_400.0;
        assert!((days + 400.0).abs() < 0.01, "{days} days");
        pg.restart_with_clock(None);
        assert!(skew(&pg).abs() < 60);
    }
}
