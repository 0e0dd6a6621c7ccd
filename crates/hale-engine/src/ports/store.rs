//! Durable stores (seed 003's tables), one port per concept.
//!
//! Common contract, checked by `hale_testkit::conformance::stores` against
//! every adapter:
//!
//! * **Tenancy.** Every record carries its tenant; every read takes one. A
//!   read for tenant A never returns tenant B's rows (an id of B's reads as
//!   absent), and no write for A can change B's rows.
//! * **Durability.** `Ok` means committed: it survives a crash of the
//!   process and of the connection.
//! * **Atomic pairs.** Writes that belong together take both records and
//!   commit them together or not at all: an operation's state change and its
//!   audit entry; an approval decision and its timeline event; an approval,
//!   incident or audit entry and the notice it carries (see
//!   [`super::outbox`]); a knowledge entry or timeline event and the audit
//!   entries it causes ([`KnowledgeStore::create_knowledge_audited`],
//!   [`TimelineStore::append_timeline_audited`]).
//! * **Optimistic concurrency.** Approvals, incidents and operations carry a
//!   `revision`. `update` succeeds only if the stored revision equals the
//!   record's, stores `revision + 1`, and returns it; otherwise `Conflict`.
//! * **Time.** Timestamps are stored in UTC with microsecond precision and
//!   read back equal.
//! * **Errors.** `NotFound` for updates of absent rows, `Conflict` for
//!   duplicate ids and stale revisions, `Invalid` for values the store
//!   cannot hold (never a panic), `Unavailable` when the backend cannot be
//!   reached or times out (bounded; the server answers 503 and Alertmanager
//!   retries).
//! * **Lists** are newest first (creation time, then id, descending) and
//!   paginated by limit/offset; `limit` is clamped to [`PageRequest::MAX_LIMIT`].

use std::sync::Arc;

use async_trait::async_trait;
use hale_domain::anti_pattern::SymptomsHash;
use hale_domain::approval::{ApprovalRequest, ApprovalStatus};
use hale_domain::convergence::{Delivery, EpisodeClaim, Fingerprint, FingerprintRecord};
use hale_domain::effectiveness::EffectivenessTally;
use hale_domain::healing::{HealingOperation, HealingState};
use hale_domain::record::audit::AuditEntry;
use hale_domain::record::incident::{Incident, IncidentStatus};
use hale_domain::record::knowledge::{EntryStatus, EntryType, KnowledgeEntry};
use hale_domain::record::timeline::{TimelineEvent, TimelineEventType};
use hale_domain::{
    ApprovalId, AuthorizationChannel, IncidentId, KnowledgeId, OperationId, ResourceRef, Severity,
    SourceSystem, StrategyId, TenantId, Timestamp,
};
use serde::{Deserialize, Serialize};

use super::{IntakeStore, NotificationOutbox, SafetyStore};

// === Errors and paging ===

/// Store errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The row to update does not exist (for this tenant).
    #[error("not found: {0}")]
    NotFound(String),
    /// Duplicate id, or a stale revision / lost compare-and-set.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A value the store cannot hold (too long, wrong tenant pairing, ...).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The backend cannot be reached or timed out.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// A page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// Rows wanted (clamped to `1..=MAX_LIMIT`).
    pub limit: u32,
    /// Rows to skip.
    pub offset: u64,
}

impl PageRequest {
    /// The largest page.
    pub const MAX_LIMIT: u32 = 1000;

    /// A page of `limit` rows from `offset`.
    pub fn new(limit: u32, offset: u64) -> Self {
        PageRequest { limit, offset }
    }

    /// The limit clamped to `1..=MAX_LIMIT`.
    pub fn clamped_limit(&self) -> u32 {
        self.limit.clamp(1, Self::MAX_LIMIT)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            limit: 50,
            offset: 0,
        }
    }
}

/// A page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// The offset of the next page, if there may be more rows.
    pub next_offset: Option<u64>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only
    /// signals that another page exists.
    pub fn from_overfetch(mut rows: Vec<T>, page: PageRequest) -> Page<T> {
        let limit = page.clamped_limit() as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        Page {
            next_offset: more.then(|| page.offset + limit as u64),
            items: rows,
        }
    }
}

// === Filters ===

/// Approval list filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalFilter {
    /// Only this status.
    pub status: Option<ApprovalStatus>,
    /// Only this resource.
    pub resource: Option<ResourceRef>,
    /// Paging.
    pub page: PageRequest,
}

/// Audit list filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this operation type (exact), e.g. `healing.deferred`.
    pub operation_type: Option<String>,
    /// Only entries about this operation.
    pub operation_id: Option<OperationId>,
    /// Only entries about this approval.
    pub approval_id: Option<ApprovalId>,
    /// Only entries about this incident.
    pub incident_id: Option<IncidentId>,
    /// Only this source system.
    pub source_system: Option<SourceSystem>,
    /// Only this channel.
    pub authorization_channel: Option<AuthorizationChannel>,
    /// Only successes / failures.
    pub success: Option<bool>,
    /// Created at or after.
    pub since: Option<Timestamp>,
    /// Created before.
    pub until: Option<Timestamp>,
    /// Paging.
    pub page: PageRequest,
}

/// Incident list filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// Only this status.
    pub status: Option<IncidentStatus>,
    /// Only this severity.
    pub severity: Option<Severity>,
    /// Created at or after.
    pub since: Option<Timestamp>,
    /// Created before.
    pub until: Option<Timestamp>,
    /// Paging.
    pub page: PageRequest,
}

/// Timeline list filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineFilter {
    /// Only events of this incident.
    pub incident_id: Option<IncidentId>,
    /// Only events of this operation.
    pub operation_id: Option<OperationId>,
    /// Only events of this approval.
    pub approval_id: Option<ApprovalId>,
    /// Only this type.
    pub event_type: Option<TimelineEventType>,
    /// Created at or after.
    pub since: Option<Timestamp>,
    /// Created before.
    pub until: Option<Timestamp>,
    /// Paging.
    pub page: PageRequest,
}

/// Knowledge list filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnowledgeFilter {
    /// Only this type.
    pub entry_type: Option<EntryType>,
    /// Only this status.
    pub status: Option<EntryStatus>,
    /// Only this symptom hash.
    pub symptoms_hash: Option<SymptomsHash>,
    /// Paging.
    pub page: PageRequest,
}

/// Operation list filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationFilter {
    /// Only this state.
    pub state: Option<HealingState>,
    /// Only this strategy.
    pub strategy_id: Option<StrategyId>,
    /// Only this resource.
    pub resource: Option<ResourceRef>,
    /// Started at or after.
    pub since: Option<Timestamp>,
    /// Started before.
    pub until: Option<Timestamp>,
    /// Paging.
    pub page: PageRequest,
}

// === Ports ===

/// Checks that the audit entries a record of `tenant` causes are the
/// tenant's: `Invalid` otherwise, before anything is written (a record
/// cannot audit another tenant's log).
pub fn caused_by(tenant: &TenantId, audit: &[AuditEntry]) -> Result<(), StoreError> {
    match audit.iter().find(|a| &a.tenant != tenant) {
        None => Ok(()),
        Some(a) => Err(StoreError::Invalid(format!(
            "a record of tenant {tenant} cannot carry audit entry {} of tenant {}",
            a.id, a.tenant
        ))),
    }
}

/// Approval requests (seed 003 `approval_records`).
#[async_trait]
pub trait ApprovalStore: Send + Sync {
    /// Inserts a new request and its timeline event atomically. `Conflict`
    /// if the id exists; `Invalid` if the event's tenant differs.
    async fn create_approval(
        &self,
        approval: &ApprovalRequest,
        event: &TimelineEvent,
    ) -> Result<(), StoreError>;

    /// One request.
    async fn get_approval(
        &self,
        tenant: &TenantId,
        id: &ApprovalId,
    ) -> Result<Option<ApprovalRequest>, StoreError>;

    /// Requests, newest first.
    async fn list_approvals(
        &self,
        tenant: &TenantId,
        filter: &ApprovalFilter,
    ) -> Result<Page<ApprovalRequest>, StoreError>;

    /// The pending request for a resource, if any (the oldest if several).
    async fn pending_approval_for(
        &self,
        tenant: &TenantId,
        resource: &ResourceRef,
    ) -> Result<Option<ApprovalRequest>, StoreError>;

    /// Replaces a request (revision CAS) and appends its timeline event, in
    /// one transaction. Returns the new revision.
    async fn update_approval(
        &self,
        approval: &ApprovalRequest,
        event: Option<&TimelineEvent>,
    ) -> Result<u64, StoreError>;

    /// Pending requests whose expiry is at or before `now`, oldest first.
    async fn approvals_due_for_expiry(
        &self,
        tenant: &TenantId,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<ApprovalRequest>, StoreError>;
}

/// The audit log (append-only).
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends an entry. `Conflict` if the id exists.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// Entries, newest first.
    async fn list_audit(
        &self,
        tenant: &TenantId,
        filter: &AuditFilter,
    ) -> Result<Page<AuditEntry>, StoreError>;
}

/// Incidents (seed 003 `incidents`), durable from the first alert.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Inserts an incident. `Conflict` if the id exists.
    async fn create_incident(&self, incident: &Incident) -> Result<(), StoreError>;

    /// One incident.
    async fn get_incident(
        &self,
        tenant: &TenantId,
        id: &IncidentId,
    ) -> Result<Option<Incident>, StoreError>;

    /// The newest open (investigating, mitigating, escalated) incident for a
    /// fingerprint.
    async fn open_incident_for(
        &self,
        tenant: &TenantId,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Incident>, StoreError>;

    /// Incidents, newest first.
    async fn list_incidents(
        &self,
        tenant: &TenantId,
        filter: &IncidentFilter,
    ) -> Result<Page<Incident>, StoreError>;

    /// Replaces an incident (revision CAS). Returns the new revision.
    async fn update_incident(&self, incident: &Incident) -> Result<u64, StoreError>;
}

/// Timeline events (append-only).
#[async_trait]
pub trait TimelineStore: Send + Sync {
    /// Appends an event. `Conflict` if the id exists.
    async fn append_timeline(&self, event: &TimelineEvent) -> Result<(), StoreError> {
        self.append_timeline_audited(event, &[]).await
    }

    /// Appends an event together with the audit entries it causes (a
    /// regression's `regression.escalated`), each with the notice it
    /// carries, in one transaction: after a crash there is the event with
    /// its entries and notices, or none of them. `Conflict` if the event's
    /// id or an entry's id exists; `Invalid` if an entry belongs to another
    /// tenant than the event ([`caused_by`]); then nothing was written. A
    /// notice whose id is already stored is skipped.
    async fn append_timeline_audited(
        &self,
        event: &TimelineEvent,
        audit: &[AuditEntry],
    ) -> Result<(), StoreError>;

    /// Events, newest first.
    async fn list_timeline(
        &self,
        tenant: &TenantId,
        filter: &TimelineFilter,
    ) -> Result<Page<TimelineEvent>, StoreError>;
}

/// Knowledge entries, including anti-patterns.
#[async_trait]
pub trait KnowledgeStore: Send + Sync {
    /// Inserts an entry. `Conflict` if the id exists.
    async fn create_knowledge(&self, entry: &KnowledgeEntry) -> Result<(), StoreError> {
        self.create_knowledge_audited(entry, &[]).await
    }

    /// Inserts an entry together with the audit entries it causes (the
    /// `ineffective_chain.escalated` of the anti-pattern that blocks a
    /// strategy), each with the notice it carries, in one transaction:
    /// after a crash there is the entry with its audit entries and notices,
    /// or none of them. `Conflict` if the entry's id or an audit entry's id
    /// exists; `Invalid` if an audit entry belongs to another tenant than
    /// the entry ([`caused_by`]); then nothing was written. A notice whose
    /// id is already stored is skipped.
    async fn create_knowledge_audited(
        &self,
        entry: &KnowledgeEntry,
        audit: &[AuditEntry],
    ) -> Result<(), StoreError>;

    /// One entry.
    async fn get_knowledge(
        &self,
        tenant: &TenantId,
        id: &KnowledgeId,
    ) -> Result<Option<KnowledgeEntry>, StoreError>;

    /// Entries, newest first.
    async fn list_knowledge(
        &self,
        tenant: &TenantId,
        filter: &KnowledgeFilter,
    ) -> Result<Page<KnowledgeEntry>, StoreError>;

    /// Replaces an entry (last writer wins; `NotFound` if absent).
    async fn update_knowledge(&self, entry: &KnowledgeEntry) -> Result<(), StoreError>;

    /// Anti-pattern entries for a symptom hash that are not archived.
    async fn active_anti_patterns(
        &self,
        tenant: &TenantId,
        symptoms: &SymptomsHash,
    ) -> Result<Vec<KnowledgeEntry>, StoreError>;

    /// Increments an entry's view count (atomic); `NotFound` if absent.
    async fn record_knowledge_view(
        &self,
        tenant: &TenantId,
        id: &KnowledgeId,
    ) -> Result<(), StoreError>;
}

/// Healing operations with their action logs.
#[async_trait]
pub trait OperationStore: Send + Sync {
    /// Inserts a new operation and its audit entry atomically. `Conflict` if
    /// the id exists.
    async fn create_operation(
        &self,
        op: &HealingOperation,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// One operation.
    async fn get_operation(
        &self,
        tenant: &TenantId,
        id: &OperationId,
    ) -> Result<Option<HealingOperation>, StoreError>;

    /// Operations, newest first (by start time).
    async fn list_operations(
        &self,
        tenant: &TenantId,
        filter: &OperationFilter,
    ) -> Result<Page<HealingOperation>, StoreError>;

    /// Replaces an operation (revision CAS) together with the audit entries
    /// the change causes (none, one, or the step and the escalation it
    /// leads to), each with its notice, in one transaction. Returns the new
    /// revision. `Conflict` on a stale revision or an audit id the log
    /// already holds, `Invalid` for an entry of another tenant; either
    /// way nothing is written.
    async fn update_operation(
        &self,
        op: &HealingOperation,
        audit: &[AuditEntry],
    ) -> Result<u64, StoreError>;

    /// How many operations the tenant started, completed and failed (the
    /// status page's counters, the same on every replica).
    async fn operation_counts(&self, tenant: &TenantId) -> Result<HealingCounters, StoreError>;

    /// How the tenant's completed operations fared, per strategy: how many
    /// are pending, effective and ineffective (operations without an
    /// effectiveness are not counted), ordered by strategy id. The status
    /// page's counts, the same on every replica.
    async fn effectiveness_tally(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(StrategyId, EffectivenessTally)>, StoreError>;

    /// Operations not in a terminal state (for crash recovery), oldest first.
    async fn unfinished_operations(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<HealingOperation>, StoreError>;

    /// Operations whose effectiveness is still `pending` (completed, waiting
    /// for their alert to resolve and stay resolved), oldest completion
    /// first; with `fingerprint`, only the operations started for that
    /// alert (intake asks on every new episode and resolve, so the filter
    /// belongs in the store, not in a scan of every pending operation).
    async fn pending_effectiveness(
        &self,
        tenant: &TenantId,
        fingerprint: Option<&Fingerprint>,
    ) -> Result<Vec<HealingOperation>, StoreError>;
}

/// Alert fingerprints (storm convergence).
#[async_trait]
pub trait FingerprintStore: Send + Sync {
    /// Applies one delivery as a single atomic upsert with exactly the
    /// semantics of [`hale_domain::convergence::converge`], and returns the
    /// record after it. N concurrent deliveries of one fingerprint leave one
    /// row with `hit_count` N.
    async fn converge(
        &self,
        tenant: &TenantId,
        delivery: &Delivery,
    ) -> Result<FingerprintRecord, StoreError>;

    /// Claims `episode` if it is still current, firing and unclaimed
    /// (compare-and-set). Returns whether this call took the claim.
    async fn claim_episode(
        &self,
        tenant: &TenantId,
        fingerprint: &Fingerprint,
        episode: u64,
        claim: &EpisodeClaim,
    ) -> Result<bool, StoreError>;

    /// Drops a claim made by `claim_id` on `episode` (undo after a failed
    /// start). Returns whether a claim was dropped.
    async fn release_episode_claim(
        &self,
        tenant: &TenantId,
        fingerprint: &Fingerprint,
        episode: u64,
        claim_id: &str,
    ) -> Result<bool, StoreError>;

    /// One record.
    async fn get_fingerprint(
        &self,
        tenant: &TenantId,
        fingerprint: &Fingerprint,
    ) -> Result<Option<FingerprintRecord>, StoreError>;

    /// Records, most recently seen first.
    async fn list_fingerprints(
        &self,
        tenant: &TenantId,
        page: PageRequest,
    ) -> Result<Page<FingerprintRecord>, StoreError>;
}

pub use hale_domain::safety::HealingCounters;

/// Readiness of the store backend.
#[async_trait]
pub trait StoreHealth: Send + Sync {
    /// Answers `Ok` when the backend takes queries now.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Every store port, as trait objects. Most adapters implement all of them
/// on one type; [`Stores::from_adapter`] wires such a type in one call.
#[derive(Clone)]
pub struct Stores {
    /// Approvals.
    pub approvals: Arc<dyn ApprovalStore>,
    /// Audit log.
    pub audit: Arc<dyn AuditLog>,
    /// Incidents.
    pub incidents: Arc<dyn IncidentStore>,
    /// Timeline.
    pub timeline: Arc<dyn TimelineStore>,
    /// Knowledge.
    pub knowledge: Arc<dyn KnowledgeStore>,
    /// Operations.
    pub operations: Arc<dyn OperationStore>,
    /// Fingerprints.
    pub fingerprints: Arc<dyn FingerprintStore>,
    /// Intake's combined reads and writes.
    pub intake: Arc<dyn IntakeStore>,
    /// The shared safety state.
    pub safety: Arc<dyn SafetyStore>,
    /// The notification outbox.
    pub outbox: Arc<dyn NotificationOutbox>,
    /// Readiness.
    pub health: Arc<dyn StoreHealth>,
}

/// A type that implements every store port.
pub trait StoreAdapter:
    ApprovalStore
    + AuditLog
    + IncidentStore
    + TimelineStore
    + KnowledgeStore
    + OperationStore
    + FingerprintStore
    + IntakeStore
    + SafetyStore
    + NotificationOutbox
    + StoreHealth
    + 'static
{
}

impl<T> StoreAdapter for T where
    T: ApprovalStore
        + AuditLog
        + IncidentStore
        + TimelineStore
        + KnowledgeStore
        + OperationStore
        + FingerprintStore
        + IntakeStore
        + SafetyStore
        + NotificationOutbox
        + StoreHealth
        + 'static
{
}

impl Stores {
    /// Wires one adapter as every store.
    pub fn from_adapter<S: StoreAdapter>(adapter: Arc<S>) -> Stores {
        Stores {
            approvals: adapter.clone(),
            audit: adapter.clone(),
            incidents: adapter.clone(),
            timeline: adapter.clone(),
            knowledge: adapter.clone(),
            operations: adapter.clone(),
            fingerprints: adapter.clone(),
            intake: adapter.clone(),
            safety: adapter.clone(),
            outbox: adapter.clone(),
            health: adapter,
        }
    }
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
}
