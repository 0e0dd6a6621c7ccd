//! The object store: Kubernetes objects as JSON, keyed by resource,
//! namespace and name, with resource versions, uids and generations.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::rollout;

/// The resources the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` StatefulSet.
    StatefulSet,
    /// `apps/v1` DaemonSet.
    DaemonSet,
    /// `apps/v1` ReplicaSet.
    ReplicaSet,
    /// `v1` Pod.
    Pod,
    /// `policy/v1` PodDisruptionBudget.
    PodDisruptionBudget,
    /// `v1` Node (cluster-scoped).
    Node,
}

impl Resource {
    /// Every resource.
    pub const ALL: [Resource; 7] = [
        Resource::Deployment,
        Resource::StatefulSet,
        Resource::DaemonSet,
        Resource::ReplicaSet,
        Resource::Pod,
        Resource::PodDisruptionBudget,
        Resource::Node,
    ];

    /// The `kind` field.
    pub fn kind(self) -> &'static str {
        match self {
            Resource::Deployment => "Deployment",
            Resource::StatefulSet => "StatefulSet",
            Resource::DaemonSet => "DaemonSet",
            Resource::ReplicaSet => "ReplicaSet",
            Resource::Pod => "Pod",
            Resource::PodDisruptionBudget => "PodDisruptionBudget",
            Resource::Node => "Node",
        }
    }

    /// The `apiVersion` field.
    pub fn api_version(self) -> &'static str {
        match self {
            Resource::Deployment
            | Resource::StatefulSet
            | Resource::DaemonSet
            | Resource::ReplicaSet => "apps/v1",
            Resource::Pod | Resource::Node => "v1",
            Resource::PodDisruptionBudget => "policy/v1",
        }
    }

    /// The plural used in URL paths.
    pub fn plural(self) -> &'static str {
        match self {
            Resource::Deployment => "deployments",
            Resource::StatefulSet => "statefulsets",
            Resource::DaemonSet => "daemonsets",
            Resource::ReplicaSet => "replicasets",
            Resource::Pod => "pods",
            Resource::PodDisruptionBudget => "poddisruptionbudgets",
            Resource::Node => "nodes",
        }
    }

    /// Whether objects live in a namespace.
    pub fn namespaced(self) -> bool {
        self != Resource::Node
    }

    /// A resource by its `kind`.
    pub fn from_kind(kind: &str) -> Option<Resource> {
        Resource::ALL.into_iter().find(|r| r.kind() == kind)
    }

    /// A resource by API group/version and plural, as in a URL.
    pub fn from_path(group_version: &str, plural: &str) -> Option<Resource> {
        Resource::ALL
            .into_iter()
            .find(|r| r.api_version() == group_version && r.plural() == plural)
    }

    /// Whether it is a workload with a rollout status.
    pub fn is_workload(self) -> bool {
        matches!(
            self,
            Resource::Deployment | Resource::StatefulSet | Resource::DaemonSet
        )
    }
}

/// Where an object lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// Its resource.
    pub resource: Resource,
    /// Its namespace (empty for cluster-scoped objects).
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl Key {
    /// A key; the namespace is dropped for cluster-scoped resources.
    pub fn new(resource: Resource, namespace: &str, name: &str) -> Key {
        Key {
            resource,
            namespace: if resource.namespaced() {
                namespace.to_owned()
            } else {
                String::new()
            },
            name: name.to_owned(),
        }
    }
}

/// The objects and the counters that stamp them.
#[derive(Debug, Default)]
pub struct Store {
    objects: BTreeMap<Key, Value>,
    last_rv: u64,
    last_uid: u64,
}

/// A seed object was malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedError(pub String);

impl std::fmt::Display for SeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SeedError {}

/// The fixed creation time of every object (the fake has no clock).
pub const CREATED_AT: &str = "2026-01-01T00:00:00Z";

impl Store {
    /// The next resource version.
    pub fn next_rv(&mut self) -> String {
        self.last_rv += 1;
        self.last_rv.to_string()
    }

    /// The current resource version (for lists).
    pub fn current_rv(&self) -> String {
        self.last_rv.to_string()
    }

    fn next_uid(&mut self) -> String {
        self.last_uid += 1;
        format!("00000000-0000-4000-8000-{:012x}", self.last_uid)
    }

    /// An object by key.
    pub fn get(&self, key: &Key) -> Option<&Value> {
        self.objects.get(key)
    }

    /// A mutable object by key.
    pub fn get_mut(&mut self, key: &Key) -> Option<&mut Value> {
        self.objects.get_mut(key)
    }

    /// Stores `obj` under `key`, replacing any previous object.
    pub fn put(&mut self, key: Key, obj: Value) {
        self.objects.insert(key, obj);
    }

    /// Removes an object.
    pub fn remove(&mut self, key: &Key) -> Option<Value> {
        self.objects.remove(key)
    }

    /// Objects of a resource in a namespace (all namespaces for cluster
    /// resources), in name order.
    pub fn list(&self, resource: Resource, namespace: &str) -> Vec<(&Key, &Value)> {
        self.objects
            .iter()
            .filter(|(k, _)| {
                k.resource == resource && (!resource.namespaced() || k.namespace == namespace)
            })
            .collect()
    }

    /// Every object, in key order.
    pub fn all(&self) -> impl Iterator<Item = (&Key, &Value)> {
        self.objects.iter()
    }

    /// Adds or replaces an object, filling in what the API server would
    /// (uid, resourceVersion, generation, creationTimestamp, a complete
    /// rollout status, the first ReplicaSet of a deployment).
    pub fn seed(&mut self, mut obj: Value) -> Result<Key, SeedError> {
        let kind = obj["kind"]
            .as_str()
            .ok_or_else(|| SeedError("object has no kind".to_owned()))?
            .to_owned();
        let kind = kind.as_str();
        let resource = Resource::from_kind(kind)
            .ok_or_else(|| SeedError(format!("kind {kind:?} is not served by the fake")))?;
        let name = obj["metadata"]["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| SeedError(format!("{kind} has no metadata.name")))?
            .to_owned();
        let namespace = obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        if resource.namespaced() && namespace.is_empty() {
            return Err(SeedError(format!(
                "{kind} {name} has no metadata.namespace (the fake has no default namespace)"
            )));
        }
        crate::patch::check_shape(&obj, resource.is_workload())
            .map_err(|e| SeedError(format!("{kind} {name}: {e}")))?;
        obj["apiVersion"] = json!(resource.api_version());
        let rv = self.next_rv();
        let uid = self.next_uid();
        let meta = obj["metadata"]
            .as_object_mut()
            .ok_or_else(|| SeedError(format!("{kind} {name}: metadata is not an object")))?;
        meta.entry("uid").or_insert(json!(uid));
        meta.insert("resourceVersion".to_owned(), json!(rv));
        meta.entry("creationTimestamp").or_insert(json!(CREATED_AT));
        if resource.is_workload() || resource == Resource::ReplicaSet {
            meta.entry("generation").or_insert(json!(1));
        }
        let key = Key::new(resource, &namespace, &name);
        if resource.is_workload() && obj.get("status").is_none_or(Value::is_null) {
            let nodes = self.list(Resource::Node, "").len();
            rollout::complete(resource, &mut obj, nodes);
        }
        self.put(key.clone(), obj);
        if resource == Resource::Deployment {
            rollout::sync_replicasets(self, &key);
        }
        Ok(key)
    }
}
