//! Which pods belong to a workload: a selector eviction touches only pods
//! of the alert's target (issue 15).
//!
//! A label selector is the strategy's choice; it can match pods that some
//! other workload (or no workload) runs. Before any pod goes, every matched
//! pod's controller chain is followed through `ownerReferences`:
//!
//! * a Deployment's pods are controlled by a ReplicaSet that the Deployment
//!   controls (`Deployment -> ReplicaSet -> Pod`); the ReplicaSets are
//!   listed once, with the same selector;
//! * a StatefulSet's or DaemonSet's pods are controlled by it directly.
//!
//! Only the `controller: true` reference counts (a pod has at most one),
//! and only from the `apps` API group (a custom resource that happens to be
//! called `Deployment` is not ours). The pod's reference must also carry
//! the uid of the ReplicaSet listed, so a ReplicaSet deleted and created
//! again under the same name does not adopt the old one's pods. When any
//! matched pod belongs elsewhere, the whole eviction is refused as
//! `invalid_action` (a policy problem: the selector is too wide), naming
//! the foreign pods and their owners; nothing is evicted and the workload is
//! not written.

use std::collections::BTreeMap;

use hale_domain::failure::FailureClass;
use hale_engine::ports::ExecError;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, ListParams};
use serde_json::json;

use crate::actions::WorkloadKind;
use crate::errors::CallKind;
use crate::executor::Ctx;

/// Foreign pods named in a refusal before it says "and N more".
const NAMED_FOREIGN: usize = 10;

/// A matched pod that does not belong to the target, and who runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForeignPod {
    /// The pod's name.
    pub pod: String,
    /// Its controller as `Kind/name` (through its ReplicaSet for a
    /// deployment), or `none`.
    pub owner: String,
}

/// The object's controlling owner reference, if it has one.
fn controller(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|r| r.controller == Some(true))
}

fn is_apps(r: &OwnerReference, kind: &str) -> bool {
    r.kind == kind && r.api_version.split('/').next() == Some("apps")
}

fn describe(r: Option<&OwnerReference>) -> String {
    r.map_or_else(|| "none".to_owned(), |r| format!("{}/{}", r.kind, r.name))
}

fn workload_kind(w: WorkloadKind) -> &'static str {
    match w {
        WorkloadKind::Deployment => "Deployment",
        WorkloadKind::StatefulSet => "StatefulSet",
        WorkloadKind::DaemonSet => "DaemonSet",
    }
}

/// The pods among `pods` (matched by `selector`) that do not belong to the
/// workload `target` of kind `owner` in `ns` (for a deployment, one LIST of
/// the ReplicaSets the selector matches).
pub(crate) async fn foreign_pods(
    ctx: &Ctx<'_>,
    selector: &str,
    ns: &str,
    target: &str,
    owner: WorkloadKind,
    pods: &[Pod],
) -> Result<Vec<ForeignPod>, ExecError> {
    let mut replicasets: BTreeMap<String, ReplicaSet> = BTreeMap::new();
    let through_replicasets = owner == WorkloadKind::Deployment
        && pods
            .iter()
            .any(|p| controller(&p.metadata).is_some_and(|r| is_apps(r, "ReplicaSet")));
    if through_replicasets {
        // One LIST with the pods' own selector: a deployment's ReplicaSets
        // carry its pod template's labels, so every ReplicaSet of a matched
        // pod of the target is in it (one missing makes its pods foreign:
        // a refusal, never an eviction). LIST, not GET: the role Hale is
        // granted on ReplicaSets (docs/executors.md).
        let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), ns);
        let what = format!(
            "listing ReplicaSets {selector:?} in {ns} to check that the pods belong to deployment {ns}/{target}"
        );
        let list = ctx
            .call(
                &what,
                CallKind::Other,
                api.list(&ListParams::default().labels(selector)),
            )
            .await?;
        for rs in list.items {
            if let Some(name) = rs.metadata.name.clone() {
                replicasets.insert(name, rs);
            }
        }
    }
    let foreign = pods
        .iter()
        .filter_map(|p| {
            owner_if_foreign(owner, target, &p.metadata, &replicasets).map(|owner| ForeignPod {
                pod: p.metadata.name.clone().unwrap_or_default(),
                owner,
            })
        })
        .collect();
    Ok(foreign)
}

/// Who runs the pod with metadata `pod`, when it is not the workload
/// `target` of kind `owner` (`None`: it is the target's). `replicasets`
/// holds the ReplicaSets read for a deployment's pods, by name.
fn owner_if_foreign(
    owner: WorkloadKind,
    target: &str,
    pod: &ObjectMeta,
    replicasets: &BTreeMap<String, ReplicaSet>,
) -> Option<String> {
    let kind = workload_kind(owner);
    let Some(r) = controller(pod) else {
        return Some("none".to_owned());
    };
    if owner != WorkloadKind::Deployment || !is_apps(r, "ReplicaSet") {
        return (!(is_apps(r, kind) && r.name == target)).then(|| describe(Some(r)));
    }
    let Some(rs) = replicasets.get(&r.name) else {
        return Some(format!("ReplicaSet/{} (not found)", r.name));
    };
    if rs.metadata.uid.as_deref() != Some(r.uid.as_str()) {
        return Some(format!("ReplicaSet/{} (since replaced)", r.name));
    }
    let rs_owner = controller(&rs.metadata);
    let ours = rs_owner.is_some_and(|o| is_apps(o, kind) && o.name == target);
    (!ours).then(|| format!("{} via ReplicaSet/{}", describe(rs_owner), r.name))
}

/// The refusal of an eviction whose selector matched `foreign` pods.
pub(crate) fn refusal(
    selector: &str,
    ns: &str,
    target: &str,
    owner: WorkloadKind,
    foreign: &[ForeignPod],
) -> ExecError {
    let named: Vec<String> = foreign
        .iter()
        .take(NAMED_FOREIGN)
        .map(|f| format!("{} (owner {})", f.pod, f.owner))
        .collect();
    let more = foreign.len().saturating_sub(NAMED_FOREIGN);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    let mut e = ExecError::new(
        FailureClass::InvalidAction,
        format!(
            "selector {selector:?} matches {} pod(s) in {ns} that do not belong to {} {ns}/{target}: \
             {}{more}; nothing was evicted (narrow the selector to the workload's own pods)",
            foreign.len(),
            owner.as_str(),
            named.join(", ")
        ),
    );
    e.response = Some(json!({
        "foreign_pods": foreign
            .iter()
            .map(|f| json!({"pod": f.pod, "owner": f.owner}))
            .collect::<Vec<_>>(),
    }));
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned_by(kind: &str, api_version: &str, name: &str, uid: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some("p".into()),
            owner_references: Some(vec![OwnerReference {
                api_version: api_version.into(),
                kind: kind.into(),
                name: name.into(),
                uid: uid.into(),
                controller: Some(true),
                block_owner_deletion: None,
            }]),
            ..ObjectMeta::default()
        }
    }

    fn rs(name: &str, uid: &str, deployment: &str) -> (String, ReplicaSet) {
        let meta = owned_by("Deployment", "apps/v1", deployment, "d-uid");
        let rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.into()),
                uid: Some(uid.into()),
                ..meta
            },
            ..ReplicaSet::default()
        };
        (name.into(), rs)
    }

    #[test]
    fn a_deployments_pods_are_those_of_its_replicasets() {
        let sets = BTreeMap::from([rs("web-1", "rs-1", "web"), rs("db-1", "rs-2", "db")]);
        let deploy = WorkloadKind::Deployment;
        let pod = |rs: &str, uid: &str| owned_by("ReplicaSet", "apps/v1", rs, uid);
        assert_eq!(
            owner_if_foreign(deploy, "web", &pod("web-1", "rs-1"), &sets),
            None
        );
        assert_eq!(
            owner_if_foreign(deploy, "web", &pod("db-1", "rs-2"), &sets).as_deref(),
            Some("Deployment/db via ReplicaSet/db-1")
        );
        assert_eq!(
            owner_if_foreign(deploy, "web", &pod("web-1", "old-uid"), &sets).as_deref(),
            Some("ReplicaSet/web-1 (since replaced)")
        );
        assert_eq!(
            owner_if_foreign(deploy, "web", &pod("gone-1", "x"), &sets).as_deref(),
            Some("ReplicaSet/gone-1 (not found)")
        );
        assert_eq!(
            owner_if_foreign(deploy, "web", &ObjectMeta::default(), &sets).as_deref(),
            Some("none"),
            "a bare pod belongs to no workload"
        );
        let not_controller = ObjectMeta {
            owner_references: Some(vec![OwnerReference {
                controller: None,
                ..pod("web-1", "rs-1").owner_references.unwrap().remove(0)
            }]),
            ..ObjectMeta::default()
        };
        assert_eq!(
            owner_if_foreign(deploy, "web", &not_controller, &sets).as_deref(),
            Some("none"),
            "only the controlling reference counts"
        );
    }

    #[test]
    fn statefulset_and_daemonset_pods_are_controlled_directly_from_the_apps_group() {
        let none = BTreeMap::new();
        let sts = WorkloadKind::StatefulSet;
        let meta = owned_by("StatefulSet", "apps/v1", "db", "u");
        assert_eq!(owner_if_foreign(sts, "db", &meta, &none), None);
        assert_eq!(
            owner_if_foreign(sts, "cache", &meta, &none).as_deref(),
            Some("StatefulSet/db")
        );
        assert_eq!(
            owner_if_foreign(WorkloadKind::DaemonSet, "db", &meta, &none).as_deref(),
            Some("StatefulSet/db"),
            "the kind must match too"
        );
        let custom = owned_by("StatefulSet", "example.com/v1", "db", "u");
        assert_eq!(
            owner_if_foreign(sts, "db", &custom, &none).as_deref(),
            Some("StatefulSet/db"),
            "a custom resource of the same kind name is not the workload"
        );
    }

    #[test]
    fn a_refusal_names_the_foreign_pods_and_caps_the_list() {
        let foreign: Vec<ForeignPod> = (0..12)
            .map(|n| ForeignPod {
                pod: format!("p-{n}"),
                owner: "none".into(),
            })
            .collect();
        let e = refusal("app=web", "prod", "web", WorkloadKind::Deployment, &foreign);
        assert_eq!(e.class, FailureClass::InvalidAction);
        assert!(e.message.contains("p-0 (owner none)"), "{}", e.message);
        assert!(!e.message.contains("p-10"), "{}", e.message);
        assert!(e.message.contains("and 2 more"), "{}", e.message);
        assert!(e.message.contains("nothing was evicted"), "{}", e.message);
        assert_eq!(
            e.response.unwrap()["foreign_pods"]
                .as_array()
                .unwrap()
                .len(),
            12
        );
    }
}
