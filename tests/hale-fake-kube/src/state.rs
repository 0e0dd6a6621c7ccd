//! The server's shared state: objects, pending rollouts, injected faults,
//! the counters of mutating requests and the write log.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::api::{Answer, object_key};
use crate::log::{WriteRecord, fencing_of, precondition_of};
use crate::store::{Key, Store};

/// Behaviour switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct FakeConfig {
    /// After a workload's spec changes, how many GETs of it still see the
    /// rollout in progress before the one that sees it complete (0: the
    /// rollout completes at once).
    pub rollout_after_gets: u32,
}

/// An injected failure or delay for matching requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// HTTP method to match (any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The path to match exactly, or a prefix ending in `*`.
    pub path: String,
    /// Answer with this status (a Kubernetes `Status` body) instead of
    /// serving the request; absent: serve it (after the latency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// For how many matching requests (forever when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Delay before answering, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
    /// Match only dry runs (`true`: `dryRun=All` in the query or
    /// `dryRun: ["All"]` in the body's DeleteOptions) or only requests that
    /// are not (`false`); any when absent. `true` with a `status` is how a
    /// test makes the server reject a dry run (an admission webhook's
    /// refusal) while the real request would pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

impl Fault {
    /// Fails the next `times` requests of `method` on `path` with `status`.
    pub fn status(method: &str, path: &str, status: u16, times: u32) -> Fault {
        Fault {
            method: Some(method.to_owned()),
            path: path.to_owned(),
            status: Some(status),
            times: Some(times),
            latency_ms: 0,
            dry_run: None,
        }
    }

    /// Rejects the next `times` dry runs of `method` on `path` with
    /// `status` (a 422 or a webhook's 400), leaving real requests alone.
    pub fn dry_run_rejected(method: &str, path: &str, status: u16, times: u32) -> Fault {
        Fault {
            dry_run: Some(true),
            ..Fault::status(method, path, status, times)
        }
    }

    fn matches(&self, method: &str, path: &str, dry_run: bool) -> bool {
        let method_ok = self
            .method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method));
        let path_ok = match self.path.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == self.path,
        };
        let mode_ok = self.dry_run.is_none_or(|d| d == dry_run);
        method_ok && path_ok && mode_ok && self.times != Some(0)
    }
}

/// Counters of one (verb, path) of mutating requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Counts {
    /// Requests received (including faulted ones).
    pub received: u64,
    /// Non-dry-run requests that changed state (2xx).
    pub applied: u64,
    /// Dry-run requests answered 2xx (nothing changed).
    pub dry_run: u64,
    /// Requests answered with an error (injected or real).
    pub failed: u64,
}

/// One row of `GET /_fake/requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCount {
    /// The HTTP method.
    pub verb: String,
    /// The URL path (no query).
    pub path: String,
    /// The counters.
    #[serde(flatten)]
    pub counts: Counts,
}

/// Everything behind the server's lock.
#[derive(Debug, Default)]
pub struct State {
    /// The objects.
    pub store: Store,
    /// Behaviour switches.
    pub config: FakeConfig,
    /// Workloads whose rollout completes after this many more GETs.
    pub pending_rollouts: BTreeMap<Key, u32>,
    faults: Vec<Fault>,
    /// Requests (method, exact path) before which another client writes
    /// the addressed object's status, and how many more times.
    status_writes: Vec<(String, String, u32)>,
    counters: BTreeMap<(String, String), Counts>,
    writes: Vec<WriteRecord>,
    /// Sequence numbers keep counting across [`State::reset_writes`], so a
    /// record is never confused with an earlier one of the same number.
    last_write_seq: u64,
}

/// The state shared by the handlers.
pub type Shared = Arc<Mutex<State>>;

impl State {
    /// Adds a fault.
    pub fn add_fault(&mut self, fault: Fault) {
        self.faults.push(fault);
    }

    /// The active faults.
    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }

    /// Removes every fault.
    pub fn clear_faults(&mut self) {
        self.faults.clear();
    }

    /// Before each of the next `times` applied (not dry-run) `method`
    /// requests on `path`, another client (the workload's controller)
    /// writes the addressed object's status: its `resourceVersion` moves
    /// on and its spec and generation do not, as when the deployment
    /// controller updates status between a client's read and its write. A
    /// write naming the `resourceVersion` it read is then refused with 409
    /// `Conflict` by the ordinary precondition, as on a real API server.
    pub fn add_status_write(&mut self, method: &str, path: &str, times: u32) {
        self.status_writes
            .push((method.to_ascii_uppercase(), path.to_owned(), times));
    }

    /// Makes the status write due before this request, if one is.
    pub(crate) fn status_write_before(&mut self, method: &str, path: &str, dry_run: bool) {
        if dry_run {
            return;
        }
        let Some(i) = self
            .status_writes
            .iter()
            .position(|(m, p, n)| m.eq_ignore_ascii_case(method) && p == path && *n > 0)
        else {
            return;
        };
        self.status_writes[i].2 -= 1;
        if self.status_writes[i].2 == 0 {
            self.status_writes.remove(i);
        }
        let Some(key) = object_key(path) else {
            return;
        };
        let rv = self.store.next_rv();
        if let Some(obj) = self.store.get_mut(&key) {
            obj["metadata"]["resourceVersion"] = serde_json::json!(rv);
            obj["status"]["observedGeneration"] = obj["metadata"]["generation"].clone();
        }
    }

    /// Consumes one use of the first fault matching the request.
    pub fn take_fault(&mut self, method: &str, path: &str, dry_run: bool) -> Option<Fault> {
        let i = self
            .faults
            .iter()
            .position(|f| f.matches(method, path, dry_run))?;
        let fault = self.faults[i].clone();
        if let Some(t) = self.faults[i].times.as_mut() {
            *t -= 1;
            if *t == 0 {
                self.faults.remove(i);
            }
        }
        Some(fault)
    }

    /// The counters of `(verb, path)`.
    pub fn counts_mut(&mut self, verb: &str, path: &str) -> &mut Counts {
        self.counters
            .entry((verb.to_owned(), path.to_owned()))
            .or_default()
    }

    /// Every counter row, sorted by path then verb.
    pub fn request_counts(&self) -> Vec<RequestCount> {
        let mut rows: Vec<RequestCount> = self
            .counters
            .iter()
            .map(|((verb, path), counts)| RequestCount {
                verb: verb.clone(),
                path: path.clone(),
                counts: *counts,
            })
            .collect();
        rows.sort_by(|a, b| (&a.path, &a.verb).cmp(&(&b.path, &b.verb)));
        rows
    }

    /// Forgets every counter.
    pub fn reset_counts(&mut self) {
        self.counters.clear();
    }

    /// The stored object a request path addresses, before the request runs
    /// (for the write log's record of a delete).
    pub(crate) fn addressed(&self, path: &str) -> Option<serde_json::Value> {
        object_key(path).and_then(|k| self.store.get(&k).cloned())
    }

    /// Appends the record of one mutating request to the write log;
    /// `before` is the addressed object as it was before the request.
    pub(crate) fn log_write(
        &mut self,
        verb: &str,
        path: &str,
        body: &[u8],
        before: Option<serde_json::Value>,
        answer: &Answer,
    ) {
        let key = object_key(path);
        let after = key.as_ref().and_then(|k| self.store.get(k));
        let applied = answer.code < 300 && !answer.dry_run;
        // An applied delete leaves no object: report what it removed.
        let (fencing_token, fencing_tenant) = after
            .or(before.as_ref())
            .map(fencing_of)
            .unwrap_or((None, None));
        let reason = (answer.code >= 300)
            .then(|| answer.body["reason"].as_str().map(str::to_owned))
            .flatten();
        self.last_write_seq += 1;
        self.writes.push(WriteRecord {
            seq: self.last_write_seq,
            verb: verb.to_owned(),
            path: path.to_owned(),
            object: key.map(|k| format!("{}/{}/{}", k.resource.plural(), k.namespace, k.name)),
            code: answer.code,
            reason,
            dry_run: answer.dry_run,
            applied,
            precondition: precondition_of(body),
            resource_version: after
                .and_then(|o| o["metadata"]["resourceVersion"].as_str())
                .map(str::to_owned),
            fencing_token,
            fencing_tenant,
        });
    }

    /// The write log, oldest first.
    pub fn write_log(&self) -> &[WriteRecord] {
        &self.writes
    }

    /// Forgets the write log.
    pub fn reset_writes(&mut self) {
        self.writes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_match_by_method_and_path_and_run_out() {
        let mut s = State::default();
        s.add_fault(Fault::status("PATCH", "/apis/apps/v1/*", 500, 2));
        assert!(s.take_fault("GET", "/apis/apps/v1/x", false).is_none());
        assert!(s.take_fault("patch", "/apis/apps/v1/x", false).is_some());
        assert!(s.take_fault("PATCH", "/apis/apps/v1/y", false).is_some());
        assert!(s.take_fault("PATCH", "/apis/apps/v1/x", false).is_none());
        assert!(s.faults().is_empty());
        s.add_fault(Fault {
            method: None,
            path: "/api/v1/nodes/n1".to_owned(),
            status: None,
            times: None,
            latency_ms: 5,
            dry_run: None,
        });
        for _ in 0..3 {
            assert!(s.take_fault("GET", "/api/v1/nodes/n1", false).is_some());
        }
        assert!(s.take_fault("GET", "/api/v1/nodes/n2", false).is_none());
    }

    #[test]
    fn a_dry_run_fault_matches_dry_runs_only() {
        let mut s = State::default();
        s.add_fault(Fault::dry_run_rejected("PATCH", "/apis/apps/v1/x", 422, 1));
        assert!(s.take_fault("PATCH", "/apis/apps/v1/x", false).is_none());
        assert_eq!(
            s.take_fault("PATCH", "/apis/apps/v1/x", true)
                .and_then(|f| f.status),
            Some(422)
        );
        assert!(s.faults().is_empty());
    }
}
