//! The single-patch actions: rollout restart, scale, cordon and uncordon.

use chrono::SecondsFormat;
use hale_domain::Timestamp;
use hale_engine::ports::{ActionOutcome, ExecError};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Node;
use kube::api::Api;
use serde_json::json;

use crate::actions::WorkloadKind;
use crate::audit::audit_record;
use crate::executor::Ctx;
use crate::write::{PatchKind, patch_object};

/// The pod-template annotation `kubectl rollout restart` sets.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// The strategic-merge patch `kubectl rollout restart` sends: a new value
/// of the pod template's `restartedAt` annotation changes the template, so
/// the controller rolls every pod.
pub fn restart_patch(at: Timestamp) -> serde_json::Value {
    let at = at.to_datetime().to_rfc3339_opts(SecondsFormat::Secs, true);
    json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: at}}}}})
}

pub(crate) async fn rollout_restart(
    ctx: &Ctx<'_>,
    ns: &str,
    name: &str,
    workload: WorkloadKind,
    now: Timestamp,
) -> Result<ActionOutcome, ExecError> {
    let what = format!("rollout restart of {} {ns}/{name}", workload.as_str());
    let response = patch_workload(
        ctx,
        ns,
        name,
        workload,
        &what,
        PatchKind::Strategic,
        restart_patch(now),
    )
    .await?;
    let pods_disrupted = restarted_pods(response.as_ref());
    Ok(ActionOutcome {
        message: format!("{} {ns}/{name} restarted", workload.as_str()),
        response,
        pods_disrupted,
    })
}

/// The pods a rollout restart replaces: the workload's replicas as the
/// patched object states them (`status.replicas`, else `spec.replicas`;
/// a DaemonSet's audit record has neither, so it counts as 1: at least one
/// pod is replaced at a time).
pub(crate) fn restarted_pods(response: Option<&serde_json::Value>) -> u32 {
    let Some(r) = response else { return 1 };
    r["status"]["replicas"]
        .as_u64()
        .or_else(|| r["spec"]["replicas"].as_u64())
        .map_or(1, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// Patches a workload (fenced when applied); returns it for the audit log.
pub(crate) async fn patch_workload(
    ctx: &Ctx<'_>,
    ns: &str,
    name: &str,
    workload: WorkloadKind,
    what: &str,
    kind: PatchKind,
    body: serde_json::Value,
) -> Result<Option<serde_json::Value>, ExecError> {
    Ok(match workload {
        WorkloadKind::Deployment => {
            let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), ns);
            audit_record(&patch_object(ctx, &api, name, what, kind, body).await?)
        }
        WorkloadKind::StatefulSet => {
            let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), ns);
            audit_record(&patch_object(ctx, &api, name, what, kind, body).await?)
        }
        WorkloadKind::DaemonSet => {
            let api: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), ns);
            audit_record(&patch_object(ctx, &api, name, what, kind, body).await?)
        }
    })
}

pub(crate) async fn scale(
    ctx: &Ctx<'_>,
    ns: &str,
    name: &str,
    workload: WorkloadKind,
    replicas: i32,
    (min, max): (i32, i32),
) -> Result<ActionOutcome, ExecError> {
    // A merge patch of the workload itself rather than of its `scale`
    // subresource: the scale subresource ignores metadata, and the fencing
    // token must be recorded in the same write that changes the replicas.
    // The patch touches nothing but the replica count and the annotations.
    let what = format!("scale of {} {ns}/{name}", workload.as_str());
    let body = json!({"spec": {"replicas": replicas}});
    let response = patch_workload(ctx, ns, name, workload, &what, PatchKind::Merge, body).await?;
    let before = response
        .as_ref()
        .and_then(|r| r["status"]["replicas"].as_i64())
        .map_or_else(|| "?".to_owned(), |n| n.to_string());
    Ok(ActionOutcome {
        message: format!(
            "{} {ns}/{name} scaled to {replicas} replicas (bounds [{min}, {max}]; {before} running)",
            workload.as_str()
        ),
        response,
        pods_disrupted: 0,
    })
}

pub(crate) async fn set_unschedulable(
    ctx: &Ctx<'_>,
    name: &str,
    unschedulable: bool,
) -> Result<ActionOutcome, ExecError> {
    // `kubectl uncordon` sends `null` (the field is omitted when false), so
    // the two commands leave exactly the objects kubectl would.
    let value = if unschedulable {
        json!(true)
    } else {
        json!(null)
    };
    let verb = if unschedulable { "cordon" } else { "uncordon" };
    let api: Api<Node> = Api::all(ctx.client.clone());
    let node = patch_object(
        ctx,
        &api,
        name,
        &format!("{verb} of node {name}"),
        PatchKind::Strategic,
        json!({"spec": {"unschedulable": value}}),
    )
    .await?;
    Ok(ActionOutcome {
        message: format!("node {name} {verb}ed"),
        response: audit_record(&node),
        pods_disrupted: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_reports_the_workloads_replicas_as_disrupted_pods() {
        let r = json!({"spec": {"replicas": 4}, "status": {"replicas": 3}});
        assert_eq!(restarted_pods(Some(&r)), 3);
        assert_eq!(restarted_pods(Some(&json!({"spec": {"replicas": 4}}))), 4);
        assert_eq!(restarted_pods(Some(&json!({"kind": "DaemonSet"}))), 1);
        assert_eq!(restarted_pods(None), 1);
    }

    #[test]
    fn the_restart_patch_matches_kubectl() {
        let p = restart_patch(Timestamp::from_unix_secs(1_800_000_000));
        assert_eq!(
            p,
            json!({"spec": {"template": {"metadata": {"annotations": {
                "kubectl.kubernetes.io/restartedAt": "2027-01-15T08:00:00Z"
            }}}}})
        );
    }
}
