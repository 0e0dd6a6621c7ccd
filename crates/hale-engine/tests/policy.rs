//! Policy beyond the peers (issue 16): remediation budgets, maintenance
//! windows and silences, through the engine's pipeline on in-memory ports.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use hale_domain::guard::Guard;
use hale_domain::maintenance::{MaintenanceWindow, Schedule, WindowMode, WindowScope};
use hale_domain::remediation::{BudgetLimits, RemediationBudgets};
use hale_domain::silence::OnUnreachable;
use hale_domain::{Actor, TenantId, Timestamp};
use hale_engine::ports::EscalationKind;
use hale_engine::windows::{NewWindow, WindowSource};
use hale_engine::{Engine, Outcome, SilencePolicy, TenantPolicy};
use hale_testkit::Kit;
use hale_testkit::fakes::Scripted;
use support::*;

fn guard_of(o: &Outcome) -> Option<Guard> {
    match o {
        Outcome::Blocked { guard, .. } => Some(*guard),
        _ => None,
    }
}

fn policy(t: &TenantId) -> TenantPolicy {
    TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")])
}

fn budgets(limits: BudgetLimits) -> RemediationBudgets {
    RemediationBudgets {
        tenant: Some(limits),
        ..RemediationBudgets::default()
    }
}

fn caps(in_flight: Option<u32>, started: Option<u32>, pods: Option<u32>) -> BudgetLimits {
    BudgetLimits {
        max_in_flight: in_flight,
        max_started: started,
        max_pods_disrupted: pods,
        window: Duration::from_secs(3_600),
    }
}

async fn storm(e: &Engine, t: &TenantId, n: usize) -> Vec<Outcome> {
    let alerts = (0..n)
        .map(|i| alert("HighErrorRate", &format!("svc-{i}")))
        .collect();
    let r = e.ingest(t, alerts).await.unwrap();
    r.decisions.into_iter().map(|d| d.outcome).collect()
}

#[tokio::test(start_paused = true)]
async fn a_storm_starts_no_more_runs_than_the_in_flight_budget_and_escalates_once() {
    let kit = Kit::new();
    let t = tenant("t");
    let mut p = policy(&t);
    p.remediation = budgets(caps(Some(3), None, None));
    let e = engine(&kit, vec![p]).await;
    kit.executor
        .set_default(Scripted::Slow(Duration::from_secs(60)));
    let outcomes = storm(&e, &t, 10).await;
    let started = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::OperationStarted { .. }))
        .count();
    let exhausted = outcomes
        .iter()
        .filter(|o| guard_of(o) == Some(Guard::BudgetExhausted))
        .count();
    assert_eq!((started, exhausted), (3, 7), "{outcomes:?}");
    let escalations: Vec<_> = kit
        .notifier
        .sent()
        .into_iter()
        .filter(|e| e.kind == EscalationKind::BudgetExhausted)
        .collect();
    assert_eq!(escalations.len(), 1, "one escalation per window");
    assert!(escalations[0].summary.contains("3 of 3 runs in flight"));
    assert_eq!(assert_every_escalation_noticed(&kit, &t).await, 1);
    // Never a failure: no backoff, no dormancy.
    let status = e.status(&t).await.unwrap();
    assert!(status.self_healing.enabled, "{status:?}");
    assert_eq!(status.self_healing.next_healing_at, None);
    assert_eq!(status.remediation_budgets.map(|r| r.in_flight), Some(3));
    // When the runs end, the slots are free again.
    kit.executor.set_default(Scripted::Ok);
    advance(Duration::from_secs(61)).await;
    e.wait_idle().await;
    let again = refire(&e, &t, &alert("HighErrorRate", "svc-9")).await;
    assert!(
        matches!(again, Outcome::OperationStarted { .. }),
        "{again:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn pods_disrupted_in_the_window_stop_automation_until_the_window_passes() {
    let kit = Kit::new();
    let t = tenant("t");
    let mut p = policy(&t);
    p.remediation = budgets(caps(None, None, Some(4)));
    let e = engine(&kit, vec![p]).await;
    kit.executor.set_pods_per_action(3);
    for svc in ["a", "b"] {
        started(&ingest_one(&e, &t, alert("HighErrorRate", svc)).await);
        e.wait_idle().await;
    }
    let third = ingest_one(&e, &t, alert("HighErrorRate", "c")).await;
    assert_eq!(guard_of(&third), Some(Guard::BudgetExhausted), "{third:?}");
    let Outcome::Blocked { detail, .. } = &third else {
        unreachable!()
    };
    assert!(detail.contains("6 of 4 pods disrupted"), "{detail}");
    advance(Duration::from_secs(3_600)).await;
    let later = refire(&e, &t, &alert("HighErrorRate", "c")).await;
    assert!(
        matches!(later, Outcome::OperationStarted { .. }),
        "{later:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn no_budget_configured_records_no_usage() {
    let kit = Kit::new();
    let t = tenant("t");
    let e = engine(&kit, vec![policy(&t)]).await;
    kit.executor
        .set_default(Scripted::Slow(Duration::from_secs(60)));
    let outcomes = storm(&e, &t, 20).await;
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Outcome::OperationStarted { .. }))
    );
    use hale_engine::ports::{SafetyScope, SafetyStore};
    let recs = kit
        .store
        .safety_records(&SafetyScope::Tenant(t.clone()), 0)
        .await
        .unwrap();
    assert!(
        recs.records
            .iter()
            .all(|r| r.key != hale_domain::safety::SafetyKey::Remediation),
        "no usage record without a budget"
    );
}

fn one_off(id: &str, mode: WindowMode, from: Timestamp, minutes: u64) -> MaintenanceWindow {
    MaintenanceWindow {
        id: id.into(),
        mode,
        scope: WindowScope::default(),
        schedule: Schedule::OneOff {
            start: from,
            end: from + Duration::from_secs(minutes * 60),
        },
        reason: "kernel updates".into(),
        created_by: None,
        created_at: None,
        ended: None,
    }
}

fn now(kit: &Kit) -> Timestamp {
    use hale_engine::ports::Clock;
    kit.clock.now()
}

#[tokio::test(start_paused = true)]
async fn a_block_window_records_and_does_not_act_then_heals_after_it() {
    let kit = Kit::new();
    let t = tenant("t");
    let mut p = policy(&t);
    p.windows = vec![one_off("patching", WindowMode::Block, now(&kit), 10)];
    let e = engine(&kit, vec![p]).await;
    let a = alert("HighErrorRate", "checkout");
    let o = ingest_one(&e, &t, a.clone()).await;
    assert_eq!(guard_of(&o), Some(Guard::MaintenanceWindow), "{o:?}");
    assert!(kit.executor.applied().is_empty(), "nothing acted");
    assert_eq!(audit(&kit, &t, "healing.blocked").await.len(), 1);
    advance(Duration::from_secs(600)).await;
    let after = refire(&e, &t, &a).await;
    assert!(
        matches!(after, Outcome::OperationStarted { .. }),
        "{after:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_approval_only_window_turns_the_automatic_run_into_an_approval_request() {
    let kit = Kit::new();
    let t = tenant("t");
    let mut p = policy(&t);
    let mut w = one_off("freeze", WindowMode::ApprovalOnly, now(&kit), 60);
    w.scope.namespaces = vec!["prod".into()];
    p.windows = vec![w];
    let e = engine(&kit, vec![p]).await;
    let o = ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await;
    assert!(matches!(o, Outcome::ApprovalRequested { .. }), "{o:?}");
    assert!(kit.executor.applied().is_empty(), "nothing acted");
}

#[tokio::test(start_paused = true)]
async fn a_window_opened_and_ended_through_the_api_is_shared_and_audited() {
    let kit = Kit::new();
    let t = tenant("t");
    let e = engine(&kit, vec![policy(&t)]).await;
    let alice = Actor::new("alice");
    let start = now(&kit);
    let opened = e
        .open_window(
            &t,
            NewWindow {
                id: "db-failover".into(),
                mode: WindowMode::Block,
                scope: WindowScope::default(),
                schedule: Schedule::OneOff {
                    start,
                    end: start + Duration::from_secs(3_600),
                },
                reason: "database failover drill".into(),
            },
            &alice,
        )
        .await
        .unwrap();
    assert_eq!(opened.created_by, Some(alice.clone()));
    let listed = e.maintenance_windows(&t).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].active && listed[0].source == WindowSource::Api);
    let status = e.status(&t).await.unwrap();
    assert_eq!(status.maintenance_windows.len(), 1);
    assert!(status.issues.iter().any(|i| i.contains("db-failover")));
    let a = alert("HighErrorRate", "checkout");
    let o = ingest_one(&e, &t, a.clone()).await;
    assert_eq!(guard_of(&o), Some(Guard::MaintenanceWindow), "{o:?}");
    // A duplicate id and an end without a reason are refused.
    assert!(e.end_window(&t, "db-failover", " ", &alice).await.is_err());
    let bob = Actor::new("bob");
    let ended = e
        .end_window(&t, "db-failover", "drill finished early", &bob)
        .await
        .unwrap();
    assert_eq!(ended.ended.as_ref().map(|x| x.by.clone()), Some(bob));
    assert!(!e.maintenance_windows(&t).await.unwrap()[0].active);
    let after = refire(&e, &t, &a).await;
    assert!(
        matches!(after, Outcome::OperationStarted { .. }),
        "{after:?}"
    );
    let opened = audit(&kit, &t, "maintenance_window.opened").await;
    let ended = audit(&kit, &t, "maintenance_window.ended").await;
    assert_eq!((opened.len(), ended.len()), (1, 1));
    assert_eq!(opened[0].executed_by, alice);
    assert!(
        opened[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("database failover drill")
    );
    assert_eq!(ended[0].reason.as_deref(), Some("drill finished early"));
}

fn with_alertmanager(t: &TenantId, on_unreachable: OnUnreachable) -> TenantPolicy {
    let mut p = policy(t);
    p.silences = Some(SilencePolicy {
        alertmanager: "http://alertmanager.invalid:9093".into(),
        on_unreachable,
    });
    p
}

#[tokio::test(start_paused = true)]
async fn a_silenced_alert_is_blocked_and_others_heal() {
    let kit = Kit::new();
    let t = tenant("t");
    let e = engine(&kit, vec![with_alertmanager(&t, OnUnreachable::Block)]).await;
    kit.silences.silence(&[("service", "checkout")], "sil-1");
    let o = ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await;
    assert_eq!(guard_of(&o), Some(Guard::Silenced), "{o:?}");
    let Outcome::Blocked { detail, .. } = &o else {
        unreachable!()
    };
    assert!(detail.contains("sil-1"), "{detail}");
    let other = ingest_one(&e, &t, alert("HighErrorRate", "cart")).await;
    assert!(
        matches!(other, Outcome::OperationStarted { .. }),
        "{other:?}"
    );
}

/// Two tenants whose Alertmanager does not answer: `closed` fails closed,
/// `open` allows.
async fn unreachable_alertmanager() -> (Kit, Engine, TenantId, TenantId) {
    let kit = Kit::new();
    let (closed, open) = (tenant("closed"), tenant("open"));
    let e = engine(
        &kit,
        vec![
            with_alertmanager(&closed, OnUnreachable::Block),
            with_alertmanager(&open, OnUnreachable::Allow),
        ],
    )
    .await;
    kit.silences.set_unreachable(true);
    (kit, e, closed, open)
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_alertmanager_fails_closed_unless_the_tenant_allows() {
    let (_kit, e, closed, open) = unreachable_alertmanager().await;
    let o = ingest_one(&e, &closed, alert("HighErrorRate", "checkout")).await;
    assert_eq!(guard_of(&o), Some(Guard::SilenceCheckUnavailable), "{o:?}");
    let o = ingest_one(&e, &open, alert("HighErrorRate", "checkout")).await;
    assert!(matches!(o, Outcome::OperationStarted { .. }), "{o:?}");
    let m = e.metrics();
    assert_eq!(
        m.labelled.get("silence_checks_unanswered"),
        Some(&BTreeMap::from([("allow".into(), 1), ("block".into(), 1)]))
    );
}

#[tokio::test(start_paused = true)]
async fn an_allowed_unanswered_silence_check_is_recorded_with_the_run_it_let_through() {
    let (kit, e, closed, open) = unreachable_alertmanager().await;
    let o = ingest_one(&e, &open, alert("HighErrorRate", "checkout")).await;
    started(&o);
    // The audit log says the run went ahead without the silence check.
    let unanswered = audit(&kit, &open, "silence_check.unanswered").await;
    assert_eq!(unanswered.len(), 1, "{unanswered:?}");
    let a = &unanswered[0];
    assert_eq!(
        a.reason.as_deref(),
        Some(Guard::SilenceCheckUnavailable.as_str())
    );
    assert!(!a.success);
    assert_eq!(a.target_resource, "prod:deployment/checkout");
    let detail = a.error_message.as_deref().unwrap();
    assert!(
        detail.contains("did not answer") && detail.contains("on_unreachable = allow"),
        "{detail}"
    );
    // So does the incident's decision chain, before the run started.
    let incident = incidents(&kit, &open).await.remove(0);
    assert_eq!(a.incident_id.as_ref(), Some(&incident.id));
    let steps: Vec<(&str, &str)> = incident
        .decision_chain
        .iter()
        .map(|s| (s.stage.as_str(), s.decision.as_str()))
        .collect();
    let allowed = steps
        .iter()
        .position(|s| *s == ("guard", "allowed"))
        .unwrap_or_else(|| panic!("{steps:?}"));
    let run = steps
        .iter()
        .position(|s| s.1 == "operation_started")
        .unwrap_or_else(|| panic!("{steps:?}"));
    assert!(allowed < run, "{steps:?}");
    let reason = &incident.decision_chain[allowed].reason;
    assert!(
        reason.starts_with("silence_check_unavailable: ")
            && reason.contains("refused the connection"),
        "{reason}"
    );
    // A tenant that fails closed is blocked instead, and nothing is
    // recorded as let through.
    let o = ingest_one(&e, &closed, alert("HighErrorRate", "checkout")).await;
    assert_eq!(guard_of(&o), Some(Guard::SilenceCheckUnavailable), "{o:?}");
    assert!(
        audit(&kit, &closed, "silence_check.unanswered")
            .await
            .is_empty()
    );
    // An answered check records nothing either.
    kit.silences.set_unreachable(false);
    started(&ingest_one(&e, &open, alert("HighErrorRate", "cart")).await);
    assert_eq!(
        audit(&kit, &open, "silence_check.unanswered").await.len(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn the_alertmanager_is_asked_only_for_automatic_runs_that_every_other_stage_allows() {
    let kit = Kit::new();
    let t = tenant("t");
    let plain = tenant("plain");
    let mut p = with_alertmanager(&t, OnUnreachable::Block);
    p.strategies.push(approval_restart("Approve"));
    let e = engine(&kit, vec![p, policy(&plain)]).await;
    // A tenant without an Alertmanager is never asked about.
    ingest_one(&e, &plain, alert("HighErrorRate", "x")).await;
    // A proposal only asks a human.
    let o = ingest_one(&e, &t, alert("Approve", "y")).await;
    assert!(matches!(o, Outcome::ApprovalRequested { .. }), "{o:?}");
    assert_eq!(kit.silences.asked(), 0);
    // An earlier stage that blocks (cooldown) is not followed by a question.
    ingest_one(&e, &t, alert("HighErrorRate", "z")).await;
    assert_eq!(kit.silences.asked(), 1);
    e.set_tenant_switch(
        &t,
        hale_engine::control::TenantSwitchTarget::Tenant,
        Some(hale_domain::kill_switch::Switch::Off),
        &Actor::new("op"),
        "stop",
    )
    .await
    .unwrap();
    let o = ingest_one(&e, &t, alert("HighErrorRate", "w")).await;
    assert_eq!(guard_of(&o), Some(Guard::KillSwitch));
    assert_eq!(kit.silences.asked(), 1);
}
