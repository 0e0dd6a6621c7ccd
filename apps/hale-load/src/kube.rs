//! The fake Kubernetes API server's control endpoints: seeding the
//! deployments the strategy restarts, and reading its counters of
//! mutating requests (the executor's side of "exactly once").

use serde::Deserialize;
use serde_json::{Value, json};

use crate::alerts::{NAMESPACE, service_name};

/// A control request failed.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The fake could not be reached or answered badly.
    #[error("fake kubernetes API at {url}: {message}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
}

fn http(url: &str, e: impl std::fmt::Display) -> KubeError {
    KubeError::Http {
        url: url.to_owned(),
        message: e.to_string(),
    }
}

/// A deployment `svc-NNNN` in the load namespace, rolled out.
pub fn deployment(service: u32) -> Value {
    let name = service_name(service);
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": name}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": format!("registry.example/{name}:1.0.0")}]}
            }
        }
    })
}

/// Seeds deployments `svc-0000` .. `svc-{n-1}` (in chunks, to keep each
/// request small).
pub async fn seed_deployments(
    client: &reqwest::Client,
    kube_url: &str,
    n: u32,
) -> Result<(), KubeError> {
    let url = format!("{kube_url}/_fake/objects");
    let mut start = 0;
    while start < n {
        let end = (start + 500).min(n);
        let items: Vec<Value> = (start..end).map(deployment).collect();
        let res = client
            .post(&url)
            .json(&json!({ "items": items }))
            .send()
            .await
            .map_err(|e| http(&url, e))?;
        if !res.status().is_success() {
            let status = res.status();
            let text = res.text().await.unwrap_or_default();
            return Err(http(&url, format!("{status}: {text}")));
        }
        start = end;
    }
    Ok(())
}

/// One counter row of `GET /_fake/requests`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RequestRow {
    /// HTTP method.
    pub verb: String,
    /// Path.
    pub path: String,
    /// Received, including faulted ones.
    pub received: u64,
    /// Applied (2xx, not dry run).
    pub applied: u64,
    /// Dry runs answered 2xx.
    pub dry_run: u64,
    /// Answered with an error.
    pub failed: u64,
}

#[derive(Deserialize)]
struct Rows {
    requests: Vec<RequestRow>,
}

/// The counters of mutating requests.
pub async fn requests(
    client: &reqwest::Client,
    kube_url: &str,
) -> Result<Vec<RequestRow>, KubeError> {
    let url = format!("{kube_url}/_fake/requests");
    let res = client.get(&url).send().await.map_err(|e| http(&url, e))?;
    let rows: Rows = res.json().await.map_err(|e| http(&url, e))?;
    Ok(rows.requests)
}

/// What the executor did, summed over the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Applied {
    /// Applied mutating requests in total.
    pub total: u64,
    /// Distinct paths with at least one applied request.
    pub paths: u64,
    /// The most applied requests on one path (1 = no duplicate action).
    pub max_per_path: u64,
}

/// Sums applied `verb` requests.
pub fn applied(rows: &[RequestRow], verb: &str) -> Applied {
    let mut out = Applied::default();
    for r in rows
        .iter()
        .filter(|r| r.verb.eq_ignore_ascii_case(verb) && r.applied > 0)
    {
        out.total += r.applied;
        out.paths += 1;
        out.max_per_path = out.max_per_path.max(r.applied);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applied_counts_only_the_verb_and_finds_the_worst_path() {
        let row = |verb: &str, path: &str, applied| RequestRow {
            verb: verb.into(),
            path: path.into(),
            received: applied,
            applied,
            dry_run: 0,
            failed: 0,
        };
        let rows = vec![
            row("PATCH", "/a", 1),
            row("PATCH", "/b", 2),
            row("DELETE", "/c", 5),
            row("PATCH", "/d", 0),
        ];
        assert_eq!(
            applied(&rows, "patch"),
            Applied {
                total: 3,
                paths: 2,
                max_per_path: 2
            }
        );
    }

    #[test]
    fn deployments_are_named_after_services() {
        let d = deployment(42);
        assert_eq!(d["metadata"]["name"], "svc-0042");
        assert_eq!(d["metadata"]["namespace"], NAMESPACE);
    }
}
