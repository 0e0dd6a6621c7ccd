//! The notification outbox ([`hale_engine::ports::outbox`]): notices are
//! written with the records that carry them or not at all, routed once per
//! channel, and claimed by one caller at a time.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use hale_domain::notification::{Notice, NoticeKind, NoticeSubject};
use hale_domain::record::audit::{AuditEntry, AuditKind};
use hale_domain::record::incident::IncidentStatus;
use hale_domain::{Severity, TenantId, Timestamp};
use hale_engine::ports::{
    AttemptOutcome, DeliveryClaim, DeliveryFilter, IncidentWrite, IntakeWrite, NoticeDelivery,
    PageRequest, RedriveFilter, StoreAdapter,
};

use super::support::{at, conflict, holds, join_all, ok, same};
use crate::fixtures::{self, unique_tenant};

async fn unrouted<S: StoreAdapter>(store: &S, t: Option<&TenantId>) -> Vec<Notice> {
    ok(store.unrouted_notices(t, 1000).await, "unrouted_notices")
}

fn kinds(notices: &[Notice]) -> BTreeSet<NoticeKind> {
    notices.iter().map(|n| n.kind).collect()
}

fn escalation(t: &TenantId, id: &str, when: Timestamp) -> AuditEntry {
    AuditEntry {
        reason: Some("Escalate: target refused; rollback succeeded (1 actions)".to_owned()),
        ..AuditEntry::new(
            id,
            t.clone(),
            AuditKind::HealingEscalated,
            "prod:deployment/checkout",
            hale_domain::Origin::failure_watcher(),
            when,
        )
    }
}

fn platform_notice(id: &str, when: Timestamp) -> Notice {
    Notice::lock_backend(id.to_owned(), "conformance", false, "timed out", when)
}

fn claim(by: &str, now: Timestamp, limit: u32) -> DeliveryClaim {
    DeliveryClaim {
        by: by.to_owned(),
        now,
        until: now + Duration::from_secs(60),
        limit,
    }
}

/// Approvals, P0/P1 incidents and the audit entries of the listed kinds
/// leave a notice, whichever write carried them; other records leave none.
pub async fn outbox_notices_are_written_with_their_records<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let a = fixtures::approval(&t, "apr-1", at(0));
    let ev = fixtures::timeline_event(&t, "ev-1", at(0));
    ok(store.create_approval(&a, &ev).await, "create_approval");
    let inc = fixtures::incident_bare(&t, "INC-1", at(1));
    ok(store.create_incident(&inc).await, "create_incident");
    let op = fixtures::operation(&t, "op-1", at(2));
    ok(
        store
            .create_operation(&op, &fixtures::audit_entry(&t, "aud-start", at(2)))
            .await,
        "create_operation",
    );
    let rev = ok(
        store
            .update_operation(&op, std::slice::from_ref(&escalation(&t, "aud-esc", at(3))))
            .await,
        "update_operation",
    );
    let mut switch = AuditEntry::new(
        "aud-switch",
        t.clone(),
        AuditKind::SwitchSet,
        "switch:tenant:auto_healing",
        hale_domain::Origin::failure_watcher(),
        at(4),
    );
    switch.reason = Some("off: maintenance".to_owned());
    ok(store.append_audit(&switch).await, "append_audit");
    let _ = rev;
    let got = unrouted(&*store, Some(&t)).await;
    same(
        &kinds(&got),
        &BTreeSet::from([
            NoticeKind::ApprovalRequested,
            NoticeKind::IncidentOpened,
            NoticeKind::HealingEscalated,
            NoticeKind::KillSwitchChanged,
        ]),
        "each carrying write leaves its notice; an executed action leaves none",
    );
    let esc = got.iter().find(|n| n.kind == NoticeKind::HealingEscalated);
    holds(
        esc.is_some_and(|n| n.id == "aud-esc" && n.summary.contains("rollback succeeded")),
        "the escalation's notice carries the audit entry's id and the rollback result",
    );
    same(
        &got.iter().map(|n| n.at).collect::<Vec<_>>(),
        &vec![at(0), at(1), at(3), at(4)],
        "unrouted notices are oldest first",
    );
}

/// A write that fails leaves no notice; the same record written again adds
/// none (stable ids).
pub async fn outbox_notice_is_atomic_with_its_record<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    ok(
        store
            .append_timeline(&fixtures::timeline_event(&t, "ev-taken", at(0)))
            .await,
        "append_timeline",
    );
    let a = fixtures::approval(&t, "apr-1", at(1));
    conflict(
        store
            .create_approval(&a, &fixtures::timeline_event(&t, "ev-taken", at(1)))
            .await,
        "create_approval whose event id exists is Conflict",
    );
    let op = fixtures::operation(&t, "op-1", at(2));
    ok(
        store
            .create_operation(&op, &fixtures::audit_entry(&t, "aud-start", at(2)))
            .await,
        "create_operation",
    );
    let stale = hale_domain::healing::HealingOperation {
        revision: op.revision + 7,
        ..op.clone()
    };
    conflict(
        store
            .update_operation(
                &stale,
                std::slice::from_ref(&escalation(&t, "aud-esc", at(3))),
            )
            .await,
        "update_operation at a stale revision is Conflict",
    );
    same(
        &unrouted(&*store, Some(&t)).await,
        &Vec::new(),
        "atomic: a write that failed left no notice",
    );

    let mut inc = fixtures::incident_bare(&t, "INC-1", at(4));
    ok(store.create_incident(&inc).await, "create_incident");
    inc.status = IncidentStatus::Resolved;
    inc.resolved_at = Some(at(5));
    inc.revision = ok(store.update_incident(&inc).await, "update_incident");
    inc.updated_at = at(6);
    ok(store.update_incident(&inc).await, "update_incident again");
    let got = unrouted(&*store, Some(&t)).await;
    same(
        &got.iter().map(|n| n.id.clone()).collect::<Vec<_>>(),
        &vec![
            "INC-1.incident_opened".to_owned(),
            "INC-1.incident_resolved".to_owned(),
        ],
        "a record written twice leaves its notice once",
    );
    let p3 = hale_domain::record::incident::Incident {
        severity: Severity::P3,
        ..fixtures::incident_bare(&t, "INC-2", at(7))
    };
    ok(store.create_incident(&p3).await, "create_incident P3");
    same(
        &unrouted(&*store, Some(&t)).await.len(),
        &2,
        "incidents below P1 leave no notice",
    );
}

/// Routing makes one delivery per channel however often (and however
/// concurrently) it runs, and takes the notice off the unrouted list.
pub async fn outbox_routing_makes_one_delivery_per_channel<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let a = fixtures::approval(&t, "apr-1", at(0));
    ok(
        store
            .create_approval(&a, &fixtures::timeline_event(&t, "ev-1", at(0)))
            .await,
        "create_approval",
    );
    let notice = unrouted(&*store, Some(&t)).await.remove(0);
    let channels = vec!["ops-slack".to_owned(), "webhook".to_owned()];
    let tasks = (0..4)
        .map(|_| {
            let (store, t, id, ch) = (
                store.clone(),
                t.clone(),
                notice.id.clone(),
                channels.clone(),
            );
            tokio::spawn(async move {
                ok(
                    store.route_notice(Some(&t), &id, &ch, at(1)).await,
                    "route_notice",
                )
            })
        })
        .collect();
    join_all(tasks).await;
    same(
        &unrouted(&*store, Some(&t)).await,
        &Vec::new(),
        "a routed notice is no longer unrouted",
    );
    let page = ok(
        store
            .list_deliveries(Some(&t), &DeliveryFilter::default())
            .await,
        "list_deliveries",
    );
    let mut want: Vec<NoticeDelivery> = channels
        .iter()
        .map(|c| NoticeDelivery::new(notice.clone(), c.clone(), at(1)))
        .collect();
    want.reverse();
    same(
        &page.items,
        &want,
        "one due delivery per channel, newest first",
    );
    let other = unique_tenant();
    same(
        &ok(
            store
                .list_deliveries(Some(&other), &DeliveryFilter::default())
                .await,
            "list_deliveries",
        )
        .items,
        &Vec::new(),
        "another tenant sees none of them",
    );
}

/// Concurrent claims are disjoint; a claim's lease keeps others off until
/// it ends; attempts apply only under the current claim.
pub async fn outbox_claims_are_disjoint_and_attempts_need_the_claim<S: StoreAdapter>(
    store: Arc<S>,
) {
    let t = unique_tenant();
    for i in 0..12 {
        let mut a = fixtures::approval_bare(&t, &format!("apr-{i:02}"), at(i));
        a.id = hale_domain::ApprovalId::new(format!("apr-{i:02}"));
        ok(
            store
                .create_approval(&a, &fixtures::timeline_event(&t, &format!("ev-{i}"), at(i)))
                .await,
            "create_approval",
        );
    }
    for n in unrouted(&*store, Some(&t)).await {
        ok(
            store
                .route_notice(Some(&t), &n.id, &["hook".to_owned()], at(20))
                .await,
            "route_notice",
        );
    }
    let tasks = (0..4)
        .map(|i| {
            let (store, t) = (store.clone(), t.clone());
            tokio::spawn(async move {
                ok(
                    store
                        .claim_deliveries(Some(&t), &claim(&format!("r{i}"), at(30), 5))
                        .await,
                    "claim_deliveries",
                )
                .into_iter()
                .map(move |d| (i, d.notice.id))
                .collect::<Vec<_>>()
            })
        })
        .collect();
    let claimed: Vec<(usize, String)> = join_all(tasks).await.into_iter().flatten().collect();
    let ids: BTreeSet<&String> = claimed.iter().map(|(_, id)| id).collect();
    same(&claimed.len(), &12, "every due delivery is claimed once");
    same(&ids.len(), &12, "concurrent claims are disjoint");
    same(
        &ok(
            store
                .claim_deliveries(Some(&t), &claim("late", at(40), 50))
                .await,
            "claim_deliveries",
        )
        .len(),
        &0,
        "a live claim keeps other callers off",
    );

    let (owner, id) = claimed[0].clone();
    let owner = format!("r{owner}");
    let delivered = AttemptOutcome::Delivered { at: at(41) };
    holds(
        !ok(
            store
                .record_attempt(Some(&t), &id, "hook", "someone-else", &delivered)
                .await,
            "record_attempt",
        ),
        "an attempt by a caller without the claim does not apply",
    );
    let failed = AttemptOutcome::Failed {
        at: at(41),
        error: "503".to_owned(),
        retry_at: Some(at(120)),
    };
    holds(
        ok(
            store
                .record_attempt(Some(&t), &id, "hook", &owner, &failed)
                .await,
            "record_attempt",
        ),
        "the claim's owner records a failed attempt",
    );
    // Every other claim lapses at 30 + 60 s; the failed one is due at 120 s,
    // while the claims taken at 91 s hold until 151 s.
    let again = ok(
        store
            .claim_deliveries(Some(&t), &claim("r9", at(91), 50))
            .await,
        "claim_deliveries",
    );
    same(
        &again.len(),
        &11,
        "lapsed claims are claimable again; a retry waits for its time",
    );
    holds(
        again.iter().all(|d| d.notice.id != id),
        "the failed delivery is not due before its retry time",
    );
    let retry = ok(
        store
            .claim_deliveries(Some(&t), &claim("r9", at(125), 50))
            .await,
        "claim_deliveries",
    );
    same(
        &retry.len(),
        &1,
        "the failed delivery is due at its retry time",
    );
    same(&retry[0].attempts, &1, "the failed attempt is counted");
    same(
        &retry[0].last_error.as_deref(),
        &Some("503"),
        "the error is kept",
    );
    holds(
        ok(
            store
                .record_attempt(
                    Some(&t),
                    &id,
                    "hook",
                    "r9",
                    &AttemptOutcome::Delivered { at: at(201) },
                )
                .await,
            "record_attempt",
        ),
        "the new owner records the delivery",
    );
    let done = ok(
        store
            .list_deliveries(
                Some(&t),
                &DeliveryFilter {
                    pending: Some(false),
                    ..DeliveryFilter::default()
                },
            )
            .await,
        "list_deliveries",
    );
    same(
        &done.items.len(),
        &1,
        "the delivered one is listed as finished",
    );
    same(
        &done.items[0].delivered_at,
        &Some(at(201)),
        "with its delivery time",
    );
    same(&done.items[0].attempts, &2, "and both attempts");
    same(
        &ok(
            store
                .claim_deliveries(Some(&t), &claim("r9", at(10_000), 50))
                .await,
            "claim_deliveries",
        )
        .iter()
        .filter(|d| d.notice.id == id)
        .count(),
        &0,
        "a delivered notice is never claimed again",
    );
}

/// Platform notices live in their own scope; the backlog counts what is
/// not delivered yet and names the oldest.
pub async fn outbox_platform_scope_and_backlog<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let id = crate::fixtures::unique_id("ntc");
    let p = platform_notice(&id, at(0));
    let mut tn = p.clone();
    tn.id = "tenant-notice".to_owned();
    tn.tenant = Some(t.clone());
    tn.subject = NoticeSubject::default();
    same(
        &ok(
            store.enqueue_notices(&[p.clone(), tn.clone()]).await,
            "enqueue_notices",
        ),
        &2,
        "both are new",
    );
    same(
        &ok(
            store.enqueue_notices(std::slice::from_ref(&p)).await,
            "enqueue_notices",
        ),
        &0,
        "an id already there is skipped",
    );
    same(
        &unrouted(&*store, Some(&t)).await,
        &vec![tn.clone()],
        "the tenant sees its own",
    );
    holds(
        unrouted(&*store, None).await.contains(&p),
        "the platform scope holds the platform notice",
    );
    holds(
        !unrouted(&*store, None).await.contains(&tn),
        "the platform scope holds no tenant notice",
    );
    let backlog = ok(store.outbox_backlog(Some(&t)).await, "outbox_backlog");
    same(&backlog.pending, &1, "an unrouted notice is pending");
    same(&backlog.oldest, &Some(at(0)), "the oldest pending time");
    ok(
        store.route_notice(Some(&t), &tn.id, &[], at(1)).await,
        "route_notice",
    );
    same(
        &ok(store.outbox_backlog(Some(&t)).await, "outbox_backlog").pending,
        &0,
        "a notice no route takes is done",
    );
    let listed = ok(
        store.list_notices(Some(&t), PageRequest::default()).await,
        "list_notices",
    );
    same(&listed.items, &vec![tn], "list_notices shows the notice");
}

/// An intake commit (issue 19's `IntakeStore::commit_intake`) writes the
/// notices of the incidents and audit entries it holds in its own
/// transaction: none when it fails, each once when it commits, none again
/// for an incident written again unchanged in kind.
pub async fn outbox_notice_is_atomic_with_its_intake_commit<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let existing = fixtures::incident_bare(&t, "INC-20270115-OUTB02", at(0));
    ok(store.create_incident(&existing).await, "create_incident");
    let before = unrouted(&*store, Some(&t)).await;
    let opened = fixtures::incident_bare(&t, "INC-20270115-OUTB01", at(1));
    let first = IntakeWrite {
        incident: Some(IncidentWrite::Create(opened.clone())),
        timeline: Vec::new(),
        audit: vec![escalation(&t, "aud-intake-esc", at(1))],
    };
    let mut stale = existing.clone();
    stale.revision = 5;
    let second = IntakeWrite {
        incident: Some(IncidentWrite::Update(stale)),
        timeline: Vec::new(),
        audit: Vec::new(),
    };
    conflict(
        store.commit_intake(&t, &[first.clone(), second]).await,
        "commit_intake whose second write is stale",
    );
    same(
        &unrouted(&*store, Some(&t)).await,
        &before,
        "a failed intake commit leaves no notice",
    );

    ok(
        store.commit_intake(&t, std::slice::from_ref(&first)).await,
        "commit_intake (create)",
    );
    let mut resolved = opened.clone();
    resolved.status = IncidentStatus::Resolved;
    resolved.resolved_at = Some(at(2));
    let write = IntakeWrite {
        incident: Some(IncidentWrite::Update(resolved.clone())),
        timeline: Vec::new(),
        audit: Vec::new(),
    };
    ok(
        store.commit_intake(&t, std::slice::from_ref(&write)).await,
        "commit_intake (resolve)",
    );
    resolved.revision = 1;
    resolved.updated_at = at(3);
    let again = IntakeWrite {
        incident: Some(IncidentWrite::Update(resolved)),
        timeline: Vec::new(),
        audit: Vec::new(),
    };
    ok(
        store.commit_intake(&t, std::slice::from_ref(&again)).await,
        "commit_intake (resolved again)",
    );
    let ids: BTreeSet<String> = unrouted(&*store, Some(&t))
        .await
        .into_iter()
        .map(|n| n.id)
        .filter(|id| !before.iter().any(|b| &b.id == id))
        .collect();
    same(
        &ids,
        &[
            "INC-20270115-OUTB01.incident_opened",
            "INC-20270115-OUTB01.incident_resolved",
            "aud-intake-esc",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect(),
        "each of the commits' notices once",
    );
}

/// Gives every due delivery of the scope an outcome: `deliver` says which
/// (notice, channel) get through; the others fail for good (given up).
async fn settle<S: StoreAdapter>(
    store: &S,
    t: Option<&TenantId>,
    when: Timestamp,
    deliver: impl Fn(&NoticeDelivery) -> bool,
) {
    for d in ok(
        store
            .claim_deliveries(t, &claim("settler", when, 100))
            .await,
        "claim_deliveries",
    ) {
        let outcome = if deliver(&d) {
            AttemptOutcome::Delivered { at: when }
        } else {
            AttemptOutcome::Failed {
                at: when,
                error: "503".to_owned(),
                retry_at: None,
            }
        };
        holds(
            ok(
                store
                    .record_attempt(t, &d.notice.id, &d.channel, "settler", &outcome)
                    .await,
                "record_attempt",
            ),
            "the claim's owner records the attempt",
        );
    }
}

async fn deliveries<S: StoreAdapter>(store: &S, t: Option<&TenantId>) -> Vec<NoticeDelivery> {
    let filter = DeliveryFilter {
        page: PageRequest {
            offset: 0,
            limit: 100,
        },
        ..DeliveryFilter::default()
    };
    ok(store.list_deliveries(t, &filter).await, "list_deliveries").items
}

/// A redrive makes given-up deliveries of one channel in one scope
/// pending again (attempts from zero, due now) and touches nothing else:
/// not delivered ones, not other channels, not other tenants, not the
/// platform; a notice or kind filter narrows it.
pub async fn outbox_redrive_resets_only_the_scopes_given_up_deliveries_of_the_channel<
    S: StoreAdapter,
>(
    store: Arc<S>,
) {
    let (t, u) = (unique_tenant(), unique_tenant());
    let channels = ["hook".to_owned(), "slack".to_owned()];
    for tenant in [&t, &u] {
        for i in 0..3 {
            let a = fixtures::approval_bare(tenant, &format!("apr-{i}"), at(i));
            let ev = fixtures::timeline_event(tenant, &format!("ev-{i}"), at(i));
            ok(store.create_approval(&a, &ev).await, "create_approval");
        }
        for n in unrouted(&*store, Some(tenant)).await {
            ok(
                store
                    .route_notice(Some(tenant), &n.id, &channels, at(10))
                    .await,
                "route_notice",
            );
        }
    }
    ok(
        store
            .enqueue_notices(&[platform_notice("ntc-p", at(5))])
            .await,
        "enqueue_notices",
    );
    ok(
        store
            .route_notice(None, "ntc-p", &channels[..1], at(10))
            .await,
        "route_notice",
    );
    // In t, the newest notice reaches the hook; everything else fails for good.
    let newest = deliveries(&*store, Some(&t)).await[0].notice.id.clone();
    settle(&*store, Some(&t), at(20), |d| {
        d.notice.id == newest && d.channel == "hook"
    })
    .await;
    settle(&*store, Some(&u), at(20), |_| false).await;
    settle(&*store, None, at(20), |_| false).await;
    let before_u = deliveries(&*store, Some(&u)).await;
    let before_p = deliveries(&*store, None).await;
    same(
        &before_u.iter().filter(|d| d.given_up_at.is_some()).count(),
        &6,
        "u's deliveries are all given up",
    );

    let hook = RedriveFilter::channel("hook");
    let n = ok(
        store.redrive_deliveries(Some(&t), &hook, at(100)).await,
        "redrive_deliveries",
    );
    same(&n, &2, "the two given-up hook deliveries of t are redriven");
    for d in deliveries(&*store, Some(&t)).await {
        match (d.channel.as_str(), d.notice.id == newest) {
            ("hook", true) => {
                same(
                    &d.delivered_at,
                    &Some(at(20)),
                    "a delivered one stays delivered",
                );
                same(&d.attempts, &1, "a delivered one keeps its attempts");
            }
            ("hook", false) => {
                holds(d.is_pending(), "a redriven delivery is pending");
                same(&d.attempts, &0, "its attempts restart");
                same(&d.next_attempt_at, &Some(at(100)), "it is due now");
                same(
                    &d.last_error.as_deref(),
                    &Some("503"),
                    "its last error stays",
                );
            }
            _ => holds(d.given_up_at.is_some(), "another channel stays given up"),
        }
    }
    same(
        &deliveries(&*store, Some(&u)).await,
        &before_u,
        "another tenant is untouched",
    );
    same(
        &deliveries(&*store, None).await,
        &before_p,
        "the platform is untouched",
    );
    let due = ok(
        store
            .claim_deliveries(Some(&t), &claim("r1", at(100), 50))
            .await,
        "claim_deliveries",
    );
    same(&due.len(), &2, "the redriven deliveries are claimed again");

    // Narrowed by notice and by kind.
    let slack = |notice_id: Option<&str>, kind| RedriveFilter {
        channel: "slack".to_owned(),
        notice_id: notice_id.map(str::to_owned),
        kind,
    };
    let only = slack(Some(newest.as_str()), Some(NoticeKind::IncidentOpened));
    same(
        &ok(
            store.redrive_deliveries(Some(&t), &only, at(101)).await,
            "redrive",
        ),
        &0,
        "a kind the notice is not of redrives nothing",
    );
    let only = slack(Some(newest.as_str()), Some(NoticeKind::ApprovalRequested));
    same(
        &ok(
            store.redrive_deliveries(Some(&t), &only, at(101)).await,
            "redrive",
        ),
        &1,
        "one notice's delivery is redriven",
    );
    same(
        &ok(
            store.redrive_deliveries(None, &hook, at(102)).await,
            "redrive",
        ),
        &1,
        "the platform's own redrive reaches its given-up delivery",
    );
}
