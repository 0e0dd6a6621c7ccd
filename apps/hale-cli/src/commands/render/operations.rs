//! Operations and incidents.

use serde_json::Value;

use super::list;
use crate::table::{Table, at, clip, fields};

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

/// How the fixes of an incident's operations held, or `-` from a server
/// that does not count them.
fn held(inc: &Value) -> String {
    match inc.get("effectiveness").filter(|e| e.is_object()) {
        Some(e) => format!(
            "{} effective, {} ineffective, {} pending",
            at(e, "effective"),
            at(e, "ineffective"),
            at(e, "pending")
        ),
        None => "-".into(),
    }
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
        ("effectiveness", held(v)),
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
    fn an_incident_shows_how_its_fixes_held() {
        let v = json!({"id": "INC-1", "operation_ids": ["op-1", "op-2"],
            "effectiveness": {"pending": 0, "effective": 1, "ineffective": 1}});
        let out = incident(&v);
        assert!(
            out.contains("effectiveness: 1 effective, 1 ineffective, 0 pending"),
            "{out}"
        );
        assert!(incident(&json!({"id": "INC-1"})).contains("effectiveness: -"));
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
}
