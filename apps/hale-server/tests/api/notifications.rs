//! `GET /v1/notifications`: deliveries of the caller's tenant (or, for a
//! platform token naming none, the platform's), with their attempts.

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::{Method, StatusCode};
use hale_domain::Severity;
use hale_domain::notification::Notice;
use hale_domain::notification::routing::{Route, Routes};
use hale_engine::DeliverySetup;
use hale_engine::ports::{ChannelError, NotificationChannel, NotificationOutbox};

use crate::support::*;

struct Refusing;

#[async_trait]
impl NotificationChannel for Refusing {
    fn name(&self) -> &str {
        "hook"
    }
    async fn send(&self, _: &Notice) -> Result<(), ChannelError> {
        Err(ChannelError("the receiver answered 503".into()))
    }
}

/// An API whose tenant `a` started an operation (its P1 incident is a
/// notice) and whose platform lost the lock backend (a platform notice).
async fn fired_and_lock_backend_lost() -> Api {
    let api = api().await;
    let d = api.fire(A_OPERATOR, "HighErrorRate", "checkout").await;
    assert!(d["outcome"]["operation_id"].is_string(), "{d}");
    let lock_down = Notice::lock_backend(
        "n-1".into(),
        "test",
        false,
        "timed out",
        hale_engine::ports::Clock::now(api.kit.clock.as_ref()),
    );
    api.kit.store.enqueue_notices(&[lock_down]).await.unwrap();
    api
}

#[tokio::test(start_paused = true)]
async fn notifications_are_listed_per_tenant_with_their_failures() {
    let api = fired_and_lock_backend_lost().await;
    let routes = Routes {
        routes: vec![
            Route {
                tenant: Some(tenant("a")),
                kinds: Vec::new(),
                min_severity: Severity::P3,
                channel: "hook".into(),
            },
            Route {
                tenant: None,
                kinds: Vec::new(),
                min_severity: Severity::P3,
                channel: "hook".into(),
            },
        ],
    };
    let delivery =
        api.engine
            .outbox_delivery(DeliverySetup::new(vec![Arc::new(Refusing)], routes, "test"));
    delivery.run_once().await.unwrap();

    let r = api.get("/v1/notifications", A_VIEWER).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", r.text);
    assert_eq!(items[0]["notice"]["kind"], "incident_opened");
    assert_eq!(items[0]["notice"]["tenant"], "a");
    assert_eq!(items[0]["channel"], "hook");
    assert_eq!(items[0]["attempts"], 1);
    assert_eq!(items[0]["last_error"], "the receiver answered 503");
    assert!(items[0]["delivered_at"].is_null());
    assert!(items[0]["next_attempt_at"].is_string());

    let r = api
        .get(
            "/v1/notifications?pending=false&kind=incident_opened",
            A_VIEWER,
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0, "{}", r.text);
    let r = api.get("/v1/notifications", B_OPERATOR).await;
    assert_eq!(
        r.body["items"].as_array().unwrap().len(),
        0,
        "tenant b sees none of a's"
    );
    let r = api.get("/v1/notifications?tenant=a", B_OPERATOR).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = api.get("/v1/notifications", P_VIEWER).await;
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", r.text);
    assert_eq!(items[0]["notice"]["kind"], "lock_backend_unavailable");
    assert!(items[0]["notice"]["tenant"].is_null());
    let r = api.get("/v1/notifications?tenant=a", P_VIEWER).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    for bad in [
        "/v1/notifications?kind=nonsense",
        "/v1/notifications?limit=0",
    ] {
        let r = api.get(bad, A_VIEWER).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let r = api.get("/v1/notifications", "no-such-token").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// A channel that takes every notice (`takes`) or refuses every one.
struct Fixed {
    name: &'static str,
    takes: bool,
}

#[async_trait]
impl NotificationChannel for Fixed {
    fn name(&self) -> &str {
        self.name
    }
    async fn send(&self, _: &Notice) -> Result<(), ChannelError> {
        if self.takes {
            Ok(())
        } else {
            Err(ChannelError("the receiver answered 503".into()))
        }
    }
}

/// The value of one sample line of the real `/metrics` exposition.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in {text}"))
        .parse()
        .unwrap()
}

/// `/metrics` shows what the delivery did: sent and failed attempts and
/// given-up deliveries by channel, the backlog and its oldest age.
#[tokio::test(start_paused = true)]
async fn metrics_show_sent_failed_given_up_and_the_pending_backlog() {
    let api = fired_and_lock_backend_lost().await;
    let route = |tenant: Option<&str>, channel: &str| Route {
        tenant: tenant.map(crate::support::tenant),
        kinds: Vec::new(),
        min_severity: Severity::P3,
        channel: channel.into(),
    };
    let routes = Routes {
        routes: vec![route(Some("a"), "down"), route(None, "up")],
    };
    let mut setup = DeliverySetup::new(
        vec![
            Arc::new(Fixed {
                name: "down",
                takes: false,
            }),
            Arc::new(Fixed {
                name: "up",
                takes: true,
            }),
        ],
        routes,
        "test",
    );
    setup.policy.max_attempts = Some(2);
    let delivery = api.engine.outbox_delivery(setup);
    tokio::time::advance(std::time::Duration::from_secs(30)).await;
    delivery.run_once().await.unwrap();

    let m = api.call(Method::GET, "/metrics", None, None).await.text;
    assert_eq!(
        sample(&m, "hale_notifications_sent_total{channel=\"up\"}"),
        1.0
    );
    let failed = sample(&m, "hale_notifications_failed_total{channel=\"down\"}");
    assert!(failed >= 1.0, "{m}");
    let pending = sample(&m, "hale_notifications_pending");
    assert_eq!(pending, failed, "each failed delivery waits for its retry");
    assert!(
        sample(&m, "hale_notifications_oldest_pending_seconds") >= 30.0,
        "{m}"
    );
    assert!(
        !m.contains("hale_notifications_given_up_total{channel=\"down\"}")
            || sample(&m, "hale_notifications_given_up_total{channel=\"down\"}") == 0.0,
        "{m}"
    );

    // The second failed attempt is the last one.
    tokio::time::advance(std::time::Duration::from_secs(600)).await;
    delivery.run_once().await.unwrap();
    let m = api.call(Method::GET, "/metrics", None, None).await.text;
    assert_eq!(
        sample(&m, "hale_notifications_given_up_total{channel=\"down\"}"),
        pending,
        "{m}"
    );
    assert_eq!(sample(&m, "hale_notifications_pending"), 0.0, "{m}");
    assert_eq!(sample(&m, "hale_notifications_oldest_pending_seconds"), 0.0);
    let r = api.get("/v1/notifications", A_VIEWER).await;
    let items = r.body["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(
        items.iter().all(|d| d["given_up_at"].is_string()),
        "{}",
        r.text
    );
}

/// A receiver that refuses until it is switched up, and counts what it
/// took by notice id.
#[derive(Default)]
struct Outage {
    up: std::sync::atomic::AtomicBool,
    took: std::sync::Mutex<Vec<String>>,
}

struct OutageChannel(Arc<Outage>);

#[async_trait]
impl NotificationChannel for OutageChannel {
    fn name(&self) -> &str {
        "hook"
    }
    async fn send(&self, n: &Notice) -> Result<(), ChannelError> {
        if self.0.up.load(std::sync::atomic::Ordering::SeqCst) {
            self.0.took.lock().unwrap().push(n.id.clone());
            Ok(())
        } else {
            Err(ChannelError("the receiver answered 503".into()))
        }
    }
}

/// A channel down until its deliveries are given up loses nothing: an
/// operator of the tenant (a platform admin for the platform's) redrives
/// them with a reason, audited, and each is then delivered once.
#[tokio::test(start_paused = true)]
async fn given_up_deliveries_are_redriven_by_an_operator_and_delivered_once() {
    let api = fired_and_lock_backend_lost().await;
    let route = |tenant: Option<&str>| Route {
        tenant: tenant.map(crate::support::tenant),
        kinds: Vec::new(),
        min_severity: Severity::P3,
        channel: "hook".into(),
    };
    let receiver = Arc::new(Outage::default());
    let mut setup = DeliverySetup::new(
        vec![Arc::new(OutageChannel(receiver.clone()))],
        Routes {
            routes: vec![route(Some("a")), route(None)],
        },
        "test",
    );
    setup.policy.max_attempts = Some(2);
    let delivery = api.engine.outbox_delivery(setup);
    for _ in 0..3 {
        delivery.run_once().await.unwrap();
        tokio::time::advance(std::time::Duration::from_secs(600)).await;
    }
    let given_up = |who: &'static str| {
        let api = &api;
        async move {
            let r = api.get("/v1/notifications", who).await;
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["given_up_at"].is_string())
                .count()
        }
    };
    assert_eq!(
        given_up(A_VIEWER).await,
        1,
        "a's incident notice is given up"
    );
    assert_eq!(
        given_up(P_VIEWER).await,
        1,
        "the platform's notice is given up"
    );

    let body = serde_json::json!({"channel": "hook", "reason": "Slack was down all weekend"});
    for (token, uri, status) in [
        (A_VIEWER, "/v1/notifications/redrive", StatusCode::FORBIDDEN),
        (
            B_OPERATOR,
            "/v1/notifications/redrive?tenant=a",
            StatusCode::FORBIDDEN,
        ),
        (P_VIEWER, "/v1/notifications/redrive", StatusCode::FORBIDDEN),
        (
            "no-such-token",
            "/v1/notifications/redrive",
            StatusCode::UNAUTHORIZED,
        ),
    ] {
        let r = api.post(uri, token, &body).await;
        assert_eq!(r.status, status, "{token} {uri}: {}", r.text);
    }
    let r = api
        .post(
            "/v1/notifications/redrive",
            A_OPERATOR,
            &serde_json::json!({"channel": "hook", "reason": " "}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        given_up(A_VIEWER).await,
        1,
        "refused redrives change nothing"
    );

    let r = api
        .post("/v1/notifications/redrive", A_OPERATOR, &body)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["redriven"], 1, "{}", r.text);
    assert_eq!(r.body["tenant"], "a");
    assert_eq!(given_up(A_VIEWER).await, 0);
    assert_eq!(
        given_up(P_VIEWER).await,
        1,
        "a tenant's redrive leaves the platform's"
    );
    let r = api.post("/v1/notifications/redrive", P_ADMIN, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["redriven"], 1, "{}", r.text);
    assert_eq!(r.body["tenant"], "*");

    let entries = audit(&api, "notifications.redriven").await;
    assert_eq!(
        entries.len(),
        2,
        "a's own and the platform's (in every tenant's log): {entries:?}"
    );
    let mine = entries
        .iter()
        .find(|e| e["executed_by"] == "alice")
        .unwrap_or_else(|| panic!("no entry by alice: {entries:?}"));
    assert_eq!(mine["authorization_channel"], "manual", "{mine}");
    assert_eq!(mine["target_resource"], "notifications:hook");
    assert!(
        mine["reason"]
            .as_str()
            .unwrap()
            .starts_with("Slack was down all weekend (1 given-up deliveries of tenant a)"),
        "{mine}"
    );

    receiver.up.store(true, std::sync::atomic::Ordering::SeqCst);
    for _ in 0..3 {
        delivery.run_once().await.unwrap();
        tokio::time::advance(std::time::Duration::from_secs(600)).await;
    }
    let took = receiver.took.lock().unwrap().clone();
    assert_eq!(
        took.len(),
        2,
        "each redriven notice is delivered once: {took:?}"
    );
    assert_ne!(took[0], took[1]);
    let r = api.get("/v1/notifications", A_VIEWER).await;
    assert!(r.body["items"][0]["delivered_at"].is_string(), "{}", r.text);
}
