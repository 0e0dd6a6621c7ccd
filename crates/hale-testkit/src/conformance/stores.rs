//! The store conformance suite: the contract at the top of
//! [`hale_engine::ports::store`], checked clause by clause.
//!
//! # Running it against an adapter
//!
//! In the adapter's `tests/` directory, call [`crate::store_conformance_tests!`]
//! with an expression that evaluates to a future of a fresh store. The
//! future's output is an `Arc<S>` (always run) or an `Option<Arc<S>>`
//! (`None` skips every check, e.g. when the database is not configured):
//!
//! ```ignore
//! // adapters/hale-postgres/tests/store_conformance.rs
//! use std::sync::Arc;
//! use hale_testkit::services::database_url;
//!
//! hale_testkit::store_conformance_tests!(async {
//!     let url = database_url("hale-postgres store conformance")?;
//!     Some(Arc::new(hale_postgres::PgStore::connect(&url).await.expect("connect")))
//! });
//! ```
//!
//! The macro expands into a module `store_conformance` holding one `#[test]`
//! per check, named after the check (for example
//! `store_conformance::approval_update_is_revision_cas`). Each test builds
//! its own multi-threaded tokio runtime (four workers, IO and time enabled),
//! evaluates the factory inside it and runs the check, so the adapter crate
//! needs no tokio attributes of its own. The factory runs once per check and
//! may be evaluated concurrently by parallel tests.
//!
//! # Isolation
//!
//! Every check works in fresh random tenants (`t-<uuid>`), so the checks
//! can share one database and run in parallel. The exceptions are
//! [`safety_platform_scope_is_seen_by_tenant_updates`] and
//! [`safety_global_act_is_recorded_in_every_tenant_or_none`], which write
//! the platform scope's records; run no other writer of the platform scope
//! against the same database at the same time.
//!
//! # Calling checks directly
//!
//! Each check is also a plain `pub async fn <check>(store: Arc<S>)` that
//! panics with the broken contract clause; call it from your own test
//! harness if the macro does not fit. Checks spawn tokio tasks, so run them
//! on a multi-threaded runtime.

mod approvals;
mod audit_timeline;
mod caused_audit;
mod concurrency;
mod fingerprints;
mod incidents;
mod intake;
mod knowledge;
mod operations;
mod outbox;
mod policy;
mod safety_trail;
mod state;
mod support;

use std::future::Future;
use std::sync::Arc;

use hale_engine::ports::StoreAdapter;

pub use approvals::*;
pub use audit_timeline::*;
pub use caused_audit::*;
pub use concurrency::*;
pub use fingerprints::*;
pub use incidents::*;
pub use intake::*;
pub use knowledge::*;
pub use operations::*;
pub use outbox::*;
pub use policy::*;
pub use safety_trail::*;
pub use state::*;

/// What a conformance factory may produce: a store, or `None` to skip.
pub trait Subject {
    /// The store type under test.
    type Store: StoreAdapter;

    /// The store, or `None` when the check must be skipped.
    fn into_store(self) -> Option<Arc<Self::Store>>;
}

impl<S: StoreAdapter> Subject for Arc<S> {
    type Store = S;

    fn into_store(self) -> Option<Arc<S>> {
        Some(self)
    }
}

impl<S: StoreAdapter> Subject for Option<Arc<S>> {
    type Store = S;

    fn into_store(self) -> Option<Arc<S>> {
        self
    }
}

/// Runs one check on a fresh runtime: the engine of [`store_conformance_tests!`].
#[doc(hidden)]
pub fn run<F, C, Fut>(factory: F, check: C)
where
    F: Future,
    F::Output: Subject,
    C: FnOnce(Arc<<F::Output as Subject>::Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("store conformance: cannot build a tokio runtime: {e}"));
    runtime.block_on(async move {
        if let Some(store) = factory.await.into_store() {
            check(store).await;
        }
    });
}

/// Expands into one `#[test]` per store conformance check, inside a module
/// `store_conformance`. See the [module docs](crate::conformance::stores).
///
/// ```
/// use std::sync::Arc;
/// use hale_testkit::MemoryStore;
///
/// hale_testkit::store_conformance_tests!(async { Arc::new(MemoryStore::new()) });
/// # fn main() {}
/// ```
///
/// A factory yielding `Option<Arc<S>>` skips on `None`, so `?` works on a
/// missing service URL. To run the suite twice in one file (two
/// configurations of one adapter), name the module with `mod <name>,`:
///
/// ```
/// use std::sync::Arc;
/// use hale_testkit::MemoryStore;
/// use hale_testkit::services::database_url;
///
/// hale_testkit::store_conformance_tests!(mod skipped_without_database, async {
///     let _url = database_url("store conformance example")?;
///     Some(Arc::new(MemoryStore::new()))
/// });
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! store_conformance_tests {
    (mod $module:ident, $factory:expr $(,)?) => {
        $crate::store_conformance_tests!(@checks $module ($factory));
    };
    ($factory:expr $(,)?) => {
        $crate::store_conformance_tests!(@checks store_conformance ($factory));
    };
    (@checks $module:ident ($factory:expr)) => {
        $crate::store_conformance_tests!(@expand $module ($factory)
            // Approvals.
            approval_round_trip_keeps_every_field,
            approval_duplicate_id_is_conflict,
            approval_create_is_atomic_with_timeline_event,
            approval_event_of_other_tenant_is_invalid,
            approval_update_is_revision_cas,
            approval_update_of_absent_is_not_found,
            approval_update_is_atomic_with_timeline_event,
            approval_list_filters_order_and_pages,
            approval_pending_for_resource_is_oldest_pending,
            approvals_due_for_expiry_are_pending_and_oldest_first,
            approval_tenant_isolation,
            // Audit log and timeline.
            audit_round_trip_keeps_every_field,
            audit_duplicate_id_is_conflict,
            audit_filters_order_and_pages,
            audit_limit_is_clamped,
            audit_tenant_isolation,
            timeline_round_trip_keeps_every_field,
            timeline_duplicate_id_is_conflict,
            timeline_filters_order_and_pages,
            timeline_tenant_isolation,
            // Incidents.
            incident_round_trip_keeps_every_field,
            incident_duplicate_id_is_conflict,
            incident_update_is_revision_cas,
            incident_update_of_absent_is_not_found,
            incident_filters_order_and_pages,
            open_incident_for_is_newest_open,
            incident_tenant_isolation,
            // Intake.
            intake_converge_reads_the_open_incident_it_concerns,
            intake_commit_is_all_or_nothing,
            intake_commit_of_another_tenants_record_is_invalid,
            intake_converge_of_a_delivery_equals_converging_each_in_turn,
            intake_commit_of_several_writes_is_all_or_nothing,
            // Knowledge.
            knowledge_round_trip_keeps_every_field,
            knowledge_duplicate_id_is_conflict,
            knowledge_update_replaces_and_absent_is_not_found,
            knowledge_filters_order_and_pages,
            active_anti_patterns_skip_archived_and_other_hashes,
            knowledge_view_increments,
            knowledge_tenant_isolation,
            // Operations.
            operation_round_trip_keeps_every_field,
            operation_and_audit_keep_every_failure_class,
            operation_duplicate_id_is_conflict,
            operation_create_is_atomic_with_audit_entry,
            operation_audit_of_other_tenant_is_invalid,
            operation_update_is_revision_cas,
            operation_update_of_absent_is_not_found,
            operation_update_is_atomic_with_audit_entry,
            operation_update_writes_all_its_audit_entries_or_none,
            operation_filters_order_and_pages,
            unfinished_operations_are_non_terminal_oldest_first,
            pending_effectiveness_is_pending_oldest_completion_first,
            effectiveness_tally_counts_each_strategys_verdicts,
            operation_tenant_isolation,
            // Fingerprints.
            converge_matches_domain_rule,
            claim_episode_is_compare_and_set,
            release_claim_needs_matching_id,
            fingerprint_list_order_and_pages,
            fingerprint_tenant_isolation,
            // The shared safety state and health.
            safety_records_round_trip_with_versions,
            safety_update_loads_only_the_ledgers_asked_for,
            safety_tenant_isolation,
            safety_platform_scope_is_seen_by_tenant_updates,
            concurrent_safety_updates_lose_nothing,
            safety_prune_deletes_only_ledgers_at_the_given_version,
            safety_prune_touches_only_the_tenants_ledgers,
            policy_records_round_trip_per_tenant,
            concurrent_budget_starts_never_exceed_the_cap,
            ping_answers,
            // Concurrency.
            concurrent_converge_counts_every_delivery,
            concurrent_claims_have_one_winner,
            concurrent_approval_updates_have_one_winner,
            concurrent_operation_updates_have_one_winner,
            // The notification outbox.
            outbox_notices_are_written_with_their_records,
            outbox_notice_is_atomic_with_its_record,
            outbox_notice_is_atomic_with_its_intake_commit,
            outbox_routing_makes_one_delivery_per_channel,
            outbox_claims_are_disjoint_and_attempts_need_the_claim,
            outbox_platform_scope_and_backlog,
            outbox_redrive_resets_only_the_scopes_given_up_deliveries_of_the_channel,
            // A safety change and its record.
            safety_change_and_its_audit_entry_are_one_write,
            safety_global_act_is_recorded_in_every_tenant_or_none,
            // A record and the audit entries it causes.
            knowledge_entry_and_its_audit_entry_are_one_write,
            timeline_event_and_its_audit_entry_are_one_write,
        );
    };
    (@expand $module:ident ($factory:expr) $($check:ident),+ $(,)?) => {
        /// The store conformance suite (`hale_testkit::conformance::stores`).
        #[allow(unused_imports)] // the factory may not need anything from the parent
        mod $module {
            use super::*;

            $(
                #[test]
                fn $check() {
                    $crate::conformance::stores::run(
                        async { $factory.await },
                        $crate::conformance::stores::$check,
                    );
                }
            )+
        }
    };
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use hale_engine::ports::StoreHealth;

    use crate::MemoryStore;

    #[test]
    fn a_none_factory_skips_the_check_and_a_store_runs_it() {
        let ran = AtomicBool::new(false);
        super::run(async { None::<Arc<MemoryStore>> }, |_store| async {
            ran.store(true, Ordering::SeqCst);
        });
        assert!(!ran.load(Ordering::SeqCst), "None must skip the check");
        let ran = &ran;
        super::run(async { Arc::new(MemoryStore::new()) }, |store| async move {
            store.ping().await.unwrap();
            ran.store(true, Ordering::SeqCst);
        });
        assert!(ran.load(Ordering::SeqCst), "a store must run the check");
    }

    /// Every `pub async fn` check in the submodules, with its file.
    fn checks() -> Vec<(&'static str, String)> {
        let files = [
            ("approvals.rs", include_str!("stores/approvals.rs")),
            (
                "audit_timeline.rs",
                include_str!("stores/audit_timeline.rs"),
            ),
            ("caused_audit.rs", include_str!("stores/caused_audit.rs")),
            ("concurrency.rs", include_str!("stores/concurrency.rs")),
            ("fingerprints.rs", include_str!("stores/fingerprints.rs")),
            ("incidents.rs", include_str!("stores/incidents.rs")),
            ("intake.rs", include_str!("stores/intake.rs")),
            ("knowledge.rs", include_str!("stores/knowledge.rs")),
            ("operations.rs", include_str!("stores/operations.rs")),
            ("outbox.rs", include_str!("stores/outbox.rs")),
            ("state.rs", include_str!("stores/state.rs")),
            ("policy.rs", include_str!("stores/policy.rs")),
            ("safety_trail.rs", include_str!("stores/safety_trail.rs")),
        ];
        files
            .iter()
            .flat_map(|(file, text)| {
                text.lines()
                    .filter_map(|l| l.strip_prefix("pub async fn "))
                    .filter_map(|rest| rest.split('<').next())
                    .map(move |name| (*file, name.to_owned()))
            })
            .collect()
    }

    /// A check that is written but not listed in the macro would silently
    /// never run against any adapter.
    #[test]
    fn every_check_is_listed_in_the_macro() {
        let this = include_str!("stores.rs");
        let start = this.find("@expand $module ($factory)").unwrap();
        let end = start + this[start..].find(");").unwrap();
        let listed: Vec<&str> = this[start..end]
            .lines()
            .map(|l| l.trim().trim_end_matches(','))
            .filter(|l| {
                !l.is_empty() && !l.starts_with("//") && !l.starts_with('$') && !l.contains('(')
            })
            .collect();
        let checks = checks();
        for (file, name) in &checks {
            assert!(
                listed.contains(&name.as_str()),
                "check {name} in stores/{file} is missing from store_conformance_tests!"
            );
        }
        assert_eq!(
            listed.len(),
            checks.len(),
            "the macro lists a check that does not exist: {listed:?}"
        );
    }
}
