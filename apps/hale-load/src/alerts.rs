//! Alerts as Prometheus raises them, and the two wire forms they travel in:
//! Alertmanager's webhook body (version 4, what Alertmanager posts to Hale)
//! and Alertmanager's own `POST /api/v2/alerts` array (what Prometheus
//! posts to Alertmanager).
//!
//! The bodies are written by hand rather than through `serde_json::json!`:
//! the load generator shares two cores with the server it measures, so
//! every microsecond it spends is a microsecond taken from the server.
//! Every string written is ASCII without quotes or backslashes (checked
//! by the tests below against a real JSON parser).

use std::fmt::Write;

use chrono::{DateTime, SecondsFormat};

/// The namespace every generated alert names.
pub const NAMESPACE: &str = "prod";

/// The alert names used, with the share of services raising each. Only
/// `HighErrorRate` matches the generated configuration's strategy, as in a
/// real tenant where most alerts have no automatic remedy.
pub const ALERTNAMES: [&str; 4] = [
    "HighErrorRate",
    "HighLatency",
    "KubePodCrashLooping",
    "TargetDown",
];

/// One alert as a Prometheus rule raises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadAlert {
    /// Index into [`ALERTNAMES`].
    pub alertname: usize,
    /// The service (and deployment) number: label `service=svc-NNNN`.
    pub service: u32,
    /// An extra `pod` label, which makes a new fingerprint on the same
    /// service (a new alert in an ongoing incident).
    pub pod: Option<u64>,
    /// `startsAt`, seconds since the Unix epoch.
    pub starts_at: i64,
    /// `endsAt` for a resolved alert (firing when `None`).
    pub ends_at: Option<i64>,
}

impl LoadAlert {
    /// The alert's name.
    pub fn name(&self) -> &'static str {
        ALERTNAMES[self.alertname % ALERTNAMES.len()]
    }

    /// Whether the alert is resolved.
    pub fn resolved(&self) -> bool {
        self.ends_at.is_some()
    }

    fn severity(&self) -> &'static str {
        if self.alertname.is_multiple_of(2) {
            "critical"
        } else {
            "warning"
        }
    }

    fn write_labels(&self, out: &mut String) {
        let _ = write!(
            out,
            r#"{{"alertname":"{}","namespace":"{NAMESPACE}","service":"{}","severity":"{}""#,
            self.name(),
            service_name(self.service),
            self.severity(),
        );
        if let Some(pod) = self.pod {
            let _ = write!(out, r#","pod":"{}-{pod}""#, service_name(self.service));
        }
        out.push('}');
    }

    fn write_annotations(&self, out: &mut String, padding: usize) {
        let _ = write!(
            out,
            r#"{{"summary":"{} on {}","runbook":"https://runbooks.example/{}""#,
            self.name(),
            service_name(self.service),
            self.name(),
        );
        write_padding(out, padding);
        out.push('}');
    }

    /// A stand-in for Alertmanager's fingerprint of the label set (16 hex
    /// digits, stable for equal labels).
    pub fn fingerprint(&self) -> String {
        let mut labels = String::with_capacity(128);
        self.write_labels(&mut labels);
        // FNV-1a: deterministic, dependency-free, good enough for a label.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in labels.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
    }
}

/// The longest padding annotation value: under the server's default cap on
/// one annotation value (8 KiB), so padded alerts are accepted as sent.
const PADDING_VALUE_BYTES: usize = 8000;

/// About `bytes` bytes of extra annotations (`detail_0`, `detail_1`, ...,
/// each value at most [`PADDING_VALUE_BYTES`]): the long descriptions and
/// pasted log lines real rules carry.
fn write_padding(out: &mut String, mut bytes: usize) {
    let mut i = 0;
    while bytes > 0 {
        let n = bytes.min(PADDING_VALUE_BYTES);
        let _ = write!(out, r#","detail_{i}":""#);
        out.extend(std::iter::repeat_n('x', n));
        out.push('"');
        bytes -= n;
        i += 1;
    }
}

/// `svc-0042`.
pub fn service_name(service: u32) -> String {
    format!("svc-{service:04}")
}

/// RFC 3339 in UTC with second precision, as Alertmanager writes it.
pub fn rfc3339(unix_secs: i64) -> String {
    DateTime::from_timestamp(unix_secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The zero time Alertmanager writes for a firing alert's `endsAt`.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// An Alertmanager webhook body (version 4) carrying `alerts`, as the
/// Alertmanager at `external_url` would post it.
pub fn webhook_body(alerts: &[LoadAlert], external_url: &str) -> Vec<u8> {
    webhook_body_padded(alerts, external_url, 0)
}

/// [`webhook_body`] with about `padding` bytes of extra annotations on every
/// alert.
pub fn webhook_body_padded(alerts: &[LoadAlert], external_url: &str, padding: usize) -> Vec<u8> {
    let mut out = String::with_capacity(160 + alerts.len() * (420 + padding));
    let firing = alerts.iter().any(|a| !a.resolved());
    let status = if firing { "firing" } else { "resolved" };
    let _ = write!(
        out,
        r#"{{"version":"4","groupKey":"{{}}:{{service=~\"svc-.*\"}}","truncatedAlerts":0,"status":"{status}","receiver":"hale","groupLabels":{{}},"commonLabels":{{"namespace":"{NAMESPACE}"}},"commonAnnotations":{{}},"externalURL":"{external_url}","alerts":["#
    );
    for (i, a) in alerts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let status = if a.resolved() { "resolved" } else { "firing" };
        let _ = write!(out, r#"{{"status":"{status}","labels":"#);
        a.write_labels(&mut out);
        out.push_str(r#","annotations":"#);
        a.write_annotations(&mut out, padding);
        let ends = a.ends_at.map_or_else(|| ZERO_TIME.to_owned(), rfc3339);
        let _ = write!(
            out,
            r#","startsAt":"{}","endsAt":"{ends}","generatorURL":"http://prometheus:9090/graph?g0.expr=up","fingerprint":"{}"}}"#,
            rfc3339(a.starts_at),
            a.fingerprint(),
        );
    }
    out.push_str("]}");
    out.into_bytes()
}

/// The body of Alertmanager's `POST /api/v2/alerts`: a JSON array of
/// `{labels, annotations, startsAt, endsAt, generatorURL}`. A firing alert
/// has no `endsAt` (Alertmanager applies its `resolve_timeout`).
pub fn v2_body(alerts: &[LoadAlert]) -> Vec<u8> {
    let mut out = String::with_capacity(2 + alerts.len() * 360);
    out.push('[');
    for (i, a) in alerts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"labels":"#);
        a.write_labels(&mut out);
        out.push_str(r#","annotations":"#);
        a.write_annotations(&mut out, 0);
        let _ = write!(out, r#","startsAt":"{}""#, rfc3339(a.starts_at));
        if let Some(end) = a.ends_at {
            let _ = write!(out, r#","endsAt":"{}""#, rfc3339(end));
        }
        out.push_str(r#","generatorURL":"http://prometheus:9090/graph?g0.expr=up"}"#);
    }
    out.push(']');
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn sample() -> Vec<LoadAlert> {
        vec![
            LoadAlert {
                alertname: 0,
                service: 42,
                pod: None,
                starts_at: 1_790_000_000,
                ends_at: None,
            },
            LoadAlert {
                alertname: 1,
                service: 7,
                pod: Some(99),
                starts_at: 1_790_000_000,
                ends_at: Some(1_790_000_300),
            },
        ]
    }

    #[test]
    fn webhook_bodies_parse_as_alertmanager_payloads() {
        let body = webhook_body(&sample(), "http://am-1:9093");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["version"], "4");
        assert_eq!(v["status"], "firing");
        assert_eq!(v["externalURL"], "http://am-1:9093");
        let alerts = v["alerts"].as_array().unwrap();
        assert_eq!(alerts.len(), 2);
        assert_eq!(alerts[0]["labels"]["service"], "svc-0042");
        assert_eq!(alerts[0]["labels"]["alertname"], "HighErrorRate");
        assert_eq!(alerts[0]["endsAt"], ZERO_TIME);
        assert_eq!(alerts[1]["status"], "resolved");
        assert_eq!(alerts[1]["labels"]["pod"], "svc-0007-99");
        assert_eq!(alerts[1]["endsAt"], "2026-09-21T14:18:20Z");
        assert_ne!(alerts[0]["fingerprint"], alerts[1]["fingerprint"]);
    }

    #[test]
    fn v2_bodies_are_arrays_without_ends_at_while_firing() {
        let v: Value = serde_json::from_slice(&v2_body(&sample())).unwrap();
        let items = v.as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert!(items[0].get("endsAt").is_none());
        assert_eq!(items[1]["endsAt"], "2026-09-21T14:18:20Z");
        assert_eq!(items[0]["startsAt"], "2026-09-21T14:13:20Z");
        assert_eq!(items[0]["labels"]["namespace"], NAMESPACE);
    }

    #[test]
    fn a_group_of_resolved_alerts_is_resolved() {
        let mut alerts = sample();
        alerts.remove(0);
        let v: Value = serde_json::from_slice(&webhook_body(&alerts, "x")).unwrap();
        assert_eq!(v["status"], "resolved");
    }

    #[test]
    fn padded_bodies_carry_the_padding_in_values_under_the_default_cap() {
        let body = webhook_body_padded(&sample(), "http://am:9093", 16 * 1024);
        let v: Value = serde_json::from_slice(&body).unwrap();
        for a in v["alerts"].as_array().unwrap() {
            let ann = a["annotations"].as_object().unwrap();
            let padding: usize = ann
                .iter()
                .filter(|(k, _)| k.starts_with("detail_"))
                .map(|(_, v)| v.as_str().unwrap().len())
                .inspect(|n| assert!(*n <= 8 * 1024))
                .sum();
            assert_eq!(padding, 16 * 1024);
            assert!(ann.contains_key("summary"));
        }
    }

    #[test]
    fn fingerprints_follow_the_labels() {
        let [a, b] = [sample()[0], sample()[1]];
        let mut a2 = a;
        a2.starts_at += 60;
        assert_eq!(a.fingerprint(), a2.fingerprint());
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint().len(), 16);
    }
}
