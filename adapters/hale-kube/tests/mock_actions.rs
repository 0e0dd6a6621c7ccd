//! Every action and its server-side dry run, checked request by request on
//! kube-rs's mock: method, path, query, patch content type and body.

mod support;

use hale_domain::failure::FailureClass;
use hale_domain::strategy::{ActionKind, ActionSpec};
use hale_domain::{OperationId, ResourceRef, TenantId};
use hale_engine::ports::{ActionExecutor, ActionRequest, ExecMode, NamespacePolicy};
use hale_kube::KubeExecutorConfig;
use serde_json::{Value, json};
use support::mock::{Expect, MockApi};
use support::objects::*;
use support::{
    NOW_RFC3339, TENANT, TOKEN, executor, patch_requests, prod, run, run_scripted,
    run_scripted_with, write_query,
};

const STRATEGIC: &str = "application/strategic-merge-patch+json";
const MERGE: &str = "application/merge-patch+json";
const JSON_PATCH: &str = "application/json-patch+json";

const MODES: [ExecMode; 2] = [ExecMode::DryRun, ExecMode::Apply];

/// The query of an eviction POST.
fn eviction_query(mode: ExecMode) -> &'static [(&'static str, &'static str)] {
    if mode == ExecMode::DryRun {
        &[("dryRun", "All")]
    } else {
        &[]
    }
}

fn restart_body() -> Value {
    json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": NOW_RFC3339
    }}}}})
}

fn eviction_body(pod: &str) -> Value {
    json!({
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": pod, "namespace": "prod"}
    })
}

fn assert_mode_marked(message: &str, mode: ExecMode) {
    assert_eq!(
        message.starts_with("dry run (dryRun=All"),
        mode == ExecMode::DryRun,
        "{message}"
    );
}

#[tokio::test]
async fn the_executor_names_itself_and_its_kinds() {
    let (client, api) = MockApi::start(vec![]);
    let exec = executor(client);
    assert_eq!(exec.name(), "kubernetes");
    for kind in hale_kube::actions::KINDS {
        assert!(exec.supports(&ActionKind::new(kind).unwrap()), "{kind}");
    }
    assert!(!exec.supports(&ActionKind::new("command:restart").unwrap()));
    drop(exec);
    api.finish().await;
}

#[tokio::test]
async fn rollout_restart_patches_the_template_annotation_like_kubectl() {
    let workloads = [
        (
            "deployment",
            "deployments",
            deployment_ready("prod", "checkout"),
        ),
        (
            "statefulset",
            "statefulsets",
            statefulset("prod", "checkout", 3),
        ),
        ("daemonset", "daemonsets", daemonset("prod", "checkout", 4)),
    ];
    for (kind, plural, object) in workloads {
        for mode in MODES {
            let script = patch_requests(
                mode,
                &format!("/apis/apps/v1/namespaces/prod/{plural}/checkout"),
                STRATEGIC,
                restart_body(),
                &object,
                object.clone(),
            );
            let resource = format!("prod:{kind}/checkout");
            let out = run_scripted(
                script,
                "rollout_restart",
                &resource,
                json!({}),
                mode,
                &prod(),
            )
            .await
            .unwrap();
            assert!(out.message.contains("restarted"), "{}", out.message);
            assert_mode_marked(&out.message, mode);
            let response = out.response.unwrap();
            assert_eq!(response["metadata"]["name"], "checkout");
            assert!(response["metadata"].get("managedFields").is_none());
        }
    }
}

#[tokio::test]
async fn the_dry_run_helper_forces_dry_run_even_for_apply_requests() {
    let (client, api) = MockApi::start(vec![
        Expect::patch("/apis/apps/v1/namespaces/prod/deployments/checkout")
            .query(&write_query(ExecMode::DryRun))
            .content_type(STRATEGIC)
            .body(restart_body())
            .reply(200, deployment_ready("prod", "checkout")),
    ]);
    let exec = executor(client);
    let tenant = TenantId::new("acme").unwrap();
    let op = OperationId::new("op-1");
    let resource = ResourceRef::parse("prod:deployment/checkout").unwrap();
    let action: ActionSpec = serde_json::from_value(json!({"kind": "rollout_restart"})).unwrap();
    let out = exec
        .dry_run(ActionRequest {
            tenant: &tenant,
            operation_id: &op,
            resource: &resource,
            action: &action,
            mode: ExecMode::Apply,
            fencing_token: None,
            lease_check: None,
            namespaces: &prod(),
        })
        .await
        .unwrap();
    assert_mode_marked(&out.message, ExecMode::DryRun);
    drop(exec);
    api.finish().await;
}

#[tokio::test]
async fn evict_pod_posts_a_policy_v1_eviction() {
    let pod = "checkout-7d4b9c8f6d-x2k9p";
    let path = format!("/api/v1/namespaces/prod/pods/{pod}");
    let current = support::objects::pod("prod", pod, "checkout", true);
    let mut annotated = current.clone();
    annotated["metadata"]["resourceVersion"] = json!("5002");
    for mode in MODES {
        // Applied: the pod records our token first, and the eviction is
        // conditional on the version that write left.
        let mut script = match mode {
            ExecMode::DryRun => vec![],
            ExecMode::Apply => {
                patch_requests(mode, &path, MERGE, json!({}), &current, annotated.clone())
            }
        };
        let mut body = eviction_body(pod);
        if mode == ExecMode::Apply {
            body["deleteOptions"] =
                json!({"preconditions": {"uid": format!("p-{pod}"), "resourceVersion": "5002"}});
        }
        script.push(
            Expect::post(&format!("{path}/eviction"))
                .query(eviction_query(mode))
                .content_type("application/json")
                .body(body)
                .reply(201, eviction_created()),
        );
        let out = run_scripted(
            script,
            "evict_pod",
            &format!("prod:pod/{pod}"),
            json!({}),
            mode,
            &prod(),
        )
        .await
        .unwrap();
        assert!(out.message.contains("evicted 1 pod"), "{}", out.message);
        assert_mode_marked(&out.message, mode);
        assert_eq!(out.response.unwrap()["evicted"], json!([pod]));
    }
}

#[tokio::test]
async fn evict_pod_with_a_selector_lists_then_evicts_each_match() {
    for mode in MODES {
        let mut script = vec![
            Expect::get("/api/v1/namespaces/prod/pods")
                .query(&[("labelSelector", "app=checkout,track!=canary")])
                .reply(
                    200,
                    pod_list(vec![
                        pod("prod", "checkout-a", "checkout", true),
                        pod("prod", "checkout-b", "checkout", false),
                    ]),
                ),
            // The pods' ReplicaSet, to check that they are the target's.
            Expect::get("/apis/apps/v1/namespaces/prod/replicasets")
                .query(&[("labelSelector", "app=checkout,track!=canary")])
                .reply(
                    200,
                    replicaset_list(vec![current_replicaset("prod", "checkout")]),
                ),
        ];
        // Applied: the owning workload (the target) records our token
        // before any pod goes.
        if mode == ExecMode::Apply {
            let deploy = deployment_ready("prod", "checkout");
            script.extend(patch_requests(
                mode,
                "/apis/apps/v1/namespaces/prod/deployments/checkout",
                MERGE,
                json!({}),
                &deploy,
                deploy.clone(),
            ));
        }
        for name in ["checkout-a", "checkout-b"] {
            script.push(
                Expect::post(&format!("/api/v1/namespaces/prod/pods/{name}/eviction"))
                    .query(eviction_query(mode))
                    .content_type("application/json")
                    .body(eviction_body(name))
                    .reply(201, eviction_created()),
            );
        }
        let params = json!({"selector": "app=checkout, track!=canary", "max_pods": 2});
        let out = run_scripted(
            script,
            "evict_pod",
            "prod:deployment/checkout",
            params,
            mode,
            &prod(),
        )
        .await
        .unwrap();
        assert_eq!(
            out.response.unwrap()["evicted"],
            json!(["checkout-a", "checkout-b"])
        );
    }
}

#[tokio::test]
async fn evict_pod_refuses_more_matches_than_max_pods() {
    let script = vec![
        Expect::get("/api/v1/namespaces/prod/pods")
            .query(&[("labelSelector", "app=checkout")])
            .reply(
                200,
                pod_list(vec![
                    pod("prod", "checkout-a", "checkout", true),
                    pod("prod", "checkout-b", "checkout", true),
                ]),
            ),
    ];
    let params = json!({"selector": "app=checkout"});
    let err = run_scripted(
        script,
        "evict_pod",
        "prod:deployment/checkout",
        params,
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class, FailureClass::InvalidAction);
    assert!(err.message.contains("matched 2 pods"), "{err}");
    assert!(err.message.contains("nothing was evicted"), "{err}");
}

#[tokio::test]
async fn evict_pod_with_no_matching_pods_is_target_gone() {
    let script = vec![
        Expect::get("/api/v1/namespaces/prod/pods")
            .query(&[("labelSelector", "app=gone")])
            .reply(200, pod_list(vec![])),
    ];
    let params = json!({"selector": "app=gone"});
    let err = run_scripted(
        script,
        "evict_pod",
        "prod:deployment/checkout",
        params,
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class, FailureClass::TargetGone, "{err}");
}

#[tokio::test]
async fn match_everything_selectors_never_reach_the_api() {
    for selector in ["", "!canary", "tier!=db", "app"] {
        let params = json!({"selector": selector});
        let err = run_scripted(
            vec![],
            "evict_pod",
            "prod:deployment/checkout",
            params,
            ExecMode::Apply,
            &prod(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.class, FailureClass::InvalidAction, "{selector:?}");
    }
}

#[tokio::test]
async fn allow_delete_uses_a_plain_delete_with_dry_run_in_the_delete_options() {
    for mode in MODES {
        // kube-rs sends dry run for a DELETE in the DeleteOptions body.
        let path = "/api/v1/namespaces/prod/pods/checkout-a";
        let current = pod("prod", "checkout-a", "checkout", true);
        let (mut script, body) = match mode {
            ExecMode::DryRun => (vec![], json!({"dryRun": ["All"]})),
            ExecMode::Apply => (
                patch_requests(mode, path, MERGE, json!({}), &current, current.clone()),
                json!({"preconditions": {"uid": "p-checkout-a", "resourceVersion": "5001"}}),
            ),
        };
        script.push(
            Expect::delete(path)
                .query(&[])
                .content_type("application/json")
                .body(body)
                .reply(200, current.clone()),
        );
        let params = json!({"allow_delete": true});
        let out = run_scripted(
            script,
            "evict_pod",
            "prod:pod/checkout-a",
            params,
            mode,
            &prod(),
        )
        .await
        .unwrap();
        assert!(out.message.contains("deleted 1 pod"), "{}", out.message);
    }
}

#[tokio::test]
async fn scale_merge_patches_the_workloads_replicas_within_bounds() {
    for (kind, plural, object) in [
        (
            "deployment",
            "deployments",
            deployment_ready("prod", "checkout"),
        ),
        (
            "statefulset",
            "statefulsets",
            statefulset("prod", "checkout", 3),
        ),
    ] {
        let mut scaled = object.clone();
        scaled["spec"]["replicas"] = json!(5);
        for mode in MODES {
            // The workload itself, not its `scale` subresource: the token
            // is recorded in the same write as the replica count.
            let script = patch_requests(
                mode,
                &format!("/apis/apps/v1/namespaces/prod/{plural}/checkout"),
                MERGE,
                json!({"spec": {"replicas": 5}}),
                &object,
                scaled.clone(),
            );
            let params = json!({"replicas": 5, "min_replicas": 2, "max_replicas": 6});
            let resource = format!("prod:{kind}/checkout");
            let out = run_scripted(script, "scale", &resource, params, mode, &prod())
                .await
                .unwrap();
            assert!(
                out.message
                    .contains("scaled to 5 replicas (bounds [2, 6]; 3 running)"),
                "{}",
                out.message
            );
            assert_mode_marked(&out.message, mode);
            assert_eq!(out.response.unwrap()["spec"]["replicas"], 5);
        }
    }
}

#[tokio::test]
async fn scale_outside_the_bounds_makes_no_request() {
    let params = json!({"replicas": 50, "min_replicas": 2, "max_replicas": 6});
    let err = run_scripted(
        vec![],
        "scale",
        "prod:deployment/checkout",
        params,
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class, FailureClass::InvalidAction);
    assert!(err.message.contains("[2, 6]"), "{err}");
}

fn read_deployment_and_replicasets(replicasets: Vec<Value>) -> Vec<Expect> {
    vec![
        Expect::get("/apis/apps/v1/namespaces/prod/deployments/checkout")
            .query(&[])
            .reply(200, deployment_ready("prod", "checkout")),
        Expect::get("/apis/apps/v1/namespaces/prod/replicasets")
            .query(&[("labelSelector", "app=checkout")])
            .reply(200, replicaset_list(replicasets)),
    ]
}

#[tokio::test]
async fn rollout_undo_restores_the_previous_revisions_template() {
    for mode in MODES {
        let image = |v: &str| format!("registry.example/checkout:{v}");
        let mut previous = replicaset("prod", "checkout", 2, &image("1.4.1"), "6b5c4d3e2f");
        previous["metadata"]["annotations"]["team"] = json!("payments");
        let current = replicaset("prod", "checkout", 3, &image("1.4.2"), "7d4b9c8f6d");
        let older = replicaset("prod", "checkout", 1, &image("1.3.0"), "5a4b3c2d1e");
        // Revision 9, but owned by another deployment: never chosen.
        let mut foreign = replicaset("prod", "checkout", 9, "evil:latest", "9f9f9f9f9f");
        foreign["metadata"]["ownerReferences"][0]["uid"] = json!("someone-else");

        let mut template = previous["spec"]["template"].clone();
        template["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove("pod-template-hash");
        let mut script = read_deployment_and_replicasets(vec![older, current, foreign, previous]);
        // kubectl keeps the deployment's own revision annotations and
        // copies the rest from the ReplicaSet; an applied undo adds ours.
        let mut annotations = json!({"deployment.kubernetes.io/revision": "3", "team": "payments"});
        if mode == ExecMode::Apply {
            annotations["hale.dev/fencing-token"] = json!(TOKEN.to_string());
            annotations["hale.dev/fencing-tenant"] = json!(TENANT);
        }
        script.push(
            Expect::patch("/apis/apps/v1/namespaces/prod/deployments/checkout")
                .query(&write_query(mode))
                .content_type(JSON_PATCH)
                .body(json!([
                    {"op": "replace", "path": "/spec/template", "value": template},
                    {"op": "add", "path": "/metadata/annotations", "value": annotations},
                    {"op": "replace", "path": "/metadata/resourceVersion", "value": "48213"},
                ]))
                .reply(200, deployment("prod", "checkout", 5, 3, (4, 3, 3, 3))),
        );
        let out = run_scripted(
            script,
            "rollout_undo",
            "prod:deployment/checkout",
            json!({}),
            mode,
            &prod(),
        )
        .await
        .unwrap();
        assert!(
            out.message.contains("rolled back to revision 2"),
            "{}",
            out.message
        );
        assert_mode_marked(&out.message, mode);
    }
}

#[tokio::test]
async fn rollout_undo_is_a_no_op_when_the_template_already_matches() {
    let image = "registry.example/checkout:1.4.2";
    let script = read_deployment_and_replicasets(vec![
        replicaset("prod", "checkout", 3, image, "7d4b9c8f6d"),
        replicaset("prod", "checkout", 2, image, "6b5c4d3e2f"),
    ]);
    let out = run_scripted(
        script,
        "rollout_undo",
        "prod:deployment/checkout",
        json!({}),
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap();
    assert!(out.message.contains("skipped rollback"), "{}", out.message);
}

#[tokio::test]
async fn rollout_undo_without_history_is_target_gone() {
    let script = read_deployment_and_replicasets(vec![replicaset(
        "prod",
        "checkout",
        3,
        "registry.example/checkout:1.4.2",
        "7d4b9c8f6d",
    )]);
    let err = run_scripted(
        script,
        "rollout_undo",
        "prod:deployment/checkout",
        json!({}),
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class, FailureClass::TargetGone);
    assert!(err.message.contains("no previous revision"), "{err}");
}

#[tokio::test]
async fn cordon_and_uncordon_patch_spec_unschedulable() {
    // `kubectl uncordon` sends null: the field is omitted when false.
    for (kind, value, unschedulable) in [
        ("cordon", json!(true), true),
        ("uncordon", json!(null), false),
    ] {
        for mode in MODES {
            let script = patch_requests(
                mode,
                "/api/v1/nodes/node-a",
                STRATEGIC,
                json!({"spec": {"unschedulable": value}}),
                &node("node-a", true, !unschedulable),
                node("node-a", true, unschedulable),
            );
            let any = NamespacePolicy::Any;
            let out = run_scripted(script, kind, "cluster:node/node-a", json!({}), mode, &any)
                .await
                .unwrap();
            assert!(
                out.message.contains(&format!("node node-a {kind}ed")),
                "{}",
                out.message
            );
            assert_mode_marked(&out.message, mode);
        }
    }
}

#[tokio::test]
async fn namespaces_outside_the_policy_are_refused_before_any_request() {
    let (client, api) = MockApi::start(vec![]);
    let exec = executor(client);
    // Seed 003: executions that went to `default` instead of the
    // workload's namespace.
    let err = run(
        &exec,
        "rollout_restart",
        "default:deployment/checkout",
        json!({}),
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class, FailureClass::InvalidAction);
    assert!(err.message.contains("\"default\""), "{err}");
    assert!(err.message.contains("[\"prod\"]"), "{err}");

    let err = run(
        &exec,
        "evict_pod",
        "kube-system:pod/coredns-1",
        json!({}),
        ExecMode::DryRun,
        &prod(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class, FailureClass::InvalidAction);

    // Nodes: refused for a namespace list unless explicitly allowed.
    let err = run(
        &exec,
        "cordon",
        "prod:node/node-a",
        json!({}),
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class, FailureClass::InvalidAction);
    assert!(err.message.contains("cluster-scoped"), "{err}");
    drop(exec);
    api.finish().await;
}

#[tokio::test]
async fn node_actions_are_allowed_for_a_namespace_list_when_configured() {
    let script = patch_requests(
        ExecMode::Apply,
        "/api/v1/nodes/node-a",
        STRATEGIC,
        json!({"spec": {"unschedulable": true}}),
        &node("node-a", true, false),
        node("node-a", true, true),
    );
    let config = KubeExecutorConfig {
        allow_node_actions: true,
        ..KubeExecutorConfig::default()
    };
    run_scripted_with(
        script,
        config,
        "cordon",
        "prod:node/node-a",
        json!({}),
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap();
}
