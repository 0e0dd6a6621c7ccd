//! Writing to stdout and stderr.
//!
//! `println!` panics when the reader goes away (`hale audit | head`); these
//! helpers write through `std::io` and treat a closed pipe as "done".

use std::io::Write;

/// Writes `text` to stdout as is.
pub fn stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe means the reader has what it wanted; there is no one
    // left to tell about any other write error either.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Writes one line to stderr.
pub fn stderr(line: &str) {
    let mut err = std::io::stderr().lock();
    // Nothing useful can be done if stderr itself is gone.
    let _ = writeln!(err, "{line}");
}

/// A value as pretty JSON followed by a newline.
pub fn json(value: &impl serde::Serialize) -> String {
    // Serializing a `Value` or a plain derived struct cannot fail; an empty
    // object is a safe fallback should a custom serializer ever refuse.
    let mut s = serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}
