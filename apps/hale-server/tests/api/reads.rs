//! Reads: filters, pagination, single objects, status, tz rendering.

use axum::http::StatusCode;

use crate::support::*;

#[tokio::test(start_paused = true)]
async fn operations_filter_and_paginate_newest_first() {
    let api = api().await;
    let mut ids = Vec::new();
    for svc in ["s1", "s2", "s3"] {
        let d = api.fire(A_OPERATOR, "HighErrorRate", svc).await;
        ids.push(d["outcome"]["operation_id"].as_str().unwrap().to_owned());
        tokio::time::advance(std::time::Duration::from_secs(1)).await;
    }
    let r = api.get("/v1/operations?limit=2", A_VIEWER).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], ids[2].as_str(), "newest first");
    assert_eq!(r.body["next_offset"], 2);
    let r = api.get("/v1/operations?limit=2&offset=2", A_VIEWER).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert!(r.body["next_offset"].is_null());

    let r = api.get("/v1/operations?state=completed", A_VIEWER).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 3, "{}", r.text);
    let r = api.get("/v1/operations?state=FAILED", A_VIEWER).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
    let r = api
        .get("/v1/operations?resource=prod:deployment/s2", A_VIEWER)
        .await;
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], ids[1].as_str());
    let r = api.get("/v1/operations?strategy=scale-up", A_VIEWER).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
    let r = api
        .get("/v1/operations?since=2100-01-01T00:00:00Z", A_VIEWER)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
    let r = api
        .get("/v1/operations?until=2100-01-01T00:00:00Z", A_VIEWER)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 3);

    for bad in [
        "/v1/operations?state=sleeping",
        "/v1/operations?limit=0",
        "/v1/operations?limit=1001",
        "/v1/operations?limit=many",
        "/v1/operations?resource=checkout",
        "/v1/operations?since=yesterday",
        "/v1/operations?stat=FAILED",
        "/v1/operations?tz=Mars/Olympus",
    ] {
        let r = api.get(bad, A_VIEWER).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.text
        );
        assert_eq!(r.error(), "invalid");
    }
}

#[tokio::test(start_paused = true)]
async fn single_objects_and_their_trails() {
    let api = api().await;
    let d = api.fire(A_OPERATOR, "HighErrorRate", "checkout").await;
    let op = d["outcome"]["operation_id"].as_str().unwrap();
    let r = api.get(&format!("/v1/operations/{op}"), A_VIEWER).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["state"], "COMPLETED", "{}", r.text);
    let incident = r.body["incident_id"].as_str().unwrap().to_owned();

    let verdict = r.body["effectiveness"].clone();
    assert_eq!(
        verdict, "pending",
        "completed with its alert firing: {}",
        r.text
    );

    let r = api
        .get(&format!("/v1/incidents/{incident}"), A_VIEWER)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The incident counts its operations' verdicts beside its own fields.
    assert_eq!(r.body["id"], incident.as_str(), "{}", r.text);
    assert_eq!(
        r.body["effectiveness"],
        serde_json::json!({"pending": 1, "effective": 0, "ineffective": 0}),
        "{}",
        r.text
    );
    let r = api.get("/v1/incidents", A_VIEWER).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);

    let r = api
        .get(&format!("/v1/audit?operation_id={op}"), A_VIEWER)
        .await;
    let audit = r.body["items"].as_array().unwrap();
    assert!(!audit.is_empty(), "{}", r.text);
    assert!(audit.iter().all(|a| a["operation_id"] == op));
    let r = api
        .get(
            "/v1/audit?operation_type=healing.started&success=true",
            A_VIEWER,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = api.get("/v1/audit?channel=manual", A_VIEWER).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0, "{}", r.text);

    let r = api
        .get(&format!("/v1/timeline?operation_id={op}"), A_VIEWER)
        .await;
    assert!(
        !r.body["items"].as_array().unwrap().is_empty(),
        "{}",
        r.text
    );
    let r = api
        .get(
            &format!("/v1/timeline?incident_id={incident}&limit=1"),
            A_VIEWER,
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.text);

    let d = api.fire(A_OPERATOR, "Saturated", "search").await;
    let apr = d["outcome"]["approval_id"].as_str().unwrap();
    let r = api.get(&format!("/v1/approvals/{apr}"), A_VIEWER).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "pending", "{}", r.text);
    let r = api
        .get(
            "/v1/approvals?status=pending&resource=prod:deployment/search",
            A_VIEWER,
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.text);

    for missing in [
        "/v1/operations/op-nope",
        "/v1/incidents/INC-nope",
        "/v1/approvals/apr-nope",
    ] {
        let r = api.get(missing, A_VIEWER).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(r.error(), "not_found");
    }
}

#[tokio::test(start_paused = true)]
async fn status_has_the_seed_002_shape() {
    let api = api().await;
    api.fire(A_OPERATOR, "HighErrorRate", "checkout").await;
    let r = api.get("/v1/status", A_VIEWER).await;
    assert_eq!(r.status, StatusCode::OK);
    let s = &r.body;
    assert_eq!(s["scope"], "tenant:a");
    for key in [
        "selfHealing",
        "circuitBreakers",
        "backgroundTasks",
        "issues",
        "recommendations",
    ] {
        assert!(!s[key].is_null(), "{key} missing: {s}");
    }
    assert_eq!(s["selfHealing"]["isDormant"], false);
    assert_eq!(s["selfHealing"]["totalAttempts"], 1);
    assert_eq!(s["selfHealing"]["successfulHealings"], 1);
    let r = api.get("/v1/status", P_ADMIN).await;
    assert_eq!(r.body["scope"], "global");
    assert_eq!(r.body["tenants"][0]["tenant"], "a");
}

#[tokio::test(start_paused = true)]
async fn tz_renders_every_timestamp_in_the_offset() {
    let api = api().await;
    let d = api.fire(A_OPERATOR, "HighErrorRate", "checkout").await;
    let op = d["outcome"]["operation_id"].as_str().unwrap();
    let utc = api.get(&format!("/v1/operations/{op}"), A_VIEWER).await;
    let started = utc.body["started_at"].as_str().unwrap();
    assert!(started.ends_with('Z'), "{started}");
    // `+` in a query string decodes to a space; both spellings work.
    for q in ["tz=+08:00", "tz=%2B08:00"] {
        let r = api.get(&format!("/v1/operations/{op}?{q}"), A_VIEWER).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let local = r.body["started_at"].as_str().unwrap();
        assert!(local.ends_with("+08:00"), "{local}");
        let a = chrono::DateTime::parse_from_rfc3339(started).unwrap();
        let b = chrono::DateTime::parse_from_rfc3339(local).unwrap();
        assert_eq!(a, b, "the same instant");
    }
    let r = api.get("/v1/operations?tz=-05:30", A_VIEWER).await;
    assert!(
        r.body["items"][0]["updated_at"]
            .as_str()
            .unwrap()
            .ends_with("-05:30")
    );
    let r = api.get("/v1/status?tz=UTC", A_VIEWER).await;
    assert!(r.body["generatedAt"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test(start_paused = true)]
async fn switches_and_breakers_are_readable() {
    let api = api().await;
    let r = api.get("/v1/switches", A_VIEWER).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for key in ["global_effective", "global_runtime", "flags", "tenant"] {
        assert!(r.body.get(key).is_some(), "{key}: {}", r.text);
    }
    let r = api.get("/v1/switches", P_VIEWER).await;
    assert!(
        r.body["tenant"].is_null(),
        "platform view has no tenant layer"
    );
    api.fire(A_OPERATOR, "HighErrorRate", "checkout").await;
    let r = api.get("/v1/breakers", A_VIEWER).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items[0]["name"], "scripted", "{}", r.text);
    assert_eq!(items[0]["snapshot"]["state"], "CLOSED", "{}", r.text);
}
