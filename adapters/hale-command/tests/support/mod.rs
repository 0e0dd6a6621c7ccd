//! Helpers for tests that watch real processes.

use std::time::Duration;

/// The pids a script printed, separated by whitespace; panics on anything
/// else, so a missing or mangled output cannot pass as "no survivors".
pub(crate) fn pids_in(text: &str) -> Vec<u32> {
    text.split_whitespace()
        .map(|w| {
            w.parse()
                .unwrap_or_else(|_| panic!("expected only pids in the output, got {text:?}"))
        })
        .collect()
}

/// Whether `pid` no longer runs: absent from /proc, or a zombie waiting to
/// be reaped by whatever adopted it (it executes nothing any more).
pub(crate) fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state is the first field after the parenthesised command.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// Polls until `pid` is gone, for at most ten seconds. Signals are delivered
/// asynchronously, so "gone" may take a moment; the bound only turns a
/// survivor into a failure instead of a hang.
pub(crate) async fn wait_until_gone(pid: u32) -> bool {
    for _ in 0..500 {
        if gone(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}
