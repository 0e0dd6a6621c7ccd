//! The `hale-server` binary as a child process: started with arguments and
//! environment, its address read from the banner, its output captured.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_hale-server");

/// A running `hale-server` with its output captured.
pub(crate) struct Proc {
    child: Child,
    addr: String,
    output: Arc<Mutex<String>>,
}

fn capture<R: AsyncRead + Unpin + Send + 'static>(
    r: R,
    out: Arc<Mutex<String>>,
    banner: Option<tokio::sync::mpsc::Sender<String>>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let (Some(tx), Some(rest)) =
                (&banner, line.strip_prefix("Hale is listening on http://"))
            {
                let _ = tx.send(rest.trim().to_owned()).await;
            }
            let mut o = out.lock().unwrap();
            o.push_str(&line);
            o.push('\n');
        }
    });
}

impl Proc {
    pub(crate) async fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(dir)
            .env_remove("HALE_CONFIG")
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn hale-server");
        let output = Arc::new(Mutex::new(String::new()));
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        capture(child.stdout.take().unwrap(), output.clone(), Some(tx));
        capture(child.stderr.take().unwrap(), output.clone(), None);
        let addr = match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(addr)) => addr,
            _ => panic!("no banner; output:\n{}", output.lock().unwrap()),
        };
        Proc {
            child,
            addr,
            output,
        }
    }

    /// Waits (bounded) until the captured output contains `needle`: the
    /// banner's later lines arrive after the line that gave the address.
    pub(crate) async fn wait_for(&self, needle: &str) {
        for _ in 0..200 {
            if self.output.lock().unwrap().contains(needle) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{needle:?} never appeared in the output:\n{}",
            self.output.lock().unwrap()
        );
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    /// A URL of the server.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Everything it printed so far.
    pub(crate) fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Asks it to stop (SIGTERM).
    pub(crate) fn sigterm(&self) {
        let pid = rustix::process::Pid::from_raw(self.child.id().unwrap() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    }

    /// Waits for the exit after SIGTERM; the exit code and all output.
    pub(crate) async fn terminate(mut self) -> (Option<i32>, String) {
        self.sigterm();
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("hale-server did not exit within 60 s of SIGTERM")
            .unwrap();
        // Let the capture tasks drain the pipes.
        tokio::time::sleep(Duration::from_millis(200)).await;
        (status.code(), self.output.lock().unwrap().clone())
    }
}
