//! A dry-run executor that records what would be done (the embedded default).
//!
//! Until a user configures a real executor, Hale runs every action through
//! [`DryRunExecutor`]: it supports every action kind, never touches anything,
//! and keeps the most recent requests in a bounded in-memory ring so an
//! operator (or a test) can see exactly what healing would have done. It
//! still enforces the tenant's namespace policy, like every executor must,
//! so a policy that would be refused in production is refused here too.
//! [`DryRunProbe`] is its partner: it always reports the target healthy.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use hale_domain::failure::FailureClass;
use hale_domain::strategy::ActionKind;
use hale_domain::{OperationId, ResourceRef, TenantId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::ports::{
    ActionExecutor, ActionOutcome, ActionRequest, Clock, ExecError, ExecMode, Health, HealthProbe,
    ProbeError, ProbeRequest,
};

/// How many records a [`DryRunExecutor`] keeps by default.
pub const DEFAULT_DRY_RUN_CAPACITY: usize = 1_000;

/// One action the dry-run executor was asked to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DryRunRecord {
    /// When the request arrived (from the executor's clock).
    pub at: Timestamp,
    /// Owning tenant.
    pub tenant: TenantId,
    /// The operation the action belongs to.
    pub operation_id: OperationId,
    /// The target.
    pub resource: ResourceRef,
    /// The action kind.
    pub kind: ActionKind,
    /// The action's parameters, as given.
    pub params: BTreeMap<String, serde_json::Value>,
    /// The mode the engine asked for. Nothing is applied either way.
    pub mode: ExecMode,
}

/// Records actions instead of running them.
///
/// Cloning is cheap and clones share the same ring, so a handle kept by an
/// embedder sees what the engine's copy recorded.
#[derive(Clone)]
pub struct DryRunExecutor {
    clock: Arc<dyn Clock>,
    capacity: usize,
    ring: Arc<Mutex<VecDeque<DryRunRecord>>>,
}

impl DryRunExecutor {
    /// An executor keeping the last [`DEFAULT_DRY_RUN_CAPACITY`] records.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        DryRunExecutor::with_capacity(clock, DEFAULT_DRY_RUN_CAPACITY)
    }

    /// An executor keeping the last `capacity` records (at least one).
    pub fn with_capacity(clock: Arc<dyn Clock>, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        DryRunExecutor {
            clock,
            capacity,
            ring: Arc::new(Mutex::new(VecDeque::with_capacity(capacity.min(64)))),
        }
    }

    /// The recorded actions, oldest first.
    pub fn records(&self) -> Vec<DryRunRecord> {
        self.lock().iter().cloned().collect()
    }

    /// How many records the ring holds now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing has been recorded (or everything was cleared).
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The most records the ring keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Forgets every record.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<DryRunRecord>> {
        // A panic while holding this lock can only come from a bug in the
        // few lines below that push or copy records; the ring is still a
        // valid ring, so keep using it rather than propagating the poison.
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for DryRunExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DryRunExecutor")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

#[async_trait]
impl ActionExecutor for DryRunExecutor {
    fn name(&self) -> &str {
        "dry-run"
    }

    fn supports(&self, _kind: &ActionKind) -> bool {
        true
    }

    async fn execute(&self, req: ActionRequest<'_>) -> Result<ActionOutcome, ExecError> {
        if !req.namespaces.allows(&req.resource.namespace) {
            return Err(ExecError::new(
                FailureClass::InvalidAction,
                format!(
                    "namespace {:?} is not in the tenant's allowed namespaces {:?}",
                    req.resource.namespace, req.namespaces
                ),
            ));
        }
        let record = DryRunRecord {
            at: self.clock.now(),
            tenant: req.tenant.clone(),
            operation_id: req.operation_id.clone(),
            resource: req.resource.clone(),
            kind: req.action.kind.clone(),
            params: req.action.params.clone(),
            mode: req.mode,
        };
        // A record always serializes: every field is a string, a number or
        // JSON already, so a failure here would be a bug; fall back to none.
        let response = serde_json::to_value(&record).ok();
        {
            let mut ring = self.lock();
            while ring.len() >= self.capacity {
                ring.pop_front();
            }
            ring.push_back(record);
        }
        Ok(ActionOutcome {
            message: format!(
                "dry run: would run {} on {} (nothing was changed)",
                req.action.kind, req.resource
            ),
            response,
            pods_disrupted: 0,
        })
    }
}

/// A probe that always reports the target healthy (the dry-run executor's
/// partner: nothing was changed, so there is nothing to wait for).
#[derive(Debug, Clone, Copy, Default)]
pub struct DryRunProbe;

#[async_trait]
impl HealthProbe for DryRunProbe {
    async fn check(&self, _req: ProbeRequest<'_>) -> Result<Health, ProbeError> {
        Ok(Health::Healthy)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hale_domain::strategy::{ActionSpec, OnError};

    use super::*;
    use crate::ports::NamespacePolicy;

    struct FixedClock(Timestamp);

    impl Clock for FixedClock {
        fn now(&self) -> Timestamp {
            self.0
        }
    }

    fn spec(kind: &str) -> ActionSpec {
        ActionSpec {
            kind: ActionKind::new(kind).unwrap(),
            params: BTreeMap::from([("replicas".to_owned(), serde_json::json!(3))]),
            timeout: Duration::from_secs(30),
            on_error: OnError::Abort,
        }
    }

    async fn run(
        exec: &DryRunExecutor,
        kind: &str,
        resource: &str,
        namespaces: &NamespacePolicy,
    ) -> Result<ActionOutcome, ExecError> {
        let tenant = TenantId::new("acme").unwrap();
        let op = OperationId::new("op-1");
        let resource = ResourceRef::parse(resource).unwrap();
        let action = spec(kind);
        exec.execute(ActionRequest {
            tenant: &tenant,
            operation_id: &op,
            resource: &resource,
            action: &action,
            mode: ExecMode::Apply,
            fencing_token: None,
            lease_check: None,
            namespaces,
        })
        .await
    }

    fn executor(capacity: usize) -> DryRunExecutor {
        let clock = Arc::new(FixedClock(Timestamp::from_unix_secs(1_800_000_000)));
        DryRunExecutor::with_capacity(clock, capacity)
    }

    #[tokio::test]
    async fn records_what_would_be_done_for_any_kind() {
        let exec = executor(10);
        let ns = NamespacePolicy::Only(vec!["prod".to_owned()]);
        assert_eq!(exec.name(), "dry-run");
        assert!(exec.supports(&ActionKind::new("command:anything").unwrap()));

        let out = run(&exec, "scale", "prod:deployment/checkout", &ns)
            .await
            .unwrap();
        assert!(out.message.contains("scale"), "{}", out.message);
        assert!(out.message.contains("prod:deployment/checkout"));

        let records = exec.records();
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(r.kind.as_str(), "scale");
        assert_eq!(r.resource.key(), "prod:deployment/checkout");
        assert_eq!(r.params["replicas"], serde_json::json!(3));
        assert_eq!(r.at, Timestamp::from_unix_secs(1_800_000_000));
        assert_eq!(r.tenant.as_str(), "acme");
        assert_eq!(out.response.unwrap()["kind"], "scale");
    }

    #[tokio::test]
    async fn the_ring_keeps_only_the_newest_records() {
        let exec = executor(3);
        let ns = NamespacePolicy::Any;
        for name in ["a", "b", "c", "d", "e"] {
            run(
                &exec,
                "rollout_restart",
                &format!("prod:deployment/{name}"),
                &ns,
            )
            .await
            .unwrap();
        }
        let names: Vec<_> = exec
            .records()
            .into_iter()
            .map(|r| r.resource.name)
            .collect();
        assert_eq!(names, ["c", "d", "e"]);
        assert_eq!(exec.capacity(), 3);
        exec.clear();
        assert!(exec.is_empty());
    }

    #[tokio::test]
    async fn a_zero_capacity_still_keeps_the_last_record() {
        let exec = executor(0);
        run(&exec, "cordon", "cluster:node/n1", &NamespacePolicy::Any)
            .await
            .unwrap();
        assert_eq!(exec.len(), 1);
    }

    #[tokio::test]
    async fn refuses_namespaces_outside_the_policy_and_records_nothing() {
        let exec = executor(10);
        let ns = NamespacePolicy::Only(vec!["prod".to_owned()]);
        let err = run(&exec, "rollout_restart", "default:deployment/checkout", &ns)
            .await
            .unwrap_err();
        assert_eq!(err.class, FailureClass::InvalidAction);
        assert!(err.message.contains("\"default\""), "{}", err.message);
        assert!(exec.is_empty());
    }

    #[tokio::test]
    async fn the_probe_is_always_healthy() {
        let tenant = TenantId::new("acme").unwrap();
        let resource = ResourceRef::parse("prod:deployment/checkout").unwrap();
        let health = DryRunProbe
            .check(ProbeRequest {
                tenant: &tenant,
                resource: &resource,
                check: "auto",
                namespaces: &NamespacePolicy::Any,
            })
            .await
            .unwrap();
        assert_eq!(health, Health::Healthy);
    }
}
