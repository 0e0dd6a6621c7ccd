//! /healthz, /readyz, /metrics, /v1/openapi.json, and unknown routes.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode, header};
use hale_server::routes::route_list;

use crate::support::*;

#[tokio::test(start_paused = true)]
async fn health_and_readiness() {
    let api = api().await;
    let r = api.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = api.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["store"], "ok");

    api.kit.store.set_unavailable(true);
    let r = api.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("store") && !detail.contains("lock backend"),
        "{detail}"
    );
    assert!(r.headers.contains_key(header::RETRY_AFTER));
    api.kit.store.set_unavailable(false);

    api.kit.locks.set_unavailable(true);
    let r = api.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        r.body["detail"].as_str().unwrap().contains("lock backend"),
        "{}",
        r.text
    );
    // The process is still alive.
    assert_eq!(
        api.call(Method::GET, "/healthz", None, None).await.status,
        StatusCode::OK
    );
}

#[tokio::test(start_paused = true)]
async fn metrics_count_alerts_decisions_breakers_and_requests() {
    let api = api().await;
    api.post_raw(
        "/v1/alerts/alertmanager",
        A_INGEST,
        "application/json",
        payload("alertmanager-webhook.json"),
    )
    .await;
    api.post_raw(
        "/v1/alerts/alertmanager",
        A_INGEST,
        "application/json",
        payload("alertmanager-webhook.json"),
    )
    .await;
    api.engine.wait_idle().await;
    api.get("/v1/operations/op-x", A_VIEWER).await;
    let r = api.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let t = &r.text;
    assert!(t.contains("hale_alerts_received_total 2\n"), "{t}");
    assert!(
        t.contains("hale_alerts_deduplicated_total{kind=\"delivery\"} 1\n"),
        "{t}"
    );
    assert!(
        t.contains("hale_decisions_total{decision=\"operation_started\"} 1\n"),
        "{t}"
    );
    assert!(
        t.contains("hale_operations_total{state=\"COMPLETED\"} 1\n")
            || t.contains("hale_operations_total{state=\"completed\"} 1\n"),
        "{t}"
    );
    assert!(
        t.contains("hale_breaker_state{tenant=\"a\",breaker=\"scripted\",state=\"CLOSED\"} 1\n"),
        "{t}"
    );
    assert!(
        t.contains("hale_breaker_state{tenant=\"a\",breaker=\"scripted\",state=\"OPEN\"} 0\n"),
        "{t}"
    );
    assert!(t.contains("hale_dormant{scope=\"global\"} 0\n"), "{t}");
    assert!(t.contains("hale_dormant{scope=\"tenant:b\"} 0\n"), "{t}");
    assert!(t.contains("hale_lock_acquire_seconds_count 1\n"), "{t}");
    assert!(
        t.contains(
            "hale_http_requests_total{route=\"/v1/alerts/alertmanager\",status=\"200\"} 2\n"
        ),
        "{t}"
    );
    assert!(
        t.contains("hale_http_requests_total{route=\"/v1/operations/{id}\",status=\"404\"} 1\n"),
        "{t}"
    );
    // Never a token, never tenant data beyond counts.
    assert!(!t.contains(A_INGEST) && !t.contains("checkout"), "{t}");
}

#[tokio::test(start_paused = true)]
async fn metrics_show_each_strategys_effectiveness_and_effective_rate() {
    let api = api().await;
    let scrape = || async {
        let r = api.call(Method::GET, "/metrics", None, None).await;
        assert_eq!(r.status, StatusCode::OK);
        r.text
    };
    let sample = |t: &str, name: &str, labels: &str| {
        let prefix = format!("{name}{{{labels}}} ");
        t.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .map(str::to_owned)
    };
    let tallies = |t: &str| {
        ["pending", "effective", "ineffective"].map(|v| {
            sample(
                t,
                "hale_strategy_effectiveness",
                &format!("tenant=\"a\",strategy=\"restart\",verdict=\"{v}\""),
            )
        })
    };
    let rate = |t: &str| {
        sample(
            t,
            "hale_strategy_effective_ratio",
            "tenant=\"a\",strategy=\"restart\"",
        )
    };

    let d = api.fire(A_OPERATOR, "HighErrorRate", "checkout").await;
    assert_eq!(d["outcome"]["decision"], "operation_started", "{d}");
    let t = scrape().await;
    assert_eq!(
        tallies(&t),
        [Some("1".into()), Some("0".into()), Some("0".into())],
        "{t}"
    );
    assert_eq!(rate(&t), None, "no rate before the first verdict: {t}");

    // The alert resolves and stays resolved past the stabilization.
    tokio::time::advance(std::time::Duration::from_secs(60)).await;
    let r = api
        .post(
            "/v1/alerts",
            A_OPERATOR,
            &generic("HighErrorRate", "checkout", "resolved"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    tokio::time::advance(std::time::Duration::from_secs(301)).await;
    api.engine.settle_effectiveness().await.unwrap();
    let t = scrape().await;
    assert_eq!(
        tallies(&t),
        [Some("0".into()), Some("1".into()), Some("0".into())],
        "{t}"
    );
    assert_eq!(rate(&t).as_deref(), Some("1"), "{t}");
}

#[tokio::test(start_paused = true)]
async fn the_openapi_document_describes_exactly_the_routes() {
    let api = api().await;
    let r = api.call(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = &r.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(doc["info"]["title"], "Hale");
    assert!(doc["info"]["version"].is_string());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = route_list()
        .into_iter()
        .map(|r| (r.method, r.path.to_owned()))
        .collect();
    assert_eq!(documented, served);
    // Every $ref resolves.
    let text = r.text.clone();
    for piece in text.split("\"$ref\":\"#/components/").skip(1) {
        let target = piece.split('"').next().unwrap();
        let mut node = &doc["components"];
        for part in target.split('/') {
            node = &node[part];
        }
        assert!(!node.is_null(), "dangling $ref {target}");
    }
}

#[tokio::test(start_paused = true)]
async fn unknown_routes_and_methods_answer_json() {
    let api = api().await;
    let r = api.get("/v1/nothing", A_VIEWER).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error(), "not_found");
    let r = api
        .call(Method::DELETE, "/v1/operations", Some(A_OPERATOR), None)
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.error(), "method_not_allowed");
}
