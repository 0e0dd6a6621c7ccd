//! The status snapshot (seed 002 `/status`): self-healing state, breakers,
//! background tasks, issues, and recommendations derived from the state.

use hale_domain::breaker::BreakerState;
use hale_domain::dormancy::DormantRecord;
use hale_domain::effectiveness::EffectivenessTally;
use hale_domain::guard::{self, HealingPath, ScopeState};
use hale_domain::kill_switch::{Feature, TenantSwitches};
use hale_domain::maintenance::WindowMode;
use hale_domain::remediation::{BudgetLimits, BudgetUse, RemediationBudgets};
use hale_domain::{StrategyId, TenantId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::EngineError;
use crate::tasks::TaskStats;
use crate::tenant::TenantRuntime;

/// Seed 002's `selfHealing` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelfHealingStatus {
    /// Whether automatic healing may run (switches on, not dormant).
    pub enabled: bool,
    /// Whether the scope is dormant.
    pub is_dormant: bool,
    /// The dormancy record.
    pub dormant: Option<DormantRecord>,
    /// Consecutive failed healings.
    pub consecutive_failures: u32,
    /// The current backoff delay in milliseconds.
    pub backoff_delay: u64,
    /// No automatic healing starts before this.
    pub next_healing_at: Option<Timestamp>,
    /// Operations started.
    pub total_attempts: u64,
    /// Operations completed.
    pub successful_healings: u64,
    /// Operations failed.
    pub failed_healings: u64,
    /// Alerts waiting for the detection job.
    pub deferred_alerts: usize,
}

/// Seed 002's `circuitBreakers[]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakerStatus {
    /// Tenant the breaker belongs to.
    pub tenant: TenantId,
    /// Name (the executor's).
    pub name: String,
    /// State.
    pub state: BreakerState,
    /// Consecutive failures.
    pub failure_count: u32,
    /// Seconds since the last failure.
    pub last_failure_ago: Option<u64>,
    /// Why it is latched, when PERMANENT_OPEN.
    pub permanent_reason: Option<String>,
}

/// Seed 002's `backgroundTasks` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackgroundTasksStatus {
    /// Registered tasks.
    pub total_tasks: usize,
    /// Running tasks.
    pub active_tasks: usize,
    /// Per-task statistics.
    pub tasks: Vec<TaskStatsView>,
}

/// A task's statistics (owned, deserializable copy of [`TaskStats`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatsView {
    /// Id.
    pub id: String,
    /// `interval`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Running.
    pub enabled: bool,
    /// Period in seconds.
    pub interval_seconds: u64,
    /// Runs.
    pub execution_count: u64,
    /// Failed runs.
    pub failure_count: u64,
    /// Last run.
    pub last_run_at: Option<Timestamp>,
    /// Last error.
    pub last_error: Option<String>,
    /// Seconds since registration.
    pub uptime: u64,
}

impl From<TaskStats> for TaskStatsView {
    fn from(t: TaskStats) -> Self {
        TaskStatsView {
            id: t.id,
            kind: t.kind.to_owned(),
            enabled: t.enabled,
            interval_seconds: t.interval_seconds,
            execution_count: t.execution_count,
            failure_count: t.failure_count,
            last_run_at: t.last_run_at,
            last_error: t.last_error,
            uptime: t.uptime,
        }
    }
}

/// The `/status` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusSnapshot {
    /// `global` or `tenant:<id>`.
    pub scope: String,
    /// When taken.
    pub generated_at: Timestamp,
    /// Self-healing state of the scope.
    pub self_healing: SelfHealingStatus,
    /// Breakers in the scope.
    pub circuit_breakers: Vec<BreakerStatus>,
    /// Background tasks (engine-wide).
    pub background_tasks: BackgroundTasksStatus,
    /// Problems now.
    pub issues: Vec<String>,
    /// What an operator should do about them.
    pub recommendations: Vec<String>,
    /// Per-tenant summaries (global scope only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<TenantSummary>,
    /// How current this replica's copy of the shared safety state is.
    pub safety_state: SafetyStateStatus,
    /// Maintenance windows active now (absent when none is).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintenance_windows: Vec<ActiveWindowStatus>,
    /// The tenant's remediation budgets and their use (tenant scope, when
    /// budgets are configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation_budgets: Option<RemediationStatus>,
    /// Whether completed fixes fixed, per strategy (absent before any
    /// operation completed with a firing alert).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub effectiveness: Vec<StrategyEffectivenessStatus>,
}

/// One strategy's effectiveness: its completed operations by verdict, from
/// the store every replica shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyEffectivenessStatus {
    /// Tenant.
    pub tenant: TenantId,
    /// The strategy.
    pub strategy: StrategyId,
    /// Waiting for their alert to resolve and stay resolved.
    pub pending: u64,
    /// Their alert resolved in time and stayed resolved.
    pub effective: u64,
    /// Their alert did not resolve in time, or fired again too soon.
    pub ineffective: u64,
    /// effective / (effective + ineffective); `null` before the first
    /// verdict.
    pub effective_rate: Option<f64>,
}

impl StrategyEffectivenessStatus {
    fn new(tenant: &TenantId, strategy: StrategyId, tally: EffectivenessTally) -> Self {
        StrategyEffectivenessStatus {
            tenant: tenant.clone(),
            strategy,
            pending: tally.pending,
            effective: tally.effective,
            ineffective: tally.ineffective,
            effective_rate: tally.effective_rate(),
        }
    }
}

/// A maintenance window active now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveWindowStatus {
    /// Tenant.
    pub tenant: TenantId,
    /// The window's id.
    pub id: String,
    /// `block` or `approval_only`.
    pub mode: WindowMode,
    /// When the current occurrence ends.
    pub until: Timestamp,
    /// Why.
    pub reason: String,
}

/// A tenant's remediation budgets and their use now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemediationStatus {
    /// The configured budgets.
    pub budgets: RemediationBudgets,
    /// Runs in flight across the tenant.
    pub in_flight: usize,
    /// Runs the usage record still counts (in flight or within a window).
    pub counted_runs: usize,
    /// Each budget's use now: the tenant's, then each namespace's.
    pub scopes: Vec<BudgetUseStatus>,
}

/// How much of one budget is used now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetUseStatus {
    /// `tenant` or `namespace:<name>`.
    pub scope: String,
    /// The caps.
    pub limits: BudgetLimits,
    /// Runs in flight.
    pub in_flight: u32,
    /// Runs started within the window.
    pub started: u32,
    /// Pods disrupted by runs started within the window.
    pub pods_disrupted: u32,
}

impl From<BudgetUse> for BudgetUseStatus {
    fn from(u: BudgetUse) -> Self {
        BudgetUseStatus {
            scope: u.scope.to_string(),
            limits: u.limits,
            in_flight: u.in_flight,
            started: u.started,
            pods_disrupted: u.pods_disrupted,
        }
    }
}

fn active_windows(rt: &TenantRuntime, now: Timestamp) -> Vec<ActiveWindowStatus> {
    let st = rt.safety();
    rt.policy
        .windows
        .iter()
        .chain(st.windows.iter())
        .filter_map(|w| {
            w.occurrence_at(now).map(|o| ActiveWindowStatus {
                tenant: rt.tenant().clone(),
                id: w.id.clone(),
                mode: w.mode,
                until: o.end,
                reason: w.reason.clone(),
            })
        })
        .collect()
}

fn remediation_status(rt: &TenantRuntime, now: Timestamp) -> Option<RemediationStatus> {
    let budgets = &rt.policy.remediation;
    if budgets.is_empty() {
        return None;
    }
    let usage = &rt.safety().remediation;
    Some(RemediationStatus {
        budgets: budgets.clone(),
        in_flight: usage.in_flight(budgets, now),
        counted_runs: usage.runs.len(),
        scopes: budgets
            .usage(usage, now)
            .into_iter()
            .map(Into::into)
            .collect(),
    })
}

/// The shared safety state's versions as this replica has them, and how old
/// its copies are (docs/reliability.md, "What replicas share").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SafetyStateStatus {
    /// The platform scope's version (epoch) this replica has.
    pub platform_version: u64,
    /// Milliseconds since the platform copy was last confirmed against the
    /// store.
    pub platform_view_age_ms: Option<u64>,
    /// The tenant scope's version, for a tenant's status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_version: Option<u64>,
    /// Milliseconds since the tenant copy was last confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_view_age_ms: Option<u64>,
    /// How often the copies are checked against the store.
    pub sync_interval_ms: u64,
}

/// One tenant in the global status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantSummary {
    /// Tenant.
    pub tenant: TenantId,
    /// Dormant.
    pub is_dormant: bool,
    /// Consecutive failures.
    pub consecutive_failures: u32,
    /// Breakers not closed.
    pub open_breakers: usize,
    /// The tenant's safety-state version (epoch) this replica has.
    pub state_version: u64,
    /// Milliseconds since this replica's copy was confirmed against the store.
    pub view_age_ms: Option<u64>,
}

struct Derived {
    issues: Vec<String>,
    recommendations: Vec<String>,
}

fn derive_tenant(
    rt: &TenantRuntime,
    breakers: &[BreakerStatus],
    healing: &SelfHealingStatus,
    now: Timestamp,
    out: &mut Derived,
) {
    let t = rt.tenant();
    if let Some(d) = &healing.dormant {
        out.issues.push(format!(
            "tenant {t} is dormant since {} ({:?}): {}",
            d.since, d.triggered_by, d.reason
        ));
        out.recommendations.push(format!(
            "tenant {t}: fix the cause ({}), then resume: hale dormant resume --tenant {t} --reason \"...\"",
            d.resume_conditions.join("; ")
        ));
    }
    for b in breakers {
        match b.state {
            BreakerState::PermanentOpen => {
                out.issues.push(format!(
                    "breaker {} of tenant {t} is PERMANENT_OPEN: {}",
                    b.name,
                    b.permanent_reason.as_deref().unwrap_or("latched")
                ));
                out.recommendations.push(format!(
                    "tenant {t}: fix what breaks {} (credentials? target down?), then: hale breakers reset {} --reason \"...\"",
                    b.name, b.name
                ));
            }
            BreakerState::Open => out.issues.push(format!(
                "breaker {} of tenant {t} is OPEN after {} failures",
                b.name, b.failure_count
            )),
            BreakerState::HalfOpen => out.issues.push(format!(
                "breaker {} of tenant {t} is probing (HALF_OPEN)",
                b.name
            )),
            BreakerState::Closed => {}
        }
    }
    if let Some(at) = healing.next_healing_at
        && at > now
    {
        out.issues.push(format!(
            "tenant {t} backs off after {} consecutive failures until {at}",
            healing.consecutive_failures
        ));
    }
    for w in active_windows(rt, now) {
        out.issues.push(format!(
            "tenant {t} is in maintenance window {} ({}) until {}: {}",
            w.id, w.mode, w.until, w.reason
        ));
    }
    if healing.deferred_alerts > 0 {
        out.recommendations.push(format!(
            "tenant {t}: {} alert(s) deferred; the auto-detection job re-evaluates them",
            healing.deferred_alerts
        ));
    }
}

impl Engine {
    async fn tenant_healing(
        &self,
        rt: &TenantRuntime,
        now: Timestamp,
    ) -> Result<(SelfHealingStatus, Vec<BreakerStatus>), EngineError> {
        let inner = &self.inner;
        let counters = inner
            .ports
            .stores
            .operations
            .operation_counts(rt.tenant())
            .await?;
        let global = inner.global_switches();
        let breakers: Vec<BreakerStatus> = rt
            .breaker_snapshots()
            .into_iter()
            .map(|(name, s)| BreakerStatus {
                tenant: rt.tenant().clone(),
                name,
                state: s.state,
                failure_count: s.consecutive_failures,
                last_failure_ago: s
                    .last_failure_at
                    .map(|at| now.saturating_duration_since(at).as_secs()),
                permanent_reason: s.permanent.map(|p| p.reason),
            })
            .collect();
        let platform_dormant = inner.platform().dormancy.record().cloned();
        let st = rt.safety();
        let switches = st.effective_switches();
        let enabled = guard::scope_verdict(
            HealingPath::Automatic,
            &ScopeState {
                global: &global,
                tenant: &switches,
                platform_dormant: platform_dormant.as_ref(),
                tenant_dormant: st.dormancy.record(),
            },
        )
        .is_allowed();
        let healing = SelfHealingStatus {
            enabled,
            is_dormant: st.dormancy.is_dormant(),
            dormant: st.dormancy.record().cloned(),
            consecutive_failures: st.dormancy.consecutive_failures(),
            backoff_delay: u64::try_from(st.backoff.current_delay().as_millis())
                .unwrap_or(u64::MAX),
            next_healing_at: st.next_healing_at,
            total_attempts: counters.total_attempts,
            successful_healings: counters.successful_healings,
            failed_healings: counters.failed_healings,
            deferred_alerts: rt.deferred_count(),
        };
        Ok((healing, breakers))
    }

    async fn effectiveness(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<StrategyEffectivenessStatus>, EngineError> {
        let tally = self
            .inner
            .ports
            .stores
            .operations
            .effectiveness_tally(tenant)
            .await?;
        Ok(tally
            .into_iter()
            .map(|(strategy, t)| StrategyEffectivenessStatus::new(tenant, strategy, t))
            .collect())
    }

    /// How current this replica's copy of the safety state is.
    fn safety_state(&self, rt: Option<&TenantRuntime>, now: Timestamp) -> SafetyStateStatus {
        let age = |at: Option<Timestamp>| {
            at.map(|t| {
                u64::try_from(now.saturating_duration_since(t).as_millis()).unwrap_or(u64::MAX)
            })
        };
        let p = self.inner.platform_view_age();
        let t = rt.map(TenantRuntime::view_age);
        SafetyStateStatus {
            platform_version: p.epoch,
            platform_view_age_ms: age(p.confirmed_at),
            tenant_version: t.map(|v| v.epoch),
            tenant_view_age_ms: t.and_then(|v| age(v.confirmed_at)),
            sync_interval_ms: u64::try_from(self.inner.config.safety_sync_interval.as_millis())
                .unwrap_or(u64::MAX),
        }
    }

    fn tasks_status(&self) -> BackgroundTasksStatus {
        let tasks: Vec<TaskStatsView> = self
            .inner
            .tasks
            .stats()
            .into_iter()
            .map(Into::into)
            .collect();
        BackgroundTasksStatus {
            total_tasks: tasks.len(),
            active_tasks: tasks.iter().filter(|t| t.enabled).count(),
            tasks,
        }
    }

    /// A tenant's status.
    pub async fn status(&self, tenant: &TenantId) -> Result<StatusSnapshot, EngineError> {
        let rt = self.inner.runtime(tenant).await?;
        let now = self.inner.now();
        let (healing, breakers) = self.tenant_healing(&rt, now).await?;
        let mut d = Derived {
            issues: Vec::new(),
            recommendations: Vec::new(),
        };
        self.global_issues(&mut d);
        derive_tenant(&rt, &breakers, &healing, now, &mut d);
        Ok(StatusSnapshot {
            scope: format!("tenant:{tenant}"),
            generated_at: now,
            self_healing: healing,
            circuit_breakers: breakers,
            background_tasks: self.tasks_status(),
            issues: d.issues,
            recommendations: d.recommendations,
            tenants: Vec::new(),
            safety_state: self.safety_state(Some(&rt), now),
            maintenance_windows: active_windows(&rt, now),
            remediation_budgets: remediation_status(&rt, now),
            effectiveness: self.effectiveness(tenant).await?,
        })
    }

    /// The engine-wide status across every configured tenant.
    pub async fn global_status(&self) -> Result<StatusSnapshot, EngineError> {
        let inner = &self.inner;
        let now = inner.now();
        let mut d = Derived {
            issues: Vec::new(),
            recommendations: Vec::new(),
        };
        self.global_issues(&mut d);
        let mut tenants = Vec::new();
        let mut all_breakers = Vec::new();
        let mut windows = Vec::new();
        let mut effectiveness = Vec::new();
        let platform_dormant = inner.platform().dormancy.record().cloned();
        let enabled = guard::scope_verdict(
            HealingPath::Automatic,
            &ScopeState {
                global: &inner.global_switches(),
                tenant: &TenantSwitches::default(),
                platform_dormant: platform_dormant.as_ref(),
                tenant_dormant: None,
            },
        )
        .is_allowed();
        let mut total = SelfHealingStatus {
            enabled,
            is_dormant: platform_dormant.is_some(),
            dormant: platform_dormant,
            consecutive_failures: 0,
            backoff_delay: 0,
            next_healing_at: None,
            total_attempts: 0,
            successful_healings: 0,
            failed_healings: 0,
            deferred_alerts: 0,
        };
        for t in inner.tenant_ids() {
            let rt = inner.runtime(&t).await?;
            let (h, b) = self.tenant_healing(&rt, now).await?;
            effectiveness.extend(self.effectiveness(&t).await?);
            derive_tenant(&rt, &b, &h, now, &mut d);
            total.total_attempts += h.total_attempts;
            total.successful_healings += h.successful_healings;
            total.failed_healings += h.failed_healings;
            total.deferred_alerts += h.deferred_alerts;
            total.consecutive_failures = total.consecutive_failures.max(h.consecutive_failures);
            let view = self.safety_state(Some(&rt), now);
            tenants.push(TenantSummary {
                tenant: t,
                is_dormant: h.is_dormant,
                consecutive_failures: h.consecutive_failures,
                open_breakers: b.iter().filter(|b| b.state != BreakerState::Closed).count(),
                state_version: view.tenant_version.unwrap_or(0),
                view_age_ms: view.tenant_view_age_ms,
            });
            all_breakers.extend(b);
            windows.extend(active_windows(&rt, now));
        }
        Ok(StatusSnapshot {
            scope: "global".into(),
            generated_at: now,
            self_healing: total,
            circuit_breakers: all_breakers,
            background_tasks: self.tasks_status(),
            issues: d.issues,
            recommendations: d.recommendations,
            tenants,
            safety_state: self.safety_state(None, now),
            maintenance_windows: windows,
            remediation_budgets: None,
            effectiveness,
        })
    }

    fn global_issues(&self, d: &mut Derived) {
        let inner = &self.inner;
        if inner
            .flags
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
        {
            d.issues.push(
                "the flag source has never been read: automatic healing is off (fail closed)"
                    .into(),
            );
            d.recommendations.push(
                "check the FEATURE_* flag source; healing resumes after the next good read".into(),
            );
        }
        let global = inner.global_switches();
        for f in Feature::ALL {
            if !global.is_on(f) {
                d.issues.push(format!("{f} is switched off globally"));
            }
        }
        if let Some(rec) = inner.platform().dormancy.record() {
            d.issues.push(format!(
                "the engine is dormant since {}: {}",
                rec.since, rec.reason
            ));
            d.recommendations
                .push("fix the cause, then: hale dormant resume --global --reason \"...\"".into());
        }
    }
}
