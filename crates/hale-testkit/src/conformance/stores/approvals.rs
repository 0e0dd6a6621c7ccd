//! Approval store checks.

use std::sync::Arc;

use hale_domain::approval::{ApprovalRequest, ApprovalStatus, Signature};
use hale_domain::record::timeline::TimelineEvent;
use hale_domain::{Actor, ApprovalId, RiskLevel, TenantId};
use hale_engine::ports::{ApprovalFilter, PageRequest, StoreAdapter, TimelineFilter};

use super::support::{
    UNICODE, all_pages, at, at_micros, conflict, far_future, far_past, holds, ids, invalid,
    not_found, ok, same, strings,
};
use crate::fixtures::{self, unique_tenant};

/// The timeline event written together with an approval.
fn event_for(tenant: &TenantId, id: &str, approval: &ApprovalRequest) -> TimelineEvent {
    TimelineEvent {
        approval_id: Some(approval.id.clone()),
        ..fixtures::timeline_event(tenant, id, approval.created_at)
    }
}

fn approval_ids(rows: &[ApprovalRequest]) -> Vec<String> {
    ids(rows, |a| a.id.to_string())
}

async fn timeline_of<S: StoreAdapter>(store: &S, t: &TenantId, id: &ApprovalId) -> Vec<String> {
    let filter = TimelineFilter {
        approval_id: Some(id.clone()),
        ..TimelineFilter::default()
    };
    let page = ok(
        store.list_timeline(t, &filter).await,
        "list_timeline by approval",
    );
    ids(&page.items, |e| e.id.clone())
}

/// Create/get round trip keeps every field: options set and unset, JSON
/// metadata, unicode, microseconds, far-past and far-future instants.
pub async fn approval_round_trip_keeps_every_field<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let mut full = fixtures::approval(&t, "apr-full", at_micros(1));
    full.description = UNICODE.to_owned();
    full.status = ApprovalStatus::Rejected;
    full.risk_level = RiskLevel::Critical;
    full.rejection_reason = Some(UNICODE.to_owned());
    full.rejected_by = Some(Actor::new("bob@example.com"));
    full.resolved_at = Some(far_past());
    full.expires_at = far_future();
    full.signatures.push(Signature {
        identity: Actor::new("카를로스"),
        signed_at: at_micros(999_999),
        comment: None,
    });
    full.metadata.insert(
        "json".to_owned(),
        serde_json::json!({
            "null": null, "bool": false, "neg": -42, "float": 0.25, "big": 9_007_199_254_740_993_u64,
            "text": UNICODE, "list": [1, "two", {"three": [3]}], "empty": {}
        }),
    );
    let bare = fixtures::approval_bare(&t, "apr-bare", at(10));

    for a in [&full, &bare] {
        let ev = event_for(&t, &format!("ev-{}", a.id), a);
        ok(
            store.create_approval(a, &ev).await,
            "create_approval accepts a new request",
        );
        let got = ok(store.get_approval(&t, &a.id).await, "get_approval");
        same(
            &got.as_ref(),
            &Some(a),
            "an approval reads back with every field equal (options set and unset, JSON, unicode, microsecond and far-past/far-future instants)",
        );
        same(
            &timeline_of(&*store, &t, &a.id).await,
            &vec![ev.id.clone()],
            "create_approval writes its timeline event",
        );
    }
    let listed = ok(
        store.list_approvals(&t, &ApprovalFilter::default()).await,
        "list_approvals",
    );
    same(
        &listed.items,
        &vec![bare, full],
        "list_approvals returns every field equal, newest first",
    );
    let absent = ok(
        store.get_approval(&t, &ApprovalId::new("apr-none")).await,
        "get_approval",
    );
    same(&absent, &None, "get_approval of an absent id is Ok(None)");
}

/// A second create with an existing id is `Conflict` and changes nothing.
pub async fn approval_duplicate_id_is_conflict<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let a = fixtures::approval(&t, "apr-1", at(0));
    ok(
        store.create_approval(&a, &event_for(&t, "ev-1", &a)).await,
        "create_approval",
    );
    let mut again = a.clone();
    again.description = "a different proposal".to_owned();
    let ev2 = event_for(&t, "ev-2", &again);
    conflict(
        store.create_approval(&again, &ev2).await,
        "create_approval with an existing id is Conflict",
    );
    let got = ok(store.get_approval(&t, &a.id).await, "get_approval");
    same(
        &got,
        &Some(a.clone()),
        "a rejected duplicate leaves the stored approval unchanged",
    );
    same(
        &timeline_of(&*store, &t, &a.id).await,
        &vec!["ev-1".to_owned()],
        "a rejected duplicate approval writes no timeline event (atomic pair)",
    );
}

/// An approval whose timeline event id already exists is not written at all.
pub async fn approval_create_is_atomic_with_timeline_event<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let existing = fixtures::timeline_event(&t, "ev-taken", at(0));
    ok(store.append_timeline(&existing).await, "append_timeline");
    let a = fixtures::approval(&t, "apr-1", at(1));
    let ev = TimelineEvent {
        title: "would overwrite".to_owned(),
        ..event_for(&t, "ev-taken", &a)
    };
    conflict(
        store.create_approval(&a, &ev).await,
        "create_approval whose timeline event id exists is Conflict",
    );
    same(
        &ok(store.get_approval(&t, &a.id).await, "get_approval"),
        &None,
        "atomic pair: when the event cannot be written, the approval is absent too",
    );
    let page = ok(
        store.list_timeline(&t, &TimelineFilter::default()).await,
        "list_timeline",
    );
    same(
        &page.items,
        &vec![existing],
        "the existing timeline event is unchanged",
    );
}

/// A timeline event of another tenant is `Invalid` and nothing is written.
pub async fn approval_event_of_other_tenant_is_invalid<S: StoreAdapter>(store: Arc<S>) {
    let (t, other) = (unique_tenant(), unique_tenant());
    let a = fixtures::approval(&t, "apr-1", at(0));
    let ev = event_for(&other, "ev-1", &a);
    invalid(
        store.create_approval(&a, &ev).await,
        "create_approval with an event of another tenant is Invalid",
    );
    same(
        &ok(store.get_approval(&t, &a.id).await, "get_approval"),
        &None,
        "a rejected pair writes no approval",
    );
    let page = ok(
        store
            .list_timeline(&other, &TimelineFilter::default())
            .await,
        "list_timeline",
    );
    holds(
        page.items.is_empty(),
        "a rejected pair writes no timeline event",
    );
}

/// `update_approval` is a revision compare-and-set returning `revision + 1`.
pub async fn approval_update_is_revision_cas<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let a = fixtures::approval(&t, "apr-1", at(0));
    ok(
        store.create_approval(&a, &event_for(&t, "ev-0", &a)).await,
        "create_approval",
    );

    let mut signed = a.clone();
    let outcome = signed.sign(
        &Actor::new("bob@example.com"),
        Some(UNICODE.to_owned()),
        at(120),
    );
    holds(
        outcome.is_ok(),
        "fixture approval accepts a second signature",
    );
    let ev1 = event_for(&t, "ev-1", &signed);
    let rev = ok(
        store.update_approval(&signed, Some(&ev1)).await,
        "update_approval with the stored revision succeeds",
    );
    same(&rev, &1, "update_approval returns the stored revision + 1");
    let got = ok(store.get_approval(&t, &a.id).await, "get_approval");
    let want = ApprovalRequest {
        revision: 1,
        ..signed.clone()
    };
    same(
        &got,
        &Some(want.clone()),
        "the update is stored with every field and the new revision",
    );

    let mut stale = a.clone();
    stale.description = "stale writer".to_owned();
    conflict(
        store.update_approval(&stale, None).await,
        "update_approval with a stale revision is Conflict",
    );
    stale.revision = 7;
    conflict(
        store.update_approval(&stale, None).await,
        "update_approval with a revision ahead of the stored one is Conflict",
    );
    same(
        &ok(store.get_approval(&t, &a.id).await, "get_approval"),
        &Some(want.clone()),
        "a lost compare-and-set changes nothing",
    );
    let rev = ok(
        store.update_approval(&want, None).await,
        "update_approval without an event succeeds",
    );
    same(&rev, &2, "each update bumps the revision by one");
    same(
        &timeline_of(&*store, &t, &a.id).await,
        &vec!["ev-1".to_owned(), "ev-0".to_owned()],
        "update_approval appends its timeline event",
    );
}

/// Updating an absent approval is `NotFound` and creates nothing.
pub async fn approval_update_of_absent_is_not_found<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let a = fixtures::approval(&t, "apr-ghost", at(0));
    not_found(
        store.update_approval(&a, None).await,
        "update_approval of an absent id is NotFound",
    );
    let ev = event_for(&t, "ev-ghost", &a);
    not_found(
        store.update_approval(&a, Some(&ev)).await,
        "update_approval of an absent id is NotFound (with an event)",
    );
    same(
        &ok(store.get_approval(&t, &a.id).await, "get_approval"),
        &None,
        "update_approval never inserts",
    );
    holds(
        timeline_of(&*store, &t, &a.id).await.is_empty(),
        "a failed update writes no timeline event",
    );
}

/// An update whose timeline event id exists leaves the approval unchanged.
pub async fn approval_update_is_atomic_with_timeline_event<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let a = fixtures::approval(&t, "apr-1", at(0));
    ok(
        store.create_approval(&a, &event_for(&t, "ev-0", &a)).await,
        "create_approval",
    );
    let mut rejected = a.clone();
    holds(
        rejected
            .reject(&Actor::new("bob@example.com"), "wrong target", at(60))
            .is_ok(),
        "fixture approval can be rejected",
    );
    conflict(
        store
            .update_approval(&rejected, Some(&event_for(&t, "ev-0", &rejected)))
            .await,
        "update_approval whose timeline event id exists is Conflict",
    );
    same(
        &ok(store.get_approval(&t, &a.id).await, "get_approval"),
        &Some(a.clone()),
        "atomic pair: when the event cannot be written, the approval keeps its old state and revision",
    );
    let rev = ok(
        store
            .update_approval(&rejected, Some(&event_for(&t, "ev-1", &rejected)))
            .await,
        "the same update with a fresh event id succeeds",
    );
    same(&rev, &1, "the failed update did not bump the revision");
}

/// Every filter, newest-first order (ties by id, descending) and paging.
pub async fn approval_list_filters_order_and_pages<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let r1 = fixtures::resource("prod", "checkout");
    let r2 = fixtures::resource("prod", "payments");
    let rows = [
        ("apr-1", 0, ApprovalStatus::Approved, &r1),
        ("apr-2", 10, ApprovalStatus::Pending, &r2),
        ("apr-3", 20, ApprovalStatus::Pending, &r1),
        // Same instant as apr-3: the id breaks the tie.
        ("apr-4", 20, ApprovalStatus::Rejected, &r1),
        ("apr-5", 30, ApprovalStatus::Pending, &r1),
    ];
    for (id, secs, status, resource) in rows {
        let mut a = fixtures::approval(&t, id, at(secs));
        a.status = status;
        a.resource = resource.clone();
        ok(
            store
                .create_approval(&a, &event_for(&t, &format!("ev-{id}"), &a))
                .await,
            "create_approval",
        );
    }
    let list = |filter: ApprovalFilter| {
        let store = store.clone();
        let t = t.clone();
        async move { ok(store.list_approvals(&t, &filter).await, "list_approvals") }
    };
    let all = list(ApprovalFilter::default()).await;
    same(
        &approval_ids(&all.items),
        &strings(&["apr-5", "apr-4", "apr-3", "apr-2", "apr-1"]),
        "list_approvals is newest first, ties broken by id descending",
    );
    same(
        &all.next_offset,
        &None,
        "a complete page has no next_offset",
    );
    let pending = list(ApprovalFilter {
        status: Some(ApprovalStatus::Pending),
        ..ApprovalFilter::default()
    })
    .await;
    same(
        &approval_ids(&pending.items),
        &strings(&["apr-5", "apr-3", "apr-2"]),
        "ApprovalFilter::status keeps only that status",
    );
    let on_r1 = list(ApprovalFilter {
        resource: Some(r1.clone()),
        ..ApprovalFilter::default()
    })
    .await;
    same(
        &approval_ids(&on_r1.items),
        &strings(&["apr-5", "apr-4", "apr-3", "apr-1"]),
        "ApprovalFilter::resource keeps only that resource",
    );
    let both = list(ApprovalFilter {
        status: Some(ApprovalStatus::Pending),
        resource: Some(r2.clone()),
        ..ApprovalFilter::default()
    })
    .await;
    same(
        &approval_ids(&both.items),
        &vec!["apr-2".to_owned()],
        "filters combine with AND",
    );

    let seen = all_pages(2, 3, |page| {
        list(ApprovalFilter {
            page,
            ..ApprovalFilter::default()
        })
    })
    .await;
    same(
        &approval_ids(&seen),
        &approval_ids(&all.items),
        "pages concatenate to the full list, in order",
    );
    let clamped = list(ApprovalFilter {
        page: PageRequest::new(0, 0),
        ..ApprovalFilter::default()
    })
    .await;
    same(
        &approval_ids(&clamped.items),
        &vec!["apr-5".to_owned()],
        "limit 0 is clamped to 1",
    );
    same(
        &clamped.next_offset,
        &Some(1),
        "a clamped page still points at the next row",
    );
    let beyond = list(ApprovalFilter {
        page: PageRequest::new(10, 50),
        ..ApprovalFilter::default()
    })
    .await;
    holds(
        beyond.items.is_empty() && beyond.next_offset.is_none(),
        "an offset past the end gives an empty last page",
    );
}

/// `pending_approval_for` is the oldest pending request of that resource.
pub async fn approval_pending_for_resource_is_oldest_pending<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let r1 = fixtures::resource("prod", "checkout");
    let r2 = fixtures::resource("prod", "payments");
    let rows = [
        ("apr-approved", -100, ApprovalStatus::Approved, &r1),
        ("apr-old", -50, ApprovalStatus::Pending, &r1),
        ("apr-new", -10, ApprovalStatus::Pending, &r1),
        ("apr-other", -200, ApprovalStatus::Pending, &r2),
    ];
    for (id, secs, status, resource) in rows {
        let mut a = fixtures::approval(&t, id, at(secs));
        a.status = status;
        a.resource = resource.clone();
        ok(
            store
                .create_approval(&a, &event_for(&t, &format!("ev-{id}"), &a))
                .await,
            "create_approval",
        );
    }
    let pending = |r: hale_domain::ResourceRef| {
        let store = store.clone();
        let t = t.clone();
        async move {
            ok(
                store.pending_approval_for(&t, &r).await,
                "pending_approval_for",
            )
            .map(|a| a.id.to_string())
        }
    };
    same(
        &pending(r1.clone()).await,
        &Some("apr-old".to_owned()),
        "pending_approval_for returns the oldest pending request of that resource",
    );
    same(
        &pending(fixtures::resource("prod", "search")).await,
        &None,
        "pending_approval_for a resource without requests is None",
    );
    let mut old = ok(
        store.get_approval(&t, &ApprovalId::new("apr-old")).await,
        "get_approval",
    )
    .unwrap_or_else(|| panic!("store contract broken: created approval apr-old is missing"));
    old.expire(at(0));
    ok(store.update_approval(&old, None).await, "update_approval");
    same(
        &pending(r1).await,
        &Some("apr-new".to_owned()),
        "once the oldest leaves PENDING, the next pending request is returned",
    );
}

/// Pending requests with `expires_at <= now`, oldest first, at most `limit`.
pub async fn approvals_due_for_expiry_are_pending_and_oldest_first<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let now = at(1000);
    // (id, created, expires, status): creation and expiry orders agree.
    let rows = [
        ("apr-a", 0, 500, ApprovalStatus::Pending),
        ("apr-e", 5, 900, ApprovalStatus::Pending),
        ("apr-b", 10, 1000, ApprovalStatus::Pending),
        ("apr-c", 15, 1001, ApprovalStatus::Pending),
        ("apr-d", -5, 100, ApprovalStatus::Approved),
    ];
    for (id, created, expires, status) in rows {
        let mut a = fixtures::approval(&t, id, at(created));
        a.expires_at = at(expires);
        a.status = status;
        ok(
            store
                .create_approval(&a, &event_for(&t, &format!("ev-{id}"), &a))
                .await,
            "create_approval",
        );
    }
    let due = ok(
        store.approvals_due_for_expiry(&t, now, 100).await,
        "approvals_due_for_expiry",
    );
    same(
        &approval_ids(&due),
        &strings(&["apr-a", "apr-e", "apr-b"]),
        "approvals_due_for_expiry returns pending requests expiring at or before now, oldest first",
    );
    let two = ok(
        store.approvals_due_for_expiry(&t, now, 2).await,
        "approvals_due_for_expiry",
    );
    same(
        &approval_ids(&two),
        &strings(&["apr-a", "apr-e"]),
        "approvals_due_for_expiry honours its limit",
    );
    let other = ok(
        store
            .approvals_due_for_expiry(&unique_tenant(), now, 100)
            .await,
        "approvals_due_for_expiry",
    );
    holds(
        other.is_empty(),
        "approvals_due_for_expiry never returns another tenant's rows",
    );
}

/// Tenant B cannot read, list, find or update tenant A's approvals, and the
/// same id in two tenants names two rows.
pub async fn approval_tenant_isolation<S: StoreAdapter>(store: Arc<S>) {
    let (ta, tb) = (unique_tenant(), unique_tenant());
    let a = fixtures::approval(&ta, "apr-1", at(0));
    ok(
        store.create_approval(&a, &event_for(&ta, "ev-1", &a)).await,
        "create_approval",
    );

    same(
        &ok(store.get_approval(&tb, &a.id).await, "get_approval"),
        &None,
        "tenant B reads tenant A's approval id as absent",
    );
    holds(
        ok(
            store.list_approvals(&tb, &ApprovalFilter::default()).await,
            "list_approvals",
        )
        .items
        .is_empty(),
        "tenant B's list never shows tenant A's approvals",
    );
    same(
        &ok(
            store.pending_approval_for(&tb, &a.resource).await,
            "pending_approval_for",
        ),
        &None,
        "pending_approval_for never returns another tenant's request",
    );
    let hijack = ApprovalRequest {
        tenant: tb.clone(),
        description: "hijacked".to_owned(),
        ..a.clone()
    };
    not_found(
        store.update_approval(&hijack, None).await,
        "tenant B updating tenant A's approval id is NotFound",
    );
    same(
        &ok(store.get_approval(&ta, &a.id).await, "get_approval"),
        &Some(a.clone()),
        "no write for tenant B changes tenant A's approval",
    );

    let b = fixtures::approval_bare(&tb, "apr-1", at(5));
    ok(
        store.create_approval(&b, &event_for(&tb, "ev-1", &b)).await,
        "the same approval and event ids in another tenant do not collide",
    );
    ok(
        store.update_approval(&b, None).await,
        "update_approval in tenant B",
    );
    same(
        &ok(store.get_approval(&ta, &a.id).await, "get_approval"),
        &Some(a),
        "tenant B's update of its own apr-1 leaves tenant A's apr-1 unchanged",
    );
    same(
        &ok(store.get_approval(&tb, &b.id).await, "get_approval").map(|x| x.description),
        &Some(b.description),
        "tenant B reads its own apr-1",
    );
}
