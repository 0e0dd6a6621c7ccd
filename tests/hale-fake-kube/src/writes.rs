//! PATCH and PUT of objects and PATCH of the scale subresource, with
//! optimistic concurrency, validation, generations, dry runs and rollouts.
//!
//! Optimistic concurrency is the API server's: a write whose body names a
//! `metadata.resourceVersion` other than the stored one is refused with 409
//! `Conflict` and changes nothing, and every stored write gets a new,
//! larger resource version.

use serde_json::{Value, json};

use crate::api::{Answer, Request, conflict, describe, failure, not_found};
use crate::patch::{check_shape, json_patch, merge};
use crate::rollout;
use crate::state::State;
use crate::store::{Key, Resource};

/// Applies a PATCH body of the given content type to `doc`.
fn apply_patch(doc: &mut Value, req: Request<'_>) -> Result<(), Answer> {
    let patch: Value = serde_json::from_slice(req.body)
        .map_err(|e| failure(400, &format!("error decoding patch: {e}")))?;
    let ct = req
        .content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    match ct {
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            merge(doc, &patch);
            Ok(())
        }
        "application/json-patch+json" => json_patch(doc, &patch)
            .map_err(|e| failure(422, &format!("the patch could not be applied: {e}"))),
        other => Err(failure(
            415,
            &format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {other:?})"
            ),
        )),
    }
}

fn stale(key: &Key) -> Answer {
    conflict(
        key,
        "the object has been modified; please apply your changes to the latest version and try again",
    )
}

/// Stores `new` in place of `current` (or only returns it for a dry run):
/// bumps the generation on spec changes, the resource version, and starts
/// the rollout and ReplicaSet bookkeeping for workloads.
fn commit(state: &mut State, key: &Key, current: &Value, mut new: Value, dry_run: bool) -> Value {
    let spec_changed = new["spec"] != current["spec"];
    if spec_changed && new["metadata"]["generation"].is_i64() {
        let g = new["metadata"]["generation"].as_i64().unwrap_or(1);
        new["metadata"]["generation"] = json!(g + 1);
    }
    if dry_run {
        return new;
    }
    new["metadata"]["resourceVersion"] = json!(state.store.next_rv());
    if spec_changed && key.resource.is_workload() {
        if state.config.rollout_after_gets == 0 {
            let nodes = state.store.list(Resource::Node, "").len();
            rollout::complete(key.resource, &mut new, nodes);
        } else {
            rollout::progressing(key.resource, &mut new);
            state
                .pending_rollouts
                .insert(key.clone(), state.config.rollout_after_gets);
        }
    }
    let template_changed = new["spec"]["template"] != current["spec"]["template"];
    state.store.put(key.clone(), new);
    if key.resource == Resource::Deployment && template_changed {
        rollout::sync_replicasets(&mut state.store, key);
    }
    state.store.get(key).cloned().unwrap_or(Value::Null)
}

/// PATCH of an object.
pub(crate) fn patch(state: &mut State, key: &Key, req: Request<'_>) -> Answer {
    let Some(current) = state.store.get(key).cloned() else {
        return not_found(key);
    };
    let mut new = current.clone();
    if let Err(a) = apply_patch(&mut new, req) {
        return a;
    }
    // A changed resourceVersion in the patch is a precondition, as on the
    // real API server: the write is refused if the object moved on.
    if new["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"] {
        return stale(key);
    }
    update(state, key, &current, new, req.dry_run)
}

/// PUT of an object: the body replaces it. A `metadata.resourceVersion` in
/// the body must be the stored one (409 otherwise); without one the update
/// is unconditional, as the API server allows for these resources.
pub(crate) fn put(state: &mut State, key: &Key, req: Request<'_>) -> Answer {
    let Some(current) = state.store.get(key).cloned() else {
        return not_found(key);
    };
    let mut new: Value = match serde_json::from_slice(req.body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return failure(400, "the body of a PUT must be an object"),
        Err(e) => return failure(400, &format!("error decoding body: {e}")),
    };
    if !new["kind"].is_null() && new["kind"] != current["kind"] {
        return failure(
            400,
            &format!(
                "the kind of the object ({}) does not match the URL ({})",
                new["kind"], current["kind"]
            ),
        );
    }
    if !new["metadata"].is_object() {
        return failure(
            422,
            &format!("{} is invalid: metadata: Required value", describe(key)),
        );
    }
    match new["metadata"]["resourceVersion"].as_str() {
        None | Some("") => {}
        Some(rv) if Some(rv) == current["metadata"]["resourceVersion"].as_str() => {}
        Some(_) => return stale(key),
    }
    // What the client may leave out of a PUT is filled from the stored
    // object (what it sets differently is refused in `update`); what only
    // the server sets is the server's.
    for field in ["uid", "namespace"] {
        if new["metadata"][field].is_null() && !current["metadata"][field].is_null() {
            new["metadata"][field] = current["metadata"][field].clone();
        }
    }
    for field in ["resourceVersion", "creationTimestamp", "generation"] {
        match &current["metadata"][field] {
            Value::Null => {
                if let Some(m) = new["metadata"].as_object_mut() {
                    m.remove(field);
                }
            }
            v => new["metadata"][field] = v.clone(),
        }
    }
    update(state, key, &current, new, req.dry_run)
}

/// The checks and bookkeeping every update of an object shares.
fn update(state: &mut State, key: &Key, current: &Value, mut new: Value, dry_run: bool) -> Answer {
    for field in ["name", "namespace", "uid"] {
        if new["metadata"][field] != current["metadata"][field] {
            return failure(
                422,
                &format!(
                    "{} is invalid: metadata.{field}: field is immutable",
                    describe(key)
                ),
            );
        }
    }
    if let Err(e) = check_shape(&new, key.resource.is_workload()) {
        return failure(422, &format!("{} is invalid: {e}", describe(key)));
    }
    // The main resource ignores status changes (status is a subresource),
    // and the type is fixed.
    new["status"] = current["status"].clone();
    new["kind"] = current["kind"].clone();
    new["apiVersion"] = current["apiVersion"].clone();
    if new["status"].is_null()
        && let Some(o) = new.as_object_mut()
    {
        o.remove("status");
    }
    Answer::ok(commit(state, key, current, new, dry_run)).dry(dry_run)
}

fn scale_of(obj: &Value) -> Value {
    let selector = obj["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": obj["metadata"]["name"],
            "namespace": obj["metadata"]["namespace"],
            "uid": obj["metadata"]["uid"],
            "resourceVersion": obj["metadata"]["resourceVersion"],
            "creationTimestamp": obj["metadata"]["creationTimestamp"]
        },
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector}
    })
}

fn scalable(key: &Key) -> bool {
    matches!(key.resource, Resource::Deployment | Resource::StatefulSet)
}

/// GET of the scale subresource.
pub(crate) fn get_scale(state: &mut State, key: &Key) -> Answer {
    if !scalable(key) {
        return failure(404, "the server could not find the requested resource");
    }
    match state.store.get(key) {
        Some(obj) => Answer::ok(scale_of(obj)),
        None => not_found(key),
    }
}

/// PATCH of the scale subresource.
pub(crate) fn patch_scale(state: &mut State, key: &Key, req: Request<'_>) -> Answer {
    if !scalable(key) {
        return failure(404, "the server could not find the requested resource");
    }
    let Some(current) = state.store.get(key).cloned() else {
        return not_found(key);
    };
    let before = scale_of(&current);
    let mut scale = before.clone();
    if let Err(a) = apply_patch(&mut scale, req) {
        return a;
    }
    if scale["metadata"]["resourceVersion"] != before["metadata"]["resourceVersion"] {
        return stale(key);
    }
    let replicas = match scale["spec"]["replicas"].as_i64() {
        Some(n) if n >= 0 => n,
        _ => {
            return failure(
                422,
                &format!(
                    "Scale.autoscaling {:?} is invalid: spec.replicas: Invalid value: {}: must be greater than or equal to 0",
                    key.name, scale["spec"]["replicas"]
                ),
            );
        }
    };
    let mut new = current.clone();
    new["spec"]["replicas"] = json!(replicas);
    let stored = commit(state, key, &current, new, req.dry_run);
    Answer::ok(scale_of(&stored)).dry(req.dry_run)
}
