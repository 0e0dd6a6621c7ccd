//! Tables for the server's JSON answers (shapes in `docs/api.md`). Each
//! renderer reads fields by name and shows `-` for any it does not find, so
//! a newer server with more fields still renders.

use serde_json::Value;

use crate::table::{Table, at, clip};

mod approvals;
mod operations;
mod records;
mod safety;
mod status;

pub use approvals::{approval, approval_decision, approvals};
pub use operations::{incident, incidents, operation, operations};
pub use records::{audit, knowledge, knowledge_entry, notifications, notifications_redriven};
pub use safety::{
    attempts_reset, breaker_reset, breakers, dormancy, switches, window_changed, windows,
};
pub use status::status;

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
