use super::*;
use crate::time::Timestamp;

fn restart(risk: RiskLevel) -> Strategy {
    Strategy {
        id: StrategyId::new("restart-on-errors"),
        name: "Restart on errors".into(),
        trigger: Trigger {
            alertnames: vec!["HighErrorRate".into()],
            severities: vec!["critical".into()],
            labels: BTreeMap::new(),
            consecutive_failures: 1,
            within_window: Duration::ZERO,
        },
        target: TargetSpec {
            kind: "deployment".into(),
            name_labels: default_name_labels(),
            namespace_label: default_namespace_label(),
            namespace: None,
        },
        actions: vec![ActionSpec {
            kind: ActionKind::new("rollout_restart").unwrap(),
            params: BTreeMap::new(),
            timeout: Duration::from_secs(30),
            on_error: OnError::Abort,
        }],
        verify: VerifySpec::default(),
        rollback: RollbackPlan::default(),
        max_attempts: 3,
        cooldown: Duration::from_secs(300),
        risk,
        path: None,
    }
}

fn alert() -> Alert {
    Alert::firing([
        ("alertname", "HighErrorRate"),
        ("namespace", "prod"),
        ("service", "checkout"),
        ("severity", "critical"),
    ])
}

#[test]
fn matches_and_resolves_the_target() {
    let s = restart(RiskLevel::Low);
    assert!(s.trigger.matches(&alert()));
    assert_eq!(
        s.target.resolve(&alert()).unwrap().key(),
        "prod:deployment/checkout"
    );
    let mut other = alert();
    other.labels.insert("severity".into(), "warning".into());
    assert!(!s.trigger.matches(&other));
    assert!(find_strategy(std::slice::from_ref(&s), &other).is_none());
}

#[test]
fn no_silent_default_namespace() {
    let s = restart(RiskLevel::Low);
    let mut a = alert();
    a.labels.remove("namespace");
    assert_eq!(
        s.target.resolve(&a).unwrap_err(),
        TargetError::NoNamespace {
            label: "namespace".into()
        }
    );
    let explicit = TargetSpec {
        namespace: Some("ops".into()),
        ..s.target.clone()
    };
    assert_eq!(explicit.resolve(&a).unwrap().namespace, "ops");
}

#[test]
fn dot_and_dot_dot_are_never_template_values() {
    let s = restart(RiskLevel::Low);
    for value in [".", ".."] {
        let mut a = alert();
        a.labels.insert("deployment".into(), value.into());
        assert_eq!(
            s.target.resolve(&a).unwrap_err(),
            TargetError::PathSegment {
                label: "deployment".into(),
                value: value.into()
            }
        );
        let mut a = alert();
        a.labels.insert("namespace".into(), value.into());
        let e = s.target.resolve(&a).unwrap_err();
        assert!(e.to_string().contains("\"namespace\""), "{e}");
        // The strategy's fixed namespace is held to the same rule.
        let mut a = alert();
        a.labels.remove("namespace");
        let fixed = TargetSpec {
            namespace: Some(value.into()),
            ..s.target.clone()
        };
        assert!(matches!(
            fixed.resolve(&a),
            Err(TargetError::PathSegment { label, .. }) if label == "target.namespace"
        ));
    }
    // Dots inside a name are ordinary characters.
    let mut a = alert();
    a.labels.insert("deployment".into(), "api.v2..x".into());
    assert_eq!(s.target.resolve(&a).unwrap().name, "api.v2..x");
}

#[test]
fn path_follows_risk_and_watcher_is_low_only() {
    assert_eq!(
        restart(RiskLevel::Low).execution_path(),
        ExecutionPath::Automatic
    );
    assert_eq!(
        restart(RiskLevel::High).execution_path(),
        ExecutionPath::Approval
    );
    let mut s = restart(RiskLevel::High);
    s.path = Some(ExecutionPath::Automatic);
    let problems = s.validate("strategies[0]");
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].path, "strategies[0].path");
}

#[test]
fn validation_reports_every_problem_with_its_path() {
    let mut s = restart(RiskLevel::Low);
    s.trigger.alertnames.clear();
    s.trigger.severities.clear();
    s.actions[0].on_error = OnError::Rollback;
    s.max_attempts = 0;
    let paths: Vec<String> = s.validate("s").into_iter().map(|p| p.path).collect();
    assert_eq!(paths, ["s.trigger", "s.rollback.actions", "s.max_attempts"]);
    let dup = validate_strategies(
        &[restart(RiskLevel::Low), restart(RiskLevel::Low)],
        "strategies",
    );
    assert_eq!(dup.len(), 1);
    assert!(dup[0].message.contains("duplicate"));
}

#[test]
fn consecutive_firings_within_window() {
    let mut t = restart(RiskLevel::Low).trigger;
    t.consecutive_failures = 3;
    t.within_window = Duration::from_secs(600);
    let at = |s| Timestamp::from_unix_secs(s);
    assert!(!t.count_satisfied(&[at(0), at(100)], at(200)));
    assert!(t.count_satisfied(&[at(0), at(100), at(200)], at(200)));
    assert!(!t.count_satisfied(&[at(0), at(100), at(200)], at(650)));
}

#[test]
fn parses_from_toml_like_json_with_humane_durations() {
    let json = serde_json::json!({
        "id": "restart", "risk": "low",
        "trigger": {"alertnames": ["HighErrorRate"]},
        "target": {"kind": "deployment"},
        "actions": [{"kind": "rollout_restart", "timeout": "45s", "on_error": "rollback"}],
        "rollback": {"actions": [{"kind": "rollout_undo"}], "on_failure": "escalate"},
        "cooldown": "10m"
    });
    let s: Strategy = serde_json::from_value(json).unwrap();
    assert_eq!(s.actions[0].timeout, Duration::from_secs(45));
    assert_eq!(s.cooldown, Duration::from_secs(600));
    assert_eq!(s.max_attempts, 3);
    assert!(s.validate("s").is_empty());
    let bad = serde_json::json!({"id": "x", "risk": "low", "trigger": {}, "target": {"kind": "d"}, "actions": [], "bogus": 1});
    assert!(
        serde_json::from_value::<Strategy>(bad)
            .unwrap_err()
            .to_string()
            .contains("bogus")
    );
}
