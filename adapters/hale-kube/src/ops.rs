//! The single-patch actions: rollout restart, scale, cordon and uncordon.

use std::fmt::Debug;

use chrono::SecondsFormat;
use hale_domain::Timestamp;
use hale_engine::ports::{ActionOutcome, ExecError};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::actions::WorkloadKind;
use crate::errors::CallKind;
use crate::executor::{Ctx, audit_copy};

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
    let patch = Patch::Strategic(restart_patch(now));
    let what = format!("rollout restart of {} {ns}/{name}", workload.as_str());
    let response = match workload {
        WorkloadKind::Deployment => {
            patch_namespaced::<Deployment>(ctx, &what, ns, name, &patch).await?
        }
        WorkloadKind::StatefulSet => {
            patch_namespaced::<StatefulSet>(ctx, &what, ns, name, &patch).await?
        }
        WorkloadKind::DaemonSet => {
            patch_namespaced::<DaemonSet>(ctx, &what, ns, name, &patch).await?
        }
    };
    Ok(ActionOutcome {
        message: format!("{} {ns}/{name} restarted", workload.as_str()),
        response,
    })
}

async fn patch_namespaced<K>(
    ctx: &Ctx<'_>,
    what: &str,
    ns: &str,
    name: &str,
    patch: &Patch<serde_json::Value>,
) -> Result<Option<serde_json::Value>, ExecError>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + Debug,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), ns);
    let obj = ctx
        .call(
            what,
            CallKind::Other,
            api.patch(name, &ctx.patch_params(), patch),
        )
        .await?;
    Ok(audit_copy(&obj))
}

pub(crate) async fn scale(
    ctx: &Ctx<'_>,
    ns: &str,
    name: &str,
    workload: WorkloadKind,
    replicas: i32,
    (min, max): (i32, i32),
) -> Result<ActionOutcome, ExecError> {
    // A merge patch of the scale subresource touches nothing but the
    // replica count (no read-modify-write race with other writers).
    let patch = Patch::Merge(json!({"spec": {"replicas": replicas}}));
    let what = format!("scale of {} {ns}/{name}", workload.as_str());
    let pp = ctx.patch_params();
    let scale = match workload {
        WorkloadKind::StatefulSet => {
            let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), ns);
            ctx.call(&what, CallKind::Other, api.patch_scale(name, &pp, &patch))
                .await?
        }
        // `parse` admits only deployments and statefulsets for scale.
        _ => {
            let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), ns);
            ctx.call(&what, CallKind::Other, api.patch_scale(name, &pp, &patch))
                .await?
        }
    };
    let before = scale
        .status
        .as_ref()
        .map(|s| s.replicas.to_string())
        .unwrap_or_else(|| "?".to_owned());
    Ok(ActionOutcome {
        message: format!(
            "{} {ns}/{name} scaled to {replicas} replicas (bounds [{min}, {max}]; {before} running)",
            workload.as_str()
        ),
        response: audit_copy(&scale),
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
    let patch = Patch::Strategic(json!({"spec": {"unschedulable": value}}));
    let verb = if unschedulable { "cordon" } else { "uncordon" };
    let api: Api<Node> = Api::all(ctx.client.clone());
    let node = ctx
        .call(
            &format!("{verb} of node {name}"),
            CallKind::Other,
            api.patch(name, &ctx.patch_params(), &patch),
        )
        .await?;
    Ok(ActionOutcome {
        message: format!("node {name} {verb}ed"),
        response: audit_copy(&node),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
