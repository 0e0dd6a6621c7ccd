//! `hale status`: the safety state, maintenance windows, budgets and effectiveness.

use serde_json::Value;

use crate::table::{Table, at, cell, clip, fields};

fn bullet_list(title: &str, v: Option<&Value>) -> String {
    let lines: Vec<String> = v
        .and_then(Value::as_array)
        .map(|a| a.iter().map(cell).collect())
        .unwrap_or_default();
    if lines.is_empty() {
        return String::new();
    }
    let mut out = format!("\n{title}:\n");
    for l in lines {
        out.push_str(&format!("  - {l}\n"));
    }
    out
}

/// The shared safety state as the server's copy has it (docs/reliability.md,
/// "What replicas share"): each scope's version and how long ago the copy
/// was confirmed against the store.
fn safety_state(v: &Value) -> String {
    let Some(ss) = v.get("safetyState") else {
        return "-".into();
    };
    let scope = |name: &str, version: &str, age: &str| {
        let age = ss.get(age).and_then(Value::as_u64).map_or_else(
            || "not confirmed yet".into(),
            |ms| format!("confirmed {ms} ms ago"),
        );
        format!("{name} version {} ({age})", at(ss, version))
    };
    let mut parts = Vec::new();
    if ss.get("tenantVersion").is_some_and(|t| !t.is_null()) {
        parts.push(scope("tenant", "tenantVersion", "tenantViewAgeMs"));
    }
    parts.push(scope("platform", "platformVersion", "platformViewAgeMs"));
    format!(
        "{}; checked every {} ms",
        parts.join(", "),
        at(ss, "syncIntervalMs")
    )
}

/// `hale status`.
pub fn status(v: &Value) -> String {
    let sh = v.get("selfHealing").cloned().unwrap_or(Value::Null);
    let dormant = match sh.get("dormant").filter(|d| !d.is_null()) {
        Some(d) => format!(
            "yes, since {} ({}): {}",
            at(d, "since"),
            at(d, "triggered_by"),
            at(d, "reason")
        ),
        None => "no".into(),
    };
    let mut out = fields(&[
        ("scope", at(v, "scope")),
        ("generated", at(v, "generatedAt")),
        ("healing enabled", at(&sh, "enabled")),
        ("dormant", dormant),
        ("consecutive failures", at(&sh, "consecutiveFailures")),
        ("backoff (ms)", at(&sh, "backoffDelay")),
        ("next healing at", at(&sh, "nextHealingAt")),
        (
            "healings",
            format!(
                "{} started, {} succeeded, {} failed",
                at(&sh, "totalAttempts"),
                at(&sh, "successfulHealings"),
                at(&sh, "failedHealings")
            ),
        ),
        ("deferred alerts", at(&sh, "deferredAlerts")),
        ("safety state", safety_state(v)),
    ]);
    if let Some(bs) = v.get("circuitBreakers").and_then(Value::as_array)
        && !bs.is_empty()
    {
        let mut t = Table::new(&[
            "TENANT",
            "BREAKER",
            "STATE",
            "FAILURES",
            "LAST FAILURE (s ago)",
        ]);
        for b in bs {
            t.row(vec![
                at(b, "tenant"),
                at(b, "name"),
                at(b, "state"),
                at(b, "failureCount"),
                at(b, "lastFailureAgo"),
            ]);
        }
        out.push_str("\ncircuit breakers:\n");
        out.push_str(&t.render());
    }
    if let Some(ts) = v.get("tenants").and_then(Value::as_array)
        && !ts.is_empty()
    {
        let mut t = Table::new(&[
            "TENANT",
            "DORMANT",
            "FAILURES",
            "OPEN BREAKERS",
            "STATE VERSION",
            "VIEW AGE (ms)",
        ]);
        for x in ts {
            t.row(vec![
                at(x, "tenant"),
                at(x, "isDormant"),
                at(x, "consecutiveFailures"),
                at(x, "openBreakers"),
                at(x, "stateVersion"),
                at(x, "viewAgeMs"),
            ]);
        }
        out.push_str("\ntenants:\n");
        out.push_str(&t.render());
    }
    out.push_str(&active_windows(v));
    out.push_str(&budgets(v));
    out.push_str(&effectiveness_by_strategy(v));
    if let Some(tasks) = v
        .pointer("/backgroundTasks/tasks")
        .and_then(Value::as_array)
        && !tasks.is_empty()
    {
        let mut t = Table::new(&[
            "TASK",
            "EVERY (s)",
            "RUNS",
            "FAILURES",
            "LAST RUN",
            "LAST ERROR",
        ]);
        for x in tasks {
            t.row(vec![
                at(x, "id"),
                at(x, "intervalSeconds"),
                at(x, "executionCount"),
                at(x, "failureCount"),
                at(x, "lastRunAt"),
                clip(at(x, "lastError"), 60),
            ]);
        }
        out.push_str("\nbackground tasks:\n");
        out.push_str(&t.render());
    }
    out.push_str(&bullet_list("issues", v.get("issues")));
    out.push_str(&bullet_list("recommendations", v.get("recommendations")));
    out
}

/// The status's maintenance windows active now.
fn active_windows(v: &Value) -> String {
    let ws = v
        .get("maintenanceWindows")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if ws.is_empty() {
        return String::new();
    }
    let mut t = Table::new(&["TENANT", "WINDOW", "MODE", "UNTIL", "REASON"]);
    for w in ws {
        t.row(vec![
            at(w, "tenant"),
            at(w, "id"),
            at(w, "mode"),
            at(w, "until"),
            clip(at(w, "reason"), 60),
        ]);
    }
    format!("\nmaintenance windows active now:\n{}", t.render())
}

/// `used/max` of one cap, or just `used` when nothing caps it.
fn of_cap(used: &Value, max: &Value) -> String {
    match max.as_u64() {
        Some(m) => format!("{}/{m}", cell(used)),
        None => cell(used),
    }
}

/// The status's remediation budgets: each budget's use against its caps.
fn budgets(v: &Value) -> String {
    let scopes = v
        .pointer("/remediationBudgets/scopes")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if scopes.is_empty() {
        return String::new();
    }
    let mut t = Table::new(&["BUDGET", "IN FLIGHT", "STARTED", "PODS DISRUPTED", "WINDOW"]);
    for b in scopes {
        let l = &b["limits"];
        t.row(vec![
            at(b, "scope"),
            of_cap(&b["inFlight"], &l["max_in_flight"]),
            of_cap(&b["started"], &l["max_started"]),
            of_cap(&b["podsDisrupted"], &l["max_pods_disrupted"]),
            at(l, "window"),
        ]);
    }
    format!("\nremediation budgets (used/max):\n{}", t.render())
}

/// The status's effectiveness per strategy.
fn effectiveness_by_strategy(v: &Value) -> String {
    let rows = v
        .get("effectiveness")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if rows.is_empty() {
        return String::new();
    }
    let mut t = Table::new(&[
        "TENANT",
        "STRATEGY",
        "EFFECTIVE",
        "INEFFECTIVE",
        "PENDING",
        "EFFECTIVE RATE",
    ]);
    for r in rows {
        let rate = r["effectiveRate"]
            .as_f64()
            .map_or_else(|| "-".to_owned(), |x| format!("{:.0}%", x * 100.0));
        t.row(vec![
            at(r, "tenant"),
            at(r, "strategy"),
            at(r, "effective"),
            at(r, "ineffective"),
            at(r, "pending"),
            rate,
        ]);
    }
    format!("\neffectiveness of completed operations:\n{}", t.render())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn status_shows_dormancy_and_recommendations() {
        let v = json!({
            "scope": "tenant:team-a", "generatedAt": "2026-11-25T00:00:00.000000Z",
            "selfHealing": {"enabled": false, "isDormant": true,
                "dormant": {"since": "2026-11-25T00:00:00.000000Z", "triggered_by": "automatic", "reason": "10 failures"},
                "consecutiveFailures": 10, "backoffDelay": 600000, "totalAttempts": 10,
                "successfulHealings": 0, "failedHealings": 10, "deferredAlerts": 0},
            "circuitBreakers": [], "backgroundTasks": {"tasks": []},
            "issues": ["tenant team-a is dormant"], "recommendations": ["hale dormant resume"],
            "safetyState": {"platformVersion": 3, "platformViewAgeMs": 120,
                "tenantVersion": 12, "tenantViewAgeMs": 80, "syncIntervalMs": 250}
        });
        let out = status(&v);
        assert!(
            out.contains(
                "dormant:              yes, since 2026-11-25T00:00:00Z (automatic): 10 failures"
            ),
            "{out}"
        );
        assert!(
            out.contains("recommendations:\n  - hale dormant resume"),
            "{out}"
        );
        assert!(
            out.contains(
                "safety state:         tenant version 12 (confirmed 80 ms ago), \
                 platform version 3 (confirmed 120 ms ago); checked every 250 ms"
            ),
            "{out}"
        );
    }

    #[test]
    fn status_shows_windows_budgets_and_effectiveness() {
        let v = json!({
            "scope": "tenant:team-a", "generatedAt": "2026-11-25T00:00:00.000000Z",
            "selfHealing": {"enabled": true, "isDormant": false},
            "circuitBreakers": [], "backgroundTasks": {"tasks": []}, "issues": [],
            "recommendations": [],
            "maintenanceWindows": [{"tenant": "team-a", "id": "mw-1", "mode": "block",
                "until": "2026-11-25T02:00:00.000000Z", "reason": "db upgrade"}],
            "remediationBudgets": {"inFlight": 1, "countedRuns": 4, "scopes": [
                {"scope": "tenant", "limits": {"max_in_flight": 3, "max_started": null,
                    "max_pods_disrupted": 20, "window": "1h"},
                 "inFlight": 1, "started": 4, "podsDisrupted": 7},
                {"scope": "namespace:prod", "limits": {"max_in_flight": null,
                    "max_started": 2, "max_pods_disrupted": null, "window": "30m"},
                 "inFlight": 0, "started": 2, "podsDisrupted": 3}]},
            "effectiveness": [
                {"tenant": "team-a", "strategy": "restart", "pending": 1, "effective": 3,
                 "ineffective": 1, "effectiveRate": 0.75},
                {"tenant": "team-a", "strategy": "evict", "pending": 2, "effective": 0,
                 "ineffective": 0, "effectiveRate": null}],
            "safetyState": {"platformVersion": 2, "syncIntervalMs": 250}
        });
        let out = status(&v);
        // The row whose first cells are `start`, split into cells.
        let line = |start: &[&str]| {
            out.lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>())
                .find(|cells| cells.starts_with(start))
                .unwrap_or_else(|| panic!("no row {start:?} in\n{out}"))
        };
        assert!(out.contains("maintenance windows active now:"), "{out}");
        assert_eq!(
            line(&["team-a", "mw-1"]),
            [
                "team-a",
                "mw-1",
                "block",
                "2026-11-25T02:00:00Z",
                "db",
                "upgrade"
            ]
        );
        assert!(out.contains("remediation budgets (used/max):"), "{out}");
        assert_eq!(
            line(&["tenant", "1/3"]),
            ["tenant", "1/3", "4", "7/20", "1h"]
        );
        assert_eq!(
            line(&["namespace:prod"]),
            ["namespace:prod", "0", "2/2", "3", "30m"]
        );
        assert!(
            out.contains("effectiveness of completed operations:"),
            "{out}"
        );
        assert_eq!(
            line(&["team-a", "restart"]),
            ["team-a", "restart", "3", "1", "1", "75%"]
        );
        assert_eq!(
            line(&["team-a", "evict"]),
            ["team-a", "evict", "0", "0", "2", "-"]
        );
        let quiet = status(&json!({"scope": "tenant:team-a", "selfHealing": {}}));
        assert!(
            !quiet.contains("maintenance windows")
                && !quiet.contains("remediation budgets")
                && !quiet.contains("effectiveness"),
            "{quiet}"
        );
    }

    #[test]
    fn global_status_shows_each_tenants_state_version_and_view_age() {
        let v = json!({
            "scope": "global", "generatedAt": "2026-11-25T00:00:00.000000Z",
            "selfHealing": {"enabled": true, "isDormant": false},
            "circuitBreakers": [], "backgroundTasks": {"tasks": []}, "issues": [],
            "recommendations": [],
            "tenants": [{"tenant": "team-a", "isDormant": false, "consecutiveFailures": 0,
                "openBreakers": 0, "stateVersion": 7, "viewAgeMs": 40}],
            "safetyState": {"platformVersion": 2, "platformViewAgeMs": null, "syncIntervalMs": 250}
        });
        let out = status(&v);
        assert!(
            out.contains(
                "safety state:         platform version 2 (not confirmed yet); checked every 250 ms"
            ),
            "{out}"
        );
        assert!(out.contains("STATE VERSION  VIEW AGE (ms)"), "{out}");
        let row = out.lines().find(|l| l.starts_with("team-a")).unwrap();
        assert!(row.trim_end().ends_with("7              40"), "{out}");
    }
}
