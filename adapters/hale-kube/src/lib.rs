//! # hale-kube
//!
//! Hale's Kubernetes executor ([`KubeExecutor`]) and health probe
//! ([`KubeHealthProbe`]), on kube-rs.
//!
//! ## Actions
//!
//! | kind | target | what it does |
//! | --- | --- | --- |
//! | `rollout_restart` | deployment, statefulset, daemonset | strategic-merge patch of the pod template's `kubectl.kubernetes.io/restartedAt` annotation, exactly as `kubectl rollout restart` |
//! | `evict_pod` | pod, or a workload + `selector` | POST of a `policy/v1` Eviction, so PodDisruptionBudgets hold (429 is `budget_blocked`); a plain DELETE only with `allow_delete = true`; at most `max_pods` (default 1) pods |
//! | `scale` | deployment, statefulset | merge patch of `spec.replicas` on the workload, refused outside `[min_replicas, max_replicas]` |
//! | `rollout_undo` | deployment | back to the previous (or `to_revision`) ReplicaSet's template, as `kubectl rollout undo` |
//! | `cordon` / `uncordon` | node | patch of `spec.unschedulable` |
//!
//! Kinds and params are defined in one place, [`actions`]; bad params are
//! `invalid_action` with a message naming the param.
//!
//! ## Safety
//!
//! * **Fencing at the target** ([`fence`]). Every applied write reads the
//!   object first, is refused as `fenced` (touching nothing) when the
//!   object's `hale.dev/fencing-token` annotation holds a newer token of the
//!   same tenant, records the request's token in that annotation, and is
//!   conditional on the `resourceVersion` it read; a 409 reads again and
//!   retries, at most five times, then is `conflict`. An eviction records
//!   the token on its target (the workload of a selector eviction, or the
//!   pod, whose eviction then carries uid and `resourceVersion`
//!   preconditions) before any pod goes. An applied request without a
//!   fencing token is refused as `invalid_action`.
//! * **Server-side dry-run.** With `ExecMode::DryRun` every mutating call
//!   carries `dryRun=All` (query, or `DeleteOptions.dryRun` for a delete):
//!   the API server runs admission and validation and persists nothing.
//!   [`KubeExecutor::dry_run`] runs any request that way, for approval
//!   requests' dry-run checks.
//! * **No `default` namespace fallback** (seed 003). The namespace comes
//!   from the target, is checked against the tenant's allowed list before
//!   any request, and is passed explicitly to every call. Nodes are
//!   cluster-scoped: node actions need the tenant's namespaces to be
//!   `["*"]` or [`KubeExecutorConfig::allow_node_actions`].
//! * **Selector guard.** `evict_pod` selectors must contain a positive
//!   `key=value` or `key in (...)` requirement; empty and negation-only
//!   selectors are refused. A selector eviction touches only the target's
//!   pods: if any matched pod's controller chain does not lead to the
//!   target workload, the whole eviction is refused as `invalid_action`
//!   before anything is written (`src/ownership.rs`).
//! * **GitOps ownership** ([`gitops`]). Asked by the engine before a
//!   strategy that scales or undoes a rollout, the executor reads the
//!   workload and reports the Argo CD or Flux marks on it
//!   ([`KubeExecutor`]'s `gitops_owner`); the guard refuses those kinds on
//!   such a target as `gitops_managed` unless the strategy opts in.
//! * **Honest failure classes** for the breaker: 401/403 `fatal`, 404
//!   `target_gone`, 409 `conflict`, 429 from an eviction `budget_blocked`,
//!   5xx, timeouts and connection errors `transient`, 400/422
//!   `invalid_action`. kube-rs's own retry layer is turned off by
//!   [`connect`] so each failure reaches the engine.
//!
//! ## How this was tested
//!
//! **No real Kubernetes cluster was used** to develop or test this crate
//! (none can be installed on the build machines). The suite runs against:
//!
//! * kube-rs's request/response mock (`tower-test`): every action and its
//!   dry run is checked for method, path, query, patch content type and
//!   body, answered with real Kubernetes JSON shapes, plus one test per
//!   error class (`tests/mock_*.rs`);
//! * the in-repo fake API server `hale-fake-kube`, over real HTTP
//!   (`tests/fake_server.rs`).
//!
//! To run the live test against a real cluster, point `HALE_TEST_KUBECONFIG`
//! at a kubeconfig and name a deployment that exists:
//!
//! ```text
//! HALE_TEST_KUBECONFIG=~/.kube/config \
//! HALE_TEST_KUBE_TARGET=my-namespace:deployment/my-app \
//!     cargo test -p hale-kube --test live -- --nocapture
//! ```
//!
//! It performs a server-side **dry-run** rollout restart (nothing changes)
//! and a health probe. Without the variable it prints a notice and passes.
//!
//! ## Example
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use hale_kube::{KubeConnection, KubeExecutor, KubeExecutorConfig};
//!
//! let exec = KubeExecutor::connect(&KubeConnection::Infer, KubeExecutorConfig::default()).await?;
//! # let _ = exec;
//! # Ok(())
//! # }
//! ```

pub mod actions;
mod audit;
mod connect;
mod errors;
mod evict;
mod executor;
pub mod fence;
pub mod gitops;
mod ops;
mod ownership;
mod probe;
mod scope;
pub mod selector;
mod undo;
mod write;

pub use audit::{HALE_ANNOTATION_PREFIX, audit_record};
pub use connect::{ConnectError, KubeConnection, connect, path_from_env};
pub use executor::{
    DEFAULT_FIELD_MANAGER, DEFAULT_REQUEST_TIMEOUT, KubeExecutor, KubeExecutorConfig,
};
pub use ops::{RESTARTED_AT, restart_patch};
pub use probe::{
    CHECKS, KubeHealthProbe, daemonset_health, deployment_health, node_health, pod_health,
    statefulset_health,
};
pub use undo::REVISION;
