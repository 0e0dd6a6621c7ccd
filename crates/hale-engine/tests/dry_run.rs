//! A failed server-side dry run (issue 16 item 8): the apply is blocked as
//! `dry_run_failed`, which is no failure of the target. A rollback runs
//! only when an earlier action of the run was applied (there is nothing
//! else to undo), and the escalation, the audit and the incident's
//! decision chain name the guard and say what was applied.

mod support;

use std::time::Duration;

use hale_domain::TenantId;
use hale_domain::failure::FailureClass;
use hale_domain::guard::Guard;
use hale_domain::healing::{ActionPhase, HealingState};
use hale_domain::record::incident::{IncidentStatus, Stage, StepDecision};
use hale_engine::ports::{EscalationKind, ExecMode, IncidentStore};
use hale_engine::{Engine, Outcome, TenantPolicy};
use hale_testkit::Kit;
use hale_testkit::fakes::Scripted;
use support::*;

/// Two actions, each rolling back on error, a rollback plan that would
/// undo them, and safe mode on failure (which a refusal must not enter).
fn two_step() -> hale_domain::strategy::Strategy {
    strategy(serde_json::json!({
        "id": "plan", "risk": "low",
        "trigger": {"alertnames": ["HighErrorRate"]},
        "target": {"kind": "deployment"},
        "actions": [
            {"kind": "clear_cache", "on_error": "rollback"},
            {"kind": "rollout_restart", "on_error": "rollback"}
        ],
        "rollback": {"on_failure": "enter_safe_mode", "actions": [{"kind": "rollout_undo"}]},
        "cooldown": "1s",
        "max_attempts": 2
    }))
}

/// An engine whose executor dry-runs every automatic action first.
async fn setup() -> (Kit, Engine, TenantId) {
    let kit = Kit::new();
    let t = tenant("t");
    kit.executor.set_dry_runs_before_apply(true);
    let e = engine(&kit, vec![TenantPolicy::new(t.clone(), vec![two_step()])]).await;
    (kit, e, t)
}

fn refusal() -> Scripted {
    Scripted::Fail(
        FailureClass::InvalidAction,
        "admission webhook \"policy\" denied the request".into(),
    )
}

#[tokio::test(start_paused = true)]
async fn a_refused_dry_run_of_the_first_action_rolls_nothing_back_and_says_nothing_was_applied() {
    let (kit, e, t) = setup().await;
    kit.executor.push_dry_run("clear_cache", refusal());
    let a = alert("HighErrorRate", "checkout");
    let id = started(&ingest_one(&e, &t, a.clone()).await);
    e.wait_idle().await;
    let op = operation(&kit, &t, &id).await;
    assert_eq!(op.state, HealingState::Failed);
    assert_eq!(kinds(&op, ActionPhase::Heal), ["clear_cache"]);
    assert!(op.actions_run[0].dry_run && !op.actions_run[0].success);
    // The executor saw the one refused dry run and nothing else: no apply,
    // and no rollback action, not even its dry run.
    let calls: Vec<(String, ExecMode)> = kit
        .executor
        .calls()
        .iter()
        .map(|c| (c.kind.to_string(), c.mode))
        .collect();
    assert_eq!(calls, [("clear_cache".to_owned(), ExecMode::DryRun)]);
    assert!(kinds(&op, ActionPhase::Rollback).is_empty());
    assert!(audit(&kit, &t, "rollback.executed").await.is_empty());
    // The escalation names the guard and says plainly what happened.
    let sent = kit.notifier.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].kind, EscalationKind::HealingFailed);
    assert_eq!(sent[0].guard, Some(Guard::DryRunFailed));
    assert!(
        sent[0]
            .summary
            .contains("the apply was refused by the server-side dry run and nothing was applied"),
        "{}",
        sent[0].summary
    );
    assert!(
        sent[0].summary.contains("no rollback ran"),
        "{}",
        sent[0].summary
    );
    // So does the durable record of the escalation, which carries its
    // notice like any escalation's.
    assert_eq!(assert_every_escalation_noticed(&kit, &t).await, 1);
    let escalated = audit(&kit, &t, "healing.escalated").await;
    assert_eq!(escalated.len(), 1);
    let reason = escalated[0].reason.as_deref().unwrap();
    assert!(reason.starts_with("dry_run_failed: "), "{reason}");
    assert!(reason.contains("nothing was applied"), "{reason}");
    assert!(!escalated[0].dry_run_passed);
    assert!(
        escalated[0]
            .dry_run_message
            .as_deref()
            .unwrap()
            .contains("admission webhook"),
        "{escalated:?}"
    );
    // The incident's decision chain records a block, not a failed fix.
    let incident = kit
        .store
        .get_incident(&t, op.incident_id.as_ref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(incident.status, IncidentStatus::Escalated);
    let last = incident.decision_chain.last().unwrap();
    assert_eq!(
        (last.stage.as_str(), last.decision.as_str()),
        (Stage::Heal.as_str(), StepDecision::Blocked.as_str())
    );
    assert!(
        last.reason.starts_with("dry_run_failed: ") && last.reason.contains("nothing was applied"),
        "{last:?}"
    );
    // No safe mode, no backoff: after the cooldown a fresh episode runs
    // at once (a failure would hold the tenant for 5 s, and safe mode
    // forever).
    advance(Duration::from_millis(1_100)).await;
    kit.executor.push_dry_run("clear_cache", refusal());
    started(&refire(&e, &t, &a).await);
    e.wait_idle().await;
    // But the refusals grow the target's attempt streak, so a target that
    // keeps refusing is not re-run on every re-fire: max_attempts (2)
    // stops the third.
    advance(Duration::from_millis(1_100)).await;
    let o = refire(&e, &t, &a).await;
    assert!(
        matches!(&o, Outcome::Blocked { guard, .. } if *guard == Guard::MaxAttempts),
        "{o:?}"
    );
    assert!(kit.executor.applied().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_refused_dry_run_after_an_applied_action_still_rolls_back_per_on_error() {
    let (kit, e, t) = setup().await;
    kit.executor.push_dry_run("rollout_restart", refusal());
    let a = alert("HighErrorRate", "checkout");
    let id = started(&ingest_one(&e, &t, a.clone()).await);
    e.wait_idle().await;
    let op = operation(&kit, &t, &id).await;
    assert_eq!(op.state, HealingState::Failed);
    assert_eq!(
        kinds(&op, ActionPhase::Heal),
        ["clear_cache", "rollout_restart"]
    );
    // clear_cache was applied, rollout_restart was not; the rollback runs
    // as the refused action's on_error says.
    let applied: Vec<String> = kit
        .executor
        .applied()
        .iter()
        .map(|c| c.kind.to_string())
        .collect();
    assert_eq!(applied, ["clear_cache", "rollout_undo"]);
    assert_eq!(kinds(&op, ActionPhase::Rollback), ["rollout_undo"]);
    assert_eq!(audit(&kit, &t, "rollback.executed").await.len(), 1);
    let sent = kit.notifier.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].guard, Some(Guard::DryRunFailed));
    assert!(
        sent[0]
            .summary
            .contains("earlier actions of this run were applied, so their on_error plan still applies: rollback succeeded"),
        "{}",
        sent[0].summary
    );
    assert_eq!(assert_every_escalation_noticed(&kit, &t).await, 1);
    let escalated = audit(&kit, &t, "healing.escalated").await;
    let reason = escalated[0].reason.as_deref().unwrap();
    assert!(reason.starts_with("dry_run_failed: "), "{reason}");
    // Still no safe mode: the next episode runs after the cooldown.
    advance(Duration::from_millis(1_100)).await;
    started(&refire(&e, &t, &a).await);
}
