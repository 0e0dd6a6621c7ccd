//! `KubeHealthProbe`: has the target recovered?
//!
//! | check | target | healthy when |
//! | --- | --- | --- |
//! | `rollout_complete` | deployment | `observedGeneration >= generation` and `updatedReplicas == availableReplicas == replicas == spec.replicas` (as `kubectl rollout status`; a `ProgressDeadlineExceeded` condition is unhealthy) |
//! | `rollout_complete` | statefulset | observed generation, `updatedReplicas == readyReplicas == availableReplicas == replicas == spec.replicas`, `currentRevision == updateRevision` |
//! | `rollout_complete` | daemonset | observed generation, `updatedNumberScheduled == numberAvailable == desiredNumberScheduled` |
//! | `pod_ready` | pod | the `Ready` condition is `True` (a `Failed`/`Succeeded` pod is unhealthy) |
//! | `node_ready` | node | the `Ready` condition is `True` |
//! | `auto` | any | the check above for the target's kind |

use std::time::Duration;

use async_trait::async_trait;
use hale_domain::failure::FailureClass;
use hale_engine::ports::{Health, HealthProbe, ProbeError, ProbeRequest};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::Api;
use serde::de::DeserializeOwned;

use crate::actions::{TargetKind, WorkloadKind};
use crate::connect::{ConnectError, KubeConnection, connect};
use crate::errors::probe_error;
use crate::executor::KubeExecutorConfig;
use crate::scope::{Scope, check_scope};

/// The checks this probe knows.
pub const CHECKS: [&str; 4] = ["auto", "rollout_complete", "pod_ready", "node_ready"];

/// Reads workload, pod and node status to decide whether a target recovered.
/// Read-only: it only ever GETs.
#[derive(Clone)]
pub struct KubeHealthProbe {
    client: kube::Client,
    config: KubeExecutorConfig,
}

impl std::fmt::Debug for KubeHealthProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeHealthProbe")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Rollout(WorkloadKind),
    PodReady,
    NodeReady,
}

impl KubeHealthProbe {
    /// A probe over an existing client; `config` supplies the request
    /// timeout and the node rule (shared with the executor).
    pub fn new(client: kube::Client, config: KubeExecutorConfig) -> Self {
        KubeHealthProbe { client, config }
    }

    /// Connects and builds a probe.
    pub async fn connect(
        conn: &KubeConnection,
        config: KubeExecutorConfig,
    ) -> Result<Self, ConnectError> {
        Ok(KubeHealthProbe::new(connect(conn).await?, config))
    }

    async fn get<K>(&self, api: Api<K>, what: &str, name: &str) -> Result<K, ProbeError>
    where
        K: Clone + DeserializeOwned + std::fmt::Debug,
    {
        let timeout: Duration = self.config.request_timeout;
        match tokio::time::timeout(timeout, api.get(name)).await {
            Ok(Ok(obj)) => Ok(obj),
            Ok(Err(e)) => Err(probe_error(what, e)),
            Err(_) => Err(ProbeError {
                class: FailureClass::Transient,
                message: format!("{what}: the Kubernetes API did not answer within {timeout:?}"),
            }),
        }
    }
}

fn choose(check: &str, target: TargetKind) -> Result<Check, String> {
    let mismatch = || format!("check {check:?} does not apply to a {target:?} target");
    match (check, target) {
        ("auto" | "rollout_complete", TargetKind::Workload(w)) => Ok(Check::Rollout(w)),
        ("auto" | "pod_ready", TargetKind::Pod) => Ok(Check::PodReady),
        ("auto" | "node_ready", TargetKind::Node) => Ok(Check::NodeReady),
        ("rollout_complete" | "pod_ready" | "node_ready", _) => Err(mismatch()),
        (other, _) => Err(format!("unknown check {other:?} (known: {CHECKS:?})")),
    }
}

#[async_trait]
impl HealthProbe for KubeHealthProbe {
    async fn check(&self, req: ProbeRequest<'_>) -> Result<Health, ProbeError> {
        let invalid = |message: String| ProbeError {
            class: FailureClass::InvalidAction,
            message,
        };
        let target = TargetKind::parse(&req.resource.kind).map_err(|e| invalid(e.0))?;
        let check = choose(req.check, target).map_err(invalid)?;
        let scope = check_scope(
            req.resource,
            target,
            req.namespaces,
            self.config.allow_node_actions,
        )
        .map_err(invalid)?;
        let name = req.resource.name.as_str();
        let what = format!("{} of {}", req.check, req.resource);
        let client = self.client.clone();
        Ok(match (check, scope) {
            (Check::Rollout(WorkloadKind::Deployment), Scope::Namespaced(ns)) => {
                deployment_health(&self.get(Api::namespaced(client, &ns), &what, name).await?)
            }
            (Check::Rollout(WorkloadKind::StatefulSet), Scope::Namespaced(ns)) => {
                statefulset_health(&self.get(Api::namespaced(client, &ns), &what, name).await?)
            }
            (Check::Rollout(WorkloadKind::DaemonSet), Scope::Namespaced(ns)) => {
                daemonset_health(&self.get(Api::namespaced(client, &ns), &what, name).await?)
            }
            (Check::PodReady, Scope::Namespaced(ns)) => {
                pod_health(&self.get(Api::namespaced(client, &ns), &what, name).await?)
            }
            (Check::NodeReady, Scope::Cluster) => {
                node_health(&self.get(Api::all(client), &what, name).await?)
            }
            (c, s) => return Err(invalid(format!("check {c:?} cannot run in scope {s:?}"))),
        })
    }
}

// === Verdicts (pure, on typed objects) ===

fn generation_pending(generation: Option<i64>, observed: Option<i64>) -> bool {
    observed.unwrap_or(0) < generation.unwrap_or(0)
}

/// `kubectl rollout status` for a deployment, tightened to the brief:
/// every replica is updated and available.
pub fn deployment_health(d: &Deployment) -> Health {
    let status = d.status.clone().unwrap_or_default();
    if generation_pending(d.metadata.generation, status.observed_generation) {
        return Health::Progressing("waiting for the deployment spec update to be observed".into());
    }
    if let Some(c) = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Progressing")
        && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    {
        return Health::Unhealthy(format!(
            "the rollout exceeded its progress deadline: {}",
            c.message.as_deref().unwrap_or("")
        ));
    }
    let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let replicas = status.replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if updated < desired {
        return Health::Progressing(format!("{updated} of {desired} new replicas updated"));
    }
    if replicas > updated {
        return Health::Progressing(format!(
            "{} old replicas pending termination",
            replicas - updated
        ));
    }
    if available < updated {
        return Health::Progressing(format!(
            "{available} of {updated} updated replicas available"
        ));
    }
    if replicas != desired || updated != desired || available != desired {
        return Health::Progressing(format!(
            "replicas {replicas}, updated {updated}, available {available}, desired {desired}"
        ));
    }
    Health::Healthy
}

/// A statefulset's rolling update is complete.
pub fn statefulset_health(s: &StatefulSet) -> Health {
    let status = s.status.clone().unwrap_or_default();
    if generation_pending(s.metadata.generation, status.observed_generation) {
        return Health::Progressing(
            "waiting for the statefulset spec update to be observed".into(),
        );
    }
    let desired = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let ready = status.ready_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if ready < desired {
        return Health::Progressing(format!("{ready} of {desired} pods ready"));
    }
    if updated < desired {
        return Health::Progressing(format!("{updated} of {desired} pods updated"));
    }
    if status.update_revision.is_some() && status.update_revision != status.current_revision {
        return Health::Progressing("waiting for the update revision to become current".into());
    }
    if status.replicas != desired || available != desired {
        return Health::Progressing(format!(
            "replicas {}, available {available}, desired {desired}",
            status.replicas
        ));
    }
    Health::Healthy
}

/// A daemonset's rollout is complete on every node that should run it.
pub fn daemonset_health(d: &DaemonSet) -> Health {
    let status = d.status.clone().unwrap_or_default();
    if generation_pending(d.metadata.generation, status.observed_generation) {
        return Health::Progressing("waiting for the daemonset spec update to be observed".into());
    }
    let desired = status.desired_number_scheduled;
    let updated = status.updated_number_scheduled.unwrap_or(0);
    let available = status.number_available.unwrap_or(0);
    if updated < desired {
        return Health::Progressing(format!("{updated} of {desired} updated pods scheduled"));
    }
    if available < desired {
        return Health::Progressing(format!("{available} of {desired} updated pods available"));
    }
    Health::Healthy
}

/// Whether the `Ready` condition is `True`; `None` when there is none.
fn ready<T>(
    conditions: Option<&Vec<T>>,
    type_and_status: impl Fn(&T) -> (&str, &str),
) -> Option<bool> {
    conditions
        .into_iter()
        .flatten()
        .map(type_and_status)
        .find(|(t, _)| *t == "Ready")
        .map(|(_, s)| s == "True")
}

/// A pod is ready.
pub fn pod_health(p: &Pod) -> Health {
    let status = p.status.clone().unwrap_or_default();
    match status.phase.as_deref() {
        Some("Failed") | Some("Succeeded") => {
            return Health::Unhealthy(format!(
                "pod phase is {}",
                status.phase.as_deref().unwrap_or("")
            ));
        }
        _ => {}
    }
    if p.metadata.deletion_timestamp.is_some() {
        return Health::Unhealthy("pod is terminating".into());
    }
    match ready(status.conditions.as_ref(), |c| (&c.type_, &c.status)) {
        Some(true) => Health::Healthy,
        Some(false) => Health::Progressing("pod is not ready yet".into()),
        None => Health::Progressing("pod has no Ready condition yet".into()),
    }
}

/// A node is ready.
pub fn node_health(n: &Node) -> Health {
    let status = n.status.clone().unwrap_or_default();
    match ready(status.conditions.as_ref(), |c| (&c.type_, &c.status)) {
        Some(true) => Health::Healthy,
        Some(false) => Health::Unhealthy("node Ready condition is not True".into()),
        None => Health::Progressing("node has no Ready condition yet".into()),
    }
}
