//! Issue 17 item 2: an escalation's record (its audit entry, which carries
//! its notice) is written in the transaction of the record that caused it.
//! An ineffective chain's block and its escalation exist together or not at
//! all; so do a regression's timeline event and its escalation. The stores'
//! side is the conformance checks
//! `knowledge_entry_and_its_audit_entry_are_one_write` and
//! `timeline_event_and_its_audit_entry_are_one_write`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use hale_domain::TenantId;
use hale_domain::alert::Alert;
use hale_domain::effectiveness::EffectivenessPolicy;
use hale_domain::guard::Guard;
use hale_domain::notification::Notice;
use hale_domain::record::knowledge::{EntryType, KnowledgeEntry};
use hale_domain::record::timeline::TimelineEvent;
use hale_engine::ports::{
    EscalationKind, Health, KnowledgeFilter, KnowledgeStore, NotificationOutbox, OperationStore,
    Page, StoreError, TimelineFilter, TimelineStore,
};
use hale_engine::{Engine, Outcome, Ports, TenantPolicy};
use hale_testkit::Kit;
use hale_testkit::fakes::{AuditAppendsFail, KnowledgeCreatesFail};
use support::*;

/// A tenant whose strategy is blocked on a target after three ineffective
/// fixes there.
async fn chain_engine(ports: Ports) -> (Engine, TenantId) {
    let t = tenant("t");
    let mut p = TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")]);
    p.effectiveness = EffectivenessPolicy {
        chain_threshold: 3,
        ..EffectivenessPolicy::default()
    };
    let e = Engine::builder(ports).tenant(p).build().await.unwrap();
    (e, t)
}

/// Three fixes that do not hold, then the alert once more: returns what
/// the last firing got (the chain is complete once the third fix is
/// judged ineffective). Ingest errors are tolerated: a store fault may
/// fail the delivery that completes the chain.
async fn three_fixes_that_do_not_hold(e: &Engine, t: &TenantId, a: &Alert) -> Option<Outcome> {
    let _ = e.ingest(t, vec![a.clone()]).await;
    e.wait_idle().await;
    for _ in 0..2 {
        advance(Duration::from_secs(30)).await;
        let _ = try_refire(e, t, a).await;
        e.wait_idle().await;
    }
    advance(Duration::from_secs(30)).await;
    try_refire(e, t, a).await.ok()
}

async fn blocks(kit: &Kit, t: &TenantId) -> Vec<KnowledgeEntry> {
    kit.store
        .list_knowledge(
            t,
            &KnowledgeFilter {
                entry_type: Some(EntryType::AntiPattern),
                ..KnowledgeFilter::default()
            },
        )
        .await
        .unwrap()
        .items
}

async fn notices(kit: &Kit, t: &TenantId) -> Vec<Notice> {
    kit.store.unrouted_notices(Some(t), 1000).await.unwrap()
}

/// Every separate audit append is lost (as a crash right after the block's
/// own write would lose it): the block is written with its
/// `ineffective_chain.escalated` entry and that entry's notice, so all
/// three are there, once.
#[tokio::test(start_paused = true)]
async fn an_ineffective_chains_block_is_written_with_its_escalation() {
    let kit = Kit::new();
    let mut ports = kit.ports();
    ports.stores.audit = Arc::new(AuditAppendsFail(kit.store.clone()));
    let (e, t) = chain_engine(ports).await;
    let a = alert("HighErrorRate", "checkout");
    let last = three_fixes_that_do_not_hold(&e, &t, &a).await;
    assert!(
        matches!(
            &last,
            Some(Outcome::Blocked {
                guard: Guard::IneffectiveChain,
                ..
            })
        ),
        "{last:?}"
    );
    let blocks = blocks(&kit, &t).await;
    assert_eq!(blocks.len(), 1, "{blocks:#?}");
    let recorded = audit(&kit, &t, "ineffective_chain.escalated").await;
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    assert!(
        recorded[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains(blocks[0].id.as_str())),
        "{recorded:#?}"
    );
    let heard = notices(&kit, &t).await;
    assert_eq!(
        heard.iter().filter(|n| n.id == recorded[0].id).count(),
        1,
        "{heard:#?}"
    );
    assert_eq!(kit.notifier.count(EscalationKind::IneffectiveChain), 1);
}

/// The block's write fails: there is no block, no escalation record, no
/// notice, and the notifier was not told of a block that does not exist.
#[tokio::test(start_paused = true)]
async fn an_ineffective_chain_whose_block_is_lost_escalates_nothing() {
    let kit = Kit::new();
    let mut ports = kit.ports();
    ports.stores.knowledge = Arc::new(KnowledgeCreatesFail(kit.store.clone()));
    let (e, t) = chain_engine(ports).await;
    let a = alert("HighErrorRate", "checkout");
    let last = three_fixes_that_do_not_hold(&e, &t, &a).await;
    assert!(
        !matches!(
            &last,
            Some(Outcome::Blocked {
                guard: Guard::IneffectiveChain,
                ..
            })
        ),
        "{last:?}"
    );
    assert!(blocks(&kit, &t).await.is_empty());
    let recorded = audit(&kit, &t, "ineffective_chain.escalated").await;
    assert!(recorded.is_empty(), "{recorded:#?}");
    assert_eq!(kit.notifier.count(EscalationKind::IneffectiveChain), 0);
    assert_eq!(assert_every_escalation_noticed(&kit, &t).await, 0);
}

/// Every separate audit append is lost: a regression's timeline event is
/// written with its `regression.escalated` entry and that entry's notice.
#[tokio::test(start_paused = true)]
async fn a_regressions_event_is_written_with_its_escalation() {
    let kit = Kit::new();
    let mut ports = kit.ports();
    ports.stores.audit = Arc::new(AuditAppendsFail(kit.store.clone()));
    let t = tenant("t");
    let p = TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")]);
    let e = Engine::builder(ports).tenant(p).build().await.unwrap();
    let op = started(&ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await);
    e.wait_idle().await;
    kit.probe
        .set_default(Health::Unhealthy("crash-looping".into()));
    e.start_background_tasks().unwrap();
    tokio::time::sleep(Duration::from_secs(601)).await;
    e.shutdown().await;
    let events: Vec<TimelineEvent> = timeline(&kit, &t)
        .await
        .into_iter()
        .filter(|ev| ev.title.starts_with("Regression: "))
        .collect();
    assert!(!events.is_empty());
    let recorded = audit(&kit, &t, "regression.escalated").await;
    assert_eq!(recorded.len(), events.len(), "{recorded:#?} {events:#?}");
    assert!(
        recorded
            .iter()
            .all(|r| r.operation_id.as_ref().map(|o| o.to_string()) == Some(op.clone()))
    );
    let heard = notices(&kit, &t).await;
    for r in &recorded {
        assert_eq!(
            heard.iter().filter(|n| n.id == r.id).count(),
            1,
            "{heard:#?}"
        );
    }
    assert_eq!(
        kit.notifier.count(EscalationKind::Regression),
        recorded.len()
    );
}

/// An automatic restart of `prod/deployment/<id>` left in HEALING.
fn healing(
    t: &TenantId,
    id: &str,
    now: hale_domain::Timestamp,
) -> hale_domain::healing::HealingOperation {
    use hale_domain::healing::{HealingOperation, HealingState, NewOperation};
    use hale_domain::{
        AuthorizationChannel, OperationId, ResourceRef, RiskLevel, SourceSystem, StrategyId,
    };
    let mut op = HealingOperation::new(
        NewOperation {
            id: OperationId::new(id),
            tenant: t.clone(),
            strategy_id: StrategyId::new("restart-higherrorrate"),
            resource: ResourceRef::parse(&format!("prod:deployment/{id}")).unwrap(),
            source_system: SourceSystem::FailureWatcher,
            authorization_channel: AuthorizationChannel::AutoRepair,
            risk: RiskLevel::Low,
            attempt_number: 1,
        },
        now,
    );
    op.transition(HealingState::Diagnosing, now).unwrap();
    op.transition(HealingState::Healing, now).unwrap();
    op
}

/// A timeline that takes no event (every append fails).
struct TimelineAppendsFail(Arc<dyn TimelineStore>);

#[async_trait::async_trait]
impl TimelineStore for TimelineAppendsFail {
    async fn append_timeline_audited(
        &self,
        _: &TimelineEvent,
        _: &[hale_domain::record::audit::AuditEntry],
    ) -> Result<(), StoreError> {
        Err(StoreError::Unavailable(
            "injected fault: the timeline append is lost".into(),
        ))
    }

    async fn list_timeline(
        &self,
        tenant: &TenantId,
        filter: &TimelineFilter,
    ) -> Result<Page<TimelineEvent>, StoreError> {
        self.0.list_timeline(tenant, filter).await
    }
}

/// The recovery sweep finds an operation a dead replica left mid-way. With
/// every separate audit and timeline append lost, the operation is still
/// recorded INTERRUPTED together with its `operation.interrupted` entry,
/// its escalation's `interruption.escalated` entry and that entry's
/// notice: one write, so never the interruption without the escalation.
#[tokio::test(start_paused = true)]
async fn an_interrupted_operation_is_written_with_its_escalation() {
    use hale_domain::healing::HealingState;
    use hale_domain::record::audit::{AuditEntry, AuditKind};
    use hale_domain::{Origin, Timestamp};
    let kit = Kit::new();
    let t = tenant("t");
    let now = Timestamp::from_unix_secs(hale_testkit::kit::KIT_EPOCH_SECS);
    let op = healing(&t, "op-left", now);
    let started = AuditEntry::new(
        "aud-left",
        t.clone(),
        AuditKind::HealingStarted,
        "prod:deployment/checkout",
        Origin::failure_watcher(),
        now,
    );
    kit.store.create_operation(&op, &started).await.unwrap();

    let mut ports = kit.ports();
    ports.stores.audit = Arc::new(AuditAppendsFail(kit.store.clone()));
    ports.stores.timeline = Arc::new(TimelineAppendsFail(kit.store.clone()));
    let mut b = Engine::builder(ports);
    b = b.tenant(TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")]));
    let _e = b.build().await.unwrap();

    let got = kit.store.get_operation(&t, &op.id).await.unwrap().unwrap();
    assert_eq!(got.state, HealingState::Interrupted);
    assert!(got.escalated, "marked escalated in the same write");
    assert_eq!(audit(&kit, &t, "operation.interrupted").await.len(), 1);
    let recorded = audit(&kit, &t, "interruption.escalated").await;
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    let heard = notices(&kit, &t).await;
    assert_eq!(
        heard.iter().filter(|n| n.id == recorded[0].id).count(),
        1,
        "{heard:#?}"
    );
    assert_eq!(kit.notifier.count(EscalationKind::OperationInterrupted), 1);
}

/// A replica recorded a run FAILED and died during its rollback, before
/// it escalated. The recovery sweep escalates it once (its record, its
/// notice, the notifier), saying the rollback's result is unknown; an
/// operation already escalated, or another sweep, adds nothing.
#[tokio::test(start_paused = true)]
async fn a_failed_run_whose_replica_died_before_escalating_is_escalated_by_the_sweep() {
    use hale_domain::record::audit::{AuditEntry, AuditKind};
    use hale_domain::{OperationId, Origin, Timestamp};
    let kit = Kit::new();
    let t = tenant("t");
    let now = Timestamp::from_unix_secs(hale_testkit::kit::KIT_EPOCH_SECS);
    let failed = |id: &str, escalated: bool| {
        let mut op = healing(&t, id, now);
        op.fail("action rollout_restart failed: 500", None, now)
            .unwrap();
        op.escalated = escalated;
        op
    };
    for (id, escalated) in [("orphan", false), ("told", true)] {
        let op = failed(id, escalated);
        let a = AuditEntry::new(
            format!("aud-{id}"),
            t.clone(),
            AuditKind::OperationFailed,
            op.resource.key(),
            Origin::failure_watcher(),
            now,
        );
        kit.store.create_operation(&op, &a).await.unwrap();
    }
    let e = engine(
        &kit,
        vec![TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")])],
    )
    .await;

    let recorded = audit(&kit, &t, "healing.escalated").await;
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    assert_eq!(
        recorded[0].operation_id.as_ref().map(|o| o.as_str()),
        Some("orphan")
    );
    assert!(
        recorded[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("whether its rollback ran is unknown")),
        "{recorded:#?}"
    );
    let orphan = kit
        .store
        .get_operation(&t, &OperationId::new("orphan"))
        .await
        .unwrap()
        .unwrap();
    assert!(orphan.escalated);
    let heard = notices(&kit, &t).await;
    assert_eq!(
        heard.iter().filter(|n| n.id == recorded[0].id).count(),
        1,
        "{heard:#?}"
    );
    assert_eq!(kit.notifier.count(EscalationKind::HealingFailed), 1);

    // Another sweep (this replica's next run, or another replica's) adds
    // nothing.
    e.recover_interrupted().await.unwrap();
    assert_eq!(audit(&kit, &t, "healing.escalated").await.len(), 1);
    assert_eq!(kit.notifier.count(EscalationKind::HealingFailed), 1);
}
