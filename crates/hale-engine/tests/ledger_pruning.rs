//! Attempt ledgers are pruned once their window has passed (issue 15,
//! bounded memory): a tenant's safety records and this replica's copy do
//! not grow with every distinct target ever healed, and nothing that
//! decides is forgotten.

mod support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hale_domain::TenantId;
use hale_domain::budget::AttemptLedger;
use hale_domain::failure::FailureClass;
use hale_domain::guard::Guard;
use hale_domain::safety::{LedgerKey, SafetyKey, SafetyValue};
use hale_engine::ports::{
    AuditedSafetyUpdate, Ledgers, SafetyRecords, SafetyScope, SafetyStore, SafetyUpdated,
    StoreError,
};
use hale_engine::{Engine, EngineConfig, Outcome, TenantPolicy};
use hale_testkit::fakes::Scripted;
use hale_testkit::{Kit, MemoryStore};
use support::*;

const TARGETS: usize = 1_000;

/// The restart strategy with a 5 min cooldown and one attempt per streak.
fn policy(t: &TenantId) -> TenantPolicy {
    let mut s = restart("HighErrorRate");
    s.cooldown = Duration::from_secs(300);
    s.max_attempts = 1;
    TenantPolicy::new(t.clone(), vec![s])
}

async fn stored_ledgers(store: &MemoryStore, t: &TenantId) -> Vec<(LedgerKey, AttemptLedger)> {
    let recs = store
        .safety_records(&SafetyScope::Tenant(t.clone()), 0)
        .await
        .unwrap();
    recs.records
        .into_iter()
        .filter_map(|r| match (r.key, r.value) {
            (SafetyKey::Ledger(k), SafetyValue::Ledger(l)) => Some((k, l)),
            _ => None,
        })
        .collect()
}

/// The job's first tick, a cooldown and the clock-skew margin later.
async fn let_the_job_run(config: &EngineConfig) {
    tokio::time::sleep(Duration::from_secs(300 + 60) + config.ledger_prune_interval * 2).await;
}

#[tokio::test(start_paused = true)]
async fn spent_ledgers_are_pruned_and_a_failure_streak_keeps_its_block() {
    let kit = Kit::new();
    let t = tenant("t");
    let e = engine(&kit, vec![policy(&t)]).await;
    let alerts: Vec<_> = (0..TARGETS)
        .map(|n| alert("HighErrorRate", &format!("svc-{n}")))
        .collect();
    for chunk in alerts.chunks(100) {
        let report = e.ingest(&t, chunk.to_vec()).await.unwrap();
        for d in &report.decisions {
            started(&d.outcome);
        }
        e.wait_idle().await;
    }
    kit.executor.set_default(Scripted::Fail(
        FailureClass::Conflict,
        "409 conflict".into(),
    ));
    let broken = alert("HighErrorRate", "broken");
    started(&ingest_one(&e, &t, broken.clone()).await);
    e.wait_idle().await;
    assert_eq!(stored_ledgers(&kit.store, &t).await.len(), TARGETS + 1);
    assert_eq!(e.cached_ledgers(&t), Some(TARGETS + 1));

    e.start_background_tasks().unwrap();
    let_the_job_run(&EngineConfig::default()).await;

    let left = stored_ledgers(&kit.store, &t).await;
    assert_eq!(
        left.iter()
            .map(|(k, l)| (k.as_str(), l.consecutive_failures))
            .collect::<Vec<_>>(),
        vec![("restart-higherrorrate|prod:deployment/broken", 1)],
        "only the ledger with a failure streak is left in the store"
    );
    assert_eq!(e.cached_ledgers(&t), Some(1), "and in this replica's copy");
    let o = refire(&e, &t, &broken).await;
    assert!(
        matches!(
            &o,
            Outcome::Blocked {
                guard: Guard::MaxAttempts,
                ..
            }
        ),
        "the streak's max-attempts block survives pruning: {o:?}"
    );
    kit.executor.set_default(Scripted::Ok);
    let o = refire(&e, &t, &alert("HighErrorRate", "svc-7")).await;
    started(&o);
    e.wait_idle().await;
    assert_eq!(
        stored_ledgers(&kit.store, &t).await.len(),
        2,
        "a pruned target heals afresh"
    );
}

/// The store as another replica sees it: just before each prune, a new
/// attempt on the target rewrites its ledger.
struct RewritesBeforePrune {
    inner: Arc<MemoryStore>,
    target: LedgerKey,
}

#[async_trait]
impl SafetyStore for RewritesBeforePrune {
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
        self.inner
            .update_safety_audited(scope, ledgers, update)
            .await
    }

    async fn prune_ledgers(
        &self,
        tenant: &TenantId,
        spent: &[(LedgerKey, u64)],
    ) -> Result<Vec<LedgerKey>, StoreError> {
        let key = SafetyKey::Ledger(self.target.clone());
        let scope = SafetyScope::Tenant(tenant.clone());
        self.inner
            .update_safety(&scope, Ledgers::All, &mut |view| {
                let mut l = view
                    .tenant
                    .and_then(|t| t.records.iter().find(|r| r.key == key))
                    .and_then(|r| match &r.value {
                        SafetyValue::Ledger(l) => Some(l.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                l.total_attempts += 1;
                vec![(key.clone(), SafetyValue::Ledger(l))]
            })
            .await?;
        self.inner.prune_ledgers(tenant, spent).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_ledger_rewritten_between_listing_and_delete_survives() {
    let kit = Kit::new();
    let t = tenant("t");
    let target = LedgerKey::from_stored("restart-higherrorrate|prod:deployment/svc-1");
    let mut ports = kit.ports();
    ports.stores.safety = Arc::new(RewritesBeforePrune {
        inner: kit.store.clone(),
        target: target.clone(),
    });
    let e = Engine::builder(ports)
        .tenant(policy(&t))
        .build()
        .await
        .unwrap();
    for n in 0..3 {
        started(&ingest_one(&e, &t, alert("HighErrorRate", &format!("svc-{n}"))).await);
    }
    e.wait_idle().await;
    tokio::time::advance(Duration::from_secs(3600)).await;

    assert_eq!(e.prune_spent_ledgers().await.unwrap(), 2);
    let left = stored_ledgers(&kit.store, &t).await;
    assert_eq!(
        left.iter()
            .map(|(k, l)| (k.clone(), l.total_attempts))
            .collect::<Vec<_>>(),
        vec![(target, 2)],
        "the ledger written after the listing survives with its new value"
    );
    assert_eq!(
        e.cached_ledgers(&t),
        Some(1),
        "the copy keeps it (at the version it had) until sync brings the new one"
    );
}
