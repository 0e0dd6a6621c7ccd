//! Concurrency checks: many tokio tasks on one shared store. These are the
//! clauses that a read-then-write adapter without a transaction or row
//! lock breaks.

use std::sync::Arc;

use hale_domain::alert::AlertStatus;
use hale_domain::approval::ApprovalRequest;
use hale_domain::convergence::{self, ClaimKind, ConvergenceVerdict};
use hale_domain::healing::HealingOperation;
use hale_domain::record::timeline::TimelineEvent;
use hale_engine::ports::{AuditFilter, StoreAdapter, StoreError, TimelineFilter};

use super::operations::audit_for;
use super::support::{T0, holds, join_all, ok, same};
use crate::fixtures::{self, unique_tenant};

const DELIVERIES: u64 = 200;
const CLAIMANTS: usize = 50;
const WRITERS: usize = 20;

/// Of `results`, the indexes that succeeded; every failure must be a
/// `Conflict`.
fn winners<T>(results: &[Result<T, StoreError>], clause: &str) -> Vec<usize> {
    for r in results {
        if let Err(e) = r {
            holds(
                matches!(e, StoreError::Conflict(_)),
                &format!("{clause}: a losing writer gets Conflict, not {e:?}"),
            );
        }
    }
    results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.is_ok().then_some(i))
        .collect()
}

/// 200 concurrent deliveries of one new fingerprint leave one record with
/// `hit_count` 200 in episode 1; each call saw a distinct count, and exactly
/// one call saw a new episode.
pub async fn concurrent_converge_counts_every_delivery<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let d = fixtures::delivery("HighErrorRate", "checkout", AlertStatus::Firing, T0);
    let tasks = (0..DELIVERIES)
        .map(|_| {
            let (store, t, d) = (store.clone(), t.clone(), d.clone());
            tokio::spawn(async move { store.converge(&t, &d).await })
        })
        .collect();
    let mut seen: Vec<u64> = Vec::new();
    let mut new_episodes = 0;
    for res in join_all(tasks).await {
        let rec = ok(res, "converge under concurrency");
        new_episodes += usize::from(rec.verdict() == ConvergenceVerdict::NewEpisode);
        seen.push(rec.hit_count);
    }
    seen.sort_unstable();
    same(
        &seen,
        &(1..=DELIVERIES).collect::<Vec<_>>(),
        "concurrent converge calls are serialised: each sees a distinct hit_count 1..=N",
    );
    same(
        &new_episodes,
        &1,
        "exactly one of N concurrent deliveries is a new episode (no double healing)",
    );
    let mut want = convergence::converge(None, &d);
    for _ in 1..DELIVERIES {
        want = convergence::converge(Some(&want), &d);
    }
    same(
        &ok(
            store.get_fingerprint(&t, &d.fingerprint).await,
            "get_fingerprint",
        ),
        &Some(want),
        "N concurrent deliveries leave one record with hit_count N, episode 1",
    );
}

/// 50 concurrent claims of one episode: exactly one wins, and its claim is
/// the one stored.
pub async fn concurrent_claims_have_one_winner<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let d = fixtures::delivery("HighErrorRate", "checkout", AlertStatus::Firing, T0);
    let rec = ok(store.converge(&t, &d).await, "converge");
    let tasks = (0..CLAIMANTS)
        .map(|i| {
            let (store, t, fp) = (store.clone(), t.clone(), d.fingerprint.clone());
            let claim = fixtures::claim(ClaimKind::Operation, &format!("op-{i}"), T0);
            let episode = rec.episode;
            tokio::spawn(async move { store.claim_episode(&t, &fp, episode, &claim).await })
        })
        .collect();
    let results: Vec<bool> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| ok(r, "claim_episode under concurrency"))
        .collect();
    let won: Vec<usize> = (0..CLAIMANTS).filter(|i| results[*i]).collect();
    same(
        &won.len(),
        &1,
        "exactly one of N concurrent claims of an episode wins",
    );
    let stored = ok(
        store.get_fingerprint(&t, &d.fingerprint).await,
        "get_fingerprint",
    );
    same(
        &stored.and_then(|r| r.claim).map(|c| c.id),
        &Some(format!("op-{}", won[0])),
        "the stored claim is the winner's",
    );
}

/// 20 concurrent updates of one approval at the same revision: exactly one
/// succeeds, the rest get `Conflict`, and only the winner's timeline event
/// is written.
pub async fn concurrent_approval_updates_have_one_winner<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let a = fixtures::approval(&t, "apr-1", T0);
    let created = TimelineEvent {
        approval_id: Some(a.id.clone()),
        ..fixtures::timeline_event(&t, "ev-created", T0)
    };
    ok(store.create_approval(&a, &created).await, "create_approval");
    let tasks = (0..WRITERS)
        .map(|i| {
            let store = store.clone();
            let update = ApprovalRequest {
                description: format!("writer-{i}"),
                ..a.clone()
            };
            let ev = TimelineEvent {
                id: format!("ev-writer-{i}"),
                ..created.clone()
            };
            tokio::spawn(async move { store.update_approval(&update, Some(&ev)).await })
        })
        .collect();
    let results = join_all(tasks).await;
    let won = winners(&results, "concurrent update_approval");
    same(
        &won.len(),
        &1,
        "exactly one of N concurrent updates at one revision succeeds",
    );
    let w = won[0];
    let stored = ok(store.get_approval(&t, &a.id).await, "get_approval");
    same(
        &stored.map(|s| (s.revision, s.description)),
        &Some((1, format!("writer-{w}"))),
        "the stored approval is the winner's, at revision + 1",
    );
    let filter = TimelineFilter {
        approval_id: Some(a.id.clone()),
        ..TimelineFilter::default()
    };
    let mut events: Vec<String> = ok(store.list_timeline(&t, &filter).await, "list_timeline")
        .items
        .into_iter()
        .map(|e| e.id)
        .collect();
    events.sort();
    same(
        &events,
        &vec!["ev-created".to_owned(), format!("ev-writer-{w}")],
        "only the winning update's timeline event is written (atomic pair under concurrency)",
    );
}

/// 20 concurrent updates of one operation at the same revision: exactly one
/// succeeds and only its audit entry is written.
pub async fn concurrent_operation_updates_have_one_winner<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let op = fixtures::operation(&t, "op-1", T0);
    ok(
        store
            .create_operation(&op, &audit_for(&t, "aud-created", &op))
            .await,
        "create_operation",
    );
    let tasks = (0..WRITERS)
        .map(|i| {
            let store = store.clone();
            let update = HealingOperation {
                error: Some(format!("writer-{i}")),
                ..op.clone()
            };
            let audit = audit_for(&t, &format!("aud-writer-{i}"), &update);
            tokio::spawn(async move {
                store
                    .update_operation(&update, std::slice::from_ref(&audit))
                    .await
            })
        })
        .collect();
    let results = join_all(tasks).await;
    let won = winners(&results, "concurrent update_operation");
    same(
        &won.len(),
        &1,
        "exactly one of N concurrent updates at one revision succeeds",
    );
    let w = won[0];
    let stored = ok(store.get_operation(&t, &op.id).await, "get_operation");
    same(
        &stored.map(|s| (s.revision, s.error)),
        &Some((1, Some(format!("writer-{w}")))),
        "the stored operation is the winner's, at revision + 1",
    );
    let filter = AuditFilter {
        operation_id: Some(op.id.clone()),
        ..AuditFilter::default()
    };
    let mut entries: Vec<String> = ok(store.list_audit(&t, &filter).await, "list_audit")
        .items
        .into_iter()
        .map(|e| e.id)
        .collect();
    entries.sort();
    same(
        &entries,
        &vec!["aud-created".to_owned(), format!("aud-writer-{w}")],
        "only the winning update's audit entry is written (atomic pair under concurrency)",
    );
}
