//! `KubeExecutor`: the `ActionExecutor` for Kubernetes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hale_domain::failure::FailureClass;
use hale_domain::gitops::GitOpsOwner;
use hale_domain::strategy::ActionKind;
use hale_engine::SystemClock;
use hale_engine::ports::{
    ActionExecutor, ActionOutcome, ActionRequest, Clock, ExecError, ExecMode, OwnerRequest,
};
use kube::api::PatchParams;
use serde::{Deserialize, Serialize};

use crate::actions::{KINDS, KubeAction, TargetKind};
use crate::connect::{ConnectError, KubeConnection, connect};
use crate::errors::{CallKind, exec_error, timed_out};
use crate::fence::Fence;
use crate::scope::{Scope, check_scope};
use crate::{evict, gitops, ops, undo};

/// The field manager recorded on every patch.
pub const DEFAULT_FIELD_MANAGER: &str = "hale";

/// Default bound on one API request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How the executor (and probe) talk to the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubeExecutorConfig {
    /// `fieldManager` on patches (default `hale`).
    pub field_manager: String,
    /// Bound on each API request; a request that takes longer fails as
    /// `transient` (default 30 s).
    #[serde(with = "hale_domain::time::duration")]
    pub request_timeout: Duration,
    /// Allow node actions (cordon, uncordon) and node probes for tenants
    /// whose namespaces are a list rather than `["*"]`. Off by default:
    /// nodes are cluster-scoped, so a namespace list cannot scope them.
    pub allow_node_actions: bool,
}

impl Default for KubeExecutorConfig {
    fn default() -> Self {
        KubeExecutorConfig {
            field_manager: DEFAULT_FIELD_MANAGER.to_owned(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            allow_node_actions: false,
        }
    }
}

/// Runs healing actions against a Kubernetes API server.
///
/// Every mutating call carries `dryRun=All` when the request's mode is
/// [`ExecMode::DryRun`], so the API server validates it (admission, PDBs,
/// schemas) without persisting anything. Applied actions are fenced: each
/// write records the request's fencing token on the object, is conditional
/// on the version it read, and is refused as `fenced` when the object
/// already records a newer token (see [`crate::fence`]).
#[derive(Clone)]
pub struct KubeExecutor {
    client: kube::Client,
    config: KubeExecutorConfig,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for KubeExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeExecutor")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl KubeExecutor {
    /// An executor over an existing client (the host's clock stamps
    /// `restartedAt`).
    pub fn new(client: kube::Client, config: KubeExecutorConfig) -> Self {
        KubeExecutor {
            client,
            config,
            clock: Arc::new(SystemClock),
        }
    }

    /// Connects (kubeconfig, in-cluster, `KUBECONFIG`, or a URL) and builds
    /// an executor.
    pub async fn connect(
        conn: &KubeConnection,
        config: KubeExecutorConfig,
    ) -> Result<Self, ConnectError> {
        Ok(KubeExecutor::new(connect(conn).await?, config))
    }

    /// Uses `clock` for the `restartedAt` annotation.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &KubeExecutorConfig {
        &self.config
    }

    /// Where `resource` lives, if the tenant may act there
    /// (`invalid_action` otherwise, before any request).
    fn scope(
        &self,
        resource: &hale_domain::ResourceRef,
        target: TargetKind,
        namespaces: &hale_engine::ports::NamespacePolicy,
    ) -> Result<Scope, ExecError> {
        check_scope(resource, target, namespaces, self.config.allow_node_actions).map_err(invalid)
    }

    /// Runs `req` as a server-side dry run whatever its mode: the outcome
    /// (or error) is what applying it would do now. For approval requests'
    /// dry-run checks.
    pub async fn dry_run(&self, req: ActionRequest<'_>) -> Result<ActionOutcome, ExecError> {
        self.execute(ActionRequest {
            mode: ExecMode::DryRun,
            ..req
        })
        .await
    }
}

#[async_trait]
impl ActionExecutor for KubeExecutor {
    fn name(&self) -> &str {
        "kubernetes"
    }

    fn supports(&self, kind: &ActionKind) -> bool {
        KINDS.contains(&kind.as_str())
    }

    /// Every automatic apply is preceded by the same request with
    /// `dryRun=All`: the API server's admission and validation answer first.
    fn dry_runs_before_apply(&self) -> bool {
        true
    }

    /// Reads a workload target (one GET) and reports the Argo CD or Flux
    /// marks on it ([`crate::gitops`]); pods and nodes: `None`.
    async fn gitops_owner(&self, req: OwnerRequest<'_>) -> Result<Option<GitOpsOwner>, ExecError> {
        let target = TargetKind::parse(&req.resource.kind).map_err(|e| invalid(e.0))?;
        let scope = self.scope(req.resource, target, req.namespaces)?;
        let (TargetKind::Workload(kind), Scope::Namespaced(ns)) = (target, scope) else {
            return Ok(None);
        };
        let ctx = Ctx {
            client: &self.client,
            config: &self.config,
            dry_run: true,
            fence: None,
        };
        gitops::workload_owner(&ctx, &ns, &req.resource.name, kind).await
    }

    async fn execute(&self, req: ActionRequest<'_>) -> Result<ActionOutcome, ExecError> {
        let (action, target) =
            KubeAction::parse(&req.action.kind, req.resource, &req.action.params)
                .map_err(|e| invalid(e.0))?;
        let scope = self.scope(req.resource, target, req.namespaces)?;
        let dry_run = req.mode == ExecMode::DryRun;
        let fence = if dry_run {
            None
        } else {
            Some(Fence {
                tenant: req.tenant,
                token: req.required_token()?,
            })
        };
        let ctx = Ctx {
            client: &self.client,
            config: &self.config,
            dry_run,
            fence,
        };
        let name = req.resource.name.as_str();
        let result = match (&action, &scope) {
            (KubeAction::RolloutRestart(w), Scope::Namespaced(ns)) => {
                ops::rollout_restart(&ctx, ns, name, *w, self.clock.now()).await
            }
            (
                KubeAction::Scale {
                    workload,
                    replicas,
                    min_replicas,
                    max_replicas,
                },
                Scope::Namespaced(ns),
            ) => {
                ops::scale(
                    &ctx,
                    ns,
                    name,
                    *workload,
                    *replicas,
                    (*min_replicas, *max_replicas),
                )
                .await
            }
            (
                KubeAction::EvictPod {
                    pods,
                    max_pods,
                    allow_delete,
                },
                Scope::Namespaced(ns),
            ) => {
                let owner = match target {
                    TargetKind::Workload(w) => Some(w),
                    TargetKind::Pod | TargetKind::Node => None,
                };
                evict::evict_pods(&ctx, ns, name, owner, pods, *max_pods, *allow_delete).await
            }
            (KubeAction::RolloutUndo { to_revision }, Scope::Namespaced(ns)) => {
                undo::rollout_undo(&ctx, ns, name, *to_revision).await
            }
            (KubeAction::Cordon, Scope::Cluster) => ops::set_unschedulable(&ctx, name, true).await,
            (KubeAction::Uncordon, Scope::Cluster) => {
                ops::set_unschedulable(&ctx, name, false).await
            }
            // `check_scope` returns `Cluster` exactly for node targets and
            // `parse` pairs node actions with node targets only.
            (a, s) => Err(invalid(format!("{a} cannot act in scope {s:?}"))),
        };
        match &result {
            Ok(o) => tracing::info!(
                resource = %req.resource, action = %action, operation = %req.operation_id,
                dry_run = ctx.dry_run, "{}", o.message
            ),
            Err(e) => tracing::warn!(
                resource = %req.resource, action = %action, operation = %req.operation_id,
                dry_run = ctx.dry_run, class = %e.class, "{}", e.message
            ),
        }
        result.map(|o| {
            if ctx.dry_run {
                ActionOutcome {
                    message: format!("dry run (dryRun=All, nothing persisted): {}", o.message),
                    ..o
                }
            } else {
                o
            }
        })
    }
}

/// A request this executor will not run.
fn invalid(message: String) -> ExecError {
    ExecError::new(FailureClass::InvalidAction, message)
}

// === Ctx ===

/// What every operation needs: the client, the settings, the mode, and
/// for applied actions the fence every write records and checks.
pub(crate) struct Ctx<'a> {
    pub(crate) client: &'a kube::Client,
    pub(crate) config: &'a KubeExecutorConfig,
    pub(crate) dry_run: bool,
    /// `Some` exactly when applying (`dry_run` is false).
    pub(crate) fence: Option<Fence<'a>>,
}

impl Ctx<'_> {
    /// Patch parameters with the mode's `dryRun` and our field manager.
    pub(crate) fn patch_params(&self) -> PatchParams {
        PatchParams {
            dry_run: self.dry_run,
            field_manager: Some(self.config.field_manager.clone()),
            ..PatchParams::default()
        }
    }

    /// Runs one API call under the request timeout, classifying failures.
    pub(crate) async fn call<T>(
        &self,
        what: &str,
        kind: CallKind,
        fut: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, ExecError> {
        match tokio::time::timeout(self.config.request_timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(exec_error(what, e, kind)),
            Err(_) => Err(timed_out(what, self.config.request_timeout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_durations_as_text_and_defaults_the_rest() {
        let c: KubeExecutorConfig = serde_json::from_value(
            serde_json::json!({"request_timeout": "5s", "allow_node_actions": true}),
        )
        .unwrap();
        assert_eq!(c.request_timeout, Duration::from_secs(5));
        assert!(c.allow_node_actions);
        assert_eq!(c.field_manager, DEFAULT_FIELD_MANAGER);
        assert!(
            serde_json::from_value::<KubeExecutorConfig>(serde_json::json!({"timeout": "5s"}))
                .is_err()
        );
    }
}
