//! 401, 403 and cross-tenant access.

use axum::http::{Method, StatusCode};
use hale_server::routes::route_list;
use serde_json::json;

use crate::support::*;

/// A concrete URI for a route template.
fn concrete(path: &str) -> String {
    path.replace("{id}", "x-1").replace("{name}", "dry-run")
}

#[tokio::test(start_paused = true)]
async fn every_v1_route_but_the_openapi_document_needs_a_token() {
    let api = api().await;
    let mut checked = 0;
    for r in route_list() {
        if !r.path.starts_with("/v1/") || r.path == "/v1/openapi.json" {
            continue;
        }
        let method: Method = r.method.parse().unwrap();
        for token in [None, Some("not-a-token"), Some("")] {
            let reply = api
                .call(method.clone(), &concrete(r.path), token, Some(&json!({})))
                .await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{} {} {token:?}: {}",
                r.method,
                r.path,
                reply.text
            );
            assert_eq!(reply.error(), "unauthorized");
            assert!(!reply.body["detail"].as_str().unwrap().is_empty());
        }
        checked += 1;
    }
    assert!(checked >= 19, "only {checked} routes checked");
    // Not a bearer token at all.
    let req = axum::http::Request::builder()
        .uri("/v1/status")
        .header("authorization", format!("Basic {A_OPERATOR}"))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(api.send(req).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(start_paused = true)]
async fn roles_limit_what_a_token_may_do() {
    let api = api().await;
    // ingest: alerts only.
    let r = api
        .post(
            "/v1/alerts",
            A_INGEST,
            &generic("HighErrorRate", "checkout", "firing"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for uri in ["/v1/status", "/v1/operations", "/v1/audit", "/v1/switches"] {
        let r = api.get(uri, A_INGEST).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
        assert_eq!(r.error(), "forbidden");
    }
    // viewer: reads only.
    assert_eq!(
        api.get("/v1/operations", A_VIEWER).await.status,
        StatusCode::OK
    );
    let r = api
        .post(
            "/v1/alerts",
            A_VIEWER,
            &generic("HighErrorRate", "cart", "firing"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = api
        .post("/v1/dormancy/enter", A_VIEWER, &json!({"reason": "test"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = api
        .put(
            "/v1/switches",
            A_VIEWER,
            &json!({"layer": "tenant", "state": "off", "reason": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // operator: tenant acts, but nothing global.
    let r = api
        .put(
            "/v1/switches",
            A_OPERATOR,
            &json!({"layer": "global", "key": "auto_healing", "state": "off", "reason": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.body["detail"].as_str().unwrap().contains("admin"));
    let r = api
        .post(
            "/v1/dormancy/enter",
            A_OPERATOR,
            &json!({"reason": "x", "scope": "global"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = api
        .post(
            "/v1/dormancy/enter",
            A_OPERATOR,
            &json!({"reason": "maintenance"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Nothing global changed.
    assert!(
        !api.engine
            .global_status()
            .await
            .unwrap()
            .self_healing
            .is_dormant
    );
}

#[tokio::test(start_paused = true)]
async fn another_tenants_ids_read_as_not_found() {
    let api = api().await;
    let d = api.fire(A_OPERATOR, "HighErrorRate", "checkout").await;
    assert_eq!(d["outcome"]["decision"], "operation_started", "{d}");
    let op = d["outcome"]["operation_id"].as_str().unwrap().to_owned();
    let d = api.fire(A_OPERATOR, "Saturated", "search").await;
    let apr = d["outcome"]["approval_id"].as_str().unwrap().to_owned();

    assert_eq!(
        api.get(&format!("/v1/operations/{op}"), A_OPERATOR)
            .await
            .status,
        StatusCode::OK
    );
    for uri in [
        format!("/v1/operations/{op}"),
        format!("/v1/approvals/{apr}"),
    ] {
        let r = api.get(&uri, B_OPERATOR).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}: {}", r.text);
        assert_eq!(r.error(), "not_found");
    }
    // B cannot sign A's approval either: it does not exist for B.
    let r = api
        .post(
            &format!("/v1/approvals/{apr}/approve"),
            B_OPERATOR,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    // B's lists do not show A's records.
    let r = api.get("/v1/operations", B_OPERATOR).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_tenant_token_naming_another_tenant_is_forbidden() {
    let api = api().await;
    for uri in [
        "/v1/operations?tenant=b",
        "/v1/status?tenant=b",
        "/v1/audit?tenant=b",
        "/v1/operations/op-1?tenant=b",
    ] {
        let r = api.get(uri, A_OPERATOR).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
    }
    let r = api
        .post(
            "/v1/alerts?tenant=b",
            A_OPERATOR,
            &generic("HighErrorRate", "checkout", "firing"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Naming its own tenant is fine.
    assert_eq!(
        api.get("/v1/operations?tenant=a", A_OPERATOR).await.status,
        StatusCode::OK
    );
}

#[tokio::test(start_paused = true)]
async fn platform_tokens_name_the_tenant() {
    let api = api().await;
    let r = api.get("/v1/operations", P_VIEWER).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.body["detail"].as_str().unwrap().contains("?tenant="));
    assert_eq!(
        api.get("/v1/operations?tenant=b", P_VIEWER).await.status,
        StatusCode::OK
    );
    let r = api.get("/v1/operations?tenant=nobody", P_VIEWER).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = api.get("/v1/operations?tenant=Not%20Valid", P_VIEWER).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Status without a tenant is the global view.
    let r = api.get("/v1/status", P_VIEWER).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["scope"], "global");
    assert_eq!(r.body["tenants"].as_array().unwrap().len(), 2);
    // Intake needs a tenant too.
    let r = api
        .post(
            "/v1/alerts",
            P_ADMIN,
            &generic("HighErrorRate", "x", "firing"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = api
        .post(
            "/v1/alerts?tenant=b",
            P_ADMIN,
            &generic("HighErrorRate", "x", "firing"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}
