//! Audit log and timeline checks (both append-only).

use std::sync::Arc;

use hale_domain::failure::FailureClass;
use hale_domain::record::audit::AuditEntry;
use hale_domain::record::timeline::{TimelineEvent, TimelineEventType, TimelineStatus};
use hale_domain::{
    Actor, ApprovalId, AuthorizationChannel, IncidentId, OperationId, RiskLevel, SourceSystem,
    TenantId, Timestamp,
};
use hale_engine::ports::{AuditFilter, PageRequest, StoreAdapter, TimelineFilter};

use super::support::{
    UNICODE, all_pages, at, at_micros, conflict, far_future, far_past, holds, ids, ok, same,
    strings,
};
use crate::fixtures::{self, unique_tenant};

// === Audit ===

async fn audit_ids<S: StoreAdapter>(store: &S, t: &TenantId, filter: AuditFilter) -> Vec<String> {
    let page = ok(store.list_audit(t, &filter).await, "list_audit");
    ids(&page.items, |e| e.id.clone())
}

/// Append/list round trip keeps every field: options set and unset, JSON
/// responses, unicode, microseconds, far-past and far-future instants.
pub async fn audit_round_trip_keeps_every_field<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let mut full = fixtures::audit_entry(&t, "aud-full", at_micros(7));
    full.reason = Some(UNICODE.to_owned());
    full.target_resource = format!("switch:global:{UNICODE}");
    full.response = Some(serde_json::json!({
        "null": null, "neg": -1, "float": 1.5, "text": UNICODE, "nested": [{"a": []}]
    }));
    let failed = AuditEntry {
        success: false,
        error_message: Some("unauthorized: token expired".to_owned()),
        failure_classification: Some(FailureClass::Fatal),
        execution_duration_ms: Some(u64::from(u32::MAX) + 1),
        retry_count: 3,
        dry_run_passed: false,
        ..fixtures::audit_entry(&t, "aud-future", far_future())
    };
    let bare = fixtures::audit_entry_bare(&t, "aud-bare", far_past());
    for e in [&full, &failed, &bare] {
        ok(
            store.append_audit(e).await,
            "append_audit accepts a new entry",
        );
    }
    let page = ok(
        store.list_audit(&t, &AuditFilter::default()).await,
        "list_audit",
    );
    same(
        &page.items,
        &vec![failed, full, bare],
        "audit entries read back with every field equal (options set and unset, JSON, unicode, microsecond and far-past/far-future instants), newest first",
    );
}

/// A second append with an existing id is `Conflict` and changes nothing.
pub async fn audit_duplicate_id_is_conflict<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let e = fixtures::audit_entry(&t, "aud-1", at(0));
    ok(store.append_audit(&e).await, "append_audit");
    let again = AuditEntry {
        operation_type: "breaker.reset".to_owned(),
        ..e.clone()
    };
    conflict(
        store.append_audit(&again).await,
        "append_audit with an existing id is Conflict",
    );
    let page = ok(
        store.list_audit(&t, &AuditFilter::default()).await,
        "list_audit",
    );
    same(
        &page.items,
        &vec![e],
        "a rejected duplicate leaves the log unchanged",
    );
}

/// Every audit filter, newest-first order (ties by id, descending) and paging.
pub async fn audit_filters_order_and_pages<S: StoreAdapter>(store: Arc<S>) {
    use AuthorizationChannel as Ch;
    use SourceSystem as Src;
    let t = unique_tenant();
    let rows = [
        (
            "aud-1",
            0,
            "action.executed",
            Some("op-1"),
            Some("apr-1"),
            Some("inc-1"),
            Src::DecisionManager,
            Ch::DecisionManager,
            true,
        ),
        (
            "aud-2",
            10,
            "healing.deferred",
            Some("op-2"),
            None,
            Some("inc-1"),
            Src::FailureWatcher,
            Ch::AutoRepair,
            false,
        ),
        (
            "aud-3",
            20,
            "action.executed",
            Some("op-2"),
            Some("apr-2"),
            None,
            Src::Api,
            Ch::Manual,
            true,
        ),
        (
            "aud-4",
            20,
            "approval.signed",
            None,
            Some("apr-1"),
            Some("inc-2"),
            Src::DecisionManager,
            Ch::DecisionManager,
            true,
        ),
        (
            "aud-5",
            30,
            "healing.deferred",
            Some("op-1"),
            None,
            None,
            Src::FailureWatcher,
            Ch::AutoRepair,
            false,
        ),
        (
            "aud-6",
            40,
            "switch.set",
            None,
            None,
            None,
            Src::Api,
            Ch::Web,
            true,
        ),
    ];
    for (id, secs, kind, op, apr, inc, src, ch, success) in rows {
        let e = AuditEntry {
            operation_type: kind.to_owned(),
            operation_id: op.map(OperationId::new),
            approval_id: apr.map(ApprovalId::new),
            incident_id: inc.map(IncidentId::new),
            source_system: src,
            authorization_channel: ch,
            success,
            ..fixtures::audit_entry(&t, id, at(secs))
        };
        ok(store.append_audit(&e).await, "append_audit");
    }
    let cases: Vec<(AuditFilter, &[&str], &str)> = vec![
        (
            AuditFilter::default(),
            &["aud-6", "aud-5", "aud-4", "aud-3", "aud-2", "aud-1"],
            "list_audit is newest first, ties broken by id descending",
        ),
        (
            AuditFilter {
                operation_type: Some("action.executed".into()),
                ..Default::default()
            },
            &["aud-3", "aud-1"],
            "AuditFilter::operation_type matches exactly",
        ),
        (
            AuditFilter {
                operation_id: Some("op-2".into()),
                ..Default::default()
            },
            &["aud-3", "aud-2"],
            "AuditFilter::operation_id",
        ),
        (
            AuditFilter {
                approval_id: Some("apr-1".into()),
                ..Default::default()
            },
            &["aud-4", "aud-1"],
            "AuditFilter::approval_id",
        ),
        (
            AuditFilter {
                incident_id: Some("inc-1".into()),
                ..Default::default()
            },
            &["aud-2", "aud-1"],
            "AuditFilter::incident_id",
        ),
        (
            AuditFilter {
                source_system: Some(Src::FailureWatcher),
                ..Default::default()
            },
            &["aud-5", "aud-2"],
            "AuditFilter::source_system",
        ),
        (
            AuditFilter {
                authorization_channel: Some(Ch::Manual),
                ..Default::default()
            },
            &["aud-3"],
            "AuditFilter::authorization_channel",
        ),
        (
            AuditFilter {
                authorization_channel: Some(Ch::Web),
                ..Default::default()
            },
            &["aud-6"],
            "AuditFilter::authorization_channel keeps the console's `web` apart from `manual`",
        ),
        (
            AuditFilter {
                success: Some(false),
                ..Default::default()
            },
            &["aud-5", "aud-2"],
            "AuditFilter::success",
        ),
        (
            AuditFilter {
                since: Some(at(10)),
                ..Default::default()
            },
            &["aud-6", "aud-5", "aud-4", "aud-3", "aud-2"],
            "AuditFilter::since is inclusive",
        ),
        (
            AuditFilter {
                until: Some(at(20)),
                ..Default::default()
            },
            &["aud-2", "aud-1"],
            "AuditFilter::until is exclusive",
        ),
        (
            AuditFilter {
                since: Some(at(10)),
                until: Some(at(30)),
                ..Default::default()
            },
            &["aud-4", "aud-3", "aud-2"],
            "AuditFilter::since and until make a half-open window",
        ),
        (
            AuditFilter {
                success: Some(true),
                operation_type: Some("action.executed".into()),
                since: Some(at(10)),
                ..Default::default()
            },
            &["aud-3"],
            "audit filters combine with AND",
        ),
    ];
    for (filter, want, clause) in cases {
        same(
            &audit_ids(&*store, &t, filter).await,
            &strings(want),
            clause,
        );
    }
    let paged = all_pages(2, 3, |page| {
        let (store, t) = (store.clone(), t.clone());
        async move {
            let filter = AuditFilter {
                page,
                ..AuditFilter::default()
            };
            ok(store.list_audit(&t, &filter).await, "list_audit")
        }
    })
    .await;
    same(
        &ids(&paged, |e| e.id.clone()),
        &audit_ids(&*store, &t, AuditFilter::default()).await,
        "audit pages concatenate to the full list, in order",
    );
    let filtered = all_pages(1, 3, |page| {
        let (store, t) = (store.clone(), t.clone());
        async move {
            let filter = AuditFilter {
                success: Some(false),
                page,
                ..AuditFilter::default()
            };
            ok(store.list_audit(&t, &filter).await, "list_audit")
        }
    })
    .await;
    same(
        &ids(&filtered, |e| e.id.clone()),
        &vec!["aud-5".to_owned(), "aud-2".to_owned()],
        "paging applies after filtering",
    );
}

/// `limit` is clamped to `1..=PageRequest::MAX_LIMIT` (1001 entries).
pub async fn audit_limit_is_clamped<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let total = PageRequest::MAX_LIMIT as usize + 1;
    let entries: Vec<AuditEntry> = (0..total)
        .map(|i| {
            let micros = i64::try_from(i).unwrap_or(i64::MAX);
            fixtures::audit_entry_bare(&t, &format!("aud-{i:05}"), at_micros(micros))
        })
        .collect();
    for chunk in entries.chunks(50) {
        let writes = chunk.iter().map(|e| store.append_audit(e));
        for res in futures::future::join_all(writes).await {
            ok(res, "append_audit");
        }
    }
    let list = |limit: u32, offset: u64| {
        let (store, t) = (store.clone(), t.clone());
        async move {
            let filter = AuditFilter {
                page: PageRequest::new(limit, offset),
                ..AuditFilter::default()
            };
            ok(store.list_audit(&t, &filter).await, "list_audit")
        }
    };
    let max = list(u32::MAX, 0).await;
    same(
        &max.items.len(),
        &1000,
        "a limit above MAX_LIMIT is clamped to 1000 rows",
    );
    same(
        &max.next_offset,
        &Some(1000),
        "the clamped page points at row 1000",
    );
    same(
        &max.items.first().map(|e| e.id.clone()),
        &Some(format!("aud-{:05}", total - 1)),
        "the newest entry comes first",
    );
    let rest = list(u32::MAX, 1000).await;
    same(
        &ids(&rest.items, |e| e.id.clone()),
        &vec!["aud-00000".to_owned()],
        "the last page holds the oldest entry",
    );
    same(&rest.next_offset, &None, "the last page has no next_offset");
    let one = list(0, 0).await;
    same(
        &(one.items.len(), one.next_offset),
        &(1, Some(1)),
        "limit 0 is clamped to 1",
    );
    let default = ok(
        store.list_audit(&t, &AuditFilter::default()).await,
        "list_audit",
    );
    same(
        &(default.items.len(), default.next_offset),
        &(50, Some(50)),
        "the default page is 50 rows",
    );
}

/// Tenant B never sees tenant A's audit entries; ids do not collide.
pub async fn audit_tenant_isolation<S: StoreAdapter>(store: Arc<S>) {
    let (ta, tb) = (unique_tenant(), unique_tenant());
    let a = fixtures::audit_entry(&ta, "aud-1", at(0));
    ok(store.append_audit(&a).await, "append_audit");
    holds(
        audit_ids(&*store, &tb, AuditFilter::default())
            .await
            .is_empty(),
        "tenant B's audit list never shows tenant A's entries",
    );
    let b = fixtures::audit_entry_bare(&tb, "aud-1", at(1));
    ok(
        store.append_audit(&b).await,
        "the same audit id in another tenant does not collide",
    );
    let page_a = ok(
        store.list_audit(&ta, &AuditFilter::default()).await,
        "list_audit",
    );
    let page_b = ok(
        store.list_audit(&tb, &AuditFilter::default()).await,
        "list_audit",
    );
    same(
        &page_a.items,
        &vec![a],
        "tenant A's log holds only its entry",
    );
    same(
        &page_b.items,
        &vec![b],
        "tenant B's log holds only its entry",
    );
}

// === Timeline ===

async fn timeline_ids<S: StoreAdapter>(
    store: &S,
    t: &TenantId,
    filter: TimelineFilter,
) -> Vec<String> {
    let page = ok(store.list_timeline(t, &filter).await, "list_timeline");
    ids(&page.items, |e| e.id.clone())
}

/// Append/list round trip keeps every field.
pub async fn timeline_round_trip_keeps_every_field<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let full = TimelineEvent {
        title: UNICODE.to_owned(),
        description: Some(UNICODE.to_owned()),
        actor: Some(Actor::new("김민수")),
        status: TimelineStatus::Warning,
        event_type: TimelineEventType::Security,
        risk_level: Some(RiskLevel::Critical),
        ..fixtures::timeline_event(&t, "ev-full", at_micros(3))
    };
    let future = TimelineEvent {
        status: TimelineStatus::Error,
        event_type: TimelineEventType::Exec,
        ..fixtures::timeline_event(&t, "ev-future", far_future())
    };
    let bare = fixtures::timeline_event_bare(&t, "ev-bare", far_past());
    for e in [&full, &future, &bare] {
        ok(
            store.append_timeline(e).await,
            "append_timeline accepts a new event",
        );
    }
    let page = ok(
        store.list_timeline(&t, &TimelineFilter::default()).await,
        "list_timeline",
    );
    same(
        &page.items,
        &vec![future, full, bare],
        "timeline events read back with every field equal, newest first",
    );
}

/// A second append with an existing id is `Conflict` and changes nothing.
pub async fn timeline_duplicate_id_is_conflict<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let e = fixtures::timeline_event(&t, "ev-1", at(0));
    ok(store.append_timeline(&e).await, "append_timeline");
    let again = TimelineEvent {
        title: "replacement".to_owned(),
        ..e.clone()
    };
    conflict(
        store.append_timeline(&again).await,
        "append_timeline with an existing id is Conflict",
    );
    let page = ok(
        store.list_timeline(&t, &TimelineFilter::default()).await,
        "list_timeline",
    );
    same(
        &page.items,
        &vec![e],
        "a rejected duplicate leaves the timeline unchanged",
    );
}

/// Every timeline filter, newest-first order and paging.
pub async fn timeline_filters_order_and_pages<S: StoreAdapter>(store: Arc<S>) {
    use TimelineEventType as Ty;
    let t = unique_tenant();
    let rows = [
        ("ev-1", 0, Some("inc-1"), Some("op-1"), None, Ty::System),
        ("ev-2", 10, Some("inc-1"), None, Some("apr-1"), Ty::Human),
        ("ev-3", 20, None, Some("op-1"), Some("apr-1"), Ty::Exec),
        ("ev-4", 20, Some("inc-2"), Some("op-2"), None, Ty::Human),
        ("ev-5", 30, None, None, Some("apr-2"), Ty::Security),
    ];
    for (id, secs, inc, op, apr, ty) in rows {
        let e = TimelineEvent {
            incident_id: inc.map(IncidentId::new),
            operation_id: op.map(OperationId::new),
            approval_id: apr.map(ApprovalId::new),
            event_type: ty,
            ..fixtures::timeline_event(&t, id, at(secs))
        };
        ok(store.append_timeline(&e).await, "append_timeline");
    }
    let window = |since: Option<Timestamp>, until: Option<Timestamp>| TimelineFilter {
        since,
        until,
        ..TimelineFilter::default()
    };
    let cases: Vec<(TimelineFilter, &[&str], &str)> = vec![
        (
            TimelineFilter::default(),
            &["ev-5", "ev-4", "ev-3", "ev-2", "ev-1"],
            "list_timeline is newest first, ties broken by id descending",
        ),
        (
            TimelineFilter {
                incident_id: Some("inc-1".into()),
                ..Default::default()
            },
            &["ev-2", "ev-1"],
            "TimelineFilter::incident_id",
        ),
        (
            TimelineFilter {
                operation_id: Some("op-1".into()),
                ..Default::default()
            },
            &["ev-3", "ev-1"],
            "TimelineFilter::operation_id",
        ),
        (
            TimelineFilter {
                approval_id: Some("apr-1".into()),
                ..Default::default()
            },
            &["ev-3", "ev-2"],
            "TimelineFilter::approval_id",
        ),
        (
            TimelineFilter {
                event_type: Some(Ty::Human),
                ..Default::default()
            },
            &["ev-4", "ev-2"],
            "TimelineFilter::event_type",
        ),
        (
            window(Some(at(20)), None),
            &["ev-5", "ev-4", "ev-3"],
            "TimelineFilter::since is inclusive",
        ),
        (
            window(None, Some(at(10))),
            &["ev-1"],
            "TimelineFilter::until is exclusive",
        ),
        (
            TimelineFilter {
                approval_id: Some("apr-1".into()),
                event_type: Some(Ty::Exec),
                ..Default::default()
            },
            &["ev-3"],
            "timeline filters combine with AND",
        ),
    ];
    for (filter, want, clause) in cases {
        same(
            &timeline_ids(&*store, &t, filter).await,
            &strings(want),
            clause,
        );
    }
    let paged = all_pages(2, 3, |page| {
        let (store, t) = (store.clone(), t.clone());
        async move {
            let filter = TimelineFilter {
                page,
                ..TimelineFilter::default()
            };
            ok(store.list_timeline(&t, &filter).await, "list_timeline")
        }
    })
    .await;
    same(
        &ids(&paged, |e| e.id.clone()),
        &timeline_ids(&*store, &t, TimelineFilter::default()).await,
        "timeline pages concatenate to the full list, in order",
    );
}

/// Tenant B never sees tenant A's timeline; ids do not collide.
pub async fn timeline_tenant_isolation<S: StoreAdapter>(store: Arc<S>) {
    let (ta, tb) = (unique_tenant(), unique_tenant());
    let a = fixtures::timeline_event(&ta, "ev-1", at(0));
    ok(store.append_timeline(&a).await, "append_timeline");
    let by_incident = TimelineFilter {
        incident_id: a.incident_id.clone(),
        ..TimelineFilter::default()
    };
    holds(
        timeline_ids(&*store, &tb, by_incident).await.is_empty(),
        "tenant B's timeline never shows tenant A's events, even filtered by A's incident id",
    );
    let b = fixtures::timeline_event_bare(&tb, "ev-1", at(1));
    ok(
        store.append_timeline(&b).await,
        "the same event id in another tenant does not collide",
    );
    let page_a = ok(
        store.list_timeline(&ta, &TimelineFilter::default()).await,
        "list_timeline",
    );
    same(
        &page_a.items,
        &vec![a],
        "tenant A's timeline holds only its event",
    );
}
