//! Intake store checks: the combined convergence read equals the single
//! calls, and an intake write commits whole or not at all.

use std::sync::Arc;

use hale_domain::alert::AlertStatus;
use hale_domain::convergence::{self, ClaimKind, ConvergenceVerdict, FingerprintRecord};
use hale_domain::record::incident::{DecisionStep, IncidentStatus};
use hale_domain::{IncidentId, TenantId};
use hale_engine::ports::{
    AuditFilter, IncidentWrite, IntakeWrite, PageRequest, StoreAdapter, TimelineFilter,
};

use super::support::{at, conflict, holds, ids, invalid, ok, same};
use crate::fixtures::{self, unique_tenant};

async fn audit_ids<S: StoreAdapter>(store: &S, t: &TenantId) -> Vec<String> {
    let filter = AuditFilter {
        page: PageRequest::new(1000, 0),
        ..AuditFilter::default()
    };
    let page = ok(store.list_audit(t, &filter).await, "list_audit");
    ids(&page.items, |e| e.id.clone())
}

async fn timeline_ids<S: StoreAdapter>(store: &S, t: &TenantId) -> Vec<String> {
    let filter = TimelineFilter {
        page: PageRequest::new(1000, 0),
        ..TimelineFilter::default()
    };
    let page = ok(store.list_timeline(t, &filter).await, "list_timeline");
    ids(&page.items, |e| e.id.clone())
}

/// Each delivery converges exactly as [`convergence::converge`] says, and
/// the open incident comes with it exactly when the verdict concerns one:
/// a new episode, an unclaimed duplicate and a first resolve read it; a
/// claimed duplicate and a repeated resolve do not.
pub async fn intake_converge_reads_the_open_incident_it_concerns<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let fp = fixtures::fingerprint("HighErrorRate", "checkout");
    let open = fixtures::incident_bare(&t, "INC-20270115-OPEN01", at(1));
    ok(store.create_incident(&open).await, "create_incident");
    let mut model: Option<FingerprintRecord> = None;
    let steps = [
        (AlertStatus::Firing, false, ConvergenceVerdict::NewEpisode),
        (
            AlertStatus::Firing,
            false,
            ConvergenceVerdict::Duplicate { claimed: false },
        ),
        (
            AlertStatus::Firing,
            true,
            ConvergenceVerdict::Duplicate { claimed: true },
        ),
        (AlertStatus::Resolved, false, ConvergenceVerdict::Resolved),
        (
            AlertStatus::Resolved,
            false,
            ConvergenceVerdict::DuplicateResolved,
        ),
    ];
    for (i, (status, claim_first, verdict)) in steps.into_iter().enumerate() {
        let clause = format!("converge_for_intake, delivery {i} ({verdict:?})");
        if claim_first {
            let episode = model.as_ref().map_or(0, |m| m.episode);
            let claim = fixtures::claim(ClaimKind::Operation, "op-1", at(2));
            ok(
                store.claim_episode(&t, &fp, episode, &claim).await,
                "claim_episode",
            );
            if let Some(m) = model.as_mut() {
                m.try_claim(episode, claim);
            }
        }
        let secs = 10 + i64::try_from(i).unwrap_or(0);
        let delivery = fixtures::delivery("HighErrorRate", "checkout", status, at(secs));
        let mut got = ok(
            store
                .converge_for_intake(&t, std::slice::from_ref(&delivery))
                .await,
            &clause,
        );
        same(&got.len(), &1, &clause);
        let got = got.remove(0);
        let want = convergence::converge(model.as_ref(), &delivery);
        same(&got.record, &want, &clause);
        same(&got.record.verdict(), &verdict, &clause);
        let want_open = verdict.concerns_incident().then(|| open.clone());
        same(&got.open_incident, &want_open, &clause);
        model = Some(want);
    }
    let stored = ok(store.get_fingerprint(&t, &fp).await, "get_fingerprint");
    same(
        &stored,
        &model,
        "the stored record is the last one returned",
    );
}

/// A write's incident, timeline events and audit entries commit together;
/// a stale revision or an existing id fails the whole write with
/// `Conflict` and leaves nothing of it behind.
pub async fn intake_commit_is_all_or_nothing<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let mut inc = fixtures::incident_bare(&t, "INC-20270115-INTK01", at(1));
    let mut tl = fixtures::timeline_event_bare(&t, "tl-intake-1", at(1));
    tl.incident_id = Some(inc.id.clone());
    let mut audit = fixtures::audit_entry_bare(&t, "aud-intake-1", at(1));
    audit.incident_id = Some(inc.id.clone());
    let created = IntakeWrite {
        incident: Some(IncidentWrite::Create(inc.clone())),
        timeline: vec![tl],
        audit: vec![audit],
    };
    let rev = ok(
        store
            .commit_intake(&t, std::slice::from_ref(&created))
            .await,
        "commit_intake (create)",
    );
    same(
        &rev,
        &vec![Some(0)],
        "a created incident is at its own revision",
    );
    same(
        &ok(store.get_incident(&t, &inc.id).await, "get_incident"),
        &Some(inc.clone()),
        "the created incident reads back equal",
    );
    same(
        &timeline_ids(&*store, &t).await,
        &vec!["tl-intake-1".to_owned()],
        "timeline written",
    );
    same(
        &audit_ids(&*store, &t).await,
        &vec!["aud-intake-1".to_owned()],
        "audit written",
    );

    // A stale revision: nothing of the write is visible.
    let mut stale = inc.clone();
    stale.revision = 7;
    stale.status = IncidentStatus::Resolved;
    let write = IntakeWrite {
        incident: Some(IncidentWrite::Update(stale)),
        timeline: vec![fixtures::timeline_event_bare(&t, "tl-intake-2", at(2))],
        audit: vec![fixtures::audit_entry_bare(&t, "aud-intake-2", at(2))],
    };
    conflict(
        store.commit_intake(&t, std::slice::from_ref(&write)).await,
        "commit_intake with a stale incident revision",
    );
    // An existing id: the same.
    let write = IntakeWrite {
        incident: Some(IncidentWrite::Create(inc.clone())),
        timeline: vec![fixtures::timeline_event_bare(&t, "tl-intake-3", at(3))],
        audit: vec![fixtures::audit_entry_bare(&t, "aud-intake-3", at(3))],
    };
    conflict(
        store.commit_intake(&t, std::slice::from_ref(&write)).await,
        "commit_intake creating an existing incident",
    );
    same(
        &timeline_ids(&*store, &t).await,
        &vec!["tl-intake-1".to_owned()],
        "a failed write appends no timeline event",
    );
    same(
        &audit_ids(&*store, &t).await,
        &vec!["aud-intake-1".to_owned()],
        "a failed write appends no audit entry",
    );
    same(
        &ok(store.get_incident(&t, &inc.id).await, "get_incident"),
        &Some(inc.clone()),
        "a failed write leaves the incident as it was",
    );

    // The current revision: the change lands and the revision moves on.
    inc.push_decision(DecisionStep {
        at: at(4),
        stage: "guard".to_owned(),
        decision: "blocked".to_owned(),
        reason: "cooldown".to_owned(),
    });
    let write = IntakeWrite {
        incident: Some(IncidentWrite::Update(inc.clone())),
        timeline: Vec::new(),
        audit: vec![fixtures::audit_entry_bare(&t, "aud-intake-4", at(4))],
    };
    let rev = ok(
        store.commit_intake(&t, std::slice::from_ref(&write)).await,
        "commit_intake (update)",
    );
    same(&rev, &vec![Some(1)], "an update returns the next revision");
    inc.revision = 1;
    same(
        &ok(store.get_incident(&t, &inc.id).await, "get_incident"),
        &Some(inc),
        "the updated incident reads back equal",
    );
    holds(
        audit_ids(&*store, &t)
            .await
            .contains(&"aud-intake-4".to_owned()),
        "the update's audit entry is written",
    );
    // Records only, no incident.
    let write = IntakeWrite {
        incident: None,
        timeline: vec![fixtures::timeline_event_bare(&t, "tl-intake-5", at(5))],
        audit: Vec::new(),
    };
    same(
        &ok(
            store.commit_intake(&t, std::slice::from_ref(&write)).await,
            "commit_intake (records only)",
        ),
        &vec![None],
        "a write without an incident returns no revision",
    );
}

/// A write holding another tenant's record is `Invalid` and writes nothing.
pub async fn intake_commit_of_another_tenants_record_is_invalid<S: StoreAdapter>(store: Arc<S>) {
    let (t, other) = (unique_tenant(), unique_tenant());
    let write = IntakeWrite {
        incident: Some(IncidentWrite::Create(fixtures::incident_bare(
            &t,
            "INC-20270115-MINE01",
            at(1),
        ))),
        timeline: Vec::new(),
        audit: vec![fixtures::audit_entry_bare(&other, "aud-theirs-1", at(1))],
    };
    invalid(
        store.commit_intake(&t, std::slice::from_ref(&write)).await,
        "commit_intake with another tenant's audit entry",
    );
    same(
        &ok(
            store
                .get_incident(&t, &IncidentId::new("INC-20270115-MINE01"))
                .await,
            "get_incident",
        ),
        &None,
        "nothing of an invalid write is stored",
    );
    holds(
        audit_ids(&*store, &other).await.is_empty(),
        "no entry lands in the other tenant",
    );
}

/// A delivery of several alerts converges as if each were converged in
/// turn: distinct fingerprints (some with an open incident, one whose only
/// incident is resolved) and a fingerprint that repeats within the
/// delivery, which sees its own earlier delivery. A first resolve or a new
/// episode comes with the alert's operations waiting for an effectiveness
/// verdict; nothing else does.
pub async fn intake_converge_of_a_delivery_equals_converging_each_in_turn<S: StoreAdapter>(
    store: Arc<S>,
) {
    let t = unique_tenant();
    let services = ["checkout", "payments", "search", "cart"];
    // checkout: an open incident; payments: a resolved one; the others none.
    let mut open = fixtures::incident_bare(&t, "INC-20270115-DLV001", at(1));
    open.fingerprint = fixtures::fingerprint("HighErrorRate", "checkout");
    let mut resolved = fixtures::incident_bare(&t, "INC-20270115-DLV002", at(1));
    resolved.fingerprint = fixtures::fingerprint("HighErrorRate", "payments");
    resolved.status = IncidentStatus::Resolved;
    for i in [&open, &resolved] {
        ok(store.create_incident(i).await, "create_incident");
    }
    // checkout also has an operation waiting for its effectiveness verdict,
    // and one that has its verdict.
    let pending = fixtures::operation_pending_effectiveness(&t, "op-pending", at(2));
    let mut settled = fixtures::operation_pending_effectiveness(&t, "op-settled", at(3));
    settled.effectiveness = Some(hale_domain::effectiveness::Effectiveness::Effective);
    for op in [&pending, &settled] {
        let audit = super::operations::audit_for(&t, &format!("aud-{}", op.id), op);
        ok(store.create_operation(op, &audit).await, "create_operation");
    }
    holds(
        pending.fingerprint.as_ref() == Some(&open.fingerprint),
        "the fixture's operation is checkout's",
    );
    let mut model: std::collections::BTreeMap<_, FingerprintRecord> = Default::default();
    let rounds: [&[(usize, AlertStatus)]; 3] = [
        // Distinct fingerprints, all new.
        &[
            (0, AlertStatus::Firing),
            (1, AlertStatus::Firing),
            (2, AlertStatus::Firing),
            (3, AlertStatus::Resolved),
        ],
        // Distinct again: duplicates and a resolve.
        &[
            (0, AlertStatus::Firing),
            (1, AlertStatus::Resolved),
            (3, AlertStatus::Firing),
        ],
        // A repeated fingerprint: each sees the one before.
        &[
            (2, AlertStatus::Resolved),
            (0, AlertStatus::Firing),
            (2, AlertStatus::Firing),
            (2, AlertStatus::Firing),
        ],
    ];
    for (round, alerts) in rounds.iter().enumerate() {
        let secs = 100 * (i64::try_from(round).unwrap_or(0) + 1);
        let deliveries: Vec<_> = alerts
            .iter()
            .enumerate()
            .map(|(k, (svc, status))| {
                let at_k = at(secs + i64::try_from(k).unwrap_or(0));
                fixtures::delivery("HighErrorRate", services[*svc], *status, at_k)
            })
            .collect();
        let clause = format!("converge_for_intake, delivery {round}");
        let got = ok(store.converge_for_intake(&t, &deliveries).await, &clause);
        same(&got.len(), &deliveries.len(), &clause);
        for (k, (d, c)) in deliveries.iter().zip(&got).enumerate() {
            let clause = format!("{clause}, alert {k}");
            let want = convergence::converge(model.get(&d.fingerprint), d);
            same(&c.record, &want, &clause);
            let want_open = (c.record.verdict().concerns_incident()
                && d.fingerprint == open.fingerprint)
                .then(|| open.clone());
            same(&c.open_incident, &want_open, &clause);
            let want_pending = if c.record.verdict().observes_effectiveness()
                && d.fingerprint == open.fingerprint
            {
                vec![pending.clone()]
            } else {
                Vec::new()
            };
            same(
                &c.pending_effectiveness,
                &want_pending,
                &format!("{clause}: the operations its observation settles"),
            );
            model.insert(d.fingerprint.clone(), want);
        }
    }
}

/// Several writes in one commit: when a later one conflicts, the earlier
/// ones are not written either.
pub async fn intake_commit_of_several_writes_is_all_or_nothing<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let first = IntakeWrite {
        incident: Some(IncidentWrite::Create(fixtures::incident_bare(
            &t,
            "INC-20270115-MANY01",
            at(1),
        ))),
        timeline: vec![fixtures::timeline_event_bare(&t, "tl-many-1", at(1))],
        audit: vec![fixtures::audit_entry_bare(&t, "aud-many-1", at(1))],
    };
    let existing = fixtures::incident_bare(&t, "INC-20270115-MANY02", at(1));
    ok(store.create_incident(&existing).await, "create_incident");
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
        &ok(
            store
                .get_incident(&t, &IncidentId::new("INC-20270115-MANY01"))
                .await,
            "get_incident",
        ),
        &None,
        "the first write of a failed commit is not stored",
    );
    holds(
        timeline_ids(&*store, &t).await.is_empty(),
        "no timeline event of a failed commit",
    );
    holds(
        audit_ids(&*store, &t).await.is_empty(),
        "no audit entry of a failed commit",
    );
    let mut fresh = existing;
    fresh.status = IncidentStatus::Resolved;
    let second = IntakeWrite {
        incident: Some(IncidentWrite::Update(fresh)),
        timeline: Vec::new(),
        audit: Vec::new(),
    };
    same(
        &ok(
            store.commit_intake(&t, &[first, second]).await,
            "commit_intake (two writes)",
        ),
        &vec![Some(0), Some(1)],
        "each write's incident revision, in order",
    );
    holds(
        timeline_ids(&*store, &t).await == ["tl-many-1"],
        "the committed timeline event",
    );
}
