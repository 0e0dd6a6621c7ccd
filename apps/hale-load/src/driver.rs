//! The closed-loop HTTP driver: `connections` tasks, each sending one
//! request at a time for a fixed duration, drawing batch numbers from one
//! shared counter so the targets see the same sequence of bodies.
//!
//! A closed loop measures what a server sustains at a given concurrency
//! (Alertmanager delivers this way: one outstanding webhook per group and
//! receiver). Requests answered during the warm-up are sent but not
//! counted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::stats::Samples;

/// Where requests go.
#[derive(Debug, Clone)]
pub struct Target {
    /// Name for reports (`hale`, `alertmanager`).
    pub name: String,
    /// The full URL posted to.
    pub url: String,
    /// Sent as `Authorization: Bearer`.
    pub bearer: Option<String>,
}

/// How hard and how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunConfig {
    /// Concurrent connections (each with one request in flight).
    pub connections: usize,
    /// Measured duration.
    pub duration: Duration,
    /// Unmeasured lead-in.
    pub warmup: Duration,
}

/// A body to send and the number of alerts in it.
pub type Body = (Vec<u8>, usize);

/// Makes batch `i`'s body.
pub type BodyFn = Arc<dyn Fn(u64) -> Body + Send + Sync>;

/// What a run measured (the warm-up excluded).
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    /// Requests answered within the measured window.
    pub requests: u64,
    /// Alerts in the requests answered 2xx.
    pub alerts_ok: u64,
    /// The measured window.
    pub elapsed: Duration,
    /// Latency of each request.
    pub per_request: Samples,
    /// Each request's latency divided by its alerts (the service time of
    /// one alert within a batch).
    pub per_alert: Samples,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that failed without an answer (connection errors).
    pub transport_errors: u64,
    /// Batches drawn from the sequence, warm-up included.
    pub batches_sent: u64,
}

impl RunResult {
    /// Alerts answered 2xx per second of the measured window.
    pub fn alerts_per_sec(&self) -> f64 {
        rate(self.alerts_ok, self.elapsed)
    }

    /// Requests per second of the measured window.
    pub fn requests_per_sec(&self) -> f64 {
        rate(self.requests, self.elapsed)
    }

    /// Requests not answered 2xx (errors included).
    pub fn failures(&self) -> u64 {
        self.transport_errors
            + self
                .statuses
                .iter()
                .filter(|(s, _)| !(200..300).contains(*s))
                .map(|(_, n)| n)
                .sum::<u64>()
    }

    fn merge(&mut self, other: RunResult) {
        self.requests += other.requests;
        self.alerts_ok += other.alerts_ok;
        self.per_request.merge(other.per_request);
        self.per_alert.merge(other.per_alert);
        for (s, n) in other.statuses {
            *self.statuses.entry(s).or_default() += n;
        }
        self.transport_errors += other.transport_errors;
    }
}

fn rate(n: u64, over: Duration) -> f64 {
    let secs = over.as_secs_f64();
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}

/// One reusable HTTP client for a run (HTTP/1.1 keep-alive, one pooled
/// connection per concurrent task).
pub fn client(connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

/// Runs the closed loop against `target`.
pub async fn run(
    client: &reqwest::Client,
    target: &Target,
    config: RunConfig,
    bodies: BodyFn,
) -> RunResult {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let measure_from = start + config.warmup;
    let end = measure_from + config.duration;
    let mut tasks = Vec::with_capacity(config.connections);
    for _ in 0..config.connections.max(1) {
        let (client, target, next, bodies) =
            (client.clone(), target.clone(), next.clone(), bodies.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = RunResult::default();
            loop {
                if Instant::now() >= end {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let (body, alerts) = bodies(i);
                let mut req = client
                    .post(&target.url)
                    .header("content-type", "application/json")
                    .body(body);
                if let Some(t) = &target.bearer {
                    req = req.bearer_auth(t);
                }
                let t0 = Instant::now();
                let answer = match req.send().await {
                    Ok(res) => {
                        let status = res.status().as_u16();
                        // Read the whole answer: the request is done when
                        // the client has it.
                        match res.bytes().await {
                            Ok(_) => Some(status),
                            Err(_) => None,
                        }
                    }
                    Err(_) => None,
                };
                let done = Instant::now();
                if t0 < measure_from || done > end {
                    continue;
                }
                let dt = done - t0;
                out.requests += 1;
                out.per_request.record(dt);
                match answer {
                    Some(status) => {
                        *out.statuses.entry(status).or_default() += 1;
                        if (200..300).contains(&status) {
                            out.alerts_ok += alerts as u64;
                            let n = u32::try_from(alerts.max(1)).unwrap_or(u32::MAX);
                            out.per_alert.record(dt / n);
                        }
                    }
                    None => out.transport_errors += 1,
                }
            }
            out
        }));
    }
    let mut total = RunResult::default();
    for t in tasks {
        if let Ok(r) = t.await {
            total.merge(r);
        }
    }
    total.elapsed = config.duration;
    total.batches_sent = next.load(Ordering::Relaxed);
    total
}
