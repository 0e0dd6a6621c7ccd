//! Issue 17 item 2: a safety change and the audit entries and notices that
//! record it are one write. A kill switch, a dormancy or a PERMANENT_OPEN is
//! never in force without its audit entry and notice, and a change the
//! store refuses leaves neither.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use hale_domain::failure::FailureClass;
use hale_domain::kill_switch::{Feature, Switch};
use hale_domain::notification::{Notice, NoticeKind};
use hale_domain::record::audit::{AuditEntry, AuditKind};
use hale_domain::{Actor, TenantId};
use hale_engine::ports::{
    AuditLog, AuditedSafetyUpdate, Ledgers, NotificationOutbox, SafetyRecords, SafetyScope,
    SafetyStore, SafetyUpdated, SafetyView, StoreError,
};
use hale_engine::{Engine, TenantPolicy};
use hale_testkit::fakes::{AuditAppendsFail, Scripted};
use hale_testkit::{Kit, MemoryStore};
use support::*;

fn policy(t: &TenantId) -> TenantPolicy {
    TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")])
}

async fn engine_with(ports: hale_engine::Ports, tenants: &[&TenantId]) -> Engine {
    let mut b = Engine::builder(ports);
    for t in tenants {
        b = b.tenant(policy(t));
    }
    b.build().await.unwrap()
}

async fn notices(kit: &Kit, t: Option<&TenantId>) -> Vec<Notice> {
    kit.store.unrouted_notices(t, 1000).await.unwrap()
}

fn count(notices: &[Notice], kind: NoticeKind) -> usize {
    notices.iter().filter(|n| n.kind == kind).count()
}

/// The global switch is written with its audit entries (one per tenant)
/// and the platform's notice, in the safety update's own transaction: it
/// needs no separate audit append, so losing every such append loses none
/// of its record.
#[tokio::test(start_paused = true)]
async fn a_global_switch_is_recorded_in_its_own_transaction() {
    let kit = Kit::new();
    let (shop, blog) = (tenant("shop"), tenant("blog"));
    let mut ports = kit.ports();
    ports.stores.audit = Arc::new(AuditAppendsFail(kit.store.clone()));
    let e = engine_with(ports, &[&shop, &blog]).await;
    e.set_global_switch(
        Feature::AutoHealing,
        Some(Switch::Off),
        &Actor::new("alice"),
        "freeze for the release",
    )
    .await
    .expect("the switch and its record are one write");
    let view = e.switches(None).await.unwrap();
    assert_eq!(
        view.global_runtime.features.get(&Feature::AutoHealing),
        Some(&Switch::Off)
    );
    for t in [&shop, &blog] {
        let entries = audit(&kit, t, AuditKind::SwitchSet.as_str()).await;
        assert_eq!(entries.len(), 1, "{t}: {entries:?}");
        assert!(
            entries[0]
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("freeze for the release"))
        );
        let n = notices(&kit, Some(t)).await;
        assert_eq!(count(&n, NoticeKind::KillSwitchChanged), 1, "{t}: {n:?}");
    }
    let platform = notices(&kit, None).await;
    assert_eq!(
        count(&platform, NoticeKind::KillSwitchChanged),
        1,
        "{platform:?}"
    );
}

/// A safety store whose update transaction fails, once armed, after the
/// caller decided: the real store is given a trail that ends in an audit
/// entry the log already holds, so it refuses the whole transaction.
struct FailingTransaction {
    inner: Arc<MemoryStore>,
    armed: AtomicBool,
    taken: AuditEntry,
}

#[async_trait]
impl SafetyStore for FailingTransaction {
    async fn safety_epochs(&self) -> Result<Vec<(SafetyScope, u64)>, StoreError> {
        self.inner.safety_epochs().await
    }

    async fn safety_records(
        &self,
        scope: &SafetyScope,
        since: u64,
    ) -> Result<SafetyRecords, StoreError> {
        self.inner.safety_records(scope, since).await
    }

    async fn update_safety_audited(
        &self,
        scope: &SafetyScope,
        ledgers: Ledgers<'_>,
        update: AuditedSafetyUpdate<'_>,
    ) -> Result<SafetyUpdated, StoreError> {
        if !self.armed.load(Ordering::SeqCst) {
            return self
                .inner
                .update_safety_audited(scope, ledgers, update)
                .await;
        }
        let taken = self.taken.clone();
        let mut failing = |view: SafetyView<'_>| {
            let mut change = update(view);
            change.trail.audit.push(taken.clone());
            change
        };
        self.inner
            .update_safety_audited(scope, ledgers, &mut failing)
            .await
    }

    async fn prune_ledgers(
        &self,
        tenant: &TenantId,
        spent: &[(hale_domain::safety::LedgerKey, u64)],
    ) -> Result<Vec<hale_domain::safety::LedgerKey>, StoreError> {
        self.inner.prune_ledgers(tenant, spent).await
    }
}

/// When the safety update's transaction fails, the act fails: the switch
/// is not in force (in the store or on the replica) and no audit entry or
/// notice of it exists.
#[tokio::test(start_paused = true)]
async fn a_failed_transaction_leaves_neither_the_switch_nor_its_record() {
    let kit = Kit::new();
    let shop = tenant("shop");
    let taken = AuditEntry::new(
        "aud-taken",
        shop.clone(),
        AuditKind::WindowOpened,
        "maintenance_window:w",
        hale_domain::Origin::failure_watcher(),
        hale_domain::Timestamp::from_unix_secs(1_795_564_800),
    );
    kit.store.append_audit(&taken).await.unwrap();
    let failing = Arc::new(FailingTransaction {
        inner: kit.store.clone(),
        armed: AtomicBool::new(true),
        taken,
    });
    let mut ports = kit.ports();
    ports.stores.safety = failing.clone();
    let e = engine_with(ports, &[&shop]).await;
    let alice = Actor::new("alice");
    let err = e
        .set_global_switch(Feature::AutoHealing, Some(Switch::Off), &alice, "freeze")
        .await
        .expect_err("a failed transaction fails the act");
    assert!(err.to_string().contains("aud-taken"), "{err}");
    let err = e
        .set_tenant_switch(
            &shop,
            hale_domain::safety::TenantSwitchTarget::Tenant,
            Some(Switch::Off),
            &alice,
            "freeze",
        )
        .await;
    assert!(err.is_err(), "{err:?}");
    let view = e.switches(Some(&shop)).await.unwrap();
    assert!(view.global_runtime.features.is_empty(), "{view:?}");
    assert_eq!(
        view.tenant.map(|t| t.tenant),
        Some(None),
        "not on the replica"
    );
    for scope in [SafetyScope::Platform, SafetyScope::Tenant(shop.clone())] {
        let stored = kit.store.safety_records(&scope, 0).await.unwrap();
        assert!(stored.records.is_empty(), "{scope}: {stored:?}");
    }
    assert!(
        audit(&kit, &shop, AuditKind::SwitchSet.as_str())
            .await
            .is_empty()
    );
    assert_eq!(
        count(
            &notices(&kit, Some(&shop)).await,
            NoticeKind::KillSwitchChanged
        ),
        0
    );
    assert!(notices(&kit, None).await.is_empty());

    // The same act once the store takes it: all of it.
    failing.armed.store(false, Ordering::SeqCst);
    e.set_global_switch(Feature::AutoHealing, Some(Switch::Off), &alice, "freeze")
        .await
        .unwrap();
    assert_eq!(
        audit(&kit, &shop, AuditKind::SwitchSet.as_str())
            .await
            .len(),
        1
    );
    assert_eq!(
        count(&notices(&kit, None).await, NoticeKind::KillSwitchChanged),
        1
    );
}

/// PERMANENT_OPEN reached by the cluster's count (two failures on each of
/// two replicas) is the shared record's latch: it is audited and heard
/// once, with the latch, though neither replica's own breaker counted to
/// it.
#[tokio::test(start_paused = true)]
async fn a_latch_by_the_clusters_count_is_audited_once_with_the_latch() {
    let kit = Kit::new();
    let t = tenant("t");
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let mut p = policy(&t);
        p.dormancy_threshold = 100;
        p.breaker.failure_threshold = 3;
        p.breaker.permanent_open_threshold = 4;
        p.backoff.base = Duration::from_millis(10);
        p.backoff.max = Duration::from_millis(10);
        let mut ports = kit.ports();
        ports.ids = Arc::new(hale_engine::ids::UuidIds);
        let e = Engine::builder(ports).tenant(p).build().await.unwrap();
        e.start_background_tasks().unwrap();
        replicas.push(e);
    }
    kit.executor
        .set_default(Scripted::Fail(FailureClass::Transient, "503".into()));
    for n in 0..4 {
        let e = &replicas[n % 2];
        started(&ingest_one(e, &t, alert("HighErrorRate", &format!("svc-{n}"))).await);
        e.wait_idle().await;
        advance(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let latches: Vec<AuditEntry> = audit(&kit, &t, AuditKind::BreakerTransition.as_str())
        .await
        .into_iter()
        .filter(|a| {
            a.reason
                .as_deref()
                .is_some_and(|r| r.contains("-> PERMANENT_OPEN"))
        })
        .collect();
    assert_eq!(latches.len(), 1, "{latches:#?}");
    assert!(
        latches[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("4 consecutive failures")),
        "{latches:?}"
    );
    let heard = notices(&kit, Some(&t)).await;
    assert_eq!(
        count(&heard, NoticeKind::BreakerPermanentOpen),
        1,
        "{heard:#?}"
    );
    assert_eq!(count(&heard, NoticeKind::DormancyEntered), 1, "{heard:#?}");
}

/// A fatal failure latches this replica's breaker and the shared record at
/// once: one PERMANENT_OPEN entry and notice (the latch's), and the
/// dormancy it started, each once.
#[tokio::test(start_paused = true)]
async fn a_fatal_latch_and_its_dormancy_are_recorded_once() {
    let kit = Kit::new();
    let t = tenant("t");
    let e = engine(&kit, vec![policy(&t)]).await;
    kit.executor.set_default(Scripted::Fail(
        FailureClass::Fatal,
        "401 Unauthorized".into(),
    ));
    started(&ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await);
    e.wait_idle().await;
    let latches = audit(&kit, &t, AuditKind::BreakerTransition.as_str()).await;
    assert_eq!(latches.len(), 1, "{latches:#?}");
    assert!(
        latches[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("CLOSED -> PERMANENT_OPEN (fatal failure class")),
        "{latches:?}"
    );
    assert_eq!(
        audit(&kit, &t, AuditKind::DormancyEntered.as_str())
            .await
            .len(),
        1
    );
    let heard = notices(&kit, Some(&t)).await;
    assert_eq!(count(&heard, NoticeKind::BreakerPermanentOpen), 1);
    assert_eq!(count(&heard, NoticeKind::DormancyEntered), 1);
}

/// An exhausted budget's escalation is marked sent in the shared usage
/// record (once per window for the cluster) in the same write as its audit
/// entry and notice: with every separate audit append lost, it is still
/// recorded and heard, once.
#[tokio::test(start_paused = true)]
async fn a_budget_escalation_is_marked_and_recorded_in_one_write() {
    let kit = Kit::new();
    let t = tenant("t");
    let mut p = policy(&t);
    p.remediation = hale_domain::remediation::RemediationBudgets {
        tenant: Some(hale_domain::remediation::BudgetLimits {
            max_in_flight: Some(1),
            max_started: None,
            max_pods_disrupted: None,
            window: Duration::from_secs(3_600),
        }),
        ..Default::default()
    };
    let mut ports = kit.ports();
    ports.stores.audit = Arc::new(AuditAppendsFail(kit.store.clone()));
    let e = Engine::builder(ports).tenant(p).build().await.unwrap();
    kit.executor
        .set_default(Scripted::Slow(Duration::from_secs(60)));
    let alerts = (0..4)
        .map(|i| alert("HighErrorRate", &format!("svc-{i}")))
        .collect();
    e.ingest(&t, alerts).await.unwrap();
    let entries = audit(&kit, &t, "budget.escalated").await;
    assert_eq!(entries.len(), 1, "{entries:#?}");
    let heard = notices(&kit, Some(&t)).await;
    assert_eq!(
        heard.iter().filter(|n| n.id == entries[0].id).count(),
        1,
        "{heard:#?}"
    );
}
