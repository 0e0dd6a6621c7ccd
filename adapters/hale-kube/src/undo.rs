//! `rollout_undo`: roll a deployment back the way `kubectl rollout undo`
//! does.
//!
//! 1. GET the deployment (refuse if paused, like kubectl);
//! 2. LIST the ReplicaSets matching its selector and keep those it controls
//!    (owner reference with its uid and `controller: true`);
//! 3. pick the ReplicaSet with the previous `deployment.kubernetes.io/revision`
//!    (the second highest), or the one with `to_revision`;
//! 4. if the deployment's pod template already equals that ReplicaSet's
//!    (ignoring `pod-template-hash`), do nothing;
//! 5. PATCH the deployment with a JSON patch replacing `spec.template` by the
//!    ReplicaSet's template and the annotations as kubectl does. The patch
//!    also sets the `resourceVersion` read in step 1, which makes the API
//!    server refuse it with 409 if the deployment changed in between.
//!
//! Applied, the undo is fenced (see [`crate::fence`]): step 1 refuses a
//! deployment that records a newer fencing token, and the patch records
//! ours with the annotations. A 409 starts over from step 1, but only while
//! the deployment's `metadata.generation` is the one first read: the
//! generation moves only when the spec does, so a status update (the
//! controller's, several a second during a rollout) is retried while a
//! concurrent rollout is never undone by accident (that stays `conflict`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use hale_domain::failure::FailureClass;
use hale_engine::ports::{ActionOutcome, ExecError};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use kube::api::{Api, ListParams};
use serde_json::json;

use crate::audit::audit_record;
use crate::errors::CallKind;
use crate::executor::Ctx;
use crate::fence::{Attempt, WRITE_ATTEMPTS, attempt, retry_changed};
use crate::selector::LabelSelector;

/// The revision annotation on deployments and their ReplicaSets.
pub const REVISION: &str = "deployment.kubernetes.io/revision";

/// The label the deployment controller adds to each ReplicaSet's template.
const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// Annotations kubectl keeps from the deployment instead of copying them
/// from the ReplicaSet (`annotationsToSkip` in kubectl's rollback.go).
const ANNOTATIONS_TO_SKIP: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

fn invalid(m: String) -> ExecError {
    ExecError::new(FailureClass::InvalidAction, m)
}

fn revision(rs: &ReplicaSet) -> Option<i64> {
    rs.metadata
        .annotations
        .as_ref()?
        .get(REVISION)?
        .parse()
        .ok()
}

pub(crate) async fn rollout_undo(
    ctx: &Ctx<'_>,
    ns: &str,
    name: &str,
    to_revision: Option<i64>,
) -> Result<ActionOutcome, ExecError> {
    // A dry run writes nothing another writer could race, so it tries once.
    let attempts = if ctx.fence.is_some() {
        WRITE_ATTEMPTS
    } else {
        1
    };
    let first_generation = OnceLock::new();
    let what = format!("rollback of deployment {ns}/{name}");
    retry_changed(&what, attempts, || {
        undo_once(ctx, ns, name, to_revision, &first_generation)
    })
    .await
}

/// One read-decide-write pass of the undo.
async fn undo_once(
    ctx: &Ctx<'_>,
    ns: &str,
    name: &str,
    to_revision: Option<i64>,
    first_generation: &OnceLock<Option<i64>>,
) -> Result<Attempt<ActionOutcome>, ExecError> {
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), ns);
    let deployment = ctx
        .call(
            &format!("reading deployment {ns}/{name}"),
            CallKind::Other,
            deployments.get(name),
        )
        .await?;
    if let Some(fence) = ctx.fence {
        fence.admit(
            &format!("rollback of deployment {ns}/{name}"),
            &deployment.metadata,
        )?;
    }
    let generation = deployment.metadata.generation;
    let first = *first_generation.get_or_init(|| generation);
    if first != generation {
        return Err(ExecError::new(
            FailureClass::Conflict,
            format!(
                "rollback of deployment {ns}/{name}: its spec changed while the rollback was \
                 being written (generation {} -> {}); not rolling back over someone else's change",
                first.map_or_else(|| "?".to_owned(), |g| g.to_string()),
                generation.map_or_else(|| "?".to_owned(), |g| g.to_string()),
            ),
        ));
    }
    let spec = deployment
        .spec
        .as_ref()
        .ok_or_else(|| invalid(format!("deployment {ns}/{name} has no spec")))?;
    if spec.paused == Some(true) {
        return Err(invalid(format!(
            "deployment {ns}/{name} is paused; kubectl refuses to roll back a paused deployment \
             (resume it first)"
        )));
    }
    let uid = deployment
        .metadata
        .uid
        .as_deref()
        .ok_or_else(|| invalid(format!("deployment {ns}/{name} has no uid")))?;
    let resource_version = deployment
        .metadata
        .resource_version
        .as_deref()
        .ok_or_else(|| invalid(format!("deployment {ns}/{name} has no resourceVersion")))?;
    let selector = LabelSelector::from_k8s(&spec.selector)
        .map_err(invalid)?
        .ok_or_else(|| invalid(format!("deployment {ns}/{name} has an empty selector")))?;

    let replica_sets: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), ns);
    let list = ctx
        .call(
            &format!("listing replicasets of deployment {ns}/{name}"),
            CallKind::Other,
            replica_sets.list(&ListParams::default().labels(&selector.to_string())),
        )
        .await?;
    let owned: Vec<ReplicaSet> = list
        .items
        .into_iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid && o.controller == Some(true) && o.kind == "Deployment")
        })
        .collect();

    let (rs, rev) = pick(&owned, to_revision).ok_or_else(|| {
        let gone = |m: String| ExecError::new(FailureClass::TargetGone, m);
        match to_revision {
            Some(r) => gone(format!("deployment {ns}/{name} has no revision {r}")),
            None => gone(format!(
                "deployment {ns}/{name} has no previous revision to roll back to"
            )),
        }
    })?;

    let mut template: PodTemplateSpec = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .ok_or_else(|| invalid(format!("revision {rev} of {ns}/{name} has no pod template")))?;
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(POD_TEMPLATE_HASH);
    }
    if template == spec.template {
        return Ok(Attempt::Done(ActionOutcome {
            message: format!(
                "deployment {ns}/{name}: skipped rollback (current template already matches \
                 revision {rev})"
            ),
            response: None,
            pods_disrupted: 0,
        }));
    }

    let mut annotations: BTreeMap<String, String> = BTreeMap::new();
    let current = deployment.metadata.annotations.clone().unwrap_or_default();
    for k in ANNOTATIONS_TO_SKIP {
        if let Some(v) = current.get(k) {
            annotations.insert(k.to_owned(), v.clone());
        }
    }
    for (k, v) in rs.metadata.annotations.iter().flatten() {
        if !ANNOTATIONS_TO_SKIP.contains(&k.as_str()) {
            annotations.insert(k.clone(), v.clone());
        }
    }
    // The ReplicaSet may carry the token of the write that created it (the
    // controller copies a deployment's annotations); ours replaces it.
    if let Some(fence) = ctx.fence {
        for (k, v) in fence.annotations() {
            annotations.insert(k.to_owned(), v);
        }
    }
    let patch = json!([
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "add", "path": "/metadata/annotations", "value": annotations},
        {"op": "replace", "path": "/metadata/resourceVersion", "value": resource_version},
    ]);
    let what = format!("rollback of deployment {ns}/{name} to revision {rev}");
    let written = attempt(
        ctx.call(&what, CallKind::Other, json_patch(ctx, ns, name, &patch))
            .await,
    )?;
    Ok(written.map(|patched| ActionOutcome {
        message: format!("deployment {ns}/{name} rolled back to revision {rev}"),
        response: audit_record(&patched),
        pods_disrupted: 0,
    }))
}

/// kubectl's choice: the given revision, or the second-highest one.
fn pick(owned: &[ReplicaSet], to_revision: Option<i64>) -> Option<(&ReplicaSet, i64)> {
    let mut by_rev: Vec<(&ReplicaSet, i64)> = owned
        .iter()
        .filter_map(|rs| revision(rs).map(|r| (rs, r)))
        .collect();
    by_rev.sort_by_key(|(_, r)| std::cmp::Reverse(*r));
    match to_revision {
        Some(want) => by_rev.into_iter().find(|(_, r)| *r == want),
        None => by_rev.into_iter().nth(1),
    }
}

/// A JSON patch (`application/json-patch+json`). kube-rs only offers it
/// behind its `jsonpatch` feature, which pulls in another crate for one
/// request shape; the request is built here instead.
async fn json_patch(
    ctx: &Ctx<'_>,
    ns: &str,
    name: &str,
    patch: &serde_json::Value,
) -> Result<Deployment, kube::Error> {
    let mut url = format!("/apis/apps/v1/namespaces/{ns}/deployments/{name}?");
    if ctx.dry_run {
        url.push_str("dryRun=All&");
    }
    url.push_str("fieldManager=");
    url.push_str(&form_escape(&ctx.config.field_manager));
    let request = http::Request::patch(url)
        .header(http::header::CONTENT_TYPE, "application/json-patch+json")
        .header(http::header::ACCEPT, "application/json")
        .body(patch.to_string().into_bytes())
        .map_err(kube::Error::HttpError)?;
    ctx.client.request::<Deployment>(request).await
}

/// Percent-encodes a query value (the field manager is configuration, so
/// it may hold anything).
fn form_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
