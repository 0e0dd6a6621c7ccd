//! Shared pieces of the hale-kube tests.

// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

pub(crate) mod engine;
pub(crate) mod mock;
pub(crate) mod objects;
pub(crate) mod world;

use std::collections::BTreeMap;
use std::sync::Arc;

use hale_domain::strategy::{ActionKind, ActionSpec, OnError};
use hale_domain::{OperationId, ResourceRef, TenantId, Timestamp};
use hale_engine::ports::{
    ActionExecutor, ActionOutcome, ActionRequest, Clock, ExecError, ExecMode, FencingToken, Health,
    HealthProbe, NamespacePolicy, ProbeError, ProbeRequest,
};
use hale_kube::{KubeExecutor, KubeExecutorConfig, KubeHealthProbe};
use serde_json::Value;

/// 2027-01-15T08:00:00Z, the `restartedAt` every test expects.
pub(crate) const NOW_SECS: i64 = 1_800_000_000;
pub(crate) const NOW_RFC3339: &str = "2027-01-15T08:00:00Z";

/// The tenant of every test request.
pub(crate) const TENANT: &str = "acme";

/// The fencing token [`run`] passes with applied requests.
pub(crate) const TOKEN: u64 = 42;

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

/// Runs one action; applied requests carry fencing token [`TOKEN`].
pub(crate) async fn run(
    exec: &KubeExecutor,
    kind: &str,
    resource: &str,
    params: Value,
    mode: ExecMode,
    namespaces: &NamespacePolicy,
) -> Result<ActionOutcome, ExecError> {
    let token = (mode == ExecMode::Apply).then_some(FencingToken(TOKEN));
    run_with_token(exec, kind, resource, params, mode, token, namespaces).await
}

/// Runs one action with the given fencing token.
pub(crate) async fn run_with_token(
    exec: &KubeExecutor,
    kind: &str,
    resource: &str,
    params: Value,
    mode: ExecMode,
    fencing_token: Option<FencingToken>,
    namespaces: &NamespacePolicy,
) -> Result<ActionOutcome, ExecError> {
    let tenant = TenantId::new(TENANT).unwrap();
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
        fencing_token,
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

/// [`run_scripted`] of an applied action in namespace `prod`.
pub(crate) async fn apply_scripted(
    script: Vec<mock::Expect>,
    kind: &str,
    resource: &str,
    params: Value,
) -> Result<ActionOutcome, ExecError> {
    run_scripted(script, kind, resource, params, ExecMode::Apply, &prod()).await
}

/// [`apply_scripted`] of a rollout restart of `prod:deployment/checkout`.
pub(crate) async fn restart_scripted(
    script: Vec<mock::Expect>,
) -> Result<ActionOutcome, ExecError> {
    apply_scripted(
        script,
        "rollout_restart",
        "prod:deployment/checkout",
        serde_json::json!({}),
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

// === Fenced writes ===

/// The query of a patch: our field manager, and `dryRun=All` only for dry
/// runs.
pub(crate) fn write_query(mode: ExecMode) -> Vec<(&'static str, &'static str)> {
    let mut q = vec![("fieldManager", "hale")];
    if mode == ExecMode::DryRun {
        q.push(("dryRun", "All"));
    }
    q
}

/// `body` as an applied write sends it: with the fencing annotations of
/// [`TOKEN`] and [`TENANT`] and the `resourceVersion` it read. The
/// annotation names are spelled out: they are a wire format.
pub(crate) fn stamped(mut body: Value, resource_version: &str) -> Value {
    body["metadata"]["annotations"]["hale.dev/fencing-token"] = Value::from(TOKEN.to_string());
    body["metadata"]["annotations"]["hale.dev/fencing-tenant"] = Value::from(TENANT);
    body["metadata"]["resourceVersion"] = Value::from(resource_version);
    body
}

/// `obj` recording fencing token `token` of `tenant`.
pub(crate) fn fenced_by(mut obj: Value, token: u64, tenant: &str) -> Value {
    obj["metadata"]["annotations"]["hale.dev/fencing-token"] = Value::from(token.to_string());
    obj["metadata"]["annotations"]["hale.dev/fencing-tenant"] = Value::from(tenant);
    obj
}

/// `obj`'s `metadata.resourceVersion`.
pub(crate) fn rv_of(obj: &Value) -> &str {
    obj["metadata"]["resourceVersion"].as_str().unwrap()
}

/// The requests of one patch of the object at `path`: applied, a GET
/// answered with `current` and then the PATCH of `body` stamped with our
/// token and `current`'s version; a dry run, the PATCH of `body` alone.
pub(crate) fn patch_requests(
    mode: ExecMode,
    path: &str,
    content_type: &str,
    body: Value,
    current: &Value,
    reply: Value,
) -> Vec<mock::Expect> {
    let patch = mock::Expect::patch(path)
        .query(&write_query(mode))
        .content_type(content_type);
    match mode {
        ExecMode::DryRun => vec![patch.body(body).reply(200, reply)],
        ExecMode::Apply => vec![
            mock::Expect::get(path)
                .query(&[])
                .reply(200, current.clone()),
            patch.body(stamped(body, rv_of(current))).reply(200, reply),
        ],
    }
}
