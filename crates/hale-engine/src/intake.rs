//! Intake: a tenant's batch of alerts -> idempotency -> convergence ->
//! incident -> strategy match -> guards -> coordination -> start or propose.
//!
//! Every alert gets an [`AlertDecision`]; every skip, block and deferral is
//! written to the audit log and the incident's decision chain with its
//! reason, never dropped silently.

use std::collections::HashMap;
use std::sync::Arc;

use futures::stream::{self, StreamExt};

use hale_domain::alert::Alert;
use hale_domain::convergence::{ConvergenceVerdict, Delivery, Fingerprint, FingerprintRecord};
use hale_domain::coordination::{self, CoordinationDecision, CoordinationInput, LockObservation};
use hale_domain::record::incident::{Incident, IncidentStatus, Signal, incident_id};
use hale_domain::record::timeline::{TimelineEventType, TimelineStatus};
use hale_domain::strategy::{ExecutionPath, Strategy, find_strategy};
use hale_domain::{IncidentId, Origin, ResourceRef, Severity, SourceSystem, TenantId, Timestamp};
use sha2::{Digest, Sha256};

use crate::decision::{AlertDecision, IngestReport, Outcome};
use crate::engine::{Engine, Inner};
use crate::error::EngineError;
use crate::guards::Block;
use crate::metrics::family;
use crate::ports::LockError;
use crate::tenant::TenantRuntime;

/// The context of one alert being evaluated.
pub(crate) struct Evaluation<'a> {
    pub rt: &'a Arc<TenantRuntime>,
    pub alert: &'a Alert,
    pub record: &'a FingerprintRecord,
    pub incident: IncidentId,
    /// The incident as last read or written during this evaluation, so the
    /// next change need not read it again (a stale copy only costs a retry:
    /// updates are revision-checked).
    pub incident_copy: std::sync::Mutex<Option<Incident>>,
    pub now: Timestamp,
}

impl<'a> Evaluation<'a> {
    pub(crate) fn new(
        rt: &'a Arc<TenantRuntime>,
        alert: &'a Alert,
        record: &'a FingerprintRecord,
        incident: Incident,
        now: Timestamp,
    ) -> Self {
        Evaluation {
            rt,
            alert,
            record,
            incident: incident.id.clone(),
            incident_copy: std::sync::Mutex::new(Some(incident)),
            now,
        }
    }

    pub(crate) fn tenant(&self) -> &TenantId {
        self.rt.tenant()
    }
}

/// The key that identifies one delivery of one alert: HA peers and retries
/// carry the same alert with the same status, start and end times.
fn delivery_key(alert: &Alert, fp: &Fingerprint) -> String {
    let mut h = Sha256::new();
    h.update(fp.as_str().as_bytes());
    h.update([0]);
    h.update(alert.status.to_string().as_bytes());
    h.update([0]);
    h.update(
        alert
            .starts_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_default()
            .as_bytes(),
    );
    h.update([0]);
    h.update(
        alert
            .ends_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_default()
            .as_bytes(),
    );
    h.update([0]);
    h.update(
        alert
            .source_fingerprint
            .as_deref()
            .unwrap_or_default()
            .as_bytes(),
    );
    format!("delivery:{}", hex::encode(&h.finalize()[..16]))
}

impl Engine {
    /// Takes a tenant's batch of alerts. Each alert is processed durably;
    /// alerts with the same fingerprint in order, different fingerprints
    /// concurrently up to [`crate::EngineConfig::intake_concurrency`]. The
    /// decisions come back in input order. On a store failure the call
    /// returns [`EngineError::StoreUnavailable`], and the alerts already
    /// processed are recognised as duplicates when the sender retries the
    /// batch.
    pub async fn ingest(
        &self,
        tenant: &TenantId,
        alerts: Vec<Alert>,
    ) -> Result<IngestReport, EngineError> {
        let inner = &self.inner;
        if inner.is_stopping() {
            return Err(EngineError::ShuttingDown);
        }
        let rt = inner.runtime(tenant).await?;
        let concurrency = inner.config.intake_concurrency.max(1);
        if concurrency == 1 || alerts.len() < 2 {
            let mut decisions = Vec::with_capacity(alerts.len());
            for alert in alerts {
                decisions.push(inner.process_alert(&rt, alert).await?);
            }
            return Ok(IngestReport { decisions });
        }
        // Group by fingerprint: one group's alerts run in order (HA
        // duplicates of one alert stay a duplicate of the first), groups run
        // side by side.
        let n = alerts.len();
        let mut groups: Vec<Vec<(usize, Alert)>> = Vec::new();
        let mut group_of: HashMap<Fingerprint, usize> = HashMap::new();
        for (i, alert) in alerts.into_iter().enumerate() {
            let fp = rt.policy.identity.fingerprint(&alert);
            let g = *group_of.entry(fp).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[g].push((i, alert));
        }
        let results: Vec<Result<Vec<(usize, AlertDecision)>, EngineError>> =
            stream::iter(groups.into_iter().map(|group| {
                let inner = inner.clone();
                let rt = rt.clone();
                async move {
                    let mut out = Vec::with_capacity(group.len());
                    for (i, alert) in group {
                        out.push((i, inner.process_alert(&rt, alert).await?));
                    }
                    Ok(out)
                }
            }))
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let mut slots: Vec<Option<AlertDecision>> = (0..n).map(|_| None).collect();
        for r in results {
            for (i, d) in r? {
                slots[i] = Some(d);
            }
        }
        Ok(IngestReport {
            decisions: slots.into_iter().flatten().collect(),
        })
    }
}

impl Inner {
    async fn process_alert(
        self: &Arc<Self>,
        rt: &Arc<TenantRuntime>,
        alert: Alert,
    ) -> Result<AlertDecision, EngineError> {
        self.metrics.alert_received();
        let now = self.now();
        rt.touch(now);
        let tenant = rt.tenant();
        let delivery = Delivery::of(&rt.policy.identity, &alert, now);
        let key = delivery_key(&alert, &delivery.fingerprint);
        let decision = |outcome| AlertDecision {
            fingerprint: delivery.fingerprint.clone(),
            alertname: delivery.alertname.clone(),
            status: alert.status,
            outcome,
        };
        let claimed = match self
            .ports
            .idempotency
            .claim(tenant, &key, self.config.idempotency_ttl)
            .await
        {
            Ok(true) => true,
            Ok(false) => {
                self.metrics.duplicate_delivery();
                self.metrics.inc(family::DECISIONS, "duplicate_delivery");
                return Ok(decision(Outcome::DuplicateDelivery));
            }
            Err(e) => {
                // Exactly-once healing does not depend on the key: the
                // fingerprint store's episode claim still holds.
                tracing::debug!(tenant = %tenant, error = %e, "idempotency backend unavailable; continuing");
                false
            }
        };
        match self.process_delivery(rt, &alert, &delivery, now).await {
            Ok(outcome) => {
                self.metrics.inc(family::DECISIONS, outcome.label());
                Ok(decision(outcome))
            }
            Err(e) => {
                if claimed && let Err(re) = self.ports.idempotency.release_claim(tenant, &key).await
                {
                    tracing::warn!(tenant = %tenant, error = %re, "could not release an idempotency key after a failure");
                }
                Err(e)
            }
        }
    }

    async fn process_delivery(
        self: &Arc<Self>,
        rt: &Arc<TenantRuntime>,
        alert: &Alert,
        delivery: &Delivery,
        now: Timestamp,
    ) -> Result<Outcome, EngineError> {
        let tenant = rt.tenant();
        let record = self
            .ports
            .stores
            .fingerprints
            .converge(tenant, delivery)
            .await?;
        match record.verdict() {
            ConvergenceVerdict::Resolved => self.on_resolved(rt, alert, &record, now).await,
            ConvergenceVerdict::DuplicateResolved => {
                self.metrics.inc(family::DEDUPLICATED, "resolved");
                Ok(Outcome::Deduplicated { claimed_by: None })
            }
            ConvergenceVerdict::Duplicate { claimed: true } => {
                self.metrics.inc(family::DEDUPLICATED, "episode");
                let claim = record.claim.clone();
                if let Some(c) = &claim
                    && c.kind == hale_domain::convergence::ClaimKind::Approval
                {
                    self.bump_approval_hit(tenant, &c.id, now).await?;
                }
                Ok(Outcome::Deduplicated {
                    claimed_by: claim.map(|c| c.id),
                })
            }
            v @ (ConvergenceVerdict::NewEpisode
            | ConvergenceVerdict::Duplicate { claimed: false }) => {
                let incident = self
                    .ensure_incident(rt, alert, &record, now, v == ConvergenceVerdict::NewEpisode)
                    .await?;
                let ev = Evaluation::new(rt, alert, &record, incident, now);
                self.evaluate(&ev).await
            }
        }
    }

    async fn bump_approval_hit(
        &self,
        tenant: &TenantId,
        id: &str,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let id = hale_domain::ApprovalId::new(id);
        for _ in 0..4 {
            let Some(mut a) = self
                .ports
                .stores
                .approvals
                .get_approval(tenant, &id)
                .await?
            else {
                return Ok(());
            };
            if a.status != hale_domain::approval::ApprovalStatus::Pending {
                return Ok(());
            }
            a.record_hit(now);
            match self.ports.stores.approvals.update_approval(&a, None).await {
                Ok(_) => return Ok(()),
                Err(crate::ports::StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        // Losing a hit count to heavy contention is harmless; the delivery
        // itself is recorded on the fingerprint.
        Ok(())
    }

    async fn on_resolved(
        &self,
        rt: &TenantRuntime,
        alert: &Alert,
        record: &FingerprintRecord,
        now: Timestamp,
    ) -> Result<Outcome, EngineError> {
        let tenant = rt.tenant();
        rt.forget_deferred(&record.fingerprint);
        let Some(open) = self
            .ports
            .stores
            .incidents
            .open_incident_for(tenant, &record.fingerprint)
            .await?
        else {
            return Ok(Outcome::Resolved { incident_id: None });
        };
        let signal = incident_signal(alert, &record.fingerprint, now);
        let inc = self
            .update_incident(tenant, &open.id, |inc| {
                inc.push_signal(signal.clone());
                inc.status = IncidentStatus::Resolved;
                inc.resolved_at = Some(now);
                inc.updated_at = now;
                if inc.outcome.is_none() {
                    inc.outcome = Some(hale_domain::record::incident::IncidentOutcome {
                        result: "resolved_without_action".into(),
                        summary: "the alert resolved before any healing ran".into(),
                        operation_id: None,
                    });
                }
            })
            .await?;
        let mut ev = self.timeline_event(
            tenant,
            TimelineEventType::System,
            TimelineStatus::Success,
            format!("{} resolved", record.alertname),
            now,
        );
        ev.incident_id = Some(inc.id.clone());
        self.timeline(ev).await?;
        Ok(Outcome::Resolved {
            incident_id: Some(inc.id),
        })
    }

    /// The open incident for the alert's fingerprint, created if absent.
    async fn ensure_incident(
        &self,
        rt: &TenantRuntime,
        alert: &Alert,
        record: &FingerprintRecord,
        now: Timestamp,
        new_episode: bool,
    ) -> Result<Incident, EngineError> {
        let tenant = rt.tenant();
        let signal = incident_signal(alert, &record.fingerprint, now);
        if let Some(open) = self
            .ports
            .stores
            .incidents
            .open_incident_for(tenant, &record.fingerprint)
            .await?
        {
            if new_episode {
                return self
                    .update_incident_with(tenant, &open.id, Some(open.clone()), |inc| {
                        inc.push_signal(signal.clone())
                    })
                    .await;
            }
            return Ok(open);
        }
        let service = [
            "deployment",
            "service",
            "statefulset",
            "daemonset",
            "job",
            "pod",
        ]
        .iter()
        .find_map(|l| alert.label(l))
        .map(str::to_owned);
        let mut incident = Incident {
            id: IncidentId::new(""),
            tenant: tenant.clone(),
            status: IncidentStatus::Investigating,
            severity: Severity::from_label(alert.label("severity")),
            title: incident_title(alert),
            fingerprint: record.fingerprint.clone(),
            signals: vec![signal],
            affected_services: service.into_iter().collect(),
            decision_chain: Vec::new(),
            proposal_ids: Vec::new(),
            operation_ids: Vec::new(),
            outcome: None,
            ttl_days: 7,
            revision: 0,
            created_at: now,
            updated_at: now,
            resolved_at: None,
            closed_at: None,
        };
        // Seed 003's id format has six random characters per day; a clash
        // is possible on a busy day, so a conflicting id is drawn again.
        let mut attempt = 0;
        loop {
            let raw = self.ports.ids.next_id("inc");
            let suffix = raw.strip_prefix("inc-").unwrap_or(&raw);
            incident.id = incident_id(now, suffix);
            match self.ports.stores.incidents.create_incident(&incident).await {
                Ok(()) => break,
                Err(crate::ports::StoreError::Conflict(_)) if attempt < 5 => attempt += 1,
                Err(e) => return Err(e.into()),
            }
        }
        let id = incident.id.clone();
        let mut ev = self.timeline_event(
            tenant,
            TimelineEventType::System,
            TimelineStatus::Warning,
            format!("Alert received: {}", incident.title),
            now,
        );
        ev.incident_id = Some(id.clone());
        self.timeline(ev).await?;
        Ok(incident)
    }

    /// Strategy match, guards, coordination, then start or propose.
    pub(crate) async fn evaluate(
        self: &Arc<Self>,
        ev: &Evaluation<'_>,
    ) -> Result<Outcome, EngineError> {
        let policy = ev.rt.policy.clone();
        let Some(strategy) = find_strategy(&policy.strategies, ev.alert) else {
            // Recorded once per episode: repeats of an unhandled alert say
            // nothing new and would only grow the incident.
            if ev.record.verdict() == ConvergenceVerdict::NewEpisode {
                self.ev_step(
                    ev,
                    "match",
                    "no_strategy",
                    "no strategy matches this alert",
                    ev.now,
                )
                .await?;
            }
            return Ok(Outcome::NoStrategy);
        };
        let resource = match strategy.target.resolve(ev.alert) {
            Ok(r) => r,
            Err(e) => {
                return self
                    .skip(
                        ev,
                        Some(strategy),
                        None,
                        "target_unresolved",
                        &e.to_string(),
                    )
                    .await;
            }
        };
        if !strategy
            .trigger
            .count_satisfied(&ev.record.recent_firings, ev.now)
        {
            let detail = format!(
                "needs {} firings within {}",
                strategy.trigger.consecutive_failures,
                hale_domain::time::duration::format(strategy.trigger.within_window)
            );
            self.ev_step(ev, "trigger", "waiting", &detail, ev.now)
                .await?;
            return Ok(Outcome::Waiting {
                strategy_id: strategy.id.clone(),
                detail,
            });
        }
        if let Err(block) = self.check_guards(ev, strategy, &resource).await? {
            return self.block(ev, strategy, &resource, block).await;
        }
        let path = strategy.execution_path();
        let source = match path {
            ExecutionPath::Automatic => SourceSystem::FailureWatcher,
            ExecutionPath::Approval => SourceSystem::DecisionManager,
        };
        let lock = match self.ports.locks.inspect(ev.tenant(), &resource).await {
            Ok(None) => LockObservation::Free,
            Ok(Some(h)) => LockObservation::Held {
                priority: h.priority,
            },
            Err(LockError::Unavailable(_) | LockError::NotHeld | LockError::Invalid(_)) => {
                LockObservation::BackendUnavailable
            }
        };
        let pending = self
            .ports
            .stores
            .approvals
            .pending_approval_for(ev.tenant(), &resource)
            .await?
            .is_some();
        let decision = coordination::decide(CoordinationInput {
            source,
            risk: strategy.risk,
            lock,
            pending_approval: pending,
        });
        match decision {
            CoordinationDecision::Proceed => match path {
                ExecutionPath::Automatic => self.start_automatic(ev, strategy, &resource).await,
                ExecutionPath::Approval => {
                    self.request_approval(ev, strategy, &resource, false).await
                }
            },
            CoordinationDecision::Preempt => {
                self.request_approval(ev, strategy, &resource, true).await
            }
            CoordinationDecision::Skip(reason) => {
                self.remember(ev, reason.as_str());
                self.skip(
                    ev,
                    Some(strategy),
                    Some(&resource),
                    reason.as_str(),
                    "automation stands still (fail closed)",
                )
                .await
            }
            CoordinationDecision::Deferred(reason) => {
                self.remember(ev, reason.as_str());
                self.defer(ev, strategy, &resource, reason.as_str()).await
            }
            CoordinationDecision::AwaitExistingApproval => {
                self.defer(ev, strategy, &resource, "awaiting_existing_approval")
                    .await
            }
        }
    }

    pub(crate) fn remember(&self, ev: &Evaluation<'_>, reason: &str) {
        ev.rt.remember_deferred(
            ev.record.fingerprint.clone(),
            ev.alert.clone(),
            reason,
            self.config.max_deferred_per_tenant,
        );
    }

    fn origin_for(strategy: &Strategy) -> Origin {
        match strategy.execution_path() {
            ExecutionPath::Automatic => Origin::failure_watcher(),
            ExecutionPath::Approval => Origin::decision_manager(),
        }
    }

    /// Records a deferral: audit `healing.deferred`, incident step, metric.
    pub(crate) async fn defer(
        &self,
        ev: &Evaluation<'_>,
        strategy: &Strategy,
        resource: &ResourceRef,
        reason: &str,
    ) -> Result<Outcome, EngineError> {
        self.metrics.inc(family::DEFERRALS, reason);
        self.record_not_acted(
            ev,
            NotActed {
                audit_kind: "healing.deferred",
                target: resource.key(),
                origin: Self::origin_for(strategy),
                reason,
                detail: None,
                stage: "coordination",
                decision: "deferred",
            },
        )
        .await?;
        Ok(Outcome::Deferred {
            strategy_id: strategy.id.clone(),
            resource: resource.clone(),
            reason: reason.to_owned(),
        })
    }

    /// Records a skip: audit `healing.skipped`, incident step, metric.
    pub(crate) async fn skip(
        &self,
        ev: &Evaluation<'_>,
        strategy: Option<&Strategy>,
        resource: Option<&ResourceRef>,
        reason: &str,
        detail: &str,
    ) -> Result<Outcome, EngineError> {
        self.metrics.inc(family::DEFERRALS, reason);
        self.record_not_acted(
            ev,
            NotActed {
                audit_kind: "healing.skipped",
                target: resource
                    .map(ResourceRef::key)
                    .unwrap_or_else(|| ev.alert.alertname().unwrap_or("?").to_owned()),
                origin: strategy.map_or_else(Origin::failure_watcher, Self::origin_for),
                reason,
                detail: Some(detail),
                stage: "guard",
                decision: "skipped",
            },
        )
        .await?;
        Ok(Outcome::Skipped {
            strategy_id: strategy.map(|s| s.id.clone()),
            reason: reason.to_owned(),
            detail: detail.to_owned(),
        })
    }

    /// Records a guard block: audit `healing.blocked`, incident step, metric.
    pub(crate) async fn block(
        &self,
        ev: &Evaluation<'_>,
        strategy: &Strategy,
        resource: &ResourceRef,
        block: Block,
    ) -> Result<Outcome, EngineError> {
        self.metrics.inc(family::BLOCKS, block.guard);
        if block.retryable {
            self.remember(ev, block.guard);
        }
        self.record_not_acted(
            ev,
            NotActed {
                audit_kind: "healing.blocked",
                target: resource.key(),
                origin: Self::origin_for(strategy),
                reason: block.guard,
                detail: Some(&block.detail),
                stage: "guard",
                decision: "blocked",
            },
        )
        .await?;
        Ok(Outcome::Blocked {
            strategy_id: strategy.id.clone(),
            resource: resource.clone(),
            guard: block.guard.to_owned(),
            detail: block.detail,
        })
    }

    /// The record every deferral, skip and block leaves: a failed audit
    /// entry with its reason, and a step in the incident's decision chain.
    async fn record_not_acted(
        &self,
        ev: &Evaluation<'_>,
        n: NotActed<'_>,
    ) -> Result<(), EngineError> {
        let mut a = self.audit_entry(ev.tenant(), n.audit_kind, &n.target, n.origin, ev.now);
        a.success = false;
        a.reason = Some(n.reason.to_owned());
        a.error_message = n.detail.map(str::to_owned);
        a.incident_id = Some(ev.incident.clone());
        self.audit(a).await?;
        let step = match n.detail {
            Some(d) => format!("{}: {d}", n.reason),
            None => n.reason.to_owned(),
        };
        self.ev_step(ev, n.stage, n.decision, &step, ev.now).await
    }
}

/// What [`Inner::record_not_acted`] writes.
struct NotActed<'a> {
    audit_kind: &'static str,
    target: String,
    origin: Origin,
    reason: &'a str,
    detail: Option<&'a str>,
    stage: &'static str,
    decision: &'static str,
}

fn incident_title(alert: &Alert) -> String {
    let name = alert.alertname().unwrap_or("alert");
    let what = [
        "deployment",
        "service",
        "statefulset",
        "daemonset",
        "pod",
        "node",
        "instance",
    ]
    .iter()
    .find_map(|l| alert.label(l));
    match (alert.label("namespace"), what) {
        (Some(ns), Some(w)) => format!("{name} on {ns}/{w}"),
        (None, Some(w)) => format!("{name} on {w}"),
        _ => name.to_owned(),
    }
}

/// The incident signal for one delivery.
fn incident_signal(alert: &Alert, fp: &Fingerprint, now: Timestamp) -> Signal {
    Signal {
        alertname: alert.alertname().unwrap_or_default().to_owned(),
        status: alert.status,
        fingerprint: fp.clone(),
        received_at: now,
        summary: alert.annotations.get("summary").cloned(),
    }
}
