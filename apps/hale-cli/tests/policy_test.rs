//! `hale policy test`: timed alerts with expected decisions, replayed
//! through the engine; exit 0 when every expectation holds, 1 with a diff
//! when one does not, 2 when the file is invalid. Needs the replay's
//! simulator: `cargo test -p hale-cli --features simulate`.
#![cfg(feature = "simulate")]

mod common;

use std::path::{Path, PathBuf};

use common::hale;
use predicates::prelude::*;
use serde_json::Value;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/replay")
}

/// A test file next to a copy of the bundled policy.
fn scratch(test: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        examples().join("policy.toml"),
        dir.path().join("policy.toml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("t.toml"), test).unwrap();
    dir
}

#[test]
fn the_bundled_storm_test_passes() {
    hale()
        .args(["policy", "test"])
        .arg(examples().join("storm.test.toml"))
        .assert()
        .success()
        .stdout(
            predicate::str::is_match(r"storm\.test\.toml: ok: \d+ alerts, \d+ passed, 0 failed\n$")
                .unwrap(),
        );
}

/// The effectiveness example: three restarts that do not hold block the
/// fourth (guard `ineffective_chain`), on that deployment only.
#[test]
fn the_effectiveness_example_blocks_a_chain_of_ineffective_restarts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/effectiveness");
    hale()
        .args(["policy", "test"])
        .arg(dir.join("chain.test.toml"))
        .assert()
        .success()
        .stdout(predicate::str::ends_with(
            "ok: 8 alerts, 8 passed, 0 failed\n",
        ));
}

const TWO_FIRINGS: &str = r#"
policy = "policy.toml"
start = "2026-11-25T10:00:00Z"

[[alert]]
at = "0s"
name = "HighErrorRate"
labels = { namespace = "prod", deployment = "checkout" }
expect = { decision = "waiting", reason = "trigger_threshold" }

[[alert]]
at = "1m"
name = "HighErrorRate"
status = "resolved"
starts_at = "0s"
labels = { namespace = "prod", deployment = "checkout" }
expect = { decision = "resolved" }

[[alert]]
at = "2m"
name = "HighErrorRate"
labels = { namespace = "prod", deployment = "checkout" }
expect = { decision = "blocked", guard = "cooldown", strategy = "undo-bad-deploy" }
"#;

#[test]
fn a_mismatch_prints_a_diff_at_its_line_and_exits_1() {
    let dir = scratch(TWO_FIRINGS);
    let out = hale()
        .current_dir(dir.path())
        .args(["policy", "test", "t.toml"])
        .assert()
        .code(1);
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        text.contains("t.toml:19: alert 3 (HighErrorRate at 2026-11-25T10:02:00Z): undo-bad-deploy on prod:deployment/checkout"),
        "{text}"
    );
    assert!(text.contains("  decision  - expected: blocked\n"), "{text}");
    assert!(
        text.contains("            + got:      operation_started\n"),
        "{text}"
    );
    assert!(
        text.contains("  guard     - expected: cooldown\n"),
        "{text}"
    );
    assert!(
        text.ends_with("t.toml: FAILED: 3 alerts, 2 passed, 1 failed\n"),
        "{text}"
    );

    let out = hale()
        .current_dir(dir.path())
        .args(["policy", "test", "t.toml", "-o", "json"])
        .assert()
        .code(1);
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["passed"], 2, "{v}");
    assert_eq!(
        v["mismatches"][0]["actual"]["decision"], "operation_started",
        "{v}"
    );

    // Fixed, it passes.
    let fixed = TWO_FIRINGS.replace(
        r#"expect = { decision = "blocked", guard = "cooldown", strategy = "undo-bad-deploy" }"#,
        r#"expect = { decision = "operation_started", strategy = "undo-bad-deploy" }"#,
    );
    std::fs::write(dir.path().join("t.toml"), fixed).unwrap();
    hale()
        .current_dir(dir.path())
        .args(["policy", "test", "t.toml"])
        .assert()
        .success()
        .stdout("t.toml: ok: 3 alerts, 3 passed, 0 failed\n");
}

#[test]
fn an_invalid_test_file_or_policy_is_a_usage_error() {
    let dir = scratch(&TWO_FIRINGS.replace("\"cooldown\"", "\"sleepy\""));
    hale()
        .current_dir(dir.path())
        .args(["policy", "test", "t.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "t.toml:19: expect.guard \"sleepy\" is not a guard",
        ));
    let dir = scratch(&TWO_FIRINGS.replace("policy.toml", "missing.toml"));
    hale()
        .current_dir(dir.path())
        .args(["policy", "test", "t.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.toml"));
    let dir = scratch("policy = \"policy.toml\"\nsurprise = 1\n");
    hale()
        .current_dir(dir.path())
        .args(["policy", "test", "t.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "t.toml:2: unknown field `surprise`",
        ));
}
