//! A delivery's records commit together or not at all: a failed commit
//! releases the keys of the alerts it did not record, a retry records
//! them, and a commit that meets another writer keeps both changes.

mod support;

use std::time::Duration;

use hale_domain::record::incident::IncidentStatus;
use hale_engine::ports::IncidentStore;
use hale_engine::{Engine, Outcome, TenantPolicy};
use hale_testkit::Kit;
use support::*;

/// The kit's intake store, failing convergence for one alert name while
/// `failing` is set, and every commit while `failing_commits` is; it counts
/// the commits that reach the store.
struct FailsFor {
    inner: std::sync::Arc<dyn hale_engine::ports::IntakeStore>,
    alertname: &'static str,
    failing: std::sync::atomic::AtomicBool,
    failing_commits: std::sync::atomic::AtomicBool,
    commits: std::sync::atomic::AtomicUsize,
}

impl FailsFor {
    fn new(
        inner: std::sync::Arc<dyn hale_engine::ports::IntakeStore>,
        alertname: &'static str,
    ) -> Self {
        FailsFor {
            inner,
            alertname,
            failing: std::sync::atomic::AtomicBool::new(false),
            failing_commits: std::sync::atomic::AtomicBool::new(false),
            commits: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

#[async_trait::async_trait]
impl hale_engine::ports::IntakeStore for FailsFor {
    async fn converge_for_intake(
        &self,
        tenant: &hale_domain::TenantId,
        deliveries: &[hale_domain::convergence::Delivery],
    ) -> Result<Vec<hale_engine::ports::Converged>, hale_engine::ports::StoreError> {
        if deliveries.iter().any(|d| d.alertname == self.alertname)
            && self.failing.load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(hale_engine::ports::StoreError::Unavailable(
                "injected".into(),
            ));
        }
        self.inner.converge_for_intake(tenant, deliveries).await
    }

    async fn commit_intake(
        &self,
        tenant: &hale_domain::TenantId,
        writes: &[hale_engine::ports::IntakeWrite],
    ) -> Result<Vec<Option<u64>>, hale_engine::ports::StoreError> {
        if self
            .failing_commits
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(hale_engine::ports::StoreError::Unavailable(
                "injected".into(),
            ));
        }
        self.commits
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.commit_intake(tenant, writes).await
    }
}

/// An engine on the kit whose intake commits can be made to fail.
async fn engine_with_failing_commits(
    kit: &Kit,
    t: &hale_domain::TenantId,
) -> (Engine, std::sync::Arc<FailsFor>) {
    let mut ports = kit.ports();
    let intake = std::sync::Arc::new(FailsFor::new(ports.stores.intake.clone(), "-"));
    ports.stores.intake = intake.clone();
    let e = Engine::builder(ports)
        .tenant(TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")]))
        .build()
        .await
        .unwrap();
    (e, intake)
}

/// The kit's idempotency keys, counting the calls that reach them.
struct CountingKeys {
    inner: std::sync::Arc<dyn hale_engine::ports::IdempotencyKeys>,
    calls: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl hale_engine::ports::IdempotencyKeys for CountingKeys {
    async fn claim(
        &self,
        tenant: &hale_domain::TenantId,
        key: &str,
        ttl: Duration,
    ) -> Result<bool, hale_engine::ports::LockError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.claim(tenant, key, ttl).await
    }

    async fn release_claim(
        &self,
        tenant: &hale_domain::TenantId,
        key: &str,
    ) -> Result<(), hale_engine::ports::LockError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.release_claim(tenant, key).await
    }

    async fn claim_all(
        &self,
        tenant: &hale_domain::TenantId,
        keys: &[String],
        ttl: Duration,
    ) -> Result<Vec<bool>, hale_engine::ports::LockError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.claim_all(tenant, keys, ttl).await
    }
}

/// A delivery's idempotency keys are claimed in one call. When the
/// delivery's convergence fails, no alert is recorded, so every key it
/// claimed is released and the retry processes every alert (a repeat of an
/// alert within the delivery held no key of its own).
#[tokio::test(start_paused = true)]
async fn a_delivery_claims_its_keys_at_once_and_a_failure_releases_the_unrecorded() {
    let kit = Kit::new();
    let t = tenant("t");
    let mut ports = kit.ports();
    let intake = std::sync::Arc::new(FailsFor::new(ports.stores.intake.clone(), "B2"));
    intake
        .failing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    ports.stores.intake = intake.clone();
    let keys = std::sync::Arc::new(CountingKeys {
        inner: ports.idempotency.clone(),
        calls: std::sync::atomic::AtomicUsize::new(0),
    });
    ports.idempotency = keys.clone();
    let e = Engine::builder(ports)
        .tenant(TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")]))
        .config(hale_engine::EngineConfig {
            intake_concurrency: 1,
            ..hale_engine::EngineConfig::default()
        })
        .build()
        .await
        .unwrap();
    let batch = vec![
        alert("A1", "a"),
        alert("B2", "b"),
        alert("C3", "c"),
        alert("A1", "a"),
    ];
    let err = e.ingest(&t, batch.clone()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    // One batch claim, then one release each for A1, B2 and C3.
    assert_eq!(keys.calls.load(std::sync::atomic::Ordering::SeqCst), 4);
    assert!(incidents(&kit, &t).await.is_empty());
    intake
        .failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    keys.calls.store(0, std::sync::atomic::Ordering::SeqCst);
    let r = e.ingest(&t, batch.clone()).await.unwrap();
    let labels: Vec<&str> = r.decisions.iter().map(|d| d.outcome.label()).collect();
    assert_eq!(
        labels,
        [
            "no_strategy",
            "no_strategy",
            "no_strategy",
            "duplicate_delivery"
        ]
    );
    assert_eq!(
        keys.calls.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "four alerts, one round trip"
    );
    assert_eq!(incidents(&kit, &t).await.len(), 3);
    // Delivered again: every alert is a duplicate delivery.
    let r = e.ingest(&t, batch).await.unwrap();
    assert!(
        r.decisions
            .iter()
            .all(|d| d.outcome.label() == "duplicate_delivery"),
        "{r:?}"
    );
}

/// The alerts of a delivery whose fingerprints differ commit their records
/// in one transaction; when it fails, none of them is recorded, every key
/// is released, and the retry records all of them, each episode's first
/// records included.
#[tokio::test(start_paused = true)]
async fn a_deliverys_records_commit_in_one_transaction_or_not_at_all() {
    let kit = Kit::new();
    let t = tenant("t");
    let (e, intake) = engine_with_failing_commits(&kit, &t).await;
    let batch: Vec<_> = ["a", "b", "c", "d", "e"]
        .into_iter()
        .map(|svc| alert("NotHandled", svc))
        .collect();
    intake
        .failing_commits
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let err = e.ingest(&t, batch.clone()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(incidents(&kit, &t).await.is_empty());
    assert!(timeline(&kit, &t).await.is_empty());
    intake
        .failing_commits
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let r = e.ingest(&t, batch).await.unwrap();
    assert!(
        r.decisions
            .iter()
            .all(|d| d.outcome.label() == "no_strategy"),
        "{r:?}"
    );
    assert_eq!(
        intake.commits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "five alerts' records, one transaction"
    );
    let inc = incidents(&kit, &t).await;
    assert_eq!(inc.len(), 5);
    // The retry came after the episodes began, and still records that no
    // strategy matched.
    for i in &inc {
        assert!(
            i.decision_chain.iter().any(|s| s.decision == "no_strategy"),
            "{:?}",
            i.decision_chain
        );
    }
    assert_eq!(timeline(&kit, &t).await.len(), 5);
}

/// What one alert's evaluation records (here a new incident, its "alert
/// received" event, the block's audit entry and the block's step) commits
/// in one transaction: a failed commit leaves none of it and answers
/// unavailable, and the sender's retry records all of it.
#[tokio::test(start_paused = true)]
async fn an_alerts_records_commit_together_or_not_at_all() {
    use hale_domain::kill_switch::{Feature, Switch};
    let mut kit = Kit::new();
    kit.flags.features.insert(Feature::AutoHealing, Switch::Off);
    let t = tenant("t");
    let (e, intake) = engine_with_failing_commits(&kit, &t).await;
    intake
        .failing_commits
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let a = alert("HighErrorRate", "checkout");
    let err = e.ingest(&t, vec![a.clone()]).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(
        incidents(&kit, &t).await.is_empty(),
        "no incident without its records"
    );
    assert!(audit(&kit, &t, "healing.blocked").await.is_empty());
    let events = timeline(&kit, &t).await;
    assert!(events.is_empty(), "{events:?}");

    intake
        .failing_commits
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let o = ingest_one(&e, &t, a).await;
    assert!(matches!(o, Outcome::Blocked { .. }), "{o:?}");
    assert_eq!(
        intake.commits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one transaction for the alert's records"
    );
    let inc = incidents(&kit, &t).await;
    assert_eq!(inc.len(), 1, "{inc:?}");
    let blocked = audit(&kit, &t, "healing.blocked").await;
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].incident_id.as_ref(), Some(&inc[0].id));
    assert!(
        inc[0]
            .decision_chain
            .iter()
            .any(|s| s.decision == "blocked"),
        "{:?}",
        inc[0].decision_chain
    );
    let events = timeline(&kit, &t).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].incident_id.as_ref(), Some(&inc[0].id));
}

/// A resolve whose delivery failed after converging is not lost: the
/// sender's retry converges as a repeated resolve, finds the incident still
/// open and resolves it.
#[tokio::test(start_paused = true)]
async fn a_resolve_whose_delivery_failed_resolves_the_incident_on_the_retry() {
    let kit = Kit::new();
    let t = tenant("t");
    let (e, intake) = engine_with_failing_commits(&kit, &t).await;
    let firing = alert("NotHandled", "a");
    let o = ingest_one(&e, &t, firing.clone()).await;
    assert_eq!(o.label(), "no_strategy");
    let open = incidents(&kit, &t).await;
    assert_eq!(open.len(), 1);
    assert!(open[0].status.is_open());

    let batch = vec![firing.resolved(), alert("NotHandled", "b")];
    intake
        .failing_commits
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let err = e.ingest(&t, batch.clone()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    intake
        .failing_commits
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let r = e.ingest(&t, batch).await.unwrap();
    assert!(
        matches!(&r.decisions[0].outcome, Outcome::Resolved { incident_id: Some(id) } if *id == open[0].id),
        "{r:?}"
    );
    let after = incidents(&kit, &t).await;
    let first = after.iter().find(|i| i.id == open[0].id).unwrap();
    assert_eq!(first.status, IncidentStatus::Resolved);
    // Repeats after that are duplicates again.
    let r = e
        .ingest(&t, vec![alert("NotHandled", "a").resolved()])
        .await
        .unwrap();
    assert_eq!(r.decisions[0].outcome.label(), "duplicate_delivery");
}

/// The kit's intake store, with another writer (another replica, a person)
/// changing each incident the next commit updates just before it lands.
struct Interferes {
    inner: std::sync::Arc<dyn hale_engine::ports::IntakeStore>,
    incidents: std::sync::Arc<dyn IncidentStore>,
    armed: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl hale_engine::ports::IntakeStore for Interferes {
    async fn converge_for_intake(
        &self,
        tenant: &hale_domain::TenantId,
        deliveries: &[hale_domain::convergence::Delivery],
    ) -> Result<Vec<hale_engine::ports::Converged>, hale_engine::ports::StoreError> {
        self.inner.converge_for_intake(tenant, deliveries).await
    }

    async fn commit_intake(
        &self,
        tenant: &hale_domain::TenantId,
        writes: &[hale_engine::ports::IntakeWrite],
    ) -> Result<Vec<Option<u64>>, hale_engine::ports::StoreError> {
        if self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            for w in writes {
                if let Some(hale_engine::ports::IncidentWrite::Update(i)) = &w.incident {
                    let mut theirs = self.incidents.get_incident(tenant, &i.id).await?.unwrap();
                    theirs.push_decision(hale_domain::record::incident::DecisionStep {
                        at: i.updated_at,
                        stage: "coordination".to_owned(),
                        decision: "deferred".to_owned(),
                        reason: "written by another replica".to_owned(),
                    });
                    self.incidents.update_incident(&theirs).await?;
                }
            }
        }
        self.inner.commit_intake(tenant, writes).await
    }
}

/// A delivery's commit that meets an incident another writer changed in
/// the meantime (a stale revision) loses neither side: each draft is then
/// committed on its own, re-reading the row and applying its changes again.
#[tokio::test(start_paused = true)]
async fn a_delivery_commit_that_meets_another_writer_keeps_both_changes() {
    use hale_domain::kill_switch::{Feature, Switch};
    let mut kit = Kit::new();
    kit.flags.features.insert(Feature::AutoHealing, Switch::Off);
    let t = tenant("t");
    let mut ports = kit.ports();
    let intake = std::sync::Arc::new(Interferes {
        inner: ports.stores.intake.clone(),
        incidents: ports.stores.incidents.clone(),
        armed: std::sync::atomic::AtomicBool::new(false),
    });
    ports.stores.intake = intake.clone();
    let e = Engine::builder(ports)
        .tenant(TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")]))
        .build()
        .await
        .unwrap();
    let first = alert("HighErrorRate", "a");
    let o = ingest_one(&e, &t, first.clone()).await;
    assert!(matches!(o, Outcome::Blocked { .. }), "{o:?}");
    // The same alert again (another delivery of the episode: a new key),
    // and a new one, while another writer changes the first's incident.
    let mut again = first;
    again.starts_at = Some(hale_domain::Timestamp::from_unix_secs(1_800_000_000));
    intake
        .armed
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let r = e
        .ingest(&t, vec![again, alert("HighErrorRate", "b")])
        .await
        .unwrap();
    assert!(
        r.decisions
            .iter()
            .all(|d| matches!(d.outcome, Outcome::Blocked { .. })),
        "{r:?}"
    );
    let inc = incidents(&kit, &t).await;
    assert_eq!(inc.len(), 2, "{inc:?}");
    let a = inc
        .iter()
        .find(|i| i.title.contains("/a"))
        .unwrap_or_else(|| panic!("{inc:?}"));
    let reasons: Vec<&str> = a.decision_chain.iter().map(|s| s.reason.as_str()).collect();
    assert!(
        reasons.contains(&"written by another replica"),
        "{reasons:?}"
    );
    let blocks = a
        .decision_chain
        .iter()
        .filter(|s| s.decision == "blocked")
        .count();
    assert_eq!(blocks, 2, "{reasons:?}");
    assert_eq!(audit(&kit, &t, "healing.blocked").await.len(), 3);
}
