//! Durable records: the audit log, notifications and knowledge entries.

use serde_json::Value;

use super::list;
use crate::table::{at, fields};

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

/// The answer to `notifications redrive`.
pub fn notifications_redriven(v: &Value) -> String {
    format!(
        "{} given-up deliveries of {} sent again ({})\n",
        v["redriven"].as_u64().unwrap_or(0),
        at(v, "channel"),
        match at(v, "tenant").as_str() {
            "*" => "the platform".to_owned(),
            t => format!("tenant {t}"),
        }
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
