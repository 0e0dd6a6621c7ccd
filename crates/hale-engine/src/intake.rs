//! Intake: a tenant's batch of alerts -> idempotency -> convergence ->
//! incident, then `evaluate` (strategy match -> guards ->
//! coordination -> start or propose).
//!
//! Every alert gets an [`AlertDecision`]; every skip, block and deferral is
//! written to the audit log and the incident's decision chain with its
//! reason, never dropped silently.

use std::collections::HashMap;
use std::sync::Arc;

use futures::stream::{self, StreamExt};

use hale_domain::alert::Alert;
use hale_domain::convergence::{ConvergenceVerdict, Delivery, Fingerprint, FingerprintRecord};
use hale_domain::effectiveness::Observation;
use hale_domain::healing::HealingOperation;
use hale_domain::record::incident::{Incident, Signal};
use hale_domain::record::incident_change::IncidentChange;
use hale_domain::record::timeline::{TimelineEventType, TimelineStatus};
use hale_domain::{TenantId, Timestamp};
use sha2::{Digest, Sha256};

use crate::decision::{AlertDecision, IngestReport, Outcome};
use crate::draft::IntakeDraft;
use crate::engine::{Engine, Inner};
use crate::error::EngineError;
use crate::evaluate::Evaluation;
use crate::metrics::family;
use crate::ports::{Converged, StoreError};
use crate::tenant::TenantRuntime;

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

/// How an alert's records are committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Commit {
    /// Before its decision is returned (an alert whose fingerprint repeats
    /// in the delivery: the next one must see its incident).
    Now,
    /// With the rest of the delivery, in one transaction.
    WithDelivery,
}

/// One alert's decision, and its records if they wait for the delivery's
/// commit.
type Decided = (AlertDecision, Option<IntakeDraft>);

/// A fingerprint group's decisions (by input index), and the error that
/// stopped it, if any.
type GroupResult = (Vec<(usize, Decided)>, Option<EngineError>);

/// What the idempotency keys said of one alert of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyClaim {
    /// This process claimed the key: the alert is new to every replica.
    Claimed,
    /// Another delivery claimed it first: a duplicate.
    Taken,
    /// The backend did not answer; the fingerprint store's episode claim
    /// still keeps healing exactly-once.
    Unknown,
}

impl Engine {
    /// Takes a tenant's batch of alerts (one delivery). Each alert is
    /// processed durably and every decision comes back in input order.
    ///
    /// The store sees two transactions for the whole delivery: the
    /// delivery's idempotency keys are claimed together (one round trip to
    /// Redis); the alerts that are not duplicate deliveries converge in one
    /// transaction, which also reads the open incidents they concern; each
    /// is then evaluated (different fingerprints concurrently up to
    /// [`crate::EngineConfig::intake_concurrency`]); and what the
    /// evaluations recorded is committed in one transaction before any
    /// decision is returned. An alert that coordinates (starts a run or
    /// asks for approval) commits its own records first, and alerts whose
    /// fingerprint repeats in the delivery are processed one after the
    /// other, each on its own.
    ///
    /// On a store failure the call returns [`EngineError::Store`] with
    /// [`StoreError::Unavailable`](crate::ports::StoreError::Unavailable)
    /// and the keys of the alerts whose records are not committed are
    /// released, so the sender's retry records them; the alerts already
    /// committed are recognised as duplicates.
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
        let now = inner.now();
        rt.touch(now);
        // Each alert's fingerprint once, for its key, its group and its
        // convergence.
        let deliveries: Vec<Delivery> = alerts
            .iter()
            .map(|a| Delivery::of(&rt.policy.identity, a, now))
            .collect();
        let keys: Vec<String> = alerts
            .iter()
            .zip(&deliveries)
            .map(|(a, d)| delivery_key(a, &d.fingerprint))
            .collect();
        let claims = inner.claim_keys(tenant, &keys).await;
        let mut slots: Vec<Option<Decided>> = (0..alerts.len()).map(|_| None).collect();
        let result = inner
            .decide_delivery(&rt, &alerts, &deliveries, &claims, &mut slots, now)
            .await;
        if let Err(e) = result {
            // Let the retry through for every alert whose records are not
            // committed.
            for (i, slot) in slots.iter().enumerate() {
                let committed = matches!(slot, Some((_, None)));
                if !committed && claims[i] == KeyClaim::Claimed {
                    inner.release_key(tenant, &keys[i]).await;
                }
            }
            return Err(e);
        }
        let decisions: Vec<AlertDecision> = slots.into_iter().flatten().map(|(d, _)| d).collect();
        for d in &decisions {
            inner.metrics.inc(family::DECISIONS, d.outcome.label());
        }
        Ok(IngestReport { decisions })
    }
}

impl Inner {
    /// Decides every alert of a delivery into `slots` (by input index) and
    /// commits the records that wait for the delivery; a slot holding a
    /// draft after an error is not committed.
    async fn decide_delivery(
        self: &Arc<Self>,
        rt: &Arc<TenantRuntime>,
        alerts: &[Alert],
        deliveries: &[Delivery],
        claims: &[KeyClaim],
        slots: &mut [Option<Decided>],
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let tenant = rt.tenant();
        let decision = |i: usize, outcome| AlertDecision {
            fingerprint: deliveries[i].fingerprint.clone(),
            alertname: deliveries[i].alertname.clone(),
            status: alerts[i].status,
            outcome,
        };
        // Group the alerts that are new to every replica by fingerprint.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut group_of: HashMap<&Fingerprint, usize> = HashMap::new();
        for (i, d) in deliveries.iter().enumerate() {
            self.metrics.alert_received();
            if claims[i] == KeyClaim::Taken {
                self.metrics.duplicate_delivery();
                slots[i] = Some((decision(i, Outcome::DuplicateDelivery), None));
                continue;
            }
            let g = *group_of.entry(&d.fingerprint).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[g].push(i);
        }
        // The lone alerts of their fingerprint converge together.
        let lone: Vec<usize> = groups
            .iter()
            .filter(|g| g.len() == 1)
            .map(|g| g[0])
            .collect();
        let batch: Vec<Delivery> = lone.iter().map(|&i| deliveries[i].clone()).collect();
        let mut converged: HashMap<usize, Converged> = if batch.is_empty() {
            HashMap::new()
        } else {
            let answers = self
                .ports
                .stores
                .intake
                .converge_for_intake(tenant, &batch)
                .await?;
            lone.iter().copied().zip(answers).collect()
        };
        let work: Vec<(Vec<usize>, Option<Converged>)> = groups
            .into_iter()
            .map(|g| {
                let c = if g.len() == 1 {
                    converged.remove(&g[0])
                } else {
                    None
                };
                (g, c)
            })
            .collect();
        let concurrency = self.config.intake_concurrency.max(1);
        let results: Vec<GroupResult> = stream::iter(work.into_iter().map(|(group, converged)| {
            let inner = self.clone();
            let rt = rt.clone();
            async move {
                let mut out = Vec::with_capacity(group.len());
                let mut converged = converged;
                for i in group {
                    let (alert, delivery) = (&alerts[i], &deliveries[i]);
                    let step = match converged.take() {
                        Some(c) => {
                            inner
                                .decide_converged(&rt, alert, c, now, Commit::WithDelivery)
                                .await
                        }
                        None => inner.process_delivery(&rt, alert, delivery, now).await,
                    };
                    match step {
                        Ok((outcome, draft)) => out.push((i, (decision(i, outcome), draft))),
                        Err(e) => return (out, Some(e)),
                    }
                }
                (out, None)
            }
        }))
        .buffer_unordered(concurrency)
        .collect()
        .await;
        let mut failure = None;
        for (done, err) in results {
            for (i, d) in done {
                slots[i] = Some(d);
            }
            if failure.is_none() {
                failure = err;
            }
        }
        // The alerts that were decided keep their records even when another
        // alert of the delivery failed: their keys stay claimed, and only
        // the rest is released for the sender's retry.
        let committed = self.commit_delivery(tenant, slots).await;
        match failure {
            Some(e) => Err(e),
            None => committed,
        }
    }

    /// Commits the drafts waiting in `slots` in one transaction; on a
    /// conflict (another writer moved an incident, or a drawn id clashed)
    /// each draft is committed on its own, which resolves its conflict.
    async fn commit_delivery(
        &self,
        tenant: &TenantId,
        slots: &mut [Option<Decided>],
    ) -> Result<(), EngineError> {
        let mut waiting: Vec<&mut IntakeDraft> = slots
            .iter_mut()
            .filter_map(|s| s.as_mut().and_then(|(_, d)| d.as_mut()))
            .filter(|d| !d.is_clean())
            .collect();
        if waiting.len() > 1 {
            match self.commit_drafts_at_once(tenant, &mut waiting).await {
                Ok(()) => {}
                Err(EngineError::Store(StoreError::Conflict(_))) => {}
                Err(e) => return Err(e),
            }
        }
        // One by one what is left; a slot is marked committed as soon as
        // its draft is, so a later failure releases only the keys of the
        // alerts not recorded.
        for s in slots.iter_mut().flatten() {
            if let Some(d) = s.1.as_mut() {
                self.commit_draft(tenant, d).await?;
            }
            s.1 = None;
        }
        Ok(())
    }

    /// Claims a delivery's keys in one call; a backend that does not answer
    /// leaves every alert [`KeyClaim::Unknown`].
    async fn claim_keys(&self, tenant: &TenantId, keys: &[String]) -> Vec<KeyClaim> {
        match self
            .ports
            .idempotency
            .claim_all(tenant, keys, self.config.idempotency_ttl)
            .await
        {
            Ok(answers) if answers.len() == keys.len() => answers
                .into_iter()
                .map(|new| {
                    if new {
                        KeyClaim::Claimed
                    } else {
                        KeyClaim::Taken
                    }
                })
                .collect(),
            Ok(answers) => {
                tracing::warn!(tenant = %tenant, keys = keys.len(), answers = answers.len(), "idempotency backend answered a batch with the wrong count; continuing without it");
                vec![KeyClaim::Unknown; keys.len()]
            }
            Err(e) => {
                // Exactly-once healing does not depend on the keys: the
                // fingerprint store's episode claim still holds.
                tracing::debug!(tenant = %tenant, error = %e, "idempotency backend unavailable; continuing");
                vec![KeyClaim::Unknown; keys.len()]
            }
        }
    }

    async fn release_key(&self, tenant: &TenantId, key: &str) {
        if let Err(e) = self.ports.idempotency.release_claim(tenant, key).await {
            tracing::warn!(tenant = %tenant, error = %e, "could not release an idempotency key after a failure");
        }
    }

    /// One alert on its own: converge it, decide, commit its records.
    async fn process_delivery(
        self: &Arc<Self>,
        rt: &Arc<TenantRuntime>,
        alert: &Alert,
        delivery: &Delivery,
        now: Timestamp,
    ) -> Result<(Outcome, Option<IntakeDraft>), EngineError> {
        let converged = self
            .ports
            .stores
            .intake
            .converge_for_intake(rt.tenant(), std::slice::from_ref(delivery))
            .await?
            .pop()
            .ok_or_else(|| {
                EngineError::Store(StoreError::Unavailable(
                    "the store converged no delivery".into(),
                ))
            })?;
        self.decide_converged(rt, alert, converged, now, Commit::Now)
            .await
    }

    /// Decides one converged alert. With [`Commit::WithDelivery`] its
    /// records come back as a draft for the delivery's commit.
    async fn decide_converged(
        self: &Arc<Self>,
        rt: &Arc<TenantRuntime>,
        alert: &Alert,
        converged: Converged,
        now: Timestamp,
        commit: Commit,
    ) -> Result<(Outcome, Option<IntakeDraft>), EngineError> {
        let tenant = rt.tenant();
        let Converged {
            record,
            open_incident,
            pending_effectiveness,
        } = converged;
        match record.verdict() {
            ConvergenceVerdict::Resolved => {
                let (outcome, mut draft) = self
                    .on_resolved(
                        rt,
                        alert,
                        &record,
                        open_incident,
                        pending_effectiveness,
                        now,
                    )
                    .await;
                if let (Commit::Now, Some(d)) = (commit, draft.as_mut()) {
                    self.commit_draft(tenant, d).await?;
                    draft = None;
                }
                Ok((outcome, draft))
            }
            ConvergenceVerdict::DuplicateResolved => {
                let Some(open) = open_incident else {
                    self.metrics.inc(family::DEDUPLICATED, "resolved");
                    return Ok((Outcome::Deduplicated { claimed_by: None }, None));
                };
                // The alert is resolved, yet its incident is open: the
                // first resolve's records were lost (its delivery failed
                // after converging, and this is the sender's retry) or a
                // firing's incident landed after the resolve. Resolve it
                // now; the first resolve already settled effectiveness.
                let (outcome, mut draft) = self
                    .on_resolved(rt, alert, &record, Some(open), Vec::new(), now)
                    .await;
                if let (Commit::Now, Some(d)) = (commit, draft.as_mut()) {
                    self.commit_draft(tenant, d).await?;
                    draft = None;
                }
                Ok((outcome, draft))
            }
            ConvergenceVerdict::Duplicate { claimed: true } => {
                self.metrics.inc(family::DEDUPLICATED, "episode");
                let claim = record.claim.clone();
                if let Some(c) = &claim
                    && c.kind == hale_domain::convergence::ClaimKind::Approval
                {
                    self.bump_approval_hit(tenant, &c.id, now).await?;
                }
                let claimed_by = claim.map(|c| c.id);
                Ok((Outcome::Deduplicated { claimed_by }, None))
            }
            v @ (ConvergenceVerdict::NewEpisode
            | ConvergenceVerdict::Duplicate { claimed: false }) => {
                let new_episode = v == ConvergenceVerdict::NewEpisode;
                if new_episode {
                    // A re-fire settles the fixes that did not hold first,
                    // so a chain they complete already guards this alert.
                    self.observe_alert(rt, pending_effectiveness, Observation::Fired(now))
                        .await;
                }
                let draft =
                    self.incident_draft(rt, alert, &record, open_incident, now, new_episode);
                let ev = Evaluation::new(rt, alert, &record, draft, now);
                let outcome = self.evaluate(&ev).await?;
                match commit {
                    Commit::Now => {
                        self.commit_evaluation(&ev).await?;
                        Ok((outcome, None))
                    }
                    // A draft committed on the way (coordination) and
                    // clean since waits for nothing.
                    Commit::WithDelivery => {
                        Ok((outcome, ev.into_draft().filter(|d| !d.is_clean())))
                    }
                }
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

    /// A first resolve: the effectiveness observation, and a draft that
    /// resolves the open incident (with its signal and timeline event), if
    /// there is one.
    async fn on_resolved(
        &self,
        rt: &TenantRuntime,
        alert: &Alert,
        record: &FingerprintRecord,
        open: Option<Incident>,
        pending_effectiveness: Vec<HealingOperation>,
        now: Timestamp,
    ) -> (Outcome, Option<IntakeDraft>) {
        let tenant = rt.tenant();
        rt.forget_deferred(&record.fingerprint);
        self.observe_alert(rt, pending_effectiveness, Observation::Resolved(now))
            .await;
        let Some(open) = open else {
            return (Outcome::Resolved { incident_id: None }, None);
        };
        let mut draft = IntakeDraft::stored(open);
        draft.change(IncidentChange::Signal(Signal::of(
            alert,
            &record.fingerprint,
            now,
        )));
        draft.change(IncidentChange::Resolved { at: now });
        let mut ev = self.timeline_event(
            tenant,
            TimelineEventType::System,
            TimelineStatus::Success,
            format!("{} resolved", record.alertname),
            now,
        );
        ev.incident_id = Some(draft.incident_id().clone());
        draft.timeline(ev);
        let incident_id = Some(draft.incident_id().clone());
        (Outcome::Resolved { incident_id }, Some(draft))
    }

    /// The draft over the alert's open incident, or over a new one (with
    /// its "Alert received" timeline event) when none is open. A new
    /// episode adds its first firing to an open incident's signals.
    fn incident_draft(
        &self,
        rt: &TenantRuntime,
        alert: &Alert,
        record: &FingerprintRecord,
        open: Option<Incident>,
        now: Timestamp,
        new_episode: bool,
    ) -> IntakeDraft {
        if let Some(open) = open {
            let mut draft = IntakeDraft::stored(open);
            if new_episode {
                let signal = Signal::of(alert, &record.fingerprint, now);
                draft.change(IncidentChange::Signal(signal));
            }
            return draft;
        }
        let tenant = rt.tenant();
        let incident = Incident::open(
            self.new_incident_id(now),
            tenant.clone(),
            record.fingerprint.clone(),
            alert,
            now,
        );
        let mut ev = self.timeline_event(
            tenant,
            TimelineEventType::System,
            TimelineStatus::Warning,
            format!("Alert received: {}", incident.title),
            now,
        );
        ev.incident_id = Some(incident.id.clone());
        let mut draft = IntakeDraft::new_incident(incident);
        draft.timeline(ev);
        draft
    }
}
