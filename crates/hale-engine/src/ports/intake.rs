//! Durable intake in as few transactions as the guarantees allow: what a
//! delivery's alerts read and write, beyond their idempotency keys, in two
//! transactions per delivery.
//!
//! 1. [`IntakeStore::converge_for_intake`]: each alert's convergence
//!    (exactly [`super::FingerprintStore::converge`], in order) and, when
//!    the verdict concerns an incident
//!    ([`ConvergenceVerdict::concerns_incident`](hale_domain::convergence::ConvergenceVerdict::concerns_incident)),
//!    the fingerprint's open incident, and, for a first resolve or a new
//!    episode, its operations waiting for an effectiveness verdict, read in
//!    the same transaction.
//! 2. [`IntakeStore::commit_intake`]: everything the alerts' evaluations
//!    recorded (incidents created or changed, timeline events, audit
//!    entries, and the notices they carry) committed together or not at all.
//!
//! Why two and not one: between them the engine evaluates the alerts, which
//! asks Redis, the safety state and possibly an Alertmanager; holding the
//! fingerprint rows locked across that would serialize every other
//! replica's deliveries of the same alerts behind it.
//!
//! Error contract: as every store port (see [`super::store`]). In
//! particular `commit_intake` answers `Conflict` (and writes nothing) when
//! a created incident's id exists or a changed incident's revision is
//! stale, and `Unavailable` when the backend is down: nothing of the write
//! is then visible, so the sender's retry records it whole.

use async_trait::async_trait;
use hale_domain::TenantId;
use hale_domain::convergence::{Delivery, FingerprintRecord};
use hale_domain::healing::HealingOperation;
use hale_domain::record::audit::AuditEntry;
use hale_domain::record::incident::Incident;
use hale_domain::record::timeline::TimelineEvent;

use super::StoreError;

/// A converged delivery and the incident it concerns.
#[derive(Debug, Clone, PartialEq)]
pub struct Converged {
    /// The fingerprint after the delivery.
    pub record: FingerprintRecord,
    /// The fingerprint's newest open incident, read only when the record's
    /// verdict concerns an incident (otherwise `None`).
    pub open_incident: Option<Incident>,
    /// The fingerprint's operations waiting for an effectiveness verdict
    /// (as [`super::OperationStore::pending_effectiveness`] for the
    /// fingerprint, oldest completion first), read only when the verdict
    /// observes effectiveness
    /// ([`ConvergenceVerdict::observes_effectiveness`](hale_domain::convergence::ConvergenceVerdict::observes_effectiveness);
    /// otherwise empty).
    pub pending_effectiveness: Vec<HealingOperation>,
}

/// How a write touches the incident.
#[derive(Debug, Clone, PartialEq)]
pub enum IncidentWrite {
    /// Insert it (`Conflict` if its id exists).
    Create(Incident),
    /// Replace it if the stored revision is still `incident.revision`
    /// (`Conflict` otherwise); the stored revision becomes `revision + 1`.
    Update(Incident),
}

impl IncidentWrite {
    /// The incident written.
    pub fn incident(&self) -> &Incident {
        match self {
            IncidentWrite::Create(i) | IncidentWrite::Update(i) => i,
        }
    }
}

/// What one alert's evaluation recorded, committed in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct IntakeWrite {
    /// The incident, if it changed.
    pub incident: Option<IncidentWrite>,
    /// Timeline events to append.
    pub timeline: Vec<TimelineEvent>,
    /// Audit entries to append.
    pub audit: Vec<AuditEntry>,
}

impl IntakeWrite {
    /// `Invalid`, naming the record, when a record of the write belongs to
    /// a tenant other than `tenant` (adapters check before writing).
    pub fn check_tenant(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let owners = self
            .incident
            .iter()
            .map(|w| ("the incident", &w.incident().tenant))
            .chain(
                self.timeline
                    .iter()
                    .map(|e| ("a timeline event", &e.tenant)),
            )
            .chain(self.audit.iter().map(|a| ("an audit entry", &a.tenant)));
        for (what, owner) in owners {
            if owner != tenant {
                return Err(StoreError::Invalid(format!(
                    "{what} of the intake write belongs to tenant {owner}, not {tenant}"
                )));
            }
        }
        Ok(())
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.incident.is_none() && self.timeline.is_empty() && self.audit.is_empty()
    }
}

/// The intake's two calls, each over a whole delivery. Each adapter runs
/// each call in one transaction; the conformance suite checks that they
/// equal the single-record calls applied in order and that a failing
/// commit leaves nothing behind.
#[async_trait]
pub trait IntakeStore: Send + Sync {
    /// Converges each delivery in order (exactly as
    /// [`super::FingerprintStore::converge`] one after the other) and reads
    /// the open incident each one concerns, in one transaction. Returns one
    /// [`Converged`] per delivery, in the same order.
    async fn converge_for_intake(
        &self,
        tenant: &TenantId,
        deliveries: &[Delivery],
    ) -> Result<Vec<Converged>, StoreError>;

    /// Commits every write (all records of `tenant`), in order, all or
    /// nothing. Returns, per write, the incident's stored revision after
    /// it, if the write has an incident.
    async fn commit_intake(
        &self,
        tenant: &TenantId,
        writes: &[IntakeWrite],
    ) -> Result<Vec<Option<u64>>, StoreError>;
}
