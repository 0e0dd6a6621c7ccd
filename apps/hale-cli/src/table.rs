//! Aligned text tables and the formatting of JSON values in their cells.

use serde_json::Value;

/// A table: a header row and rows of cells, rendered with columns aligned
/// by two spaces. The last column is not padded, so lines carry no trailing
/// spaces.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new<S: AsRef<str>>(headers: &[S]) -> Self {
        Table {
            headers: headers.iter().map(|h| h.as_ref().to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are blank, extra cells are dropped).
    pub fn row(&mut self, mut cells: Vec<String>) {
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }

    /// Rows so far.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rendered table, one line per row, each ending in a newline.
    pub fn render(&self) -> String {
        let cols = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == cols {
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(widths[i] - width(cell) + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Field-value pairs rendered as an aligned two-column block.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let w = pairs.iter().map(|(k, _)| width(k)).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        out.push_str(&format!("{k}:{}{v}\n", " ".repeat(w - width(k) + 1)));
    }
    out
}

/// A JSON value as a cell: strings as they are (timestamps shortened),
/// `null` as `-`, resources as `ns:kind/name`, lists joined with commas,
/// other objects as compact JSON.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => short_time(s),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) if items.iter().all(|i| !i.is_object()) => {
            if items.is_empty() {
                "-".into()
            } else {
                items.iter().map(cell).collect::<Vec<_>>().join(",")
            }
        }
        Value::Object(o) => match (o.get("namespace"), o.get("kind"), o.get("name")) {
            (Some(Value::String(ns)), Some(Value::String(k)), Some(Value::String(n))) => {
                format!("{ns}:{k}/{n}")
            }
            _ => v.to_string(),
        },
        Value::Array(_) => v.to_string(),
    }
}

/// The cell for a field of an object (`-` when absent). `path` is a JSON
/// pointer without the leading slash, e.g. `snapshot/state`.
pub fn at(v: &Value, path: &str) -> String {
    v.pointer(&format!("/{path}"))
        .map_or_else(|| "-".into(), cell)
}

/// Cuts a cell to `max` characters, marking the cut with `…`.
pub fn clip(s: String, max: usize) -> String {
    if width(&s) <= max {
        s
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// `2026-11-25T00:00:05.361950Z` -> `2026-11-25T00:00:05Z`: a table is read
/// by people, to whom the stored microseconds are noise (`-o json` keeps
/// them).
pub fn short_time(s: &str) -> String {
    let b = s.as_bytes();
    let looks_like_time = b.len() > 20
        && b.get(10) == Some(&b'T')
        && b.get(19) == Some(&b'.')
        && s.ends_with('Z')
        && s[20..s.len() - 1].bytes().all(|c| c.is_ascii_digit());
    if looks_like_time {
        format!("{}Z", &s[..19])
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn columns_align_and_lines_have_no_trailing_space() {
        let mut t = Table::new(&["ID", "STATE", "NOTE"]);
        t.row(vec!["op-1".into(), "completed".into(), String::new()]);
        t.row(vec!["op-000002".into(), "failed".into(), "boom".into()]);
        assert_eq!(
            t.render(),
            "ID         STATE      NOTE\nop-1       completed\nop-000002  failed     boom\n"
        );
    }

    #[test]
    fn cells_format_json_values_for_people() {
        assert_eq!(cell(&json!(null)), "-");
        assert_eq!(cell(&json!(true)), "yes");
        assert_eq!(
            cell(&json!("2026-11-25T00:00:05.000000Z")),
            "2026-11-25T00:00:05Z"
        );
        assert_eq!(
            cell(&json!("2026-11-25T00:00:05.250000Z")),
            "2026-11-25T00:00:05Z"
        );
        assert_eq!(
            cell(&json!("2026-11-25T00:00:05.x5Z")),
            "2026-11-25T00:00:05.x5Z"
        );
        assert_eq!(
            cell(&json!({"namespace": "prod", "kind": "deployment", "name": "api"})),
            "prod:deployment/api"
        );
        assert_eq!(cell(&json!(["a", "b"])), "a,b");
        assert_eq!(at(&json!({"a": {"b": 3}}), "a/b"), "3");
        assert_eq!(at(&json!({}), "a/b"), "-");
        assert_eq!(clip("abcdef".into(), 4), "abc…");
    }

    #[test]
    fn fields_align_on_the_colon() {
        assert_eq!(
            fields(&[("id", "x".into()), ("state", "y".into())]),
            "id:    x\nstate: y\n"
        );
    }
}
