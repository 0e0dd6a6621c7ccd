//! Knowledge store checks, including the anti-pattern lookup.

use std::sync::Arc;

use hale_domain::anti_pattern::SymptomsHash;
use hale_domain::record::knowledge::{EntryStatus, EntryType, KnowledgeEntry};
use hale_domain::{KnowledgeId, TenantId};
use hale_engine::ports::{KnowledgeFilter, StoreAdapter};

use super::support::{
    UNICODE, all_pages, at, at_micros, conflict, far_future, far_past, holds, ids, join_all,
    not_found, ok, same, strings,
};
use crate::fixtures::{self, unique_tenant};

async fn get<S: StoreAdapter>(store: &S, t: &TenantId, id: &str) -> Option<KnowledgeEntry> {
    ok(
        store.get_knowledge(t, &KnowledgeId::new(id)).await,
        "get_knowledge",
    )
}

async fn knowledge_ids<S: StoreAdapter>(
    store: &S,
    t: &TenantId,
    filter: KnowledgeFilter,
) -> Vec<String> {
    let page = ok(store.list_knowledge(t, &filter).await, "list_knowledge");
    ids(&page.items, |e| e.id.to_string())
}

async fn active_ids<S: StoreAdapter>(store: &S, t: &TenantId, h: &SymptomsHash) -> Vec<String> {
    let rows = ok(
        store.active_anti_patterns(t, h).await,
        "active_anti_patterns",
    );
    let mut out = ids(&rows, |e| e.id.to_string());
    // The port does not order this list; compare as a set.
    out.sort();
    out
}

/// Create/get round trip keeps every field.
pub async fn knowledge_round_trip_keeps_every_field<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let full = KnowledgeEntry {
        title: UNICODE.to_owned(),
        content: format!("{UNICODE}\n\n```sh\nkubectl rollout restart deploy/checkout\n```"),
        tags: vec!["재시작".to_owned(), "checkout".to_owned()],
        view_count: u64::from(u32::MAX) + 7,
        ..fixtures::knowledge_entry(&t, "kn-full", at_micros(5))
    };
    // far_future() is the latest instant the suite stores; the fixture sets
    // updated_at ten minutes after the instant it is given, so pin it.
    let anti = KnowledgeEntry {
        updated_at: far_future(),
        ..fixtures::anti_pattern(
            &t,
            "kn-anti",
            &fixtures::symptoms("HighErrorRate", "checkout"),
            "restart-on-errors",
            far_future(),
        )
    };
    let bare = fixtures::knowledge_entry_bare(&t, "kn-bare", far_past());
    for e in [&full, &anti, &bare] {
        ok(
            store.create_knowledge(e).await,
            "create_knowledge accepts a new entry",
        );
        same(
            &get(&*store, &t, e.id.as_str()).await.as_ref(),
            &Some(e),
            "a knowledge entry reads back with every field equal (options set and unset, unicode, microsecond and far-past/far-future instants)",
        );
    }
    let page = ok(
        store.list_knowledge(&t, &KnowledgeFilter::default()).await,
        "list_knowledge",
    );
    same(
        &page.items,
        &vec![anti, full, bare],
        "list_knowledge returns every field equal, newest first",
    );
    same(
        &get(&*store, &t, "kn-none").await,
        &None,
        "get_knowledge of an absent id is Ok(None)",
    );
}

/// A second create with an existing id is `Conflict` and changes nothing.
pub async fn knowledge_duplicate_id_is_conflict<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let e = fixtures::knowledge_entry(&t, "kn-1", at(0));
    ok(store.create_knowledge(&e).await, "create_knowledge");
    let again = KnowledgeEntry {
        title: "other".to_owned(),
        ..e.clone()
    };
    conflict(
        store.create_knowledge(&again).await,
        "create_knowledge with an existing id is Conflict",
    );
    same(
        &get(&*store, &t, "kn-1").await,
        &Some(e),
        "a rejected duplicate leaves the entry unchanged",
    );
}

/// `update_knowledge` replaces the whole entry; an absent one is `NotFound`.
pub async fn knowledge_update_replaces_and_absent_is_not_found<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let e = fixtures::knowledge_entry(&t, "kn-1", at(0));
    ok(store.create_knowledge(&e).await, "create_knowledge");
    let replaced = KnowledgeEntry {
        status: EntryStatus::Archived,
        tags: Vec::new(),
        related_incident_id: None,
        created_by: None,
        content: UNICODE.to_owned(),
        updated_at: at_micros(77),
        ..e.clone()
    };
    ok(
        store.update_knowledge(&replaced).await,
        "update_knowledge of a stored entry succeeds",
    );
    same(
        &get(&*store, &t, "kn-1").await,
        &Some(replaced.clone()),
        "update_knowledge replaces every field (options may become None)",
    );
    let ghost = fixtures::knowledge_entry(&t, "kn-ghost", at(0));
    not_found(
        store.update_knowledge(&ghost).await,
        "update_knowledge of an absent id is NotFound",
    );
    same(
        &get(&*store, &t, "kn-ghost").await,
        &None,
        "update_knowledge never inserts",
    );
}

/// Every knowledge filter, newest-first order and paging.
pub async fn knowledge_filters_order_and_pages<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let h1 = fixtures::symptoms("HighErrorRate", "checkout");
    let h2 = fixtures::symptoms("HighErrorRate", "payments");
    let rows = [
        ("kn-1", 0, EntryType::Runbook, EntryStatus::Approved, None),
        (
            "kn-2",
            10,
            EntryType::AntiPattern,
            EntryStatus::Approved,
            Some(&h1),
        ),
        (
            "kn-3",
            20,
            EntryType::Postmortem,
            EntryStatus::Draft,
            Some(&h1),
        ),
        (
            "kn-4",
            20,
            EntryType::AntiPattern,
            EntryStatus::Archived,
            Some(&h2),
        ),
        ("kn-5", 30, EntryType::Runbook, EntryStatus::Draft, None),
    ];
    for (id, secs, entry_type, status, hash) in rows {
        let e = KnowledgeEntry {
            entry_type,
            status,
            symptoms_hash: hash.cloned(),
            ..fixtures::knowledge_entry(&t, id, at(secs))
        };
        ok(store.create_knowledge(&e).await, "create_knowledge");
    }
    let cases: Vec<(KnowledgeFilter, &[&str], &str)> = vec![
        (
            KnowledgeFilter::default(),
            &["kn-5", "kn-4", "kn-3", "kn-2", "kn-1"],
            "list_knowledge is newest first, ties broken by id descending",
        ),
        (
            KnowledgeFilter {
                entry_type: Some(EntryType::Runbook),
                ..Default::default()
            },
            &["kn-5", "kn-1"],
            "KnowledgeFilter::entry_type",
        ),
        (
            KnowledgeFilter {
                status: Some(EntryStatus::Draft),
                ..Default::default()
            },
            &["kn-5", "kn-3"],
            "KnowledgeFilter::status",
        ),
        (
            KnowledgeFilter {
                symptoms_hash: Some(h1.clone()),
                ..Default::default()
            },
            &["kn-3", "kn-2"],
            "KnowledgeFilter::symptoms_hash",
        ),
        (
            KnowledgeFilter {
                entry_type: Some(EntryType::AntiPattern),
                symptoms_hash: Some(h1.clone()),
                ..Default::default()
            },
            &["kn-2"],
            "knowledge filters combine with AND",
        ),
    ];
    for (filter, want, clause) in cases {
        same(
            &knowledge_ids(&*store, &t, filter).await,
            &strings(want),
            clause,
        );
    }
    let paged = all_pages(2, 3, |page| {
        let (store, t) = (store.clone(), t.clone());
        async move {
            let filter = KnowledgeFilter {
                page,
                ..KnowledgeFilter::default()
            };
            ok(store.list_knowledge(&t, &filter).await, "list_knowledge")
        }
    })
    .await;
    same(
        &ids(&paged, |e| e.id.to_string()),
        &knowledge_ids(&*store, &t, KnowledgeFilter::default()).await,
        "knowledge pages concatenate to the full list, in order",
    );
}

/// `active_anti_patterns` returns anti-pattern entries of that hash that are
/// not archived, and nothing else.
pub async fn active_anti_patterns_skip_archived_and_other_hashes<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let h1 = fixtures::symptoms("HighErrorRate", "checkout");
    let h2 = fixtures::symptoms("HighErrorRate", "payments");
    let rows = [
        ("ap-1", &h1, EntryStatus::Approved),
        ("ap-2", &h1, EntryStatus::Archived),
        ("ap-3", &h2, EntryStatus::Approved),
        ("ap-4", &h1, EntryStatus::Draft),
    ];
    for (i, (id, hash, status)) in rows.into_iter().enumerate() {
        let secs = i64::try_from(i).unwrap_or(0);
        let e = KnowledgeEntry {
            status,
            ..fixtures::anti_pattern(&t, id, hash, "restart-on-errors", at(secs))
        };
        ok(store.create_knowledge(&e).await, "create_knowledge");
    }
    // A runbook with the same hash is not an anti-pattern.
    let runbook = KnowledgeEntry {
        symptoms_hash: Some(h1.clone()),
        ..fixtures::knowledge_entry(&t, "kn-runbook", at(9))
    };
    ok(store.create_knowledge(&runbook).await, "create_knowledge");

    same(
        &active_ids(&*store, &t, &h1).await,
        &vec!["ap-1".to_owned(), "ap-4".to_owned()],
        "active_anti_patterns returns the non-archived anti-patterns of that hash only",
    );
    let mut ap1 = get(&*store, &t, "ap-1")
        .await
        .unwrap_or_else(|| panic!("store contract broken: ap-1 is missing"));
    ap1.status = EntryStatus::Archived;
    ok(store.update_knowledge(&ap1).await, "update_knowledge");
    same(
        &active_ids(&*store, &t, &h1).await,
        &vec!["ap-4".to_owned()],
        "archiving an anti-pattern lifts it",
    );
    holds(
        active_ids(&*store, &unique_tenant(), &h1).await.is_empty(),
        "active_anti_patterns never returns another tenant's entries",
    );
    holds(
        active_ids(&*store, &t, &fixtures::symptoms("DiskFull", "checkout"))
            .await
            .is_empty(),
        "a hash without entries has no anti-patterns",
    );
}

/// `record_knowledge_view` adds one per call, atomically; absent is `NotFound`.
pub async fn knowledge_view_increments<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let e = fixtures::knowledge_entry(&t, "kn-1", at(0));
    let other = fixtures::knowledge_entry(&t, "kn-2", at(1));
    ok(store.create_knowledge(&e).await, "create_knowledge");
    ok(store.create_knowledge(&other).await, "create_knowledge");
    for _ in 0..3 {
        ok(
            store.record_knowledge_view(&t, &e.id).await,
            "record_knowledge_view",
        );
    }
    let views = |id: &'static str| {
        let (store, t) = (store.clone(), t.clone());
        async move { get(&*store, &t, id).await.map(|e| e.view_count) }
    };
    same(
        &views("kn-1").await,
        &Some(e.view_count + 3),
        "each record_knowledge_view adds one view",
    );
    same(
        &views("kn-2").await,
        &Some(other.view_count),
        "record_knowledge_view touches only its entry",
    );
    let tasks = (0..20)
        .map(|_| {
            let (store, t, id) = (store.clone(), t.clone(), e.id.clone());
            tokio::spawn(async move { store.record_knowledge_view(&t, &id).await })
        })
        .collect();
    for res in join_all(tasks).await {
        ok(res, "record_knowledge_view");
    }
    same(
        &views("kn-1").await,
        &Some(e.view_count + 23),
        "concurrent views are all counted (atomic increment)",
    );
    not_found(
        store
            .record_knowledge_view(&t, &KnowledgeId::new("kn-ghost"))
            .await,
        "record_knowledge_view of an absent id is NotFound",
    );
}

/// Tenant B cannot read, list, update, view or match tenant A's entries.
pub async fn knowledge_tenant_isolation<S: StoreAdapter>(store: Arc<S>) {
    let (ta, tb) = (unique_tenant(), unique_tenant());
    let h = fixtures::symptoms("HighErrorRate", "checkout");
    let a = fixtures::anti_pattern(&ta, "kn-1", &h, "restart-on-errors", at(0));
    ok(store.create_knowledge(&a).await, "create_knowledge");
    same(
        &get(&*store, &tb, "kn-1").await,
        &None,
        "tenant B reads tenant A's entry id as absent",
    );
    holds(
        knowledge_ids(&*store, &tb, KnowledgeFilter::default())
            .await
            .is_empty(),
        "tenant B's list never shows tenant A's entries",
    );
    holds(
        active_ids(&*store, &tb, &h).await.is_empty(),
        "tenant B matches none of tenant A's anti-patterns",
    );
    not_found(
        store.record_knowledge_view(&tb, &a.id).await,
        "tenant B viewing tenant A's entry id is NotFound",
    );
    let hijack = KnowledgeEntry {
        tenant: tb.clone(),
        status: EntryStatus::Archived,
        ..a.clone()
    };
    not_found(
        store.update_knowledge(&hijack).await,
        "tenant B updating tenant A's entry id is NotFound",
    );
    same(
        &get(&*store, &ta, "kn-1").await,
        &Some(a.clone()),
        "no write for tenant B changes tenant A's entry",
    );
    let b = fixtures::knowledge_entry_bare(&tb, "kn-1", at(1));
    ok(
        store.create_knowledge(&b).await,
        "the same entry id in another tenant does not collide",
    );
    ok(
        store.record_knowledge_view(&tb, &b.id).await,
        "record_knowledge_view in tenant B",
    );
    same(
        &get(&*store, &ta, "kn-1").await,
        &Some(a),
        "tenant B's view leaves tenant A's count unchanged",
    );
}
