//! The alert storm: `alerts` alerts over `resources` deployments, every one
//! of them `HighErrorRate` (so every one matches the restart strategy),
//! with duplicates and flapping, posted as fast as the server takes them.
//!
//! The storm is split into `epochs`. Within an epoch each resource's alert
//! has one `startsAt`, and is delivered about `alerts / epochs /
//! resources` times: mostly unchanged (duplicate deliveries of a standing
//! alert) and sometimes resolved, so the next firing delivery opens a new
//! episode (flapping). Whatever the storm looks like, the strategy's
//! cooldown allows one restart per resource: at most `resources` healing
//! operations may result.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::alerts::{LoadAlert, webhook_body_padded};
use crate::driver::Target;
use crate::rng::mix64;
use crate::stats::Samples;

/// The storm's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Storm {
    /// Seeds which deliveries resolve.
    pub seed: u64,
    /// Alerts in total.
    pub alerts: u64,
    /// Distinct deployments (`svc-0000`..).
    pub resources: u32,
    /// Distinct alerts (fingerprints) per deployment, told apart by a `pod`
    /// label; 0: one alert per deployment, without a `pod` label.
    pub pods_per_resource: u32,
    /// Bytes of extra annotations on every alert (0: none).
    pub annotation_bytes: usize,
    /// Episodes per resource over the storm.
    pub epochs: u64,
    /// Percent of deliveries that are resolutions.
    pub resolved_pct: u8,
    /// Alerts per webhook body.
    pub batch: usize,
    /// Reference time (Unix seconds).
    pub base: i64,
}

impl Storm {
    /// Distinct alerts (fingerprints) in the storm.
    pub fn fingerprints(&self) -> u64 {
        u64::from(self.resources.max(1)) * u64::from(self.pods_per_resource.max(1))
    }

    /// Alert `j`: fingerprint `j % fingerprints`, on resource `fingerprint %
    /// resources`, in epoch `j * epochs / alerts`.
    pub fn alert(&self, j: u64) -> LoadAlert {
        let fingerprint = j % self.fingerprints();
        let resources = u64::from(self.resources.max(1));
        let service = u32::try_from(fingerprint % resources).unwrap_or(0);
        let pod = (self.pods_per_resource > 0).then_some(fingerprint / resources);
        let epoch = i64::try_from(j * self.epochs.max(1) / self.alerts.max(1)).unwrap_or(0);
        let starts_at = self.base - 3600 + 60 * epoch;
        let resolved = (mix64(self.seed ^ j) % 100) < u64::from(self.resolved_pct);
        LoadAlert {
            alertname: 0,
            service,
            pod,
            starts_at,
            ends_at: resolved.then_some(starts_at + 30),
        }
    }

    /// Number of webhook bodies.
    pub fn batches(&self) -> u64 {
        self.alerts.div_ceil(self.batch.max(1) as u64)
    }

    /// Body `i`'s alerts.
    pub fn batch(&self, i: u64) -> Vec<LoadAlert> {
        let n = self.batch.max(1) as u64;
        (i * n..((i + 1) * n).min(self.alerts))
            .map(|j| self.alert(j))
            .collect()
    }
}

/// What posting the storm measured.
#[derive(Debug, Clone, Default)]
pub struct StormResult {
    /// Alerts accepted (2xx).
    pub alerts_ok: u64,
    /// Wall time from the first request to the last answer.
    pub elapsed: Duration,
    /// Latency of each request.
    pub per_request: Samples,
    /// Decisions in the answers, by name.
    pub decisions: BTreeMap<String, u64>,
    /// Answers other than 2xx, by status (each was retried).
    pub retried: BTreeMap<u16, u64>,
    /// Bodies given up on after retries.
    pub lost_batches: u64,
}

impl StormResult {
    fn merge(&mut self, o: StormResult) {
        self.alerts_ok += o.alerts_ok;
        self.per_request.merge(o.per_request);
        for (k, v) in o.decisions {
            *self.decisions.entry(k).or_default() += v;
        }
        for (k, v) in o.retried {
            *self.retried.entry(k).or_default() += v;
        }
        self.lost_batches += o.lost_batches;
    }
}

/// Posts every body of the storm once over `connections` connections. A
/// body answered 503 (or not answered) is retried after a short pause, as
/// Alertmanager would, up to ten times.
pub async fn post(
    client: &reqwest::Client,
    target: &Target,
    storm: Storm,
    connections: usize,
) -> StormResult {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let (client, target, next) = (client.clone(), target.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = StormResult::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= storm.batches() {
                    break;
                }
                let alerts = storm.batch(i);
                let body = webhook_body_padded(
                    &alerts,
                    "http://alertmanager-storm:9093",
                    storm.annotation_bytes,
                );
                post_one(&client, &target, body, alerts.len(), &mut out).await;
            }
            out
        }));
    }
    let mut total = StormResult::default();
    for t in tasks {
        if let Ok(r) = t.await {
            total.merge(r);
        }
    }
    total.elapsed = start.elapsed();
    total
}

async fn post_one(
    client: &reqwest::Client,
    target: &Target,
    body: Vec<u8>,
    alerts: usize,
    out: &mut StormResult,
) {
    for _attempt in 0..10 {
        let mut req = client
            .post(&target.url)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(t) = &target.bearer {
            req = req.bearer_auth(t);
        }
        let t0 = Instant::now();
        let res = req.send().await;
        let (status, answer) = match res {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.bytes().await.ok())
            }
            Err(_) => (0, None),
        };
        out.per_request.record(t0.elapsed());
        if (200..300).contains(&status) {
            out.alerts_ok += alerts as u64;
            if let Some(v) = answer.and_then(|b| serde_json::from_slice::<Value>(&b).ok()) {
                for d in v["decisions"].as_array().into_iter().flatten() {
                    let name = d["outcome"]["decision"].as_str().unwrap_or("?");
                    *out.decisions.entry(name.to_owned()).or_default() += 1;
                }
            }
            return;
        }
        *out.retried.entry(status).or_default() += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    out.lost_batches += 1;
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn storm() -> Storm {
        Storm {
            seed: 1,
            alerts: 100_000,
            resources: 1000,
            pods_per_resource: 0,
            annotation_bytes: 0,
            epochs: 10,
            resolved_pct: 10,
            batch: 100,
            base: 1_790_000_000,
        }
    }

    #[test]
    fn every_resource_fires_in_every_epoch_and_some_resolve() {
        let s = storm();
        let mut firing = BTreeSet::new();
        let mut resolved = 0;
        for j in 0..s.alerts {
            let a = s.alert(j);
            if a.resolved() {
                resolved += 1;
            } else {
                firing.insert((a.service, a.starts_at));
            }
        }
        assert_eq!(firing.len(), 1000 * 10);
        assert!((9_000..11_000).contains(&resolved), "{resolved}");
    }

    #[test]
    fn the_batches_cover_every_alert_once() {
        let s = Storm {
            alerts: 1050,
            ..storm()
        };
        assert_eq!(s.batches(), 11);
        let n: usize = (0..s.batches()).map(|i| s.batch(i).len()).sum();
        assert_eq!(n, 1050);
        assert_eq!(s.batch(10).len(), 50);
    }

    #[test]
    fn pods_per_resource_multiply_the_fingerprints_over_the_same_deployments() {
        let s = Storm {
            alerts: 1_000_000,
            pods_per_resource: 100,
            ..storm()
        };
        assert_eq!(s.fingerprints(), 100_000);
        let prints: BTreeSet<String> = (0..200_000).map(|j| s.alert(j).fingerprint()).collect();
        assert_eq!(prints.len(), 100_000);
        let services: BTreeSet<u32> = (0..200_000).map(|j| s.alert(j).service).collect();
        assert_eq!(services.len(), 1000);
        assert_eq!(s.alert(7).fingerprint(), s.alert(7 + 100_000).fingerprint());
    }

    #[test]
    fn deliveries_within_an_epoch_repeat_the_same_alert() {
        let s = storm();
        let a = s.alert(5);
        let b = s.alert(5 + 1000);
        assert_eq!((a.service, a.starts_at), (b.service, b.starts_at));
        assert_eq!(a.fingerprint(), b.fingerprint());
    }
}
