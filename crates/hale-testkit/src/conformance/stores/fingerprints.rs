//! Fingerprint store checks: convergence against the domain rule, episode
//! claims, listing and tenancy.

use std::collections::BTreeMap;
use std::sync::Arc;

use hale_domain::alert::AlertStatus;
use hale_domain::convergence::{
    self, ClaimKind, ConvergenceVerdict, Delivery, Fingerprint, FingerprintRecord,
};
use hale_domain::rng::JitterRng;
use hale_domain::{TenantId, Timestamp};
use hale_engine::ports::{PageRequest, StoreAdapter};

use super::support::{all_pages, at, at_micros, holds, ok, same};
use crate::fixtures::{self, unique_tenant};

async fn get<S: StoreAdapter>(
    store: &S,
    t: &TenantId,
    fp: &Fingerprint,
) -> Option<FingerprintRecord> {
    ok(store.get_fingerprint(t, fp).await, "get_fingerprint")
}

/// A delivery of `fp` whose identity labels vary with `variant`, so the
/// check sees the store take alertname and identity from each delivery.
fn delivery_of(
    fp: &Fingerprint,
    variant: u64,
    status: AlertStatus,
    received_at: Timestamp,
) -> Delivery {
    let label = if variant.is_multiple_of(2) {
        "service"
    } else {
        "deployment"
    };
    let mut identity = BTreeMap::new();
    identity.insert("namespace".to_owned(), "prod".to_owned());
    identity.insert(label.to_owned(), format!("svc-{variant}"));
    identity.insert("alertname".to_owned(), "HighErrorRate".to_owned());
    Delivery {
        fingerprint: fp.clone(),
        alertname: format!("HighErrorRate-{variant}"),
        identity,
        status,
        received_at,
    }
}

/// A deterministic mix of firing and resolved deliveries (with repeats and
/// out-of-order timestamps), claims (current, stale and future episodes)
/// and releases (matching and not) over two fingerprints, each result
/// compared with [`convergence::converge`] and
/// [`FingerprintRecord::try_claim`] applied to a model.
pub async fn converge_matches_domain_rule<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let fps = [
        fixtures::fingerprint("HighErrorRate", "checkout"),
        fixtures::fingerprint("HighErrorRate", "payments"),
    ];
    let mut model: BTreeMap<Fingerprint, FingerprintRecord> = BTreeMap::new();
    let mut rng = JitterRng::seeded(0x5EED_CAFE);
    let mut clock = 0_i64;
    for step in 0..300_u64 {
        let fp = &fps[usize::from(rng.below_inclusive(1) == 1)];
        // Mostly forward in time by up to 5 s (with microseconds), sometimes
        // backwards: last_seen_at must never go back.
        clock += i64::try_from(rng.below_inclusive(5_000_000)).unwrap_or(0);
        let now = if rng.below_inclusive(9) == 0 {
            at_micros(clock - 7_000_000)
        } else {
            at_micros(clock)
        };
        let roll = rng.below_inclusive(99);
        let ctx = format!("step {step}");
        if roll < 70 {
            let status = if roll < 45 {
                AlertStatus::Firing
            } else {
                AlertStatus::Resolved
            };
            let d = delivery_of(fp, rng.below_inclusive(3), status, now);
            let want = convergence::converge(model.get(fp), &d);
            let got = ok(store.converge(&t, &d).await, "converge");
            same(
                &got,
                &want,
                &format!("{ctx}: converge returns exactly what the domain rule computes"),
            );
            model.insert(fp.clone(), want);
        } else if let Some(rec) = model.get_mut(fp) {
            // Current, stale or future episode.
            let episode = (rec.episode + rng.below_inclusive(2)).saturating_sub(1);
            let id = format!("op-{}", rng.below_inclusive(2));
            if roll < 88 {
                let c = fixtures::claim(ClaimKind::Operation, &id, now);
                let want = rec.try_claim(episode, c.clone());
                let got = ok(
                    store.claim_episode(&t, fp, episode, &c).await,
                    "claim_episode",
                );
                same(
                    &got,
                    &want,
                    &format!(
                        "{ctx}: claim_episode({episode}) agrees with FingerprintRecord::try_claim"
                    ),
                );
            } else {
                let want = rec.episode == episode && rec.claim.as_ref().is_some_and(|c| c.id == id);
                if want {
                    rec.claim = None;
                }
                let got = ok(
                    store.release_episode_claim(&t, fp, episode, &id).await,
                    "release_episode_claim",
                );
                same(
                    &got,
                    &want,
                    &format!(
                        "{ctx}: release_episode_claim({episode}, {id}) drops only a matching claim"
                    ),
                );
            }
        }
        same(
            &get(&*store, &t, fp).await.as_ref(),
            &model.get(fp),
            &format!("{ctx}: the stored record equals the model"),
        );
    }
    let episodes: Vec<u64> = fps
        .iter()
        .filter_map(|f| model.get(f))
        .map(|r| r.episode)
        .collect();
    holds(
        episodes
            .iter()
            .all(|e| *e > convergence::RECENT_FIRINGS_KEPT as u64),
        "the sequence is long enough to overflow recent_firings (fix the check, not the store)",
    );
}

/// `claim_episode` takes a claim only for the current, firing, unclaimed
/// episode; a second claim loses.
pub async fn claim_episode_is_compare_and_set<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let fp = fixtures::fingerprint("HighErrorRate", "checkout");
    let claim = |id: &str| fixtures::claim(ClaimKind::Operation, id, at(1));
    holds(
        !ok(
            store.claim_episode(&t, &fp, 1, &claim("op-0")).await,
            "claim_episode",
        ),
        "claim_episode on an unknown fingerprint is false",
    );
    let firing = fixtures::delivery("HighErrorRate", "checkout", AlertStatus::Firing, at(0));
    let rec = ok(store.converge(&t, &firing).await, "converge");
    same(
        &rec.episode,
        &1,
        "the first firing delivery starts episode 1",
    );
    holds(
        ok(
            store.claim_episode(&t, &fp, 1, &claim("op-1")).await,
            "claim_episode",
        ),
        "the first claim of the current episode wins",
    );
    holds(
        !ok(
            store.claim_episode(&t, &fp, 1, &claim("op-2")).await,
            "claim_episode",
        ),
        "a second claim of a claimed episode is false",
    );
    holds(
        !ok(
            store.claim_episode(&t, &fp, 0, &claim("op-3")).await,
            "claim_episode",
        ),
        "a claim of a stale episode is false",
    );
    holds(
        !ok(
            store.claim_episode(&t, &fp, 2, &claim("op-4")).await,
            "claim_episode",
        ),
        "a claim of a future episode is false",
    );
    let stored = get(&*store, &t, &fp).await;
    same(
        &stored.as_ref().and_then(|r| r.claim.clone()),
        &Some(claim("op-1")),
        "the stored claim is the winner's, field for field",
    );
    let dup = ok(store.converge(&t, &firing).await, "converge");
    same(
        &dup.verdict(),
        &ConvergenceVerdict::Duplicate { claimed: true },
        "a duplicate of a claimed episode says claimed",
    );

    let resolved = fixtures::delivery("HighErrorRate", "checkout", AlertStatus::Resolved, at(10));
    ok(store.converge(&t, &resolved).await, "converge");
    let ghost = ok(
        store.release_episode_claim(&t, &fp, 1, "op-1").await,
        "release_episode_claim",
    );
    holds(
        ghost,
        "the claim survives resolution until the next episode and can still be released",
    );
    holds(
        !ok(
            store.claim_episode(&t, &fp, 1, &claim("op-5")).await,
            "claim_episode",
        ),
        "a resolved episode cannot be claimed",
    );
    let refire = ok(
        store
            .converge(
                &t,
                &fixtures::delivery("HighErrorRate", "checkout", AlertStatus::Firing, at(20)),
            )
            .await,
        "converge",
    );
    same(
        &(refire.episode, refire.claim.clone()),
        &(2, None),
        "firing again starts episode 2 with no claim",
    );
    holds(
        !ok(
            store.claim_episode(&t, &fp, 1, &claim("op-6")).await,
            "claim_episode",
        ),
        "the old episode stays unclaimable",
    );
    let approval = fixtures::claim(ClaimKind::Approval, "apr-1", at(21));
    holds(
        ok(
            store.claim_episode(&t, &fp, 2, &approval).await,
            "claim_episode",
        ),
        "the new episode can be claimed",
    );
    same(
        &get(&*store, &t, &fp).await.and_then(|r| r.claim),
        &Some(approval),
        "an approval claim is stored with its kind",
    );
}

/// `release_episode_claim` drops a claim only for the matching id and episode.
pub async fn release_claim_needs_matching_id<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let fp = fixtures::fingerprint("HighErrorRate", "checkout");
    holds(
        !ok(
            store.release_episode_claim(&t, &fp, 1, "op-1").await,
            "release_episode_claim",
        ),
        "releasing on an unknown fingerprint is false",
    );
    let firing = fixtures::delivery("HighErrorRate", "checkout", AlertStatus::Firing, at(0));
    ok(store.converge(&t, &firing).await, "converge");
    let c1 = fixtures::claim(ClaimKind::Operation, "op-1", at(1));
    holds(
        ok(store.claim_episode(&t, &fp, 1, &c1).await, "claim_episode"),
        "claim_episode",
    );
    holds(
        !ok(
            store.release_episode_claim(&t, &fp, 1, "op-2").await,
            "release_episode_claim",
        ),
        "another id cannot release the claim",
    );
    holds(
        !ok(
            store.release_episode_claim(&t, &fp, 0, "op-1").await,
            "release_episode_claim",
        ),
        "the right id on the wrong episode cannot release the claim",
    );
    holds(
        !ok(
            store
                .release_episode_claim(&unique_tenant(), &fp, 1, "op-1")
                .await,
            "release_episode_claim",
        ),
        "another tenant cannot release the claim",
    );
    same(
        &get(&*store, &t, &fp).await.and_then(|r| r.claim),
        &Some(c1),
        "failed releases leave the claim in place",
    );
    holds(
        ok(
            store.release_episode_claim(&t, &fp, 1, "op-1").await,
            "release_episode_claim",
        ),
        "the claimant releases its claim",
    );
    same(
        &get(&*store, &t, &fp).await.and_then(|r| r.claim),
        &None,
        "a released episode has no claim",
    );
    holds(
        !ok(
            store.release_episode_claim(&t, &fp, 1, "op-1").await,
            "release_episode_claim",
        ),
        "a second release finds nothing to drop",
    );
    let c2 = fixtures::claim(ClaimKind::Operation, "op-2", at(2));
    holds(
        ok(store.claim_episode(&t, &fp, 1, &c2).await, "claim_episode"),
        "a released episode can be claimed again",
    );
}

/// `list_fingerprints` is most recently seen first (ties by fingerprint,
/// descending) and pages.
pub async fn fingerprint_list_order_and_pages<S: StoreAdapter>(store: Arc<S>) {
    let t = unique_tenant();
    let services = ["a", "b", "c", "d", "e"];
    // First seen at 40, 10, 30, 30, 20. Then "e" is seen again at 50 (it
    // moves to the front: the order is by last, not first, sighting) and
    // "b" is seen again at 0 (a late delivery must not move it back).
    let first = [40, 10, 30, 30, 20];
    let last = [40, 10, 30, 30, 50];
    for (svc, secs) in services.iter().zip(first) {
        let d = fixtures::delivery("HighErrorRate", svc, AlertStatus::Firing, at(secs));
        ok(store.converge(&t, &d).await, "converge");
    }
    ok(
        store
            .converge(
                &t,
                &fixtures::delivery("HighErrorRate", "e", AlertStatus::Firing, at(50)),
            )
            .await,
        "converge",
    );
    ok(
        store
            .converge(
                &t,
                &fixtures::delivery("HighErrorRate", "b", AlertStatus::Resolved, at(0)),
            )
            .await,
        "converge",
    );
    let mut want: Vec<(Timestamp, Fingerprint)> = services
        .iter()
        .zip(last)
        .map(|(svc, secs)| (at(secs), fixtures::fingerprint("HighErrorRate", svc)))
        .collect();
    want.sort_by(|a, b| b.cmp(a));
    let want: Vec<Fingerprint> = want.into_iter().map(|(_, f)| f).collect();
    let page = ok(
        store.list_fingerprints(&t, PageRequest::default()).await,
        "list_fingerprints",
    );
    let got: Vec<Fingerprint> = page.items.iter().map(|r| r.fingerprint.clone()).collect();
    same(
        &got,
        &want,
        "list_fingerprints is most recently seen first, ties broken by fingerprint descending",
    );
    let b = get(&*store, &t, &fixtures::fingerprint("HighErrorRate", "b")).await;
    holds(
        page.items.iter().any(|r| Some(r) == b.as_ref()),
        "list_fingerprints returns whole records",
    );
    let paged = all_pages(2, 3, |p| {
        let (store, t) = (store.clone(), t.clone());
        async move { ok(store.list_fingerprints(&t, p).await, "list_fingerprints") }
    })
    .await;
    let paged: Vec<Fingerprint> = paged.into_iter().map(|r| r.fingerprint).collect();
    same(
        &paged,
        &want,
        "fingerprint pages concatenate to the full list, in order",
    );
}

/// Fingerprints are per tenant: the same alert in two tenants makes two
/// records, and tenant B cannot read, list, claim or release A's.
pub async fn fingerprint_tenant_isolation<S: StoreAdapter>(store: Arc<S>) {
    let (ta, tb) = (unique_tenant(), unique_tenant());
    let fp = fixtures::fingerprint("HighErrorRate", "checkout");
    let firing = fixtures::delivery("HighErrorRate", "checkout", AlertStatus::Firing, at(0));
    ok(store.converge(&ta, &firing).await, "converge");
    ok(store.converge(&ta, &firing).await, "converge");
    same(
        &get(&*store, &tb, &fp).await,
        &None,
        "tenant B reads tenant A's fingerprint as absent",
    );
    holds(
        ok(
            store.list_fingerprints(&tb, PageRequest::default()).await,
            "list_fingerprints",
        )
        .items
        .is_empty(),
        "tenant B's list never shows tenant A's fingerprints",
    );
    let c = fixtures::claim(ClaimKind::Operation, "op-b", at(1));
    holds(
        !ok(store.claim_episode(&tb, &fp, 1, &c).await, "claim_episode"),
        "tenant B cannot claim tenant A's episode",
    );
    let b_rec = ok(store.converge(&tb, &firing).await, "converge");
    same(
        &b_rec,
        &convergence::converge(None, &firing),
        "the same alert in tenant B starts its own record",
    );
    same(
        &b_rec.verdict(),
        &ConvergenceVerdict::NewEpisode,
        "tenant B's first delivery is a new episode of its own",
    );
    let a_rec = get(&*store, &ta, &fp).await;
    same(
        &a_rec.as_ref().map(|r| (r.hit_count, r.claim.clone())),
        &Some((2, None)),
        "tenant B's deliveries and claims leave tenant A's record unchanged",
    );
}
