//! Who reconciles a workload from Git: the GitOps ownership facts the
//! executor reports ([`hale_engine::ports::ActionExecutor::gitops_owner`]);
//! the domain decides what they mean ([`hale_domain::gitops`]).
//!
//! The marks read, in this order (the first found is the evidence):
//!
//! | tool | where | key |
//! | --- | --- | --- |
//! | Argo CD | annotation | `argocd.argoproj.io/tracking-id` (the `annotation` and `annotation+label` tracking methods; the default since Argo CD 3.0) |
//! | Argo CD | label or annotation | `argocd.argoproj.io/instance` (the custom tracking label Argo CD's docs suggest instead of the default) |
//! | Flux | labels | `kustomize.toolkit.fluxcd.io/name` (with `kustomize.toolkit.fluxcd.io/namespace`): applied by a Kustomization |
//! | Flux | labels | `helm.toolkit.fluxcd.io/name` (with `helm.toolkit.fluxcd.io/namespace`): rendered by a HelmRelease |
//!
//! `app.kubernetes.io/instance` alone is not evidence: it is Argo CD's
//! legacy default tracking label, but Helm charts and operators set it too
//! (Argo CD's own docs name the clash), so reading it would refuse scaling
//! on every Helm-installed workload. Sources: Argo CD "Resource Tracking"
//! (argo-cd.readthedocs.io, user-guide/resource_tracking) and the labels
//! Flux's kustomize-controller and helm-controller put on what they apply.

use std::collections::BTreeMap;

use hale_domain::gitops::{GitOpsOwner, GitOpsTool};
use hale_engine::ports::ExecError;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::Api;

use crate::actions::WorkloadKind;
use crate::errors::CallKind;
use crate::executor::Ctx;

/// Argo CD's tracking annotation (`app:group/Kind:namespace/name`).
pub const ARGOCD_TRACKING_ID: &str = "argocd.argoproj.io/tracking-id";
/// Argo CD's custom tracking label (also read as an annotation).
pub const ARGOCD_INSTANCE: &str = "argocd.argoproj.io/instance";
/// The Flux Kustomization that applied the object.
pub const FLUX_KUSTOMIZE_NAME: &str = "kustomize.toolkit.fluxcd.io/name";
/// Its namespace.
pub const FLUX_KUSTOMIZE_NAMESPACE: &str = "kustomize.toolkit.fluxcd.io/namespace";
/// The Flux HelmRelease that rendered the object.
pub const FLUX_HELM_NAME: &str = "helm.toolkit.fluxcd.io/name";
/// Its namespace.
pub const FLUX_HELM_NAMESPACE: &str = "helm.toolkit.fluxcd.io/namespace";

fn non_empty<'a>(map: Option<&'a BTreeMap<String, String>>, key: &str) -> Option<&'a str> {
    map.and_then(|m| m.get(key))
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// The GitOps owner an object's labels and annotations name, if any.
pub fn gitops_owner(meta: &ObjectMeta) -> Option<GitOpsOwner> {
    let labels = meta.labels.as_ref();
    let annotations = meta.annotations.as_ref();
    let mark = |tool, key: &str, value: &str| GitOpsOwner {
        tool,
        evidence: format!("{key}={value}"),
    };
    if let Some(v) = non_empty(annotations, ARGOCD_TRACKING_ID) {
        return Some(mark(GitOpsTool::ArgoCd, ARGOCD_TRACKING_ID, v));
    }
    if let Some(v) =
        non_empty(labels, ARGOCD_INSTANCE).or_else(|| non_empty(annotations, ARGOCD_INSTANCE))
    {
        return Some(mark(GitOpsTool::ArgoCd, ARGOCD_INSTANCE, v));
    }
    for (name_key, ns_key) in [
        (FLUX_KUSTOMIZE_NAME, FLUX_KUSTOMIZE_NAMESPACE),
        (FLUX_HELM_NAME, FLUX_HELM_NAMESPACE),
    ] {
        if let Some(name) = non_empty(labels, name_key) {
            let mut owner = mark(GitOpsTool::Flux, name_key, name);
            if let Some(ns) = non_empty(labels, ns_key) {
                owner.evidence = format!("{}, {ns_key}={ns}", owner.evidence);
            }
            return Some(owner);
        }
    }
    None
}

/// Reads the workload `ns/name` and reports its GitOps owner.
pub(crate) async fn workload_owner(
    ctx: &Ctx<'_>,
    ns: &str,
    name: &str,
    kind: WorkloadKind,
) -> Result<Option<GitOpsOwner>, ExecError> {
    let what = format!("reading {} {ns}/{name} for its GitOps owner", kind.as_str());
    let client = ctx.client.clone();
    let meta = match kind {
        WorkloadKind::Deployment => {
            let api: Api<Deployment> = Api::namespaced(client, ns);
            ctx.call(&what, CallKind::Other, api.get(name))
                .await?
                .metadata
        }
        WorkloadKind::StatefulSet => {
            let api: Api<StatefulSet> = Api::namespaced(client, ns);
            ctx.call(&what, CallKind::Other, api.get(name))
                .await?
                .metadata
        }
        WorkloadKind::DaemonSet => {
            let api: Api<DaemonSet> = Api::namespaced(client, ns);
            ctx.call(&what, CallKind::Other, api.get(name))
                .await?
                .metadata
        }
    };
    Ok(gitops_owner(&meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> ObjectMeta {
        let map = |kv: &[(&str, &str)]| {
            Some(
                kv.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )
        };
        ObjectMeta {
            labels: map(labels),
            annotations: map(annotations),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn argo_cd_and_flux_marks_name_the_owner_and_the_instance_label_alone_does_not() {
        let owner = |m: &ObjectMeta| gitops_owner(m).map(|o| (o.tool, o.evidence));
        assert_eq!(
            owner(&meta(
                &[("app.kubernetes.io/instance", "shop")],
                &[(ARGOCD_TRACKING_ID, "shop:apps/Deployment:prod/web")]
            )),
            Some((
                GitOpsTool::ArgoCd,
                "argocd.argoproj.io/tracking-id=shop:apps/Deployment:prod/web".into()
            ))
        );
        assert_eq!(
            owner(&meta(&[(ARGOCD_INSTANCE, "shop")], &[])),
            Some((
                GitOpsTool::ArgoCd,
                "argocd.argoproj.io/instance=shop".into()
            ))
        );
        assert_eq!(
            owner(&meta(&[], &[(ARGOCD_INSTANCE, "shop")])),
            Some((
                GitOpsTool::ArgoCd,
                "argocd.argoproj.io/instance=shop".into()
            ))
        );
        assert_eq!(
            owner(&meta(
                &[
                    (FLUX_KUSTOMIZE_NAME, "apps"),
                    (FLUX_KUSTOMIZE_NAMESPACE, "flux-system")
                ],
                &[]
            )),
            Some((
                GitOpsTool::Flux,
                "kustomize.toolkit.fluxcd.io/name=apps, kustomize.toolkit.fluxcd.io/namespace=flux-system".into()
            ))
        );
        assert_eq!(
            owner(&meta(&[(FLUX_HELM_NAME, "podinfo")], &[])),
            Some((
                GitOpsTool::Flux,
                "helm.toolkit.fluxcd.io/name=podinfo".into()
            ))
        );
        for unowned in [
            meta(&[("app.kubernetes.io/instance", "shop")], &[]),
            meta(&[("app", "web")], &[("hale.dev/fencing-token", "7")]),
            meta(&[(FLUX_KUSTOMIZE_NAME, "")], &[(ARGOCD_TRACKING_ID, "")]),
            ObjectMeta::default(),
        ] {
            assert_eq!(gitops_owner(&unowned), None, "{unowned:?}");
        }
    }
}
