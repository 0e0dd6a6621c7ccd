//! What the engine decided for each alert: the values `Engine::ingest`
//! returns, which the server sends back to Alertmanager and the replay
//! prints.

use hale_domain::alert::AlertStatus;
use hale_domain::convergence::Fingerprint;
use hale_domain::guard::Guard;
use hale_domain::reason::{DeferralReason, NotActed, SkipReason};
use hale_domain::{IncidentId, ResourceRef, StrategyId};
use serde::{Deserialize, Serialize};

/// What happened to one alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertDecision {
    /// The alert's fingerprint.
    pub fingerprint: Fingerprint,
    /// The alert name.
    pub alertname: String,
    /// Firing or resolved.
    pub status: AlertStatus,
    /// The decision.
    pub outcome: Outcome,
}

/// The decision for one alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum Outcome {
    /// The same delivery was already taken (HA peer or retry).
    DuplicateDelivery,
    /// Another delivery of an episode that is already being handled.
    Deduplicated {
        /// The operation or approval handling it.
        claimed_by: Option<String>,
    },
    /// The alert resolved.
    Resolved {
        /// The incident resolved with it.
        incident_id: Option<IncidentId>,
    },
    /// No strategy matches the alert (recorded in its incident).
    NoStrategy,
    /// A strategy matches but its trigger needs more firings.
    Waiting {
        /// The strategy.
        strategy_id: StrategyId,
        /// Why.
        detail: String,
    },
    /// An automatic healing operation started.
    OperationStarted {
        /// The strategy.
        strategy_id: StrategyId,
        /// The target.
        resource: ResourceRef,
        /// The operation.
        operation_id: String,
    },
    /// An approval request was raised (decision path).
    ApprovalRequested {
        /// The strategy.
        strategy_id: StrategyId,
        /// The target.
        resource: ResourceRef,
        /// The approval.
        approval_id: String,
    },
    /// Not now; a later delivery or the detection job retries.
    Deferred {
        /// The strategy.
        strategy_id: StrategyId,
        /// The target.
        resource: ResourceRef,
        /// Why (`deferred_to_decision_manager`, `awaiting_existing_approval`,
        /// `resource_busy`).
        reason: DeferralReason,
    },
    /// A guard stopped it.
    Blocked {
        /// The strategy.
        strategy_id: StrategyId,
        /// The target.
        resource: ResourceRef,
        /// Which guard (`out_of_scope`, `kill_switch`, `dormant`,
        /// `circuit_open`, `backoff`, `cooldown`, `max_attempts`,
        /// `anti_pattern`, `no_executor`).
        guard: Guard,
        /// Details.
        detail: String,
    },
    /// Not acted on (`lock_backend_unavailable`, `target_unresolved`,
    /// `risk_too_high_for_auto_repair`).
    Skipped {
        /// The strategy, if one matched.
        strategy_id: Option<StrategyId>,
        /// Why.
        reason: SkipReason,
        /// Details.
        detail: String,
    },
}

impl Outcome {
    /// The decision's name, as in the JSON `decision` field.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::DuplicateDelivery => "duplicate_delivery",
            Outcome::Deduplicated { .. } => "deduplicated",
            Outcome::Resolved { .. } => "resolved",
            Outcome::NoStrategy => "no_strategy",
            Outcome::Waiting { .. } => "waiting",
            Outcome::OperationStarted { .. } => "operation_started",
            Outcome::ApprovalRequested { .. } => "approval_requested",
            Outcome::Deferred { .. } => "deferred",
            Outcome::Blocked { .. } => "blocked",
            Outcome::Skipped { .. } => "skipped",
        }
    }

    /// Why a guard or coordination did not act on the alert.
    pub fn not_acted(&self) -> Option<NotActed> {
        match self {
            Outcome::Deferred { reason, .. } => Some(NotActed::Deferred(*reason)),
            Outcome::Skipped { reason, .. } => Some(NotActed::Skipped(*reason)),
            Outcome::Blocked { guard, .. } => Some(NotActed::Blocked(*guard)),
            _ => None,
        }
    }

    /// The reason or guard when the alert was not acted on, as its wire
    /// name (`trigger_threshold` and `no_strategy` for the alerts that never
    /// reached the guards).
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Outcome::Waiting { .. } => Some("trigger_threshold"),
            Outcome::NoStrategy => Some("no_strategy"),
            other => other.not_acted().map(NotActed::as_str),
        }
    }
}

/// The decisions for a batch, in input order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestReport {
    /// One per alert.
    pub decisions: Vec<AlertDecision>,
}
