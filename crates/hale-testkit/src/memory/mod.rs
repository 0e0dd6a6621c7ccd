//! [`MemoryStore`]: every store port in one process, behind one mutex.
//!
//! It keeps the full store contract (tenancy, revision compare-and-set,
//! atomic pairs, newest-first paging, atomic convergence) so that it passes
//! the same conformance suite as the durable adapters. What it cannot give is
//! durability: its contents live as long as the value. Embedders may use it
//! where that is acceptable (single-shot tools, demos, tests).
//!
//! One `parking_lot::Mutex` guards all tables. Every call takes it once and
//! never awaits while holding it, so each call is atomic with respect to
//! every other, which is exactly what the atomic-pair and
//! compare-and-set clauses ask for.

mod fingerprints;
mod intake;
mod operations;
mod outbox;
mod records;
mod state;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hale_domain::approval::ApprovalRequest;
use hale_domain::convergence::{Fingerprint, FingerprintRecord};
use hale_domain::effectiveness::Effectiveness;
use hale_domain::healing::HealingOperation;
use hale_domain::record::audit::AuditEntry;
use hale_domain::record::incident::Incident;
use hale_domain::record::knowledge::KnowledgeEntry;
use hale_domain::record::timeline::TimelineEvent;
use hale_domain::{ApprovalId, IncidentId, KnowledgeId, OperationId, TenantId};
use hale_engine::ports::{Page, PageRequest, SafetyScope, StoreError};
use parking_lot::{Mutex, MutexGuard};

/// An in-memory implementation of every store port
/// ([`hale_engine::ports::StoreAdapter`]).
///
/// Clones share the same tables (and the same fault switch), so a test can
/// keep a handle while the engine holds another.
///
/// ```
/// use std::sync::Arc;
/// use hale_engine::ports::Stores;
/// use hale_testkit::MemoryStore;
///
/// let store = MemoryStore::new();
/// let stores = Stores::from_adapter(Arc::new(store.clone()));
/// # let _ = stores;
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    tables: Mutex<Tables>,
    unavailable: AtomicBool,
}

/// All rows. Tenants are the outer key, so a read for one tenant cannot see
/// another's rows, and the same id in two tenants names two rows.
#[derive(Default)]
struct Tables {
    tenants: HashMap<TenantId, TenantTables>,
    /// The shared safety state by scope (a tenant's scope is keyed by its
    /// tenant, so reads stay apart).
    safety: BTreeMap<SafetyScope, state::ScopeRecords>,
    /// The notification outbox by scope (`None`: the platform's).
    outbox: HashMap<Option<TenantId>, outbox::ScopeOutbox>,
}

#[derive(Default)]
struct TenantTables {
    approvals: HashMap<ApprovalId, ApprovalRequest>,
    audit: HashMap<String, AuditEntry>,
    incidents: HashMap<IncidentId, Incident>,
    timeline: HashMap<String, TimelineEvent>,
    knowledge: HashMap<KnowledgeId, KnowledgeEntry>,
    operations: HashMap<OperationId, HealingOperation>,
    fingerprints: BTreeMap<Fingerprint, FingerprintRecord>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// Fault switch for tests: while `true`, every call fails with
    /// [`StoreError::Unavailable`], as a durable store does when its backend
    /// is down. Shared by all clones.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.shared.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// Whether the fault switch is on.
    pub fn is_unavailable(&self) -> bool {
        self.shared.unavailable.load(Ordering::SeqCst)
    }

    /// Locks the tables, or fails when the fault switch is on.
    fn tables(&self) -> Result<MutexGuard<'_, Tables>, StoreError> {
        if self.is_unavailable() {
            return Err(StoreError::Unavailable(
                "memory store switched unavailable (MemoryStore::set_unavailable)".to_owned(),
            ));
        }
        Ok(self.shared.tables.lock())
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("unavailable", &self.is_unavailable())
            .finish_non_exhaustive()
    }
}

// === Table access ===

impl Tables {
    /// A tenant's tables for reading (absent tenants have no rows).
    fn tenant(&self, tenant: &TenantId) -> Option<&TenantTables> {
        self.tenants.get(tenant)
    }

    /// A tenant's tables for writing, created on first use.
    fn tenant_mut(&mut self, tenant: &TenantId) -> &mut TenantTables {
        self.tenants.entry(tenant.clone()).or_default()
    }
}

impl TenantTables {
    /// Operations waiting for an effectiveness verdict (of one alert, when
    /// given), oldest completion first.
    fn pending_effectiveness(&self, fingerprint: Option<&Fingerprint>) -> Vec<HealingOperation> {
        let mut rows: Vec<HealingOperation> = self
            .operations
            .values()
            .filter(|o| o.effectiveness == Some(Effectiveness::Pending))
            .filter(|o| fingerprint.is_none_or(|f| o.fingerprint.as_ref() == Some(f)))
            .cloned()
            .collect();
        rows.sort_by(|a, b| (a.completed_at, &a.id).cmp(&(b.completed_at, &b.id)));
        rows
    }

    /// The newest open incident for a fingerprint.
    fn open_incident(&self, fingerprint: &Fingerprint) -> Option<Incident> {
        self.incidents
            .values()
            .filter(|i| i.status.is_open() && &i.fingerprint == fingerprint)
            .max_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)))
            .cloned()
    }
}

// === Shared helpers ===

/// One page of `rows` that pass `keep`, sorted by `order` (callers pass a
/// newest-first comparison).
fn page_of<'a, T, I, F, O>(rows: I, keep: F, order: O, page: PageRequest) -> Page<T>
where
    T: Clone + 'a,
    I: IntoIterator<Item = &'a T>,
    F: Fn(&T) -> bool,
    O: Fn(&T, &T) -> std::cmp::Ordering,
{
    let mut matching: Vec<&T> = rows.into_iter().filter(|r| keep(r)).collect();
    matching.sort_by(|a, b| order(a, b));
    let offset = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let fetch = page.clamped_limit() as usize + 1;
    let rows = matching
        .into_iter()
        .skip(offset)
        .take(fetch)
        .cloned()
        .collect();
    Page::from_overfetch(rows, page)
}

/// Whether `at` lies in `[since, until)`.
fn in_window(
    at: hale_domain::Timestamp,
    since: Option<hale_domain::Timestamp>,
    until: Option<hale_domain::Timestamp>,
) -> bool {
    since.is_none_or(|s| at >= s) && until.is_none_or(|u| at < u)
}

/// Whether an optional filter admits a value.
fn admits<T: PartialEq>(filter: Option<&T>, value: &T) -> bool {
    filter.is_none_or(|f| f == value)
}

/// Whether an optional filter admits an optional value (a set filter never
/// admits an absent value).
fn admits_opt<T: PartialEq>(filter: Option<&T>, value: Option<&T>) -> bool {
    filter.is_none_or(|f| value == Some(f))
}

/// The revision after `current`, or `Invalid` at the end of the range.
fn next_revision(current: u64, what: &str) -> Result<u64, StoreError> {
    current
        .checked_add(1)
        .ok_or_else(|| StoreError::Invalid(format!("{what}: revision {current} cannot grow")))
}

/// `Conflict` for a duplicate id.
fn duplicate(what: &str, id: &str, tenant: &TenantId) -> StoreError {
    StoreError::Conflict(format!("{what} {id:?} already exists in tenant {tenant}"))
}

/// `NotFound` for an absent row.
fn absent(what: &str, id: &str, tenant: &TenantId) -> StoreError {
    StoreError::NotFound(format!("{what} {id:?} in tenant {tenant}"))
}

/// `Conflict` for a stale revision.
fn stale(what: &str, id: &str, given: u64, stored: u64) -> StoreError {
    StoreError::Conflict(format!(
        "{what} {id:?}: revision {given} is stale (stored revision is {stored})"
    ))
}

/// `Invalid` when the two records of an atomic pair name different tenants.
fn same_tenant(what: &str, record: &TenantId, companion: &TenantId) -> Result<(), StoreError> {
    if record == companion {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "{what} belongs to tenant {companion}, but the record to tenant {record}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use hale_domain::alert::AlertStatus;
    use hale_engine::ports::{
        ApprovalFilter, ApprovalStore, FingerprintStore, SafetyStore, StoreHealth,
    };

    use super::*;
    use crate::fixtures;

    #[tokio::test]
    async fn fault_switch_fails_every_call_and_is_shared_by_clones() {
        let store = MemoryStore::new();
        let handle = store.clone();
        let t = fixtures::tenant("team-a");
        let at = hale_domain::Timestamp::from_unix_secs(1_800_000_000);
        let d = fixtures::delivery("HighErrorRate", "checkout", AlertStatus::Firing, at);
        store.converge(&t, &d).await.unwrap();

        handle.set_unavailable(true);
        assert!(store.is_unavailable(), "clones share the switch");
        let unavailable = |e: StoreError| matches!(e, StoreError::Unavailable(_));
        assert!(store.ping().await.is_err_and(unavailable));
        assert!(store.converge(&t, &d).await.is_err_and(unavailable));
        assert!(
            store
                .get_fingerprint(&t, &d.fingerprint)
                .await
                .is_err_and(unavailable)
        );
        assert!(
            store
                .list_approvals(&t, &ApprovalFilter::default())
                .await
                .is_err_and(unavailable)
        );
        assert!(store.safety_epochs().await.is_err_and(unavailable));

        handle.set_unavailable(false);
        store.ping().await.unwrap();
        let rec = store.get_fingerprint(&t, &d.fingerprint).await.unwrap();
        assert_eq!(
            rec.map(|r| r.hit_count),
            Some(1),
            "a failed call must not have written anything"
        );
    }

    #[tokio::test]
    async fn updates_of_absent_tenants_do_not_create_tables() {
        let store = MemoryStore::new();
        let t = fixtures::tenant("ghost");
        let a = fixtures::approval(&t, "apr-1", hale_domain::Timestamp::UNIX_EPOCH);
        assert!(matches!(
            store.update_approval(&a, None).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(store.shared.tables.lock().tenants.is_empty());
    }
}
