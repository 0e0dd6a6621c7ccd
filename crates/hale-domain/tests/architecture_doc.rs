//! docs/ARCHITECTURE.md cites real code: every module in the domain's rule
//! table exists, and every test the page names (its invariants and property
//! tests) is defined somewhere in the workspace. A renamed or deleted test
//! fails here until the page says what protects the rule now.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The backticked spans of a line.
fn backticked(line: &str) -> impl Iterator<Item = &str> {
    line.split('`').skip(1).step_by(2)
}

/// Every `.rs` file of the workspace (not `target/`, not hidden folders).
fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if path.is_dir() {
            rust_sources(&path, out);
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// A test name as the page writes them: snake_case, at least three words.
fn looks_like_a_test(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && s.matches('_').count() >= 2
        && s.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
}

#[test]
fn architecture_doc_cites_modules_and_tests_that_exist() {
    let root = workspace();
    let doc = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md"))
        .expect("docs/ARCHITECTURE.md is readable");

    // The rule table of "The pure core": | rule | `module`, `module` | ... |
    let mut modules = BTreeSet::new();
    let mut in_core = false;
    for line in doc.lines() {
        if line.starts_with("## ") {
            in_core = line.contains("pure core");
        }
        let row = in_core && line.starts_with("| ") && !line.starts_with("| ---");
        if let Some(cell) = line.split('|').nth(2).filter(|_| row) {
            modules.extend(backticked(cell).map(str::to_owned));
        }
    }
    assert!(
        modules.len() >= 10,
        "the rule table lists modules: {modules:?}"
    );
    let src = root.join("crates/hale-domain/src");
    let missing: Vec<&String> = modules
        .iter()
        .filter(|m| !src.join(format!("{m}.rs")).exists() && !src.join(m).join("mod.rs").exists())
        .collect();
    assert!(
        missing.is_empty(),
        "docs/ARCHITECTURE.md's rule table names modules hale-domain does not have: {missing:?}"
    );

    // Test names: every backticked snake_case name of three or more words
    // in the invariants, and every `prop_` name anywhere.
    let mut tests = BTreeSet::new();
    let mut in_invariants = false;
    for line in doc.lines() {
        if line.starts_with("## ") {
            in_invariants = line.contains("Invariants");
        }
        for span in backticked(line) {
            if looks_like_a_test(span) && (in_invariants || span.starts_with("prop_")) {
                tests.insert(span.to_owned());
            }
        }
    }
    assert!(tests.len() >= 20, "the page names its tests: {tests:?}");
    let mut files = Vec::new();
    rust_sources(&root, &mut files);
    let mut defined = BTreeSet::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for line in text.lines() {
            let line = line.trim_start();
            let rest = line
                .strip_prefix("async fn ")
                .or_else(|| line.strip_prefix("fn "))
                .or_else(|| line.strip_prefix("pub async fn "))
                .or_else(|| line.strip_prefix("pub fn "));
            if let Some(rest) = rest {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                defined.insert(name);
            }
        }
    }
    let undefined: Vec<&String> = tests.iter().filter(|t| !defined.contains(*t)).collect();
    assert!(
        undefined.is_empty(),
        "docs/ARCHITECTURE.md names tests that no file defines: {undefined:?}"
    );
}
