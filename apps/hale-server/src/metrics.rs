//! `/metrics`: the engine's counters, breaker states and dormancy, and the
//! server's own request counters, in the Prometheus text format (0.0.4).
//!
//! The engine keeps plain counters ([`MetricsSnapshot`]); naming, labels
//! and the text format belong to this edge.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use hale_domain::breaker::BreakerState;
use hale_engine::StatusSnapshot;
use hale_engine::metrics::{MetricsSnapshot, family};

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// HTTP requests by (route template, status code).
#[derive(Debug, Default)]
pub struct HttpCounters {
    counts: Mutex<BTreeMap<(String, u16), u64>>,
}

impl HttpCounters {
    /// Counts one answered request. `route` is the matched template
    /// (`/v1/operations/{id}`), never the raw path, so ids and query
    /// strings cannot blow up the label set.
    pub fn record(&self, route: &str, status: u16) {
        let mut map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((route.to_owned(), status)).or_default() += 1;
    }

    /// A copy of the counts.
    pub fn snapshot(&self) -> BTreeMap<(String, u16), u64> {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Escapes a label value (backslash, quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Out(String);

impl Out {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    /// A labelled counter family from one of the engine's families.
    fn family(&mut self, m: &MetricsSnapshot, fam: &str, name: &str, label: &str, help: &str) {
        self.header(name, "counter", help);
        if let Some(values) = m.labelled.get(fam) {
            for (l, v) in values {
                self.sample(name, &[(label, l)], v);
            }
        }
    }
}

/// Renders everything. `status` is the engine's global status, when it
/// could be read (breaker and dormancy gauges are omitted otherwise, and
/// `hale_status_up` says so).
pub fn render(
    m: &MetricsSnapshot,
    status: Option<&StatusSnapshot>,
    http: &BTreeMap<(String, u16), u64>,
) -> String {
    let mut o = Out(String::with_capacity(4096));
    o.header("hale_alerts_received_total", "counter", "Alerts received.");
    o.sample("hale_alerts_received_total", &[], m.alerts_received);
    o.family(
        m,
        family::DEDUPLICATED,
        "hale_alerts_deduplicated_total",
        "kind",
        "Alerts deduplicated, by kind (delivery, episode, resolved).",
    );
    o.family(
        m,
        family::DECISIONS,
        "hale_decisions_total",
        "decision",
        "Intake decisions, by outcome.",
    );
    o.family(
        m,
        family::DEFERRALS,
        "hale_deferrals_total",
        "reason",
        "Deferred or skipped healings, by reason.",
    );
    o.family(
        m,
        family::BLOCKS,
        "hale_blocks_total",
        "guard",
        "Healings stopped by a guard, by guard.",
    );
    o.family(
        m,
        family::OPERATIONS,
        "hale_operations_total",
        "state",
        "Healing operations finished, by final state.",
    );
    o.family(
        m,
        family::BREAKER_TRANSITIONS,
        "hale_breaker_transitions_total",
        "to",
        "Circuit breaker transitions, by target state.",
    );
    o.family(
        m,
        family::SILENCE_CHECKS_UNANSWERED,
        "hale_silence_checks_unanswered_total",
        "on_unreachable",
        "Silence checks the tenant's Alertmanager could not answer, by what the tenant does then (block, allow).",
    );
    o.family(
        m,
        family::NOTIFICATIONS_SENT,
        "hale_notifications_sent_total",
        "channel",
        "Notifications a channel took, by channel.",
    );
    o.family(
        m,
        family::NOTIFICATIONS_FAILED,
        "hale_notifications_failed_total",
        "channel",
        "Notification attempts that failed (retried with backoff), by channel.",
    );
    o.family(
        m,
        family::NOTIFICATIONS_GIVEN_UP,
        "hale_notifications_given_up_total",
        "channel",
        "Notifications given up after the configured attempts, by channel.",
    );
    o.header(
        "hale_notifications_pending",
        "gauge",
        "Notifications not delivered yet (all scopes), as the last delivery pass saw them.",
    );
    o.sample("hale_notifications_pending", &[], m.outbox_pending);
    o.header(
        "hale_notifications_oldest_pending_seconds",
        "gauge",
        "Age of the oldest notification not delivered yet (0 when none).",
    );
    o.sample(
        "hale_notifications_oldest_pending_seconds",
        &[],
        m.outbox_oldest_pending_seconds,
    );
    o.header(
        "hale_operation_effectiveness_total",
        "counter",
        "Effectiveness verdicts of completed operations, by strategy and verdict (effective, ineffective); the effective rate of a strategy is effective / (effective + ineffective).",
    );
    if let Some(values) = m.labelled.get(family::EFFECTIVENESS) {
        for (label, v) in values {
            if let Some((verdict, strategy)) = label.split_once(':') {
                o.sample(
                    "hale_operation_effectiveness_total",
                    &[("strategy", strategy), ("verdict", verdict)],
                    v,
                );
            }
        }
    }

    o.header(
        "hale_status_up",
        "gauge",
        "1 when the engine status (breakers, dormancy) could be read for this scrape.",
    );
    o.sample("hale_status_up", &[], u8::from(status.is_some()));
    if let Some(s) = status {
        o.header(
            "hale_breaker_state",
            "gauge",
            "1 for each breaker's current state, 0 for the others.",
        );
        for b in &s.circuit_breakers {
            for state in [
                BreakerState::Closed,
                BreakerState::Open,
                BreakerState::HalfOpen,
                BreakerState::PermanentOpen,
            ] {
                o.sample(
                    "hale_breaker_state",
                    &[
                        ("tenant", b.tenant.as_str()),
                        ("breaker", &b.name),
                        ("state", state.as_str()),
                    ],
                    u8::from(b.state == state),
                );
            }
        }
        o.header(
            "hale_dormant",
            "gauge",
            "1 when the scope (global, tenant:<id>) is dormant; only a manual resume wakes it.",
        );
        o.sample(
            "hale_dormant",
            &[("scope", "global")],
            u8::from(s.self_healing.is_dormant),
        );
        for t in &s.tenants {
            let scope = format!("tenant:{}", t.tenant);
            o.sample("hale_dormant", &[("scope", &scope)], u8::from(t.is_dormant));
        }
        o.header(
            "hale_strategy_effectiveness",
            "gauge",
            "Completed operations of a strategy by effectiveness verdict (pending, effective, ineffective), counted in the store every replica shares.",
        );
        for e in &s.effectiveness {
            for (verdict, n) in [
                ("pending", e.pending),
                ("effective", e.effective),
                ("ineffective", e.ineffective),
            ] {
                o.sample(
                    "hale_strategy_effectiveness",
                    &[
                        ("tenant", e.tenant.as_str()),
                        ("strategy", e.strategy.as_str()),
                        ("verdict", verdict),
                    ],
                    n,
                );
            }
        }
        o.header(
            "hale_strategy_effective_ratio",
            "gauge",
            "A strategy's effective rate: effective / (effective + ineffective) of its settled operations; absent before its first verdict.",
        );
        for e in &s.effectiveness {
            if let Some(rate) = e.effective_rate {
                o.sample(
                    "hale_strategy_effective_ratio",
                    &[
                        ("tenant", e.tenant.as_str()),
                        ("strategy", e.strategy.as_str()),
                    ],
                    rate,
                );
            }
        }
        o.header(
            "hale_safety_state_version",
            "gauge",
            "The shared safety state's version (epoch) this replica has, by scope (global, tenant:<id>).",
        );
        let ss = &s.safety_state;
        o.sample(
            "hale_safety_state_version",
            &[("scope", "global")],
            ss.platform_version,
        );
        for t in &s.tenants {
            let scope = format!("tenant:{}", t.tenant);
            o.sample(
                "hale_safety_state_version",
                &[("scope", &scope)],
                t.state_version,
            );
        }
        o.header(
            "hale_safety_view_age_seconds",
            "gauge",
            "Seconds since this replica's copy of the safety state was confirmed against the store, by scope.",
        );
        let secs = |ms: Option<u64>| ms.map_or(f64::NAN, |ms| ms as f64 / 1000.0);
        o.sample(
            "hale_safety_view_age_seconds",
            &[("scope", "global")],
            secs(ss.platform_view_age_ms),
        );
        for t in &s.tenants {
            let scope = format!("tenant:{}", t.tenant);
            o.sample(
                "hale_safety_view_age_seconds",
                &[("scope", &scope)],
                secs(t.view_age_ms),
            );
        }
    }

    let h = &m.lock_latency;
    o.header(
        "hale_lock_acquire_seconds",
        "histogram",
        "Resource lock acquire round trips.",
    );
    for (upper, count) in &h.buckets {
        let le = upper.to_string();
        o.sample("hale_lock_acquire_seconds_bucket", &[("le", &le)], count);
    }
    o.sample(
        "hale_lock_acquire_seconds_bucket",
        &[("le", "+Inf")],
        h.count,
    );
    o.sample("hale_lock_acquire_seconds_sum", &[], h.sum_seconds);
    o.sample("hale_lock_acquire_seconds_count", &[], h.count);

    o.header(
        "hale_http_requests_total",
        "counter",
        "HTTP requests answered, by route template and status.",
    );
    for ((route, status), n) in http {
        let code = status.to_string();
        o.sample(
            "hale_http_requests_total",
            &[("route", route), ("status", &code)],
            n,
        );
    }
    o.0
}

#[cfg(test)]
mod tests {
    use hale_engine::metrics::Metrics;

    use super::*;

    #[test]
    fn counters_render_with_escaped_labels() {
        let metrics = Metrics::default();
        metrics.alert_received();
        metrics.alert_received();
        metrics.inc(family::DEFERRALS, "resource_busy");
        metrics.inc(family::DECISIONS, "weird\"label");
        metrics.inc(family::EFFECTIVENESS, "effective:restart");
        metrics.inc(family::EFFECTIVENESS, "ineffective:re:start");
        metrics.lock_latency(std::time::Duration::from_millis(2));
        let http = HttpCounters::default();
        http.record("/v1/alerts", 200);
        http.record("/v1/alerts", 200);
        let text = render(&metrics.snapshot(), None, &http.snapshot());
        assert!(text.contains("hale_alerts_received_total 2\n"), "{text}");
        assert!(text.contains("hale_deferrals_total{reason=\"resource_busy\"} 1\n"));
        assert!(text.contains("hale_decisions_total{decision=\"weird\\\"label\"} 1\n"));
        assert!(text.contains("hale_lock_acquire_seconds_bucket{le=\"0.0025\"} 1\n"));
        assert!(text.contains("hale_lock_acquire_seconds_bucket{le=\"0.001\"} 0\n"));
        assert!(text.contains("hale_lock_acquire_seconds_count 1\n"));
        assert!(text.contains("hale_http_requests_total{route=\"/v1/alerts\",status=\"200\"} 2\n"));
        assert!(text.contains("hale_status_up 0\n"));
        assert!(text.contains(
            "hale_operation_effectiveness_total{strategy=\"restart\",verdict=\"effective\"} 1\n"
        ));
        assert!(text.contains(
            "hale_operation_effectiveness_total{strategy=\"re:start\",verdict=\"ineffective\"} 1\n"
        ));
        // Every sample line belongs to a family announced by a TYPE line.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            let base = name
                .trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count");
            assert!(
                text.contains(&format!("# TYPE {name} "))
                    || text.contains(&format!("# TYPE {base} ")),
                "{line}"
            );
        }
    }
}
