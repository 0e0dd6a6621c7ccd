//! Counters the engine keeps for `/metrics` and the status page.
//!
//! Hot counters are atomics; labelled counters sit behind a small mutex
//! (one short critical section per alert). Rendering to the Prometheus text
//! format happens at the edge (hale-server) from [`MetricsSnapshot`].

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// Upper bounds (seconds) of the lock-latency histogram buckets.
pub const LOCK_LATENCY_BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// A fixed-bucket latency histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LOCK_LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, upper) in LOCK_LATENCY_BUCKETS.iter().enumerate() {
            if secs <= *upper {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            buckets: LOCK_LATENCY_BUCKETS
                .iter()
                .zip(&self.buckets)
                .map(|(u, c)| (*u, c.load(Ordering::Relaxed)))
                .collect(),
            count: self.count.load(Ordering::Relaxed),
            sum_seconds: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

/// A histogram's cumulative counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistogramSnapshot {
    /// (upper bound in seconds, cumulative count).
    pub buckets: Vec<(f64, u64)>,
    /// Observations.
    pub count: u64,
    /// Sum of observations in seconds.
    pub sum_seconds: f64,
}

/// The engine's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    alerts_received: AtomicU64,
    duplicate_deliveries: AtomicU64,
    labelled: Mutex<BTreeMap<(&'static str, String), u64>>,
    lock_latency: Histogram,
    outbox_pending: AtomicU64,
    outbox_oldest_ms: AtomicU64,
}

/// Labelled counter families.
pub mod family {
    /// Decisions by outcome (`started`, `approval_requested`, `deferred`, ...).
    pub const DECISIONS: &str = "decisions";
    /// Deferrals and skips by reason.
    pub const DEFERRALS: &str = "deferrals";
    /// Blocks by guard (`kill_switch`, `dormant`, `circuit_open`, ...).
    pub const BLOCKS: &str = "blocks";
    /// Operations by final state.
    pub const OPERATIONS: &str = "operations";
    /// Breaker transitions by target state.
    pub const BREAKER_TRANSITIONS: &str = "breaker_transitions";
    /// Alerts deduplicated by kind (`delivery`, `episode`, `resolved`).
    pub const DEDUPLICATED: &str = "deduplicated";
    /// Notifications a channel took, by channel.
    pub const NOTIFICATIONS_SENT: &str = "notifications_sent";
    /// Notification attempts that failed, by channel.
    pub const NOTIFICATIONS_FAILED: &str = "notifications_failed";
    /// Notifications given up after too many failures, by channel.
    pub const NOTIFICATIONS_GIVEN_UP: &str = "notifications_given_up";
    /// Effectiveness verdicts, labelled `<verdict>:<strategy>`
    /// ([`crate::effectiveness::metric_label`]).
    pub const EFFECTIVENESS: &str = "effectiveness";
    /// Silence checks the tenant's Alertmanager could not answer, by the
    /// tenant's `on_unreachable` (`block`, `allow`).
    pub const SILENCE_CHECKS_UNANSWERED: &str = "silence_checks_unanswered";
}

impl Metrics {
    /// An alert arrived.
    pub fn alert_received(&self) {
        self.alerts_received.fetch_add(1, Ordering::Relaxed);
    }

    /// A delivery was dropped by its idempotency key.
    pub fn duplicate_delivery(&self) {
        self.duplicate_deliveries.fetch_add(1, Ordering::Relaxed);
        self.inc(family::DEDUPLICATED, "delivery");
    }

    /// Increments a labelled counter.
    pub fn inc(&self, family: &'static str, label: &str) {
        let mut map = self.labelled.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((family, label.to_owned())).or_default() += 1;
    }

    /// The outbox's backlog as the last delivery pass saw it.
    pub fn outbox_backlog(&self, pending: u64, oldest_age: Duration) {
        self.outbox_pending.store(pending, Ordering::Relaxed);
        self.outbox_oldest_ms.store(
            u64::try_from(oldest_age.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Records a lock round trip.
    pub fn lock_latency(&self, d: Duration) {
        self.lock_latency.observe(d);
    }

    /// A copy of every counter.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let map = self.labelled.lock().unwrap_or_else(|p| p.into_inner());
        let mut labelled: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for ((fam, label), v) in map.iter() {
            labelled
                .entry((*fam).to_owned())
                .or_default()
                .insert(label.clone(), *v);
        }
        MetricsSnapshot {
            alerts_received: self.alerts_received.load(Ordering::Relaxed),
            duplicate_deliveries: self.duplicate_deliveries.load(Ordering::Relaxed),
            labelled,
            lock_latency: self.lock_latency.snapshot(),
            outbox_pending: self.outbox_pending.load(Ordering::Relaxed),
            outbox_oldest_pending_seconds: self.outbox_oldest_ms.load(Ordering::Relaxed) as f64
                / 1e3,
        }
    }
}

/// A point-in-time copy of the counters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsSnapshot {
    /// Alerts received.
    pub alerts_received: u64,
    /// Deliveries dropped by idempotency key.
    pub duplicate_deliveries: u64,
    /// Labelled counters: family -> label -> count.
    pub labelled: BTreeMap<String, BTreeMap<String, u64>>,
    /// Lock acquire latency.
    pub lock_latency: HistogramSnapshot,
    /// Notifications not yet delivered (routing or deliveries pending).
    pub outbox_pending: u64,
    /// Age of the oldest of them, in seconds (0 when none).
    pub outbox_oldest_pending_seconds: f64,
}

impl MetricsSnapshot {
    /// A labelled counter's value (0 if never incremented).
    pub fn get(&self, family: &str, label: &str) -> u64 {
        self.labelled
            .get(family)
            .and_then(|m| m.get(label))
            .copied()
            .unwrap_or(0)
    }
}
