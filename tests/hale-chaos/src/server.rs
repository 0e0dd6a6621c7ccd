//! The `hale-server` binary as a child process: built by cargo, started
//! with a configuration file, its output kept in a log file, and stopped
//! with the signal a test chooses (SIGKILL for a crash).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::process::{Child, Command};

/// The `hale-server` binary of this build.
///
/// `HALE_CHAOS_SERVER_BIN` names one explicitly. Otherwise `cargo build -p
/// hale-server` runs once per test process (a no-op when the workspace was
/// just built, which `cargo nextest run --workspace` does) and the binary
/// is taken from the same target directory and profile as this test.
pub fn hale_server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(p) = std::env::var("HALE_CHAOS_SERVER_BIN")
            && !p.trim().is_empty()
        {
            return PathBuf::from(p);
        }
        // target/<profile>/deps/<test binary>
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary lives in target/<profile>/deps")
            .to_path_buf();
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var("CARGO")
            .ok()
            .or_else(|| option_env!("CARGO").map(str::to_owned))
            .unwrap_or_else(|| "cargo".to_owned());
        let mut cmd = std::process::Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "hale-server",
            "--bin",
            "hale-server",
        ]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build -p hale-server");
        assert!(status.success(), "cargo build -p hale-server failed");
        let bin = profile_dir.join("hale-server");
        assert!(bin.exists(), "{} was not built", bin.display());
        bin
    })
    .clone()
}

/// A running `hale-server`.
pub struct ServerProc {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    log: PathBuf,
}

impl ServerProc {
    /// Starts the server with `config` (a TOML file whose `listen` is port
    /// 0) and waits for its banner. Output goes to `log`.
    pub async fn start(config: &Path, log: &Path) -> ServerProc {
        let out = std::fs::File::create(log).expect("create the server log");
        let err = out.try_clone().expect("clone the log handle");
        let child = Command::new(hale_server_bin())
            .arg("--config")
            .arg(config)
            .env_remove("HALE_CONFIG")
            .env_remove("HALE_DATABASE_URL")
            .env_remove("HALE_REDIS_URL")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn hale-server");
        let mut proc = ServerProc {
            child,
            url: String::new(),
            log: log.to_path_buf(),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let text = proc.log();
            if let Some(line) = text
                .lines()
                .find_map(|l| l.strip_prefix("Hale is listening on "))
            {
                proc.url = line.trim().to_owned();
                return proc;
            }
            if let Ok(Some(status)) = proc.child.try_wait() {
                panic!("hale-server exited with {status} before serving:\n{text}");
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "hale-server printed no banner within 60 s:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    /// Everything the server printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `url` + `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// SIGKILL: the process ends at once, mid-whatever.
    pub async fn kill(mut self) -> String {
        crate::signal(self.pid(), rustix::process::Signal::KILL);
        let _ = self.child.wait().await;
        self.log()
    }

    /// SIGTERM and wait for the graceful exit.
    pub async fn stop(mut self) -> String {
        crate::signal(self.pid(), rustix::process::Signal::TERM);
        if tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        self.log()
    }
}
