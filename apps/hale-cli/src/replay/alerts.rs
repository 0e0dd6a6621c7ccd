//! Reading a recorded alerts file into deliveries.
//!
//! Accepted shapes:
//!
//! * one JSON document: an Alertmanager webhook body (`{"version": "4",
//!   "alerts": [...]}`), a generic alert, or an array of either;
//! * JSON lines: one body or one generic alert per line. Blank lines and
//!   lines starting with `#` are skipped.
//!
//! A generic alert is `{"status", "labels", "annotations", "startsAt",
//! "endsAt"}` (Alertmanager's per-alert shape). Any item may carry `"at"`
//! (or `"receivedAt"`): the RFC 3339 time it arrived, which drives the
//! simulated clock, and `"tenant"`. Alerts are converted by the same parser
//! the server's Alertmanager intake uses ([`hale_domain::alertmanager`]).

use hale_domain::Timestamp;
use hale_domain::alert::Alert;
use hale_domain::alertmanager::parse_alerts;
use serde_json::{Map, Value};

/// At most this many problems are listed before the rest are counted.
const MAX_PROBLEMS_SHOWN: usize = 20;

/// One delivery: what the server would receive in one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Where it came from: `line 12` or `item 3`.
    pub source: String,
    /// When it arrived, if the recording says.
    pub at: Option<Timestamp>,
    /// The tenant, if the recording says.
    pub tenant: Option<String>,
    /// The alerts, in order.
    pub alerts: Vec<Alert>,
}

/// Problems found in an alerts file, one `FILE:LINE[:COL]: message` each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertsFileError {
    /// The problems, in file order.
    pub problems: Vec<String>,
}

impl std::fmt::Display for AlertsFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for p in self.problems.iter().take(MAX_PROBLEMS_SHOWN) {
            writeln!(f, "{p}")?;
        }
        if self.problems.len() > MAX_PROBLEMS_SHOWN {
            writeln!(
                f,
                "... and {} more problems",
                self.problems.len() - MAX_PROBLEMS_SHOWN
            )?;
        }
        Ok(())
    }
}

/// Parses the text of an alerts file named `file` (used in messages).
pub fn parse_alerts_file(file: &str, text: &str) -> Result<Vec<Delivery>, AlertsFileError> {
    let fail = |p: String| AlertsFileError { problems: vec![p] };
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err(fail(format!("{file}: the file holds no alerts")));
    }
    // One document (pretty-printed or not), or else JSON lines.
    if let Ok(doc) = serde_json::from_str::<Value>(text) {
        let items = match doc {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    (
                        format!("item {}", i + 1),
                        format!("{file}: item {}", i + 1),
                        v,
                    )
                })
                .collect(),
            other => vec![("document".to_owned(), file.to_owned(), other)],
        };
        return collect(items);
    }
    if trimmed.starts_with('[') {
        // An array that does not parse is one broken document; line mode
        // would only add noise.
        let e = serde_json::from_str::<Value>(text)
            .err()
            .map_or_else(|| "invalid JSON".to_owned(), |e| json_error(file, 0, &e));
        return Err(fail(e));
    }
    let mut items = Vec::new();
    let mut problems = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        match serde_json::from_str::<Value>(l) {
            Ok(v) => items.push((format!("line {line_no}"), format!("{file}:{line_no}"), v)),
            Err(e) => problems.push(json_error(file, line_no, &e)),
        }
    }
    match collect(items) {
        Ok(d) if problems.is_empty() => Ok(d),
        Ok(_) => Err(AlertsFileError { problems }),
        Err(mut e) => {
            problems.append(&mut e.problems);
            problems.sort_by_key(|p| line_of(p));
            Err(AlertsFileError { problems })
        }
    }
}

/// The line number in a `FILE:LINE...` problem, for ordering.
fn line_of(problem: &str) -> usize {
    problem
        .split(':')
        .nth(1)
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

fn json_error(file: &str, line: usize, e: &serde_json::Error) -> String {
    // serde_json counts lines within what it was given: the whole file in
    // document mode (line == 0 here), or a single line in line mode.
    let (l, col) = if line == 0 {
        (e.line(), e.column())
    } else {
        (line, e.column())
    };
    let msg = e.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg);
    format!("{file}:{l}:{col}: not valid JSON: {msg}")
}

fn collect(items: Vec<(String, String, Value)>) -> Result<Vec<Delivery>, AlertsFileError> {
    let mut out = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (source, place, v) in items {
        match delivery(source, v) {
            Ok(d) => out.push(d),
            Err(msg) => problems.push(format!("{place}: {msg}")),
        }
    }
    if problems.is_empty() {
        if out.iter().all(|d| d.alerts.is_empty()) {
            return Err(AlertsFileError {
                problems: vec!["the file holds no alerts".into()],
            });
        }
        Ok(out)
    } else {
        Err(AlertsFileError { problems })
    }
}

/// The field (`at` or `receivedAt`) that says when an item arrived.
fn take_time(obj: &mut Map<String, Value>) -> Result<Option<Timestamp>, String> {
    let mut found = None;
    for key in ["at", "receivedAt", "received_at"] {
        if let Some(v) = obj.remove(key) {
            let s = v
                .as_str()
                .ok_or_else(|| format!("\"{key}\" must be an RFC 3339 string"))?;
            let t = Timestamp::parse_rfc3339(s).map_err(|e| format!("\"{key}\": {e}"))?;
            found = Some(t);
        }
    }
    Ok(found)
}

fn delivery(source: String, v: Value) -> Result<Delivery, String> {
    let Value::Object(mut obj) = v else {
        return Err("expected a JSON object (an Alertmanager webhook body or an alert)".into());
    };
    let at = take_time(&mut obj)?;
    let tenant = match obj.remove("tenant") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err("\"tenant\" must be a string".into()),
    };
    let alerts = if obj.contains_key("alerts") {
        let body = serde_json::to_vec(&Value::Object(obj)).map_err(|e| e.to_string())?;
        parse_alerts(&body).map_err(|e| e.to_string())?
    } else if obj.contains_key("labels") || obj.contains_key("status") {
        generic_alert(obj)?
    } else {
        return Err(
            "neither an Alertmanager webhook body (no \"alerts\") nor an alert (no \"labels\")"
                .into(),
        );
    };
    Ok(Delivery {
        source,
        at,
        tenant,
        alerts,
    })
}

/// A generic alert goes through the webhook parser as a one-alert body, so
/// both shapes are validated by the same rules; paths in errors are made
/// relative to the alert again.
fn generic_alert(obj: Map<String, Value>) -> Result<Vec<Alert>, String> {
    let status = match obj.get("status") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err("status must be \"firing\" or \"resolved\"".into()),
        None => return Err("missing \"status\" (\"firing\" or \"resolved\")".into()),
    };
    let body = serde_json::json!({
        "version": "4",
        // The group status must be valid for the body to parse; the alert's
        // own status is checked (and reported) below.
        "status": if status == "resolved" { "resolved" } else { "firing" },
        "alerts": [Value::Object(obj)],
    });
    let bytes = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
    parse_alerts(&bytes).map_err(|e| {
        let msg = e
            .to_string()
            .replace("alerts[0].", "")
            .replace("alerts[0]", "$");
        // Positions would point into the synthesized body, not the file.
        match msg.find(" at line ") {
            Some(i) => msg[..i].to_owned(),
            None => msg,
        }
    })
}

#[cfg(test)]
mod tests {
    use hale_domain::alert::AlertStatus;

    use super::*;

    const BODY: &str = r#"{"version":"4","status":"firing","receiver":"hale","alerts":[{"status":"firing","labels":{"alertname":"HighErrorRate","namespace":"prod","service":"api"},"startsAt":"2026-11-25T10:00:00Z","endsAt":"0001-01-01T00:00:00Z"}]}"#;

    #[test]
    fn one_webhook_document_is_one_delivery() {
        let pretty =
            serde_json::to_string_pretty(&serde_json::from_str::<Value>(BODY).unwrap()).unwrap();
        let d = parse_alerts_file("f", &pretty).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].alerts[0].alertname(), Some("HighErrorRate"));
        assert_eq!(d[0].at, None);
    }

    #[test]
    fn arrays_and_json_lines_mix_bodies_and_generic_alerts() {
        let array = format!("[{BODY}, {BODY}]");
        assert_eq!(parse_alerts_file("f", &array).unwrap().len(), 2);
        let lines = format!(
            "# recorded\n{}\n\n{}\n",
            BODY.replacen('{', r#"{"at":"2026-11-25T10:00:05Z","#, 1),
            r#"{"receivedAt":"2026-11-25T10:01:00Z","tenant":"team-b","status":"resolved","labels":{"alertname":"HighErrorRate","namespace":"prod","service":"api"},"endsAt":"2026-11-25T10:00:59Z"}"#
        );
        let d = parse_alerts_file("f", &lines).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].source, "line 2");
        assert_eq!(
            d[0].at,
            Some(Timestamp::parse_rfc3339("2026-11-25T10:00:05Z").unwrap())
        );
        assert_eq!(d[1].tenant.as_deref(), Some("team-b"));
        assert_eq!(d[1].alerts[0].status, AlertStatus::Resolved);
    }

    #[test]
    fn every_bad_line_is_reported_with_its_line_and_column() {
        let text = format!(
            "{BODY}\nthis is not json\n{{\"labels\":{{\"namespace\":\"prod\"}}}}\n{{\"foo\":1}}\n{{\"at\":\"soon\",\"labels\":{{\"alertname\":\"X\"}}}}\n{{\"status\":\"firing\",\"labels\":{{\"namespace\":\"prod\"}}}}\n"
        );
        let err = parse_alerts_file("storm.jsonl", &text).unwrap_err();
        assert_eq!(err.problems.len(), 5, "{err}");
        assert!(
            err.problems[0].starts_with("storm.jsonl:2:2: not valid JSON"),
            "{err}"
        );
        assert_eq!(
            err.problems[1],
            "storm.jsonl:3: missing \"status\" (\"firing\" or \"resolved\")"
        );
        assert!(err.problems[2].contains("neither an Alertmanager"), "{err}");
        assert!(
            err.problems[3].contains("\"at\": invalid timestamp"),
            "{err}"
        );
        assert_eq!(
            err.problems[4],
            "storm.jsonl:6: invalid payload at labels: missing the alertname label"
        );
    }

    #[test]
    fn empty_files_and_broken_documents_are_errors() {
        assert!(parse_alerts_file("f", " \n").is_err());
        assert!(parse_alerts_file("f", "[{\"labels\": ").is_err());
        assert!(parse_alerts_file("f", "[]").is_err());
        let err = parse_alerts_file("f", "[1]").unwrap_err();
        assert!(
            err.problems[0].contains("item 1: expected a JSON object"),
            "{err}"
        );
    }
}
