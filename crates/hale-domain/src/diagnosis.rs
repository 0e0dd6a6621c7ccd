//! Rule-based diagnosis: root cause and confidence from an alert (seed 004
//! `diagnose`, whose table is the default rule set).

use serde::{Deserialize, Serialize};

use crate::alert::Alert;

/// The result of root cause analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// The component (resource name) diagnosed.
    pub component: String,
    /// The metric the alert is about.
    pub metric: String,
    /// The root cause.
    pub root_cause: String,
    /// Confidence in `0.0..=1.0`.
    pub confidence: f64,
    /// What would fix it.
    pub suggested_fix: String,
}

/// One diagnosis rule: when the metric matches (and, if set, the value is
/// above the threshold), this is the root cause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosisRule {
    /// The metric name (alertname or `metric` label), case-insensitive.
    pub metric: String,
    /// Only when the alert's value is above this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above: Option<f64>,
    /// The root cause.
    pub root_cause: String,
    /// Confidence.
    pub confidence: f64,
    /// Suggested fix.
    pub suggested_fix: String,
}

/// An ordered rule set; the first matching rule wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosisRules {
    /// The rules.
    pub rules: Vec<DiagnosisRule>,
}

fn rule(
    metric: &str,
    above: Option<f64>,
    cause: &str,
    confidence: f64,
    fix: &str,
) -> DiagnosisRule {
    DiagnosisRule {
        metric: metric.to_owned(),
        above,
        root_cause: cause.to_owned(),
        confidence,
        suggested_fix: fix.to_owned(),
    }
}

impl Default for DiagnosisRules {
    /// Seed 004's table.
    fn default() -> Self {
        DiagnosisRules {
            rules: vec![
                rule(
                    "memory",
                    Some(90.0),
                    "memory_exhaustion",
                    0.9,
                    "restart with increased limits",
                ),
                rule(
                    "cpu",
                    Some(90.0),
                    "cpu_saturation",
                    0.8,
                    "check for runaway goroutines",
                ),
                rule(
                    "error_rate",
                    None,
                    "elevated_error_rate",
                    0.7,
                    "check dependencies and config",
                ),
                rule(
                    "latency_p99",
                    None,
                    "latency_degradation",
                    0.6,
                    "check database and network",
                ),
                rule("quorum", None, "quorum_loss", 0.95, "activate safe mode"),
            ],
        }
    }
}

/// The metric an alert is about: its `metric` label, else its alertname.
pub fn metric_of(alert: &Alert) -> String {
    alert
        .label("metric")
        .or_else(|| alert.alertname())
        .unwrap_or("unknown")
        .to_owned()
}

/// The alert's current value, from a `value` label or annotation.
pub fn value_of(alert: &Alert) -> Option<f64> {
    alert
        .label("value")
        .or_else(|| alert.annotations.get("value").map(String::as_str))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

impl DiagnosisRules {
    /// Diagnoses an alert about `component`.
    pub fn diagnose(&self, alert: &Alert, component: &str) -> Diagnosis {
        let metric = metric_of(alert);
        let value = value_of(alert);
        let hit = self.rules.iter().find(|r| {
            r.metric.eq_ignore_ascii_case(&metric)
                && match r.above {
                    None => true,
                    Some(th) => value.is_some_and(|v| v > th),
                }
        });
        match hit {
            Some(r) => Diagnosis {
                component: component.to_owned(),
                metric,
                root_cause: r.root_cause.clone(),
                confidence: r.confidence.clamp(0.0, 1.0),
                suggested_fix: r.suggested_fix.clone(),
            },
            None => Diagnosis {
                component: component.to_owned(),
                root_cause: format!("threshold_breach_{metric}"),
                metric,
                confidence: 0.5,
                suggested_fix: "investigate manually".to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_strict_and_values_come_from_a_label_or_annotation() {
        let rules = DiagnosisRules::default();
        let at = |v: &str| Alert::firing([("metric", "cpu"), ("value", v)]);
        assert_eq!(
            rules.diagnose(&at("90"), "api").root_cause,
            "threshold_breach_cpu"
        );
        let d = rules.diagnose(&at(" 90.5 "), "api");
        assert_eq!(
            d,
            Diagnosis {
                component: "api".into(),
                metric: "cpu".into(),
                root_cause: "cpu_saturation".into(),
                confidence: 0.8,
                suggested_fix: "check for runaway goroutines".into(),
            }
        );
        let mut by_annotation = Alert::firing([("alertname", "CPU")]);
        by_annotation
            .annotations
            .insert("value".into(), "99".into());
        assert_eq!(value_of(&by_annotation), Some(99.0));
        assert_eq!(metric_of(&by_annotation), "CPU");
        assert_eq!(
            rules.diagnose(&by_annotation, "api").root_cause,
            "cpu_saturation",
            "metric names match case-insensitively"
        );
        assert_eq!(value_of(&at("NaN")), None);
        assert_eq!(value_of(&at("-2.5")), Some(-2.5));
        assert_eq!(value_of(&at("0")), Some(0.0));
        assert_eq!(value_of(&at("1")), Some(1.0));
        assert_eq!(value_of(&at("high")), None);
        assert_eq!(metric_of(&Alert::firing([("team", "x")])), "unknown");
        let d = rules.diagnose(&Alert::firing([("team", "x")]), "db");
        assert_eq!(
            (
                d.metric.as_str(),
                d.root_cause.as_str(),
                d.suggested_fix.as_str()
            ),
            (
                "unknown",
                "threshold_breach_unknown",
                "investigate manually"
            )
        );
        let capped = DiagnosisRules {
            rules: vec![rule("x", None, "c", 7.0, "f")],
        };
        let x = Alert::firing([("alertname", "x")]);
        assert_eq!(
            capped.diagnose(&x, "y").confidence,
            1.0,
            "confidence is clamped"
        );
    }

    #[test]
    fn seed_table() {
        let rules = DiagnosisRules::default();
        let mem = Alert::firing([
            ("alertname", "HighMemory"),
            ("metric", "memory"),
            ("value", "95"),
        ]);
        let d = rules.diagnose(&mem, "api");
        assert_eq!(
            (d.root_cause.as_str(), d.confidence),
            ("memory_exhaustion", 0.9)
        );
        let low = Alert::firing([
            ("alertname", "HighMemory"),
            ("metric", "memory"),
            ("value", "50"),
        ]);
        assert_eq!(
            rules.diagnose(&low, "api").root_cause,
            "threshold_breach_memory"
        );
        let q = Alert::firing([("alertname", "quorum")]);
        assert_eq!(rules.diagnose(&q, "db").root_cause, "quorum_loss");
        let other = Alert::firing([("alertname", "HighErrorRate")]);
        let d = rules.diagnose(&other, "checkout");
        assert_eq!(d.root_cause, "threshold_breach_HighErrorRate");
        assert_eq!(d.confidence, 0.5);
    }
}
