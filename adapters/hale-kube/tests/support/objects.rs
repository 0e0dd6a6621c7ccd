//! Kubernetes objects as the API server returns them (JSON shapes copied
//! from real `kubectl get -o json` output, trimmed of fields no code reads).

use serde_json::{Value, json};

pub(crate) const DEPLOY_UID: &str = "5f0c8a7e-3b1d-4c2e-9a55-0d8f6b1e7c21";

fn container(image: &str) -> Value {
    json!({
        "name": "app",
        "image": image,
        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent"
    })
}

fn template(app: &str, image: &str, hash: Option<&str>) -> Value {
    let mut labels = json!({"app": app});
    if let Some(h) = hash {
        labels["pod-template-hash"] = json!(h);
    }
    json!({
        "metadata": {"labels": labels},
        "spec": {
            "containers": [container(image)],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler",
            "securityContext": {}
        }
    })
}

/// A Deployment; `status` is (observedGeneration, replicas, updated, available).
pub(crate) fn deployment(
    ns: &str,
    name: &str,
    generation: i64,
    spec_replicas: i32,
    status: (i64, i32, i32, i32),
) -> Value {
    let (observed, replicas, updated, available) = status;
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": DEPLOY_UID,
            "resourceVersion": "48213",
            "generation": generation,
            "creationTimestamp": "2026-11-20T09:14:02Z",
            "labels": {"app": name},
            "annotations": {"deployment.kubernetes.io/revision": "3"},
            "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1"}]
        },
        "spec": {
            "replicas": spec_replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": template(name, "registry.example/checkout:1.4.2", None),
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600
        },
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "updatedReplicas": updated,
            "readyReplicas": available,
            "availableReplicas": available,
            "conditions": [
                {"type": "Available", "status": "True", "lastUpdateTime": "2026-11-20T09:14:30Z",
                 "lastTransitionTime": "2026-11-20T09:14:30Z", "reason": "MinimumReplicasAvailable",
                 "message": "Deployment has minimum availability."},
                {"type": "Progressing", "status": "True", "lastUpdateTime": "2026-11-23T17:18:40Z",
                 "lastTransitionTime": "2026-11-20T09:14:02Z", "reason": "NewReplicaSetAvailable",
                 "message": format!("ReplicaSet \"{name}-7d4b9c8f6d\" has successfully progressed.")}
            ]
        }
    })
}

/// A healthy, fully rolled-out deployment.
pub(crate) fn deployment_ready(ns: &str, name: &str) -> Value {
    deployment(ns, name, 4, 3, (4, 3, 3, 3))
}

pub(crate) fn statefulset(ns: &str, name: &str, ready: i32) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": ns, "uid": "0b6f3c1a-8e2d-4f7a-b1c9-2d3e4f5a6b7c",
                     "resourceVersion": "9911", "generation": 2, "creationTimestamp": "2026-11-20T09:14:02Z"},
        "spec": {
            "replicas": 3,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": template(name, "registry.example/db:15", None),
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "podManagementPolicy": "OrderedReady"
        },
        "status": {"observedGeneration": 2, "replicas": 3, "readyReplicas": ready, "currentReplicas": 3,
                   "updatedReplicas": 3, "availableReplicas": ready,
                   "currentRevision": format!("{name}-6c7d8e9f"), "updateRevision": format!("{name}-6c7d8e9f"),
                   "collisionCount": 0}
    })
}

pub(crate) fn daemonset(ns: &str, name: &str, updated: i32) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": ns, "uid": "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
                     "resourceVersion": "771", "generation": 5, "creationTimestamp": "2026-11-20T09:14:02Z"},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": template(name, "registry.example/agent:2.0", None),
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
        },
        "status": {"observedGeneration": 5, "currentNumberScheduled": 4, "numberMisscheduled": 0,
                   "desiredNumberScheduled": 4, "numberReady": 4, "updatedNumberScheduled": updated,
                   "numberAvailable": 4}
    })
}

/// A ReplicaSet of the deployment `app` at `revision`.
pub(crate) fn replicaset(ns: &str, app: &str, revision: i64, image: &str, hash: &str) -> Value {
    json!({
        "metadata": {
            "name": format!("{app}-{hash}"),
            "namespace": ns,
            "uid": format!("aaaa{revision:04}-0000-4000-8000-000000000000"),
            "resourceVersion": "40000",
            "labels": {"app": app, "pod-template-hash": hash},
            "annotations": {
                "deployment.kubernetes.io/desired-replicas": "3",
                "deployment.kubernetes.io/max-replicas": "4",
                "deployment.kubernetes.io/revision": revision.to_string()
            },
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": app,
                                 "uid": DEPLOY_UID, "controller": true, "blockOwnerDeletion": true}]
        },
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": app, "pod-template-hash": hash}},
            "template": template(app, image, Some(hash))
        },
        "status": {"replicas": 0, "observedGeneration": 2}
    })
}

/// The pod template hash of the pods [`pod`] makes.
pub(crate) const POD_TEMPLATE_HASH: &str = "7d4b9c8f6d";
/// The uid of the ReplicaSet that controls them ([`current_replicaset`]).
const CURRENT_RS_UID: &str = "aaaa0003-0000-4000-8000-000000000000";

/// The ReplicaSet of the deployment `app` (revision 3) that controls the
/// pods [`pod`] makes for `app`, as a seedable object.
pub(crate) fn current_replicaset(ns: &str, app: &str) -> Value {
    let mut rs = replicaset(
        ns,
        app,
        3,
        "registry.example/checkout:1.4.2",
        POD_TEMPLATE_HASH,
    );
    rs["apiVersion"] = json!("apps/v1");
    rs["kind"] = json!("ReplicaSet");
    rs
}

/// A running pod of the deployment `app`, controlled by its current
/// ReplicaSet ([`current_replicaset`]).
pub(crate) fn pod(ns: &str, name: &str, app: &str, ready: bool) -> Value {
    let ready = if ready { "True" } else { "False" };
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": format!("p-{name}"), "resourceVersion": "5001",
                     "labels": {"app": app, "pod-template-hash": POD_TEMPLATE_HASH},
                     "creationTimestamp": "2026-11-23T17:18:33Z",
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                         "name": format!("{app}-{POD_TEMPLATE_HASH}"), "uid": CURRENT_RS_UID,
                         "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"containers": [container("registry.example/checkout:1.4.2")], "nodeName": "node-a",
                 "restartPolicy": "Always"},
        "status": {"phase": "Running", "podIP": "10.244.1.17", "startTime": "2026-11-23T17:18:33Z",
                   "conditions": [
                       {"type": "Initialized", "status": "True", "lastTransitionTime": "2026-11-23T17:18:33Z"},
                       {"type": "Ready", "status": ready, "lastTransitionTime": "2026-11-23T17:18:41Z"},
                       {"type": "ContainersReady", "status": ready, "lastTransitionTime": "2026-11-23T17:18:41Z"},
                       {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-23T17:18:33Z"}
                   ]}
    })
}

pub(crate) fn pod_list(items: Vec<Value>) -> Value {
    // List items carry no apiVersion/kind on the wire.
    let items: Vec<Value> = items
        .into_iter()
        .map(|mut p| {
            if let Some(o) = p.as_object_mut() {
                o.remove("apiVersion");
                o.remove("kind");
            }
            p
        })
        .collect();
    json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "5100"}, "items": items})
}

pub(crate) fn replicaset_list(items: Vec<Value>) -> Value {
    json!({"kind": "ReplicaSetList", "apiVersion": "apps/v1", "metadata": {"resourceVersion": "40100"}, "items": items})
}

pub(crate) fn node(name: &str, ready: bool, unschedulable: bool) -> Value {
    let mut spec =
        json!({"podCIDR": "10.244.1.0/24", "providerID": format!("kind://docker/kind/{name}")});
    if unschedulable {
        spec["unschedulable"] = json!(true);
        spec["taints"] = json!([{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule",
                                 "timeAdded": "2026-11-23T17:20:00Z"}]);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "uid": format!("n-{name}"), "resourceVersion": "812",
                     "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"},
                     "creationTimestamp": "2026-11-01T00:00:00Z"},
        "spec": spec,
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
                 "lastHeartbeatTime": "2026-11-23T17:19:00Z", "lastTransitionTime": "2026-11-01T00:00:10Z"},
                {"type": "Ready", "status": if ready { "True" } else { "False" },
                 "reason": if ready { "KubeletReady" } else { "KubeletNotReady" },
                 "message": "kubelet is posting ready status",
                 "lastHeartbeatTime": "2026-11-23T17:19:00Z", "lastTransitionTime": "2026-11-01T00:00:10Z"}
            ],
            "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Debian GNU/Linux 12 (bookworm)",
                         "architecture": "amd64", "operatingSystem": "linux"}
        }
    })
}

/// A `Status` the API server sends with an error code.
pub(crate) fn status_failure(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code
    })
}

/// What a successful eviction returns.
pub(crate) fn eviction_created() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})
}
