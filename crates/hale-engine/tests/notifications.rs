//! Issue 17: what people must hear about reaches them through the outbox,
//! at least once per notice and channel, whatever a channel does, and
//! without a channel ever holding up healing.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use hale_domain::notification::routing::{Route, Routes};
use hale_domain::notification::{Notice, NoticeKind};
use hale_domain::{Actor, Scope, Severity};
use hale_engine::metrics::family;
use hale_engine::ports::{
    ChannelError, DeliveryFilter, NotificationChannel, NotificationOutbox, PageRequest,
};
use hale_engine::{DeliverySetup, Engine, Outcome, TenantPolicy};
use hale_testkit::Kit;
use support::*;

/// A channel that refuses the first `fail_first` sends, then records.
struct Recorder {
    name: String,
    fail_first: Mutex<u32>,
    got: Mutex<Vec<Notice>>,
}

impl Recorder {
    fn new(name: &str, fail_first: u32) -> Arc<Recorder> {
        Arc::new(Recorder {
            name: name.to_owned(),
            fail_first: Mutex::new(fail_first),
            got: Mutex::new(Vec::new()),
        })
    }

    fn kinds(&self) -> Vec<NoticeKind> {
        self.got.lock().unwrap().iter().map(|n| n.kind).collect()
    }

    /// How often each notice id arrived.
    fn counts(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for n in self.got.lock().unwrap().iter() {
            *m.entry(n.id.clone()).or_default() += 1;
        }
        m
    }
}

#[async_trait]
impl NotificationChannel for Recorder {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, notice: &Notice) -> Result<(), ChannelError> {
        let mut fail = self.fail_first.lock().unwrap();
        if *fail > 0 {
            *fail -= 1;
            return Err(ChannelError("receiver down (503)".into()));
        }
        self.got.lock().unwrap().push(notice.clone());
        Ok(())
    }
}

fn route(tenant: Option<&str>, kinds: &[NoticeKind], min: Severity, channel: &str) -> Route {
    Route {
        tenant: tenant.map(|t| hale_domain::TenantId::new(t).unwrap()),
        kinds: kinds.to_vec(),
        min_severity: min,
        channel: channel.to_owned(),
    }
}

fn setup(
    channels: Vec<Arc<dyn NotificationChannel>>,
    routes: Vec<Route>,
    claimer: &str,
) -> DeliverySetup {
    DeliverySetup::new(channels, Routes { routes }, claimer)
}

fn policy(t: &hale_domain::TenantId) -> TenantPolicy {
    TenantPolicy::new(
        t.clone(),
        vec![approval_restart("HighLatency"), restart("HighErrorRate")],
    )
}

/// An approval request and its P0 incident reach the tenant's channels,
/// through a receiver that is down for the first attempts: retried with
/// backoff, delivered once each, the failures visible until then.
#[tokio::test(start_paused = true)]
async fn notices_reach_their_channels_once_after_the_receiver_comes_back() {
    let kit = Kit::new();
    let t = tenant("shop");
    let e = engine(&kit, vec![policy(&t)]).await;
    let hook = Recorder::new("hook", 3);
    let pager = Recorder::new("pager", 0);
    let delivery = e.outbox_delivery(setup(
        vec![hook.clone(), pager.clone()],
        vec![
            route(Some("shop"), &[], Severity::P3, "hook"),
            route(
                Some("shop"),
                &[NoticeKind::IncidentOpened],
                Severity::P1,
                "pager",
            ),
            route(Some("other"), &[], Severity::P3, "pager"),
        ],
        "replica-a",
    ));
    let o = ingest_one(&e, &t, alert("HighLatency", "checkout")).await;
    assert!(matches!(o, Outcome::ApprovalRequested { .. }), "{o:?}");

    let first = delivery.run_once().await.unwrap();
    assert_eq!(first.routed, 2, "the approval and the P0 incident");
    assert_eq!(
        (first.sent, first.failed),
        (1, 2),
        "the pager took its one; the hook is down"
    );
    let pending = kit
        .store
        .list_deliveries(
            Some(&t),
            &DeliveryFilter {
                channel: Some("hook".into()),
                ..DeliveryFilter::default()
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(pending.len(), 2);
    assert!(pending.iter().all(|d| d.attempts == 1
        && d.delivered_at.is_none()
        && d.last_error.as_deref() == Some("receiver down (503)")));

    // Not due again before the backoff (5 s) has passed.
    assert_eq!(delivery.run_once().await.unwrap().failed, 0);
    for _ in 0..4 {
        advance(Duration::from_secs(11)).await;
        delivery.run_once().await.unwrap();
    }
    assert_eq!(
        hook.counts().into_values().collect::<Vec<_>>(),
        vec![1, 1],
        "each notice arrived once"
    );
    assert_eq!(pager.kinds(), vec![NoticeKind::IncidentOpened]);
    let done = kit
        .store
        .list_deliveries(Some(&t), &DeliveryFilter::default())
        .await
        .unwrap()
        .items;
    assert_eq!(done.len(), 3, "one delivery per notice and channel");
    assert!(
        done.iter()
            .all(|d| d.delivered_at.is_some() && !d.is_pending())
    );
    let m = e.metrics();
    assert_eq!(m.get(family::NOTIFICATIONS_SENT, "hook"), 2);
    assert_eq!(m.get(family::NOTIFICATIONS_FAILED, "hook"), 3);
    assert_eq!(m.outbox_pending, 0);
}

/// Dormancy entered by hand and the lock backend lost and found again are
/// heard: the tenant's route gets the dormancy, the platform route the
/// lock backend (once per change, not once per alert).
#[tokio::test(start_paused = true)]
async fn dormancy_and_the_lock_backend_are_heard_in_their_scopes() {
    let kit = Kit::new();
    let t = tenant("shop");
    let e = engine(&kit, vec![policy(&t)]).await;
    let tenant_ch = Recorder::new("tenant", 0);
    let platform_ch = Recorder::new("platform", 0);
    let delivery = e.outbox_delivery(setup(
        vec![tenant_ch.clone(), platform_ch.clone()],
        vec![
            route(
                Some("shop"),
                &[NoticeKind::DormancyEntered],
                Severity::P3,
                "tenant",
            ),
            route(None, &[], Severity::P3, "platform"),
        ],
        "replica-a",
    ));
    kit.locks.set_unavailable(true);
    for i in 0..3 {
        ingest_one(&e, &t, alert("HighErrorRate", &format!("svc-{i}"))).await;
    }
    kit.locks.set_unavailable(false);
    ingest_one(&e, &t, alert("HighErrorRate", "svc-9")).await;
    e.enter_dormant(
        &Scope::Tenant(t.clone()),
        "db migration",
        &Actor::new("alice"),
    )
    .await
    .unwrap();
    delivery.run_once().await.unwrap();
    assert_eq!(tenant_ch.kinds(), vec![NoticeKind::DormancyEntered]);
    assert_eq!(
        platform_ch.kinds(),
        vec![
            NoticeKind::LockBackendUnavailable,
            NoticeKind::LockBackendRecovered
        ]
    );
    assert!(
        platform_ch
            .got
            .lock()
            .unwrap()
            .iter()
            .all(|n| n.tenant.is_none())
    );
}

/// Acts on the global scope (a global kill switch, global dormancy and its
/// resume) reach a platform route once each, however many tenants audit
/// them, and still reach each tenant's own routes.
#[tokio::test(start_paused = true)]
async fn global_acts_reach_the_platform_route_once() {
    let kit = Kit::new();
    let (shop, blog) = (tenant("shop"), tenant("blog"));
    let e = engine(&kit, vec![policy(&shop), policy(&blog)]).await;
    let shop_ch = Recorder::new("shop", 0);
    let platform_ch = Recorder::new("platform", 0);
    let delivery = e.outbox_delivery(setup(
        vec![shop_ch.clone(), platform_ch.clone()],
        vec![
            route(Some("shop"), &[], Severity::P3, "shop"),
            route(None, &[], Severity::P3, "platform"),
        ],
        "replica-a",
    ));
    let alice = Actor::new("alice");
    e.set_global_switch(
        hale_domain::kill_switch::Feature::AutoHealing,
        Some(hale_domain::kill_switch::Switch::Off),
        &alice,
        "freeze for the release",
    )
    .await
    .unwrap();
    assert!(
        e.enter_dormant(&Scope::Global, "region failover", &alice)
            .await
            .unwrap()
    );
    e.resume(&Scope::Global, "failover done", &alice)
        .await
        .unwrap();
    delivery.run_once().await.unwrap();
    let expected = vec![
        NoticeKind::KillSwitchChanged,
        NoticeKind::DormancyEntered,
        NoticeKind::DormancyResumed,
    ];
    assert_eq!(platform_ch.kinds(), expected);
    assert_eq!(shop_ch.kinds(), expected);
    let platform = platform_ch.got.lock().unwrap().clone();
    assert!(platform.iter().all(|n| n.tenant.is_none()), "{platform:?}");
    assert!(
        platform[0].summary.contains("freeze for the release"),
        "{}",
        platform[0].summary
    );
    assert!(
        platform[0].summary.contains("alice"),
        "{}",
        platform[0].summary
    );
    assert!(platform_ch.counts().values().all(|&c| c == 1));
}

/// A failed healing is escalated with its rollback result, and a channel
/// that never answers neither blocks healing nor loses the notice.
#[tokio::test(start_paused = true)]
async fn escalations_carry_the_rollback_result_and_a_dead_channel_blocks_nothing() {
    let kit = Kit::new();
    let t = tenant("shop");
    let failing = strategy(serde_json::json!({
        "id": "restart-errors",
        "risk": "low",
        "trigger": {"alertnames": ["HighErrorRate"]},
        "target": {"kind": "deployment"},
        "actions": [{"kind": "rollout_restart", "timeout": "30s"}],
        "rollback": {"actions": [{"kind": "rollout_undo"}]},
        "verify": {"check": "rollout_complete", "timeout": "10s", "interval": "2s"},
        "cooldown": "1s",
        "max_attempts": 100
    }));
    let e = engine(&kit, vec![TenantPolicy::new(t.clone(), vec![failing])]).await;
    kit.probe.set_default(hale_engine::ports::Health::Unhealthy(
        "still failing".into(),
    ));
    let dead = Recorder::new("dead", u32::MAX);
    let delivery = e.outbox_delivery(setup(
        vec![dead.clone()],
        vec![route(Some("shop"), &[], Severity::P3, "dead")],
        "replica-a",
    ));
    let o = ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await;
    assert!(matches!(o, Outcome::OperationStarted { .. }), "{o:?}");
    for _ in 0..10 {
        delivery.run_once().await.unwrap();
        advance(Duration::from_secs(5)).await;
    }
    let notices = kit
        .store
        .list_notices(Some(&t), PageRequest::default())
        .await
        .unwrap()
        .items;
    let esc = notices
        .iter()
        .find(|n| n.kind == NoticeKind::HealingEscalated)
        .unwrap_or_else(|| panic!("no escalation among {notices:#?}"));
    assert!(
        esc.summary.contains("rollback succeeded"),
        "{}",
        esc.summary
    );
    // Healing goes on while the channel fails.
    let again = ingest_one(&e, &t, alert("HighErrorRate", "payments")).await;
    assert!(
        matches!(again, Outcome::OperationStarted { .. }),
        "{again:?}"
    );
    let backlog = kit.store.outbox_backlog(Some(&t)).await.unwrap();
    assert!(backlog.pending >= 1, "the undelivered notices stay pending");
    assert!(dead.kinds().is_empty());
}

/// Two replicas over one store, passes interleaved and concurrent: each
/// notice reaches each channel exactly once.
#[tokio::test(start_paused = true)]
async fn two_replicas_deliver_each_notice_once_per_channel() {
    let kit = Kit::new();
    let t = tenant("shop");
    let a = engine(&kit, vec![policy(&t)]).await;
    let b: Engine = engine(&kit, vec![policy(&t)]).await;
    let hook = Recorder::new("hook", 0);
    let slack = Recorder::new("slack", 0);
    let channels: Vec<Arc<dyn NotificationChannel>> = vec![hook.clone(), slack.clone()];
    let routes = vec![
        route(Some("shop"), &[], Severity::P3, "hook"),
        route(Some("shop"), &[], Severity::P3, "slack"),
    ];
    let da = a.outbox_delivery(setup(channels.clone(), routes.clone(), "replica-a"));
    let db = b.outbox_delivery(setup(channels, routes, "replica-b"));
    for i in 0..8 {
        ingest_one(&a, &t, alert("HighLatency", &format!("svc-{i}"))).await;
        let (ra, rb) = tokio::join!(da.run_once(), db.run_once());
        ra.unwrap();
        rb.unwrap();
    }
    advance(Duration::from_secs(120)).await;
    let (ra, rb) = tokio::join!(da.run_once(), db.run_once());
    ra.unwrap();
    rb.unwrap();
    for ch in [&hook, &slack] {
        let counts = ch.counts();
        assert_eq!(counts.len(), 16, "8 approvals and 8 P0 incidents");
        assert!(counts.values().all(|c| *c == 1), "{counts:?}");
    }
}

/// Tenant `shop` with both strategies, and a `hook` channel that hears
/// `kinds` of its notices at `min` or worse.
async fn shop_with_hook(
    kinds: &[NoticeKind],
    min: Severity,
) -> (
    Kit,
    hale_domain::TenantId,
    Engine,
    Arc<Recorder>,
    hale_engine::OutboxDelivery,
) {
    let kit = Kit::new();
    let t = tenant("shop");
    let e = engine(&kit, vec![policy(&t)]).await;
    let hook = Recorder::new("hook", 0);
    let delivery = e.outbox_delivery(setup(
        vec![hook.clone()],
        vec![route(Some("shop"), kinds, min, "hook")],
        "replica-a",
    ));
    (kit, t, e, hook, delivery)
}

/// A target unhealthy again after its healing is a regression: the
/// preventive check records it, and its record carries a durable notice at
/// P2 that reaches the tenant's channel.
#[tokio::test(start_paused = true)]
async fn a_regression_after_healing_is_recorded_and_heard() {
    let (kit, t, e, hook, delivery) =
        shop_with_hook(&[NoticeKind::HealingEscalated], Severity::P2).await;
    let o = ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await;
    let op = started(&o);
    e.wait_idle().await;
    kit.probe.set_default(hale_engine::ports::Health::Unhealthy(
        "crash-looping".into(),
    ));
    e.start_background_tasks().unwrap();
    tokio::time::sleep(Duration::from_secs(601)).await;
    e.shutdown().await;
    assert_eq!(
        kit.notifier
            .count(hale_engine::ports::EscalationKind::Regression),
        1
    );
    assert_eq!(assert_every_escalation_noticed(&kit, &t).await, 1);
    let recorded = audit(&kit, &t, "regression.escalated").await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0].operation_id.as_ref().map(|o| o.to_string()),
        Some(op)
    );
    delivery.run_once().await.unwrap();
    let got = hook.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].id, recorded[0].id);
    assert_eq!(got[0].severity, Severity::P2);
    assert!(
        got[0].summary.starts_with("regression: "),
        "{}",
        got[0].summary
    );
}

fn approval_of(o: &Outcome) -> hale_domain::ApprovalId {
    match o {
        Outcome::ApprovalRequested { approval_id, .. } => {
            hale_domain::ApprovalId::new(approval_id.as_str())
        }
        other => panic!("expected an approval request, got {other:?}"),
    }
}

/// A pending approval gets one "expiring soon" reminder from the delivery
/// loop, once its expiry is within the warning (15 min), however many
/// passes run; an approval far from its expiry gets none yet.
#[tokio::test(start_paused = true)]
async fn the_delivery_loop_reminds_of_an_expiring_approval_once() {
    let (_kit, t, e, hook, delivery) =
        shop_with_hook(&[NoticeKind::ApprovalExpiringSoon], Severity::P3).await;
    let first = approval_of(&ingest_one(&e, &t, alert("HighLatency", "checkout")).await);
    delivery.run_once().await.unwrap();
    assert!(
        hook.kinds().is_empty(),
        "an hour before expiry: no reminder"
    );
    // 50 min later the first is 10 min from expiry; a second, newer one
    // is not.
    advance(Duration::from_secs(50 * 60)).await;
    let second = approval_of(&ingest_one(&e, &t, alert("HighLatency", "payments")).await);
    for _ in 0..5 {
        delivery.run_once().await.unwrap();
        advance(Duration::from_secs(30)).await;
    }
    let got = hook.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].subject.approval_id.as_ref(), Some(&first));
    assert_eq!(got[0].id, format!("{first}.approval_expiring_soon"));
    // The second's turn comes; the first is not reminded again.
    advance(Duration::from_secs(50 * 60)).await;
    for _ in 0..3 {
        delivery.run_once().await.unwrap();
        advance(Duration::from_secs(30)).await;
    }
    let counts = hook.counts();
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert!(counts.values().all(|&c| c == 1), "{counts:?}");
    assert!(counts.contains_key(&format!("{second}.approval_expiring_soon")));
}

/// Approved, rejected and expired requests reach the tenant's channel
/// through the engine's own decisions and expiry sweep, once each.
#[tokio::test(start_paused = true)]
async fn approved_rejected_and_expired_requests_are_heard() {
    let (_kit, t, e, hook, delivery) = shop_with_hook(
        &[
            NoticeKind::ApprovalApproved,
            NoticeKind::ApprovalRejected,
            NoticeKind::ApprovalExpired,
        ],
        Severity::P3,
    )
    .await;
    let approved = approval_of(&ingest_one(&e, &t, alert("HighLatency", "a")).await);
    let rejected = approval_of(&ingest_one(&e, &t, alert("HighLatency", "b")).await);
    let expired = approval_of(&ingest_one(&e, &t, alert("HighLatency", "c")).await);
    e.approve(&t, &approved, &Actor::new("alice"), None)
        .await
        .unwrap();
    e.approve(&t, &approved, &Actor::new("bob"), None)
        .await
        .unwrap();
    e.reject(&t, &rejected, &Actor::new("carol"), "not during the sale")
        .await
        .unwrap();
    e.wait_idle().await;
    advance(Duration::from_secs(3601)).await;
    assert_eq!(e.expire_approvals(&t).await.unwrap(), 1);
    for _ in 0..3 {
        delivery.run_once().await.unwrap();
    }
    let got = hook.got.lock().unwrap().clone();
    let by_approval = |id: &hale_domain::ApprovalId| -> Vec<NoticeKind> {
        got.iter()
            .filter(|n| n.subject.approval_id.as_ref() == Some(id))
            .map(|n| n.kind)
            .collect()
    };
    assert_eq!(by_approval(&approved), [NoticeKind::ApprovalApproved]);
    assert_eq!(by_approval(&rejected), [NoticeKind::ApprovalRejected]);
    assert_eq!(by_approval(&expired), [NoticeKind::ApprovalExpired]);
    let rej = got
        .iter()
        .find(|n| n.kind == NoticeKind::ApprovalRejected)
        .unwrap();
    assert!(
        rej.summary.contains("not during the sale"),
        "{}",
        rej.summary
    );
    assert!(hook.counts().values().all(|&c| c == 1));
}

/// A fatal failure latches the breaker PERMANENT_OPEN and a reset with a
/// reason reopens it: each is heard once on the tenant's channel, the
/// latch at P1 and the reset at P3 naming who reset it.
#[tokio::test(start_paused = true)]
async fn a_latched_breaker_and_its_reset_are_heard_once_each() {
    use hale_domain::breaker::BreakerState;
    use hale_domain::failure::FailureClass;
    use hale_testkit::fakes::Scripted;
    let (kit, t, e, hook, delivery) = shop_with_hook(
        &[NoticeKind::BreakerPermanentOpen, NoticeKind::BreakerReset],
        Severity::P3,
    )
    .await;
    kit.executor.push(
        "rollout_restart",
        Scripted::Fail(FailureClass::Transient, "No active API keys".into()),
    );
    started(&ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await);
    e.wait_idle().await;
    let s = e.status(&t).await.unwrap();
    let b = &s.circuit_breakers[0];
    assert_eq!(b.state, BreakerState::PermanentOpen);
    let name = b.name.clone();
    delivery.run_once().await.unwrap();
    assert_eq!(hook.kinds(), [NoticeKind::BreakerPermanentOpen]);
    let latched = hook.got.lock().unwrap()[0].clone();
    assert_eq!(latched.severity, Severity::P1);
    assert_eq!(
        latched.subject.resource.as_deref(),
        Some(format!("breaker:{name}").as_str())
    );

    e.reset_breaker(&t, &name, "token rotated", &Actor::new("alice"))
        .await
        .unwrap();
    for _ in 0..3 {
        delivery.run_once().await.unwrap();
    }
    assert_eq!(
        hook.kinds(),
        [NoticeKind::BreakerPermanentOpen, NoticeKind::BreakerReset]
    );
    let reset = hook.got.lock().unwrap()[1].clone();
    assert_eq!(reset.severity, Severity::P3);
    assert!(
        reset.summary.contains("alice") && reset.summary.contains("token rotated"),
        "{}",
        reset.summary
    );
    assert!(hook.counts().values().all(|&c| c == 1));
}

/// Issue 19's intake path: one delivery opening two P0 incidents and a
/// later one resolving them are each heard once, and a repeated resolve
/// (Alertmanager is at least once) adds nothing.
#[tokio::test(start_paused = true)]
async fn incidents_opened_and_resolved_through_intake_are_heard_once_each() {
    let (kit, t, e, hook, delivery) = shop_with_hook(
        &[NoticeKind::IncidentOpened, NoticeKind::IncidentResolved],
        Severity::P1,
    )
    .await;
    let disk = alert("DiskFull", "checkout");
    let queue = alert("QueueStuck", "payments");
    e.ingest(&t, vec![disk.clone(), queue.clone()])
        .await
        .unwrap();
    delivery.run_once().await.unwrap();
    assert_eq!(
        hook.kinds(),
        [NoticeKind::IncidentOpened, NoticeKind::IncidentOpened]
    );
    advance(Duration::from_secs(60)).await;
    let resolve = |a: &hale_domain::alert::Alert| {
        let mut r = a.clone().resolved();
        r.starts_at = a.starts_at;
        r.ends_at = Some(hale_domain::Timestamp::from_unix_secs(1_900_000_000));
        r
    };
    for _ in 0..2 {
        e.ingest(&t, vec![resolve(&disk), resolve(&queue)])
            .await
            .unwrap();
        delivery.run_once().await.unwrap();
    }
    let incidents = incidents(&kit, &t).await;
    assert_eq!(incidents.len(), 2);
    let counts = hook.counts();
    for i in &incidents {
        assert_eq!(counts.get(&format!("{}.incident_opened", i.id)), Some(&1));
        assert_eq!(
            counts.get(&format!("{}.incident_resolved", i.id)),
            Some(&1),
            "{counts:?}"
        );
    }
    assert_eq!(counts.len(), 4, "{counts:?}");
}

/// The platform's notices, oldest first.
async fn platform_notices(kit: &Kit) -> Vec<Notice> {
    let page = PageRequest {
        offset: 0,
        limit: 100,
    };
    let mut n = kit.store.list_notices(None, page).await.unwrap().items;
    n.reverse();
    n
}

/// The periodic lock probe announces a lost lock backend while no alert
/// asks for a lock, once per change however many probes see it, naming
/// the replica; and its return without waiting for the next alert.
#[tokio::test(start_paused = true)]
async fn the_lock_probe_announces_the_backend_lost_and_back_without_alert_traffic() {
    let kit = Kit::new();
    let t = tenant("shop");
    let config = hale_engine::EngineConfig {
        replica: "replica-a".to_owned(),
        ..hale_engine::EngineConfig::default()
    };
    let e = Engine::builder(kit.ports())
        .config(config)
        .tenant(policy(&t))
        .build()
        .await
        .unwrap();
    e.start_background_tasks().unwrap();
    let kinds = |n: &[Notice]| n.iter().map(|n| n.kind).collect::<Vec<_>>();
    tokio::time::sleep(Duration::from_secs(35)).await;
    assert!(
        platform_notices(&kit).await.is_empty(),
        "a backend that answers is no news"
    );

    kit.locks.set_unavailable(true);
    tokio::time::sleep(Duration::from_secs(35)).await;
    let seen = platform_notices(&kit).await;
    assert_eq!(
        kinds(&seen),
        vec![NoticeKind::LockBackendUnavailable],
        "three probes saw it down: one notice"
    );
    assert!(seen[0].summary.contains("replica-a"), "{}", seen[0].summary);

    kit.locks.set_unavailable(false);
    tokio::time::sleep(Duration::from_secs(35)).await;
    assert_eq!(
        kinds(&platform_notices(&kit).await),
        vec![
            NoticeKind::LockBackendUnavailable,
            NoticeKind::LockBackendRecovered
        ]
    );
    e.shutdown().await;
}

/// A lock-backend notice the store could not take is not lost: the change
/// stays unannounced and the next probe records it, once.
#[tokio::test(start_paused = true)]
async fn a_lock_notice_the_store_refused_is_recorded_by_the_next_probe() {
    let kit = Kit::new();
    let t = tenant("shop");
    let e = engine(&kit, vec![policy(&t)]).await;
    e.start_background_tasks().unwrap();
    kit.locks.set_unavailable(true);
    kit.store.set_unavailable(true);
    tokio::time::sleep(Duration::from_secs(25)).await;
    kit.store.set_unavailable(false);
    assert!(platform_notices(&kit).await.is_empty());
    tokio::time::sleep(Duration::from_secs(25)).await;
    let kinds: Vec<_> = platform_notices(&kit)
        .await
        .iter()
        .map(|n| n.kind)
        .collect();
    assert_eq!(kinds, vec![NoticeKind::LockBackendUnavailable]);
    e.shutdown().await;
}
