//! Executors act on real systems; health probes check them.
//!
//! # Fencing at the point of action
//!
//! A lock's TTL can lapse while its holder still runs (a GC pause, a
//! partition, an action longer than the TTL), and a second holder may then
//! take the lock. The lock service alone cannot stop the first holder from
//! acting: the refusal has to happen where the action lands. So every
//! applied action carries the [`FencingToken`] of the lock it runs under,
//! tokens strictly increase per (tenant, resource), and the target refuses
//! a token lower than one it has already seen. An executor that cannot make
//! its target compare tokens (a local program) instead confirms the lease
//! through [`LeaseCheck`] immediately before it acts and hands the token on
//! to the program. A refusal of either kind is
//! [`FailureClass::Fenced`]: nothing was done, the target is not at fault,
//! and the operation must not retry.

use std::fmt;

use async_trait::async_trait;
use hale_domain::failure::FailureClass;
use hale_domain::gitops::GitOpsOwner;
pub use hale_domain::namespaces::NamespacePolicy;
use hale_domain::strategy::{ActionKind, ActionSpec};
use hale_domain::{OperationId, ResourceRef, TenantId};
use serde::{Deserialize, Serialize};

use super::locks::{FencingToken, LockError};

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

/// One action to carry out.
#[derive(Clone, Copy)]
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
    /// The fencing token of the lock held on the resource. Every
    /// [`ExecMode::Apply`] request MUST carry one (executors that change
    /// anything refuse an applied request without it as `InvalidAction`);
    /// dry runs need none, since they change nothing, and are made before
    /// any lock is taken.
    pub fencing_token: Option<FencingToken>,
    /// Confirms the lease behind `fencing_token` is still held, for
    /// executors that cannot fence at the target (see [`LeaseCheck`]).
    /// `None` when the caller has no lease to confirm (dry runs) or relies
    /// on the target's own fencing.
    pub lease_check: Option<&'a dyn LeaseCheck>,
    /// Where the tenant may act. Executors MUST refuse targets outside it
    /// with `FailureClass::InvalidAction`.
    pub namespaces: &'a NamespacePolicy,
}

impl fmt::Debug for ActionRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActionRequest")
            .field("tenant", self.tenant)
            .field("operation_id", self.operation_id)
            .field("resource", self.resource)
            .field("action", self.action)
            .field("mode", &self.mode)
            .field("fencing_token", &self.fencing_token)
            .field("lease_check", &self.lease_check.is_some())
            .field("namespaces", self.namespaces)
            .finish()
    }
}

impl ActionRequest<'_> {
    /// The token an applied request acts under; `InvalidAction` when an
    /// applied request has none (a caller bug: it would act unfenced).
    pub fn required_token(&self) -> Result<FencingToken, ExecError> {
        self.fencing_token.ok_or_else(|| {
            ExecError::new(
                FailureClass::InvalidAction,
                format!(
                    "refusing to apply {} to {} without the lock's fencing token",
                    self.action.kind, self.resource
                ),
            )
        })
    }

    /// Confirms the lease through [`ActionRequest::lease_check`], if one is
    /// given; a lost or unconfirmable lease is [`FailureClass::Fenced`].
    /// Executors call this immediately before acting.
    pub async fn confirm_lease(&self) -> Result<(), ExecError> {
        let Some(check) = self.lease_check else {
            return Ok(());
        };
        check.confirm().await.map_err(|e| {
            let why = match e {
                LockError::NotHeld => "the lock was lost (expired or taken over)".to_owned(),
                LockError::Unavailable(m) => {
                    format!("the lock could not be confirmed (backend unavailable: {m})")
                }
                LockError::Invalid(m) => format!("the lock could not be confirmed ({m})"),
            };
            ExecError::new(
                FailureClass::Fenced,
                format!(
                    "not running {} on {}: {why}; nothing was done",
                    self.action.kind, self.resource
                ),
            )
        })
    }
}

/// Confirms, at the moment of acting, that the lease an action runs under
/// is still the current holding of its lock.
///
/// The engine implements it over its [`Lease`](super::locks::Lease) (by
/// extending the lock, which also gives the act that follows a full TTL).
/// Executors whose target cannot compare fencing tokens call it
/// immediately before acting (the command executor, right before it
/// spawns the program) and act only on `Ok`.
///
/// Contract: `confirm` returns `Ok(())` only if the lease is current at the
/// time of the call; `LockError::NotHeld` when it expired, was released or
/// was superseded; `LockError::Unavailable` when the lock backend cannot
/// say, within its usual bounded timeout. Executors treat every error as
/// "do not act" and fail with [`FailureClass::Fenced`] (fail closed).
#[async_trait]
pub trait LeaseCheck: Send + Sync {
    /// Confirms the lease is still held.
    async fn confirm(&self) -> Result<(), LockError>;
}

/// What an action did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionOutcome {
    /// Human-readable summary.
    pub message: String,
    /// The system's response (e.g. the patched object), for the audit log.
    pub response: Option<serde_json::Value>,
    /// Pods the action restarted or evicted, as far as the executor knows
    /// (remediation budgets count them; 0 for actions that disrupt none or
    /// executors that cannot tell).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pods_disrupted: u32,
}

impl ActionOutcome {
    /// An outcome that disrupted no pods.
    pub fn new(message: impl Into<String>, response: Option<serde_json::Value>) -> Self {
        ActionOutcome {
            message: message.into(),
            response,
            pods_disrupted: 0,
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
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
    /// What the target itself said, verbatim (an API server's status
    /// message, a program's standard error), when the executor could only
    /// call the failure `Transient`. The tenant's fatal patterns are matched
    /// against this text alone, with the alert's own values masked out
    /// ([`hale_domain::failure::classify`]); never against `message`, which
    /// quotes the target's namespace and name.
    pub target_said: Option<String>,
}

impl ExecError {
    /// An error of a class with a message.
    pub fn new(class: FailureClass, message: impl Into<String>) -> Self {
        ExecError {
            class,
            message: message.into(),
            response: None,
            target_said: None,
        }
    }

    /// The same error, with what the target itself said.
    #[must_use]
    pub fn with_target_said(mut self, said: impl Into<String>) -> Self {
        self.target_said = Some(said.into());
        self
    }
}

/// Carries out healing actions.
///
/// Contract:
/// * `execute` with `ExecMode::DryRun` MUST NOT change the target system
///   and needs no fencing token;
/// * an executor that changes anything MUST refuse an `ExecMode::Apply`
///   request without a fencing token (`InvalidAction`, see
///   [`ActionRequest::required_token`]);
/// * **fencing**: an applied action MUST NOT act for a token lower than one
///   already recorded at the target for the same tenant. Where the target
///   can hold a record (a Kubernetes object's annotation), each write
///   records the token and is conditional on the state it read, and a
///   higher recorded token fails the call as `Fenced` without touching the
///   target. Where it cannot (a local program), the executor calls
///   [`ActionRequest::confirm_lease`] immediately before acting, fails as
///   `Fenced` without acting if the lease is lost, and passes the token on
///   so the program can fence its own target;
/// * errors carry an honest [`FailureClass`]: authentication/authorization
///   failures are `Fatal`, a missing target is `TargetGone`, concurrent
///   modification is `Conflict`, a refusing disruption budget is
///   `BudgetBlocked`, server errors and network failures are `Transient`,
///   a request the executor will not run (unsupported kind, bad params,
///   namespace not allowed, match-everything selector) is `InvalidAction`,
///   a newer lock holder or a lost lease is `Fenced`;
/// * what the target said in its own words goes into
///   [`ExecError::target_said`], never mixed with the executor's own text
///   or the request's values, so a tenant's fatal patterns can match the
///   target and not the alert;
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

    /// Whether the engine runs every automatic action through
    /// [`ExecMode::DryRun`] first, with the same request, and applies it
    /// only if the dry run passed (default false). Executors whose target
    /// validates without persisting (Kubernetes `dryRun=All`: admission,
    /// schemas, quotas) say true; a dry run that fails blocks the apply as
    /// `dry_run_failed`, which is no failure of the target (no breaker,
    /// backoff or dormancy counts it), and both answers go into the audit
    /// entry's dry-run fields.
    fn dry_runs_before_apply(&self) -> bool {
        false
    }

    /// Who owns the target besides Hale: the GitOps tool (Argo CD, Flux)
    /// that reconciles it from Git, if any. The engine asks before a
    /// strategy that runs a kind such a tool would revert (`scale`,
    /// `rollout_undo`), and the guard refuses it as `gitops_managed`
    /// ([`hale_domain::gitops`]).
    ///
    /// Contract: read-only; `Ok(None)` when no GitOps tool owns the target
    /// or the executor cannot tell (the default, for executors whose
    /// targets carry no such marks); `Err` when the target could not be
    /// read, with an honest class as for [`ActionExecutor::execute`] (the
    /// engine then proceeds, and the action's own read fails the same way).
    /// It MUST refuse targets outside `req.namespaces` with
    /// `FailureClass::InvalidAction`.
    async fn gitops_owner(&self, req: OwnerRequest<'_>) -> Result<Option<GitOpsOwner>, ExecError> {
        let _ = req;
        Ok(None)
    }
}

/// The target whose owner the engine asks about.
#[derive(Debug, Clone, Copy)]
pub struct OwnerRequest<'a> {
    /// Owning tenant.
    pub tenant: &'a TenantId,
    /// The target.
    pub resource: &'a ResourceRef,
    /// Where the tenant may look.
    pub namespaces: &'a NamespacePolicy,
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
