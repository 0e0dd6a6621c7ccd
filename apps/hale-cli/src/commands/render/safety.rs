//! Fail-safe acts: breakers, kill switches, dormancy, maintenance windows, attempt ledgers.

use serde_json::Value;

use super::items;
use crate::table::{Table, at, cell, fields};

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
