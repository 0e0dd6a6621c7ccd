//! Alerts as Hale sees them, whatever the source.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// The condition holds.
    Firing,
    /// The condition cleared.
    Resolved,
}

impl fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        })
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Firing or resolved.
    pub status: AlertStatus,
    /// Identifying labels (`alertname`, `namespace`, `service`, ...).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Descriptive annotations (`summary`, `runbook`, ...).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// When the condition started, as the source reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<Timestamp>,
    /// When it ended (resolved alerts only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<Timestamp>,
    /// Link back to the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_url: Option<String>,
    /// The source's own fingerprint (Alertmanager's label hash), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_fingerprint: Option<String>,
}

impl Alert {
    /// A firing alert with the given labels (handy in tests and examples).
    pub fn firing<I, K, V>(labels: I) -> Alert
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Alert {
            status: AlertStatus::Firing,
            labels: labels
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            annotations: BTreeMap::new(),
            starts_at: None,
            ends_at: None,
            generator_url: None,
            source_fingerprint: None,
        }
    }

    /// The same alert, resolved.
    pub fn resolved(mut self) -> Alert {
        self.status = AlertStatus::Resolved;
        self
    }

    /// A label's value.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }

    /// The `alertname` label.
    pub fn alertname(&self) -> Option<&str> {
        self.label("alertname")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_wire_names_and_label_lookups() {
        for (status, name) in [
            (AlertStatus::Firing, "firing"),
            (AlertStatus::Resolved, "resolved"),
        ] {
            assert_eq!(status.to_string(), name);
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(name)
            );
        }
        let a = Alert::firing([("alertname", "Down"), ("metric", "up")]);
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(a.alertname(), Some("Down"));
        assert_eq!(a.label("metric"), Some("up"));
        assert_eq!(a.label("namespace"), None);
        assert_eq!(Alert::firing([("metric", "up")]).alertname(), None);
        let r = a.clone().resolved();
        assert_eq!(r.status, AlertStatus::Resolved);
        assert_eq!(r.labels, a.labels);
    }
}
