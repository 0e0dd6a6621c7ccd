//! Fencing at the target, request by request on kube-rs's mock: a newer
//! token on the object stops every action before it writes, an older or
//! equal one (or another tenant's) is overwritten, every applied write is
//! conditional on the version it read, and a 409 re-reads and retries a
//! bounded number of times with the token checked again.

mod support;

use hale_domain::failure::{BreakerImpact, FailureClass};
use hale_engine::ports::{ExecMode, FencingToken};
use serde_json::{Value, json};
use support::mock::{Expect, MockApi};
use support::objects::*;
use support::{
    TENANT, TOKEN, apply_scripted, executor, fenced_by, prod, restart_scripted, run_scripted,
    run_with_token, stamped, write_query,
};

const STRATEGIC: &str = "application/strategic-merge-patch+json";
const MERGE: &str = "application/merge-patch+json";
const DEPLOY: &str = "/apis/apps/v1/namespaces/prod/deployments/checkout";
const POD: &str = "/api/v1/namespaces/prod/pods/checkout-a";

fn restart_body() -> Value {
    json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": support::NOW_RFC3339
    }}}}})
}

fn conflict() -> Value {
    status_failure(
        409,
        "Conflict",
        "Operation cannot be fulfilled on deployments.apps \"checkout\": the object has been \
         modified; please apply your changes to the latest version and try again",
    )
}

/// The deployment at resource version `rv`, carrying `fence` if given.
fn deploy_at(rv: &str, fence: Option<(u64, &str)>) -> Value {
    let mut d = deployment_ready("prod", "checkout");
    d["metadata"]["resourceVersion"] = json!(rv);
    match fence {
        Some((token, tenant)) => fenced_by(d, token, tenant),
        None => d,
    }
}

fn restart_patch_at(rv: &str) -> Expect {
    Expect::patch(DEPLOY)
        .query(&write_query(ExecMode::Apply))
        .content_type(STRATEGIC)
        .body(stamped(restart_body(), rv))
}

#[tokio::test]
async fn a_newer_token_on_the_object_fences_each_action_before_it_writes() {
    let newer = Some((TOKEN + 1, TENANT));
    let node = fenced_by(node("node-a", true, false), TOKEN + 1, TENANT);
    let pod = fenced_by(
        pod("prod", "checkout-a", "checkout", true),
        TOKEN + 1,
        TENANT,
    );
    let pods = pod_list(vec![support::objects::pod(
        "prod",
        "checkout-a",
        "checkout",
        true,
    )]);
    let cases: Vec<(&str, &str, Value, Vec<Expect>)> = vec![
        (
            "rollout_restart",
            "prod:deployment/checkout",
            json!({}),
            vec![Expect::get(DEPLOY).reply(200, deploy_at("7", newer))],
        ),
        (
            "scale",
            "prod:deployment/checkout",
            json!({"replicas": 4, "min_replicas": 1, "max_replicas": 5}),
            vec![Expect::get(DEPLOY).reply(200, deploy_at("7", newer))],
        ),
        (
            "rollout_undo",
            "prod:deployment/checkout",
            json!({}),
            vec![Expect::get(DEPLOY).reply(200, deploy_at("7", newer))],
        ),
        (
            "evict_pod",
            "prod:pod/checkout-a",
            json!({}),
            vec![Expect::get(POD).reply(200, pod)],
        ),
        (
            // The workload's token is checked before any pod is evicted.
            "evict_pod",
            "prod:deployment/checkout",
            json!({"selector": "app=checkout"}),
            vec![
                Expect::get("/api/v1/namespaces/prod/pods").reply(200, pods),
                Expect::get("/apis/apps/v1/namespaces/prod/replicasets").reply(
                    200,
                    replicaset_list(vec![current_replicaset("prod", "checkout")]),
                ),
                Expect::get(DEPLOY).reply(200, deploy_at("7", newer)),
            ],
        ),
        (
            "cordon",
            "cluster:node/node-a",
            json!({}),
            vec![Expect::get("/api/v1/nodes/node-a").reply(200, node)],
        ),
    ];
    for (kind, resource, params, script) in cases {
        let namespaces = if resource.starts_with("cluster:") {
            hale_engine::ports::NamespacePolicy::Any
        } else {
            prod()
        };
        // The script ends after the read: any write fails the test.
        let err = run_scripted(script, kind, resource, params, ExecMode::Apply, &namespaces)
            .await
            .unwrap_err();
        assert_eq!(err.class, FailureClass::Fenced, "{kind} {resource}: {err}");
        assert!(err.message.contains("newer lock holder"), "{err}");
        assert!(err.message.contains(&format!("{}", TOKEN + 1)), "{err}");
        let response = err.response.unwrap();
        // An eviction wraps the refusal with the pods it got through.
        let response = match response.get("status") {
            Some(inner) => inner.clone(),
            None => response,
        };
        assert_eq!(response["recorded_token"], TOKEN + 1, "{kind} {resource}");
        assert_eq!(response["token"], TOKEN);
    }
    assert_eq!(FailureClass::Fenced.breaker_impact(), BreakerImpact::Ignore);
    assert!(!FailureClass::Fenced.is_retryable());
}

#[tokio::test]
async fn an_older_or_equal_token_or_another_tenants_is_overwritten() {
    for fence in [
        Some((TOKEN - 1, TENANT)),
        Some((TOKEN, TENANT)),
        Some((TOKEN + 100, "other-tenant")),
    ] {
        let current = deploy_at("7", fence);
        let out = restart_scripted(vec![
            Expect::get(DEPLOY).reply(200, current.clone()),
            restart_patch_at("7").reply(200, fenced_by(current, TOKEN, TENANT)),
        ])
        .await
        .unwrap();
        assert!(
            out.message.contains("restarted"),
            "{fence:?}: {}",
            out.message
        );
    }
}

#[tokio::test]
async fn a_conflict_rereads_and_checks_the_token_again() {
    // Someone wrote between our read and our write: read again, write on
    // the new version.
    let out = restart_scripted(vec![
        Expect::get(DEPLOY).reply(200, deploy_at("7", None)),
        restart_patch_at("7").reply(409, conflict()),
        Expect::get(DEPLOY).reply(200, deploy_at("8", None)),
        restart_patch_at("8").reply(200, deploy_at("9", Some((TOKEN, TENANT)))),
    ])
    .await
    .unwrap();
    assert!(out.message.contains("restarted"), "{}", out.message);

    // The one who wrote in between was a newer holder: stop.
    let err = restart_scripted(vec![
        Expect::get(DEPLOY).reply(200, deploy_at("7", None)),
        restart_patch_at("7").reply(409, conflict()),
        Expect::get(DEPLOY).reply(200, deploy_at("8", Some((TOKEN + 1, TENANT)))),
    ])
    .await
    .unwrap_err();
    assert_eq!(err.class, FailureClass::Fenced, "{err}");
}

#[tokio::test]
async fn conflicts_that_outlast_five_attempts_are_conflict() {
    let mut script = Vec::new();
    for rv in 10..15 {
        let rv = rv.to_string();
        script.push(Expect::get(DEPLOY).reply(200, deploy_at(&rv, None)));
        script.push(restart_patch_at(&rv).reply(409, conflict()));
    }
    let err = restart_scripted(script).await.unwrap_err();
    assert_eq!(err.class, FailureClass::Conflict, "{err}");
    assert!(err.message.contains("gave up after 5 attempts"), "{err}");
}

#[tokio::test]
async fn an_applied_request_without_a_token_is_refused_before_any_request() {
    let (client, api) = MockApi::start(vec![]);
    let exec = executor(client);
    let err = run_with_token(
        &exec,
        "rollout_restart",
        "prod:deployment/checkout",
        json!({}),
        ExecMode::Apply,
        None,
        &prod(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class, FailureClass::InvalidAction);
    assert!(err.message.contains("fencing token"), "{err}");
    // A dry run needs none.
    drop(exec);
    api.finish().await;
    let (client, api) = MockApi::start(vec![
        Expect::patch(DEPLOY)
            .query(&write_query(ExecMode::DryRun))
            .body(restart_body())
            .reply(200, deploy_at("7", None)),
    ]);
    let exec = executor(client);
    run_with_token(
        &exec,
        "rollout_restart",
        "prod:deployment/checkout",
        json!({}),
        ExecMode::DryRun,
        Some(FencingToken(TOKEN)),
        &prod(),
    )
    .await
    .unwrap();
    drop(exec);
    api.finish().await;
}

#[tokio::test]
async fn an_eviction_that_conflicts_annotates_and_evicts_again() {
    let eviction = |rv: &str| {
        Expect::post(&format!("{POD}/eviction")).body(json!({
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": "checkout-a", "namespace": "prod"},
            "deleteOptions": {"preconditions": {"uid": "p-checkout-a", "resourceVersion": rv}}
        }))
    };
    let at = |rv: &str| {
        let mut p = pod("prod", "checkout-a", "checkout", true);
        p["metadata"]["resourceVersion"] = json!(rv);
        p
    };
    let annotate = |rv: &str| {
        Expect::patch(POD)
            .content_type(MERGE)
            .body(stamped(json!({}), rv))
    };
    let script = vec![
        Expect::get(POD).reply(200, at("5001")),
        annotate("5001").reply(200, at("5002")),
        // The kubelet updated the pod's status in between.
        eviction("5002").reply(409, conflict()),
        Expect::get(POD).reply(200, at("5003")),
        annotate("5003").reply(200, at("5004")),
        eviction("5004").reply(201, eviction_created()),
    ];
    let out = apply_scripted(script, "evict_pod", "prod:pod/checkout-a", json!({}))
        .await
        .unwrap();
    assert!(out.message.contains("evicted 1 pod"), "{}", out.message);
}

fn replicasets() -> Value {
    replicaset_list(vec![
        replicaset(
            "prod",
            "checkout",
            2,
            "registry.example/checkout:1.4.1",
            "6b5c4d3e2f",
        ),
        replicaset(
            "prod",
            "checkout",
            3,
            "registry.example/checkout:1.4.2",
            "7d4b9c8f6d",
        ),
    ])
}

fn undo_reads(deployment: Value) -> Vec<Expect> {
    vec![
        Expect::get(DEPLOY).reply(200, deployment),
        Expect::get("/apis/apps/v1/namespaces/prod/replicasets").reply(200, replicasets()),
    ]
}

#[tokio::test]
async fn a_rollback_retries_a_status_change_but_not_a_spec_change() {
    // Only the status moved (same generation): decide again and write.
    let mut script = undo_reads(deploy_at("7", None));
    script.push(Expect::patch(DEPLOY).reply(409, conflict()));
    script.extend(undo_reads(deploy_at("8", None)));
    script.push(Expect::patch(DEPLOY).reply(200, deploy_at("9", Some((TOKEN, TENANT)))));
    let out = apply_scripted(
        script,
        "rollout_undo",
        "prod:deployment/checkout",
        json!({}),
    )
    .await
    .unwrap();
    assert!(
        out.message.contains("rolled back to revision 2"),
        "{}",
        out.message
    );

    // Someone changed the spec (a new rollout): never undo it blindly.
    let mut changed = deploy_at("8", None);
    changed["metadata"]["generation"] = json!(5);
    let mut script = undo_reads(deploy_at("7", None));
    script.push(Expect::patch(DEPLOY).reply(409, conflict()));
    script.push(Expect::get(DEPLOY).reply(200, changed));
    let err = apply_scripted(
        script,
        "rollout_undo",
        "prod:deployment/checkout",
        json!({}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class, FailureClass::Conflict, "{err}");
    assert!(err.message.contains("generation 4 -> 5"), "{err}");
}
