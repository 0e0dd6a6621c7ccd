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
        allow_gitops_managed: false,
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

#[test]
fn action_kinds_validate_and_read_back() {
    let k = ActionKind::new("command:restart-nginx.v2_x").unwrap();
    assert_eq!(k.as_str(), "command:restart-nginx.v2_x");
    assert_eq!(k.to_string(), "command:restart-nginx.v2_x");
    assert_eq!(format!("{k:?}"), "ActionKind(command:restart-nginx.v2_x)");
    assert_eq!(
        serde_json::from_value::<ActionKind>(serde_json::json!("evict_pod")).unwrap(),
        ActionKind::new("evict_pod").unwrap()
    );
    assert!(serde_json::from_value::<ActionKind>(serde_json::json!("Evict")).is_err());
    assert!(ActionKind::new("x".repeat(100)).is_ok());
    for bad in [
        String::new(),
        "x".repeat(101),
        "a b".into(),
        "A".into(),
        "a/b".into(),
    ] {
        assert!(ActionKind::new(bad.clone()).is_err(), "{bad:?}");
    }
}

/// Every criterion must match on its own: the name (or the `metric`
/// label), the severity (any case) and each exact label.
#[test]
fn trigger_criteria_each_apply() {
    let trigger = |names: &[&str], sevs: &[&str], labels: &[(&str, &str)]| Trigger {
        alertnames: names.iter().map(|s| (*s).to_owned()).collect(),
        severities: sevs.iter().map(|s| (*s).to_owned()).collect(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        consecutive_failures: 1,
        within_window: Duration::ZERO,
    };
    let a = Alert::firing([
        ("alertname", "HighErrorRate"),
        ("metric", "error_rate"),
        ("severity", "Critical"),
        ("team", "pay"),
    ]);
    assert!(
        trigger(&[], &[], &[]).matches(&a),
        "no criteria: everything"
    );
    assert!(trigger(&["HighErrorRate"], &[], &[]).matches(&a));
    assert!(
        trigger(&["error_rate"], &[], &[]).matches(&a),
        "the metric label"
    );
    assert!(!trigger(&["Other"], &[], &[]).matches(&a));
    assert!(trigger(&["Other", "error_rate"], &[], &[]).matches(&a));
    assert!(trigger(&[], &["critical"], &[]).matches(&a), "any case");
    assert!(!trigger(&[], &["warning"], &[]).matches(&a));
    assert!(
        !trigger(&[], &["critical"], &[]).matches(&Alert::firing([("alertname", "X")])),
        "no severity label"
    );
    assert!(trigger(&[], &[], &[("team", "pay")]).matches(&a));
    assert!(!trigger(&[], &[], &[("team", "ops")]).matches(&a));
    assert!(!trigger(&[], &[], &[("zone", "a")]).matches(&a));
    assert!(!trigger(&["HighErrorRate"], &["critical"], &[("team", "ops")]).matches(&a));
    assert!(!trigger(&["HighErrorRate"], &["warning"], &[("team", "pay")]).matches(&a));
    assert!(!trigger(&["Other"], &["critical"], &[("team", "pay")]).matches(&a));
    assert!(trigger(&["HighErrorRate"], &["critical"], &[("team", "pay")]).matches(&a));
}

#[test]
fn the_count_window_includes_both_ends_and_one_firing_always_satisfies() {
    let at = |s| Timestamp::from_unix_secs(s);
    let mut t = restart(RiskLevel::Low).trigger;
    assert!(
        t.count_satisfied(&[], at(0)),
        "a count of one needs no history"
    );
    t.consecutive_failures = 0;
    assert!(t.count_satisfied(&[], at(0)));
    t.consecutive_failures = 2;
    t.within_window = Duration::from_secs(100);
    assert!(
        t.count_satisfied(&[at(100), at(200)], at(200)),
        "the window's start counts"
    );
    assert!(!t.count_satisfied(&[at(99), at(200)], at(200)));
    assert!(
        !t.count_satisfied(&[at(150), at(201)], at(200)),
        "a firing after now does not count"
    );
    assert!(t.count_satisfied(&[at(150), at(160), at(170)], at(200)));
}

#[test]
fn defaults_of_the_policy_file() {
    let json = serde_json::json!({
        "id": "restart", "risk": "medium",
        "trigger": {"alertnames": ["X"]},
        "target": {"kind": "deployment"},
        "actions": [{"kind": "rollout_restart"}],
    });
    let s: Strategy = serde_json::from_value(json).unwrap();
    assert_eq!(s.trigger.consecutive_failures, 1);
    assert_eq!(s.target.name_labels, ["deployment", "service"]);
    assert_eq!(s.target.namespace_label, "namespace");
    assert_eq!(s.actions[0].timeout, Duration::from_secs(30));
    assert_eq!(s.actions[0].on_error, OnError::Abort);
    assert_eq!(
        s.verify,
        VerifySpec {
            check: "auto".into(),
            timeout: Duration::from_secs(30),
            interval: Duration::from_secs(2),
        }
    );
    assert_eq!(s.verify, VerifySpec::default());
    assert_eq!(s.max_attempts, 3);
    assert_eq!(s.cooldown, Duration::from_secs(300));
    assert_eq!(s.execution_path(), ExecutionPath::Approval);
    assert_eq!(s.rollback.on_failure, FailurePolicy::Escalate);
}

#[test]
fn action_kinds_list_the_plan_then_the_rollback() {
    let mut s = restart(RiskLevel::Low);
    s.rollback.actions.push(ActionSpec {
        kind: ActionKind::new("rollout_undo").unwrap(),
        params: BTreeMap::new(),
        timeout: Duration::from_secs(30),
        on_error: OnError::Continue,
    });
    let kinds: Vec<&str> = s.action_kinds().iter().map(|k| k.as_str()).collect();
    assert_eq!(kinds, ["rollout_restart", "rollout_undo"]);
    assert!(s.validate("s").is_empty(), "{:?}", s.validate("s"));
}

/// Each check of `validate` on its own, with its exact path, so no check
/// can be dropped or inverted unnoticed.
#[test]
fn validation_checks_one_by_one() {
    let problems = |f: &dyn Fn(&mut Strategy)| {
        let mut s = restart(RiskLevel::Low);
        f(&mut s);
        s.validate("s")
            .into_iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(problems(&|_| {}), Vec::<String>::new());
    assert_eq!(
        problems(&|s| s.id = StrategyId::new("")),
        ["s.id: must not be empty"]
    );
    assert_eq!(
        problems(&|s| s.trigger.alertnames.clear()),
        Vec::<String>::new()
    );
    assert_eq!(
        problems(&|s| {
            s.trigger.alertnames.clear();
            s.trigger.severities.clear();
            s.trigger.labels.insert("team".into(), "pay".into());
        }),
        Vec::<String>::new()
    );
    assert_eq!(
        problems(&|s| s.trigger.consecutive_failures = 0),
        ["s.trigger.consecutive_failures: must be at least 1"]
    );
    assert_eq!(
        problems(&|s| s.trigger.consecutive_failures = 2),
        ["s.trigger.within_window: must be set when consecutive_failures > 1"]
    );
    assert_eq!(
        problems(&|s| {
            s.trigger.consecutive_failures = 2;
            s.trigger.within_window = Duration::from_secs(60);
        }),
        Vec::<String>::new()
    );
    assert_eq!(
        problems(&|s| s.target.kind = " ".into()),
        ["s.target.kind: must not be empty"]
    );
    assert_eq!(
        problems(&|s| s.target.name_labels.clear()),
        ["s.target.name_labels: must name at least one label"]
    );
    assert_eq!(
        problems(&|s| s.actions.clear()),
        ["s.actions: a strategy needs at least one action"]
    );
    assert_eq!(
        problems(&|s| s.actions[0].timeout = Duration::ZERO),
        ["s.actions[0].timeout: must be positive"]
    );
    assert_eq!(
        problems(&|s| {
            let mut undo = s.actions[0].clone();
            undo.timeout = Duration::ZERO;
            s.rollback.actions.push(undo);
        }),
        ["s.rollback.actions[0].timeout: must be positive"]
    );
    assert_eq!(
        problems(&|s| s.verify.timeout = Duration::ZERO),
        ["s.verify: timeout and interval must be positive"]
    );
    assert_eq!(
        problems(&|s| s.verify.interval = Duration::ZERO),
        ["s.verify: timeout and interval must be positive"]
    );
    assert_eq!(
        problems(&|s| s.actions[0].on_error = OnError::Continue),
        Vec::<String>::new()
    );
    let mut approval = restart(RiskLevel::High);
    approval.path = Some(ExecutionPath::Approval);
    assert!(approval.validate("s").is_empty());
    let mut low_by_approval = restart(RiskLevel::Low);
    low_by_approval.path = Some(ExecutionPath::Approval);
    assert!(low_by_approval.validate("s").is_empty());
}

#[test]
fn the_first_matching_strategy_wins_and_duplicates_name_the_first() {
    let mut first = restart(RiskLevel::Low);
    first.id = StrategyId::new("first");
    let second = restart(RiskLevel::Low);
    let list = [first, second];
    assert_eq!(
        find_strategy(&list, &alert()).unwrap().id,
        StrategyId::new("first")
    );
    let dup = validate_strategies(&[list[1].clone(), list[0].clone(), list[1].clone()], "st");
    assert_eq!(
        dup.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["st[2].id: duplicate strategy id \"restart-on-errors\" (also at index 0)"]
    );
}

#[test]
fn only_maintain_isolation_keeps_the_target_as_the_actions_left_it() {
    assert!(FailurePolicy::Escalate.runs_rollback());
    assert!(FailurePolicy::EnterSafeMode.runs_rollback());
    assert!(!FailurePolicy::MaintainIsolation.runs_rollback());
    let p: RollbackPlan = serde_json::from_value(serde_json::json!({
        "on_failure": "maintain_isolation", "actions": [{"kind": "uncordon"}]
    }))
    .unwrap();
    assert_eq!(p.on_failure, FailurePolicy::MaintainIsolation);
}
