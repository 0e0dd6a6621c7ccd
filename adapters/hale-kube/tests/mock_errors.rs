//! Each failure class, from the API server's real error answers.

mod support;

use std::time::Duration;

use hale_domain::failure::{BreakerImpact, FailureClass};
use hale_engine::ports::{ExecError, ExecMode};
use hale_kube::{KubeExecutorConfig, KubeHealthProbe};
use serde_json::{Value, json};
use support::mock::{Expect, MockApi};
use support::objects::*;
use support::{apply_scripted, probe, prod, restart_scripted, run_scripted_with};

const DEPLOY: &str = "/apis/apps/v1/namespaces/prod/deployments/checkout";

/// A rollout restart whose PATCH (after the read a fenced write makes) is
/// answered by `expect`.
async fn restart_answered_by(expect: Expect) -> ExecError {
    restart_scripted(vec![read_deployment(), expect])
        .await
        .unwrap_err()
}

fn read_deployment() -> Expect {
    Expect::get(DEPLOY).reply(200, deployment_ready("prod", "checkout"))
}

async fn restart_failing_with(status: u16, body: Value) -> ExecError {
    restart_answered_by(Expect::patch(DEPLOY).reply(status, body)).await
}

/// An eviction of `prod/checkout-a` answered by `expect`.
async fn evict(script: Vec<Expect>, resource: &str, params: Value) -> ExecError {
    apply_scripted(script, "evict_pod", resource, params)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn unauthorized_is_fatal_and_latches_the_breaker() {
    let err = restart_failing_with(401, status_failure(401, "Unauthorized", "Unauthorized")).await;
    assert_eq!(err.class, FailureClass::Fatal);
    assert_eq!(err.class.breaker_impact(), BreakerImpact::Latch);
    assert!(err.message.contains("401"), "{err}");
    assert_eq!(err.response.unwrap()["reason"], "Unauthorized");
}

#[tokio::test]
async fn forbidden_is_fatal() {
    let message = "deployments.apps \"checkout\" is forbidden: User \
                   \"system:serviceaccount:hale:hale\" cannot patch resource \"deployments\" in \
                   API group \"apps\" in the namespace \"prod\"";
    let err = restart_failing_with(403, status_failure(403, "Forbidden", message)).await;
    assert_eq!(err.class, FailureClass::Fatal);
    assert!(err.message.contains("cannot patch"), "{err}");
}

#[tokio::test]
async fn not_found_is_target_gone() {
    let message = "deployments.apps \"checkout\" not found";
    let err = restart_failing_with(404, status_failure(404, "NotFound", message)).await;
    assert_eq!(err.class, FailureClass::TargetGone);
    assert!(!err.class.is_retryable());
}

#[tokio::test]
async fn conflict_is_conflict() {
    let message = "Operation cannot be fulfilled on deployments.apps \"checkout\": the object has \
                   been modified; please apply your changes to the latest version and try again";
    // Each 409 of a conditional write is read and tried again, five times.
    let mut script = Vec::new();
    for _ in 0..5 {
        script.push(read_deployment());
        script.push(Expect::patch(DEPLOY).reply(409, status_failure(409, "Conflict", message)));
    }
    let err = restart_scripted(script).await.unwrap_err();
    assert_eq!(err.class, FailureClass::Conflict);
    assert!(err.class.is_retryable());
    assert!(err.message.contains("HTTP 409 Conflict"), "{err}");
}

#[tokio::test]
async fn invalid_and_bad_requests_are_invalid_action() {
    let message = "Deployment.apps \"checkout\" is invalid: spec.template: Invalid value";
    let err = restart_failing_with(422, status_failure(422, "Invalid", message)).await;
    assert_eq!(err.class, FailureClass::InvalidAction);
    let err = restart_failing_with(400, status_failure(400, "BadRequest", "bad request")).await;
    assert_eq!(err.class, FailureClass::InvalidAction);
}

#[tokio::test]
async fn server_errors_are_transient() {
    let message = "Internal error occurred: etcdserver: request timed out";
    let err = restart_failing_with(500, status_failure(500, "InternalError", message)).await;
    assert_eq!(err.class, FailureClass::Transient);
    // A proxy's plain-text 503 is not a Status; it is still transient.
    let err = restart_failing_with(503, json!("Service Unavailable")).await;
    assert_eq!(err.class, FailureClass::Transient, "{err}");
}

#[tokio::test]
async fn a_rate_limit_outside_eviction_is_transient() {
    let err = restart_failing_with(429, status_failure(429, "TooManyRequests", "slow down")).await;
    assert_eq!(err.class, FailureClass::Transient);
}

fn pdb_refusal() -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Cannot evict pod as it would violate the pod's disruption budget.",
        "reason": "TooManyRequests",
        "details": {"causes": [{"reason": "DisruptionBudget",
            "message": "The disruption budget checkout-pdb needs 2 healthy pods and has 2 currently"}]},
        "code": 429
    })
}

#[tokio::test]
async fn an_eviction_refused_by_a_disruption_budget_is_budget_blocked() {
    let pod_path = "/api/v1/namespaces/prod/pods/checkout-a";
    let current = pod("prod", "checkout-a", "checkout", true);
    let script = vec![
        Expect::get(pod_path).reply(200, current.clone()),
        Expect::patch(pod_path).reply(200, current),
        Expect::post("/api/v1/namespaces/prod/pods/checkout-a/eviction").reply(429, pdb_refusal()),
    ];
    let err = evict(script, "prod:pod/checkout-a", json!({})).await;
    assert_eq!(err.class, FailureClass::BudgetBlocked);
    assert!(err.message.contains("PodDisruptionBudget"), "{err}");
    let causes = &err.response.unwrap()["status"]["details"]["causes"];
    assert_eq!(causes[0]["reason"], "DisruptionBudget");
}

#[tokio::test]
async fn a_budget_block_midway_reports_what_was_already_evicted() {
    let pods = pod_list(vec![
        pod("prod", "checkout-a", "checkout", true),
        pod("prod", "checkout-b", "checkout", true),
    ]);
    let script = vec![
        Expect::get("/api/v1/namespaces/prod/pods").reply(200, pods),
        Expect::get("/apis/apps/v1/namespaces/prod/replicasets").reply(
            200,
            replicaset_list(vec![current_replicaset("prod", "checkout")]),
        ),
        read_deployment(),
        Expect::patch(DEPLOY).reply(200, deployment_ready("prod", "checkout")),
        Expect::post("/api/v1/namespaces/prod/pods/checkout-a/eviction")
            .reply(201, eviction_created()),
        Expect::post("/api/v1/namespaces/prod/pods/checkout-b/eviction").reply(429, pdb_refusal()),
    ];
    let params = json!({"selector": "app=checkout", "max_pods": 2});
    let err = evict(script, "prod:deployment/checkout", params).await;
    assert_eq!(err.class, FailureClass::BudgetBlocked);
    assert!(err.message.contains("evicted 1 of 2"), "{err}");
    let resp = err.response.unwrap();
    assert_eq!(resp["evicted"], json!(["checkout-a"]));
    assert_eq!(resp["failed"], "checkout-b");
}

#[tokio::test(start_paused = true)]
async fn a_request_that_never_answers_times_out_as_transient() {
    let config = KubeExecutorConfig {
        request_timeout: Duration::from_secs(5),
        ..KubeExecutorConfig::default()
    };
    let err = run_scripted_with(
        vec![read_deployment(), Expect::patch(DEPLOY).hang()],
        config,
        "rollout_restart",
        "prod:deployment/checkout",
        json!({}),
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class, FailureClass::Transient);
    assert!(err.message.contains("did not answer within 5s"), "{err}");
}

#[tokio::test]
async fn a_connection_error_is_transient() {
    let err = restart_answered_by(Expect::patch(DEPLOY).transport_error()).await;
    assert_eq!(err.class, FailureClass::Transient, "{err}");
}

#[tokio::test]
async fn probe_errors_carry_the_same_classes() {
    let (client, api) = MockApi::start(vec![
        Expect::get(DEPLOY).reply(404, status_failure(404, "NotFound", "not found")),
        Expect::get(DEPLOY).reply(403, status_failure(403, "Forbidden", "forbidden")),
    ]);
    let p = KubeHealthProbe::new(client, KubeExecutorConfig::default());
    let e = probe(&p, "auto", "prod:deployment/checkout", &prod())
        .await
        .unwrap_err();
    assert_eq!(e.class, FailureClass::TargetGone);
    let e = probe(&p, "auto", "prod:deployment/checkout", &prod())
        .await
        .unwrap_err();
    assert_eq!(e.class, FailureClass::Fatal);
    drop(p);
    api.finish().await;
}
