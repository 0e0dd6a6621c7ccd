//! Running one program in its own process group, with a timeout, bounded
//! output capture, and no survivors.
//!
//! The child is spawned as the leader of a new process group
//! (`process_group(0)`), so everything it starts belongs to that group and
//! can be signalled at once: on timeout, after the leader exits (leftover
//! background processes), and when the caller drops the future (the engine
//! enforces per-action timeouts that way). Stopping sends SIGTERM to the
//! group, waits up to a grace period for it to empty, then sends SIGKILL.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group, test_kill_process_group};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::config::DEFAULT_PATH;

/// How often a stopping group is checked for emptiness.
const GROUP_POLL: Duration = Duration::from_millis(20);

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Invocation<'a> {
    pub(crate) program: &'a Path,
    pub(crate) argv: &'a [String],
    pub(crate) env: &'a BTreeMap<String, String>,
    /// Variables Hale sets for this run; set last, so `env` cannot
    /// override them.
    pub(crate) hale_env: &'a [(&'static str, String)],
    pub(crate) working_dir: Option<&'a PathBuf>,
    pub(crate) timeout: Duration,
    pub(crate) grace: Duration,
    pub(crate) max_output: usize,
}

/// How the program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal we did not send killed it.
    Signal(i32),
    /// It ran past its timeout and was stopped.
    TimedOut,
}

/// Captured output of one stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Captured {
    /// The first bytes, decoded lossily, with a truncation marker appended
    /// when bytes were dropped.
    pub(crate) text: String,
    /// Whether bytes were dropped.
    pub(crate) truncated: bool,
    /// How many bytes the stream produced in total.
    pub(crate) total_bytes: u64,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub(crate) struct RunOutput {
    pub(crate) exit: Exit,
    pub(crate) stdout: Captured,
    pub(crate) stderr: Captured,
}

/// Runs the program; `Err` only when it could not be started.
pub(crate) async fn run(inv: Invocation<'_>) -> io::Result<RunOutput> {
    let mut cmd = Command::new(inv.program);
    cmd.args(inv.argv)
        .env_clear()
        .env("PATH", DEFAULT_PATH)
        .envs(inv.env)
        .envs(inv.hale_env.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(inv.working_dir.map_or(Path::new("/"), PathBuf::as_path))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn()?;
    // The guard is created before anything can fail or be cancelled, so the
    // group is stopped however this function is left.
    let mut group = ProcessGroup::new(child.id(), inv.grace);
    let stdout = tokio::spawn(read_bounded(child.stdout.take(), inv.max_output));
    let stderr = tokio::spawn(read_bounded(child.stderr.take(), inv.max_output));

    let exit = match tokio::time::timeout(inv.timeout, child.wait()).await {
        Ok(Ok(status)) => {
            // The leader is done; anything it left running in its group is
            // part of the action and must not outlive it.
            group.stop(None).await;
            exit_of(status)
        }
        Ok(Err(e)) => {
            group.stop(Some(&mut child)).await;
            return Err(e);
        }
        Err(_elapsed) => {
            group.stop(Some(&mut child)).await;
            Exit::TimedOut
        }
    };
    group.disarm();
    Ok(RunOutput {
        exit,
        stdout: collect(stdout, inv.grace, inv.max_output).await,
        stderr: collect(stderr, inv.grace, inv.max_output).await,
    })
}

fn exit_of(status: ExitStatus) -> Exit {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => Exit::Code(code),
        (None, Some(sig)) => Exit::Signal(sig),
        // Neither a code nor a signal cannot happen on Unix; report it as a
        // failure code rather than success.
        (None, None) => Exit::Code(-1),
    }
}

/// Waits for a reader; a process that escaped the group (e.g. `setsid`) may
/// hold the pipe open, so give up after the grace period.
async fn collect(task: JoinHandle<Captured>, grace: Duration, max: usize) -> Captured {
    let abort = task.abort_handle();
    match tokio::time::timeout(grace, task).await {
        Ok(Ok(c)) => c,
        Ok(Err(_)) | Err(_) => {
            abort.abort();
            Captured {
                text: format!(
                    "[output unavailable: the stream stayed open; at most {max} bytes are kept]"
                ),
                truncated: true,
                total_bytes: 0,
            }
        }
    }
}

async fn read_bounded<R: AsyncRead + Unpin>(reader: Option<R>, max: usize) -> Captured {
    let mut kept = Vec::new();
    let mut total: u64 = 0;
    if let Some(mut r) = reader {
        let mut chunk = [0u8; 8192];
        loop {
            match r.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    total += n as u64;
                    let room = max.saturating_sub(kept.len());
                    // Keep reading past the cap so the child never blocks
                    // on a full pipe; the excess is dropped.
                    kept.extend_from_slice(&chunk[..n.min(room)]);
                }
            }
        }
    }
    let truncated = total > kept.len() as u64;
    let mut text = String::from_utf8_lossy(&kept).into_owned();
    if truncated {
        text.push_str(&format!(
            "\n[... truncated: {} of {total} bytes shown]",
            kept.len()
        ));
    }
    Captured {
        text,
        truncated,
        total_bytes: total,
    }
}

// === impl ProcessGroup ===

/// The child's process group; stopping it is guaranteed, on drop too.
struct ProcessGroup {
    pgid: Option<Pid>,
    grace: Duration,
}

impl ProcessGroup {
    fn new(leader: Option<u32>, grace: Duration) -> Self {
        // The leader's pid is the group id because the child was spawned
        // with `process_group(0)`. `id()` is `None` only once the child has
        // been reaped, which cannot have happened yet.
        let pgid = leader
            .and_then(|id| i32::try_from(id).ok())
            .and_then(Pid::from_raw);
        ProcessGroup { pgid, grace }
    }

    fn signal(&self, sig: Signal) -> bool {
        match self.pgid {
            Some(pgid) => kill_process_group(pgid, sig).is_ok(),
            None => false,
        }
    }

    fn is_empty(&self) -> bool {
        self.pgid
            .is_none_or(|pgid| test_kill_process_group(pgid).is_err())
    }

    /// SIGTERM, wait up to the grace period (reaping the leader if given),
    /// then SIGKILL whatever is left.
    async fn stop(&mut self, mut leader: Option<&mut Child>) {
        if self.signal(Signal::TERM) {
            let deadline = tokio::time::Instant::now() + self.grace;
            loop {
                if let Some(child) = leader.as_deref_mut()
                    && matches!(child.try_wait(), Ok(Some(_)))
                {
                    leader = None;
                }
                if leader.is_none() && self.is_empty() {
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    self.signal(Signal::KILL);
                    break;
                }
                tokio::time::sleep(GROUP_POLL).await;
            }
        }
        if let Some(child) = leader {
            // SIGKILL cannot be ignored, so this wait is short; it reaps the
            // leader so no zombie is left behind.
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    fn disarm(&mut self) {
        self.pgid = None;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let Some(pgid) = self.pgid.take() else {
            return;
        };
        // The future running the command was dropped: terminate the group
        // now and kill it after the grace period. Without a runtime to wait
        // on (shutdown), kill at once rather than leave work running.
        if kill_process_group(pgid, Signal::TERM).is_err() {
            return;
        }
        let grace = self.grace;
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    tokio::time::sleep(grace).await;
                    let _ = kill_process_group(pgid, Signal::KILL);
                });
            }
            Err(_) => {
                let _ = kill_process_group(pgid, Signal::KILL);
            }
        }
    }
}
