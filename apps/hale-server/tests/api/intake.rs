//! Intake: the real Alertmanager payloads, HA duplicates, the generic form,
//! and every way a body can be wrong.

use axum::http::{StatusCode, header};
use serde_json::{Value, json};

use crate::support::*;

const AM: &str = "/v1/alerts/alertmanager";

#[tokio::test(start_paused = true)]
async fn the_three_real_payloads_are_taken() {
    let api = api().await;
    let r = api
        .post_raw(
            AM,
            A_INGEST,
            "application/json",
            payload("alertmanager-webhook.json"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["received"], 1);
    let d = &r.body["decisions"][0];
    assert_eq!(d["alertname"], "HighErrorRate");
    assert_eq!(d["status"], "firing");
    assert_eq!(d["outcome"]["decision"], "operation_started", "{d}");
    assert_eq!(d["outcome"]["strategy_id"], "restart");
    api.engine.wait_idle().await;
    assert_eq!(api.kit.executor.applied_count("rollout_restart"), 1);
    let applied = &api.kit.executor.applied()[0];
    assert_eq!(applied.resource.key(), "prod:deployment/checkout");

    // A synthetic Prometheus alert no strategy matches: recorded, not acted on.
    let r = api
        .post_raw(
            AM,
            A_INGEST,
            "application/json",
            payload("alertmanager-webhook-from-prometheus.json"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["decisions"][0]["outcome"]["decision"], "no_strategy");

    // The resolution of the first alert.
    let r = api
        .post_raw(
            AM,
            A_INGEST,
            "application/json",
            payload("alertmanager-webhook-resolved.json"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["decisions"][0]["status"], "resolved");
    assert_eq!(
        r.body["decisions"][0]["outcome"]["decision"], "resolved",
        "{}",
        r.text
    );
    api.engine.wait_idle().await;
    assert_eq!(api.kit.executor.applied_count("rollout_restart"), 1);
}

#[tokio::test(start_paused = true)]
async fn ha_duplicate_deliveries_heal_once() {
    let api = api().await;
    let body = payload("alertmanager-webhook.json");
    // Two HA peers deliver the same group; they differ in externalURL only.
    let mut peer: Value = serde_json::from_slice(&body).unwrap();
    peer["externalURL"] = json!("http://am-2:9093");
    let first = api
        .post_raw(AM, A_INGEST, "application/json", body.clone())
        .await;
    let second = api.post(AM, A_INGEST, &peer).await;
    let third = api.post_raw(AM, A_INGEST, "application/json", body).await;
    api.engine.wait_idle().await;
    assert_eq!(
        first.body["decisions"][0]["outcome"]["decision"],
        "operation_started"
    );
    for r in [&second, &third] {
        assert_eq!(r.status, StatusCode::OK);
        let d = r.body["decisions"][0]["outcome"]["decision"]
            .as_str()
            .unwrap();
        assert!(
            matches!(d, "duplicate_delivery" | "deduplicated"),
            "{}",
            r.text
        );
    }
    assert_eq!(api.kit.executor.applied_count("rollout_restart"), 1);
    let ops = api.get("/v1/operations", A_OPERATOR).await;
    assert_eq!(ops.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_generic_form_takes_the_same_alerts() {
    let api = api().await;
    let r = api
        .post(
            "/v1/alerts",
            A_INGEST,
            &generic("HighErrorRate", "cart", "firing"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["decisions"][0]["outcome"]["decision"],
        "operation_started"
    );
    let r = api
        .post(
            "/v1/alerts",
            A_INGEST,
            &generic("Saturated", "search", "firing"),
        )
        .await;
    assert_eq!(
        r.body["decisions"][0]["outcome"]["decision"], "approval_requested",
        "{}",
        r.text
    );
    let r = api
        .post("/v1/alerts", A_INGEST, &json!({"alerts": []}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["received"], 0);
}

#[tokio::test(start_paused = true)]
async fn malformed_json_is_400_naming_the_field() {
    let api = api().await;
    let mut body: Value = serde_json::from_slice(&payload("alertmanager-webhook.json")).unwrap();
    body["alerts"][0]["status"] = json!(3);
    let r = api.post(AM, A_INGEST, &body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.error(), "malformed_json");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("alerts[0].status"),
        "{}",
        r.text
    );

    let r = api
        .post_raw(AM, A_INGEST, "application/json", b"{\"alerts\": [".to_vec())
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = api
        .post_raw(AM, A_INGEST, "application/json", Vec::new())
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = api
        .post(
            "/v1/alerts",
            A_INGEST,
            &json!({"alerts": [{"status": "firing", "labels": {"alertname": 7}}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("alerts[0].labels.alertname"),
        "{}",
        r.text
    );
    let r = api
        .post("/v1/alerts", A_INGEST, &json!({"alertz": []}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(
        r.body["detail"].as_str().unwrap().contains("alertz"),
        "{}",
        r.text
    );
}

#[tokio::test(start_paused = true)]
async fn valid_json_that_fails_validation_is_422() {
    let api = api().await;
    let mut body: Value = serde_json::from_slice(&payload("alertmanager-webhook.json")).unwrap();
    body["alerts"][0]["status"] = json!("burning");
    let r = api.post(AM, A_INGEST, &body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.error(), "invalid");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("alerts[0].status")
    );

    body["alerts"][0]["status"] = json!("firing");
    body["version"] = json!("3");
    let r = api.post(AM, A_INGEST, &body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body["detail"].as_str().unwrap().starts_with("version"));

    let r = api
        .post(
            "/v1/alerts",
            A_INGEST,
            &json!({"alerts": [{"status": "firing", "labels": {"service": "x"}}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body["detail"].as_str().unwrap().contains("alertname"));
}

#[tokio::test(start_paused = true)]
async fn a_wrong_content_type_is_415() {
    let api = api().await;
    for ct in ["text/plain", "application/x-www-form-urlencoded"] {
        let r = api
            .post_raw(AM, A_INGEST, ct, payload("alertmanager-webhook.json"))
            .await;
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
        assert_eq!(r.error(), "unsupported_media_type");
    }
    let r = api
        .post_raw(
            AM,
            A_INGEST,
            "application/json; charset=utf-8",
            payload("alertmanager-webhook.json"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn a_body_over_the_limit_is_413() {
    let api = api().await;
    let mut body: Value = serde_json::from_slice(&payload("alertmanager-webhook.json")).unwrap();
    body["commonAnnotations"]["padding"] = json!("x".repeat(BODY_LIMIT));
    let r = api.post(AM, A_INGEST, &body).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert_eq!(r.error(), "payload_too_large");
    // Authentication still comes first.
    let r = api.post(AM, "wrong", &body).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(start_paused = true)]
async fn a_store_outage_is_503_with_retry_after_and_the_retry_loses_nothing() {
    let api = api().await;
    api.kit.store.set_unavailable(true);
    let body = payload("alertmanager-webhook.json");
    let r = api
        .post_raw(AM, A_INGEST, "application/json", body.clone())
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(r.error(), "unavailable");
    let retry: u64 = r.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    assert_eq!(api.kit.executor.applied_count("rollout_restart"), 0);

    // Alertmanager retries the same body once the store is back.
    api.kit.store.set_unavailable(false);
    let r = api.post_raw(AM, A_INGEST, "application/json", body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["decisions"][0]["outcome"]["decision"], "operation_started",
        "{}",
        r.text
    );
    api.engine.wait_idle().await;
    assert_eq!(api.kit.executor.applied_count("rollout_restart"), 1);
}
