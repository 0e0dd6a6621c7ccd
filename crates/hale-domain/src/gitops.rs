//! GitOps-owned targets: whether an action would be reverted by the tool
//! that owns the target (issue 16).
//!
//! A target reconciled from Git by Argo CD or Flux is put back to what Git
//! says on the tool's next sync: a `scale` or a `rollout_undo` by Hale is
//! undone minutes later (or fights the tool until someone notices), so the
//! fix only looks like one. Those two kinds are refused on a target a
//! GitOps tool owns (`gitops_managed`), unless the strategy opts in with
//! `allow_gitops_managed = true` (for instance when the tool ignores
//! `spec.replicas`, as Argo CD's `ignoreDifferences` or Flux's drift
//! detection `ignore` rules allow). A restart (a pod-template annotation
//! the tools commonly tolerate, as `kubectl rollout restart` does) and an
//! eviction (no spec change at all) stay allowed.
//!
//! The executor reports who owns the target (facts, gathered by the engine
//! only when a refused kind is in the strategy and every earlier guard
//! stage allows); this module decides. What counts as ownership evidence
//! (labels and annotations) is the executor's business: this crate knows
//! nothing of Kubernetes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::strategy::ActionKind;
use crate::wire::wire_enum;

/// The action kinds a GitOps tool reverts: they change the spec the tool
/// reconciles.
pub const REVERTED_KINDS: [&str; 2] = ["scale", "rollout_undo"];

/// Whether a GitOps tool would revert an action of `kind`.
pub fn reverted_by_gitops(kind: &ActionKind) -> bool {
    REVERTED_KINDS.contains(&kind.as_str())
}

wire_enum!(
    /// The GitOps tool that owns a target.
    GitOpsTool {
        /// Argo CD.
        ArgoCd => "argo_cd",
        /// Flux (a Kustomization or a HelmRelease).
        Flux => "flux",
    }
);

/// Who owns a target, as its executor found it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GitOpsOwner {
    /// The tool.
    pub tool: GitOpsTool,
    /// The evidence, as the executor read it (for Kubernetes the label or
    /// annotation and its value, e.g.
    /// `argocd.argoproj.io/tracking-id=shop:apps/Deployment:prod/web`).
    pub evidence: String,
}

impl fmt::Display for GitOpsOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.tool, self.evidence)
    }
}

/// What the engine learned about the target's GitOps ownership.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "ownership")]
pub enum OwnershipCheck {
    /// Not asked: the strategy runs no reverted kind or opts in, or an
    /// earlier stage already blocked.
    #[default]
    NotAsked,
    /// Asked; no GitOps tool owns the target (or the executor cannot tell).
    Unowned,
    /// A GitOps tool owns it.
    Owned(GitOpsOwner),
    /// The executor could not read the target. Not a refusal: the action
    /// reads the target itself before it writes and fails with the
    /// target's own error class (a gone target is `target_gone`).
    Unreadable {
        /// Why.
        error: String,
    },
}

/// The GitOps part of the guard: the strategy's kinds and opt-in, and what
/// was learned about the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GitOpsGate<'a> {
    /// The strategy's `allow_gitops_managed`.
    pub allowed: bool,
    /// What the executor said.
    pub ownership: &'a OwnershipCheck,
}

/// A refusal: the first reverted kind of the strategy and who would revert
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitOpsRefusal {
    /// The action kind refused.
    pub kind: ActionKind,
    /// The owner.
    pub owner: GitOpsOwner,
}

/// Whether the ownership must be asked for a strategy running `kinds`
/// (rollback included) with opt-in `allowed`.
pub fn needs_asking(kinds: &[&ActionKind], allowed: bool) -> bool {
    !allowed && kinds.iter().any(|k| reverted_by_gitops(k))
}

/// The rule: a strategy running a reverted kind on a GitOps-owned target is
/// refused unless it opts in. Restart, eviction and every other kind are
/// never refused here.
pub fn refusal(kinds: &[&ActionKind], gate: GitOpsGate<'_>) -> Option<GitOpsRefusal> {
    if !needs_asking(kinds, gate.allowed) {
        return None;
    }
    let OwnershipCheck::Owned(owner) = gate.ownership else {
        return None;
    };
    let kind = kinds.iter().find(|k| reverted_by_gitops(k))?;
    Some(GitOpsRefusal {
        kind: (*kind).clone(),
        owner: owner.clone(),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn kind(s: &str) -> ActionKind {
        ActionKind::new(s).unwrap()
    }

    fn argo() -> OwnershipCheck {
        OwnershipCheck::Owned(GitOpsOwner {
            tool: GitOpsTool::ArgoCd,
            evidence: "argocd.argoproj.io/instance=shop".into(),
        })
    }

    #[test]
    fn scale_and_undo_are_refused_on_owned_targets_restart_and_evict_never() {
        let owned = argo();
        let gate = GitOpsGate {
            allowed: false,
            ownership: &owned,
        };
        for k in ["scale", "rollout_undo"] {
            let r = refusal(&[&kind("rollout_restart"), &kind(k)], gate).unwrap();
            assert_eq!(r.kind.as_str(), k);
            assert_eq!(r.owner.tool, GitOpsTool::ArgoCd);
        }
        for k in ["rollout_restart", "evict_pod", "cordon", "run_command"] {
            assert_eq!(refusal(&[&kind(k)], gate), None, "{k}");
        }
        let allowed = GitOpsGate {
            allowed: true,
            ..gate
        };
        assert_eq!(refusal(&[&kind("scale")], allowed), None);
        for check in [
            OwnershipCheck::NotAsked,
            OwnershipCheck::Unowned,
            OwnershipCheck::Unreadable { error: "x".into() },
        ] {
            let gate = GitOpsGate {
                allowed: false,
                ownership: &check,
            };
            assert_eq!(refusal(&[&kind("scale")], gate), None, "{check:?}");
        }
        assert!(needs_asking(&[&kind("evict_pod"), &kind("scale")], false));
        assert!(!needs_asking(&[&kind("scale")], true));
        assert!(!needs_asking(&[&kind("rollout_restart")], false));
        for (t, name) in [(GitOpsTool::ArgoCd, "argo_cd"), (GitOpsTool::Flux, "flux")] {
            crate::wire::assert_wire_name(t, t.as_str(), name);
        }
    }

    fn kinds() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(
            prop::sample::select(vec![
                "scale",
                "rollout_undo",
                "rollout_restart",
                "evict_pod",
                "cordon",
                "run_command",
            ])
            .prop_map(str::to_owned),
            0..5,
        )
    }

    fn check() -> impl Strategy<Value = OwnershipCheck> {
        prop_oneof![
            Just(OwnershipCheck::NotAsked),
            Just(OwnershipCheck::Unowned),
            Just(argo()),
            Just(OwnershipCheck::Owned(GitOpsOwner {
                tool: GitOpsTool::Flux,
                evidence: "kustomize.toolkit.fluxcd.io/name=apps".into(),
            })),
            Just(OwnershipCheck::Unreadable {
                error: "timeout".into()
            }),
        ]
    }

    proptest! {
        /// Refused exactly when the target is owned, the strategy does not
        /// opt in and one of its kinds is `scale` or `rollout_undo`; the
        /// refusal names that kind and the owner.
        #[test]
        fn prop_gitops_refuses_exactly_reverted_kinds_on_owned_targets_without_opt_in(
            names in kinds(), allowed in any::<bool>(), ownership in check(),
        ) {
            let ks: Vec<ActionKind> = names.iter().map(|n| kind(n)).collect();
            let refs: Vec<&ActionKind> = ks.iter().collect();
            let got = refusal(&refs, GitOpsGate { allowed, ownership: &ownership });
            let reverted = names.iter().any(|n| n == "scale" || n == "rollout_undo");
            let owned = matches!(ownership, OwnershipCheck::Owned(_));
            prop_assert_eq!(got.is_some(), owned && reverted && !allowed);
            if let (Some(r), OwnershipCheck::Owned(o)) = (got, &ownership) {
                prop_assert!(reverted_by_gitops(&r.kind));
                prop_assert_eq!(&r.owner, o);
            }
        }
    }
}
