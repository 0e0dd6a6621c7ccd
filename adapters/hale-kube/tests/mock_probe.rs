//! The health probe: which object it reads, and the verdict on real status
//! shapes.

mod support;

use hale_domain::failure::FailureClass;
use hale_engine::ports::{Health, NamespacePolicy};
use hale_kube::{
    KubeExecutorConfig, KubeHealthProbe, daemonset_health, deployment_health, node_health,
    pod_health, statefulset_health,
};
use serde_json::{Value, json};
use support::mock::{Expect, MockApi};
use support::objects::*;
use support::{probe, prod};

fn typed<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

fn is_progressing(h: &Health) -> bool {
    matches!(h, Health::Progressing(_))
}

#[tokio::test]
async fn auto_reads_the_object_for_the_target_kind() {
    let (client, api) = MockApi::start(vec![
        Expect::get("/apis/apps/v1/namespaces/prod/deployments/checkout")
            .query(&[])
            .reply(200, deployment_ready("prod", "checkout")),
        Expect::get("/apis/apps/v1/namespaces/prod/statefulsets/db")
            .query(&[])
            .reply(200, statefulset("prod", "db", 3)),
        Expect::get("/apis/apps/v1/namespaces/prod/daemonsets/agent")
            .query(&[])
            .reply(200, daemonset("prod", "agent", 4)),
        Expect::get("/api/v1/namespaces/prod/pods/checkout-a")
            .query(&[])
            .reply(200, pod("prod", "checkout-a", "checkout", true)),
        Expect::get("/api/v1/nodes/node-a")
            .query(&[])
            .reply(200, node("node-a", true, false)),
        Expect::get("/apis/apps/v1/namespaces/prod/deployments/checkout")
            .query(&[])
            .reply(200, deployment("prod", "checkout", 5, 3, (4, 3, 3, 3))),
    ]);
    let p = KubeHealthProbe::new(client, KubeExecutorConfig::default());
    let any = NamespacePolicy::Any;
    assert_eq!(
        probe(&p, "auto", "prod:deployment/checkout", &prod())
            .await
            .unwrap(),
        Health::Healthy
    );
    assert_eq!(
        probe(&p, "rollout_complete", "prod:statefulset/db", &prod())
            .await
            .unwrap(),
        Health::Healthy
    );
    assert_eq!(
        probe(&p, "auto", "prod:daemonset/agent", &prod())
            .await
            .unwrap(),
        Health::Healthy
    );
    assert_eq!(
        probe(&p, "pod_ready", "prod:pod/checkout-a", &prod())
            .await
            .unwrap(),
        Health::Healthy
    );
    assert_eq!(
        probe(&p, "node_ready", "cluster:node/node-a", &any)
            .await
            .unwrap(),
        Health::Healthy
    );
    let h = probe(&p, "rollout_complete", "prod:deployment/checkout", &prod())
        .await
        .unwrap();
    assert!(is_progressing(&h), "{h}");
    drop(p);
    api.finish().await;
}

#[tokio::test]
async fn mismatched_or_unknown_checks_and_foreign_targets_make_no_request() {
    let (client, api) = MockApi::start(vec![]);
    let p = KubeHealthProbe::new(client, KubeExecutorConfig::default());
    for (check, resource, ns) in [
        ("pod_ready", "prod:deployment/checkout", prod()),
        ("rollout_complete", "prod:pod/x", prod()),
        ("http_200", "prod:deployment/checkout", prod()),
        ("auto", "prod:service/checkout", prod()),
        ("auto", "default:deployment/checkout", prod()),
        ("node_ready", "prod:node/node-a", prod()),
    ] {
        let e = probe(&p, check, resource, &ns).await.unwrap_err();
        assert_eq!(
            e.class,
            FailureClass::InvalidAction,
            "{check} {resource}: {}",
            e.message
        );
    }
    drop(p);
    api.finish().await;
}

#[test]
fn deployment_verdicts_follow_kubectl_rollout_status() {
    let d = |generation, spec, status| typed(deployment("prod", "x", generation, spec, status));
    assert_eq!(deployment_health(&d(4, 3, (4, 3, 3, 3))), Health::Healthy);
    // Spec change not observed yet.
    assert!(is_progressing(&deployment_health(&d(5, 3, (4, 3, 3, 3)))));
    // Only 1 of 3 replicas updated.
    assert!(is_progressing(&deployment_health(&d(4, 3, (4, 4, 1, 3)))));
    // Updated, but an old replica is still terminating.
    assert!(is_progressing(&deployment_health(&d(4, 3, (4, 4, 3, 3)))));
    // Updated but not yet available.
    assert!(is_progressing(&deployment_health(&d(4, 3, (4, 3, 3, 2)))));
    // Scaled up but the status still shows the old count.
    assert!(is_progressing(&deployment_health(&d(4, 5, (4, 3, 3, 3)))));

    let mut stuck = deployment("prod", "x", 4, 3, (4, 3, 1, 1));
    stuck["status"]["conditions"][1] = json!({
        "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
        "message": "ReplicaSet \"x-5c9\" has timed out progressing."
    });
    match deployment_health(&typed(stuck)) {
        Health::Unhealthy(why) => assert!(why.contains("deadline"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn statefulset_daemonset_pod_and_node_verdicts() {
    assert!(is_progressing(&statefulset_health(&typed(statefulset(
        "prod", "db", 2
    )))));
    let mut sts = statefulset("prod", "db", 3);
    sts["status"]["updateRevision"] = json!("db-new");
    assert!(is_progressing(&statefulset_health(&typed(sts))));

    assert!(is_progressing(&daemonset_health(&typed(daemonset(
        "prod", "agent", 2
    )))));

    assert!(is_progressing(&pod_health(&typed(pod(
        "prod", "p", "app", false
    )))));
    let mut failed = pod("prod", "p", "app", false);
    failed["status"]["phase"] = json!("Failed");
    assert!(matches!(pod_health(&typed(failed)), Health::Unhealthy(_)));

    assert!(matches!(
        node_health(&typed(node("n", false, false))),
        Health::Unhealthy(_)
    ));
    // Cordoning does not make a node unready.
    assert_eq!(node_health(&typed(node("n", true, true))), Health::Healthy);
}
