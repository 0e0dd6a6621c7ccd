//! Remediation budgets: how much automation may disrupt at once, per tenant
//! and per namespace.
//!
//! A budget caps three things within one scope (the whole tenant, or one of
//! its namespaces):
//!
//! * **in flight**: runs started and not yet finished (`max_in_flight`);
//! * **started**: runs started within the sliding `window` (`max_started`);
//! * **pods disrupted**: pods the executors reported restarting or evicting
//!   for runs started within the window (`max_pods_disrupted`).
//!
//! The usage is one record per tenant ([`RemediationUsage`]) in the shared
//! safety state, so every replica counts the same runs: a start checks the
//! budget and takes its slot in the same atomic update of the store
//! ([`RemediationUsage::start`]), so two replicas can never both take the
//! last slot. A run's end frees its in-flight slot; a slot whose run never
//! reported its end (a crashed replica whose recovery sweep also failed)
//! stops counting after `stale_after`.
//!
//! Being over budget is a [`BudgetExhausted`] answer, which the guard turns
//! into a retryable `budget_exhausted` block of the automatic path. It is
//! never a failure: it feeds no backoff, breaker or dormancy. The pods
//! budget can only be checked before a run: a run starts while fewer pods
//! than the maximum were disrupted in the window, and the run that crosses
//! the maximum finishes (Hale never stops a run halfway for the budget).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ids::OperationId;
use crate::time::Timestamp;
use crate::wire::wire_enum;

/// The caps of one scope. `None` caps nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetLimits {
    /// Runs in flight at once.
    pub max_in_flight: Option<u32>,
    /// Runs started within the window.
    pub max_started: Option<u32>,
    /// Pods disrupted by runs started within the window.
    pub max_pods_disrupted: Option<u32>,
    /// The sliding window of `max_started` and `max_pods_disrupted`.
    #[serde(with = "crate::time::duration")]
    pub window: Duration,
}

impl BudgetLimits {
    /// Whether the limits cap anything.
    pub fn caps_anything(&self) -> bool {
        self.max_in_flight.is_some()
            || self.max_started.is_some()
            || self.max_pods_disrupted.is_some()
    }
}

/// A tenant's budgets: one for the whole tenant, one per namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemediationBudgets {
    /// The tenant-wide budget.
    pub tenant: Option<BudgetLimits>,
    /// Per-namespace budgets.
    pub namespaces: BTreeMap<String, BudgetLimits>,
    /// An in-flight slot whose run never reported its end stops counting
    /// after this.
    #[serde(with = "crate::time::duration")]
    pub stale_after: Duration,
}

impl Default for RemediationBudgets {
    fn default() -> Self {
        RemediationBudgets {
            tenant: None,
            namespaces: BTreeMap::new(),
            stale_after: Duration::from_secs(3_600),
        }
    }
}

/// Which scope a budget belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "scope", content = "name")]
pub enum BudgetScope {
    /// The whole tenant.
    Tenant,
    /// One namespace.
    Namespace(String),
}

impl fmt::Display for BudgetScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BudgetScope::Tenant => f.write_str("tenant"),
            BudgetScope::Namespace(ns) => write!(f, "namespace:{ns}"),
        }
    }
}

wire_enum!(
    /// Which cap of a budget is reached.
    BudgetLimit {
        /// Runs in flight.
        InFlight => "in_flight",
        /// Runs started within the window.
        Started => "started",
        /// Pods disrupted within the window.
        PodsDisrupted => "pods_disrupted",
    }
);

/// A budget has no room for another run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetExhausted {
    /// Whose budget.
    pub scope: BudgetScope,
    /// Which cap.
    pub limit: BudgetLimit,
    /// How much of it is used.
    pub used: u32,
    /// The cap.
    pub max: u32,
    /// When room opens again, if known (a start leaving the window); `None`
    /// for runs in flight, whose ends cannot be foreseen.
    pub retry_at: Option<Timestamp>,
    /// The budget's window (one escalation per window).
    #[serde(with = "crate::time::duration")]
    pub window: Duration,
}

impl fmt::Display for BudgetExhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.limit {
            BudgetLimit::InFlight => "runs in flight".to_owned(),
            BudgetLimit::Started => format!(
                "runs started in the last {}",
                crate::time::duration::format(self.window)
            ),
            BudgetLimit::PodsDisrupted => format!(
                "pods disrupted in the last {}",
                crate::time::duration::format(self.window)
            ),
        };
        write!(
            f,
            "remediation budget of {} exhausted: {} of {} {what}",
            self.scope, self.used, self.max
        )?;
        if let Some(at) = self.retry_at {
            write!(f, "; room again at {at}")?;
        }
        Ok(())
    }
}

/// One run as the budget counts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSlot {
    /// The operation.
    pub operation: OperationId,
    /// The target's namespace.
    pub namespace: String,
    /// When it started.
    pub started_at: Timestamp,
    /// When it ended (`None`: in flight).
    pub finished_at: Option<Timestamp>,
    /// Pods its actions reported disrupting so far.
    pub pods_disrupted: u32,
}

/// How much of one budget is used at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetUse {
    /// Whose budget.
    pub scope: BudgetScope,
    /// Its caps.
    pub limits: BudgetLimits,
    /// Runs in flight.
    pub in_flight: u32,
    /// Runs started within the window.
    pub started: u32,
    /// Pods disrupted by runs started within the window.
    pub pods_disrupted: u32,
}

/// The runs a scope's budget counts.
fn scope_runs<'a>(
    usage: &'a RemediationUsage,
    scope: &'a BudgetScope,
) -> impl Iterator<Item = &'a RunSlot> + 'a {
    usage.runs.iter().filter(move |r| match scope {
        BudgetScope::Tenant => true,
        BudgetScope::Namespace(ns) => &r.namespace == ns,
    })
}

/// A tenant's use of its budgets, shared by every replica (one record).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemediationUsage {
    /// Runs that still count toward a cap.
    pub runs: Vec<RunSlot>,
    /// When an exhausted budget was last escalated, per scope (its
    /// `Display`).
    pub escalated: BTreeMap<String, Timestamp>,
}

impl RemediationBudgets {
    /// Whether no budget is configured (then Hale records no usage at all).
    pub fn is_empty(&self) -> bool {
        !self.tenant.is_some_and(|l| l.caps_anything())
            && !self.namespaces.values().any(BudgetLimits::caps_anything)
    }

    /// The budgets that apply to a target in `namespace`: the tenant's,
    /// then the namespace's.
    pub fn applying_to<'a>(
        &'a self,
        namespace: &'a str,
    ) -> impl Iterator<Item = (BudgetScope, &'a BudgetLimits)> + 'a {
        let tenant = self.tenant.as_ref().map(|l| (BudgetScope::Tenant, l));
        let ns = self
            .namespaces
            .get(namespace)
            .map(|l| (BudgetScope::Namespace(namespace.to_owned()), l));
        tenant.into_iter().chain(ns)
    }

    /// Whether a run on a target in `namespace` fits every budget that
    /// applies to it, given `usage`, at `now`. The tenant's budget is
    /// checked first; within a budget, in flight, then started, then pods.
    pub fn check(
        &self,
        usage: &RemediationUsage,
        namespace: &str,
        now: Timestamp,
    ) -> Result<(), BudgetExhausted> {
        for (scope, limits) in self.applying_to(namespace) {
            let used = self.use_of(usage, &scope, limits, now);
            let exhausted = |limit, used: u32, max: u32, retry_at| BudgetExhausted {
                scope: scope.clone(),
                limit,
                used,
                max,
                retry_at,
                window: limits.window,
            };
            if let Some(max) = limits.max_in_flight
                && used.in_flight >= max
            {
                return Err(exhausted(BudgetLimit::InFlight, used.in_flight, max, None));
            }
            // Room opens again when the oldest counted start leaves the window.
            let retry_at = |counts: fn(&RunSlot) -> bool| {
                scope_runs(usage, &scope)
                    .filter(|r| now < r.started_at.saturating_add(limits.window) && counts(r))
                    .map(|r| r.started_at.saturating_add(limits.window))
                    .min()
            };
            if let Some(max) = limits.max_started
                && used.started >= max
            {
                let at = retry_at(|_| true);
                return Err(exhausted(BudgetLimit::Started, used.started, max, at));
            }
            if let Some(max) = limits.max_pods_disrupted
                && used.pods_disrupted >= max
            {
                let at = retry_at(|r| r.pods_disrupted > 0);
                return Err(exhausted(
                    BudgetLimit::PodsDisrupted,
                    used.pods_disrupted,
                    max,
                    at,
                ));
            }
        }
        Ok(())
    }

    /// How much of each configured budget is used at `now`: the tenant's,
    /// then each namespace's (the status page). These are the counts
    /// [`RemediationBudgets::check`] compares with the caps.
    pub fn usage(&self, usage: &RemediationUsage, now: Timestamp) -> Vec<BudgetUse> {
        let tenant = self.tenant.as_ref().map(|l| (BudgetScope::Tenant, l));
        let namespaces = self
            .namespaces
            .iter()
            .map(|(ns, l)| (BudgetScope::Namespace(ns.clone()), l));
        tenant
            .into_iter()
            .chain(namespaces)
            .map(|(scope, limits)| self.use_of(usage, &scope, limits, now))
            .collect()
    }

    /// One scope's use: runs in flight, runs started within the window and
    /// the pods they disrupted.
    fn use_of(
        &self,
        usage: &RemediationUsage,
        scope: &BudgetScope,
        limits: &BudgetLimits,
        now: Timestamp,
    ) -> BudgetUse {
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let in_flight = scope_runs(usage, scope)
            .filter(|r| self.is_in_flight(r, now))
            .count();
        let in_window = || {
            scope_runs(usage, scope).filter(|r| now < r.started_at.saturating_add(limits.window))
        };
        let pods: u64 = in_window().map(|r| u64::from(r.pods_disrupted)).sum();
        BudgetUse {
            scope: scope.clone(),
            limits: *limits,
            in_flight: count(in_flight),
            started: count(in_window().count()),
            pods_disrupted: u32::try_from(pods).unwrap_or(u32::MAX),
        }
    }

    fn is_in_flight(&self, run: &RunSlot, now: Timestamp) -> bool {
        run.finished_at.is_none() && now < run.started_at.saturating_add(self.stale_after)
    }

    /// The longest window of any budget (how long a finished run counts).
    fn longest_window(&self) -> Duration {
        self.tenant
            .iter()
            .chain(self.namespaces.values())
            .map(|l| l.window)
            .max()
            .unwrap_or_default()
    }
}

impl RemediationUsage {
    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty() && self.escalated.is_empty()
    }

    /// A run starts: with `check` (the automatic path) the budgets are
    /// checked first and nothing is recorded when one is exhausted; without
    /// (a run humans approved, which budgets never stop) the run is
    /// recorded as is, so it still counts toward the caps automation sees.
    pub fn start(
        &mut self,
        budgets: &RemediationBudgets,
        check: bool,
        operation: &OperationId,
        namespace: &str,
        now: Timestamp,
    ) -> Result<(), BudgetExhausted> {
        self.prune(budgets, now);
        if check {
            budgets.check(self, namespace, now)?;
        }
        if !self.runs.iter().any(|r| &r.operation == operation) {
            self.runs.push(RunSlot {
                operation: operation.clone(),
                namespace: namespace.to_owned(),
                started_at: now,
                finished_at: None,
                pods_disrupted: 0,
            });
        }
        Ok(())
    }

    /// An action of the run reported disrupting `pods` pods.
    pub fn add_pods(&mut self, operation: &OperationId, pods: u32) {
        if let Some(r) = self.runs.iter_mut().find(|r| &r.operation == operation) {
            r.pods_disrupted = r.pods_disrupted.saturating_add(pods);
        }
    }

    /// The run ended (whatever its outcome): its in-flight slot is free; its
    /// start and pods keep counting until they leave the window.
    pub fn finish(
        &mut self,
        budgets: &RemediationBudgets,
        operation: &OperationId,
        now: Timestamp,
    ) {
        if let Some(r) = self.runs.iter_mut().find(|r| &r.operation == operation) {
            r.finished_at.get_or_insert(now);
        }
        self.prune(budgets, now);
    }

    /// Whether an exhausted budget should be escalated now: once per window
    /// and scope. Marks the escalation when it is due.
    pub fn escalation_due(&mut self, exhausted: &BudgetExhausted, now: Timestamp) -> bool {
        let key = exhausted.scope.to_string();
        let due = self
            .escalated
            .get(&key)
            .is_none_or(|at| now >= at.saturating_add(exhausted.window));
        if due {
            self.escalated.insert(key, now);
        }
        due
    }

    /// Whether an escalation of `exhausted` would be due (no change).
    pub fn would_escalate(&self, exhausted: &BudgetExhausted, now: Timestamp) -> bool {
        self.escalated
            .get(&exhausted.scope.to_string())
            .is_none_or(|at| now >= at.saturating_add(exhausted.window))
    }

    /// Drops runs that no longer count toward any cap, and escalation marks
    /// older than the longest window.
    pub fn prune(&mut self, budgets: &RemediationBudgets, now: Timestamp) {
        let window = budgets.longest_window();
        self.runs
            .retain(|r| budgets.is_in_flight(r, now) || now < r.started_at.saturating_add(window));
        self.escalated
            .retain(|_, at| now < at.saturating_add(window));
    }

    /// Runs in flight (for the status page).
    pub fn in_flight(&self, budgets: &RemediationBudgets, now: Timestamp) -> usize {
        self.runs
            .iter()
            .filter(|r| budgets.is_in_flight(r, now))
            .count()
    }
}

#[cfg(test)]
mod tests;
