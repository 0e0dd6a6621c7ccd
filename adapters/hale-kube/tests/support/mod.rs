//! Shared pieces of the hale-kube tests.

// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

pub(crate) mod mock;
pub(crate) mod objects;

use std::collections::BTreeMap;
use std::sync::Arc;

use hale_domain::strategy::{ActionKind, ActionSpec, OnError};
use hale_domain::{OperationId, ResourceRef, TenantId, Timestamp};
use hale_engine::ports::{
    ActionExecutor, ActionOutcome, ActionRequest, Clock, ExecError, ExecMode, Health, HealthProbe,
    NamespacePolicy, ProbeError, ProbeRequest,
};
use hale_kube::{KubeExecutor, KubeExecutorConfig, KubeHealthProbe};
use serde_json::Value;

/// 2027-01-15T08:00:00Z, the `restartedAt` every test expects.
pub(crate) const NOW_SECS: i64 = 1_800_000_000;
pub(crate) const NOW_RFC3339: &str = "2027-01-15T08:00:00Z";

pub(crate) struct FixedClock(pub(crate) Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

pub(crate) fn executor(client: kube::Client) -> KubeExecutor {
    executor_with(client, KubeExecutorConfig::default())
}

pub(crate) fn executor_with(client: kube::Client, config: KubeExecutorConfig) -> KubeExecutor {
    KubeExecutor::new(client, config)
        .with_clock(Arc::new(FixedClock(Timestamp::from_unix_secs(NOW_SECS))))
}

pub(crate) fn prod() -> NamespacePolicy {
    NamespacePolicy::Only(vec!["prod".to_owned()])
}

/// Runs one action.
pub(crate) async fn run(
    exec: &KubeExecutor,
    kind: &str,
    resource: &str,
    params: Value,
    mode: ExecMode,
    namespaces: &NamespacePolicy,
) -> Result<ActionOutcome, ExecError> {
    let tenant = TenantId::new("acme").unwrap();
    let op = OperationId::new("op-1");
    let resource = ResourceRef::parse(resource).unwrap();
    let params: BTreeMap<String, Value> = serde_json::from_value(params).unwrap();
    let action = ActionSpec {
        kind: ActionKind::new(kind).unwrap(),
        params,
        timeout: std::time::Duration::from_secs(30),
        on_error: OnError::Abort,
    };
    exec.execute(ActionRequest {
        tenant: &tenant,
        operation_id: &op,
        resource: &resource,
        action: &action,
        mode,
        fencing_token: None,
        lease_check: None,
        namespaces,
    })
    .await
}

/// Asks the probe once.
pub(crate) async fn probe(
    probe: &KubeHealthProbe,
    check: &str,
    resource: &str,
    namespaces: &NamespacePolicy,
) -> Result<Health, ProbeError> {
    let tenant = TenantId::new("acme").unwrap();
    let resource = ResourceRef::parse(resource).unwrap();
    probe
        .check(ProbeRequest {
            tenant: &tenant,
            resource: &resource,
            check,
            namespaces,
        })
        .await
}

/// Runs one action on a fresh mock serving `script`, then checks that the
/// script was followed exactly (no missing or extra requests).
pub(crate) async fn run_scripted(
    script: Vec<mock::Expect>,
    kind: &str,
    resource: &str,
    params: Value,
    mode: ExecMode,
    namespaces: &NamespacePolicy,
) -> Result<ActionOutcome, ExecError> {
    run_scripted_with(
        script,
        KubeExecutorConfig::default(),
        kind,
        resource,
        params,
        mode,
        namespaces,
    )
    .await
}

/// [`run_scripted`] with an executor configuration.
pub(crate) async fn run_scripted_with(
    script: Vec<mock::Expect>,
    config: KubeExecutorConfig,
    kind: &str,
    resource: &str,
    params: Value,
    mode: ExecMode,
    namespaces: &NamespacePolicy,
) -> Result<ActionOutcome, ExecError> {
    let (client, api) = mock::MockApi::start(script);
    let exec = executor_with(client, config);
    let result = run(&exec, kind, resource, params, mode, namespaces).await;
    drop(exec);
    api.finish().await;
    result
}
