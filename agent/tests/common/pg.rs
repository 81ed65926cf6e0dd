//! A private PostgreSQL cluster for one test: `initdb` into a temporary folder, `pg_ctl start`
//! on a free localhost port with its socket in that folder, stopped and removed on drop (also
//! when the test fails). PostgreSQL refuses to run as root, so as root the cluster is run by
//! the unprivileged `postgres` user (`runuser`) on a folder that user owns.
//!
//! Without PostgreSQL's programs the test is skipped with the reason printed, unless
//! `AUTODIDACT_REQUIRE_CLUSTER` is set (CI sets it: there a missing server fails).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::TempDir;

/// A running cluster, stopped when dropped.
pub struct PgCluster {
    dir: TempDir,
    bin: PathBuf,
    /// Run its programs as `postgres` (this process is root).
    as_postgres: bool,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
}

/// The folder of `initdb` and `pg_ctl`: Debian's newest `/usr/lib/postgresql/N/bin`, else
/// the PATH.
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b).or_else(|| {
        std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
        })
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Skips (returns `None` after printing why) or, when `AUTODIDACT_REQUIRE_CLUSTER` is set,
/// fails.
pub fn unavailable<T>(why: &str) -> Option<T> {
    if std::env::var_os("AUTODIDACT_REQUIRE_CLUSTER").is_some() {
        panic!("{why} (AUTODIDACT_REQUIRE_CLUSTER is set, so this fails instead of skipping)");
    }
    eprintln!("SKIPPED: {why}; install it (apt-get install postgresql) to run this test");
    None
}

/// A free TCP port on 127.0.0.1 (bound and released: another process could take it in
/// between, which `pg_ctl start` would then report).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

impl PgCluster {
    /// Starts a cluster, or `None` (skipped) when PostgreSQL is not installed.
    pub fn start() -> Option<PgCluster> {
        let Some(bin) = bin_dir() else {
            return unavailable("PostgreSQL's initdb and pg_ctl are not installed");
        };
        let as_postgres = is_root();
        let dir = TempDir::new("pg");
        if as_postgres {
            let uid = |flag: &str| -> Option<u32> {
                let o = Command::new("id").args([flag, "postgres"]).output().ok()?;
                String::from_utf8_lossy(&o.stdout).trim().parse().ok()
            };
            let (Some(u), Some(g)) = (uid("-u"), uid("-g")) else {
                return unavailable(
                    "this runs as root and there is no `postgres` user to run PostgreSQL as",
                );
            };
            std::os::unix::fs::chown(dir.path(), Some(u), Some(g)).unwrap();
        }
        let mut cluster = PgCluster {
            dir,
            bin,
            as_postgres,
            port: 0,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--no-sync".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
            ],
        );
        cluster.port = free_port();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            cluster.port,
            cluster.dir.path().display()
        );
        let log = cluster.dir.path().join("server.log");
        cluster.run(
            "pg_ctl",
            &[
                "start".as_ref(),
                "-w".as_ref(),
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
            ],
        );
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs one of PostgreSQL's programs (as `postgres` when root); panics with its output
    /// when it fails.
    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        if !out.status.success() {
            let log =
                std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
            panic!(
                "{program} failed: {}\n{}\n{log}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// The URL of database `name` on this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates database `name`; returns its URL.
    pub async fn database(&self, name: &str) -> String {
        let admin = sqlx::PgPool::connect(&self.url("postgres")).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        self.url(name)
    }

    /// The cluster's folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // `immediate`: nothing of a test database needs a clean shutdown.
        let data = self.data();
        let exe = self.bin.join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let _ = cmd
            .args(["stop", "-w", "-m", "immediate", "-D"])
            .arg(&data)
            .output();
    }
}
