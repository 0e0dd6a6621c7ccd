//! `hale policy check`: the server's configuration loader, offline.

mod common;

use std::path::Path;

use common::hale;
use predicates::prelude::*;
use serde_json::Value;

fn example() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/replay/policy.toml")
}

#[test]
fn the_bundled_policy_is_valid_with_a_one_line_summary() {
    let out = hale()
        .args(["policy", "check"])
        .arg(example())
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.ends_with(": ok: 1 tenant (shop), 3 strategies, executor kubernetes\n"),
        "{text}"
    );
}

#[test]
fn every_problem_is_reported_at_its_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(example())
        .unwrap()
        .replace("timeout = \"60s\"", "timeout = \"0s\"")
        .replace("dormancy_threshold = 6", "dormancy_threshold = 0");
    std::fs::write(dir.path().join("p.toml"), text).unwrap();
    let out = hale()
        .current_dir(dir.path())
        .args(["policy", "check", "p.toml"])
        .assert()
        .code(2);
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    let located = predicate::str::is_match(r"^p\.toml:\d+:\d+: tenants\[0\]\.").unwrap();
    for l in &lines[..3] {
        assert!(located.eval(l), "{l}");
    }
    assert!(
        text.contains("actions[0].timeout: must be positive"),
        "{text}"
    );
    assert!(
        text.contains("dormancy_threshold: must be at least 1"),
        "{text}"
    );
    assert_eq!(lines[3], "p.toml: invalid: 3 problems");

    let out = hale()
        .current_dir(dir.path())
        .args(["policy", "check", "p.toml", "-o", "json"])
        .assert()
        .code(2);
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["problems"].as_array().unwrap().len(), 3, "{v}");
    assert!(v["problems"][0]["line"].as_u64().unwrap() > 1, "{v}");
}

#[test]
fn syntax_errors_unknown_fields_and_missing_files_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("syntax.toml"), "[[tenants]\nid = 1\n").unwrap();
    hale()
        .current_dir(dir.path())
        .args(["policy", "check", "syntax.toml"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_match(r"^syntax\.toml:1:\d+: ").unwrap());
    std::fs::write(
        dir.path().join("fields.toml"),
        "[[tenants]]\nid = \"a\"\nnamespaces = [\"*\"]\nstratagems = []\n",
    )
    .unwrap();
    hale()
        .current_dir(dir.path())
        .args(["policy", "check", "fields.toml"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains(
            "fields.toml:4:1: unknown field `stratagems`",
        ));
    hale()
        .current_dir(dir.path())
        .args(["policy", "check", "absent.toml"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("absent.toml: cannot read"))
        .stderr(predicate::str::contains("panicked").not());
}
