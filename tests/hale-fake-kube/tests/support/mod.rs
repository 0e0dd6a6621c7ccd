//! Shared pieces of the fake server's HTTP tests.

// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use hale_fake_kube::{FakeConfig, FakeKube};
use serde_json::{Value, json};

pub(crate) const MERGE: &str = "application/merge-patch+json";
pub(crate) const STRATEGIC: &str = "application/strategic-merge-patch+json";
pub(crate) const JSON_PATCH: &str = "application/json-patch+json";
pub(crate) const DEPLOY: &str = "/apis/apps/v1/namespaces/prod/deployments/checkout";

pub(crate) fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "checkout", "namespace": "prod", "labels": {"app": "checkout"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "checkout"}},
            "template": {"metadata": {"labels": {"app": "checkout"}},
                         "spec": {"containers": [{"name": "app", "image": "checkout:1"}]}}
        }
    })
}

pub(crate) fn pod(name: &str, ready: bool) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "prod", "labels": {"app": "checkout"}},
        "spec": {"containers": [{"name": "app", "image": "checkout:1"}]},
        "status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": if ready { "True" } else { "False" }}
        ]}
    })
}

pub(crate) fn pdb(spec_extra: Value) -> Value {
    let mut spec = json!({"selector": {"matchLabels": {"app": "checkout"}}});
    for (k, v) in spec_extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "checkout-pdb", "namespace": "prod"},
        "spec": spec
    })
}

pub(crate) struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    pub(crate) fn new(fake: &FakeKube) -> Http {
        Http {
            base: fake.url(),
            client: reqwest::Client::new(),
        }
    }

    pub(crate) async fn send(&self, rb: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = rb.send().await.unwrap();
        let code = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (code, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    pub(crate) async fn patch(&self, path: &str, ct: &str, body: Value) -> (u16, Value) {
        let rb = self
            .client
            .patch(format!("{}{path}", self.base))
            .header("content-type", ct)
            .body(body.to_string());
        self.send(rb).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let rb = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        self.send(rb).await
    }

    pub(crate) async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        let rb = self
            .client
            .put(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        self.send(rb).await
    }

    pub(crate) async fn delete(&self, path: &str, body: Value) -> (u16, Value) {
        let rb = self
            .client
            .delete(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        self.send(rb).await
    }
}

pub(crate) async fn fake(config: FakeConfig) -> (FakeKube, Http) {
    let fake = FakeKube::start("127.0.0.1:0", config).await.unwrap();
    let http = Http::new(&fake);
    (fake, http)
}

pub(crate) fn eviction(name: &str) -> Value {
    json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": "prod"}})
}
