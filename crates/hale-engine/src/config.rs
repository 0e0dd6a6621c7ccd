//! Engine and per-tenant policy configuration.

use std::time::Duration;

use hale_domain::TenantId;
use hale_domain::approval::SignaturePolicy;
use hale_domain::backoff::BackoffPolicy;
use hale_domain::breaker::BreakerConfig;
use hale_domain::convergence::IdentityRule;
use hale_domain::diagnosis::DiagnosisRules;
use hale_domain::effectiveness::EffectivenessPolicy;
use hale_domain::failure::PatternClassifier;
use hale_domain::kill_switch::TenantSwitches;
use hale_domain::maintenance::MaintenanceWindow;
use hale_domain::remediation::RemediationBudgets;
use hale_domain::silence::OnUnreachable;
use hale_domain::strategy::{PolicyProblem, Strategy, validate_strategies};

use crate::ports::NamespacePolicy;

/// Engine-wide settings. [`Default`] gives the seed values.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// How long a delivery's idempotency key lives (HA peers and repeats
    /// within this window are dropped before touching the store).
    pub idempotency_ttl: Duration,
    /// Lock TTL for runs; extended at every checkpoint and, while an action,
    /// a verification or a rollback runs, every third of it (the lease
    /// heartbeat, [`crate::heartbeat`]).
    pub automatic_lock_ttl: Duration,
    /// How long an approved execution waits for an automatic run to yield.
    pub preemption_wait: Duration,
    /// Tenants idle this long are evicted from memory (their state is in the
    /// store).
    pub tenant_idle_eviction: Duration,
    /// How often the flag source is re-read.
    pub flag_refresh_interval: Duration,
    /// How often this replica checks the store for safety-state changes made
    /// by other replicas (a change is in force here within this interval
    /// plus a round trip; runs also confirm at every checkpoint).
    pub safety_sync_interval: Duration,
    /// Detection job interval (seed 002: 5 min).
    pub detection_interval: Duration,
    /// Preventive job interval (seed 002: 10 min).
    pub preventive_interval: Duration,
    /// Approval expiry sweep interval.
    pub approval_sweep_interval: Duration,
    /// How often spent attempt ledgers (no failure streak, cooldown passed)
    /// are deleted from the store and this replica's copy.
    pub ledger_prune_interval: Duration,
    /// How often this replica asks the lock backend whether it answers
    /// ([`crate::ports::ResourceLocks::ping`]), so its loss and return are
    /// announced while no alert asks for a lock (default 10 s).
    pub lock_probe_interval: Duration,
    /// This replica's name in the notices it writes about what it sees
    /// itself (the lock backend; default `process <pid>`).
    pub replica: String,
    /// Maximum background tasks (seed 002 had 10; Hale runs
    /// [`crate::task_id::ALL`]'s jobs plus notification delivery, so the
    /// default is 12).
    pub max_background_tasks: usize,
    /// Dormancy threshold for the global scope (seed 002: 10).
    pub global_dormancy_threshold: u32,
    /// Deferred alerts remembered per tenant for the detection job.
    pub max_deferred_per_tenant: usize,
    /// Bytes of deferred alerts remembered per tenant (labels and
    /// annotations; the oldest are dropped first).
    pub max_deferred_bytes_per_tenant: usize,
    /// How long shutdown waits for running operations to reach a safe point.
    pub shutdown_grace: Duration,
    /// Alerts of one batch with different fingerprints are processed
    /// concurrently, up to this many at a time (alerts with the same
    /// fingerprint always in order). 1 processes the batch strictly in order,
    /// which offline replays use for reproducible output.
    pub intake_concurrency: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            idempotency_ttl: Duration::from_secs(300),
            automatic_lock_ttl: Duration::from_secs(300),
            preemption_wait: Duration::from_secs(120),
            tenant_idle_eviction: Duration::from_secs(3600),
            flag_refresh_interval: Duration::from_secs(30),
            safety_sync_interval: Duration::from_millis(250),
            detection_interval: Duration::from_secs(300),
            preventive_interval: Duration::from_secs(600),
            approval_sweep_interval: Duration::from_secs(30),
            ledger_prune_interval: Duration::from_secs(600),
            lock_probe_interval: Duration::from_secs(10),
            replica: format!("process {}", std::process::id()),
            max_background_tasks: 12,
            global_dormancy_threshold: 10,
            max_deferred_per_tenant: 10_000,
            max_deferred_bytes_per_tenant: 32 << 20,
            shutdown_grace: Duration::from_secs(30),
            intake_concurrency: 8,
        }
    }
}

/// One tenant's policy: strategies and the fail-safe settings.
#[derive(Debug, Clone)]
pub struct TenantPolicy {
    /// The tenant.
    pub tenant: TenantId,
    /// Strategies in priority order.
    pub strategies: Vec<Strategy>,
    /// Where actions may run.
    pub namespaces: NamespacePolicy,
    /// Breaker thresholds (one breaker per executor).
    pub breaker: BreakerConfig,
    /// Backoff between failed healings.
    pub backoff: BackoffPolicy,
    /// Consecutive failures before dormancy (seed: 10).
    pub dormancy_threshold: u32,
    /// Signatures per risk level and approval expiry.
    pub signatures: SignaturePolicy,
    /// Alert identity for fingerprints.
    pub identity: IdentityRule,
    /// Diagnosis rules.
    pub diagnosis: DiagnosisRules,
    /// Classifies errors known only by text (fatal patterns).
    pub classifier: PatternClassifier,
    /// Kill switches configured at start: a floor that switches set at run
    /// time can add to, never lift.
    pub switches: TenantSwitches,
    /// When a completed fix counts as effective, and how many ineffective
    /// runs block a strategy on a target.
    pub effectiveness: EffectivenessPolicy,
    /// Remediation budgets (empty: none, and no usage is recorded).
    pub remediation: RemediationBudgets,
    /// Maintenance windows from the configuration (those created through
    /// the API are shared safety records).
    pub windows: Vec<MaintenanceWindow>,
    /// The tenant's Alertmanager, asked about silences before automatic
    /// actions (`None`: never asked).
    pub silences: Option<SilencePolicy>,
}

/// Where a tenant's silences live and what happens when they cannot be
/// read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilencePolicy {
    /// The Alertmanager's base URL.
    pub alertmanager: String,
    /// What automation does when it cannot be asked (default: block).
    pub on_unreachable: OnUnreachable,
}

impl TenantPolicy {
    /// A policy with seed defaults and the given strategies.
    pub fn new(tenant: TenantId, strategies: Vec<Strategy>) -> Self {
        TenantPolicy {
            tenant,
            strategies,
            namespaces: NamespacePolicy::Any,
            breaker: BreakerConfig::default(),
            backoff: BackoffPolicy::default(),
            dormancy_threshold: 10,
            signatures: SignaturePolicy::default(),
            identity: IdentityRule::default(),
            diagnosis: DiagnosisRules::default(),
            classifier: PatternClassifier::default(),
            switches: TenantSwitches::default(),
            effectiveness: EffectivenessPolicy::default(),
            remediation: RemediationBudgets::default(),
            windows: Vec::new(),
            silences: None,
        }
    }

    /// Every problem with the policy (empty when valid).
    pub fn validate(&self) -> Vec<PolicyProblem> {
        let mut out = validate_strategies(&self.strategies, "strategies");
        for (name, d) in [
            ("effectiveness.window", self.effectiveness.window),
            (
                "effectiveness.chain_window",
                self.effectiveness.chain_window,
            ),
        ] {
            if d.is_zero() {
                out.push(PolicyProblem {
                    path: name.into(),
                    message: "must be positive".into(),
                });
            }
        }
        if let Err(e) = self.breaker.validate() {
            out.push(PolicyProblem {
                path: "breaker".into(),
                message: e.to_string(),
            });
        }
        if let Err(e) = self.backoff.validate() {
            out.push(PolicyProblem {
                path: "backoff".into(),
                message: e.to_string(),
            });
        }
        for (path, limits) in self
            .remediation
            .tenant
            .iter()
            .map(|l| ("budgets".to_owned(), l))
            .chain(
                self.remediation
                    .namespaces
                    .iter()
                    .map(|(ns, l)| (format!("budgets.namespaces.{ns}"), l)),
            )
        {
            let needs_window = limits.max_started.is_some() || limits.max_pods_disrupted.is_some();
            if needs_window && limits.window.is_zero() {
                out.push(PolicyProblem {
                    path: format!("{path}.window"),
                    message: "must be longer than 0s when max_started or max_pods_disrupted is set"
                        .into(),
                });
            }
            let zero = [
                limits.max_in_flight,
                limits.max_started,
                limits.max_pods_disrupted,
            ];
            if zero.contains(&Some(0)) {
                out.push(PolicyProblem {
                    path,
                    message:
                        "a cap of 0 would stop every automatic run; use a kill switch for that"
                            .into(),
                });
            }
        }
        let mut ids = std::collections::BTreeSet::new();
        for (i, w) in self.windows.iter().enumerate() {
            if let Err(e) = w.schedule.validate() {
                out.push(PolicyProblem {
                    path: format!("maintenance_windows[{i}]"),
                    message: e.to_string(),
                });
            }
            if !ids.insert(w.id.as_str()) {
                out.push(PolicyProblem {
                    path: format!("maintenance_windows[{i}].name"),
                    message: format!("window name {:?} is used twice", w.id),
                });
            }
        }
        if self.dormancy_threshold == 0 {
            out.push(PolicyProblem {
                path: "dormancy_threshold".into(),
                message: "must be at least 1".into(),
            });
        }
        out
    }
}
