//! `hale replay` end to end: the bundled storm against checked-in golden
//! outputs, the accepted input shapes, and bad input.
//!
//! Regenerate the golden files after an intended change with
//! `HALE_UPDATE_GOLDEN=1 cargo test -p hale-cli --features simulate --test replay`, then read
//! the diff: it is the change in what the engine decides.

#![cfg(feature = "simulate")]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/replay")
}

mod common;

use common::hale;

/// Replays the bundled storm with `args` and returns the output; the replay
/// must succeed.
fn replay_storm(args: &[&str]) -> std::process::Output {
    let ex = examples();
    let out = hale()
        .arg("replay")
        .arg("--policy")
        .arg(ex.join("policy.toml"))
        .arg("--alerts")
        .arg(ex.join("storm.jsonl"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The storm with the restarts failing, as in the README.
fn storm(extra: &[&str]) -> std::process::Output {
    let mut args = vec!["--fail-action", "rollout_restart=transient"];
    args.extend_from_slice(extra);
    replay_storm(&args)
}

/// The storm replayed with `args`, as JSON.
fn storm_json(args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.extend_from_slice(&["-o", "json"]);
    serde_json::from_slice(&replay_storm(&args).stdout).unwrap()
}

/// Compares `actual` with the golden file, or rewrites it when
/// `HALE_UPDATE_GOLDEN=1`.
fn golden(name: &str, actual: &str) {
    let path = examples().join(name);
    if std::env::var("HALE_UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (HALE_UPDATE_GOLDEN=1 creates it)", path.display()));
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the replay, first at line {}:\n  golden: {:?}\n  actual: {:?}\n\
             If the change is intended: HALE_UPDATE_GOLDEN=1 cargo test -p hale-cli --test replay",
            path.display(),
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

#[test]
fn storm_text_matches_the_golden_output() {
    let out = storm(&[]);
    golden(
        "storm.expected.txt",
        &String::from_utf8(out.stdout).unwrap(),
    );
}

#[test]
fn storm_json_matches_the_golden_output() {
    let out = storm(&["-o", "json"]);
    golden(
        "storm.expected.json",
        &String::from_utf8(out.stdout).unwrap(),
    );
}

/// The facts the storm exists to show, checked directly so that a careless
/// golden regeneration cannot hide a regression.
#[test]
fn storm_dedups_flapping_and_a_failing_action_drive_the_tenant_dormant() {
    let v = storm_json(&["--fail-action", "rollout_restart=transient"]);
    let s = &v["summary"];
    let n = |p: &str| s.pointer(p).and_then(Value::as_u64).unwrap();
    assert_eq!(n("/deliveries"), 40);
    assert!(n("/deduplicated/duplicate_delivery") >= 100, "{s}");
    assert!(n("/deduplicated/same_episode") >= 20, "{s}");
    assert!(n("/decisions/resolved") >= 3, "flapping resolves: {s}");
    assert_eq!(
        n("/blocked/cooldown"),
        1,
        "the third flap is cooled down: {s}"
    );
    assert!(n("/blocked/backoff") >= 1, "{s}");
    assert!(n("/blocked/circuit_open") >= 1, "{s}");
    assert!(n("/blocked/dormant") >= 10, "{s}");
    assert!(n("/operations/by_state/FAILED") >= 6, "{s}");
    assert_eq!(n("/operations/by_state/COMPLETED"), 1, "{s}");
    assert_eq!(n("/approvals_requested"), 1, "{s}");
    let dormant = s["dormant_entries"].as_array().unwrap();
    assert_eq!(dormant.len(), 1, "{s}");
    assert!(
        dormant[0]["reason"]
            .as_str()
            .unwrap()
            .contains("consecutive healing failures"),
        "{s}"
    );
    // Twelve or more distinct deployments crash-loop in the storm.
    let mut crashing: Vec<&str> = v["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["alertname"] == "KubePodCrashLooping")
        .map(|d| d["fingerprint"].as_str().unwrap())
        .collect();
    crashing.sort_unstable();
    crashing.dedup();
    assert!(crashing.len() >= 12, "{} distinct", crashing.len());
    // Nothing starts once dormant: every later operation_started is before it.
    let since = dormant[0]["at"].as_str().unwrap();
    for d in v["decisions"].as_array().unwrap() {
        if d["outcome"]["decision"] == "operation_started" {
            assert!(d["at"].as_str().unwrap() <= since, "{d}");
        }
    }
}

#[test]
fn the_detection_job_redrives_blocked_alerts_unless_switched_off() {
    let failing = ["--fail-action", "rollout_restart=transient"];
    let with = storm_json(&failing);
    assert!(
        with["summary"]["operations"]["by_detection"]
            .as_u64()
            .unwrap()
            >= 1,
        "{}",
        with["summary"]
    );
    let without = storm_json(&[failing[0], failing[1], "--no-background"]);
    assert_eq!(without["summary"]["operations"]["by_detection"], 0);
}

#[test]
fn without_failures_every_crash_loop_heals_and_nothing_sleeps() {
    let v = storm_json(&[]);
    let s = &v["summary"];
    assert_eq!(s["dormant_entries"].as_array().unwrap().len(), 0, "{s}");
    assert_eq!(s["blocked"]["dormant"], 0, "{s}");
    assert!(s["operations"]["by_state"]["FAILED"].is_null(), "{s}");
    // 14 deployments plus the flapping checkout.
    assert_eq!(s["operations"]["by_state"]["COMPLETED"], 15, "{s}");
}

#[test]
fn unhealthy_targets_fail_verification_and_the_tenant_sleeps() {
    let v = storm_json(&["--unhealthy"]);
    let ops = v["operations"].as_array().unwrap();
    assert!(!ops.is_empty());
    for op in ops {
        assert_eq!(op["state"], "FAILED", "{op}");
        assert!(
            op["error"]
                .as_str()
                .unwrap()
                .contains("verification failed"),
            "{op}"
        );
    }
    assert_eq!(v["summary"]["dormant_entries"].as_array().unwrap().len(), 1);
}

// === input shapes ===

const POLICY: &str = r#"
[[tenants]]
id = "team-a"
namespaces = ["prod"]

[[tenants.strategies]]
id = "restart"
risk = "low"
trigger = { alertnames = ["HighErrorRate"] }
target = { kind = "deployment" }
actions = [{ kind = "rollout_restart" }]
verify = { check = "none" }
"#;

fn body(at: Option<&str>, service: &str, status: &str) -> String {
    let at = at.map_or_else(String::new, |a| format!("\"at\":\"{a}\","));
    format!(
        r#"{{{at}"version":"4","status":"{status}","receiver":"hale","alerts":[{{"status":"{status}","labels":{{"alertname":"HighErrorRate","namespace":"prod","service":"{service}"}},"startsAt":"2026-11-25T10:00:00Z","endsAt":"0001-01-01T00:00:00Z"}}]}}"#
    )
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        let f = Files {
            dir: tempfile::tempdir().unwrap(),
        };
        f.write("policy.toml", POLICY);
        f
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn replay(&self, alerts: &str) -> Command {
        let mut cmd = hale();
        cmd.current_dir(self.dir.path()).args([
            "replay",
            "--policy",
            "policy.toml",
            "--alerts",
            alerts,
        ]);
        cmd
    }
}

fn decisions(out: &[u8]) -> Vec<String> {
    let v: Value = serde_json::from_slice(out).unwrap();
    v["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["outcome"]["decision"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_single_pretty_printed_webhook_document_replays() {
    let f = Files::new();
    let doc: Value = serde_json::from_str(&body(None, "api", "firing")).unwrap();
    f.write("one.json", &serde_json::to_string_pretty(&doc).unwrap());
    let out = f.replay("one.json").args(["-o", "json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(decisions(&out.stdout), ["operation_started"]);
}

#[test]
fn a_json_array_of_bodies_replays_in_order() {
    let f = Files::new();
    let array = format!(
        "[{}, {}, {}]",
        body(Some("2026-11-25T10:00:00Z"), "api", "firing"),
        body(Some("2026-11-25T10:00:00Z"), "api", "firing"),
        body(Some("2026-11-25T10:00:10Z"), "web", "firing"),
    );
    f.write("array.json", &array);
    let out = f
        .replay("array.json")
        .args(["-o", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        decisions(&out.stdout),
        [
            "operation_started",
            "duplicate_delivery",
            "operation_started"
        ]
    );
}

#[test]
fn generic_alert_lines_replay_with_their_timestamps() {
    let f = Files::new();
    let lines = [
        r#"{"at":"2026-11-25T10:00:00Z","status":"firing","labels":{"alertname":"HighErrorRate","namespace":"prod","service":"api"},"annotations":{},"startsAt":"2026-11-25T09:59:00Z","endsAt":null}"#,
        r#"{"receivedAt":"2026-11-25T10:30:00Z","status":"resolved","labels":{"alertname":"HighErrorRate","namespace":"prod","service":"api"},"startsAt":"2026-11-25T09:59:00Z","endsAt":"2026-11-25T10:29:00Z"}"#,
        r#"{"at":"2026-11-25T10:31:00Z","status":"firing","labels":{"alertname":"DiskFull","namespace":"prod","service":"db"}}"#,
    ];
    f.write("generic.jsonl", &(lines.join("\n") + "\n"));
    let out = f
        .replay("generic.jsonl")
        .args(["-o", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        decisions(&out.stdout),
        ["operation_started", "resolved", "no_strategy"]
    );
    assert_eq!(v["decisions"][1]["at"], "2026-11-25T10:30:00.000000Z");
    assert_eq!(v["summary"]["from"], "2026-11-25T10:00:00.000000Z");
}

// === bad input ===

/// Runs a failing replay and returns its stderr; it must exit 2 and must
/// not have panicked.
fn fails_with_2(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout when failing");
    stderr
}

#[test]
fn a_missing_alerts_or_policy_file_is_a_clear_error() {
    let f = Files::new();
    let err = fails_with_2(&mut f.replay("nope.jsonl"));
    assert!(
        err.contains("nope.jsonl: cannot read the alerts file"),
        "{err}"
    );
    f.write("a.jsonl", &body(None, "api", "firing"));
    let err = fails_with_2(hale().current_dir(f.dir.path()).args([
        "replay",
        "--policy",
        "missing.toml",
        "--alerts",
        "a.jsonl",
    ]));
    assert!(err.contains("missing.toml"), "{err}");
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn a_policy_that_is_not_toml_points_at_the_line_and_column() {
    let f = Files::new();
    f.write("a.jsonl", &body(None, "api", "firing"));
    f.write(
        "bad.toml",
        "[[tenants]]\nid = \"x\"\nnamespaces = [\"prod\"\n",
    );
    let err = fails_with_2(
        hale()
            .current_dir(f.dir.path())
            .args(["replay", "--policy", "bad.toml", "--alerts", "a.jsonl"]),
    );
    assert!(
        predicate::str::is_match(r"bad\.toml:\d+:\d+: ")
            .unwrap()
            .eval(&err),
        "{err}"
    );
}

#[test]
fn a_policy_with_wrong_fields_lists_every_problem() {
    let f = Files::new();
    f.write("a.jsonl", &body(None, "api", "firing"));
    let wrong = POLICY.replace("risk = \"low\"", "risk = \"tiny\"").replace(
        "namespaces = [\"prod\"]",
        "namespaces = [\"prod\"]\ncolour = \"blue\"",
    );
    f.write("wrong.toml", &wrong);
    let err = fails_with_2(hale().current_dir(f.dir.path()).args([
        "replay",
        "--policy",
        "wrong.toml",
        "--alerts",
        "a.jsonl",
    ]));
    assert!(err.contains("wrong.toml:"), "{err}");
    assert!(err.contains("colour") || err.contains("tiny"), "{err}");
}

#[test]
fn garbage_lines_in_the_alerts_file_are_each_reported() {
    let f = Files::new();
    let text = format!(
        "{}\nnot json at all\n{{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[{{\"status\":\"burning\",\"labels\":{{\"alertname\":\"X\"}}}}]}}\n\u{0}\u{1}garbage\n",
        body(None, "api", "firing")
    );
    f.write("garbage.jsonl", &text);
    let err = fails_with_2(&mut f.replay("garbage.jsonl"));
    assert!(err.contains("garbage.jsonl:2:"), "{err}");
    assert!(
        err.contains("garbage.jsonl:3: invalid payload at alerts[0].status"),
        "{err}"
    );
    assert!(err.contains("garbage.jsonl:4:"), "{err}");
    assert!(!err.contains("garbage.jsonl:1"), "line 1 is fine: {err}");
}

#[test]
fn binary_and_empty_alerts_files_are_refused() {
    let f = Files::new();
    std::fs::write(f.dir.path().join("bin.dat"), [0xff, 0xfe, 0x00, 0x81]).unwrap();
    let err = fails_with_2(&mut f.replay("bin.dat"));
    assert!(err.contains("not UTF-8"), "{err}");
    f.write("empty.jsonl", "\n\n");
    let err = fails_with_2(&mut f.replay("empty.jsonl"));
    assert!(err.contains("no alerts"), "{err}");
}

#[test]
fn an_unknown_tenant_or_failure_class_is_a_usage_error() {
    let f = Files::new();
    f.write("a.jsonl", &body(None, "api", "firing"));
    let err = fails_with_2(f.replay("a.jsonl").args(["--tenant", "team-b"]));
    assert!(err.contains("tenant team-b is not in the policy"), "{err}");
    let err = fails_with_2(
        f.replay("a.jsonl")
            .args(["--fail-action", "rollout_restart=flaky"]),
    );
    assert!(err.contains("unknown failure class"), "{err}");
}
