//! End to end: `KubeExecutor` and `KubeHealthProbe` against the in-repo fake
//! API server (`hale-fake-kube`) over real HTTP, through a kube client built
//! by `hale_kube::connect` from the fake's URL.

mod support;

use std::time::Duration;

use hale_domain::failure::FailureClass;
use hale_engine::ports::{ExecMode, Health, NamespacePolicy};
use hale_fake_kube::{FENCING_TOKEN, FakeConfig, FakeKube, Fault, Resource};
use hale_kube::{KubeConnection, KubeExecutor, KubeExecutorConfig, connect};
use serde_json::{Value, json};
use support::objects::{current_replicaset, node, pod};
use support::world::{checkout, stored, world, world_with};
use support::{TOKEN, executor_with, probe, prod, run};

const DEPLOY: &str = "/apis/apps/v1/namespaces/prod/deployments/checkout";

fn restarted_at(d: &Value) -> &Value {
    &d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
}

#[tokio::test]
async fn restart_dry_run_changes_nothing_then_apply_rolls_out_exactly_once() {
    let w = world(
        FakeConfig {
            rollout_after_gets: 2,
        },
        checkout(),
    )
    .await;

    let out = run(
        &w.exec,
        "rollout_restart",
        "prod:deployment/checkout",
        json!({}),
        ExecMode::DryRun,
        &prod(),
    )
    .await
    .unwrap();
    assert!(out.message.starts_with("dry run"), "{}", out.message);
    // The server returned the would-be object...
    assert_eq!(
        restarted_at(out.response.as_ref().unwrap()),
        support::NOW_RFC3339
    );
    // ...and stored nothing.
    let d = stored(&w.fake, Resource::Deployment, "prod", "checkout");
    assert!(restarted_at(&d).is_null());
    assert_eq!(d["metadata"]["generation"], 1);
    assert_eq!(w.fake.applied_total(), 0);

    run(
        &w.exec,
        "rollout_restart",
        "prod:deployment/checkout",
        json!({}),
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap();
    let d = stored(&w.fake, Resource::Deployment, "prod", "checkout");
    assert_eq!(restarted_at(&d), support::NOW_RFC3339);
    assert_eq!(d["metadata"]["generation"], 2);
    assert_eq!(w.fake.applied("PATCH", DEPLOY), 1);
    assert_eq!(w.fake.applied_total(), 1, "{:?}", w.fake.requests());
    // The same counters over HTTP, as out-of-process tests read them.
    let rows: Value = reqwest::get(format!("{}/_fake/requests", w.fake.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        rows["requests"],
        json!([{"verb": "PATCH", "path": DEPLOY, "received": 2, "applied": 1, "dry_run": 1, "failed": 0}])
    );

    // The probe sees the rollout progress, then complete.
    let mut verdicts = Vec::new();
    for _ in 0..3 {
        verdicts.push(
            probe(&w.probe, "auto", "prod:deployment/checkout", &prod())
                .await
                .unwrap(),
        );
    }
    assert!(
        matches!(verdicts[0], Health::Progressing(_)),
        "{verdicts:?}"
    );
    assert!(
        matches!(verdicts[1], Health::Progressing(_)),
        "{verdicts:?}"
    );
    assert_eq!(verdicts[2], Health::Healthy);
}

#[tokio::test]
async fn eviction_respects_the_disruption_budget_end_to_end() {
    let pdb = json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "checkout-pdb", "namespace": "prod"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "checkout"}}},
        "status": {"expectedPods": 2}
    });
    let seed = json!([
        pod("prod", "checkout-a", "checkout", true),
        pod("prod", "checkout-b", "checkout", true),
        pdb
    ]);
    let w = world(FakeConfig::default(), seed).await;

    run(
        &w.exec,
        "evict_pod",
        "prod:pod/checkout-a",
        json!({}),
        ExecMode::DryRun,
        &prod(),
    )
    .await
    .unwrap();
    assert!(w.fake.object(Resource::Pod, "prod", "checkout-a").is_some());

    run(
        &w.exec,
        "evict_pod",
        "prod:pod/checkout-a",
        json!({}),
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap();
    assert!(w.fake.object(Resource::Pod, "prod", "checkout-a").is_none());

    // The budget now refuses, in a dry run as for real.
    for mode in [ExecMode::DryRun, ExecMode::Apply] {
        let err = run(
            &w.exec,
            "evict_pod",
            "prod:pod/checkout-b",
            json!({}),
            mode,
            &prod(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.class, FailureClass::BudgetBlocked, "{err}");
    }
    assert!(w.fake.object(Resource::Pod, "prod", "checkout-b").is_some());

    // Evicting what is already gone is target_gone.
    let err = run(
        &w.exec,
        "evict_pod",
        "prod:pod/checkout-a",
        json!({}),
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class, FailureClass::TargetGone);

    // `allow_delete` bypasses the budget, explicitly.
    run(
        &w.exec,
        "evict_pod",
        "prod:pod/checkout-b",
        json!({"allow_delete": true}),
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap();
    assert!(w.fake.object(Resource::Pod, "prod", "checkout-b").is_none());
}

#[tokio::test]
async fn selector_evictions_pick_only_matching_pods() {
    let mut canary = pod("prod", "checkout-canary", "checkout", true);
    canary["metadata"]["labels"]["track"] = json!("canary");
    let seed = json!([
        checkout(),
        current_replicaset("prod", "checkout"),
        pod("prod", "checkout-a", "checkout", true),
        canary,
        pod("prod", "search-a", "search", true),
    ]);
    let w = world(FakeConfig::default(), seed).await;
    let out = run(
        &w.exec,
        "evict_pod",
        "prod:deployment/checkout",
        json!({"selector": "app=checkout,track!=canary"}),
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap();
    assert_eq!(out.response.unwrap()["evicted"], json!(["checkout-a"]));
    let left: Vec<String> = w
        .fake
        .objects(Resource::Pod, "prod")
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(left, ["checkout-canary", "search-a"]);
    // The owning workload recorded the token before its pod went.
    let d = stored(&w.fake, Resource::Deployment, "prod", "checkout");
    assert_eq!(
        d["metadata"]["annotations"][FENCING_TOKEN],
        TOKEN.to_string()
    );
}

#[tokio::test]
async fn a_selector_matching_pods_of_another_workload_evicts_nothing_end_to_end() {
    // `tier=web` matches checkout's pod and a pod of the `search`
    // deployment: the eviction is refused whole, the pods stay, and the
    // target records no token (nothing was written).
    let mut mine = pod("prod", "checkout-a", "checkout", true);
    mine["metadata"]["labels"]["tier"] = json!("web");
    let mut theirs = pod("prod", "search-a", "search", true);
    theirs["metadata"]["labels"]["tier"] = json!("web");
    let mut search_rs = current_replicaset("prod", "search");
    search_rs["metadata"]["labels"]["tier"] = json!("web");
    let mut checkout_rs = current_replicaset("prod", "checkout");
    checkout_rs["metadata"]["labels"]["tier"] = json!("web");
    let seed = json!([checkout(), checkout_rs, search_rs, mine, theirs]);
    let w = world(FakeConfig::default(), seed).await;
    for mode in [ExecMode::DryRun, ExecMode::Apply] {
        let err = run(
            &w.exec,
            "evict_pod",
            "prod:deployment/checkout",
            json!({"selector": "tier=web", "max_pods": 2}),
            mode,
            &prod(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.class, FailureClass::InvalidAction, "{err}");
        assert!(
            err.message.contains("search-a (owner Deployment/search"),
            "{err}"
        );
    }
    assert_eq!(w.fake.objects(Resource::Pod, "prod").len(), 2);
    assert!(
        w.fake.writes_to("deployments/prod/checkout").is_empty(),
        "the target was not written"
    );
}

#[tokio::test]
async fn scale_within_bounds_end_to_end() {
    let w = world(FakeConfig::default(), checkout()).await;
    let params = json!({"replicas": 5, "min_replicas": 2, "max_replicas": 6});
    run(
        &w.exec,
        "scale",
        "prod:deployment/checkout",
        params.clone(),
        ExecMode::DryRun,
        &prod(),
    )
    .await
    .unwrap();
    assert_eq!(
        stored(&w.fake, Resource::Deployment, "prod", "checkout")["spec"]["replicas"],
        3
    );
    run(
        &w.exec,
        "scale",
        "prod:deployment/checkout",
        params,
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap();
    assert_eq!(
        stored(&w.fake, Resource::Deployment, "prod", "checkout")["spec"]["replicas"],
        5
    );
    assert_eq!(
        probe(
            &w.probe,
            "rollout_complete",
            "prod:deployment/checkout",
            &prod()
        )
        .await
        .unwrap(),
        Health::Healthy
    );
}

#[tokio::test]
async fn rollout_undo_returns_to_the_previous_template() {
    let w = world(FakeConfig::default(), checkout()).await;
    let original =
        stored(&w.fake, Resource::Deployment, "prod", "checkout")["spec"]["template"].clone();
    // A restart makes revision 2 with the annotation.
    run(
        &w.exec,
        "rollout_restart",
        "prod:deployment/checkout",
        json!({}),
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap();
    let d = stored(&w.fake, Resource::Deployment, "prod", "checkout");
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );

    // A dry run changes nothing.
    run(
        &w.exec,
        "rollout_undo",
        "prod:deployment/checkout",
        json!({}),
        ExecMode::DryRun,
        &prod(),
    )
    .await
    .unwrap();
    assert_eq!(
        stored(&w.fake, Resource::Deployment, "prod", "checkout")["spec"]["template"],
        d["spec"]["template"]
    );

    let out = run(
        &w.exec,
        "rollout_undo",
        "prod:deployment/checkout",
        json!({}),
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap();
    assert!(out.message.contains("revision 1"), "{}", out.message);
    let d = stored(&w.fake, Resource::Deployment, "prod", "checkout");
    assert_eq!(d["spec"]["template"], original);
    // The old ReplicaSet became the newest revision, as in Kubernetes.
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );

    // Undoing again goes back to the restart's template (now revision 2).
    run(
        &w.exec,
        "rollout_undo",
        "prod:deployment/checkout",
        json!({}),
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap();
    let d = stored(&w.fake, Resource::Deployment, "prod", "checkout");
    assert_eq!(restarted_at(&d), support::NOW_RFC3339);
}

#[tokio::test]
async fn cordon_uncordon_and_node_ready() {
    let w = world(FakeConfig::default(), node("node-a", true, false)).await;
    let any = NamespacePolicy::Any;
    run(
        &w.exec,
        "cordon",
        "cluster:node/node-a",
        json!({}),
        ExecMode::Apply,
        &any,
    )
    .await
    .unwrap();
    assert_eq!(
        stored(&w.fake, Resource::Node, "", "node-a")["spec"]["unschedulable"],
        true
    );
    assert_eq!(
        probe(&w.probe, "auto", "cluster:node/node-a", &any)
            .await
            .unwrap(),
        Health::Healthy
    );
    run(
        &w.exec,
        "uncordon",
        "cluster:node/node-a",
        json!({}),
        ExecMode::Apply,
        &any,
    )
    .await
    .unwrap();
    assert!(
        stored(&w.fake, Resource::Node, "", "node-a")["spec"]
            .get("unschedulable")
            .is_none()
    );
}

#[tokio::test]
async fn injected_errors_are_classified_over_http() {
    let w = world(FakeConfig::default(), checkout()).await;
    // A 409 is read again and retried up to five times, so it takes five
    // to fail the action.
    for (status, times, class) in [
        (401, 1, FailureClass::Fatal),
        (403, 1, FailureClass::Fatal),
        (409, 5, FailureClass::Conflict),
        (500, 1, FailureClass::Transient),
        (503, 1, FailureClass::Transient),
        (422, 1, FailureClass::InvalidAction),
    ] {
        w.fake.inject(Fault::status("PATCH", DEPLOY, status, times));
        let err = run(
            &w.exec,
            "rollout_restart",
            "prod:deployment/checkout",
            json!({}),
            ExecMode::Apply,
            &prod(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.class, class, "HTTP {status}: {err}");
    }
    // A missing object is a real 404.
    let err = run(
        &w.exec,
        "rollout_restart",
        "prod:deployment/ghost",
        json!({}),
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class, FailureClass::TargetGone);
    // Nothing was applied by any of the failed attempts.
    assert_eq!(w.fake.applied_total(), 0);
}

#[tokio::test]
async fn a_slow_server_times_out_as_transient() {
    let config = KubeExecutorConfig {
        request_timeout: Duration::from_millis(200),
        ..KubeExecutorConfig::default()
    };
    let w = world_with(FakeConfig::default(), checkout(), config).await;
    w.fake.inject(Fault {
        method: Some("PATCH".into()),
        path: DEPLOY.into(),
        status: None,
        times: Some(1),
        latency_ms: 5_000,
        dry_run: None,
    });
    let err = run(
        &w.exec,
        "rollout_restart",
        "prod:deployment/checkout",
        json!({}),
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class, FailureClass::Transient);
    assert!(err.message.contains("did not answer"), "{err}");
}

#[tokio::test]
async fn an_unreachable_server_is_transient() {
    // Bind and release a port so nothing listens on it.
    let port = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let client = connect(&KubeConnection::Url(format!("http://127.0.0.1:{port}")))
        .await
        .unwrap();
    let exec = executor_with(client, KubeExecutorConfig::default());
    let err = run(
        &exec,
        "rollout_restart",
        "prod:deployment/checkout",
        json!({}),
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class, FailureClass::Transient, "{err}");
}

#[tokio::test]
async fn the_default_namespace_is_never_touched() {
    let mut in_default = checkout();
    in_default["metadata"]["namespace"] = json!("default");
    let w = world(FakeConfig::default(), json!([checkout(), in_default])).await;
    let err = run(
        &w.exec,
        "rollout_restart",
        "default:deployment/checkout",
        json!({}),
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class, FailureClass::InvalidAction);
    assert!(w.fake.requests().is_empty(), "{:?}", w.fake.requests());
    assert!(
        restarted_at(&stored(
            &w.fake,
            Resource::Deployment,
            "default",
            "checkout"
        ))
        .is_null()
    );
}

#[tokio::test]
async fn a_kubeconfig_file_connects_with_its_context() {
    let fake = FakeKube::start("127.0.0.1:0", FakeConfig::default())
        .await
        .unwrap();
    fake.seed(checkout()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: elsewhere\n\
             clusters:\n- name: fake\n  cluster:\n    server: {}\n\
             - name: nowhere\n  cluster:\n    server: http://127.0.0.1:1\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: nobody\n\
             - name: elsewhere\n  context:\n    cluster: nowhere\n    user: nobody\n\
             users:\n- name: nobody\n  user: {{}}\n",
            fake.url()
        ),
    )
    .unwrap();
    let conn = KubeConnection::Kubeconfig {
        path,
        context: Some("fake".to_owned()),
    };
    let exec = KubeExecutor::connect(&conn, KubeExecutorConfig::default())
        .await
        .unwrap();
    run(
        &exec,
        "rollout_restart",
        "prod:deployment/checkout",
        json!({}),
        ExecMode::DryRun,
        &prod(),
    )
    .await
    .unwrap();
    assert_eq!(fake.requests()[0].counts.dry_run, 1);

    let missing = KubeConnection::Kubeconfig {
        path: dir.path().join("absent"),
        context: None,
    };
    assert!(
        KubeExecutor::connect(&missing, KubeExecutorConfig::default())
            .await
            .is_err()
    );
    let bad_url = KubeConnection::Url("not a url".to_owned());
    assert!(connect(&bad_url).await.is_err());
}
