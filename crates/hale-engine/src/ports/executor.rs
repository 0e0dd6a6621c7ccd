//! Executors act on real systems; health probes check them.

use std::fmt;

use async_trait::async_trait;
use hale_domain::failure::FailureClass;
use hale_domain::strategy::{ActionKind, ActionSpec};
use hale_domain::{OperationId, ResourceRef, TenantId};
use serde::{Deserialize, Serialize};

use super::locks::FencingToken;

/// Apply for real, or ask the target system to validate without persisting
/// (Kubernetes `dryRun=All`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecMode {
    /// Validate only; change nothing.
    DryRun,
    /// Change the system.
    Apply,
}

/// Which namespaces a tenant may act in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamespacePolicy {
    /// Any namespace (only when configured explicitly with `["*"]`).
    Any,
    /// Only these.
    Only(Vec<String>),
}

impl NamespacePolicy {
    /// Whether `namespace` is allowed.
    pub fn allows(&self, namespace: &str) -> bool {
        match self {
            NamespacePolicy::Any => true,
            NamespacePolicy::Only(list) => list.iter().any(|n| n == namespace),
        }
    }

    /// From a configured list: `["*"]` means any.
    pub fn from_list(list: &[String]) -> NamespacePolicy {
        if list.iter().any(|n| n == "*") {
            NamespacePolicy::Any
        } else {
            NamespacePolicy::Only(list.to_vec())
        }
    }
}

/// One action to carry out.
#[derive(Debug, Clone, Copy)]
pub struct ActionRequest<'a> {
    /// Owning tenant.
    pub tenant: &'a TenantId,
    /// The operation it belongs to (for idempotency and audit).
    pub operation_id: &'a OperationId,
    /// The target.
    pub resource: &'a ResourceRef,
    /// The action.
    pub action: &'a ActionSpec,
    /// Dry run or apply.
    pub mode: ExecMode,
    /// The fencing token of the lock held on the resource (None for dry
    /// runs made before any lock is taken).
    pub fencing_token: Option<FencingToken>,
    /// Where the tenant may act. Executors MUST refuse targets outside it
    /// with `FailureClass::InvalidAction`.
    pub namespaces: &'a NamespacePolicy,
}

/// What an action did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionOutcome {
    /// Human-readable summary.
    pub message: String,
    /// The system's response (e.g. the patched object), for the audit log.
    pub response: Option<serde_json::Value>,
}

/// An action failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{class}: {message}")]
pub struct ExecError {
    /// The failure class; drives the breaker, retries and dormancy.
    pub class: FailureClass,
    /// What went wrong.
    pub message: String,
    /// The system's response body, if any.
    pub response: Option<serde_json::Value>,
}

impl ExecError {
    /// An error of a class with a message.
    pub fn new(class: FailureClass, message: impl Into<String>) -> Self {
        ExecError {
            class,
            message: message.into(),
            response: None,
        }
    }
}

/// Carries out healing actions.
///
/// Contract:
/// * `execute` with `ExecMode::DryRun` MUST NOT change the target system;
/// * errors carry an honest [`FailureClass`]: authentication/authorization
///   failures are `Fatal`, a missing target is `TargetGone`, concurrent
///   modification is `Conflict`, a refusing disruption budget is
///   `BudgetBlocked`, server errors and network failures are `Transient`,
///   a request the executor will not run (unsupported kind, bad params,
///   namespace not allowed, match-everything selector) is `InvalidAction`;
/// * the future may be dropped at any time (the engine enforces per-action
///   timeouts by dropping it); implementations must not leave work running
///   (a spawned process is killed with its process group).
#[async_trait]
pub trait ActionExecutor: Send + Sync {
    /// Name for breakers, metrics and audit (`kubernetes`, `command`, `dry-run`).
    fn name(&self) -> &str;

    /// Whether this executor runs actions of `kind`.
    fn supports(&self, kind: &ActionKind) -> bool;

    /// Runs one action.
    async fn execute(&self, req: ActionRequest<'_>) -> Result<ActionOutcome, ExecError>;
}

/// A health check request.
#[derive(Debug, Clone, Copy)]
pub struct ProbeRequest<'a> {
    /// Owning tenant.
    pub tenant: &'a TenantId,
    /// The target.
    pub resource: &'a ResourceRef,
    /// The check (`auto`, `rollout_complete`, `pod_ready`, `node_ready`, ...).
    pub check: &'a str,
    /// Where the tenant may look.
    pub namespaces: &'a NamespacePolicy,
}

/// A health verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "health", content = "reason")]
pub enum Health {
    /// Recovered.
    Healthy,
    /// Still converging (keep polling until the timeout).
    Progressing(String),
    /// Not healthy.
    Unhealthy(String),
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Health::Healthy => f.write_str("healthy"),
            Health::Progressing(r) => write!(f, "progressing: {r}"),
            Health::Unhealthy(r) => write!(f, "unhealthy: {r}"),
        }
    }
}

/// A probe could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{class}: {message}")]
pub struct ProbeError {
    /// The failure class.
    pub class: FailureClass,
    /// What went wrong.
    pub message: String,
}

/// Checks whether a target recovered.
///
/// Contract: read-only; `Progressing` means "ask again", `Unhealthy` means
/// the target is in a bad state now (the engine still polls until the verify
/// timeout, since a rollout passes through unhealthy states); errors carry a
/// failure class as for executors.
#[async_trait]
pub trait HealthProbe: Send + Sync {
    /// Checks the target once.
    async fn check(&self, req: ProbeRequest<'_>) -> Result<Health, ProbeError>;
}
