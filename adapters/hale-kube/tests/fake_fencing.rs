//! Fencing at the target, end to end: `KubeExecutor` against the fake API
//! server over real HTTP, whose `resourceVersion` preconditions answer 409
//! as a real API server does and whose write log shows every write with the
//! token it left on the object.

mod support;

use std::time::Duration;

use hale_domain::failure::FailureClass;
use hale_engine::ports::{ExecMode, FencingToken};
use hale_fake_kube::{FENCING_TENANT, FENCING_TOKEN, FakeConfig, Fault, Resource, WriteRecord};
use serde_json::{Value, json};
use support::objects::{current_replicaset, pod};
use support::world::{World, checkout, stored, world};
use support::{TENANT, prod, run_with_token};

const DEPLOY: &str = "/apis/apps/v1/namespaces/prod/deployments/checkout";
const DEPLOY_OBJECT: &str = "deployments/prod/checkout";

async fn act(
    w: &World,
    kind: &str,
    resource: &str,
    params: Value,
    token: u64,
) -> Result<String, hale_engine::ports::ExecError> {
    run_with_token(
        &w.exec,
        kind,
        resource,
        params,
        ExecMode::Apply,
        Some(FencingToken(token)),
        &prod(),
    )
    .await
    .map(|o| o.message)
}

fn applied_tokens(log: &[WriteRecord]) -> Vec<Option<u64>> {
    log.iter()
        .filter(|r| r.applied)
        .map(|r| r.fencing_token)
        .collect()
}

#[test]
fn the_executor_and_the_fake_name_the_same_annotations() {
    assert_eq!(hale_kube::fence::FENCING_TOKEN, FENCING_TOKEN);
    assert_eq!(hale_kube::fence::FENCING_TENANT, FENCING_TENANT);
}

#[tokio::test]
async fn a_stale_holder_never_writes_after_a_newer_one() {
    let w = world(FakeConfig::default(), checkout()).await;
    let scale = |n: i32| json!({"replicas": n, "min_replicas": 1, "max_replicas": 9});

    act(
        &w,
        "rollout_restart",
        "prod:deployment/checkout",
        json!({}),
        7,
    )
    .await
    .unwrap();
    // The holder whose lease lapsed (token 5) wakes up and tries to act.
    let err = act(&w, "scale", "prod:deployment/checkout", scale(1), 5)
        .await
        .unwrap_err();
    assert_eq!(err.class, FailureClass::Fenced, "{err}");
    let d = stored(&w.fake, Resource::Deployment, "prod", "checkout");
    assert_eq!(d["spec"]["replicas"], 3, "the fenced scale changed nothing");
    assert_eq!(d["metadata"]["annotations"][FENCING_TOKEN], "7");
    assert_eq!(d["metadata"]["annotations"][FENCING_TENANT], TENANT);
    // The current holder and later ones go on.
    act(&w, "scale", "prod:deployment/checkout", scale(4), 7)
        .await
        .unwrap();
    act(&w, "rollout_undo", "prod:deployment/checkout", json!({}), 9)
        .await
        .unwrap();

    let log = w.fake.writes_to(DEPLOY_OBJECT);
    assert_eq!(applied_tokens(&log), [Some(7), Some(7), Some(9)]);
    // Every applied write named the version it had read.
    assert!(
        log.iter()
            .filter(|r| r.applied)
            .all(|r| r.precondition.is_some()),
        "{log:#?}"
    );
    assert!(w.fake.fencing_regressions().is_empty());
}

#[tokio::test]
async fn an_eviction_checks_and_records_the_token_on_its_target_first() {
    let seed = json!([
        checkout(),
        current_replicaset("prod", "checkout"),
        pod("prod", "checkout-a", "checkout", true),
        pod("prod", "checkout-b", "checkout", true),
    ]);
    let w = world(FakeConfig::default(), seed).await;
    act(
        &w,
        "rollout_restart",
        "prod:deployment/checkout",
        json!({}),
        9,
    )
    .await
    .unwrap();
    // A stale holder of the deployment's lock: no pod goes.
    let by_selector = json!({"selector": "app=checkout", "max_pods": 2});
    let err = act(
        &w,
        "evict_pod",
        "prod:deployment/checkout",
        by_selector.clone(),
        8,
    )
    .await
    .unwrap_err();
    assert_eq!(err.class, FailureClass::Fenced, "{err}");
    assert_eq!(w.fake.objects(Resource::Pod, "prod").len(), 2);

    // A pod target records the token on the pod and evicts it on the
    // version that write left.
    act(&w, "evict_pod", "prod:pod/checkout-a", json!({}), 3)
        .await
        .unwrap();
    let pod_log = w.fake.writes_to("pods/prod/checkout-a");
    let steps: Vec<(&str, bool, Option<u64>)> = pod_log
        .iter()
        .map(|r| (r.verb.as_str(), r.applied, r.fencing_token))
        .collect();
    assert_eq!(steps, [("PATCH", true, Some(3)), ("POST", true, Some(3))]);
    assert_eq!(
        pod_log[1].precondition, pod_log[0].resource_version,
        "the eviction was conditional on the annotated version"
    );

    // A stale holder of that pod's lock is refused by the pod itself.
    let mut fenced = pod("prod", "checkout-b", "checkout", true);
    fenced["metadata"]["annotations"] = json!({FENCING_TOKEN: "12", FENCING_TENANT: TENANT});
    w.fake.seed(fenced).unwrap();
    let err = act(&w, "evict_pod", "prod:pod/checkout-b", json!({}), 11)
        .await
        .unwrap_err();
    assert_eq!(err.class, FailureClass::Fenced, "{err}");
    assert!(w.fake.object(Resource::Pod, "prod", "checkout-b").is_some());
    assert!(w.fake.fencing_regressions().is_empty());
}

#[tokio::test]
async fn a_write_between_read_and_write_is_a_409_that_is_read_again() {
    let w = world(FakeConfig::default(), checkout()).await;
    // Hold the executor's PATCH for a moment after it arrives, and write the
    // deployment meanwhile, as another client would.
    w.fake.inject(Fault {
        method: Some("PATCH".to_owned()),
        path: DEPLOY.to_owned(),
        status: None,
        times: Some(1),
        latency_ms: 300,
        dry_run: None,
    });
    let exec = w.exec.clone();
    let task = tokio::spawn(async move {
        run_with_token(
            &exec,
            "rollout_restart",
            "prod:deployment/checkout",
            json!({}),
            ExecMode::Apply,
            Some(FencingToken(7)),
            &prod(),
        )
        .await
    });
    let mut arrived = false;
    for _ in 0..200 {
        if w.fake.requests().iter().any(|r| r.counts.received > 0) {
            arrived = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(arrived, "the executor's PATCH never arrived");
    let (code, _) = {
        let resp = reqwest::Client::new()
            .patch(format!("{}{DEPLOY}", w.fake.url()))
            .header("content-type", "application/merge-patch+json")
            .body(json!({"metadata": {"labels": {"touched": "yes"}}}).to_string())
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), ())
    };
    assert_eq!(code, 200);
    let out = task.await.unwrap().unwrap();
    assert!(out.message.contains("restarted"), "{}", out.message);

    let log = w.fake.writes_to(DEPLOY_OBJECT);
    let outcomes: Vec<(u16, Option<&str>, Option<u64>)> = log
        .iter()
        .map(|r| (r.code, r.reason.as_deref(), r.fencing_token))
        .collect();
    assert_eq!(
        outcomes,
        [
            (200, None, None),
            (409, Some("Conflict"), None),
            (200, None, Some(7))
        ]
    );
    let d = stored(&w.fake, Resource::Deployment, "prod", "checkout");
    assert_eq!(
        d["metadata"]["labels"]["touched"], "yes",
        "the other write stays"
    );
    assert_eq!(d["metadata"]["annotations"][FENCING_TOKEN], "7");
}

#[tokio::test]
async fn dry_runs_neither_read_nor_record_tokens() {
    let w = world(FakeConfig::default(), checkout()).await;
    run_with_token(
        &w.exec,
        "rollout_restart",
        "prod:deployment/checkout",
        json!({}),
        ExecMode::DryRun,
        None,
        &prod(),
    )
    .await
    .unwrap();
    let log = w.fake.writes();
    assert_eq!(log.len(), 1);
    assert!(log[0].dry_run && !log[0].applied);
    assert_eq!(log[0].precondition, None);
    let d = stored(&w.fake, Resource::Deployment, "prod", "checkout");
    assert!(d["metadata"]["annotations"][FENCING_TOKEN].is_null());
}
