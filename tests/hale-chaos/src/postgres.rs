//! Postgres for the chaos tests: a fresh schema on the shared test server
//! for tests that leave Postgres alone, and a private cluster for the test
//! that stops it (stopping the shared one would fail every other test).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use hale_load::config::{ROLE_PASSWORDS, setup_schema, with_user};

/// The application and migrator URLs of a schema made for one test.
#[derive(Debug, Clone)]
pub struct Schema {
    /// The schema's name.
    pub name: String,
    /// `hale_app`'s URL.
    pub app_url: String,
    /// `hale_migrator`'s URL.
    pub migrator_url: String,
}

/// Creates the two roles (idempotent) and a new schema through a superuser
/// URL; the server migrates it on start.
pub async fn fresh_schema(admin_url: &str) -> Schema {
    let name = format!("hale_chaos_{}", &crate::unique()[..12]);
    setup_schema(admin_url, &name)
        .await
        .unwrap_or_else(|e| panic!("role setup on {}: {e}", hale_postgres::redact(admin_url)));
    let (migrator, app) = ROLE_PASSWORDS;
    Schema {
        name,
        app_url: with_user(admin_url, "hale_app", app),
        migrator_url: with_user(admin_url, "hale_migrator", migrator),
    }
}

/// A throwaway Postgres cluster owned by the `postgres` OS user (Postgres
/// refuses to run as root), stopped and deleted when dropped.
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

/// Runs a Postgres program as the `postgres` user when we are root.
fn as_postgres(program: &Path) -> Command {
    if rustix::process::getuid().is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PrivatePostgres {
    /// `initdb` and start a cluster with the binaries in `pg_bin`
    /// (`HALE_TEST_PG_BIN`).
    pub fn start(pg_bin: &Path) -> PrivatePostgres {
        let dir = tempfile::Builder::new()
            .prefix("hale-chaos-pg")
            .tempdir()
            .expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod the cluster's parent");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("mkdir data");
        if rustix::process::getuid().is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.args(["postgres:postgres"]).arg(&data).arg(dir.path());
                    c
                },
                "chown the data directory to postgres",
            );
        }
        let mut initdb = as_postgres(&pg_bin.join("initdb"));
        initdb.arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        ]);
        run(initdb, "initdb");
        let pg = PrivatePostgres {
            bin: pg_bin.to_path_buf(),
            port: crate::free_port(),
            dir,
        };
        pg.start_server();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The superuser's URL of database `postgres`.
    pub fn superuser_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl start` (waits until it accepts connections).
    pub fn start_server(&self) {
        let mut c = as_postgres(&self.bin.join("pg_ctl"));
        c.arg("-D")
            .arg(self.data())
            .arg("-o")
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
                self.port,
                self.dir.path().display()
            ))
            .arg("-l")
            .arg(self.dir.path().join("postgres.log"))
            .args(["-w", "-t", "60", "start"]);
        run(c, "pg_ctl start");
    }

    /// `pg_ctl stop -m fast`: connections are cut, the server exits.
    pub fn stop_server(&self) {
        let mut c = as_postgres(&self.bin.join("pg_ctl"));
        c.arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "-t", "60", "stop"]);
        run(c, "pg_ctl stop");
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let mut c = as_postgres(&self.bin.join("pg_ctl"));
        let _ = c
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
