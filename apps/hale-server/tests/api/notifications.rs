//! `GET /v1/notifications`: deliveries of the caller's tenant (or, for a
//! platform token naming none, the platform's), with their attempts.

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::StatusCode;
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

#[tokio::test(start_paused = true)]
async fn notifications_are_listed_per_tenant_with_their_failures() {
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
