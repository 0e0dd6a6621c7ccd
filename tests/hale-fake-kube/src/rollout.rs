//! What the workload controllers would do: rollout status and a
//! deployment's ReplicaSets.
//!
//! After a change to a workload's spec, its status shows a rollout in
//! progress; it converges to complete immediately or after a configured
//! number of GETs (see `FakeConfig::rollout_after_gets`). A change to a
//! deployment's pod template creates (or re-activates) the ReplicaSet for
//! that template with the next `deployment.kubernetes.io/revision`, as the
//! deployment controller does, so `rollout undo` has real history to use.

use serde_json::{Value, json};

use crate::store::{CREATED_AT, Key, Resource, Store};

/// The revision annotation.
pub const REVISION: &str = "deployment.kubernetes.io/revision";

fn spec_replicas(obj: &Value) -> i64 {
    obj["spec"]["replicas"].as_i64().unwrap_or(1)
}

fn generation(obj: &Value) -> i64 {
    obj["metadata"]["generation"].as_i64().unwrap_or(1)
}

/// Sets a finished rollout's status. `nodes` sizes a daemonset when its
/// status does not say how many pods it should run.
pub(crate) fn complete(resource: Resource, obj: &mut Value, nodes: usize) {
    let generation_now = generation(obj);
    let n = spec_replicas(obj);
    match resource {
        Resource::Deployment => {
            obj["status"] = json!({
                "observedGeneration": generation_now,
                "replicas": n, "updatedReplicas": n, "readyReplicas": n, "availableReplicas": n,
                "conditions": [
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                     "message": "Deployment has minimum availability.",
                     "lastUpdateTime": CREATED_AT, "lastTransitionTime": CREATED_AT},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                     "message": "ReplicaSet has successfully progressed.",
                     "lastUpdateTime": CREATED_AT, "lastTransitionTime": CREATED_AT}
                ]
            });
        }
        Resource::StatefulSet => {
            let revision = format!(
                "{}-{}",
                obj["metadata"]["name"].as_str().unwrap_or("sts"),
                generation_now
            );
            obj["status"] = json!({
                "observedGeneration": generation_now,
                "replicas": n, "readyReplicas": n, "currentReplicas": n, "updatedReplicas": n,
                "availableReplicas": n,
                "currentRevision": revision, "updateRevision": revision, "collisionCount": 0
            });
        }
        Resource::DaemonSet => {
            let desired = obj["status"]["desiredNumberScheduled"]
                .as_i64()
                .unwrap_or(nodes.max(1) as i64);
            obj["status"] = json!({
                "observedGeneration": generation_now,
                "desiredNumberScheduled": desired, "currentNumberScheduled": desired,
                "numberMisscheduled": 0, "numberReady": desired,
                "updatedNumberScheduled": desired, "numberAvailable": desired
            });
        }
        _ => {}
    }
}

/// Sets an in-progress rollout's status: the new spec is observed, but not
/// every replica runs it yet.
pub(crate) fn progressing(resource: Resource, obj: &mut Value) {
    let generation_now = generation(obj);
    let n = spec_replicas(obj);
    match resource {
        Resource::Deployment => {
            obj["status"]["observedGeneration"] = json!(generation_now);
            obj["status"]["replicas"] = json!(n + 1);
            obj["status"]["updatedReplicas"] = json!(0);
            obj["status"]["availableReplicas"] = json!(n);
        }
        Resource::StatefulSet => {
            let name = obj["metadata"]["name"].as_str().unwrap_or("sts").to_owned();
            obj["status"]["observedGeneration"] = json!(generation_now);
            obj["status"]["replicas"] = json!(n);
            obj["status"]["updatedReplicas"] = json!(0);
            obj["status"]["readyReplicas"] = json!((n - 1).max(0));
            obj["status"]["updateRevision"] = json!(format!("{name}-{generation_now}"));
        }
        Resource::DaemonSet => {
            obj["status"]["observedGeneration"] = json!(generation_now);
            obj["status"]["updatedNumberScheduled"] = json!(0);
        }
        _ => {}
    }
}

/// FNV-1a of the template's JSON, as a 10-character pod-template-hash.
pub fn template_hash(template: &Value) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in template.to_string().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:010x}", h & 0xff_ffff_ffff)
}

fn without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t["metadata"]["labels"].as_object_mut() {
        labels.remove("pod-template-hash");
    }
    t
}

fn revision_of(obj: &Value) -> i64 {
    obj["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// Makes the deployment's current template the newest revision: reuse the
/// ReplicaSet with that template (bumping its revision if it was an old
/// one) or create one.
pub(crate) fn sync_replicasets(store: &mut Store, deploy: &Key) {
    let Some(d) = store.get(deploy).cloned() else {
        return;
    };
    let uid = d["metadata"]["uid"].as_str().unwrap_or("").to_owned();
    let template = d["spec"]["template"].clone();
    let owned: Vec<(Key, Value)> = store
        .list(Resource::ReplicaSet, &deploy.namespace)
        .into_iter()
        .filter(|(_, rs)| {
            rs["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|o| {
                    o.iter()
                        .any(|r| r["uid"] == uid.as_str() && r["controller"] == true)
                })
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let max_rev = owned
        .iter()
        .map(|(_, rs)| revision_of(rs))
        .max()
        .unwrap_or(0);
    let matching = owned
        .iter()
        .find(|(_, rs)| without_hash(&rs["spec"]["template"]) == template);

    let current_rev = match matching {
        Some((_, rs)) if revision_of(rs) == max_rev => max_rev,
        Some((key, _)) => {
            let rv = store.next_rv();
            if let Some(rs) = store.get_mut(key) {
                rs["metadata"]["annotations"][REVISION] = json!((max_rev + 1).to_string());
                rs["metadata"]["resourceVersion"] = json!(rv);
            }
            max_rev + 1
        }
        None => {
            let hash = template_hash(&template);
            let mut rs_template = template.clone();
            rs_template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
            let mut selector = d["spec"]["selector"].clone();
            selector["matchLabels"]["pod-template-hash"] = json!(hash);
            let rs = json!({
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": format!("{}-{hash}", deploy.name),
                    "namespace": deploy.namespace,
                    "labels": rs_template["metadata"]["labels"].clone(),
                    "annotations": {REVISION: (max_rev + 1).to_string()},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                        "name": deploy.name, "uid": uid, "controller": true,
                        "blockOwnerDeletion": true}]
                },
                "spec": {"replicas": spec_replicas(&d), "selector": selector, "template": rs_template}
            });
            // Seeding fills uid, resourceVersion and timestamps; it cannot
            // fail for this well-formed object.
            let _ = store.seed(rs);
            max_rev + 1
        }
    };
    if let Some(d) = store.get_mut(deploy) {
        d["metadata"]["annotations"][REVISION] = json!(current_rev.to_string());
    }
}
