//! A private `redis-server` per test: a test that freezes Redis must not
//! freeze the shared one every other test uses.

use std::time::Duration;

use tokio::process::{Child, Command};

/// A `redis-server` on a free loopback port, without persistence, killed
/// when dropped (after a SIGCONT, so nothing is left stopped).
pub struct PrivateRedis {
    child: Child,
    port: u16,
}

impl PrivateRedis {
    /// Starts one from `HALE_TEST_REDIS_SERVER_BIN` (or `redis-server` on
    /// the PATH) and waits until it answers.
    pub async fn start() -> PrivateRedis {
        let bin = std::env::var("HALE_TEST_REDIS_SERVER_BIN")
            .ok()
            .filter(|b| !b.trim().is_empty())
            .unwrap_or_else(|| "redis-server".to_owned());
        for _ in 0..5 {
            let port = crate::free_port();
            let child = Command::new(&bin)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(std::env::temp_dir())
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {bin}: {e}"));
            let mut redis = PrivateRedis { child, port };
            for _ in 0..200 {
                if redis.child.try_wait().ok().flatten().is_some() {
                    break;
                }
                if answers_ping(port).await {
                    return redis;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        panic!("could not start a private redis-server ({bin})");
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGSTOP: the server keeps its sockets and data but answers nothing.
    pub fn freeze(&self) {
        if let Some(pid) = self.pid() {
            crate::signal(pid, rustix::process::Signal::STOP);
        }
    }

    /// SIGCONT.
    pub fn thaw(&self) {
        if let Some(pid) = self.pid() {
            crate::signal(pid, rustix::process::Signal::CONT);
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.thaw();
        let _ = self.child.start_kill();
    }
}

/// One PING over a fresh connection, with short timeouts.
async fn answers_ping(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        s.write_all(b"PING\r\n").await.ok()?;
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf).await.ok()?;
        (&buf == b"+PONG\r\n").then_some(())
    };
    matches!(
        tokio::time::timeout(Duration::from_millis(300), attempt).await,
        Ok(Some(()))
    )
}
