//! The shared safety state: kill switches, dormancy, backoff, attempt
//! ledgers and breaker latches as versioned records that every replica
//! reads and changes through the store.
//!
//! Contract, checked by `hale_testkit::conformance::stores` against every
//! adapter:
//!
//! * **Scopes.** Records belong to the platform or to one tenant. A tenant's
//!   records are invisible to every other tenant (as every store row is).
//! * **Epochs.** Each scope has an epoch: 0 before its first write, then
//!   one more for every update that writes to the scope. A record's
//!   `version` is the epoch of the update that last wrote it, so
//!   [`SafetyStore::safety_records`] with `since = e` returns exactly the
//!   records written after epoch `e`, and a replica that polls
//!   [`SafetyStore::safety_epochs`] learns of every change.
//! * **Atomic updates, nothing lost.** [`SafetyStore::update_safety`] runs
//!   the caller's pure `update` function on the current records (the
//!   platform's, and the tenant's when the scope is a tenant) while no
//!   other update of the scope can run, then writes what it returns, all in
//!   one transaction. Updates of one scope are serialized; an update of a
//!   tenant sees the platform records as they are at its commit (platform
//!   updates wait for it). N concurrent updates that each add one to a
//!   counter end at N. `update` is called once per successful update; an
//!   update that writes nothing leaves the epoch alone.
//! * **Pruning spent ledgers.** [`SafetyStore::prune_ledgers`] deletes a
//!   tenant's attempt ledgers, each only while its version is still the one
//!   the caller read: a ledger rewritten meanwhile (a new attempt on the
//!   target) survives. It touches ledgers only (never switches, dormancy,
//!   backoff or breakers), only the tenant's, and does not move the epoch:
//!   the caller deletes only *spent* ledgers
//!   ([`hale_domain::safety::ledger_prunable`]), which decide what an absent
//!   ledger decides, so no replica has anything to learn from the deletion
//!   and `safety_records(since)` never reports it. A replica that still
//!   holds a deleted ledger in its copy decides as it would without it; a
//!   later write of the same key carries a version above the scope's epoch
//!   at the deletion, so every replica takes it. Deleting is idempotent: a
//!   deleted ledger is absent, and an absent ledger matches no version.
//! * **The change and its record, together.**
//!   [`SafetyStore::update_safety_audited`] is the same update whose
//!   function also returns the [`SafetyTrail`] the change leaves: the audit
//!   entries that record it (each with the notice it carries,
//!   [`Notice::for_audit`]) and notices of their own (the platform's notice
//!   of a global act). They are written in the update's transaction: after
//!   a crash there is either the change with its audit entries and notices,
//!   or none of them. The trail is written even when no record changes (an
//!   act that found the state as asked is still audited); the epoch moves
//!   only with records. A platform update may carry any tenant's entries
//!   (a global act is audited in every tenant's log); a tenant update only
//!   its tenant's.
//! * **Errors.** `Unavailable` when the backend cannot be reached or times
//!   out: then nothing was written (for a prune: nothing was deleted, or
//!   everything it reports; a retry is safe). `Conflict` when an audit
//!   entry of the trail has an id the tenant's log already holds, `Invalid`
//!   when the trail holds an entry or notice of a tenant a tenant update is
//!   not for: then nothing was written either, neither records nor trail.
//!   A notice whose id is already stored is skipped, as every carried
//!   notice is.

use async_trait::async_trait;
use hale_domain::TenantId;
use hale_domain::notification::Notice;
use hale_domain::record::audit::AuditEntry;
use hale_domain::safety::{LedgerKey, SafetyKey, SafetyValue};

use super::StoreError;

/// Whose records.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SafetyScope {
    /// The platform (global switches, global dormancy).
    Platform,
    /// One tenant.
    Tenant(TenantId),
}

impl std::fmt::Display for SafetyScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SafetyScope::Platform => f.write_str("platform"),
            SafetyScope::Tenant(t) => write!(f, "tenant:{t}"),
        }
    }
}

/// One record with its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetyRecord {
    /// The key within its scope.
    pub key: SafetyKey,
    /// The epoch of the update that last wrote it (>= 1).
    pub version: u64,
    /// The value.
    pub value: SafetyValue,
}

/// Records of one scope, with the scope's epoch when they were read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SafetyRecords {
    /// The scope's epoch.
    pub epoch: u64,
    /// The records read.
    pub records: Vec<SafetyRecord>,
}

impl SafetyRecords {
    /// The records as (key, value) pairs.
    pub fn values(&self) -> impl Iterator<Item = (SafetyKey, SafetyValue)> + '_ {
        self.records
            .iter()
            .map(|r| (r.key.clone(), r.value.clone()))
    }
}

/// Which attempt ledgers an update of a tenant loads besides every other
/// record of the tenant (a tenant may have many ledgers; most updates need
/// one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ledgers<'a> {
    /// None.
    None,
    /// These.
    Only(&'a [LedgerKey]),
    /// Every one (a resume clears them all).
    All,
}

/// What an update function sees.
#[derive(Debug, Clone, Copy)]
pub struct SafetyView<'a> {
    /// The platform's records.
    pub platform: &'a SafetyRecords,
    /// The tenant's records (every record but the ledgers not asked for),
    /// when the update's scope is a tenant.
    pub tenant: Option<&'a SafetyRecords>,
}

/// The caller's update: a pure function of the current records that returns
/// the records to write (an empty list writes nothing). It runs inside the
/// store's transaction, so it must not block or do IO.
pub type SafetyUpdate<'a> =
    &'a mut (dyn FnMut(SafetyView<'_>) -> Vec<(SafetyKey, SafetyValue)> + Send);

/// What a safety change leaves in the record besides the safety records:
/// written in the same transaction as them (see the module docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SafetyTrail {
    /// The audit entries that record the change, each with the notice it
    /// carries.
    pub audit: Vec<AuditEntry>,
    /// Notices of their own (the platform's notice of a global act).
    pub notices: Vec<Notice>,
}

impl SafetyTrail {
    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.audit.is_empty() && self.notices.is_empty()
    }

    /// Whether every entry and notice belongs to the update's scope: any
    /// tenant's for the platform (a global act is audited in every
    /// tenant's log), only the tenant's own for a tenant.
    pub fn fits(&self, scope: &SafetyScope) -> Result<(), StoreError> {
        let SafetyScope::Tenant(t) = scope else {
            return Ok(());
        };
        let stray = self
            .audit
            .iter()
            .map(|a| Some(&a.tenant))
            .chain(self.notices.iter().map(|n| n.tenant.as_ref()))
            .find(|owner| *owner != Some(t));
        match stray {
            None => Ok(()),
            Some(owner) => Err(StoreError::Invalid(format!(
                "an update of tenant {t} cannot record for {}",
                owner.map_or("the platform".to_owned(), |o| format!("tenant {o}"))
            ))),
        }
    }
}

/// What an audited update's function returns: the records to write and the
/// trail that records the change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SafetyChange {
    /// The records to write (none: the epoch stays).
    pub records: Vec<(SafetyKey, SafetyValue)>,
    /// The audit entries and notices written with them.
    pub trail: SafetyTrail,
}

/// The caller's audited update: as [`SafetyUpdate`], returning the trail
/// with the records. It runs inside the store's transaction, so it must not
/// block or do IO; it may run again on a retry, so it builds the trail from
/// what it decided on the records it was given.
pub type AuditedSafetyUpdate<'a> = &'a mut (dyn FnMut(SafetyView<'_>) -> SafetyChange + Send);

/// What an update did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SafetyUpdated {
    /// The platform's records the update saw.
    pub platform: SafetyRecords,
    /// The tenant's records the update saw (empty for a platform update).
    pub tenant: SafetyRecords,
    /// The records written, with their new version; the scope's epoch is
    /// their version (unchanged when nothing was written).
    pub written: Vec<SafetyRecord>,
    /// The updated scope's epoch after the update.
    pub epoch: u64,
}

/// The shared safety state (see the module docs for the contract).
#[async_trait]
pub trait SafetyStore: Send + Sync {
    /// Every scope's epoch (scopes never written are absent). Cheap: replicas
    /// poll it.
    async fn safety_epochs(&self) -> Result<Vec<(SafetyScope, u64)>, StoreError>;

    /// The scope's records written after epoch `since` (`0`: every record),
    /// with the scope's current epoch.
    async fn safety_records(
        &self,
        scope: &SafetyScope,
        since: u64,
    ) -> Result<SafetyRecords, StoreError>;

    /// Runs `update` on the scope's current records (and the platform's)
    /// with every other update of the scope held off, and writes what it
    /// returns, atomically.
    async fn update_safety(
        &self,
        scope: &SafetyScope,
        ledgers: Ledgers<'_>,
        update: SafetyUpdate<'_>,
    ) -> Result<SafetyUpdated, StoreError> {
        let mut audited = |view: SafetyView<'_>| SafetyChange {
            records: update(view),
            trail: SafetyTrail::default(),
        };
        self.update_safety_audited(scope, ledgers, &mut audited)
            .await
    }

    /// As [`SafetyStore::update_safety`], and writes the trail `update`
    /// returns (audit entries and notices) in the same transaction: all of
    /// it or nothing (see the module docs, including the errors).
    async fn update_safety_audited(
        &self,
        scope: &SafetyScope,
        ledgers: Ledgers<'_>,
        update: AuditedSafetyUpdate<'_>,
    ) -> Result<SafetyUpdated, StoreError>;

    /// Deletes the tenant's attempt ledgers `spent` names, each only if its
    /// stored version is still the one given, in one transaction, without
    /// moving the tenant's epoch. Returns the keys it deleted (a ledger
    /// rewritten since, or already gone, is not among them).
    async fn prune_ledgers(
        &self,
        tenant: &TenantId,
        spent: &[(LedgerKey, u64)],
    ) -> Result<Vec<LedgerKey>, StoreError>;
}
