//! The action kinds this executor runs, their target kinds and parameters,
//! defined in one place and parsed into a typed [`KubeAction`].
//!
//! | kind | target kinds | params |
//! | --- | --- | --- |
//! | `rollout_restart` | deployment, statefulset, daemonset | none |
//! | `evict_pod` | pod; or a workload with `selector` | `selector`, `max_pods` (default 1), `allow_delete` (default false) |
//! | `scale` | deployment, statefulset | `replicas`, `min_replicas`, `max_replicas` (all required) |
//! | `rollout_undo` | deployment | `to_revision` (default: the previous revision) |
//! | `cordon`, `uncordon` | node | none |
//!
//! Unknown params are refused, so a typo (`replica`) is an error instead of
//! a silently ignored safety bound.

use std::collections::BTreeMap;
use std::fmt;

use hale_domain::ResourceRef;
use hale_domain::strategy::ActionKind;
use serde_json::Value;

use crate::selector::LabelSelector;

/// `rollout_restart`: patch the pod template's `restartedAt` annotation.
pub const ROLLOUT_RESTART: &str = "rollout_restart";
/// `evict_pod`: evict pods through the Eviction API.
pub const EVICT_POD: &str = "evict_pod";
/// `scale`: set the replica count within bounds.
pub const SCALE: &str = "scale";
/// `rollout_undo`: roll a deployment back to an earlier revision.
pub const ROLLOUT_UNDO: &str = "rollout_undo";
/// `cordon`: mark a node unschedulable.
pub const CORDON: &str = "cordon";
/// `uncordon`: mark a node schedulable.
pub const UNCORDON: &str = "uncordon";

/// Every action kind the Kubernetes executor runs.
pub const KINDS: [&str; 6] = [
    ROLLOUT_RESTART,
    EVICT_POD,
    SCALE,
    ROLLOUT_UNDO,
    CORDON,
    UNCORDON,
];

/// Resource kinds the executor knows (the `kind` of a `ResourceRef`).
pub const TARGET_KINDS: [&str; 5] = ["deployment", "statefulset", "daemonset", "pod", "node"];

/// The default and the ceiling of `evict_pod`'s `max_pods`.
pub const DEFAULT_MAX_PODS: u32 = 1;

/// A workload with a pod template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkloadKind {
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` StatefulSet.
    StatefulSet,
    /// `apps/v1` DaemonSet.
    DaemonSet,
}

impl WorkloadKind {
    /// The lower-case kind as in a `ResourceRef`.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployment",
            WorkloadKind::StatefulSet => "statefulset",
            WorkloadKind::DaemonSet => "daemonset",
        }
    }
}

/// What a `ResourceRef` points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// A workload.
    Workload(WorkloadKind),
    /// A pod.
    Pod,
    /// A node (cluster-scoped).
    Node,
}

impl TargetKind {
    /// Parses a resource kind; unknown kinds are an error naming the known ones.
    pub fn parse(kind: &str) -> Result<Self, ActionError> {
        Ok(match kind {
            "deployment" => TargetKind::Workload(WorkloadKind::Deployment),
            "statefulset" => TargetKind::Workload(WorkloadKind::StatefulSet),
            "daemonset" => TargetKind::Workload(WorkloadKind::DaemonSet),
            "pod" => TargetKind::Pod,
            "node" => TargetKind::Node,
            other => {
                return Err(ActionError(format!(
                    "resource kind {other:?} is not a Kubernetes kind this executor knows \
                     (known: {TARGET_KINDS:?})"
                )));
            }
        })
    }
}

/// Which pods `evict_pod` acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodSelection {
    /// The target pod itself.
    Named,
    /// Pods in the target's namespace matching a guarded selector.
    Selector(LabelSelector),
}

/// A parsed, validated Kubernetes action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeAction {
    /// Restart a workload's pods the way `kubectl rollout restart` does.
    RolloutRestart(WorkloadKind),
    /// Evict (or, only when allowed, delete) pods.
    EvictPod {
        /// Which pods.
        pods: PodSelection,
        /// Refuse when more pods than this match.
        max_pods: u32,
        /// Use a plain DELETE, bypassing PodDisruptionBudgets.
        allow_delete: bool,
    },
    /// Set the replica count.
    Scale {
        /// The workload (deployment or statefulset).
        workload: WorkloadKind,
        /// The new count, within the bounds below.
        replicas: i32,
        /// Lower bound given by the strategy.
        min_replicas: i32,
        /// Upper bound given by the strategy.
        max_replicas: i32,
    },
    /// Roll a deployment back.
    RolloutUndo {
        /// The revision, or `None` for the previous one.
        to_revision: Option<i64>,
    },
    /// Mark a node unschedulable.
    Cordon,
    /// Mark a node schedulable.
    Uncordon,
}

/// An action cannot be run as given; maps to `FailureClass::InvalidAction`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ActionError(pub String);

impl KubeAction {
    /// Parses and validates an action against its target.
    pub fn parse(
        kind: &ActionKind,
        resource: &ResourceRef,
        params: &BTreeMap<String, Value>,
    ) -> Result<(Self, TargetKind), ActionError> {
        let target = TargetKind::parse(&resource.kind)?;
        let p = Params::new(kind.as_str(), params);
        let wrong_target = |allowed: &str| {
            Err(ActionError(format!(
                "{kind} cannot act on a {} (allowed: {allowed})",
                resource.kind
            )))
        };
        let action = match kind.as_str() {
            ROLLOUT_RESTART => {
                p.only(&[])?;
                match target {
                    TargetKind::Workload(w) => KubeAction::RolloutRestart(w),
                    _ => return wrong_target("deployment, statefulset, daemonset"),
                }
            }
            EVICT_POD => {
                p.only(&["selector", "max_pods", "allow_delete"])?;
                let selector = p.string("selector")?;
                let pods = match (target, selector) {
                    (TargetKind::Pod, None) => PodSelection::Named,
                    (TargetKind::Pod, Some(_)) => {
                        return Err(ActionError(
                            "evict_pod on a pod target takes no selector (the pod is the target)"
                                .to_owned(),
                        ));
                    }
                    (TargetKind::Workload(_), Some(s)) => PodSelection::Selector(
                        LabelSelector::parse_guarded(&s)
                            .map_err(|e| ActionError(format!("evict_pod selector: {e}")))?,
                    ),
                    (TargetKind::Workload(_), None) => {
                        return Err(ActionError(
                            "evict_pod on a workload needs a `selector` param picking its pods"
                                .to_owned(),
                        ));
                    }
                    (TargetKind::Node, _) => {
                        return wrong_target("pod, or a workload with a selector");
                    }
                };
                let max_pods = match p.integer("max_pods")? {
                    None => DEFAULT_MAX_PODS,
                    Some(n) if n >= 1 && n <= i64::from(u16::MAX) => n as u32,
                    Some(n) => {
                        return Err(ActionError(format!(
                            "evict_pod max_pods must be between 1 and {}, not {n}",
                            u16::MAX
                        )));
                    }
                };
                KubeAction::EvictPod {
                    pods,
                    max_pods,
                    allow_delete: p.boolean("allow_delete")?.unwrap_or(false),
                }
            }
            SCALE => {
                p.only(&["replicas", "min_replicas", "max_replicas"])?;
                let workload = match target {
                    TargetKind::Workload(
                        w @ (WorkloadKind::Deployment | WorkloadKind::StatefulSet),
                    ) => w,
                    _ => return wrong_target("deployment, statefulset"),
                };
                let replicas = p.replica_count("replicas")?;
                let min_replicas = p.replica_count("min_replicas")?;
                let max_replicas = p.replica_count("max_replicas")?;
                if min_replicas > max_replicas {
                    return Err(ActionError(format!(
                        "scale bounds are empty: min_replicas {min_replicas} > max_replicas {max_replicas}"
                    )));
                }
                if !(min_replicas..=max_replicas).contains(&replicas) {
                    return Err(ActionError(format!(
                        "scale to {replicas} replicas refused: outside the strategy's bounds \
                         [{min_replicas}, {max_replicas}]"
                    )));
                }
                KubeAction::Scale {
                    workload,
                    replicas,
                    min_replicas,
                    max_replicas,
                }
            }
            ROLLOUT_UNDO => {
                p.only(&["to_revision"])?;
                if target != TargetKind::Workload(WorkloadKind::Deployment) {
                    return wrong_target("deployment");
                }
                let to_revision = match p.integer("to_revision")? {
                    None => None,
                    Some(r) if r >= 1 => Some(r),
                    Some(r) => {
                        return Err(ActionError(format!(
                            "rollout_undo to_revision must be at least 1, not {r}"
                        )));
                    }
                };
                KubeAction::RolloutUndo { to_revision }
            }
            CORDON | UNCORDON => {
                p.only(&[])?;
                if target != TargetKind::Node {
                    return wrong_target("node");
                }
                if kind.as_str() == CORDON {
                    KubeAction::Cordon
                } else {
                    KubeAction::Uncordon
                }
            }
            other => {
                return Err(ActionError(format!(
                    "action kind {other:?} is not a Kubernetes action (known: {KINDS:?})"
                )));
            }
        };
        Ok((action, target))
    }

    /// The action kind, as in a strategy.
    pub fn kind_str(&self) -> &'static str {
        match self {
            KubeAction::RolloutRestart(_) => ROLLOUT_RESTART,
            KubeAction::EvictPod { .. } => EVICT_POD,
            KubeAction::Scale { .. } => SCALE,
            KubeAction::RolloutUndo { .. } => ROLLOUT_UNDO,
            KubeAction::Cordon => CORDON,
            KubeAction::Uncordon => UNCORDON,
        }
    }
}

impl fmt::Display for KubeAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind_str())
    }
}

// === Params ===

/// Typed access to an action's params with errors that name the action.
struct Params<'a> {
    kind: &'a str,
    raw: &'a BTreeMap<String, Value>,
}

impl<'a> Params<'a> {
    fn new(kind: &'a str, raw: &'a BTreeMap<String, Value>) -> Self {
        Params { kind, raw }
    }

    fn only(&self, allowed: &[&str]) -> Result<(), ActionError> {
        match self.raw.keys().find(|k| !allowed.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) => Err(ActionError(format!(
                "{} does not take param {k:?} (it takes {allowed:?})",
                self.kind
            ))),
        }
    }

    fn type_error(&self, key: &str, want: &str, got: &Value) -> ActionError {
        ActionError(format!(
            "{} param {key:?} must be {want}, not {got}",
            self.kind
        ))
    }

    fn string(&self, key: &str) -> Result<Option<String>, ActionError> {
        match self.raw.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.type_error(key, "a string", v)),
        }
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, ActionError> {
        match self.raw.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.type_error(key, "true or false", v)),
        }
    }

    fn integer(&self, key: &str) -> Result<Option<i64>, ActionError> {
        match self.raw.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.type_error(key, "an integer", v)),
        }
    }

    fn replica_count(&self, key: &str) -> Result<i32, ActionError> {
        let n = self.integer(key)?.ok_or_else(|| {
            ActionError(format!(
                "{} needs param {key:?} (scale requires replicas, min_replicas and max_replicas)",
                self.kind
            ))
        })?;
        i32::try_from(n).ok().filter(|n| *n >= 0).ok_or_else(|| {
            ActionError(format!(
                "{} param {key:?} must be 0 or more, not {n}",
                self.kind
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(kind: &str, resource: &str, params: Value) -> Result<KubeAction, ActionError> {
        let params: BTreeMap<String, Value> = serde_json::from_value(params).unwrap();
        KubeAction::parse(
            &ActionKind::new(kind).unwrap(),
            &ResourceRef::parse(resource).unwrap(),
            &params,
        )
        .map(|(a, _)| a)
    }

    #[test]
    fn every_kind_parses_on_its_targets() {
        for w in ["deployment", "statefulset", "daemonset"] {
            assert!(parse(ROLLOUT_RESTART, &format!("prod:{w}/x"), json!({})).is_ok());
        }
        assert_eq!(
            parse(EVICT_POD, "prod:pod/x-1", json!({})).unwrap(),
            KubeAction::EvictPod {
                pods: PodSelection::Named,
                max_pods: 1,
                allow_delete: false
            }
        );
        assert!(
            parse(
                EVICT_POD,
                "prod:deployment/x",
                json!({"selector": "app=x", "max_pods": 3})
            )
            .is_ok()
        );
        assert!(
            parse(
                SCALE,
                "prod:statefulset/x",
                json!({"replicas": 3, "min_replicas": 1, "max_replicas": 5})
            )
            .is_ok()
        );
        assert_eq!(
            parse(ROLLOUT_UNDO, "prod:deployment/x", json!({})).unwrap(),
            KubeAction::RolloutUndo { to_revision: None }
        );
        assert_eq!(
            parse(CORDON, "cluster:node/n1", json!({})).unwrap(),
            KubeAction::Cordon
        );
        assert_eq!(
            parse(UNCORDON, "cluster:node/n1", json!({})).unwrap(),
            KubeAction::Uncordon
        );
    }

    #[test]
    fn wrong_targets_unknown_kinds_and_unknown_params_are_refused() {
        let e = parse(ROLLOUT_RESTART, "prod:pod/x", json!({})).unwrap_err();
        assert!(e.0.contains("cannot act on a pod"), "{e}");
        assert!(parse(CORDON, "prod:deployment/x", json!({})).is_err());
        assert!(
            parse(
                SCALE,
                "prod:daemonset/x",
                json!({"replicas": 1, "min_replicas": 1, "max_replicas": 1})
            )
            .is_err()
        );
        assert!(parse(ROLLOUT_UNDO, "prod:statefulset/x", json!({})).is_err());
        let e = parse("reboot", "prod:deployment/x", json!({})).unwrap_err();
        assert!(e.0.contains("known"), "{e}");
        let e = parse(ROLLOUT_RESTART, "prod:service/x", json!({})).unwrap_err();
        assert!(e.0.contains("\"service\""), "{e}");
        let e = parse(
            SCALE,
            "prod:deployment/x",
            json!({"replica": 3, "min_replicas": 1, "max_replicas": 5}),
        )
        .unwrap_err();
        assert!(e.0.contains("\"replica\""), "{e}");
    }

    #[test]
    fn scale_outside_bounds_or_without_bounds_is_refused() {
        let e = parse(
            SCALE,
            "prod:deployment/x",
            json!({"replicas": 9, "min_replicas": 1, "max_replicas": 5}),
        )
        .unwrap_err();
        assert!(e.0.contains("outside the strategy's bounds [1, 5]"), "{e}");
        let e = parse(SCALE, "prod:deployment/x", json!({"replicas": 3})).unwrap_err();
        assert!(e.0.contains("min_replicas"), "{e}");
        assert!(
            parse(
                SCALE,
                "prod:deployment/x",
                json!({"replicas": 3, "min_replicas": 5, "max_replicas": 1})
            )
            .is_err()
        );
        assert!(
            parse(
                SCALE,
                "prod:deployment/x",
                json!({"replicas": -1, "min_replicas": -2, "max_replicas": 5})
            )
            .is_err()
        );
        assert!(
            parse(
                SCALE,
                "prod:deployment/x",
                json!({"replicas": "3", "min_replicas": 1, "max_replicas": 5})
            )
            .is_err()
        );
    }

    #[test]
    fn evict_needs_a_guarded_selector_on_workloads() {
        assert!(parse(EVICT_POD, "prod:deployment/x", json!({})).is_err());
        let e = parse(EVICT_POD, "prod:deployment/x", json!({"selector": ""})).unwrap_err();
        assert!(e.0.contains("empty"), "{e}");
        assert!(
            parse(
                EVICT_POD,
                "prod:deployment/x",
                json!({"selector": "!canary"})
            )
            .is_err()
        );
        assert!(parse(EVICT_POD, "prod:pod/x", json!({"selector": "app=x"})).is_err());
        assert!(parse(EVICT_POD, "prod:pod/x", json!({"allow_delete": "yes"})).is_err());
        assert!(
            parse(
                EVICT_POD,
                "prod:deployment/x",
                json!({"selector": "app=x", "max_pods": 0})
            )
            .is_err()
        );
    }
}
