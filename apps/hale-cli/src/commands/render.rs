//! Tables for the server's JSON answers (shapes in `docs/api.md`). Each
//! renderer reads fields by name and shows `-` for any it does not find, so
//! a newer server with more fields still renders.

use serde_json::Value;

use crate::table::{Table, at, cell, clip, fields};

/// The `items` of a list answer.
fn items(v: &Value) -> &[Value] {
    v.get("items")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A table over a list answer, one row per item, plus a hint when more
/// rows exist.
fn list_rows(v: &Value, headers: &[&str], row: impl Fn(&Value) -> Vec<String>) -> String {
    let mut t = Table::new(headers);
    for item in items(v) {
        t.row(row(item));
    }
    let mut out = if t.is_empty() {
        "no results\n".to_owned()
    } else {
        t.render()
    };
    if let Some(next) = v.get("next_offset").and_then(Value::as_u64) {
        out.push_str(&format!("(more: --offset {next})\n"));
    }
    out
}

/// A list with `(header, pointer)` columns; the last column is clipped.
fn list(v: &Value, columns: &[(&str, &str)], clip_last: usize) -> String {
    let headers: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
    list_rows(v, &headers, |item| {
        let mut cells: Vec<String> = columns.iter().map(|(_, p)| at(item, p)).collect();
        if let Some(last) = cells.pop() {
            cells.push(clip(last, clip_last));
        }
        cells
    })
}

/// `hale ops list`.
pub fn operations(v: &Value) -> String {
    list(
        v,
        &[
            ("ID", "id"),
            ("STATE", "state"),
            ("EFFECTIVENESS", "effectiveness"),
            ("STRATEGY", "strategy_id"),
            ("RESOURCE", "resource"),
            ("SOURCE", "source_system"),
            ("ATTEMPT", "attempt_number"),
            ("STARTED", "started_at"),
            ("ERROR", "error"),
        ],
        80,
    )
}

/// `hale ops show`.
pub fn operation(v: &Value) -> String {
    let mut out = fields(&[
        ("id", at(v, "id")),
        ("state", at(v, "state")),
        ("effectiveness", effectiveness(v)),
        ("strategy", at(v, "strategy_id")),
        ("resource", at(v, "resource")),
        ("risk", at(v, "risk")),
        ("source", at(v, "source_system")),
        ("channel", at(v, "authorization_channel")),
        ("incident", at(v, "incident_id")),
        ("approval", at(v, "approval_id")),
        ("attempt", at(v, "attempt_number")),
        ("diagnosis", at(v, "diagnosis/root_cause")),
        ("started", at(v, "started_at")),
        ("completed", at(v, "completed_at")),
        ("escalated", at(v, "escalated")),
        ("error", at(v, "error")),
    ]);
    let actions = v
        .get("actions_run")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if !actions.is_empty() {
        let mut t = Table::new(&["PHASE", "ACTION", "OK", "STARTED", "DURATION", "MESSAGE"]);
        for a in actions {
            t.row(vec![
                at(a, "phase"),
                at(a, "action"),
                at(a, "success"),
                at(a, "started_at"),
                at(a, "duration"),
                clip(at(a, "message"), 80),
            ]);
        }
        out.push_str("\nactions:\n");
        out.push_str(&t.render());
    }
    out
}

/// An operation's effectiveness with when it was settled, or `-` for an
/// operation that does not track it (not completed with a firing alert).
fn effectiveness(op: &Value) -> String {
    let verdict = at(op, "effectiveness");
    match op.get("effectiveness_settled_at").filter(|t| !t.is_null()) {
        Some(_) => format!("{verdict} (since {})", at(op, "effectiveness_settled_at")),
        None if op.get("alert_resolved_at").is_some_and(|t| !t.is_null()) => format!(
            "{verdict} (alert resolved at {})",
            at(op, "alert_resolved_at")
        ),
        None => verdict,
    }
}

/// `hale incidents list`.
pub fn incidents(v: &Value) -> String {
    list(
        v,
        &[
            ("ID", "id"),
            ("STATUS", "status"),
            ("SEVERITY", "severity"),
            ("CREATED", "created_at"),
            ("TITLE", "title"),
        ],
        80,
    )
}

/// `hale incidents show`.
pub fn incident(v: &Value) -> String {
    let signals = v
        .get("signals")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let mut out = fields(&[
        ("id", at(v, "id")),
        ("title", at(v, "title")),
        ("status", at(v, "status")),
        ("severity", at(v, "severity")),
        ("fingerprint", at(v, "fingerprint")),
        ("services", at(v, "affected_services")),
        ("signals", signals.to_string()),
        ("operations", at(v, "operation_ids")),
        ("approvals", at(v, "proposal_ids")),
        ("outcome", at(v, "outcome/result")),
        ("summary", at(v, "outcome/summary")),
        ("created", at(v, "created_at")),
        ("resolved", at(v, "resolved_at")),
        ("closed", at(v, "closed_at")),
    ]);
    let chain = v
        .get("decision_chain")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if !chain.is_empty() {
        let mut t = Table::new(&["AT", "STAGE", "DECISION", "REASON"]);
        for s in chain {
            t.row(vec![
                at(s, "at"),
                at(s, "stage"),
                at(s, "decision"),
                clip(at(s, "reason"), 100),
            ]);
        }
        out.push_str("\ndecisions:\n");
        out.push_str(&t.render());
    }
    out
}

/// `signatures/required` for an approval.
fn signatures(a: &Value) -> String {
    let got = a
        .get("signatures")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    format!("{got}/{}", at(a, "required_signatures"))
}

/// `hale approvals list`.
pub fn approvals(v: &Value) -> String {
    list_rows(
        v,
        &[
            "ID", "STATUS", "RISK", "SIGNED", "STRATEGY", "RESOURCE", "HITS", "EXPIRES",
        ],
        |a| {
            vec![
                at(a, "id"),
                at(a, "status"),
                at(a, "risk_level"),
                signatures(a),
                at(a, "strategy_id"),
                at(a, "resource"),
                at(a, "hit_count"),
                at(a, "expires_at"),
            ]
        },
    )
}

/// `hale approvals show`.
pub fn approval(v: &Value) -> String {
    let mut out = fields(&[
        ("id", at(v, "id")),
        ("status", at(v, "status")),
        ("action", at(v, "action")),
        ("description", at(v, "description")),
        ("strategy", at(v, "strategy_id")),
        ("resource", at(v, "resource")),
        ("risk", at(v, "risk_level")),
        ("signatures", signatures(v)),
        ("blast radius", at(v, "blast_radius")),
        ("requested by", at(v, "requested_by")),
        ("hits", at(v, "hit_count")),
        ("incident", at(v, "incident_id")),
        ("created", at(v, "created_at")),
        ("expires", at(v, "expires_at")),
        ("rejected by", at(v, "rejected_by")),
        ("rejection", at(v, "rejection_reason")),
    ]);
    let sigs = v
        .get("signatures")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if !sigs.is_empty() {
        let mut t = Table::new(&["SIGNED BY", "AT", "COMMENT"]);
        for s in sigs {
            t.row(vec![at(s, "actor"), at(s, "signed_at"), at(s, "comment")]);
        }
        out.push_str("\nsignatures:\n");
        out.push_str(&t.render());
    }
    out
}

/// The answer to approve/reject.
pub fn approval_decision(v: &Value) -> String {
    let approval = v.get("approval").unwrap_or(v);
    let mut pairs = vec![
        ("approval", at(approval, "id")),
        ("status", at(approval, "status")),
        ("signatures", signatures(approval)),
    ];
    if v.get("approval").is_some() {
        pairs.push(("operation", at(v, "operation_id")));
        pairs.push(("pending", at(v, "pending_reason")));
    }
    fields(&pairs)
}

/// `hale audit`.
pub fn audit(v: &Value) -> String {
    list(
        v,
        &[
            ("TIME", "created_at"),
            ("TYPE", "operation_type"),
            ("TARGET", "target_resource"),
            ("OK", "success"),
            ("SOURCE", "source_system"),
            ("CHANNEL", "authorization_channel"),
            ("BY", "executed_by"),
            ("REASON", "reason"),
        ],
        80,
    )
}

/// `hale notifications`.
pub fn notifications(v: &Value) -> String {
    list(
        v,
        &[
            ("TIME", "notice/at"),
            ("KIND", "notice/kind"),
            ("SEV", "notice/severity"),
            ("CHANNEL", "channel"),
            ("ATTEMPTS", "attempts"),
            ("DELIVERED", "delivered_at"),
            ("NEXT", "next_attempt_at"),
            ("ID", "notice/id"),
            ("LAST ERROR", "last_error"),
        ],
        60,
    )
}

/// `hale breakers list`.
pub fn breakers(v: &Value) -> String {
    let rows: &[Value] = match v {
        Value::Array(a) => a,
        other => items(other),
    };
    let mut t = Table::new(&[
        "NAME",
        "STATE",
        "FAILURES",
        "OPENED",
        "LAST FAILURE",
        "PERMANENT",
    ]);
    for b in rows {
        t.row(vec![
            at(b, "name"),
            at(b, "snapshot/state"),
            at(b, "snapshot/consecutive_failures"),
            at(b, "snapshot/opened_at"),
            at(b, "snapshot/last_failure_class"),
            at(b, "snapshot/permanent/reason"),
        ]);
    }
    if t.is_empty() {
        "no breakers yet (one appears when its executor first runs)\n".into()
    } else {
        t.render()
    }
}

/// `hale switches get`: every layer as LAYER / KEY / STATE rows.
pub fn switches(v: &Value) -> String {
    let mut t = Table::new(&["LAYER", "KEY", "STATE"]);
    let features = |layer: &str, obj: Option<&Value>, t: &mut Table| {
        if let Some(Value::Object(m)) = obj.and_then(|o| o.get("features")) {
            for (k, s) in m {
                t.row(vec![layer.to_owned(), k.clone(), cell(s)]);
            }
        }
    };
    features("global (effective)", v.get("global_effective"), &mut t);
    features("global (runtime)", v.get("global_runtime"), &mut t);
    features("global (flags)", v.get("flags"), &mut t);
    if let Some(tenant) = v.get("tenant").filter(|x| !x.is_null()) {
        if let Some(s) = tenant.get("tenant").filter(|x| !x.is_null()) {
            t.row(vec!["tenant".into(), "-".into(), cell(s)]);
        }
        for (layer, field) in [("strategy", "strategies"), ("action_kind", "action_kinds")] {
            if let Some(Value::Object(m)) = tenant.get(field) {
                for (k, s) in m {
                    t.row(vec![layer.into(), k.clone(), cell(s)]);
                }
            }
        }
    }
    let mut out = t.render();
    if t.is_empty() {
        out.push_str("(no switch is set: everything is on)\n");
    }
    out
}

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

/// The answer to `dormant resume` / `dormant enter`.
pub fn dormancy(v: &Value) -> String {
    if let Some(r) = v.get("resumed") {
        let mut out = String::from("resumed: automatic healing may run again\n");
        out.push_str(&fields(&[
            ("scope", at(v, "scope")),
            ("by", at(r, "actor")),
            ("reason", at(r, "reason")),
            ("was dormant since", at(r, "ended/since")),
            ("was dormant because", at(r, "ended/reason")),
        ]));
        out
    } else {
        let entered = v.get("entered").and_then(Value::as_bool) == Some(true);
        let mut out = String::from(if entered {
            "dormant: automatic healing stopped until resumed\n"
        } else {
            "already dormant: nothing changed\n"
        });
        out.push_str(&fields(&[("scope", at(v, "scope"))]));
        out
    }
}

/// The answer to `breakers reset`.
pub fn breaker_reset(v: &Value) -> String {
    let what = match v.get("transition").filter(|t| !t.is_null()) {
        Some(t) => format!("{} -> {}", at(t, "from"), at(t, "to")),
        None => "was already closed".to_owned(),
    };
    format!("breaker {} reset: {what}\n", at(v, "breaker"))
}

/// `hale windows list`: one row per window.
pub fn windows(v: &Value) -> String {
    let mut t = Table::new(&["ID", "MODE", "SOURCE", "ACTIVE", "SCHEDULE", "REASON"]);
    for w in items(v) {
        let schedule = match w["schedule"]["kind"].as_str() {
            Some("weekly") => format!(
                "{} {} for {} ({})",
                w["schedule"]["days"]
                    .as_array()
                    .map(|d| d
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","))
                    .unwrap_or_default(),
                at(w, "schedule/start"),
                at(w, "schedule/duration"),
                at(w, "schedule/time_zone"),
            ),
            _ => format!("{} .. {}", at(w, "schedule/start"), at(w, "schedule/end")),
        };
        let active = match (w["active"].as_bool(), w["ended"].is_null()) {
            (Some(true), _) => format!("until {}", at(w, "current/end")),
            (_, false) => "ended".to_owned(),
            _ => "no".to_owned(),
        };
        t.row(vec![
            at(w, "id"),
            at(w, "mode"),
            at(w, "source"),
            active,
            schedule,
            at(w, "reason"),
        ]);
    }
    if t.is_empty() {
        "no maintenance windows\n".into()
    } else {
        t.render()
    }
}

/// The answer to `windows open` and `windows end`.
pub fn window_changed(v: &Value) -> String {
    match v.get("ended").filter(|e| !e.is_null()) {
        Some(e) => format!(
            "window {} ended at {} by {}\n",
            at(v, "id"),
            at(e, "at"),
            at(e, "by")
        ),
        None => format!("window {} ({}) opened\n", at(v, "id"), at(v, "mode")),
    }
}

/// The answer to `attempts reset`.
pub fn attempts_reset(v: &Value) -> String {
    format!(
        "attempts of {} on {} reset: it may run again\n",
        at(v, "strategy"),
        at(v, "resource")
    )
}

/// `hale knowledge list`.
pub fn knowledge(v: &Value) -> String {
    list(
        v,
        &[
            ("ID", "id"),
            ("TYPE", "entry_type"),
            ("STATUS", "status"),
            ("STRATEGY", "failed_strategy_id"),
            ("VIEWS", "view_count"),
            ("CREATED", "created_at"),
            ("TITLE", "title"),
        ],
        80,
    )
}

/// `hale knowledge show|create|archive`.
pub fn knowledge_entry(v: &Value) -> String {
    let mut out = fields(&[
        ("id", at(v, "id")),
        ("title", at(v, "title")),
        ("type", at(v, "entry_type")),
        ("status", at(v, "status")),
        ("category", at(v, "category")),
        ("tags", at(v, "tags")),
        ("source", at(v, "source")),
        ("failed strategy", at(v, "failed_strategy_id")),
        ("incident", at(v, "related_incident_id")),
        ("views", at(v, "view_count")),
        ("created by", at(v, "created_by")),
        ("created", at(v, "created_at")),
        ("updated", at(v, "updated_at")),
    ]);
    if let Some(body) = v.get("content").and_then(Value::as_str)
        && !body.is_empty()
    {
        out.push('\n');
        out.push_str(body);
        if !body.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lists_render_rows_and_a_paging_hint() {
        let v = json!({"items": [
            {"id": "op-1", "state": "completed", "strategy_id": "restart",
             "resource": {"namespace": "prod", "kind": "deployment", "name": "api"},
             "source_system": "failure_watcher", "attempt_number": 1,
             "started_at": "2026-11-25T00:00:05.000000Z", "error": null}
        ], "next_offset": 50});
        let out = operations(&v);
        assert!(out.starts_with("ID    STATE"), "{out}");
        assert!(out.contains("prod:deployment/api"), "{out}");
        assert!(out.contains("2026-11-25T00:00:05Z"), "{out}");
        assert!(out.ends_with("(more: --offset 50)\n"), "{out}");
        assert_eq!(operations(&json!({"items": []})), "no results\n");
    }

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
    fn operations_show_their_effectiveness() {
        let v = json!({"items": [
            {"id": "op-1", "state": "COMPLETED", "effectiveness": "ineffective",
             "strategy_id": "restart", "resource": "prod:deployment/api"},
            {"id": "op-2", "state": "FAILED", "effectiveness": null,
             "strategy_id": "restart", "resource": "prod:deployment/api"}]});
        let out = operations(&v);
        assert!(out.starts_with("ID    STATE      EFFECTIVENESS"), "{out}");
        assert!(out.contains("COMPLETED  ineffective"), "{out}");
        let one = operation(&json!({"id": "op-1", "effectiveness": "effective",
            "effectiveness_settled_at": "2026-11-25T00:10:00.000000Z"}));
        assert!(
            one.contains("effectiveness: effective (since 2026-11-25T00:10:00Z)"),
            "{one}"
        );
        let pending = operation(&json!({"id": "op-1", "effectiveness": "pending",
            "alert_resolved_at": "2026-11-25T00:05:00.000000Z"}));
        assert!(
            pending.contains("pending (alert resolved at 2026-11-25T00:05:00Z)"),
            "{pending}"
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
