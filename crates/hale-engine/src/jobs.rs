//! The periodic jobs, all registered with the background task manager:
//! flag refresh, approval expiry, tenant eviction, auto-detection (re-drives
//! deferred alerts), preventive checks of recently healed targets, the
//! crash-recovery sweep, safety-state sync and ledger pruning.

use std::sync::Arc;
use std::time::Duration;

use hale_domain::Origin;
use hale_domain::convergence::Fingerprint;
use hale_domain::healing::HealingState;
use hale_domain::kill_switch::Feature;
use hale_domain::record::timeline::{TimelineEventType, TimelineStatus};

use crate::draft::IntakeDraft;
use crate::engine::{Engine, Inner};
use crate::error::EngineError;
use crate::evaluate::Evaluation;
use crate::ports::{
    Escalation, EscalationKind, Health, OperationFilter, PageRequest, ProbeRequest,
};
use crate::tasks::{Job, TaskError, TaskOptions};
use crate::tenant::{DeferredAlert, TenantRuntime};

/// Task ids.
pub mod task_id {
    /// Re-reads the `FEATURE_*` flag source.
    pub const FLAG_REFRESH: &str = "flag-refresh";
    /// Expires unanswered approvals.
    pub const APPROVAL_EXPIRY: &str = "approval-expiry";
    /// Evicts idle tenants.
    pub const TENANT_EVICTION: &str = "tenant-eviction";
    /// Re-evaluates deferred alerts (seed 002 auto-detection, 5 min).
    pub const AUTO_DETECTION: &str = "auto-detection-monitoring";
    /// Checks recently healed targets (seed 002 preventive, 10 min).
    pub const PREVENTIVE: &str = "self-healing-preventive";
    /// Marks operations orphaned by a crashed replica interrupted.
    pub const RECOVERY: &str = "operation-recovery";
    /// Brings this replica's copy of the shared safety state up to date.
    pub const SAFETY_SYNC: &str = "safety-sync";
    /// Deletes spent attempt ledgers (no failure streak, cooldown passed).
    pub const LEDGER_PRUNING: &str = "ledger-pruning";
    /// Settles the effectiveness of completed operations whose time is up.
    pub const EFFECTIVENESS: &str = "effectiveness";
    /// Asks the lock backend whether it answers, announcing its loss and
    /// return even while no alert asks for a lock.
    pub const LOCK_PROBE: &str = "lock-backend-probe";

    /// Every job [`crate::Engine::start_background_tasks`] registers.
    pub const ALL: [&str; 10] = [
        FLAG_REFRESH,
        APPROVAL_EXPIRY,
        TENANT_EVICTION,
        AUTO_DETECTION,
        PREVENTIVE,
        RECOVERY,
        SAFETY_SYNC,
        LEDGER_PRUNING,
        EFFECTIVENESS,
        LOCK_PROBE,
    ];
}

/// How often the effectiveness job runs: a verdict is at most this late.
pub(crate) const EFFECTIVENESS_INTERVAL: Duration = Duration::from_secs(30);

fn job<F, Fut>(inner: &Arc<Inner>, f: F) -> Job
where
    F: Fn(Arc<Inner>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let inner = inner.clone();
    let f = Arc::new(f);
    Arc::new(move || {
        let fut = f(inner.clone());
        Box::pin(fut)
    })
}

impl Engine {
    /// Registers the periodic jobs (idempotent: re-registering replaces).
    pub fn start_background_tasks(&self) -> Result<(), TaskError> {
        let inner = &self.inner;
        let cfg = &inner.config;
        let opts = TaskOptions::default();
        inner.tasks.register_interval(
            task_id::FLAG_REFRESH,
            cfg.flag_refresh_interval,
            job(inner, |i| async move {
                i.refresh_flags().await;
                Ok(())
            }),
            opts,
        )?;
        let engine = self.clone();
        inner.tasks.register_interval(
            task_id::APPROVAL_EXPIRY,
            cfg.approval_sweep_interval,
            job(inner, move |i| {
                let engine = engine.clone();
                async move {
                    for t in i.tenant_ids() {
                        engine
                            .expire_approvals(&t)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    Ok(())
                }
            }),
            opts,
        )?;
        inner.tasks.register_interval(
            task_id::TENANT_EVICTION,
            Duration::from_secs(60),
            job(inner, |i| async move {
                let cutoff = i.now() - i.config.tenant_idle_eviction;
                let evicted = i.tenants.evict_idle(cutoff);
                tracing::debug!(count = evicted.len(), "evicted idle tenants");
                Ok(())
            }),
            opts,
        )?;
        inner.tasks.register_interval(
            task_id::SAFETY_SYNC,
            cfg.safety_sync_interval,
            job(inner, |i| async move {
                i.sync_safety().await.map_err(|e| e.to_string())
            }),
            opts,
        )?;
        inner.tasks.register_interval(
            task_id::LEDGER_PRUNING,
            cfg.ledger_prune_interval,
            job(inner, |i| async move {
                i.prune_ledgers().await.map(drop).map_err(|e| e.to_string())
            }),
            opts,
        )?;
        inner.tasks.register_interval(
            task_id::AUTO_DETECTION,
            cfg.detection_interval,
            job(inner, |i| async move {
                i.redrive_deferred().await.map_err(|e| e.to_string())
            }),
            opts,
        )?;
        inner.tasks.register_interval(
            task_id::PREVENTIVE,
            cfg.preventive_interval,
            job(inner, |i| async move {
                i.preventive_check().await.map_err(|e| e.to_string())
            }),
            opts,
        )?;
        inner.tasks.register_interval(
            task_id::EFFECTIVENESS,
            EFFECTIVENESS_INTERVAL,
            job(inner, |i| async move {
                i.settle_all_due().await.map_err(|e| e.to_string())
            }),
            opts,
        )?;
        inner.tasks.register_interval(
            task_id::LOCK_PROBE,
            cfg.lock_probe_interval,
            job(inner, |i| async move {
                i.probe_lock_backend().await;
                Ok(())
            }),
            opts,
        )?;
        let engine = self.clone();
        inner.tasks.register_interval(
            task_id::RECOVERY,
            Duration::from_secs(60),
            job(inner, move |_| {
                let engine = engine.clone();
                async move {
                    engine
                        .recover_interrupted()
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
            }),
            opts,
        )?;
        Ok(())
    }

    /// Runs the effectiveness job once (tests call it).
    pub async fn settle_effectiveness(&self) -> Result<(), EngineError> {
        self.inner.settle_all_due().await
    }

    /// Runs the auto-detection job once (tests and replays call it).
    pub async fn run_detection(&self) -> Result<(), EngineError> {
        self.inner.redrive_deferred().await
    }

    /// Runs the ledger-pruning job once (tests call it); returns how many
    /// ledgers the store deleted.
    pub async fn prune_spent_ledgers(&self) -> Result<usize, EngineError> {
        self.inner.prune_ledgers().await.map(|p| p.deleted)
    }

    /// How many attempt ledgers this replica holds in memory for `tenant`
    /// (`None` when the tenant is not loaded): the number the pruning job
    /// keeps bounded.
    pub fn cached_ledgers(&self, tenant: &hale_domain::TenantId) -> Option<usize> {
        self.inner
            .tenants
            .loaded(tenant)
            .map(|rt| rt.cached_ledgers())
    }

    /// The background task statistics.
    pub fn background_tasks(&self) -> Vec<crate::tasks::TaskStats> {
        self.inner.tasks.stats()
    }
}

impl Inner {
    /// Re-evaluates alerts whose healing was deferred or blocked for a
    /// passing reason, if they still fire and nothing claimed them. A store
    /// failure stops the job, and every alert not yet re-evaluated (the
    /// failing one included) is remembered again for the next run: nothing
    /// taken from the queue is lost.
    async fn redrive_deferred(self: &Arc<Self>) -> Result<(), EngineError> {
        if !self.global_switches().is_on(Feature::AutoDetection) || self.is_stopping() {
            return Ok(());
        }
        for rt in self.tenants.all() {
            let mut taken = rt.take_deferred().into_iter();
            while let Some((fp, deferred)) = taken.next() {
                if let Err(e) = self.redrive_one(&rt, &fp, &deferred).await {
                    let max = self.config.max_deferred_per_tenant;
                    let bytes = self.config.max_deferred_bytes_per_tenant;
                    rt.remember_deferred(fp, deferred.alert, deferred.reason, max, bytes);
                    for (fp, d) in taken {
                        rt.remember_deferred(fp, d.alert, d.reason, max, bytes);
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Re-evaluates one deferred alert.
    async fn redrive_one(
        self: &Arc<Self>,
        rt: &Arc<TenantRuntime>,
        fp: &Fingerprint,
        deferred: &DeferredAlert,
    ) -> Result<(), EngineError> {
        let fingerprints = &self.ports.stores.fingerprints;
        let Some(record) = fingerprints.get_fingerprint(rt.tenant(), fp).await? else {
            return Ok(());
        };
        if !record.verdict().may_start_healing() && record.claim.is_some() {
            return Ok(());
        }
        if record.status != hale_domain::alert::AlertStatus::Firing {
            return Ok(());
        }
        let Some(incident) = self
            .ports
            .stores
            .incidents
            .open_incident_for(rt.tenant(), fp)
            .await?
        else {
            return Ok(());
        };
        let draft = IntakeDraft::stored(incident);
        let ev = Evaluation::new(rt, &deferred.alert, &record, draft, self.now());
        let outcome = self.evaluate_and_commit(&ev).await?;
        tracing::debug!(tenant = %rt.tenant(), was = %deferred.reason, now = outcome.label(), "re-evaluated a deferred alert");
        Ok(())
    }

    /// Probes targets healed within the last two preventive periods; a
    /// regression is recorded and escalated (no action is taken).
    async fn preventive_check(&self) -> Result<(), EngineError> {
        if !self.global_switches().is_on(Feature::PreventiveHealing) || self.is_stopping() {
            return Ok(());
        }
        let since = self.now() - self.config.preventive_interval * 2;
        for rt in self.tenants.all() {
            let page = self
                .ports
                .stores
                .operations
                .list_operations(
                    rt.tenant(),
                    &OperationFilter {
                        state: Some(HealingState::Completed),
                        since: Some(since),
                        page: PageRequest::new(50, 0),
                        ..OperationFilter::default()
                    },
                )
                .await?;
            for op in page.items {
                let req = ProbeRequest {
                    tenant: rt.tenant(),
                    resource: &op.resource,
                    check: "auto",
                    namespaces: &rt.policy.namespaces,
                };
                let Ok(Ok(health)) =
                    tokio::time::timeout(Duration::from_secs(10), self.ports.probe.check(req))
                        .await
                else {
                    continue;
                };
                if let Health::Unhealthy(why) = health {
                    let now = self.now();
                    let mut tl = self.timeline_event(
                        rt.tenant(),
                        TimelineEventType::Agent,
                        TimelineStatus::Warning,
                        format!(
                            "Regression: {} unhealthy again after operation {}: {why}",
                            op.resource, op.id
                        ),
                        now,
                    );
                    tl.operation_id = Some(op.id.clone());
                    tl.incident_id.clone_from(&op.incident_id);
                    let escalation = Escalation {
                        tenant: rt.tenant().clone(),
                        kind: EscalationKind::Regression,
                        summary: format!(
                            "{} is unhealthy again after healing ({why})",
                            op.resource
                        ),
                        resource: Some(op.resource.clone()),
                        strategy_id: Some(op.strategy_id.clone()),
                        operation_id: Some(op.id.clone()),
                        incident_id: op.incident_id.clone(),
                        guard: None,
                        severity: EscalationKind::Regression.severity(),
                        at: now,
                    };
                    // The regression's timeline event and its escalation's
                    // record (with its notice) are one write.
                    let record = self.escalation_entry(&escalation, Origin::failure_watcher());
                    self.ports
                        .stores
                        .timeline
                        .append_timeline_audited(&tl, &[record])
                        .await?;
                    self.escalate(escalation).await;
                }
            }
        }
        Ok(())
    }
}
