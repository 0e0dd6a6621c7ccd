//! Effectiveness (issue 16): a completed fix counts as effective only when
//! its alert resolves in time and stays resolved; fixes that keep not
//! fixing form a chain that blocks the strategy on the target until a
//! person archives the entry that remembers it.

mod support;

use std::time::Duration;

use hale_domain::effectiveness::{Effectiveness, EffectivenessPolicy};
use hale_domain::guard::Guard;
use hale_domain::healing::{HealingOperation, HealingState};
use hale_domain::record::knowledge::{EntryType, INEFFECTIVE_CHAIN_CATEGORY};
use hale_domain::{OperationId, Origin, TenantId};
use hale_engine::ports::{
    EscalationKind, IncidentStore, KnowledgeFilter, KnowledgeStore, OperationStore,
};
use hale_engine::{Engine, Outcome, TenantPolicy};
use hale_testkit::Kit;
use support::*;

async fn op(kit: &Kit, t: &TenantId, id: &str) -> HealingOperation {
    kit.store
        .get_operation(t, &OperationId::new(id))
        .await
        .unwrap()
        .unwrap()
}

async fn setup(chain_threshold: u32) -> (Kit, Engine, TenantId) {
    let kit = Kit::new();
    let t = tenant("t");
    let mut p = TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")]);
    p.effectiveness = EffectivenessPolicy {
        chain_threshold,
        ..EffectivenessPolicy::default()
    };
    let e = engine(&kit, vec![p]).await;
    (kit, e, t)
}

#[tokio::test(start_paused = true)]
async fn a_fix_whose_alert_resolves_and_stays_resolved_is_effective() {
    let (kit, e, t) = setup(0).await;
    let a = alert("HighErrorRate", "checkout");
    let id = started(&ingest_one(&e, &t, a.clone()).await);
    e.wait_idle().await;
    let o = op(&kit, &t, &id).await;
    assert_eq!(o.state, HealingState::Completed);
    assert_eq!(o.effectiveness, Some(Effectiveness::Pending));

    advance(Duration::from_secs(60)).await;
    ingest_one(&e, &t, a.clone().resolved()).await;
    let o = op(&kit, &t, &id).await;
    assert_eq!(o.effectiveness, Some(Effectiveness::Pending));
    assert!(o.alert_resolved_at.is_some());

    // Not yet stable after 4 minutes; effective after 5.
    advance(Duration::from_secs(240)).await;
    e.settle_effectiveness().await.unwrap();
    assert_eq!(
        op(&kit, &t, &id).await.effectiveness,
        Some(Effectiveness::Pending)
    );
    advance(Duration::from_secs(60)).await;
    e.settle_effectiveness().await.unwrap();
    let o = op(&kit, &t, &id).await;
    assert_eq!(o.effectiveness, Some(Effectiveness::Effective));
    assert!(o.effectiveness_settled_at.is_some());

    let audited = audit(&kit, &t, "operation.effectiveness").await;
    assert_eq!(audited.len(), 1);
    assert!(audited[0].success);
    let inc = kit
        .store
        .get_incident(&t, o.incident_id.as_ref().unwrap())
        .await
        .unwrap()
        .unwrap();
    let last = inc.decision_chain.last().unwrap();
    assert_eq!(
        (last.stage.as_str(), last.decision.as_str()),
        ("effectiveness", "effective")
    );
    let m = e.metrics();
    assert_eq!(
        m.labelled["effectiveness"]["effective:restart-higherrorrate"],
        1
    );
}

#[tokio::test(start_paused = true)]
async fn a_fix_whose_alert_never_resolves_or_fires_again_is_ineffective() {
    let (kit, e, t) = setup(0).await;
    let a = alert("HighErrorRate", "checkout");
    let first = started(&ingest_one(&e, &t, a.clone()).await);
    e.wait_idle().await;
    // Re-fired right after resolving: the first fix did not hold, and the
    // new episode is healed again (chains are off by default).
    advance(Duration::from_secs(30)).await;
    let second = started(&refire(&e, &t, &a).await);
    e.wait_idle().await;
    let o = op(&kit, &t, &first).await;
    assert_eq!(o.effectiveness, Some(Effectiveness::Ineffective));
    // The second never resolves within the 10-minute window.
    advance(Duration::from_secs(601)).await;
    e.settle_effectiveness().await.unwrap();
    assert_eq!(
        op(&kit, &t, &second).await.effectiveness,
        Some(Effectiveness::Ineffective)
    );
    let audited = audit(&kit, &t, "operation.effectiveness").await;
    let reasons: Vec<&str> = audited
        .iter()
        .map(|a| a.reason.as_deref().unwrap())
        .collect();
    assert!(
        reasons[0].contains("did not resolve within 10m"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("fired again"), "{reasons:?}");
    assert!(audited.iter().all(|a| !a.success));
}

#[tokio::test(start_paused = true)]
async fn three_ineffective_fixes_block_the_pair_until_the_entry_is_archived() {
    let (kit, e, t) = setup(3).await;
    let a = alert("HighErrorRate", "checkout");
    started(&ingest_one(&e, &t, a.clone()).await);
    e.wait_idle().await;
    for _ in 0..2 {
        advance(Duration::from_secs(30)).await;
        started(&refire(&e, &t, &a).await);
        e.wait_idle().await;
    }
    // The third fix does not hold either: the chain is complete, and the
    // very alert that showed it is blocked.
    advance(Duration::from_secs(30)).await;
    let o = refire(&e, &t, &a).await;
    assert!(
        matches!(
            &o,
            Outcome::Blocked {
                guard: Guard::IneffectiveChain,
                ..
            }
        ),
        "{o:?}"
    );
    assert_eq!(kit.notifier.count(EscalationKind::IneffectiveChain), 1);
    assert_eq!(assert_every_escalation_noticed(&kit, &t).await, 1);
    let entries = kit
        .store
        .list_knowledge(
            &t,
            &KnowledgeFilter {
                entry_type: Some(EntryType::AntiPattern),
                ..KnowledgeFilter::default()
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].category, INEFFECTIVE_CHAIN_CATEGORY);
    // Another alert on the same target is blocked too (the pair, not the
    // symptoms).
    let other = alert("HighErrorRate", "checkout");
    let mut other = other;
    other.labels.insert("severity".into(), "warning".into());
    let o = refire(&e, &t, &other).await;
    assert!(
        matches!(
            &o,
            Outcome::Blocked {
                guard: Guard::IneffectiveChain,
                ..
            }
        ),
        "{o:?}"
    );

    // A person archives the entry: the strategy may run there again.
    e.archive_knowledge(
        &t,
        &entries[0].id,
        "the image was fixed",
        Origin::manual(hale_domain::Actor::new("alice")),
    )
    .await
    .unwrap();
    advance(Duration::from_secs(30)).await;
    let o = refire(&e, &t, &a).await;
    assert!(matches!(&o, Outcome::OperationStarted { .. }), "{o:?}");
}

/// Two replicas: A took the alert's resolve (its converge landed) but its
/// write of the resolve onto the operation had not, when B took the re-fire,
/// a new episode. The fix's alert came back, so B marks it ineffective
/// (refired) rather than taking the firing for the old episode and leaving
/// it to be called effective later.
#[tokio::test(start_paused = true)]
async fn a_refire_seen_before_another_replicas_resolve_landed_is_ineffective() {
    use hale_engine::ports::FingerprintStore;
    let (kit, e, t) = setup(0).await;
    let a = alert("HighErrorRate", "checkout");
    let id = started(&ingest_one(&e, &t, a.clone()).await);
    e.wait_idle().await;
    advance(Duration::from_secs(60)).await;
    // Replica A's converge of the resolve, and nothing after it.
    let mut resolved = a.clone().resolved();
    resolved.starts_at = a.starts_at;
    resolved.ends_at = Some(hale_domain::Timestamp::from_unix_secs(1_790_000_000));
    let identity = TenantPolicy::new(t.clone(), vec![]).identity;
    let at = hale_domain::Timestamp::from_unix_secs(1_790_000_000);
    kit.store
        .converge(
            &t,
            &hale_domain::convergence::Delivery::of(&identity, &resolved, at),
        )
        .await
        .unwrap();
    assert_eq!(op(&kit, &t, &id).await.alert_resolved_at, None);
    // Replica B takes the re-fire.
    advance(Duration::from_secs(30)).await;
    let mut fresh = a.clone();
    fresh.starts_at = Some(hale_domain::Timestamp::from_unix_secs(1_790_000_100));
    ingest_one(&e, &t, fresh).await;
    let o = op(&kit, &t, &id).await;
    assert_eq!(o.effectiveness, Some(Effectiveness::Ineffective));
    let audited = audit(&kit, &t, "operation.effectiveness").await;
    assert_eq!(audited.len(), 1);
    assert!(
        audited[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("fired again"),
        "{audited:?}"
    );
    // Time alone never turns it effective afterwards.
    advance(Duration::from_secs(900)).await;
    e.settle_effectiveness().await.unwrap();
    assert_eq!(
        op(&kit, &t, &id).await.effectiveness,
        Some(Effectiveness::Ineffective)
    );
}
