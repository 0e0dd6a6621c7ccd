//! Approvals and their decisions.

use serde_json::Value;

use super::list_rows;
use crate::table::{Table, at, fields};

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
