//! `hale policy test FILE`: assert what a policy decides, in CI, before it
//! ships (like `promtool test rules`).
//!
//! A test file (TOML) names the policy and holds timed alerts, each with
//! the decision expected for it:
//!
//! ```toml
//! policy = "policy.toml"             # relative to this file
//! start = "2026-11-25T10:00:00Z"     # where the simulated clock starts
//! fail_actions = ["rollout_restart=transient"]   # as `hale replay`
//!
//! [[alert]]
//! at = "1m"                          # after `start`, or RFC 3339
//! name = "HighErrorRate"
//! labels = { namespace = "prod", deployment = "checkout" }
//! expect = { decision = "blocked", guard = "cooldown" }
//! ```
//!
//! An alert is firing unless `status = "resolved"`; `starts_at` defaults to
//! its `at` and, for a resolved alert, `ends_at` too. A redelivery (an
//! Alertmanager HA peer) repeats `starts_at` (and `ends_at`).
//!
//! Every alert is one delivery replayed through [`crate::replay::replay`],
//! the engine path of `hale replay` (the server's engine on in-memory ports
//! and simulated time). Each decision is compared with its expectation;
//! every mismatch is printed as `FILE:LINE: ...` with the expected and the
//! actual values, and any mismatch makes the command exit 1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hale_domain::Timestamp;
use hale_domain::alert::{Alert, AlertStatus};
use hale_domain::guard::Guard;
use hale_engine::Outcome;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::Done;
use crate::exit::{CliError, Exit};
use crate::replay::report::DECISIONS;
use crate::replay::{self, Delivery, ReplayInput};

/// A test file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    policy: PathBuf,
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    fail_actions: Vec<String>,
    #[serde(default)]
    unhealthy: bool,
    #[serde(default = "yes")]
    background: bool,
    #[serde(default, rename = "alert")]
    alerts: Vec<Spanned<TestAlert>>,
}

fn yes() -> bool {
    true
}

/// One timed alert and what it must lead to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestAlert {
    at: String,
    name: String,
    #[serde(default)]
    status: Option<AlertStatus>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    starts_at: Option<String>,
    #[serde(default)]
    ends_at: Option<String>,
    #[serde(default)]
    tenant: Option<String>,
    expect: Expectation,
}

/// What one alert must lead to. Only the fields given are compared.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The decision (`operation_started`, `blocked`, ...).
    pub decision: String,
    /// For `blocked`: the guard (`cooldown`, `anti_pattern`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<String>,
    /// The reason of a deferral or skip (`resource_busy`, ...), or
    /// `trigger_threshold` for `waiting`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The strategy that matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
}

/// What an alert actually led to, in the terms of an [`Expectation`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actual {
    /// The decision.
    pub decision: String,
    /// The guard, for `blocked`.
    pub guard: Option<String>,
    /// The reason, for `deferred`, `skipped`, `blocked` and `waiting`.
    pub reason: Option<String>,
    /// The strategy, when one matched.
    pub strategy: Option<String>,
    /// The replay's one-line detail.
    pub detail: String,
}

impl Actual {
    fn of(o: &Outcome) -> Actual {
        let strategy = match o {
            Outcome::Waiting { strategy_id, .. }
            | Outcome::OperationStarted { strategy_id, .. }
            | Outcome::ApprovalRequested { strategy_id, .. }
            | Outcome::Deferred { strategy_id, .. }
            | Outcome::Blocked { strategy_id, .. } => Some(strategy_id.to_string()),
            Outcome::Skipped { strategy_id, .. } => strategy_id.as_ref().map(ToString::to_string),
            _ => None,
        };
        Actual {
            decision: o.label().to_owned(),
            guard: match o {
                Outcome::Blocked { guard, .. } => Some(guard.as_str().to_owned()),
                _ => None,
            },
            reason: o.reason().map(str::to_owned),
            strategy,
            detail: replay::report::detail(o),
        }
    }
}

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// `FILE:LINE` of the alert.
    pub at_line: String,
    /// The alert's position in the file (1-based).
    pub alert: usize,
    /// Its name.
    pub name: String,
    /// When it arrived (simulated).
    pub time: Timestamp,
    /// `(field, expected, actual)` for each field that differs.
    pub fields: Vec<(String, String, String)>,
    /// What it led to.
    pub actual: Actual,
}

/// The result of a test file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestReport {
    /// The test file.
    pub file: String,
    /// Alerts checked.
    pub alerts: usize,
    /// Alerts whose expectation held.
    pub passed: usize,
    /// The rest.
    pub mismatches: Vec<Mismatch>,
}

impl TestReport {
    /// The report for people: one block per mismatch, then a summary line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for m in &self.mismatches {
            out.push_str(&format!(
                "{}: alert {} ({} at {}): {}\n",
                m.at_line,
                m.alert,
                m.name,
                crate::table::short_time(&m.time.to_rfc3339()),
                m.actual.detail
            ));
            let width = m.fields.iter().map(|(f, _, _)| f.len()).max().unwrap_or(0);
            for (field, want, got) in &m.fields {
                out.push_str(&format!("  {field:<width$}  - expected: {want}\n"));
                out.push_str(&format!("  {:<width$}  + got:      {got}\n", ""));
            }
        }
        let verdict = if self.mismatches.is_empty() {
            "ok"
        } else {
            "FAILED"
        };
        out.push_str(&format!(
            "{}: {verdict}: {} alert{}, {} passed, {} failed\n",
            self.file,
            self.alerts,
            if self.alerts == 1 { "" } else { "s" },
            self.passed,
            self.mismatches.len()
        ));
        out
    }
}

/// Compares an expectation with what happened: `(field, expected, got)`
/// per differing field.
pub fn compare(want: &Expectation, got: &Actual) -> Vec<(String, String, String)> {
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut out = Vec::new();
    if want.decision != got.decision {
        out.push((
            "decision".into(),
            want.decision.clone(),
            got.decision.clone(),
        ));
    }
    for (field, w, g) in [
        ("guard", &want.guard, &got.guard),
        ("reason", &want.reason, &got.reason),
        ("strategy", &want.strategy, &got.strategy),
    ] {
        if let Some(w) = w
            && Some(w) != g.as_ref()
        {
            out.push((field.into(), w.clone(), show(g)));
        }
    }
    out
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// `at`: RFC 3339, or a duration after `start`.
fn time_at(value: &str, start: Timestamp) -> Result<Timestamp, String> {
    if let Ok(t) = Timestamp::parse_rfc3339(value) {
        return Ok(t);
    }
    hale_domain::time::duration::parse(value)
        .map(|d| start + d)
        .map_err(|_| format!("{value:?}: use RFC 3339 or a duration after `start` (90s, 5m)"))
}

/// A parsed test file: where its alerts are, the deliveries and the
/// expectations.
struct Parsed {
    file: TestFile,
    deliveries: Vec<Delivery>,
    expectations: Vec<(String, Expectation)>,
}

fn parse(path: &Path, text: &str) -> Result<Parsed, CliError> {
    let name = path.display().to_string();
    let mut file: TestFile = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| format!(":{}", line_of(text, s.start)))
            .unwrap_or_default();
        CliError::Invalid(format!("{name}{at}: {}", e.message()))
    })?;
    if file.alerts.is_empty() {
        return Err(CliError::Invalid(format!(
            "{name}: no [[alert]]: a test needs at least one alert"
        )));
    }
    let start = match &file.start {
        Some(s) => Timestamp::parse_rfc3339(s)
            .map_err(|e| CliError::Invalid(format!("{name}: start: {e}")))?,
        None => Timestamp::from_unix_secs(hale_testkit::kit::KIT_EPOCH_SECS),
    };
    let mut problems = Vec::new();
    let mut deliveries = Vec::new();
    let mut expectations = Vec::new();
    let mut last = start;
    for spanned in std::mem::take(&mut file.alerts) {
        let line = line_of(text, spanned.span().start);
        let where_ = format!("{name}:{line}");
        let a = spanned.into_inner();
        let mut bad = |m: String| problems.push(format!("{where_}: {m}"));
        if !DECISIONS.contains(&a.expect.decision.as_str()) {
            bad(format!(
                "expect.decision {:?} is not one of {}",
                a.expect.decision,
                DECISIONS.join(", ")
            ));
        }
        if let Some(g) = &a.expect.guard
            && g.parse::<Guard>().is_err()
        {
            bad(format!("expect.guard {g:?} is not a guard"));
        }
        let at = match time_at(&a.at, start) {
            Ok(t) => t,
            Err(e) => {
                bad(format!("at: {e}"));
                continue;
            }
        };
        if at < last {
            bad(format!(
                "at: {} is before the previous alert; list alerts in time order",
                at.to_rfc3339()
            ));
        }
        last = last.max(at);
        let starts_at = match a
            .starts_at
            .as_deref()
            .map(|s| time_at(s, start))
            .transpose()
        {
            Ok(s) => s.unwrap_or(at),
            Err(e) => {
                bad(format!("starts_at: {e}"));
                continue;
            }
        };
        let status = a.status.unwrap_or(AlertStatus::Firing);
        let ends_at = match a.ends_at.as_deref().map(|s| time_at(s, start)).transpose() {
            Ok(e) => e.or((status == AlertStatus::Resolved).then_some(at)),
            Err(e) => {
                bad(format!("ends_at: {e}"));
                continue;
            }
        };
        let mut labels = a.labels;
        labels.insert("alertname".into(), a.name);
        let alert = Alert {
            status,
            labels,
            annotations: a.annotations,
            starts_at: Some(starts_at),
            ends_at,
            generator_url: None,
            source_fingerprint: None,
        };
        deliveries.push(Delivery {
            source: where_.clone(),
            at: Some(at),
            tenant: a.tenant,
            alerts: vec![alert],
        });
        expectations.push((where_, a.expect));
    }
    if !problems.is_empty() {
        problems.push(format!(
            "{name}: invalid: {} problem{}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        ));
        return Err(CliError::Invalid(problems.join("\n") + "\n"));
    }
    Ok(Parsed {
        file,
        deliveries,
        expectations,
    })
}

/// Runs a test file: replays its alerts and compares every decision.
pub fn run_file(path: &Path, tenant: Option<String>) -> Result<TestReport, CliError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::file(&name, format!("cannot read the test file: {e}")))?;
    let parsed = parse(path, &text)?;
    let policy = path
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(&parsed.file.policy);
    let config = crate::policy::load(&policy)?;
    let input = ReplayInput::from_config(
        &config,
        parsed.deliveries,
        parsed.file.tenant.clone().or(tenant),
        &parsed.file.fail_actions,
        parsed.file.unhealthy,
        parsed.file.background,
    )?;
    let report = replay::replay(input, None)?;
    let mut mismatches = Vec::new();
    for (i, (where_, want)) in parsed.expectations.iter().enumerate() {
        let Some(line) = report.decisions.iter().find(|d| d.delivery == i + 1) else {
            return Err(CliError::Failure(format!(
                "{where_}: the replay made no decision for this alert"
            )));
        };
        let got = Actual::of(&line.decision.outcome);
        let fields = compare(want, &got);
        if !fields.is_empty() {
            mismatches.push(Mismatch {
                at_line: where_.clone(),
                alert: i + 1,
                name: line.decision.alertname.clone(),
                time: line.at,
                fields,
                actual: got,
            });
        }
    }
    Ok(TestReport {
        file: name,
        alerts: parsed.expectations.len(),
        passed: parsed.expectations.len() - mismatches.len(),
        mismatches,
    })
}

/// `hale policy test FILE`: exit 0 when every expectation holds, 1 when
/// any does not, 2 when the file (or its policy) is invalid.
pub fn test(
    path: &Path,
    tenant: Option<String>,
    output: crate::cli::Output,
) -> Result<Done, CliError> {
    let report = run_file(path, tenant)?;
    let exit = if report.mismatches.is_empty() {
        Exit::Ok
    } else {
        Exit::Failure
    };
    let stdout = match output {
        crate::cli::Output::Json => crate::out::json(&report),
        crate::cli::Output::Table => report.to_text(),
    };
    Ok(Done { stdout, exit })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(decision: &str) -> Expectation {
        Expectation {
            decision: decision.into(),
            guard: None,
            reason: None,
            strategy: None,
        }
    }

    fn actual(decision: &str, guard: Option<&str>) -> Actual {
        Actual {
            decision: decision.into(),
            guard: guard.map(str::to_owned),
            reason: guard.map(str::to_owned),
            strategy: Some("restart".into()),
            detail: String::new(),
        }
    }

    #[test]
    fn only_the_fields_given_are_compared() {
        assert!(compare(&expect("blocked"), &actual("blocked", Some("cooldown"))).is_empty());
        let want = Expectation {
            guard: Some("backoff".into()),
            strategy: Some("restart".into()),
            ..expect("blocked")
        };
        assert_eq!(
            compare(&want, &actual("blocked", Some("cooldown"))),
            vec![("guard".into(), "backoff".into(), "cooldown".into())]
        );
        assert_eq!(
            compare(&want, &actual("operation_started", None)),
            vec![
                (
                    "decision".into(),
                    "blocked".into(),
                    "operation_started".into()
                ),
                ("guard".into(), "backoff".into(), "-".into()),
            ]
        );
    }

    #[test]
    fn times_are_absolute_or_after_the_start() {
        let start = Timestamp::from_unix_secs(1_000);
        assert_eq!(
            time_at("90s", start).unwrap(),
            Timestamp::from_unix_secs(1_090)
        );
        assert_eq!(
            time_at("1970-01-01T00:00:05Z", start).unwrap(),
            Timestamp::from_unix_secs(5)
        );
        assert!(time_at("soon", start).is_err());
    }

    #[test]
    fn a_bad_file_names_the_line_of_each_problem() {
        let text = "policy = \"p.toml\"\n\n[[alert]]\nat = \"0s\"\nname = \"A\"\nexpect = { decision = \"healed\" }\n\n[[alert]]\nat = \"later\"\nname = \"B\"\nexpect = { decision = \"blocked\", guard = \"nope\" }\n";
        let Err(CliError::Invalid(msg)) = parse(Path::new("t.toml"), text) else {
            panic!("expected problems");
        };
        assert!(
            msg.contains("t.toml:3: expect.decision \"healed\""),
            "{msg}"
        );
        assert!(msg.contains("t.toml:8: expect.guard \"nope\""), "{msg}");
        assert!(msg.contains("t.toml:8: at: \"later\""), "{msg}");
        assert!(msg.contains("invalid: 3 problems"), "{msg}");
        let Err(CliError::Invalid(msg)) = parse(Path::new("t.toml"), "policy = 3\n") else {
            panic!("expected a TOML error");
        };
        assert!(msg.starts_with("t.toml:1: "), "{msg}");
    }
}
