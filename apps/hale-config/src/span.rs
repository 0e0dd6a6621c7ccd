//! Where in the file a problem is: byte offsets to line and column, and a
//! dotted field path (`tenants[0].strategies[1].actions[0].timeout`) back to
//! the span of that key in the TOML source.
//!
//! The TOML crate gives spans for syntax and type errors. Semantic problems
//! (a policy that parses but makes no sense) are found later on typed
//! values, which have no spans; [`locate`] walks the spanned document tree
//! (`toml::de::DeTable`) along the same path to find them. When the exact
//! key is absent (a defaulted field), the deepest table on the path that
//! exists is reported, so the operator still gets the right line.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCol {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

/// The line and column of byte `offset` in `text` (clamped to the text).
pub fn line_col(text: &str, offset: usize) -> LineCol {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    LineCol {
        line,
        column: text[line_start..offset].chars().count() + 1,
    }
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// Splits `a.b[2].c` into keys and indexes. Unparseable pieces end the path
/// (the caller then reports the deepest location found so far).
fn segments(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Segment::Key(key.to_owned()));
        }
        while let Some(stripped) = rest.strip_prefix('[') {
            let Some(end) = stripped.find(']') else {
                return out;
            };
            match stripped[..end].parse() {
                Ok(i) => out.push(Segment::Index(i)),
                Err(_) => return out,
            }
            rest = &stripped[end + 1..];
        }
    }
    out
}

/// The span of the value at `path` in `text`, or of the deepest existing
/// value on the way there. `None` when the text does not parse or not even
/// the first segment exists.
pub fn locate(text: &str, path: &str) -> Option<Range<usize>> {
    let doc = DeTable::parse(text).ok()?;
    let mut table: Option<&DeTable<'_>> = Some(doc.get_ref());
    let mut array: Option<&[toml::Spanned<DeValue<'_>>]> = None;
    let mut found: Option<Range<usize>> = None;
    for seg in segments(path) {
        let next = match (&seg, table, array) {
            (Segment::Key(k), Some(t), _) => t.get(k.as_str()),
            (Segment::Index(i), _, Some(a)) => a.get(*i),
            _ => None,
        };
        let Some(value) = next else { break };
        found = Some(value.span());
        table = value.get_ref().as_table();
        array = value.get_ref().as_array().map(|a| &a[..]);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"# a comment
[server]
listen = "127.0.0.1:8080"

[[tenants]]
id = "a"

[[tenants]]
id = "b"

[[tenants.strategies]]
id = "s"
actions = [{ kind = "x" }, { kind = "y", timeout = "0s" }]
"#;

    #[test]
    fn offsets_map_to_lines_and_character_columns() {
        assert_eq!(line_col("ab\ncd", 0), LineCol { line: 1, column: 1 });
        assert_eq!(line_col("ab\ncd", 4), LineCol { line: 2, column: 2 });
        // Columns count characters: "é" is two bytes.
        assert_eq!(line_col("é=1", 2), LineCol { line: 1, column: 2 });
        assert_eq!(line_col("x", 99), LineCol { line: 1, column: 2 });
    }

    #[test]
    fn paths_split_into_keys_and_indexes() {
        assert_eq!(
            segments("tenants[1].strategies[0].actions[1].timeout"),
            vec![
                Segment::Key("tenants".into()),
                Segment::Index(1),
                Segment::Key("strategies".into()),
                Segment::Index(0),
                Segment::Key("actions".into()),
                Segment::Index(1),
                Segment::Key("timeout".into()),
            ]
        );
    }

    #[test]
    fn a_nested_key_is_found_on_its_own_line() {
        let span = locate(DOC, "tenants[1].strategies[0].actions[1].timeout").unwrap();
        assert_eq!(&DOC[span.clone()], "\"0s\"");
        assert_eq!(line_col(DOC, span.start).line, 13);
        let span = locate(DOC, "server.listen").unwrap();
        assert_eq!(line_col(DOC, span.start).line, 3);
    }

    #[test]
    fn a_missing_key_falls_back_to_its_table() {
        let span = locate(DOC, "tenants[1].strategies[0].cooldown").unwrap();
        let line = line_col(DOC, span.start).line;
        assert!((11..=13).contains(&line), "line {line}");
        assert!(locate(DOC, "nothing.here").is_none());
    }
}
