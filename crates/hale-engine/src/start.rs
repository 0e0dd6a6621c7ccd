//! Starting work once the guards passed: coordination on the resource lock,
//! then an automatic run (failure watcher, LOW risk) or an approval request
//! (decision path, [`crate::propose`]).
//!
//! Order matters for exactly-once: take the resource lock, decide on its
//! answer (seed 000's rule, [`coordination::decide`], asked once), claim the
//! alert episode in the store (compare-and-set), then write the operation or
//! approval. A replica that loses either race stops without acting.

use std::sync::Arc;

use hale_domain::anti_pattern::SymptomsHash;
use hale_domain::convergence::{ClaimKind, EpisodeClaim};
use hale_domain::coordination::{
    self, CoordinationDecision, CoordinationInput, LockObservation, LockPriority,
};
use hale_domain::guard::{Block, HealingPath, Verdict};
use hale_domain::healing::{HealingOperation, NewOperation};
use hale_domain::reason::{DeferralReason, NotActed};
use hale_domain::record::audit::AuditKind;
use hale_domain::record::incident::{DecisionStep, Stage, StepDecision};
use hale_domain::record::incident_change::IncidentChange;
use hale_domain::record::timeline::{TimelineEventType, TimelineStatus};
use hale_domain::safety::LedgerKey;
use hale_domain::silence::SilenceCheck;
use hale_domain::strategy::Strategy;
use hale_domain::{ApprovalId, OperationId, Origin, ResourceRef, SourceSystem};

use crate::decision::Outcome;
use crate::engine::Inner;
use crate::error::EngineError;
use crate::evaluate::Evaluation;
use crate::guards::Gathered;
use crate::ports::{Acquire, Lease, Ledgers, LockError, LockRequest};
use crate::runner::Run;
use crate::tenant::TenantRuntime;

/// The resource lock as a start path found it: the observation the
/// coordination rule reads, and the lease when this call took it.
pub(crate) struct LockAnswer {
    pub observation: LockObservation,
    pub lease: Option<Lease>,
    /// Why the backend could not answer, for the record.
    pub error: Option<LockError>,
}

impl Inner {
    /// Takes a lock, timing the round trip for the metrics.
    pub(crate) async fn acquire_lock(&self, req: &LockRequest) -> Result<Acquire, LockError> {
        let t0 = tokio::time::Instant::now();
        let res = self.ports.locks.acquire(req).await;
        self.metrics.lock_latency(t0.elapsed());
        match &res {
            Ok(_) => self.lock_backend_seen(true, "").await,
            Err(LockError::Unavailable(why)) => self.lock_backend_seen(false, why).await,
            Err(_) => {}
        }
        res
    }

    /// Asks the lock backend whether it answers (the `lock-backend-probe`
    /// job), so a loss while no alert asks for a lock is announced, and a
    /// return without waiting for the next alert.
    pub(crate) async fn probe_lock_backend(&self) {
        match self.ports.locks.ping().await {
            Ok(()) => self.lock_backend_seen(true, "").await,
            Err(LockError::Unavailable(why)) => self.lock_backend_seen(false, &why).await,
            Err(e) => self.lock_backend_seen(false, &e.to_string()).await,
        }
    }

    /// Tells people when this replica finds the lock backend gone or back:
    /// a platform-wide notice naming the replica on each change, none while
    /// it stays so (lock requests and the probe share the one flag). Each
    /// replica announces what it sees, since its own connection can fail
    /// alone. A notice the store did not take leaves the change unannounced,
    /// so the next probe or request tries again.
    async fn lock_backend_seen(&self, available: bool, why: &str) {
        let was_down = self
            .lock_backend_down
            .swap(!available, std::sync::atomic::Ordering::SeqCst);
        if was_down != available {
            return;
        }
        let notice = hale_domain::notification::Notice::lock_backend(
            self.ports.ids.next_id("ntc"),
            &self.config.replica,
            available,
            why,
            self.now(),
        );
        if let Err(e) = self.ports.stores.outbox.enqueue_notices(&[notice]).await {
            tracing::warn!(error = %e, "could not record a lock backend notice; the next look tries again");
            // Unless another look saw a newer change meanwhile.
            let _ = self.lock_backend_down.compare_exchange(
                !available,
                was_down,
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
            );
        }
    }

    /// Asks for the lock and reads the answer as the coordination rule's
    /// observation. A decision-priority request on a resource an automatic
    /// run holds also records a pre-emption request, which the run honours
    /// at its next checkpoint.
    pub(crate) async fn take_lock(&self, req: &LockRequest) -> LockAnswer {
        match self.acquire_lock(req).await {
            Ok(Acquire::Acquired(lease)) => LockAnswer {
                observation: LockObservation::Free,
                lease: Some(lease),
                error: None,
            },
            Ok(Acquire::Held(h)) => LockAnswer {
                observation: LockObservation::Held {
                    priority: h.priority,
                },
                lease: None,
                error: None,
            },
            Err(e) => LockAnswer {
                observation: LockObservation::BackendUnavailable,
                lease: None,
                error: Some(e),
            },
        }
    }

    /// Releases a lease; a lease that already expired is fine.
    pub(crate) async fn release_lock(&self, lease: &Lease) {
        match self.ports.locks.release(lease).await {
            Ok(()) | Err(LockError::NotHeld) => {}
            Err(e) => {
                tracing::warn!(resource = %lease.resource, error = %e, "could not release a lock; its TTL will free it")
            }
        }
    }

    /// Coordination (seed 000): take the lock at the path's priority, decide
    /// once on its answer and on whether an approval is pending, then start,
    /// propose, or record why not.
    pub(crate) async fn coordinate(
        self: &Arc<Self>,
        ev: &Evaluation<'_>,
        strategy: &Strategy,
        resource: &ResourceRef,
        path: HealingPath,
    ) -> Result<Outcome, EngineError> {
        // What the evaluation recorded so far, and a new incident, are
        // durable before an operation or approval can name the incident.
        self.commit_evaluation(ev).await?;
        let tenant = ev.tenant();
        let pending_approval = self
            .ports
            .stores
            .approvals
            .pending_approval_for(tenant, resource)
            .await?
            .is_some();
        let (source, holder, priority, ttl) = match path {
            HealingPath::Automatic => (
                SourceSystem::FailureWatcher,
                self.ports.ids.next_id("op"),
                LockPriority::Automatic,
                self.config.automatic_lock_ttl,
            ),
            HealingPath::Proposal | HealingPath::Approved => (
                SourceSystem::DecisionManager,
                self.ports.ids.next_id("apr"),
                LockPriority::Decision,
                ev.rt.policy.signatures.expires_after + std::time::Duration::from_secs(60),
            ),
        };
        let answer = self
            .take_lock(&LockRequest {
                tenant: tenant.clone(),
                resource: resource.clone(),
                priority,
                holder: holder.clone(),
                ttl,
            })
            .await;
        let decision = coordination::decide(CoordinationInput {
            source,
            risk: strategy.risk,
            lock: answer.observation,
            pending_approval,
        });
        let approval_path = source == SourceSystem::DecisionManager;
        match (decision, answer.lease) {
            (CoordinationDecision::Proceed | CoordinationDecision::Preempt, lease)
                if approval_path =>
            {
                let id = ApprovalId::new(holder);
                self.request_approval(ev, strategy, resource, id, lease)
                    .await
            }
            (CoordinationDecision::Proceed, Some(lease)) => {
                let id = OperationId::new(holder);
                self.start_automatic(ev, strategy, resource, id, lease)
                    .await
            }
            (decision, lease) => {
                if let Some(lease) = &lease {
                    self.release_lock(lease).await;
                }
                match decision {
                    CoordinationDecision::Skip(reason) => {
                        self.remember(ev, NotActed::Skipped(reason));
                        let detail = match &answer.error {
                            Some(e) => format!("automation stands still (fail closed): {e}"),
                            None => "automation stands still (fail closed)".to_owned(),
                        };
                        self.skip(ev, Some(strategy), Some(resource), reason, &detail)
                            .await
                    }
                    CoordinationDecision::AwaitExistingApproval => {
                        let reason = DeferralReason::AwaitingExistingApproval;
                        self.defer(ev, strategy, resource, reason).await
                    }
                    CoordinationDecision::Deferred(reason) => {
                        self.remember(ev, NotActed::Deferred(reason));
                        self.defer(ev, strategy, resource, reason).await
                    }
                    // The failure watcher never pre-empts, and proceeds only
                    // on a lock it took (the coordination rule's
                    // properties); should that ever fail, it does not act.
                    CoordinationDecision::Preempt | CoordinationDecision::Proceed => {
                        let reason = DeferralReason::ResourceBusy;
                        self.remember(ev, NotActed::Deferred(reason));
                        self.defer(ev, strategy, resource, reason).await
                    }
                }
            }
        }
    }

    /// Confirms a start against the store and records the attempt, in one
    /// atomic update: the guard rule runs on the current records (the
    /// platform's and the tenant's), and only if it allows is the attempt
    /// recorded (with `budget`, the strategy's max attempts and cooldown,
    /// re-checked; without, a run humans approved). With remediation
    /// budgets configured, the run takes its slot in the same update (the
    /// guard checked the budgets on these records on the automatic path),
    /// so two replicas never both take the last one. Returns the attempt's
    /// number or the block.
    pub(crate) async fn begin_confirmed(
        &self,
        rt: &TenantRuntime,
        g: &Gathered<'_>,
        operation: &OperationId,
        budget: Option<(u32, std::time::Duration)>,
    ) -> Result<Result<u32, Block>, EngineError> {
        let key = LedgerKey::new(&g.strategy.id, g.resource);
        let ledgers = Ledgers::Only(std::slice::from_ref(&key));
        let budgets = &rt.policy.remediation;
        self.update_tenant_safety(rt, ledgers, |platform, safety| {
            match self.guard_on(rt, g, platform, safety) {
                Verdict::Block(b) => Err(b),
                Verdict::Allow => {
                    if !budgets.is_empty() {
                        let check = g.path == HealingPath::Automatic;
                        let ns = &g.resource.namespace;
                        safety
                            .remediation
                            .start(budgets, check, operation, ns, g.now)
                            .map_err(Block::BudgetExhausted)?;
                    }
                    safety.begin_attempt(key.clone(), budget, g.now)
                }
            }
        })
        .await
    }

    /// Claims the evaluation's episode for `claim`. `Ok(false)`: another
    /// replica or delivery took it first.
    pub(crate) async fn claim_episode(
        &self,
        ev: &Evaluation<'_>,
        claim: &EpisodeClaim,
    ) -> Result<bool, EngineError> {
        Ok(self
            .ports
            .stores
            .fingerprints
            .claim_episode(
                ev.tenant(),
                &ev.record.fingerprint,
                ev.record.episode,
                claim,
            )
            .await?)
    }

    /// Drops an episode claim and the lock after a start that failed.
    pub(crate) async fn undo_claim(
        &self,
        ev: &Evaluation<'_>,
        claim: &EpisodeClaim,
        lease: Option<&Lease>,
    ) {
        if let Err(e) = self
            .ports
            .stores
            .fingerprints
            .release_episode_claim(
                ev.tenant(),
                &ev.record.fingerprint,
                ev.record.episode,
                &claim.id,
            )
            .await
        {
            tracing::warn!(error = %e, "could not release an episode claim after a failed start");
        }
        if let Some(l) = lease {
            self.release_lock(l).await;
        }
    }

    async fn start_automatic(
        self: &Arc<Self>,
        ev: &Evaluation<'_>,
        strategy: &Strategy,
        resource: &ResourceRef,
        op_id: OperationId,
        lease: Lease,
    ) -> Result<Outcome, EngineError> {
        let tenant = ev.tenant();
        let claim = EpisodeClaim {
            kind: ClaimKind::Operation,
            id: op_id.to_string(),
            at: ev.now,
        };
        let claimed = match self.claim_episode(ev, &claim).await {
            Ok(c) => c,
            Err(e) => {
                self.release_lock(&lease).await;
                return Err(e);
            }
        };
        if !claimed {
            // Another replica (or a concurrent delivery) took this episode.
            self.release_lock(&lease).await;
            let current = self
                .ports
                .stores
                .fingerprints
                .get_fingerprint(tenant, &ev.record.fingerprint)
                .await?;
            return Ok(Outcome::Deduplicated {
                claimed_by: current.and_then(|r| r.claim).map(|c| c.id),
            });
        }
        // The guard is asked again under the lock, on the store's current
        // records, in the update that records the attempt: a switch turned
        // off or a cooldown started on another replica since intake read
        // its copy stops this start, and two alerts for one target cannot
        // both pass the cooldown.
        let symptoms = SymptomsHash::of(ev.alert, resource);
        let gathered = Gathered {
            path: HealingPath::Automatic,
            strategy,
            resource,
            symptoms: &symptoms,
            anti_patterns: &[],
            silence: &SilenceCheck::NotAsked,
            gitops: &hale_domain::gitops::OwnershipCheck::NotAsked,
            now: ev.now,
        };
        let budget = Some((strategy.max_attempts, strategy.cooldown));
        let attempt = match self.begin_confirmed(ev.rt, &gathered, &op_id, budget).await {
            Ok(a) => a,
            Err(e) => {
                self.undo_claim(ev, &claim, Some(&lease)).await;
                return Err(e);
            }
        };
        let attempt_number = match attempt {
            Ok(n) => n,
            Err(block) => {
                self.undo_claim(ev, &claim, Some(&lease)).await;
                return self.block(ev, strategy, resource, block).await;
            }
        };
        let origin = Origin::failure_watcher();
        let mut op = HealingOperation::new(
            NewOperation {
                id: op_id.clone(),
                tenant: tenant.clone(),
                strategy_id: strategy.id.clone(),
                resource: resource.clone(),
                source_system: origin.source_system,
                authorization_channel: origin.channel,
                risk: strategy.risk,
                attempt_number,
            },
            ev.now,
        );
        op.fingerprint = Some(ev.record.fingerprint.clone());
        op.incident_id = Some(ev.incident_id());
        op.fencing_token = Some(lease.token.0);
        let mut audit = self.audit_entry(
            tenant,
            AuditKind::HealingStarted,
            &resource.key(),
            origin.clone(),
            ev.now,
        );
        audit.operation_id = Some(op_id.clone());
        audit.incident_id = Some(ev.incident_id());
        audit.auto_repair_attempted = true;
        audit.retry_count = attempt_number.saturating_sub(1);
        audit.reason = Some(format!(
            "strategy {} matched {}",
            strategy.id,
            ev.alert.alertname().unwrap_or("alert")
        ));
        if let Err(e) = self
            .ports
            .stores
            .operations
            .create_operation(&op, &audit)
            .await
        {
            self.undo_claim(ev, &claim, Some(&lease)).await;
            return Err(e.into());
        }
        ev.rt.forget_deferred(&ev.record.fingerprint);
        let step = DecisionStep::new(
            ev.now,
            Stage::Start,
            StepDecision::OperationStarted,
            format!("automatic run {} of strategy {}", op_id, strategy.id),
        );
        let started = IncidentChange::OperationStarted {
            operation: op_id.clone(),
            step,
        };
        ev.with_draft(|d| d.change(started));
        let mut tl = self.timeline_event(
            tenant,
            TimelineEventType::System,
            TimelineStatus::Info,
            format!("Automatic healing started: {} on {resource}", strategy.id),
            ev.now,
        );
        tl.operation_id = Some(op_id.clone());
        tl.incident_id = Some(ev.incident_id());
        tl.actor = Some(origin.actor.clone());
        tl.risk_level = Some(strategy.risk);
        ev.with_draft(|d| d.timeline(tl));
        // Durable before the run can change the incident itself.
        self.commit_evaluation(ev).await?;
        self.spawn_run(Run {
            rt: ev.rt.clone(),
            op,
            lease,
            strategy: strategy.clone(),
            alert: ev.alert.clone(),
            origin,
            yields_to_decisions: true,
        });
        Ok(Outcome::OperationStarted {
            strategy_id: strategy.id.clone(),
            resource: resource.clone(),
            operation_id: op_id.to_string(),
        })
    }
}
