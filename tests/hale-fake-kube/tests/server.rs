//! The fake API server over real HTTP.

mod support;

use hale_fake_kube::{FakeConfig, Fault, Resource};
use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn seeded_objects_are_served_and_listed_by_selector() {
    let (_fake, http) = fake(FakeConfig::default()).await;
    let (code, body) = http
        .post(
            "/_fake/objects",
            json!({"items": [deployment(), pod("checkout-a", true), pod("other-b", true)]}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    http.post("/_fake/objects", {
        let mut p = pod("other-b", true);
        p["metadata"]["labels"]["app"] = json!("other");
        p
    })
    .await;

    let (code, d) = http.get(DEPLOY).await;
    assert_eq!(code, 200);
    assert_eq!(d["kind"], "Deployment");
    assert_eq!(d["metadata"]["generation"], 1);
    assert_eq!(d["status"]["availableReplicas"], 3);
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );

    let (_, list) = http
        .get("/api/v1/namespaces/prod/pods?labelSelector=app%3Dcheckout")
        .await;
    assert_eq!(list["kind"], "PodList");
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["checkout-a"]);
    assert!(
        list["items"][0].get("kind").is_none(),
        "list items carry no kind"
    );

    let (_, rs) = http
        .get("/apis/apps/v1/namespaces/prod/replicasets?labelSelector=app%3Dcheckout")
        .await;
    assert_eq!(rs["items"].as_array().unwrap().len(), 1);

    let (code, status) = http
        .get("/apis/apps/v1/namespaces/prod/deployments/nope")
        .await;
    assert_eq!(code, 404);
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["message"], "deployments.apps \"nope\" not found");

    // Namespaced objects need a namespace: there is no default.
    let mut no_ns = deployment();
    no_ns["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("namespace");
    let (code, _) = http.post("/_fake/objects", no_ns).await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn a_restart_patch_bumps_the_generation_and_rolls_out_after_n_gets() {
    let (fake, http) = fake(FakeConfig {
        rollout_after_gets: 2,
    })
    .await;
    fake.seed(deployment()).unwrap();
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2027-01-15T08:00:00Z"}}}}});
    let (code, d) = http
        .patch(&format!("{DEPLOY}?fieldManager=hale"), STRATEGIC, patch)
        .await;
    assert_eq!(code, 200, "{d}");
    assert_eq!(d["metadata"]["generation"], 2);
    assert_eq!(
        d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
        "2027-01-15T08:00:00Z"
    );
    // A new ReplicaSet revision for the new template.
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
    assert_eq!(fake.objects(Resource::ReplicaSet, "prod").len(), 2);

    for _ in 0..2 {
        let (_, d) = http.get(DEPLOY).await;
        assert_eq!(
            d["status"]["updatedReplicas"], 0,
            "still rolling out: {}",
            d["status"]
        );
    }
    let (_, d) = http.get(DEPLOY).await;
    assert_eq!(d["status"]["observedGeneration"], 2);
    assert_eq!(d["status"]["updatedReplicas"], 3);
    assert_eq!(d["status"]["availableReplicas"], 3);
    assert_eq!(fake.applied("PATCH", DEPLOY), 1);
}

#[tokio::test]
async fn dry_run_validates_returns_the_would_be_object_and_changes_nothing() {
    let (fake, http) = fake(FakeConfig::default()).await;
    fake.seed(deployment()).unwrap();
    let before = fake
        .object(Resource::Deployment, "prod", "checkout")
        .unwrap();
    let (code, d) = http
        .patch(
            &format!("{DEPLOY}?dryRun=All"),
            MERGE,
            json!({"metadata": {"annotations": {"x": "y"}}, "spec": {"paused": true}}),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(d["metadata"]["annotations"]["x"], "y");
    assert_eq!(d["metadata"]["generation"], 2);
    assert_eq!(
        fake.object(Resource::Deployment, "prod", "checkout")
            .unwrap(),
        before
    );

    // Validation still runs in a dry run.
    let (code, s) = http
        .patch(
            &format!("{DEPLOY}?dryRun=All"),
            MERGE,
            json!({"spec": {"replicas": -1}}),
        )
        .await;
    assert_eq!(code, 422, "{s}");

    let rows = fake.requests();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (
            rows[0].counts.received,
            rows[0].counts.dry_run,
            rows[0].counts.failed,
            rows[0].counts.applied
        ),
        (2, 1, 1, 0)
    );
}

#[tokio::test]
async fn a_stale_resource_version_in_a_patch_is_a_conflict() {
    let (fake, http) = fake(FakeConfig::default()).await;
    fake.seed(deployment()).unwrap();
    let rv = fake
        .object(Resource::Deployment, "prod", "checkout")
        .unwrap()["metadata"]["resourceVersion"]
        .clone();
    let ok = json!([{"op": "replace", "path": "/metadata/resourceVersion", "value": rv},
                    {"op": "replace", "path": "/spec/replicas", "value": 4}]);
    let (code, _) = http.patch(DEPLOY, JSON_PATCH, ok.clone()).await;
    assert_eq!(code, 200);
    // The same patch again carries the old version.
    let (code, s) = http.patch(DEPLOY, JSON_PATCH, ok).await;
    assert_eq!(code, 409, "{s}");
    assert_eq!(s["reason"], "Conflict");
    let (code, _) = http
        .patch(DEPLOY, "application/apply-patch+yaml", json!({}))
        .await;
    assert_eq!(code, 415);
}

#[tokio::test]
async fn the_scale_subresource_reads_and_writes_replicas() {
    let (fake, http) = fake(FakeConfig::default()).await;
    fake.seed(deployment()).unwrap();
    let scale = format!("{DEPLOY}/scale");
    let (_, s) = http.get(&scale).await;
    assert_eq!(
        (s["kind"].as_str(), s["spec"]["replicas"].as_i64()),
        (Some("Scale"), Some(3))
    );
    assert_eq!(s["status"]["selector"], "app=checkout");
    let (code, s) = http
        .patch(&scale, MERGE, json!({"spec": {"replicas": 5}}))
        .await;
    assert_eq!(code, 200);
    assert_eq!(s["spec"]["replicas"], 5);
    assert_eq!(
        fake.object(Resource::Deployment, "prod", "checkout")
            .unwrap()["spec"]["replicas"],
        5
    );
    let (code, _) = http
        .patch(&scale, MERGE, json!({"spec": {"replicas": -2}}))
        .await;
    assert_eq!(code, 422);
}

#[tokio::test]
async fn evictions_honour_min_available() {
    let (fake, http) = fake(FakeConfig::default()).await;
    fake.seed(json!([
        pod("checkout-a", true),
        pod("checkout-b", true),
        pod("checkout-c", false),
        pdb(json!({"minAvailable": 1}))
    ]))
    .unwrap();
    let evict = |p: &str| format!("/api/v1/namespaces/prod/pods/{p}/eviction");

    // An unhealthy pod may always go.
    let (code, _) = http
        .post(&evict("checkout-c"), eviction("checkout-c"))
        .await;
    assert_eq!(code, 201);
    // Two healthy, minAvailable 1: one may go (dry run first: nothing changes).
    let (code, _) = http
        .post(
            &format!("{}?dryRun=All", evict("checkout-a")),
            eviction("checkout-a"),
        )
        .await;
    assert_eq!(code, 201);
    assert!(fake.object(Resource::Pod, "prod", "checkout-a").is_some());
    let (code, _) = http
        .post(&evict("checkout-a"), eviction("checkout-a"))
        .await;
    assert_eq!(code, 201);
    assert!(fake.object(Resource::Pod, "prod", "checkout-a").is_none());
    // The last healthy one may not.
    let (code, s) = http
        .post(&evict("checkout-b"), eviction("checkout-b"))
        .await;
    assert_eq!(code, 429, "{s}");
    assert_eq!(s["details"]["causes"][0]["reason"], "DisruptionBudget");
    assert!(fake.object(Resource::Pod, "prod", "checkout-b").is_some());

    let (code, _) = http.post(&evict("gone"), eviction("gone")).await;
    assert_eq!(code, 404);
    let (code, _) = http
        .post(&evict("checkout-b"), eviction("someone-else"))
        .await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn evictions_honour_max_unavailable_and_refuse_two_budgets() {
    let (fake, http) = fake(FakeConfig::default()).await;
    let mut budget = pdb(json!({"maxUnavailable": "33%"}));
    budget["status"] = json!({"expectedPods": 3});
    fake.seed(json!([
        pod("checkout-a", true),
        pod("checkout-b", true),
        pod("checkout-c", true),
        budget
    ]))
    .unwrap();
    let evict = |p: &str| format!("/api/v1/namespaces/prod/pods/{p}/eviction");
    // 33% of 3 expected pods rounds up to 1 unavailable: the first eviction
    // uses it up (the evicted pod is not replaced in the fake).
    let (code, _) = http
        .post(&evict("checkout-a"), eviction("checkout-a"))
        .await;
    assert_eq!(code, 201);
    let (code, _) = http
        .post(&evict("checkout-b"), eviction("checkout-b"))
        .await;
    assert_eq!(code, 429);

    let mut second = pdb(json!({"minAvailable": 0}));
    second["metadata"]["name"] = json!("second");
    fake.seed(second).unwrap();
    let (code, _) = http
        .post(&evict("checkout-b"), eviction("checkout-b"))
        .await;
    assert_eq!(code, 500);
}

#[tokio::test]
async fn deletes_honour_dry_run_in_the_body_and_the_query() {
    let (fake, http) = fake(FakeConfig::default()).await;
    fake.seed(pod("checkout-a", true)).unwrap();
    let path = "/api/v1/namespaces/prod/pods/checkout-a";
    let (code, _) = http.delete(path, json!({"dryRun": ["All"]})).await;
    assert_eq!(code, 200);
    let (code, _) = http.delete(&format!("{path}?dryRun=All"), json!({})).await;
    assert_eq!(code, 200);
    assert!(fake.object(Resource::Pod, "prod", "checkout-a").is_some());
    let (code, _) = http.delete(path, json!({})).await;
    assert_eq!(code, 200);
    let (code, _) = http.delete(path, json!({})).await;
    assert_eq!(code, 404);
    assert_eq!(fake.applied("DELETE", path), 1);
}

#[tokio::test]
async fn nodes_patch_and_unknown_paths() {
    let (fake, http) = fake(FakeConfig::default()).await;
    fake.seed(
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a"}, "spec": {}}),
    )
    .unwrap();
    let (code, n) = http
        .patch(
            "/api/v1/nodes/node-a",
            STRATEGIC,
            json!({"spec": {"unschedulable": true}}),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(n["spec"]["unschedulable"], true);
    let (_, n) = http
        .patch(
            "/api/v1/nodes/node-a",
            STRATEGIC,
            json!({"spec": {"unschedulable": null}}),
        )
        .await;
    assert!(n["spec"].get("unschedulable").is_none());
    let (code, _) = http.get("/api/v1/namespaces/prod/services/x").await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn faults_force_status_codes_for_the_next_n_requests() {
    let (fake, http) = fake(FakeConfig::default()).await;
    fake.seed(deployment()).unwrap();
    let (code, _) = http
        .post(
            "/_fake/faults",
            json!({"method": "PATCH", "path": DEPLOY, "status": 503, "times": 2}),
        )
        .await;
    assert_eq!(code, 201);
    fake.inject(Fault {
        method: Some("GET".into()),
        path: "/apis/apps/*".into(),
        status: None,
        times: Some(1),
        latency_ms: 10,
        dry_run: None,
    });
    let patch = json!({"metadata": {"labels": {"x": "y"}}});
    for _ in 0..2 {
        let (code, s) = http.patch(DEPLOY, MERGE, patch.clone()).await;
        assert_eq!(
            (code, s["reason"].as_str()),
            (503, Some("ServiceUnavailable"))
        );
    }
    let (code, _) = http.patch(DEPLOY, MERGE, patch).await;
    assert_eq!(code, 200);
    // The latency-only fault still serves the request.
    let (code, _) = http.get(DEPLOY).await;
    assert_eq!(code, 200);

    let (_, rows) = http.get("/_fake/requests").await;
    assert_eq!(
        rows["requests"],
        json!([{"verb": "PATCH", "path": DEPLOY, "received": 3, "applied": 1, "dry_run": 0, "failed": 2}])
    );
    let (_, faults) = http.get("/_fake/faults").await;
    assert_eq!(faults["faults"], json!([]));
    http.delete("/_fake/requests", json!({})).await;
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn the_binary_prints_its_address_and_serves() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_hale-fake-kube"))
        .args(["--listen", "127.0.0.1:0", "--rollout-after-gets", "1"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let line = lines.next_line().await.unwrap().unwrap();
    let url = line.strip_prefix("listening on ").unwrap().to_owned();
    let config: Value = reqwest::get(format!("{url}/_fake/config"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["rollout_after_gets"], 1);
    child.kill().await.unwrap();
}
