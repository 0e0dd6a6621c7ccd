//! The namespace guard: where a tenant's action may land.
//!
//! Seed 003 sent 203 executions to `default` through a silent namespace
//! fallback and every one failed. Here the namespace always comes from the
//! target resource, is checked against the tenant's policy before any
//! request is made, and is passed explicitly to every API call; the kube
//! client's own default namespace is never used.
//!
//! Nodes are cluster-scoped, so a namespace list cannot govern them. Node
//! actions and probes are allowed only when the tenant may act anywhere
//! (`namespaces = ["*"]`, [`NamespacePolicy::Any`]) or when the executor's
//! configuration sets `allow_node_actions`. The namespace part of a node's
//! `ResourceRef` is then not used at all.

use hale_domain::ResourceRef;
use hale_engine::ports::NamespacePolicy;

use crate::actions::TargetKind;

/// Where a checked target lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// In this namespace.
    Namespaced(String),
    /// Cluster-scoped (nodes).
    Cluster,
}

/// Checks a target against the tenant's policy; the error message names the
/// namespace and the allowed list.
pub(crate) fn check_scope(
    resource: &ResourceRef,
    target: TargetKind,
    policy: &NamespacePolicy,
    allow_node_actions: bool,
) -> Result<Scope, String> {
    if target == TargetKind::Node {
        return if allow_node_actions || *policy == NamespacePolicy::Any {
            Ok(Scope::Cluster)
        } else {
            Err(format!(
                "{resource} is a cluster-scoped node: node actions need the tenant's namespaces \
                 to be [\"*\"] or the executor's allow_node_actions (allowed namespaces: {})",
                describe(policy)
            ))
        };
    }
    if policy.allows(&resource.namespace) {
        Ok(Scope::Namespaced(resource.namespace.clone()))
    } else {
        Err(format!(
            "namespace {:?} of {resource} is not allowed for this tenant (allowed namespaces: {})",
            resource.namespace,
            describe(policy)
        ))
    }
}

fn describe(policy: &NamespacePolicy) -> String {
    match policy {
        NamespacePolicy::Any => "any".to_owned(),
        NamespacePolicy::Only(list) => format!("{list:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::WorkloadKind;

    fn only(list: &[&str]) -> NamespacePolicy {
        NamespacePolicy::Only(list.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn namespaced_targets_must_be_in_the_list() {
        let deploy = TargetKind::Workload(WorkloadKind::Deployment);
        let r = ResourceRef::parse("prod:deployment/x").unwrap();
        assert_eq!(
            check_scope(&r, deploy, &only(&["prod"]), false),
            Ok(Scope::Namespaced("prod".to_owned()))
        );
        let r = ResourceRef::parse("default:deployment/x").unwrap();
        let e = check_scope(&r, deploy, &only(&["prod", "staging"]), true).unwrap_err();
        assert!(e.contains("\"default\""), "{e}");
        assert!(e.contains("[\"prod\", \"staging\"]"), "{e}");
        assert!(check_scope(&r, deploy, &only(&[]), false).is_err());
        assert!(check_scope(&r, deploy, &NamespacePolicy::Any, false).is_ok());
    }

    #[test]
    fn nodes_need_any_or_explicit_permission() {
        let r = ResourceRef::parse("prod:node/n1").unwrap();
        let e = check_scope(&r, TargetKind::Node, &only(&["prod"]), false).unwrap_err();
        assert!(e.contains("cluster-scoped"), "{e}");
        assert_eq!(
            check_scope(&r, TargetKind::Node, &only(&["prod"]), true),
            Ok(Scope::Cluster)
        );
        assert_eq!(
            check_scope(&r, TargetKind::Node, &NamespacePolicy::Any, false),
            Ok(Scope::Cluster)
        );
    }
}
