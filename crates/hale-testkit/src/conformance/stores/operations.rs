//! Operation store checks, including the operation + audit atomic pair.

use std::sync::Arc;
use std::time::Duration;

use hale_domain::effectiveness::{Effectiveness, EffectivenessTally};
use hale_domain::failure::FailureClass;
use hale_domain::healing::{ActionLog, ActionPhase, HealingOperation, HealingState};
use hale_domain::record::audit::AuditEntry;
use hale_domain::{OperationId, StrategyId, TenantId};
use hale_engine::ports::{AuditFilter, OperationFilter, StoreAdapter};

use super::support::{
    UNICODE, all_pages, at, at_micros, conflict, far_future, far_past, holds, ids, invalid,
    not_found, ok, same, strings,
};
use crate::fixtures::{self, unique_tenant};

/// The audit entry written together with an operation.
pub(super) fn audit_for(tenant: &TenantId, id: &str, op: &HealingOperation) -> AuditEntry {
    AuditEntry {
        operation_id: Some(op.id.clone()),
        ..fixtures::audit_entry(tenant, id, op.updated_at)
    }
}

async fn get<S: StoreAdapter>(store: &S, t: &TenantId, id: &str) -> Option<HealingOperation> {
    ok(
        store.get_operation(t, &OperationId::new(id)).await,
        "get_operation",
    )
}

async fn audit_of<S: StoreAdapter>(store: &S, t: &TenantId, op: &str) -> Vec<String> {
    let filter = AuditFilter {
        operation_id: Some(OperationId::new(op)),
        ..AuditFilter::default()
    };
    let page = ok(
        store.list_audit(t, &filter).await,
        "list_audit by operation",
    );
    ids(&page.items, |e| e.id.clone())
}

async fn operation_ids<S: StoreAdapter>(
    store: &S,
    t: &TenantId,
    filter: OperationFilter,
) -> Vec<String> {
    let page = ok(store.list_operations(t, &filter).await, "list_operations");
    ids(&page.items, |o| o.id.to_string())
}

/// Create/get round trip keeps every field, and writes the audit entry.
pub async fn operation_round_trip_keeps_every_field<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let mut failed = fixtures::operation_failed(&t, "op-failed", at_micros(13));
    failed.error = Some(UNICODE.to_owned());
    failed.completed_at = Some(far_future());
    failed.fencing_token = Some(u64::from(u32::MAX) + 3);
    failed.dry_run = true;
    failed.attempt_number = 4;
    failed.log_action(ActionLog {
        action: fixtures::action_kind("command:rollback-checkout"),
        phase: ActionPhase::Rollback,
        started_at: at_micros(2_000_001),
        duration: Duration::from_millis(30_000),
        success: false,
        dry_run: true,
        failure: Some(FailureClass::Timeout),
        message: None,
    });
    let verifying = fixtures::operation(&t, "op-verifying", at(5));
    let bare = fixtures::operation_bare(&t, "op-bare", far_past());
    for op in [&failed, &verifying, &bare] {
        let audit = audit_for(&t, &format!("aud-{}", op.id), op);
        ok(
            store.create_operation(op, &audit).await,
            "create_operation accepts a new operation",
        );
        same(
            &get(&*store, &t, op.id.as_str()).await.as_ref(),
            &Some(op),
            "an operation reads back with every field equal (options set and unset, diagnosis, action logs, unicode, microsecond and far-past/far-future instants)",
        );
        same(
            &audit_of(&*store, &t, op.id.as_str()).await,
            &vec![audit.id.clone()],
            "create_operation writes its audit entry",
        );
    }
    let page = ok(
        store.list_operations(&t, &OperationFilter::default()).await,
        "list_operations",
    );
    same(
        &page.items,
        &vec![verifying, failed, bare],
        "list_operations returns every field equal, newest start first",
    );
    same(
        &get(&*store, &t, "op-none").await,
        &None,
        "get_operation of an absent id is Ok(None)",
    );
}

/// Every failure class (the stores' CHECK constraints name each wire
/// value) is accepted and reads back, on an operation and on its audit
/// entry.
pub async fn operation_and_audit_keep_every_failure_class<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    for (i, class) in FailureClass::ALL.into_iter().enumerate() {
        let mut op = fixtures::operation_failed(&t, &format!("op-{class}"), at(i as i64));
        op.failure_class = Some(class);
        let mut audit = audit_for(&t, &format!("aud-{class}"), &op);
        audit.failure_classification = Some(class);
        ok(
            store.create_operation(&op, &audit).await,
            "create_operation accepts every failure class",
        );
        same(
            &get(&*store, &t, op.id.as_str())
                .await
                .and_then(|o| o.failure_class),
            &Some(class),
            "an operation's failure class reads back",
        );
        let filter = AuditFilter {
            operation_id: Some(op.id.clone()),
            ..AuditFilter::default()
        };
        let page = ok(store.list_audit(&t, &filter).await, "list_audit");
        same(
            &page
                .items
                .iter()
                .map(|e| e.failure_classification)
                .collect::<Vec<_>>(),
            &vec![Some(class)],
            "an audit entry's failure class reads back",
        );
    }
}

/// A second create with an existing id is `Conflict` and writes nothing.
pub async fn operation_duplicate_id_is_conflict<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let op = fixtures::operation(&t, "op-1", at(0));
    ok(
        store
            .create_operation(&op, &audit_for(&t, "aud-1", &op))
            .await,
        "create_operation",
    );
    let again = HealingOperation {
        state: HealingState::Idle,
        ..op.clone()
    };
    conflict(
        store
            .create_operation(&again, &audit_for(&t, "aud-2", &again))
            .await,
        "create_operation with an existing id is Conflict",
    );
    same(
        &get(&*store, &t, "op-1").await,
        &Some(op),
        "a rejected duplicate leaves the operation unchanged",
    );
    same(
        &audit_of(&*store, &t, "op-1").await,
        &vec!["aud-1".to_owned()],
        "a rejected duplicate operation writes no audit entry (atomic pair)",
    );
}

/// An operation whose audit id already exists is not written at all.
pub async fn operation_create_is_atomic_with_audit_entry<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let existing = fixtures::audit_entry_bare(&t, "aud-taken", at(0));
    ok(store.append_audit(&existing).await, "append_audit");
    let op = fixtures::operation(&t, "op-1", at(1));
    conflict(
        store
            .create_operation(&op, &audit_for(&t, "aud-taken", &op))
            .await,
        "create_operation whose audit id exists is Conflict",
    );
    same(
        &get(&*store, &t, "op-1").await,
        &None,
        "atomic pair: when the audit entry cannot be written, the operation is absent too",
    );
    let page = ok(
        store.list_audit(&t, &AuditFilter::default()).await,
        "list_audit",
    );
    same(
        &page.items,
        &vec![existing],
        "the existing audit entry is unchanged",
    );
}

/// An audit entry of another tenant is `Invalid` and nothing is written.
pub async fn operation_audit_of_other_tenant_is_invalid<S: StoreAdapter>(store: Arc<S>) {
    let (t, other) = (unique_tenant(), unique_tenant());
    let op = fixtures::operation(&t, "op-1", at(0));
    invalid(
        store
            .create_operation(&op, &audit_for(&other, "aud-1", &op))
            .await,
        "create_operation with an audit entry of another tenant is Invalid",
    );
    same(
        &get(&*store, &t, "op-1").await,
        &None,
        "a rejected pair writes no operation",
    );
    holds(
        audit_of(&*store, &other, "op-1").await.is_empty(),
        "a rejected pair writes no audit entry",
    );
}

/// `update_operation` is a revision compare-and-set returning `revision + 1`.
pub async fn operation_update_is_revision_cas<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let op = fixtures::operation_bare(&t, "op-1", at(0));
    ok(
        store
            .create_operation(&op, &audit_for(&t, "aud-0", &op))
            .await,
        "create_operation",
    );
    let mut next = op.clone();
    holds(
        next.transition(HealingState::Diagnosing, at(1)).is_ok(),
        "fixture operation can start diagnosing",
    );
    next.fencing_token = Some(42);
    let rev = ok(
        store
            .update_operation(&next, std::slice::from_ref(&audit_for(&t, "aud-1", &next)))
            .await,
        "update_operation with the stored revision succeeds",
    );
    same(&rev, &1, "update_operation returns the stored revision + 1");
    let want = HealingOperation {
        revision: 1,
        ..next.clone()
    };
    same(
        &get(&*store, &t, "op-1").await,
        &Some(want.clone()),
        "the update is stored with every field and the new revision",
    );
    let stale = HealingOperation {
        escalated: true,
        ..op.clone()
    };
    conflict(
        store.update_operation(&stale, &[]).await,
        "update_operation with a stale revision is Conflict",
    );
    let ahead = HealingOperation {
        revision: 5,
        ..stale
    };
    conflict(
        store.update_operation(&ahead, &[]).await,
        "update_operation with a revision ahead of the stored one is Conflict",
    );
    same(
        &get(&*store, &t, "op-1").await,
        &Some(want.clone()),
        "a lost compare-and-set changes nothing",
    );
    same(
        &ok(
            store.update_operation(&want, &[]).await,
            "update_operation without audit",
        ),
        &2,
        "each update bumps the revision by one",
    );
    same(
        &audit_of(&*store, &t, "op-1").await,
        &vec!["aud-1".to_owned(), "aud-0".to_owned()],
        "update_operation appends its audit entry",
    );
}

/// Updating an absent operation is `NotFound` and writes nothing.
pub async fn operation_update_of_absent_is_not_found<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let op = fixtures::operation(&t, "op-ghost", at(0));
    not_found(
        store.update_operation(&op, &[]).await,
        "update_operation of an absent id is NotFound",
    );
    not_found(
        store
            .update_operation(&op, std::slice::from_ref(&audit_for(&t, "aud-ghost", &op)))
            .await,
        "update_operation of an absent id is NotFound (with an audit entry)",
    );
    same(
        &get(&*store, &t, "op-ghost").await,
        &None,
        "update_operation never inserts",
    );
    holds(
        audit_of(&*store, &t, "op-ghost").await.is_empty(),
        "a failed update writes no audit entry",
    );
}

/// An update whose audit id exists leaves the operation unchanged.
pub async fn operation_update_is_atomic_with_audit_entry<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let op = fixtures::operation(&t, "op-1", at(0));
    ok(
        store
            .create_operation(&op, &audit_for(&t, "aud-0", &op))
            .await,
        "create_operation",
    );
    let mut done = op.clone();
    holds(
        done.transition(HealingState::Completed, at(30)).is_ok(),
        "fixture operation can complete",
    );
    conflict(
        store
            .update_operation(&done, std::slice::from_ref(&audit_for(&t, "aud-0", &done)))
            .await,
        "update_operation whose audit id exists is Conflict",
    );
    same(
        &get(&*store, &t, "op-1").await,
        &Some(op.clone()),
        "atomic pair: when the audit entry cannot be written, the operation keeps its old state and revision",
    );
    same(
        &ok(
            store
                .update_operation(&done, std::slice::from_ref(&audit_for(&t, "aud-1", &done)))
                .await,
            "update_operation",
        ),
        &1,
        "the failed update did not bump the revision",
    );
}

/// An update with several audit entries (a step and the escalation it
/// leads to) writes all of them or none: the second entry's id taken
/// leaves the operation, the first entry and its notice unwritten.
pub async fn operation_update_writes_all_its_audit_entries_or_none<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let op = fixtures::operation(&t, "op-1", at(0));
    ok(
        store
            .create_operation(&op, &audit_for(&t, "aud-0", &op))
            .await,
        "create_operation",
    );
    let mut done = op.clone();
    holds(
        done.transition(HealingState::Interrupted, at(30)).is_ok(),
        "fixture operation can be interrupted",
    );
    done.escalated = true;
    conflict(
        store
            .update_operation(
                &done,
                &[audit_for(&t, "aud-1", &done), audit_for(&t, "aud-0", &done)],
            )
            .await,
        "update_operation whose second audit id exists is Conflict",
    );
    same(
        &get(&*store, &t, "op-1").await,
        &Some(op.clone()),
        "nothing written: the operation keeps its old state and revision",
    );
    same(
        &audit_of(&*store, &t, "op-1").await,
        &vec!["aud-0".to_owned()],
        "nothing written: not even the first entry",
    );
    ok(
        store
            .update_operation(
                &done,
                &[audit_for(&t, "aud-1", &done), audit_for(&t, "aud-2", &done)],
            )
            .await,
        "update_operation with two entries",
    );
    let mut entries = audit_of(&*store, &t, "op-1").await;
    entries.sort();
    same(
        &entries,
        &vec!["aud-0".to_owned(), "aud-1".to_owned(), "aud-2".to_owned()],
        "both entries written with the update",
    );
    holds(
        get(&*store, &t, "op-1").await.is_some_and(|o| o.escalated),
        "the update itself written",
    );
}

/// Every operation filter, newest-start-first order and paging.
pub async fn operation_filters_order_and_pages<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let r1 = fixtures::resource("prod", "checkout");
    let r2 = fixtures::resource("prod", "payments");
    let rows = [
        ("op-1", 0, HealingState::Completed, "restart", &r1),
        ("op-2", 10, HealingState::Failed, "scale-up", &r1),
        ("op-3", 20, HealingState::Completed, "restart", &r2),
        ("op-4", 20, HealingState::Healing, "restart", &r1),
        ("op-5", 30, HealingState::Completed, "restart", &r1),
    ];
    for (id, secs, state, strategy, resource) in rows {
        let op = HealingOperation {
            state,
            strategy_id: StrategyId::new(strategy),
            resource: resource.clone(),
            // Updated in the opposite order to starting: lists go by start.
            updated_at: at(100 - secs),
            ..fixtures::operation(&t, id, at(secs))
        };
        ok(
            store
                .create_operation(&op, &audit_for(&t, &format!("aud-{id}"), &op))
                .await,
            "create_operation",
        );
    }
    let cases: Vec<(OperationFilter, &[&str], &str)> = vec![
        (
            OperationFilter::default(),
            &["op-5", "op-4", "op-3", "op-2", "op-1"],
            "list_operations is by start time, newest first, ties broken by id descending",
        ),
        (
            OperationFilter {
                state: Some(HealingState::Completed),
                ..Default::default()
            },
            &["op-5", "op-3", "op-1"],
            "OperationFilter::state",
        ),
        (
            OperationFilter {
                strategy_id: Some(StrategyId::new("scale-up")),
                ..Default::default()
            },
            &["op-2"],
            "OperationFilter::strategy_id",
        ),
        (
            OperationFilter {
                resource: Some(r2.clone()),
                ..Default::default()
            },
            &["op-3"],
            "OperationFilter::resource",
        ),
        (
            OperationFilter {
                since: Some(at(20)),
                ..Default::default()
            },
            &["op-5", "op-4", "op-3"],
            "OperationFilter::since is inclusive (start time)",
        ),
        (
            OperationFilter {
                until: Some(at(20)),
                ..Default::default()
            },
            &["op-2", "op-1"],
            "OperationFilter::until is exclusive (start time)",
        ),
        (
            OperationFilter {
                state: Some(HealingState::Completed),
                resource: Some(r1.clone()),
                strategy_id: Some(StrategyId::new("restart")),
                ..Default::default()
            },
            &["op-5", "op-1"],
            "operation filters combine with AND",
        ),
    ];
    for (filter, want, clause) in cases {
        same(
            &operation_ids(&*store, &t, filter).await,
            &strings(want),
            clause,
        );
    }
    let paged = all_pages(2, 3, |page| {
        let (store, t) = (store.clone(), t.clone());
        async move {
            let filter = OperationFilter {
                page,
                ..OperationFilter::default()
            };
            ok(store.list_operations(&t, &filter).await, "list_operations")
        }
    })
    .await;
    same(
        &ids(&paged, |o| o.id.to_string()),
        &operation_ids(&*store, &t, OperationFilter::default()).await,
        "operation pages concatenate to the full list, in order",
    );
}

/// `unfinished_operations` returns the non-terminal operations, oldest first.
pub async fn unfinished_operations_are_non_terminal_oldest_first<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let rows = [
        ("op-idle", 30, HealingState::Idle),
        ("op-diagnosing", 10, HealingState::Diagnosing),
        ("op-healing", 20, HealingState::Healing),
        ("op-verifying", 0, HealingState::Verifying),
        ("op-completed", 5, HealingState::Completed),
        ("op-failed", 15, HealingState::Failed),
        ("op-interrupted", 25, HealingState::Interrupted),
    ];
    for (id, secs, state) in rows {
        let op = HealingOperation {
            state,
            ..fixtures::operation(&t, id, at(secs))
        };
        ok(
            store
                .create_operation(&op, &audit_for(&t, &format!("aud-{id}"), &op))
                .await,
            "create_operation",
        );
    }
    let unfinished = ok(
        store.unfinished_operations(&t).await,
        "unfinished_operations",
    );
    same(
        &ids(&unfinished, |o| o.id.to_string()),
        &strings(&["op-verifying", "op-diagnosing", "op-healing", "op-idle"]),
        "unfinished_operations returns every non-terminal operation, oldest start first",
    );
    let want = get(&*store, &t, "op-healing").await;
    same(
        &unfinished.iter().find(|o| o.id.as_str() == "op-healing"),
        &want.as_ref(),
        "unfinished_operations returns whole records",
    );
    holds(
        ok(
            store.unfinished_operations(&unique_tenant()).await,
            "unfinished_operations",
        )
        .is_empty(),
        "unfinished_operations never returns another tenant's operations",
    );
}

/// Effectiveness fields round-trip, and `pending_effectiveness` returns the
/// tenant's pending operations, oldest completion first; a verdict takes
/// an operation off the list.
pub async fn pending_effectiveness_is_pending_oldest_completion_first<S: StoreAdapter>(
    store: Arc<S>,
) {
    let t = unique_tenant();
    let later = fixtures::operation_pending_effectiveness(&t, "op-later", at(60));
    let mut sooner = fixtures::operation_pending_effectiveness(&t, "op-sooner", at(0));
    sooner.alert_resolved_at = None;
    let mut settled = fixtures::operation_pending_effectiveness(&t, "op-settled", at(10));
    settled.effectiveness = Some(Effectiveness::Ineffective);
    settled.effectiveness_settled_at = Some(at_micros(20_000_001));
    let untracked = fixtures::operation_failed(&t, "op-failed", at(5));
    for op in [&later, &sooner, &settled, &untracked] {
        ok(
            store
                .create_operation(op, &audit_for(&t, &format!("aud-{}", op.id), op))
                .await,
            "create_operation",
        );
        same(
            &get(&*store, &t, op.id.as_str()).await.as_ref(),
            &Some(op),
            "effectiveness, alert_resolved_at and effectiveness_settled_at read back equal (set and unset)",
        );
    }
    let pending = ok(
        store.pending_effectiveness(&t, None).await,
        "pending_effectiveness",
    );
    same(
        &pending,
        &vec![sooner.clone(), later.clone()],
        "pending_effectiveness returns whole pending records, oldest completion first",
    );
    // One alert's pending operations only.
    let mut other_alert = fixtures::operation_pending_effectiveness(&t, "op-other", at(30));
    other_alert.fingerprint = Some(fixtures::fingerprint("HighLatency", "search"));
    ok(
        store
            .create_operation(&other_alert, &audit_for(&t, "aud-op-other", &other_alert))
            .await,
        "create_operation",
    );
    same(
        &ok(
            store
                .pending_effectiveness(&t, other_alert.fingerprint.as_ref())
                .await,
            "pending_effectiveness for a fingerprint",
        ),
        &vec![other_alert.clone()],
        "pending_effectiveness for a fingerprint returns that alert's operations only",
    );
    same(
        &ok(
            store
                .pending_effectiveness(&t, later.fingerprint.as_ref())
                .await,
            "pending_effectiveness for a fingerprint",
        ),
        &vec![sooner.clone(), later.clone()],
        "pending_effectiveness for a fingerprint keeps the order",
    );
    let mut effective = sooner.clone();
    effective.effectiveness = Some(Effectiveness::Effective);
    effective.effectiveness_settled_at = Some(at(400));
    let rev = ok(
        store.update_operation(&effective, &[]).await,
        "update_operation with a verdict",
    );
    effective.revision = rev;
    same(
        &get(&*store, &t, "op-sooner").await,
        &Some(effective),
        "a verdict reads back",
    );
    same(
        &ids(
            &ok(
                store.pending_effectiveness(&t, None).await,
                "pending_effectiveness",
            ),
            |o| o.id.to_string(),
        ),
        &strings(&["op-other", "op-later"]),
        "a settled operation is no longer pending",
    );
    holds(
        ok(
            store.pending_effectiveness(&unique_tenant(), None).await,
            "pending_effectiveness",
        )
        .is_empty(),
        "pending_effectiveness never returns another tenant's operations",
    );
}

/// `effectiveness_tally` counts the tenant's operations per strategy and
/// verdict, ordered by strategy, and skips operations without one.
pub async fn effectiveness_tally_counts_each_strategys_verdicts<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let rows = [
        ("op-1", "restart", Some(Effectiveness::Effective)),
        ("op-2", "restart", Some(Effectiveness::Effective)),
        ("op-3", "restart", Some(Effectiveness::Ineffective)),
        ("op-4", "restart", Some(Effectiveness::Pending)),
        ("op-5", "evict", Some(Effectiveness::Ineffective)),
        ("op-6", "evict", None),
        ("op-7", "scale", None),
    ];
    for (i, (id, strategy, verdict)) in rows.into_iter().enumerate() {
        let mut op = fixtures::operation_pending_effectiveness(&t, id, at(i as i64));
        op.strategy_id = StrategyId::new(strategy);
        op.effectiveness = verdict;
        ok(
            store
                .create_operation(&op, &audit_for(&t, &format!("aud-{id}"), &op))
                .await,
            "create_operation",
        );
    }
    let tally = |pending, effective, ineffective| EffectivenessTally {
        pending,
        effective,
        ineffective,
    };
    same(
        &ok(store.effectiveness_tally(&t).await, "effectiveness_tally"),
        &vec![
            (StrategyId::new("evict"), tally(0, 0, 1)),
            (StrategyId::new("restart"), tally(1, 2, 1)),
        ],
        "effectiveness_tally counts per strategy and verdict, ordered by strategy, without untracked operations",
    );
    holds(
        ok(
            store.effectiveness_tally(&unique_tenant()).await,
            "effectiveness_tally",
        )
        .is_empty(),
        "effectiveness_tally never counts another tenant's operations",
    );
}

/// Tenant B cannot read, list, recover or update tenant A's operations.
pub async fn operation_tenant_isolation<S: StoreAdapter>(store: Arc<S>) {
    let (ta, tb) = (unique_tenant(), unique_tenant());
    let a = fixtures::operation(&ta, "op-1", at(0));
    ok(
        store
            .create_operation(&a, &audit_for(&ta, "aud-1", &a))
            .await,
        "create_operation",
    );
    same(
        &get(&*store, &tb, "op-1").await,
        &None,
        "tenant B reads tenant A's operation id as absent",
    );
    holds(
        operation_ids(&*store, &tb, OperationFilter::default())
            .await
            .is_empty(),
        "tenant B's list never shows tenant A's operations",
    );
    holds(
        ok(
            store.unfinished_operations(&tb).await,
            "unfinished_operations",
        )
        .is_empty(),
        "tenant B's crash recovery never sees tenant A's operations",
    );
    let hijack = HealingOperation {
        tenant: tb.clone(),
        escalated: true,
        ..a.clone()
    };
    not_found(
        store.update_operation(&hijack, &[]).await,
        "tenant B updating tenant A's operation id is NotFound",
    );
    let b = fixtures::operation_bare(&tb, "op-1", at(1));
    ok(
        store
            .create_operation(&b, &audit_for(&tb, "aud-1", &b))
            .await,
        "the same operation and audit ids in another tenant do not collide",
    );
    ok(
        store.update_operation(&b, &[]).await,
        "update_operation in tenant B",
    );
    same(
        &get(&*store, &ta, "op-1").await,
        &Some(a),
        "tenant B's writes leave tenant A's operation unchanged",
    );
}
