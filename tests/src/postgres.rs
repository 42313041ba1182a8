//! A PostgreSQL server of the test's own: a fresh cluster (`initdb`) on a free loopback
//! port, that the test may restart, stop and start without touching the shared server the
//! rest of the suite uses. Removed when dropped.

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

/// PostgreSQL refuses to run as root: there its commands run as the `postgres` user.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
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
        let mut initdb = as_server_user(&pg.bin.join("initdb"));
        initdb
            .args(["--auth=trust", "--username=postgres", "--no-sync", "-D"])
            .arg(pg.data());
        runs(&mut initdb);
        pg.pg_ctl("start");
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn pg_ctl(&self, action: &str) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let mut cmd = as_server_user(&self.bin.join("pg_ctl"));
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

    /// `pg_ctl restart -m fast`: open connections are terminated, the server comes back.
    pub fn restart(&self) {
        self.pg_ctl("restart");
    }

    pub fn stop(&self) {
        self.pg_ctl("stop");
    }

    /// Starts the server again after [`Postgres::stop`].
    pub fn start_again(&self) {
        self.pg_ctl("start");
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
        let mut cmd = as_server_user(&self.bin.join("pg_ctl"));
        cmd.args(["stop", "-m", "immediate", "-D"]).arg(self.data());
        let _ = cmd.output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
