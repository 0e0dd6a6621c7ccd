//! The server-side dry run before every automatic apply (issue 16): the
//! engine with the Kubernetes executor against the fake API server. The
//! same PATCH goes out with `dryRun=All` first; the audit entry carries the
//! dry run's answer; a rejected dry run applies nothing, is recorded as
//! `dry_run_failed` and is no failure of the target (no backoff); its
//! escalation names the guard and says nothing was applied.

mod support;

use std::time::Duration;

use hale_domain::guard::Guard;
use hale_domain::healing::HealingState;
use hale_domain::{OperationId, Timestamp};
use hale_engine::Outcome;
use hale_engine::ports::OperationStore;
use hale_fake_kube::{FakeConfig, Fault, Resource};
use serde_json::json;
use support::engine::{alert, audit, engine, ingest, strategy};
use support::world::{checkout, stored, world};

const DEPLOY: &str = "/apis/apps/v1/namespaces/prod/deployments/checkout";

fn restarted_at(d: &serde_json::Value) -> &serde_json::Value {
    &d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
}

#[tokio::test]
async fn every_automatic_apply_is_dry_run_first_and_the_audit_says_so() {
    let w = world(FakeConfig::default(), checkout()).await;
    let version_before =
        stored(&w.fake, Resource::Deployment, "prod", "checkout")["metadata"]["resourceVersion"]
            .clone();
    let (e, kit, t) = engine(&w, strategy(json!({"kind": "rollout_restart"}), false)).await;
    let outcome = ingest(&e, &t, alert()).await;
    assert!(
        matches!(outcome, Outcome::OperationStarted { .. }),
        "{outcome:?}"
    );
    let rows = w.fake.requests();
    let patch = rows.iter().find(|r| r.path == DEPLOY).unwrap();
    assert_eq!(
        (
            patch.counts.received,
            patch.counts.dry_run,
            patch.counts.applied,
            patch.counts.failed
        ),
        (2, 1, 1, 0),
        "{rows:?}"
    );
    // The write log: the dry run first, leaving the version as it was;
    // then the applied write, conditional on that same version.
    let writes = w.fake.writes();
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert!(writes[0].dry_run && !writes[1].dry_run, "{writes:?}");
    let d = stored(&w.fake, Resource::Deployment, "prod", "checkout");
    assert!(!restarted_at(&d).is_null());
    assert_ne!(d["metadata"]["resourceVersion"], version_before);
    let executed = audit(&kit, &t, "action.executed").await;
    assert_eq!(executed.len(), 1);
    assert!(executed[0].dry_run_passed);
    let message = executed[0].dry_run_message.as_deref().unwrap();
    assert!(
        message.starts_with("dry run (dryRun=All, nothing persisted)"),
        "{message}"
    );
}

#[tokio::test]
async fn a_rejected_dry_run_applies_nothing_and_is_not_a_failure_of_the_target() {
    let w = world(FakeConfig::default(), checkout()).await;
    w.fake
        .inject(Fault::dry_run_rejected("PATCH", DEPLOY, 422, 1));
    let (e, kit, t) = engine(&w, strategy(json!({"kind": "rollout_restart"}), false)).await;
    let id = match ingest(&e, &t, alert()).await {
        Outcome::OperationStarted { operation_id, .. } => operation_id,
        other => panic!("expected a run, got {other:?}"),
    };
    // Nothing was applied.
    let d = stored(&w.fake, Resource::Deployment, "prod", "checkout");
    assert!(restarted_at(&d).is_null());
    assert_eq!(d["metadata"]["generation"], 1);
    assert_eq!(w.fake.applied_total(), 0, "{:?}", w.fake.requests());
    // The run failed on the blocked action, recorded as dry_run_failed.
    let op = kit
        .store
        .get_operation(&t, &OperationId::new(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(op.state, HealingState::Failed);
    assert!(op.actions_run[0].dry_run && !op.actions_run[0].success);
    let blocked = audit(&kit, &t, "healing.blocked").await;
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    let b = &blocked[0];
    let reason = b.reason.as_deref().unwrap();
    assert!(
        reason.starts_with(&format!(
            "{}: the server-side dry run of rollout_restart failed",
            Guard::DryRunFailed
        )),
        "{reason}"
    );
    assert!(!b.dry_run_passed);
    assert!(
        b.dry_run_message
            .as_deref()
            .unwrap()
            .contains("injected fault: HTTP 422"),
        "{b:?}"
    );
    assert!(audit(&kit, &t, "action.failed").await.is_empty());
    // The escalation names the guard and says nothing was applied (so no
    // rollback ran).
    let sent = kit.notifier.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].guard, Some(Guard::DryRunFailed));
    assert!(
        sent[0]
            .summary
            .contains("refused by the server-side dry run and nothing was applied"),
        "{}",
        sent[0].summary
    );
    let escalated = audit(&kit, &t, "healing.escalated").await;
    assert!(
        escalated[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("dry_run_failed: "),
        "{escalated:?}"
    );
    // Not a failure of the target: no backoff (the first failure would
    // hold the tenant for 5 s), so after the 1 s cooldown a fresh episode
    // runs at once, and its dry run and apply go through.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let mut resolved = alert().resolved();
    resolved.ends_at = Some(Timestamp::from_unix_secs(1_800_000_001));
    ingest(&e, &t, resolved).await;
    let mut again = alert();
    again.starts_at = Some(Timestamp::from_unix_secs(1_800_000_002));
    let outcome = ingest(&e, &t, again).await;
    assert!(
        matches!(outcome, Outcome::OperationStarted { .. }),
        "a failed dry run must not back the tenant off: {outcome:?}"
    );
    let d = stored(&w.fake, Resource::Deployment, "prod", "checkout");
    assert!(!restarted_at(&d).is_null());
    assert_eq!(w.fake.applied("PATCH", DEPLOY), 1);
}
