//! Acts: approvals, switches, dormancy, breaker and attempt resets, each
//! audited with the token's name and channel `manual`.

use axum::http::StatusCode;
use hale_domain::failure::FailureClass;
use hale_testkit::fakes::Scripted;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test(start_paused = true)]
async fn an_approval_needs_two_distinct_signatures_then_runs() {
    let api = api().await;
    let d = api.fire(A_INGEST, "Saturated", "search").await;
    let apr = d["outcome"]["approval_id"].as_str().unwrap().to_owned();
    let uri = format!("/v1/approvals/{apr}/approve");

    let r = api
        .post(&uri, A_OPERATOR, &json!({"comment": "looks right"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["operation_id"].is_null());
    assert_eq!(r.body["pending_reason"], "more signatures needed");
    // The same identity cannot sign twice.
    let r = api.post(&uri, A_OPERATOR, &json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.error(), "conflict");
    // A second operator completes it (an empty body is a signature without comment).
    let r = api
        .call(axum::http::Method::POST, &uri, Some(A_OPERATOR2), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["approval"]["status"], "approved");
    assert!(r.body["operation_id"].is_string(), "{}", r.text);
    api.engine.wait_idle().await;
    assert_eq!(api.kit.executor.applied_count("scale"), 1);

    let signed = audit(&api, "approval.signed").await;
    let who: Vec<&str> = signed
        .iter()
        .map(|a| a["executed_by"].as_str().unwrap())
        .collect();
    assert_eq!(who, ["anna", "alice"]);
    assert!(
        signed
            .iter()
            .all(|a| a["authorization_channel"] == "manual")
    );
    // Not pending any more.
    let r = api
        .post(
            &format!("/v1/approvals/{apr}/reject"),
            P_ADMIN,
            &json!({"reason": "late"}),
        )
        .await;
    assert_eq!(r.status.as_u16() / 100, 4, "{}", r.text);
    let r = api
        .post(
            "/v1/approvals/apr-nope/approve?tenant=a",
            P_ADMIN,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test(start_paused = true)]
async fn a_rejection_needs_a_reason() {
    let api = api().await;
    let d = api.fire(A_INGEST, "Saturated", "search").await;
    let uri = format!(
        "/v1/approvals/{}/reject",
        d["outcome"]["approval_id"].as_str().unwrap()
    );
    let r = api.post(&uri, A_OPERATOR, &json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.body["detail"].as_str().unwrap().contains("reason"));
    let r = api.post(&uri, A_OPERATOR, &json!({"reason": "  "})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = api
        .post(&uri, A_OPERATOR, &json!({"reason": "not during the sale"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["approval"]["status"], "rejected");
    assert_eq!(r.body["approval"]["rejected_by"], "alice");
    assert_eq!(api.kit.executor.applied_count("scale"), 0);
}

#[tokio::test(start_paused = true)]
async fn switches_stop_healing_per_layer() {
    let api = api().await;
    let set = |layer: &str, key: Option<&str>, state: &str| {
        let mut b = json!({"layer": layer, "state": state, "reason": "incident 42"});
        if let Some(k) = key {
            b["key"] = json!(k);
        }
        b
    };
    let r = api
        .put(
            "/v1/switches",
            A_OPERATOR,
            &set("strategy", Some("restart"), "off"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["tenant"]["strategies"]["restart"], "off",
        "{}",
        r.text
    );
    let d = api.fire(A_INGEST, "HighErrorRate", "checkout").await;
    assert_eq!(d["outcome"]["decision"], "blocked", "{d}");
    assert_eq!(d["outcome"]["guard"], "kill_switch");
    let r = api
        .put(
            "/v1/switches",
            A_OPERATOR,
            &set("strategy", Some("restart"), "unset"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let d = api.fire(A_INGEST, "HighErrorRate", "cart").await;
    assert_eq!(d["outcome"]["decision"], "operation_started", "{d}");

    // The global layer: admin only; the emergency stop.
    let r = api
        .put(
            "/v1/switches",
            P_ADMIN,
            &set("global", Some("auto_healing"), "off"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["global_effective"]["features"]["auto_healing"],
        "off"
    );
    let d = api.fire(A_INGEST, "HighErrorRate", "search").await;
    assert_eq!(d["outcome"]["decision"], "blocked", "{d}");
    let entries = audit(&api, "switch.set").await;
    assert!(
        entries
            .iter()
            .any(|a| a["executed_by"] == "root" && a["authorization_channel"] == "manual")
    );
    assert!(entries.iter().any(|a| a["executed_by"] == "alice"));

    for (body, what) in [
        (set("galaxy", None, "off"), "layer"),
        (set("tenant", None, "maybe"), "state"),
        (set("global", Some("warp_drive"), "off"), "key"),
        (set("strategy", None, "off"), "key"),
        (set("action_kind", Some("Not A Kind"), "off"), "key"),
        (
            json!({"layer": "tenant", "state": "off", "reason": ""}),
            "reason",
        ),
    ] {
        let token = if what == "key" && body["layer"] == "global" {
            P_ADMIN
        } else {
            A_OPERATOR
        };
        let r = api.put("/v1/switches", token, &body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text
        );
    }
}

#[tokio::test(start_paused = true)]
async fn dormancy_enter_and_resume_with_a_reason() {
    let api = api().await;
    let r = api
        .post(
            "/v1/dormancy/enter",
            A_OPERATOR,
            &json!({"reason": "db migration"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["entered"], true);
    let r = api.get("/v1/status", A_VIEWER).await;
    assert_eq!(r.body["selfHealing"]["isDormant"], true);
    let d = api.fire(A_INGEST, "HighErrorRate", "checkout").await;
    assert_eq!(d["outcome"]["decision"], "blocked", "{d}");
    assert_eq!(d["outcome"]["guard"], "dormant");

    let r = api
        .post("/v1/dormancy/resume", A_OPERATOR, &json!({"reason": ""}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = api
        .post(
            "/v1/dormancy/resume",
            A_OPERATOR,
            &json!({"reason": "migration done", "scope": "tenant"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["scope"], "tenant:a");
    let r = api.get("/v1/status", A_VIEWER).await;
    assert_eq!(r.body["selfHealing"]["isDormant"], false);
    let resumed = audit(&api, "dormancy.resumed").await;
    assert_eq!(resumed[0]["executed_by"], "alice");
    assert_eq!(resumed[0]["reason"], "migration done");
    // Resuming what is not dormant is a state conflict.
    let r = api
        .post(
            "/v1/dormancy/resume",
            A_OPERATOR,
            &json!({"reason": "again"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // Global dormancy is the admin's.
    let r = api
        .post(
            "/v1/dormancy/enter",
            P_ADMIN,
            &json!({"reason": "freeze", "scope": "global"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        api.get("/v1/status", P_ADMIN).await.body["selfHealing"]["isDormant"],
        true
    );
    let r = api
        .post(
            "/v1/dormancy/resume",
            P_ADMIN,
            &json!({"reason": "thaw", "scope": "global"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api
        .post(
            "/v1/dormancy/enter",
            P_ADMIN,
            &json!({"reason": "x", "scope": "universe"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(start_paused = true)]
async fn a_permanently_open_breaker_is_reset_with_a_reason() {
    let api = api().await;
    api.kit
        .executor
        .set_default(Scripted::Fail(FailureClass::Fatal, "unauthorized".into()));
    let d = api.fire(A_INGEST, "HighErrorRate", "checkout").await;
    assert_eq!(d["outcome"]["decision"], "operation_started", "{d}");
    let r = api.get("/v1/breakers", A_VIEWER).await;
    assert_eq!(
        r.body["items"][0]["snapshot"]["state"], "PERMANENT_OPEN",
        "{}",
        r.text
    );

    let r = api
        .post(
            "/v1/breakers/nope/reset",
            A_OPERATOR,
            &json!({"reason": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = api
        .post(
            "/v1/breakers/scripted/reset",
            A_OPERATOR,
            &json!({"reason": " "}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = api
        .post(
            "/v1/breakers/scripted/reset",
            A_OPERATOR,
            &json!({"reason": "rotated the credentials"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api.get("/v1/breakers", A_VIEWER).await;
    assert_eq!(
        r.body["items"][0]["snapshot"]["state"], "CLOSED",
        "{}",
        r.text
    );
    let resets = audit(&api, "breaker.reset").await;
    assert_eq!(resets[0]["executed_by"], "alice");
    assert_eq!(resets[0]["authorization_channel"], "manual");
}

#[tokio::test(start_paused = true)]
async fn attempts_are_reset_per_strategy_and_target() {
    let api = api().await;
    let body = |resource: &str| json!({"strategy": "restart", "resource": resource, "reason": "fixed the image"});
    let r = api
        .post(
            "/v1/attempts/reset",
            A_OPERATOR,
            &body("prod:deployment/checkout"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    api.fire(A_INGEST, "HighErrorRate", "checkout").await;
    let r = api
        .post(
            "/v1/attempts/reset",
            A_OPERATOR,
            &body("prod:deployment/checkout"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api
        .post("/v1/attempts/reset", A_OPERATOR, &body("checkout"))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        audit(&api, "attempts.reset").await[0]["executed_by"],
        "alice"
    );
}

/// Acts on the whole platform need a platform token with the admin role: a
/// tenant's token, even an admin one, gets 403 for each of them and changes
/// nothing (one tenant cannot lift a platform-wide stop).
#[tokio::test(start_paused = true)]
async fn every_global_act_needs_a_platform_admin_token() {
    let api = api().await;
    let acts: [(&str, &str, Value); 4] = [
        (
            "PUT",
            "/v1/switches",
            json!({"layer": "global", "key": "auto_healing", "state": "off", "reason": "stop"}),
        ),
        (
            "PUT",
            "/v1/switches",
            json!({"layer": "global", "key": "execution", "state": "off", "reason": "freeze"}),
        ),
        (
            "POST",
            "/v1/dormancy/enter",
            json!({"reason": "pause", "scope": "global"}),
        ),
        (
            "POST",
            "/v1/dormancy/resume",
            json!({"reason": "wake", "scope": "global"}),
        ),
    ];
    for token in [A_ADMIN, A_OPERATOR] {
        for (method, path, body) in &acts {
            let r = match *method {
                "PUT" => api.put(path, token, body).await,
                _ => api.post(path, token, body).await,
            };
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{token} {path} {body}: {}",
                r.text
            );
        }
    }
    // Nothing changed: the platform is neither stopped nor dormant.
    let s = api.get("/v1/status", P_ADMIN).await;
    assert_eq!(s.body["selfHealing"]["enabled"], true, "{}", s.text);
    assert_eq!(s.body["selfHealing"]["isDormant"], false);
    assert!(audit(&api, "switch.set").await.is_empty());
    // The platform admin may.
    let (_, path, body) = &acts[1];
    let r = api.put(path, P_ADMIN, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["global_effective"]["features"]["execution"], "off");
    // A tenant's admin still administers its own tenant.
    let r = api
        .put(
            "/v1/switches",
            A_ADMIN,
            &json!({"layer": "tenant", "state": "off", "reason": "ours"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// A switch the configuration sets off is a floor: the API can add an off
/// on top, never lift it (409 naming the layer); the audit log has no act.
#[tokio::test(start_paused = true)]
async fn a_switch_off_in_the_configuration_cannot_be_lifted_through_the_api() {
    let api = api().await;
    let r = api
        .put(
            "/v1/switches",
            A_OPERATOR,
            &json!({"layer": "action_kind", "key": "evict_pod", "state": "on", "reason": "try"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(
        r.body["detail"].as_str().unwrap().contains("configuration"),
        "{}",
        r.text
    );
    let r = api.get("/v1/switches", A_VIEWER).await;
    assert_eq!(
        r.body["tenant"]["action_kinds"]["evict_pod"], "off",
        "{}",
        r.text
    );
    assert!(audit(&api, "switch.set").await.is_empty());
    // Adding an off on top of the configuration works.
    let r = api
        .put(
            "/v1/switches",
            A_OPERATOR,
            &json!({"layer": "action_kind", "key": "scale", "state": "off", "reason": "hold"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}
