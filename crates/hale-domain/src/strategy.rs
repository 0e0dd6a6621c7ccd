//! Healing strategies (seed 004 `HealingStrategy`): when to act, on what, how,
//! how to check, and what to do when it goes wrong.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::alert::Alert;
use crate::ids::StrategyId;
use crate::resource::ResourceRef;
use crate::risk::RiskLevel;

// === ActionKind ===

/// The kind of a healing action, e.g. `rollout_restart`, `evict_pod`,
/// `command:restart-nginx`. Executors declare which kinds they run.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ActionKind(String);

/// An action kind was malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid action kind {0:?}: use 1-100 characters of [a-z0-9_.:-]")]
pub struct InvalidActionKind(pub String);

impl ActionKind {
    /// Validates and wraps an action kind.
    pub fn new(kind: impl Into<String>) -> Result<Self, InvalidActionKind> {
        let kind = kind.into();
        let ok = !kind.is_empty()
            && kind.len() <= 100
            && kind.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'_' | b'.' | b':' | b'-')
            });
        if ok {
            Ok(ActionKind(kind))
        } else {
            Err(InvalidActionKind(kind))
        }
    }

    /// The kind as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActionKind({})", self.0)
    }
}

impl<'de> Deserialize<'de> for ActionKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ActionKind::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

// === Actions ===

/// What to do when an action fails (seed 004 `on_error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Log it and run the next action.
    Continue,
    /// Stop; the operation fails (no rollback actions run).
    #[default]
    Abort,
    /// Stop; the operation fails and the rollback plan runs.
    Rollback,
}

fn default_action_timeout() -> Duration {
    Duration::from_secs(30)
}

/// One step of a strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    /// What to do.
    pub kind: ActionKind,
    /// Kind-specific parameters (`replicas`, `allow_delete`, `command`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, serde_json::Value>,
    /// How long the action may take (default 30 s).
    #[serde(default = "default_action_timeout", with = "crate::time::duration")]
    pub timeout: Duration,
    /// What a failure means for the rest of the plan.
    #[serde(default)]
    pub on_error: OnError,
}

/// What happens after a failed healing besides the rollback actions (seed 004
/// `RollbackPlan.on_failure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// Notify humans.
    #[default]
    Escalate,
    /// Notify humans and put the tenant in dormant mode.
    EnterSafeMode,
    /// Keep the target as the actions left it (an isolation, a cordon, a
    /// scale-down stays in place) and notify humans: no rollback action
    /// runs, whatever the failed action's `on_error` or a failed
    /// verification would ask for.
    MaintainIsolation,
}

impl FailurePolicy {
    /// Whether the rollback plan's actions run after a failure that asks
    /// for a rollback: not when the isolation is to be kept.
    pub fn runs_rollback(self) -> bool {
        match self {
            FailurePolicy::Escalate | FailurePolicy::EnterSafeMode => true,
            FailurePolicy::MaintainIsolation => false,
        }
    }
}

/// The rollback plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RollbackPlan {
    /// What to do after rolling back.
    #[serde(default)]
    pub on_failure: FailurePolicy,
    /// Actions that undo the healing, run in order; failures are logged and
    /// the rest still run.
    #[serde(default)]
    pub actions: Vec<ActionSpec>,
}

fn default_verify_check() -> String {
    "auto".to_owned()
}

fn default_verify_interval() -> Duration {
    Duration::from_secs(2)
}

/// How to verify recovery after the actions ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifySpec {
    /// The check: `auto` (chosen by target kind), `rollout_complete`,
    /// `pod_ready`, `node_ready`, `none`, or a probe-specific name.
    #[serde(default = "default_verify_check")]
    pub check: String,
    /// How long recovery may take (seed 004: 30 s).
    #[serde(default = "default_action_timeout", with = "crate::time::duration")]
    pub timeout: Duration,
    /// How often to probe until the timeout.
    #[serde(default = "default_verify_interval", with = "crate::time::duration")]
    pub interval: Duration,
}

impl Default for VerifySpec {
    fn default() -> Self {
        VerifySpec {
            check: default_verify_check(),
            timeout: default_action_timeout(),
            interval: default_verify_interval(),
        }
    }
}

// === Trigger and target ===

fn one() -> u32 {
    1
}

/// When a strategy applies (seed 004 `TriggerCondition`).
///
/// An alert matches when every non-empty criterion matches: its `alertname`
/// (or `metric` label) is in `alertnames`, its `severity` label is in
/// `severities`, and every entry of `labels` equals the alert's label. The
/// strategy then fires once the alert has fired `consecutive_failures` times
/// within `within_window`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// Alert names (or `metric` label values), the seed's `metrics`.
    #[serde(default)]
    pub alertnames: Vec<String>,
    /// `severity` label values, the seed's `statuses`.
    #[serde(default)]
    pub severities: Vec<String>,
    /// Exact label matches.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Firings needed within the window before acting (default 1).
    #[serde(default = "one")]
    pub consecutive_failures: u32,
    /// The window for `consecutive_failures` (ignored when it is 1).
    #[serde(default, with = "crate::time::duration")]
    pub within_window: Duration,
}

impl Trigger {
    /// Whether `alert` matches the label criteria (not the count).
    pub fn matches(&self, alert: &Alert) -> bool {
        let name_ok = self.alertnames.is_empty()
            || self.alertnames.iter().any(|n| {
                Some(n.as_str()) == alert.alertname() || Some(n.as_str()) == alert.label("metric")
            });
        let sev_ok = self.severities.is_empty()
            || alert
                .label("severity")
                .is_some_and(|s| self.severities.iter().any(|x| x.eq_ignore_ascii_case(s)));
        let labels_ok = self
            .labels
            .iter()
            .all(|(k, v)| alert.label(k) == Some(v.as_str()));
        name_ok && sev_ok && labels_ok
    }

    /// Whether `recent_firings` (firing episode starts, any order) satisfy the
    /// count within the window ending at `now`.
    pub fn count_satisfied(
        &self,
        recent_firings: &[crate::time::Timestamp],
        now: crate::time::Timestamp,
    ) -> bool {
        if self.consecutive_failures <= 1 {
            return true;
        }
        let since = now - self.within_window;
        let in_window = recent_firings
            .iter()
            .filter(|t| **t >= since && **t <= now)
            .count();
        in_window >= self.consecutive_failures as usize
    }
}

fn default_namespace_label() -> String {
    "namespace".to_owned()
}

fn default_name_labels() -> Vec<String> {
    vec!["deployment".to_owned(), "service".to_owned()]
}

/// How to find the resource an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// The resource kind (`deployment`, `statefulset`, `daemonset`, `pod`,
    /// `node`, or a command executor's unit kind).
    pub kind: String,
    /// Labels tried in order for the name (default `deployment`, `service`).
    #[serde(default = "default_name_labels")]
    pub name_labels: Vec<String>,
    /// The label holding the namespace (default `namespace`).
    #[serde(default = "default_namespace_label")]
    pub namespace_label: String,
    /// A fixed namespace, used only when set explicitly and the alert carries
    /// no namespace label. There is no implicit `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// An alert does not say which resource it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum TargetError {
    /// No namespace label and no explicit namespace.
    #[error("alert has no {label:?} label and the strategy sets no namespace")]
    NoNamespace {
        /// The label looked for.
        label: String,
    },
    /// None of the name labels is present.
    #[error("alert has none of the labels {labels:?} that name the target")]
    NoName {
        /// The labels looked for.
        labels: Vec<String>,
    },
    /// A label (or the fixed namespace) is `.` or `..`. Such a value is a
    /// path segment, not a name: an executor that builds a path or a URL
    /// from it would act on the parent collection instead of one resource.
    #[error(
        "label {label:?} is {value:?}, which is a path segment and not a resource name; refusing to act on it"
    )]
    PathSegment {
        /// The label that carried the value (`target.namespace` for the
        /// strategy's fixed namespace).
        label: String,
        /// `.` or `..`.
        value: String,
    },
    /// The labels produced an invalid resource.
    #[error("{0}")]
    Invalid(String),
}

/// `.` and `..` are never template values.
fn refuse_path_segment(label: &str, value: &str) -> Result<(), TargetError> {
    if value == "." || value == ".." {
        return Err(TargetError::PathSegment {
            label: label.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(())
}

impl TargetSpec {
    /// Resolves the resource from an alert's labels.
    ///
    /// A namespace or name of `.` or `..` is refused
    /// ([`TargetError::PathSegment`]), whichever label carried it.
    pub fn resolve(&self, alert: &Alert) -> Result<ResourceRef, TargetError> {
        let (namespace_from, namespace) = match alert.label(&self.namespace_label) {
            Some(ns) => (self.namespace_label.as_str(), ns),
            None => (
                "target.namespace",
                self.namespace
                    .as_deref()
                    .ok_or_else(|| TargetError::NoNamespace {
                        label: self.namespace_label.clone(),
                    })?,
            ),
        };
        refuse_path_segment(namespace_from, namespace)?;
        let (name_from, name) = self
            .name_labels
            .iter()
            .find_map(|l| alert.label(l).map(|v| (l.as_str(), v)))
            .ok_or_else(|| TargetError::NoName {
                labels: self.name_labels.clone(),
            })?;
        refuse_path_segment(name_from, name)?;
        ResourceRef::new(namespace, self.kind.clone(), name)
            .map_err(|e| TargetError::Invalid(e.to_string()))
    }
}

// === Strategy ===

/// Which path a matched alert takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionPath {
    /// The failure watcher runs it at once (LOW risk only).
    Automatic,
    /// The decision path: an approval request, executed when approved.
    Approval,
}

fn default_max_attempts() -> u32 {
    3
}

fn default_cooldown() -> Duration {
    Duration::from_secs(300)
}

/// A complete healing plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Strategy {
    /// Unique within the tenant.
    pub id: StrategyId,
    /// Human-readable name.
    #[serde(default)]
    pub name: String,
    /// When it applies.
    pub trigger: Trigger,
    /// What it acts on.
    pub target: TargetSpec,
    /// Ordered actions.
    pub actions: Vec<ActionSpec>,
    /// Recovery check after the actions.
    #[serde(default)]
    pub verify: VerifySpec,
    /// What to do if healing fails.
    #[serde(default)]
    pub rollback: RollbackPlan,
    /// Consecutive failed attempts on one target before the strategy stops
    /// trying it (default 3); a success resets the count.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Minimum time between two runs on the same target (default 5 min).
    #[serde(default = "default_cooldown", with = "crate::time::duration")]
    pub cooldown: Duration,
    /// Risk level; decides the path and the signatures needed.
    pub risk: RiskLevel,
    /// The path; defaults to automatic for LOW risk, approval otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<ExecutionPath>,
    /// Run `scale` and `rollout_undo` even on a target a GitOps tool
    /// (Argo CD, Flux) owns (default false: refused as `gitops_managed`,
    /// since the tool would revert the change; [`crate::gitops`]). Set it
    /// when the tool ignores the field the action changes (Argo CD's
    /// `ignoreDifferences` on `/spec/replicas`, Flux's drift-detection
    /// `ignore` rules).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_gitops_managed: bool,
}

/// One problem found while validating a policy, with the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyProblem {
    /// Dotted path to the field, e.g. `strategies[0].actions[1].timeout`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl Strategy {
    /// The path this strategy takes.
    pub fn execution_path(&self) -> ExecutionPath {
        self.path.unwrap_or(if self.risk == RiskLevel::Low {
            ExecutionPath::Automatic
        } else {
            ExecutionPath::Approval
        })
    }

    /// Every action kind the strategy may run, including rollback.
    pub fn action_kinds(&self) -> Vec<&ActionKind> {
        self.actions
            .iter()
            .chain(&self.rollback.actions)
            .map(|a| &a.kind)
            .collect()
    }

    /// Checks the strategy; `at` prefixes each problem's path.
    pub fn validate(&self, at: &str) -> Vec<PolicyProblem> {
        let mut out = Vec::new();
        let mut bad = |field: &str, message: String| {
            out.push(PolicyProblem {
                path: format!("{at}.{field}"),
                message,
            });
        };
        if self.id.as_str().is_empty() {
            bad("id", "must not be empty".into());
        }
        let t = &self.trigger;
        if t.alertnames.is_empty() && t.severities.is_empty() && t.labels.is_empty() {
            bad(
                "trigger",
                "matches every alert; set alertnames, severities or labels".into(),
            );
        }
        if t.consecutive_failures == 0 {
            bad("trigger.consecutive_failures", "must be at least 1".into());
        }
        if t.consecutive_failures > 1 && t.within_window.is_zero() {
            bad(
                "trigger.within_window",
                "must be set when consecutive_failures > 1".into(),
            );
        }
        if self.target.kind.trim().is_empty() {
            bad("target.kind", "must not be empty".into());
        }
        if self.target.name_labels.is_empty() {
            bad("target.name_labels", "must name at least one label".into());
        }
        if self.actions.is_empty() {
            bad("actions", "a strategy needs at least one action".into());
        }
        for (i, a) in self.actions.iter().enumerate() {
            if a.timeout.is_zero() {
                bad(&format!("actions[{i}].timeout"), "must be positive".into());
            }
        }
        for (i, a) in self.rollback.actions.iter().enumerate() {
            if a.timeout.is_zero() {
                bad(
                    &format!("rollback.actions[{i}].timeout"),
                    "must be positive".into(),
                );
            }
        }
        if self.actions.iter().any(|a| a.on_error == OnError::Rollback)
            && self.rollback.actions.is_empty()
        {
            bad(
                "rollback.actions",
                "an action has on_error = \"rollback\" but the rollback plan has no actions".into(),
            );
        }
        if self.max_attempts == 0 {
            bad("max_attempts", "must be at least 1".into());
        }
        if self.verify.timeout.is_zero() || self.verify.interval.is_zero() {
            bad("verify", "timeout and interval must be positive".into());
        }
        if self.execution_path() == ExecutionPath::Automatic && self.risk != RiskLevel::Low {
            bad(
                "path",
                format!(
                    "the failure watcher acts on LOW risk only; a {} strategy must use path = \"approval\"",
                    self.risk
                ),
            );
        }
        out
    }
}

/// Checks a tenant's strategy list: each strategy, and ids unique.
pub fn validate_strategies(strategies: &[Strategy], at: &str) -> Vec<PolicyProblem> {
    let mut out = Vec::new();
    let mut seen = BTreeMap::new();
    for (i, s) in strategies.iter().enumerate() {
        let here = format!("{at}[{i}]");
        out.extend(s.validate(&here));
        if let Some(first) = seen.insert(s.id.clone(), i) {
            out.push(PolicyProblem {
                path: format!("{here}.id"),
                message: format!(
                    "duplicate strategy id {:?} (also at index {first})",
                    s.id.as_str()
                ),
            });
        }
    }
    out
}

/// The first strategy whose trigger matches the alert (seed 004
/// `findStrategy`: order is priority).
pub fn find_strategy<'a>(strategies: &'a [Strategy], alert: &Alert) -> Option<&'a Strategy> {
    strategies.iter().find(|s| s.trigger.matches(alert))
}

#[cfg(test)]
mod tests;
