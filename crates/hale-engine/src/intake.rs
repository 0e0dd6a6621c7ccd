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
use crate::ports::Converged;
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

/// One fingerprint group's decisions (by input index), and the error that
/// stopped it, if any.
type GroupResult = (Vec<(usize, AlertDecision)>, Option<EngineError>);

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
    /// Takes a tenant's batch of alerts. Each alert is processed durably;
    /// alerts with the same fingerprint in order, different fingerprints
    /// concurrently up to [`crate::EngineConfig::intake_concurrency`]. The
    /// decisions come back in input order. The batch's idempotency keys are
    /// claimed together first (one round trip to Redis). On a store failure
    /// the call returns [`EngineError::Store`] with
    /// [`StoreError::Unavailable`](crate::ports::StoreError::Unavailable),
    /// the keys of the alerts not processed are released, and the alerts
    /// already processed are recognised as duplicates when the sender
    /// retries the batch.
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
        // Each alert's fingerprint once, for its key and its group.
        let fingerprints: Vec<Fingerprint> = alerts
            .iter()
            .map(|a| rt.policy.identity.fingerprint(a))
            .collect();
        let keys: Vec<String> = alerts
            .iter()
            .zip(&fingerprints)
            .map(|(a, fp)| delivery_key(a, fp))
            .collect();
        let claims = inner.claim_keys(tenant, &keys).await;
        let n = alerts.len();
        let concurrency = inner.config.intake_concurrency.max(1);
        let mut slots: Vec<Option<AlertDecision>> = (0..n).map(|_| None).collect();
        let mut failure = None;
        if concurrency == 1 || n < 2 {
            for (i, alert) in alerts.into_iter().enumerate() {
                match inner.process_alert(&rt, alert, claims[i]).await {
                    Ok(d) => slots[i] = Some(d),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
        } else {
            // Group by fingerprint: one group's alerts run in order (HA
            // duplicates of one alert stay a duplicate of the first),
            // groups run side by side.
            let mut groups: Vec<Vec<(usize, Alert)>> = Vec::new();
            let mut group_of: HashMap<Fingerprint, usize> = HashMap::new();
            for ((i, alert), fp) in alerts.into_iter().enumerate().zip(fingerprints) {
                let g = *group_of.entry(fp).or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
                groups[g].push((i, alert));
            }
            let claims = &claims;
            let results: Vec<GroupResult> = stream::iter(groups.into_iter().map(|group| {
                let inner = inner.clone();
                let rt = rt.clone();
                async move {
                    let mut out = Vec::with_capacity(group.len());
                    for (i, alert) in group {
                        match inner.process_alert(&rt, alert, claims[i]).await {
                            Ok(d) => out.push((i, d)),
                            Err(e) => return (out, Some(e)),
                        }
                    }
                    (out, None)
                }
            }))
            .buffer_unordered(concurrency)
            .collect()
            .await;
            for (done, err) in results {
                for (i, d) in done {
                    slots[i] = Some(d);
                }
                if failure.is_none() {
                    failure = err;
                }
            }
        }
        if let Some(e) = failure {
            // Let the retry through for every alert without a decision.
            for (i, slot) in slots.iter().enumerate() {
                if slot.is_none() && claims[i] == KeyClaim::Claimed {
                    inner.release_key(tenant, &keys[i]).await;
                }
            }
            return Err(e);
        }
        Ok(IngestReport {
            decisions: slots.into_iter().flatten().collect(),
        })
    }
}

impl Inner {
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

    async fn process_alert(
        self: &Arc<Self>,
        rt: &Arc<TenantRuntime>,
        alert: Alert,
        claim: KeyClaim,
    ) -> Result<AlertDecision, EngineError> {
        self.metrics.alert_received();
        let now = self.now();
        rt.touch(now);
        let delivery = Delivery::of(&rt.policy.identity, &alert, now);
        let decision = |outcome| AlertDecision {
            fingerprint: delivery.fingerprint.clone(),
            alertname: delivery.alertname.clone(),
            status: alert.status,
            outcome,
        };
        if claim == KeyClaim::Taken {
            self.metrics.duplicate_delivery();
            self.metrics.inc(family::DECISIONS, "duplicate_delivery");
            return Ok(decision(Outcome::DuplicateDelivery));
        }
        let outcome = self.process_delivery(rt, &alert, &delivery, now).await?;
        self.metrics.inc(family::DECISIONS, outcome.label());
        Ok(decision(outcome))
    }

    async fn process_delivery(
        self: &Arc<Self>,
        rt: &Arc<TenantRuntime>,
        alert: &Alert,
        delivery: &Delivery,
        now: Timestamp,
    ) -> Result<Outcome, EngineError> {
        let tenant = rt.tenant();
        let Converged {
            record,
            open_incident,
        } = self
            .ports
            .stores
            .intake
            .converge_for_intake(tenant, delivery)
            .await?;
        match record.verdict() {
            ConvergenceVerdict::Resolved => {
                self.on_resolved(rt, alert, &record, open_incident, now)
                    .await
            }
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
                let new_episode = v == ConvergenceVerdict::NewEpisode;
                if new_episode {
                    // A re-fire settles the fixes that did not hold first,
                    // so a chain they complete already guards this alert.
                    self.observe_alert(rt, &record.fingerprint, Observation::Fired(now))
                        .await;
                }
                let draft =
                    self.incident_draft(rt, alert, &record, open_incident, now, new_episode);
                let ev = Evaluation::new(rt, alert, &record, draft, now);
                self.evaluate_and_commit(&ev).await
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
        open: Option<Incident>,
        now: Timestamp,
    ) -> Result<Outcome, EngineError> {
        let tenant = rt.tenant();
        rt.forget_deferred(&record.fingerprint);
        self.observe_alert(rt, &record.fingerprint, Observation::Resolved(now))
            .await;
        let Some(open) = open else {
            return Ok(Outcome::Resolved { incident_id: None });
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
        self.commit_draft(tenant, &mut draft).await?;
        Ok(Outcome::Resolved {
            incident_id: Some(draft.incident_id().clone()),
        })
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
