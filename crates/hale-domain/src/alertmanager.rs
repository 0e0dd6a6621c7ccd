//! The Alertmanager webhook payload (version 4), parsed exactly as a real
//! Alertmanager sends it.
//!
//! Parsing is pure and total: any byte string yields either a message or an
//! error naming what is wrong; it never panics (a fuzz target holds it to
//! that).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alert::{Alert, AlertStatus};
use crate::time::Timestamp;

/// The webhook body (`version: "4"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookMessage {
    /// The payload version; Hale accepts `"4"`.
    pub version: String,
    /// Alertmanager's group key.
    #[serde(default)]
    pub group_key: String,
    /// Alerts dropped by `max_alerts`.
    #[serde(default)]
    pub truncated_alerts: u64,
    /// `firing` if any alert fires, else `resolved`.
    pub status: String,
    /// The receiver's name.
    #[serde(default)]
    pub receiver: String,
    /// Labels the group shares.
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    /// Labels every alert shares.
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    /// Annotations every alert shares.
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    /// Alertmanager's external URL (differs between HA peers).
    #[serde(default, rename = "externalURL")]
    pub external_url: String,
    /// The alerts.
    pub alerts: Vec<WebhookAlert>,
}

/// One alert in a webhook body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAlert {
    /// `firing` or `resolved`.
    pub status: String,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339 start time.
    #[serde(default)]
    pub starts_at: Option<String>,
    /// RFC 3339 end time (`0001-01-01T00:00:00Z` while firing).
    #[serde(default)]
    pub ends_at: Option<String>,
    /// The rule's URL.
    #[serde(default, rename = "generatorURL")]
    pub generator_url: Option<String>,
    /// Alertmanager's fingerprint of the label set.
    #[serde(default)]
    pub fingerprint: Option<String>,
}

/// The payload is not a usable Alertmanager webhook body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Not JSON, or JSON of the wrong shape; `path` names the field.
    #[error("malformed payload at {path}: {message}")]
    Malformed {
        /// Dotted path to the offending field (`alerts[0].status`), or `$`.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// Well-formed but not acceptable.
    #[error("invalid payload at {path}: {message}")]
    Invalid {
        /// Dotted path to the offending field.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl PayloadError {
    /// The field the error is about.
    pub fn path(&self) -> &str {
        match self {
            PayloadError::Malformed { path, .. } | PayloadError::Invalid { path, .. } => path,
        }
    }
}

/// Most alerts Hale takes in one delivery (Alertmanager's own default
/// `max_alerts` is unlimited; a sane body is far smaller).
pub const MAX_ALERTS_PER_MESSAGE: usize = 10_000;

fn invalid(path: String, message: impl Into<String>) -> PayloadError {
    PayloadError::Invalid {
        path,
        message: message.into(),
    }
}

/// Alertmanager writes the zero time for "unset".
fn parse_time(raw: Option<&str>, path: String) -> Result<Option<Timestamp>, PayloadError> {
    match raw {
        None | Some("") => Ok(None),
        Some(s) => {
            let t = Timestamp::parse_rfc3339(s).map_err(|e| invalid(path, e.to_string()))?;
            // 0001-01-01T00:00:00Z is Go's zero time.
            Ok((t.unix_micros() > -62_135_596_800_000_000).then_some(t))
        }
    }
}

fn parse_status(s: &str, path: String) -> Result<AlertStatus, PayloadError> {
    match s {
        "firing" => Ok(AlertStatus::Firing),
        "resolved" => Ok(AlertStatus::Resolved),
        other => Err(invalid(
            path,
            format!("status must be \"firing\" or \"resolved\", got {other:?}"),
        )),
    }
}

impl WebhookMessage {
    /// Checks the message and converts its alerts.
    pub fn into_alerts(self) -> Result<Vec<Alert>, PayloadError> {
        if self.version != "4" {
            return Err(invalid(
                "version".into(),
                format!(
                    "unsupported webhook version {:?}; Hale accepts \"4\"",
                    self.version
                ),
            ));
        }
        parse_status(&self.status, "status".into())?;
        if self.alerts.len() > MAX_ALERTS_PER_MESSAGE {
            return Err(invalid(
                "alerts".into(),
                format!(
                    "{} alerts in one message; the limit is {MAX_ALERTS_PER_MESSAGE}",
                    self.alerts.len()
                ),
            ));
        }
        self.alerts
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                let status = parse_status(&a.status, format!("alerts[{i}].status"))?;
                if !a.labels.contains_key("alertname") {
                    return Err(invalid(
                        format!("alerts[{i}].labels"),
                        "missing the alertname label",
                    ));
                }
                Ok(Alert {
                    status,
                    starts_at: parse_time(a.starts_at.as_deref(), format!("alerts[{i}].startsAt"))?,
                    ends_at: parse_time(a.ends_at.as_deref(), format!("alerts[{i}].endsAt"))?,
                    labels: a.labels,
                    annotations: a.annotations,
                    generator_url: a.generator_url.filter(|u| !u.is_empty()),
                    source_fingerprint: a.fingerprint.filter(|f| !f.is_empty()),
                })
            })
            .collect()
    }
}

/// Parses a webhook body. Errors name the offending field.
pub fn parse_webhook(body: &[u8]) -> Result<WebhookMessage, PayloadError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let msg: WebhookMessage = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        PayloadError::Malformed {
            path: if path == "." || path.is_empty() {
                "$".to_owned()
            } else {
                path
            },
            message: e.into_inner().to_string(),
        }
    })?;
    // Trailing garbage after the object is malformed too.
    de.end().map_err(|e| PayloadError::Malformed {
        path: "$".into(),
        message: e.to_string(),
    })?;
    Ok(msg)
}

/// Parses and converts in one step.
pub fn parse_alerts(body: &[u8]) -> Result<Vec<Alert>, PayloadError> {
    parse_webhook(body)?.into_alerts()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRING: &str = r#"{
      "receiver": "governance-webhook", "status": "firing",
      "alerts": [{
        "status": "firing",
        "labels": {"alertname": "HighErrorRate", "namespace": "prod", "service": "checkout", "severity": "critical"},
        "annotations": {"runbook": "restart-deployment", "summary": "5xx ratio above 5%"},
        "startsAt": "2026-11-23T17:18:33Z", "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=up", "fingerprint": "32c16fb6eca3387b"
      }],
      "groupLabels": {"alertname": "HighErrorRate", "service": "checkout"},
      "commonLabels": {"alertname": "HighErrorRate"}, "commonAnnotations": {},
      "externalURL": "http://vm:19093", "version": "4",
      "groupKey": "{}:{alertname=\"HighErrorRate\", service=\"checkout\"}", "truncatedAlerts": 0
    }"#;

    #[test]
    fn parses_a_real_firing_payload() {
        let alerts = parse_alerts(FIRING.as_bytes()).unwrap();
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(a.alertname(), Some("HighErrorRate"));
        assert_eq!(a.ends_at, None, "Go's zero time means unset");
        assert_eq!(
            a.starts_at.unwrap().to_rfc3339(),
            "2026-11-23T17:18:33.000000Z"
        );
        assert_eq!(a.source_fingerprint.as_deref(), Some("32c16fb6eca3387b"));
    }

    #[test]
    fn every_field_converts_and_empty_means_unset() {
        let resolved = FIRING
            .replace(
                "\"status\": \"firing\",\n        \"labels\"",
                "\"status\": \"resolved\",\n        \"labels\"",
            )
            .replace(
                "\"endsAt\": \"0001-01-01T00:00:00Z\"",
                "\"endsAt\": \"2026-11-23T17:20:00Z\"",
            )
            .replace(
                "\"fingerprint\": \"32c16fb6eca3387b\"",
                "\"fingerprint\": \"\"",
            )
            .replace("\"http://127.0.0.1:9090/graph?g0.expr=up\"", "\"\"");
        let a = &parse_alerts(resolved.as_bytes()).unwrap()[0];
        assert_eq!(a.status, AlertStatus::Resolved);
        assert_eq!(a.ends_at, Some("2026-11-23T17:20:00Z".parse().unwrap()));
        assert_eq!(a.source_fingerprint, None, "an empty fingerprint is none");
        assert_eq!(a.generator_url, None, "an empty URL is none");
        assert_eq!(a.annotations["runbook"], "restart-deployment");
        let real = &parse_alerts(FIRING.as_bytes()).unwrap()[0];
        assert_eq!(
            real.generator_url.as_deref(),
            Some("http://127.0.0.1:9090/graph?g0.expr=up")
        );
        // Just after Go's zero time is a real instant.
        let after_zero = FIRING.replace("0001-01-01T00:00:00Z", "0001-01-01T00:00:01Z");
        assert!(
            parse_alerts(after_zero.as_bytes()).unwrap()[0]
                .ends_at
                .is_some()
        );
        let unset = FIRING.replace("\"endsAt\": \"0001-01-01T00:00:00Z\"", "\"endsAt\": \"\"");
        assert_eq!(parse_alerts(unset.as_bytes()).unwrap()[0].ends_at, None);
    }

    #[test]
    fn message_level_checks() {
        let bad_status = FIRING.replace(
            "\"receiver\": \"governance-webhook\", \"status\": \"firing\"",
            "\"receiver\": \"governance-webhook\", \"status\": \"done\"",
        );
        let err = parse_alerts(bad_status.as_bytes()).unwrap_err();
        assert_eq!(err.path(), "status", "{err}");
        let bad = FIRING.replace(
            "\"alertname\": \"HighErrorRate\", \"namespace\"",
            "\"name\": \"HighErrorRate\", \"namespace\"",
        );
        let err = parse_alerts(bad.as_bytes()).unwrap_err();
        assert_eq!(err.path(), "alerts[0].labels", "{err}");
        let mut msg = parse_webhook(FIRING.as_bytes()).unwrap();
        let one = msg.alerts[0].clone();
        msg.alerts = vec![one; MAX_ALERTS_PER_MESSAGE];
        assert_eq!(
            msg.clone().into_alerts().unwrap().len(),
            MAX_ALERTS_PER_MESSAGE
        );
        msg.alerts.push(msg.alerts[0].clone());
        assert_eq!(msg.into_alerts().unwrap_err().path(), "alerts");
        let err = parse_alerts(b"7").unwrap_err();
        assert!(matches!(err, PayloadError::Malformed { .. }), "{err}");
        assert_eq!(err.path(), "$");
        let err = parse_alerts(b"{\"receiver\": 5}").unwrap_err();
        assert_eq!(err.path(), "receiver");
    }

    #[test]
    fn errors_name_the_field() {
        let bad = FIRING.replace(
            "\"status\": \"firing\",\n        \"labels\"",
            "\"status\": 7,\n        \"labels\"",
        );
        let err = parse_alerts(bad.as_bytes()).unwrap_err();
        assert_eq!(err.path(), "alerts[0].status", "{err}");
        let bad = FIRING.replace("\"version\": \"4\"", "\"version\": \"3\"");
        assert_eq!(parse_alerts(bad.as_bytes()).unwrap_err().path(), "version");
        let bad = FIRING.replace("2026-11-23T17:18:33Z", "soon");
        assert_eq!(
            parse_alerts(bad.as_bytes()).unwrap_err().path(),
            "alerts[0].startsAt"
        );
        assert!(parse_alerts(b"{").is_err());
        assert!(parse_alerts(b"").is_err());
        assert!(parse_alerts(format!("{FIRING} x").as_bytes()).is_err());
        // Found by the fuzzer: an empty key with invalid UTF-8 in its value
        // produced an error with an empty path.
        let weird = b"{\"receiver\": \"x\", \"\": \"fir\xff\xff\"}";
        assert_eq!(parse_alerts(weird).unwrap_err().path(), "$");
        let missing = FIRING.replace("\"alerts\":", "\"alertz\":");
        let err = parse_alerts(missing.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("alerts"), "{err}");
    }
}
