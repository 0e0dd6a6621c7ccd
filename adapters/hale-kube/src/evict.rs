//! `evict_pod`: the Eviction API, so PodDisruptionBudgets hold.
//!
//! A workload target's pods are picked by the strategy's label selector,
//! and only pods whose controller chain leads to the target may go: a
//! selector that also matches another owner's pods (or bare pods) is
//! refused whole as `invalid_action`, naming them, before anything is
//! written ([`crate::ownership`]).
//!
//! An eviction is a POST of a `policy/v1` `Eviction` to the pod's
//! `eviction` subresource. The API server refuses it with 429 when a
//! PodDisruptionBudget would be violated, which surfaces as
//! `budget_blocked`. A plain DELETE, which ignores budgets, is used only
//! when the strategy sets `allow_delete = true`.
//!
//! Fencing (applied evictions only; see [`crate::fence`]): the fencing
//! token is recorded on the strategy's target before any pod goes. For a
//! workload target that is a fenced write of the workload (refused as
//! `fenced` if the workload records a newer token), then its pods are
//! evicted. For a pod target it is a fenced write of the pod itself, and
//! the eviction then carries `preconditions` with the uid and
//! `resourceVersion` that write left, so the pod is removed only if no one
//! wrote it since; a 409 starts over from the read.

use hale_domain::failure::FailureClass;
use hale_engine::ports::{ActionOutcome, ExecError};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Preconditions};
use serde_json::json;

use crate::actions::{PodSelection, WorkloadKind};
use crate::errors::CallKind;
use crate::executor::Ctx;
use crate::fence::{Attempt, Fence, WRITE_ATTEMPTS, attempt, retry_changed};
use crate::ops::patch_workload;
use crate::ownership;
use crate::write::{PatchKind, patch_once};

/// Evicts (or deletes) the target pod, or the pods of the workload
/// `owner` that `selection` picks.
pub(crate) async fn evict_pods(
    ctx: &Ctx<'_>,
    ns: &str,
    target: &str,
    owner: Option<WorkloadKind>,
    selection: &PodSelection,
    max_pods: u32,
    allow_delete: bool,
) -> Result<ActionOutcome, ExecError> {
    let verb = if allow_delete { "deleted" } else { "evicted" };
    let pods = match selection {
        PodSelection::Named => vec![target.to_owned()],
        PodSelection::Selector(sel) => {
            let api: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
            let lp = ListParams::default().labels(&sel.to_string());
            let list = ctx
                .call(
                    &format!("listing pods {sel:?} in {ns}"),
                    CallKind::Other,
                    api.list(&lp),
                )
                .await?;
            let names: Vec<String> = list
                .items
                .iter()
                .filter_map(|p| p.metadata.name.clone())
                .collect();
            if names.is_empty() {
                return Err(ExecError::new(
                    FailureClass::TargetGone,
                    format!(
                        "selector {:?} matched no pods in namespace {ns}",
                        sel.to_string()
                    ),
                ));
            }
            if names.len() > max_pods as usize {
                return Err(ExecError::new(
                    FailureClass::InvalidAction,
                    format!(
                        "selector {:?} matched {} pods in {ns}, more than max_pods = {max_pods}; \
                         nothing was evicted",
                        sel.to_string(),
                        names.len()
                    ),
                ));
            }
            // Only pods of the alert's target go; a selector that also
            // matches another owner's pods is refused whole.
            if let Some(workload) = owner {
                let selector = sel.to_string();
                let foreign =
                    ownership::foreign_pods(ctx, &selector, ns, target, workload, &list.items)
                        .await?;
                if !foreign.is_empty() {
                    return Err(ownership::refusal(
                        &selector, ns, target, workload, &foreign,
                    ));
                }
            }
            names
        }
    };

    if let (Some(workload), Some(_)) = (owner, ctx.fence) {
        // The owner's token before any pod goes (and after the selection
        // is known to be valid, so a refused eviction writes nothing): a
        // newer holder of the workload's lock stops this eviction here.
        let what = format!(
            "recording the fencing token on {} {ns}/{target} before its pods are {verb}",
            workload.as_str()
        );
        patch_workload(
            ctx,
            ns,
            target,
            workload,
            &what,
            PatchKind::Merge,
            json!({}),
        )
        .await?;
    }
    let mut done = Vec::with_capacity(pods.len());
    for pod in &pods {
        let result = match (selection, ctx.fence) {
            (PodSelection::Named, Some(fence)) => {
                remove_fenced(ctx, fence, ns, pod, allow_delete).await
            }
            _ => remove(ctx, ns, pod, allow_delete, None).await,
        };
        match result {
            Ok(()) => done.push(pod.clone()),
            Err(mut e) => {
                if !done.is_empty() {
                    e.message = format!(
                        "{} ({verb} {} of {} pods first: {done:?})",
                        e.message,
                        done.len(),
                        pods.len()
                    );
                }
                e.response = Some(json!({ verb: done, "failed": pod, "status": e.response }));
                return Err(e);
            }
        }
    }
    Ok(ActionOutcome {
        message: format!("{verb} {} pod(s) in {ns}: {done:?}", done.len()),
        response: Some(json!({ verb: done })),
        pods_disrupted: u32::try_from(done.len()).unwrap_or(u32::MAX),
    })
}

/// Pod names from the API are DNS subdomains; refuse anything else rather
/// than put it in a URL path.
fn path_segment_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// Records our token on the pod, then removes it on condition that no one
/// wrote it since; a 409 from either write starts over from the read.
async fn remove_fenced(
    ctx: &Ctx<'_>,
    fence: Fence<'_>,
    ns: &str,
    pod: &str,
    allow_delete: bool,
) -> Result<(), ExecError> {
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let what = format!(
        "{} of pod {ns}/{pod}",
        if allow_delete { "delete" } else { "eviction" }
    );
    let (api, what, body) = (&api, what.as_str(), &json!({}));
    retry_changed(what, WRITE_ATTEMPTS, || async move {
        let annotated = match patch_once(ctx, fence, api, pod, what, PatchKind::Merge, body).await?
        {
            Attempt::Done(p) => p,
            Attempt::Changed(e) => return Ok(Attempt::Changed(e)),
        };
        let pre = Preconditions {
            uid: annotated.metadata.uid,
            resource_version: annotated.metadata.resource_version,
        };
        attempt(remove(ctx, ns, pod, allow_delete, Some(pre)).await)
    })
    .await
}

/// An eviction, or with `allow_delete` a plain delete, of one pod.
async fn remove(
    ctx: &Ctx<'_>,
    ns: &str,
    pod: &str,
    allow_delete: bool,
    preconditions: Option<Preconditions>,
) -> Result<(), ExecError> {
    if allow_delete {
        delete(ctx, ns, pod, preconditions).await
    } else {
        evict(ctx, ns, pod, preconditions).await
    }
}

async fn evict(
    ctx: &Ctx<'_>,
    ns: &str,
    pod: &str,
    preconditions: Option<Preconditions>,
) -> Result<(), ExecError> {
    if !path_segment_ok(pod) || !path_segment_ok(ns) {
        return Err(ExecError::new(
            FailureClass::InvalidAction,
            format!("refusing to evict pod {pod:?} in {ns:?}: not a valid object name"),
        ));
    }
    // kube-rs's `Api::evict` sends a body without `apiVersion`/`kind`; the
    // request is built here so the API server gets a proper policy/v1
    // Eviction. `dryRun=All` on the query applies to the eviction's delete.
    let mut url = format!("/api/v1/namespaces/{ns}/pods/{pod}/eviction");
    if ctx.dry_run {
        url.push_str("?dryRun=All");
    }
    let mut body = json!({
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": pod, "namespace": ns},
    });
    if let Some(pre) = preconditions {
        body["deleteOptions"] = json!({"preconditions": pre});
    }
    let what = format!("eviction of pod {ns}/{pod}");
    let request = http::Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(body.to_string().into_bytes())
        .map_err(|e| ExecError::new(FailureClass::InvalidAction, format!("{what}: {e}")))?;
    ctx.call(
        &what,
        CallKind::Eviction,
        ctx.client.request::<serde_json::Value>(request),
    )
    .await?;
    Ok(())
}

async fn delete(
    ctx: &Ctx<'_>,
    ns: &str,
    pod: &str,
    preconditions: Option<Preconditions>,
) -> Result<(), ExecError> {
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let dp = DeleteParams {
        dry_run: ctx.dry_run,
        preconditions,
        ..DeleteParams::default()
    };
    ctx.call(
        &format!("delete of pod {ns}/{pod} (allow_delete: bypasses PodDisruptionBudgets)"),
        CallKind::Other,
        api.delete(pod, &dp),
    )
    .await?;
    Ok(())
}
