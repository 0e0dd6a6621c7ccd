//! A private `redis-server` per test, for tests that freeze, kill or
//! restart Redis: doing that to the shared test server would break every
//! other test running at the same time.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `redis-server` on a free loopback port, with no persistence, killed
/// when dropped.
pub(crate) struct PrivateRedis {
    bin: String,
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts a server, or returns `None` (after a notice) when no
    /// `redis-server` binary exists and services are not required.
    pub(crate) async fn start(test: &str) -> Option<PrivateRedis> {
        let bin = std::env::var("HALE_TEST_REDIS_SERVER_BIN")
            .ok()
            .filter(|b| !b.trim().is_empty())
            .unwrap_or_else(|| "redis-server".to_owned());
        if Command::new(&bin)
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            assert!(
                !hale_testkit::services::services_required(),
                "{test}: no redis-server binary ({bin}) but HALE_REQUIRE_SERVICES=1"
            );
            #[allow(clippy::print_stderr)] // the skip notice is the point
            {
                eprintln!("SKIPPED {test}: no redis-server binary ({bin})");
            }
            return None;
        }
        // The port is free when we look; another process may take it before
        // the server binds, so try a few.
        for _ in 0..5 {
            let port = free_port();
            let mut redis = PrivateRedis {
                bin: bin.clone(),
                port,
                child: None,
            };
            if redis.spawn().await {
                return Some(redis);
            }
        }
        panic!("{test}: could not start a private redis-server");
    }

    /// `redis://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server process in place (SIGSTOP): it keeps its sockets and
    /// data but answers nothing, like a server stuck in a long fork or swap.
    pub(crate) fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Resumes a frozen server (SIGCONT).
    pub(crate) fn thaw(&self) {
        self.signal("-CONT");
    }

    /// Kills the server (SIGKILL); its data is gone.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (empty: no persistence).
    pub(crate) async fn restart(&mut self) {
        self.kill();
        for _ in 0..20 {
            if self.spawn().await {
                return;
            }
            // The old process may not have released the port yet.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("could not restart redis-server on port {}", self.port);
    }

    fn signal(&self, sig: &str) {
        let Some(child) = &self.child else { return };
        let status = Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {sig} {} failed", child.id());
    }

    /// Spawns the server and waits until it answers PING; false if it exits.
    async fn spawn(&mut self) -> bool {
        let dir: PathBuf = std::env::temp_dir();
        let child = Command::new(&self.bin)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        for _ in 0..200 {
            if let Some(child) = self.child.as_mut()
                && child.try_wait().ok().flatten().is_some()
            {
                self.child = None;
                return false;
            }
            if answers_ping(self.port) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.kill();
        false
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        // A stopped process still dies of SIGKILL; SIGCONT first anyway so
        // nothing is left stopped if the kill fails.
        if self.child.is_some() {
            self.thaw();
        }
        self.kill();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port");
    listener.local_addr().expect("local addr").port()
}

/// A blocking PING with short timeouts (test setup only).
fn answers_ping(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = s.set_write_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}
