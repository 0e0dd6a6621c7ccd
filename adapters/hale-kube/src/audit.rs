//! What of a Kubernetes object goes into the audit log: an allow-list.
//!
//! The API server answers a patch with the whole object, and a whole
//! Deployment carries its containers' `env` values, the
//! `kubectl.kubernetes.io/last-applied-configuration` annotation (the
//! manifest as applied, secrets and all) and whatever else the owners put
//! there. The audit log is readable with any viewer token, so only what
//! says which object Hale changed and how is kept:
//!
//! * `apiVersion`, `kind`;
//! * `metadata`: `name`, `namespace`, `resourceVersion`, `generation`, and
//!   the annotations Hale writes (`hale.dev/*`);
//! * `spec.replicas`, `spec.unschedulable` (what scale and cordon change),
//!   and the pod template's annotations Hale writes
//!   (`kubectl.kubernetes.io/restartedAt`, `hale.dev/*`);
//! * `status.replicas`, `status.observedGeneration`.
//!
//! Everything else, including labels, is dropped. The kept fields sit
//! where Kubernetes has them, so `response.spec.template.metadata
//! .annotations["kubectl.kubernetes.io/restartedAt"]` reads as it would on
//! the object.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::ops::RESTARTED_AT;

/// The prefix of the annotations Hale itself writes.
pub const HALE_ANNOTATION_PREFIX: &str = "hale.dev/";

/// Whether Hale wrote this annotation (and may therefore record it).
fn written_by_hale(key: &str) -> bool {
    key.starts_with(HALE_ANNOTATION_PREFIX) || key == RESTARTED_AT
}

/// Copies `keys` of `from` that are present into a new object.
fn pick(from: &Value, keys: &[&str]) -> Map<String, Value> {
    keys.iter()
        .filter_map(|k| from.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect()
}

/// The annotations of `meta` that Hale wrote, if any.
fn hale_annotations(meta: &Value) -> Option<Value> {
    let kept: Map<String, Value> = meta
        .get("annotations")?
        .as_object()?
        .iter()
        .filter(|(k, _)| written_by_hale(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!kept.is_empty()).then_some(Value::Object(kept))
}

/// `metadata` reduced to identity, version and Hale's annotations.
fn metadata(meta: &Value) -> Map<String, Value> {
    let mut out = pick(
        meta,
        &["name", "namespace", "resourceVersion", "generation"],
    );
    if let Some(a) = hale_annotations(meta) {
        out.insert("annotations".into(), a);
    }
    out
}

/// The allow-listed record of an object (see the module docs); `None` if
/// it does not serialize to a JSON object.
pub fn audit_record<T: Serialize>(obj: &T) -> Option<Value> {
    let v = serde_json::to_value(obj).ok()?;
    let v = v.as_object()?;
    let mut out = Map::new();
    for k in ["apiVersion", "kind"] {
        if let Some(x) = v.get(k) {
            out.insert(k.into(), x.clone());
        }
    }
    if let Some(meta) = v.get("metadata") {
        out.insert("metadata".into(), Value::Object(metadata(meta)));
    }
    if let Some(spec) = v.get("spec") {
        let mut s = pick(spec, &["replicas", "unschedulable"]);
        if let Some(a) = spec
            .get("template")
            .and_then(|t| t.get("metadata"))
            .and_then(hale_annotations)
        {
            s.insert(
                "template".into(),
                serde_json::json!({"metadata": {"annotations": a}}),
            );
        }
        if !s.is_empty() {
            out.insert("spec".into(), Value::Object(s));
        }
    }
    if let Some(status) = v.get("status") {
        let s = pick(status, &["replicas", "observedGeneration"]);
        if !s.is_empty() {
            out.insert("status".into(), Value::Object(s));
        }
    }
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_the_allow_list_is_recorded() {
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "name": "checkout", "namespace": "prod", "uid": "u-1",
                "resourceVersion": "42", "generation": 7,
                "labels": {"team": "payments"},
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": "{\"env\":\"DB_PASSWORD=hunter2\"}",
                    "hale.dev/fencing-token": "17",
                    "deployment.kubernetes.io/revision": "3"
                },
                "managedFields": [{"manager": "kubectl"}]
            },
            "spec": {
                "replicas": 3,
                "template": {
                    "metadata": {"annotations": {
                        "kubectl.kubernetes.io/restartedAt": "2026-11-25T00:00:00Z",
                        "vault.hashicorp.com/agent-inject-secret": "db"
                    }},
                    "spec": {"containers": [{"name": "app", "env": [
                        {"name": "DB_PASSWORD", "value": "hunter2"}
                    ]}]}
                }
            },
            "status": {"replicas": 3, "observedGeneration": 7, "conditions": [{"message": "x"}]}
        });
        let rec = audit_record(&deployment).unwrap();
        assert_eq!(
            rec,
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {
                    "name": "checkout", "namespace": "prod",
                    "resourceVersion": "42", "generation": 7,
                    "annotations": {"hale.dev/fencing-token": "17"}
                },
                "spec": {
                    "replicas": 3,
                    "template": {"metadata": {"annotations": {
                        "kubectl.kubernetes.io/restartedAt": "2026-11-25T00:00:00Z"
                    }}}
                },
                "status": {"replicas": 3, "observedGeneration": 7}
            })
        );
        assert!(!rec.to_string().contains("hunter2"));
    }

    #[test]
    fn nodes_and_scales_keep_what_the_action_changed() {
        let node = json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "n1", "resourceVersion": "9"},
            "spec": {"unschedulable": true, "providerID": "aws:///i-1"},
            "status": {"addresses": [{"address": "10.0.0.1"}]}});
        assert_eq!(
            audit_record(&node).unwrap(),
            json!({"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": "n1", "resourceVersion": "9"},
                "spec": {"unschedulable": true}})
        );
        let scale = json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
            "metadata": {"name": "api", "namespace": "prod"},
            "spec": {"replicas": 5}, "status": {"replicas": 3, "selector": "app=api"}});
        assert_eq!(audit_record(&scale).unwrap()["spec"]["replicas"], 5);
        assert_eq!(
            audit_record(&scale).unwrap()["status"],
            json!({"replicas": 3})
        );
        assert_eq!(audit_record(&json!("text")), None);
    }
}
