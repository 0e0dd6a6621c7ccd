//! Incident store checks.

use std::sync::Arc;

use hale_domain::alert::AlertStatus;
use hale_domain::record::incident::{DecisionStep, Incident, IncidentStatus, Signal};
use hale_domain::{IncidentId, Severity, TenantId};
use hale_engine::ports::{IncidentFilter, PageRequest, StoreAdapter};

use super::support::{
    UNICODE, all_pages, at, at_micros, conflict, far_future, far_past, holds, ids, not_found, ok,
    same, strings,
};
use crate::fixtures::{self, unique_tenant};

async fn get<S: StoreAdapter>(store: &S, t: &TenantId, id: &str) -> Option<Incident> {
    ok(
        store.get_incident(t, &IncidentId::new(id)).await,
        "get_incident",
    )
}

async fn incident_ids<S: StoreAdapter>(
    store: &S,
    t: &TenantId,
    filter: IncidentFilter,
) -> Vec<String> {
    let page = ok(store.list_incidents(t, &filter).await, "list_incidents");
    ids(&page.items, |i| i.id.to_string())
}

/// Create/get round trip keeps every field.
pub async fn incident_round_trip_keeps_every_field<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let mut full = fixtures::incident(&t, "INC-20270115-FULL01", at_micros(11));
    full.title = UNICODE.to_owned();
    full.status = IncidentStatus::Closed;
    full.severity = Severity::P0;
    full.outcome = Some(fixtures::incident_outcome());
    full.resolved_at = Some(far_past());
    full.closed_at = Some(far_future());
    full.ttl_days = 30;
    full.affected_services.push("검색".to_owned());
    full.push_signal(Signal {
        alertname: "HighLatency".to_owned(),
        status: AlertStatus::Resolved,
        fingerprint: fixtures::fingerprint("HighLatency", "checkout"),
        received_at: at_micros(999_999),
        summary: None,
    });
    full.push_decision(DecisionStep {
        at: at_micros(1_000_001),
        stage: "guard".to_owned(),
        decision: "blocked".to_owned(),
        reason: UNICODE.to_owned(),
    });
    let bare = fixtures::incident_bare(&t, "INC-20270115-BARE01", at(10));
    for i in [&full, &bare] {
        ok(
            store.create_incident(i).await,
            "create_incident accepts a new incident",
        );
        same(
            &get(&*store, &t, i.id.as_str()).await.as_ref(),
            &Some(i),
            "an incident reads back with every field equal (options set and unset, nested lists, unicode, microsecond and far-past/far-future instants)",
        );
    }
    let page = ok(
        store.list_incidents(&t, &IncidentFilter::default()).await,
        "list_incidents",
    );
    same(
        &page.items,
        &vec![bare, full],
        "list_incidents returns every field equal, newest first",
    );
    same(
        &get(&*store, &t, "INC-NONE").await,
        &None,
        "get_incident of an absent id is Ok(None)",
    );
}

/// A second create with an existing id is `Conflict` and changes nothing.
pub async fn incident_duplicate_id_is_conflict<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let i = fixtures::incident(&t, "INC-1", at(0));
    ok(store.create_incident(&i).await, "create_incident");
    let again = Incident {
        title: "another".to_owned(),
        ..i.clone()
    };
    conflict(
        store.create_incident(&again).await,
        "create_incident with an existing id is Conflict",
    );
    same(
        &get(&*store, &t, "INC-1").await,
        &Some(i),
        "a rejected duplicate leaves the incident unchanged",
    );
}

/// `update_incident` is a revision compare-and-set returning `revision + 1`.
pub async fn incident_update_is_revision_cas<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let i = fixtures::incident_bare(&t, "INC-1", at(0));
    ok(store.create_incident(&i).await, "create_incident");
    let mut next = i.clone();
    next.status = IncidentStatus::Resolved;
    next.resolved_at = Some(at(300));
    next.outcome = Some(fixtures::incident_outcome());
    next.updated_at = at(300);
    let rev = ok(
        store.update_incident(&next).await,
        "update_incident with the stored revision succeeds",
    );
    same(&rev, &1, "update_incident returns the stored revision + 1");
    let want = Incident {
        revision: 1,
        ..next.clone()
    };
    same(
        &get(&*store, &t, "INC-1").await,
        &Some(want.clone()),
        "the update is stored with every field and the new revision",
    );
    let stale = Incident {
        title: "stale".to_owned(),
        ..i.clone()
    };
    conflict(
        store.update_incident(&stale).await,
        "update_incident with a stale revision is Conflict",
    );
    let ahead = Incident {
        revision: 9,
        ..stale
    };
    conflict(
        store.update_incident(&ahead).await,
        "update_incident with a revision ahead of the stored one is Conflict",
    );
    same(
        &get(&*store, &t, "INC-1").await,
        &Some(want.clone()),
        "a lost compare-and-set changes nothing",
    );
    same(
        &ok(store.update_incident(&want).await, "update_incident"),
        &2,
        "each update bumps the revision by one",
    );
}

/// Updating an absent incident is `NotFound` and creates nothing.
pub async fn incident_update_of_absent_is_not_found<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let i = fixtures::incident(&t, "INC-GHOST", at(0));
    not_found(
        store.update_incident(&i).await,
        "update_incident of an absent id is NotFound",
    );
    same(
        &get(&*store, &t, "INC-GHOST").await,
        &None,
        "update_incident never inserts",
    );
}

/// Every incident filter, newest-first order and paging.
pub async fn incident_filters_order_and_pages<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let rows = [
        ("INC-1", 0, IncidentStatus::Resolved, Severity::P1),
        ("INC-2", 10, IncidentStatus::Investigating, Severity::P0),
        ("INC-3", 20, IncidentStatus::Investigating, Severity::P1),
        ("INC-4", 20, IncidentStatus::Escalated, Severity::P2),
        ("INC-5", 30, IncidentStatus::Investigating, Severity::P1),
    ];
    for (id, secs, status, severity) in rows {
        let i = Incident {
            status,
            severity,
            ..fixtures::incident(&t, id, at(secs))
        };
        ok(store.create_incident(&i).await, "create_incident");
    }
    let cases: Vec<(IncidentFilter, &[&str], &str)> = vec![
        (
            IncidentFilter::default(),
            &["INC-5", "INC-4", "INC-3", "INC-2", "INC-1"],
            "list_incidents is newest first, ties broken by id descending",
        ),
        (
            IncidentFilter {
                status: Some(IncidentStatus::Investigating),
                ..Default::default()
            },
            &["INC-5", "INC-3", "INC-2"],
            "IncidentFilter::status",
        ),
        (
            IncidentFilter {
                severity: Some(Severity::P1),
                ..Default::default()
            },
            &["INC-5", "INC-3", "INC-1"],
            "IncidentFilter::severity",
        ),
        (
            IncidentFilter {
                since: Some(at(20)),
                ..Default::default()
            },
            &["INC-5", "INC-4", "INC-3"],
            "IncidentFilter::since is inclusive",
        ),
        (
            IncidentFilter {
                until: Some(at(20)),
                ..Default::default()
            },
            &["INC-2", "INC-1"],
            "IncidentFilter::until is exclusive",
        ),
        (
            IncidentFilter {
                status: Some(IncidentStatus::Investigating),
                severity: Some(Severity::P1),
                until: Some(at(30)),
                ..Default::default()
            },
            &["INC-3"],
            "incident filters combine with AND",
        ),
    ];
    for (filter, want, clause) in cases {
        same(
            &incident_ids(&*store, &t, filter).await,
            &strings(want),
            clause,
        );
    }
    let paged = all_pages(2, 3, |page| {
        let (store, t) = (store.clone(), t.clone());
        async move {
            let filter = IncidentFilter {
                page,
                ..IncidentFilter::default()
            };
            ok(store.list_incidents(&t, &filter).await, "list_incidents")
        }
    })
    .await;
    same(
        &ids(&paged, |i| i.id.to_string()),
        &incident_ids(&*store, &t, IncidentFilter::default()).await,
        "incident pages concatenate to the full list, in order",
    );
    let clamped = IncidentFilter {
        page: PageRequest::new(0, 4),
        ..IncidentFilter::default()
    };
    let page = ok(store.list_incidents(&t, &clamped).await, "list_incidents");
    same(
        &(ids(&page.items, |i| i.id.to_string()), page.next_offset),
        &(vec!["INC-1".to_owned()], None),
        "limit 0 is clamped to 1 and the last row has no next page",
    );
}

/// `open_incident_for` is the newest incident of that fingerprint whose
/// status is investigating, mitigating or escalated.
pub async fn open_incident_for_is_newest_open<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let f1 = fixtures::fingerprint("HighErrorRate", "checkout");
    let f2 = fixtures::fingerprint("HighErrorRate", "payments");
    let rows = [
        ("INC-old", 0, IncidentStatus::Investigating, &f1),
        ("INC-mid", 10, IncidentStatus::Escalated, &f1),
        ("INC-resolved", 20, IncidentStatus::Resolved, &f1),
        ("INC-closed", 30, IncidentStatus::Closed, &f1),
        ("INC-other", 40, IncidentStatus::Mitigating, &f2),
    ];
    for (id, secs, status, fp) in rows {
        let i = Incident {
            status,
            fingerprint: fp.clone(),
            ..fixtures::incident(&t, id, at(secs))
        };
        ok(store.create_incident(&i).await, "create_incident");
    }
    let open = |fp: hale_domain::convergence::Fingerprint| {
        let (store, t) = (store.clone(), t.clone());
        async move {
            ok(store.open_incident_for(&t, &fp).await, "open_incident_for")
                .map(|i| i.id.to_string())
        }
    };
    same(
        &open(f1.clone()).await,
        &Some("INC-mid".to_owned()),
        "open_incident_for returns the newest open incident, skipping resolved and closed ones",
    );
    same(
        &open(f2.clone()).await,
        &Some("INC-other".to_owned()),
        "mitigating counts as open",
    );
    let mut mid = get(&*store, &t, "INC-mid")
        .await
        .unwrap_or_else(|| panic!("store contract broken: INC-mid is missing"));
    mid.status = IncidentStatus::Resolved;
    ok(store.update_incident(&mid).await, "update_incident");
    same(
        &open(f1.clone()).await,
        &Some("INC-old".to_owned()),
        "a resolved incident is no longer open",
    );
    same(
        &ok(
            store.open_incident_for(&unique_tenant(), &f1).await,
            "open_incident_for",
        ),
        &None,
        "open_incident_for never returns another tenant's incident",
    );
    same(
        &open(fixtures::fingerprint("DiskFull", "checkout")).await,
        &None,
        "a fingerprint without incidents has no open incident",
    );
}

/// Tenant B cannot read, list or update tenant A's incidents; ids do not collide.
pub async fn incident_tenant_isolation<S: StoreAdapter>(store: Arc<S>) {
    let (ta, tb) = (unique_tenant(), unique_tenant());
    let a = fixtures::incident(&ta, "INC-1", at(0));
    ok(store.create_incident(&a).await, "create_incident");
    same(
        &get(&*store, &tb, "INC-1").await,
        &None,
        "tenant B reads tenant A's incident id as absent",
    );
    holds(
        incident_ids(&*store, &tb, IncidentFilter::default())
            .await
            .is_empty(),
        "tenant B's list never shows tenant A's incidents",
    );
    same(
        &ok(
            store.open_incident_for(&tb, &a.fingerprint).await,
            "open_incident_for",
        ),
        &None,
        "tenant B finds no open incident for tenant A's fingerprint",
    );
    let hijack = Incident {
        tenant: tb.clone(),
        title: "hijacked".to_owned(),
        ..a.clone()
    };
    not_found(
        store.update_incident(&hijack).await,
        "tenant B updating tenant A's incident id is NotFound",
    );
    let b = fixtures::incident_bare(&tb, "INC-1", at(1));
    ok(
        store.create_incident(&b).await,
        "the same incident id in another tenant does not collide",
    );
    ok(
        store.update_incident(&b).await,
        "update_incident in tenant B",
    );
    same(
        &get(&*store, &ta, "INC-1").await,
        &Some(a),
        "tenant B's writes leave tenant A's incident unchanged",
    );
}
