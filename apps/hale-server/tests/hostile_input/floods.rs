//! One tenant floods; the other is neither refused nor starved.

use super::world::*;

/// Tenant `a` floods intake: while its deliveries hold every permit of its
/// own (`intake_in_flight_per_tenant`), its next one is refused with 503
/// and `Retry-After` before anything is recorded, and tenant `b` is never
/// refused. (Held permits stand for slow in-flight deliveries, so the case
/// is deterministic; the fairness benchmark is in docs/benchmarks.md.)
#[tokio::test]
async fn a_flooding_tenant_is_refused_at_its_own_limit_and_never_starves_another() {
    let w = world().await;
    let limit = hale_server::config::LimitsSection::default().intake_in_flight_per_tenant;
    let flood: Vec<_> = (0..limit)
        .map(|_| w.state.admission().admit(&tenant("a")).unwrap())
        .collect();
    let body = alert(&[("alertname", "HighErrorRate"), ("service", "flood")]);
    let r = w.post("/v1/alerts", A_INGEST, &body).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert!(r.text.contains("intake_in_flight_per_tenant"), "{}", r.text);
    assert!(r.text.contains("nothing was recorded"), "{}", r.text);
    assert_eq!(w.a_incidents().await, 0);
    for _ in 0..3 {
        w.bystander_heals().await;
    }
    drop(flood);
    let r = w.post("/v1/alerts", A_INGEST, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(w.state.admission().in_flight(), 0, "every permit came back");
}

/// Tenant `a` keeps every work slot busy and has more deliveries queued
/// behind them; tenant `b`'s delivery, arriving last, gets the next freed
/// slot, ahead of `a`'s queue (first come, first served would put it
/// behind all of them). Held entries stand for `a`'s slow deliveries.
#[tokio::test]
async fn a_flooding_tenants_queue_never_goes_ahead_of_another_tenant() {
    let w = world().await;
    let slots = HttpSettings::default().limits.intake_concurrency();
    let wait = std::time::Duration::from_secs(60);
    let mut held = Vec::new();
    for _ in 0..slots {
        held.push(
            w.state
                .admission()
                .enter(&tenant("a"), wait, std::time::Duration::ZERO)
                .await
                .unwrap(),
        );
    }
    let post = |token: &'static str, service: String| {
        let app = w.app.clone();
        let body = alert(&[("alertname", "HighErrorRate"), ("service", &service)]);
        tokio::spawn(async move {
            let req = Request::builder()
                .method(Method::POST)
                .uri("/v1/alerts")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(serde_json::to_vec(&body).unwrap()))
                .unwrap();
            app.oneshot(req).await.unwrap().status()
        })
    };
    let until_waiting = |n: usize| {
        let state = w.state.clone();
        async move {
            while state.admission().waiting() < n {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        }
    };
    let queued: Vec<_> = (0..3)
        .map(|i| post(A_INGEST, format!("flood-{i}")))
        .collect();
    until_waiting(3).await;
    let quiet = post(B_OPERATOR, "quiet".into());
    until_waiting(4).await;
    // The freed slot is handed on as it is dropped: to b, not to a's
    // oldest waiter.
    held.pop();
    let admission = w.state.admission();
    assert_eq!(admission.waiting_for(&tenant("b")), 0, "b got the slot");
    assert_eq!(admission.waiting_for(&tenant("a")), 3, "a's queue waits");
    assert_eq!(quiet.await.unwrap(), StatusCode::OK);
    drop(held);
    for q in queued {
        assert_eq!(q.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(w.state.admission().in_flight(), 0, "every permit came back");
}
