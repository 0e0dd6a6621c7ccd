//! Optimistic concurrency and the write log, over real HTTP.

mod support;

use hale_fake_kube::{FENCING_TENANT, FENCING_TOKEN, FakeConfig, Fault, Resource};
use serde_json::{Value, json};
use support::*;

const POD: &str = "/api/v1/namespaces/prod/pods/checkout-a";
const DEPLOY_OBJECT: &str = "deployments/prod/checkout";

fn rv(obj: &Value) -> u64 {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// A merge patch that records `token` of tenant `acme`, conditional on `rv`.
fn fenced_patch(token: u64, rv: &Value) -> Value {
    json!({"metadata": {
        "resourceVersion": rv,
        "annotations": {FENCING_TOKEN: token.to_string(), FENCING_TENANT: "acme"}
    }})
}

#[tokio::test]
async fn every_write_gets_a_larger_resource_version_and_stale_ones_are_409_conflict() {
    let (fake, http) = fake(FakeConfig::default()).await;
    fake.seed(deployment()).unwrap();
    let (_, d0) = http.get(DEPLOY).await;
    let (code, d1) = http
        .patch(DEPLOY, MERGE, json!({"metadata": {"labels": {"x": "1"}}}))
        .await;
    assert_eq!(code, 200, "{d1}");
    let (code, d2) = http
        .patch(DEPLOY, STRATEGIC, json!({"spec": {"replicas": 4}}))
        .await;
    assert_eq!(code, 200, "{d2}");
    assert!(rv(&d0) < rv(&d1) && rv(&d1) < rv(&d2), "{d0} {d1} {d2}");

    // A merge patch naming the version read before the last write.
    let stale = json!({"metadata": {"resourceVersion": d1["metadata"]["resourceVersion"]},
                       "spec": {"replicas": 9}});
    let (code, s) = http.patch(DEPLOY, MERGE, stale).await;
    assert_eq!(code, 409, "{s}");
    assert_eq!(
        (
            s["kind"].as_str(),
            s["status"].as_str(),
            s["reason"].as_str()
        ),
        (Some("Status"), Some("Failure"), Some("Conflict"))
    );
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("the object has been modified"),
        "{s}"
    );
    let now = fake
        .object(Resource::Deployment, "prod", "checkout")
        .unwrap();
    assert_eq!(
        now["spec"]["replicas"], 4,
        "a refused write changed nothing"
    );
    assert_eq!(rv(&now), rv(&d2));

    // The current version passes.
    let fresh = json!({"metadata": {"resourceVersion": d2["metadata"]["resourceVersion"]},
                       "spec": {"replicas": 5}});
    let (code, d3) = http.patch(DEPLOY, MERGE, fresh).await;
    assert_eq!(code, 200, "{d3}");
    assert!(rv(&d3) > rv(&d2));
}

#[tokio::test]
async fn put_replaces_the_object_under_the_same_precondition() {
    let (fake, http) = fake(FakeConfig::default()).await;
    fake.seed(deployment()).unwrap();
    let (_, read) = http.get(DEPLOY).await;

    let mut replaced = read.clone();
    replaced["spec"]["replicas"] = json!(6);
    replaced["metadata"]["generation"] = json!(99);
    replaced["status"] = json!({"replicas": 1000});
    let (code, put) = http.put(DEPLOY, replaced.clone()).await;
    assert_eq!(code, 200, "{put}");
    assert_eq!(put["spec"]["replicas"], 6);
    assert!(rv(&put) > rv(&read));
    assert_eq!(
        put["metadata"]["generation"], 2,
        "the server owns generation"
    );
    assert_ne!(put["status"]["replicas"], 1000, "status is a subresource");

    // The same body again names the version it replaced.
    let (code, s) = http.put(DEPLOY, replaced).await;
    assert_eq!(code, 409, "{s}");
    assert_eq!(s["reason"], "Conflict");

    // Without a resourceVersion the update is unconditional.
    let mut blind = deployment();
    blind["spec"]["replicas"] = json!(2);
    let (code, put2) = http.put(DEPLOY, blind.clone()).await;
    assert_eq!(code, 200, "{put2}");
    assert_eq!(put2["metadata"]["uid"], read["metadata"]["uid"]);

    blind["metadata"]["uid"] = json!("someone-else");
    let (code, _) = http.put(DEPLOY, blind).await;
    assert_eq!(code, 422, "uid is immutable");
    let (code, _) = http.put(DEPLOY, json!(["not", "an", "object"])).await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn deletes_and_evictions_honour_their_preconditions() {
    let (fake, http) = fake(FakeConfig::default()).await;
    fake.seed(pod("checkout-a", true)).unwrap();
    let (_, p) = http.get(POD).await;

    assert_ne!(p["metadata"]["resourceVersion"], "999");
    let wrong_rv = json!({"preconditions": {"resourceVersion": "999"}});
    let (code, s) = http.delete(POD, wrong_rv).await;
    assert_eq!(code, 409, "{s}");
    assert_eq!(s["reason"], "Conflict");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("Precondition failed")
    );

    let mut ev = eviction("checkout-a");
    ev["deleteOptions"] = json!({"preconditions": {"uid": "another-pod"}});
    let (code, s) = http.post(&format!("{POD}/eviction"), ev).await;
    assert_eq!(code, 409, "{s}");
    assert!(fake.object(Resource::Pod, "prod", "checkout-a").is_some());

    let mut ev = eviction("checkout-a");
    ev["deleteOptions"] = json!({"preconditions": {
        "uid": p["metadata"]["uid"], "resourceVersion": p["metadata"]["resourceVersion"]
    }});
    let (code, s) = http.post(&format!("{POD}/eviction"), ev).await;
    assert_eq!(code, 201, "{s}");
    assert!(fake.object(Resource::Pod, "prod", "checkout-a").is_none());
}

#[tokio::test]
async fn the_write_log_records_every_mutating_request_with_the_token_it_left() {
    let (fake, http) = fake(FakeConfig::default()).await;
    fake.seed(deployment()).unwrap();
    fake.seed(pod("checkout-a", true)).unwrap();
    let (_, d) = http.get(DEPLOY).await;
    let rv0 = d["metadata"]["resourceVersion"].clone();

    let (code, d7) = http.patch(DEPLOY, MERGE, fenced_patch(7, &rv0)).await;
    assert_eq!(code, 200);
    // A second writer still holding the old version: refused.
    let (code, _) = http.patch(DEPLOY, MERGE, fenced_patch(8, &rv0)).await;
    assert_eq!(code, 409);
    // A dry run and an injected failure are logged but change nothing.
    let dry = format!("{DEPLOY}?dryRun=All");
    let (code, _) = http
        .patch(&dry, MERGE, json!({"spec": {"replicas": 1}}))
        .await;
    assert_eq!(code, 200);
    fake.inject(Fault::status("PATCH", DEPLOY, 503, 1));
    let (code, _) = http
        .patch(DEPLOY, MERGE, json!({"spec": {"replicas": 1}}))
        .await;
    assert_eq!(code, 503);
    // The pod's eviction logs the token the pod carried when it went.
    let (_, p) = http.get(POD).await;
    let (code, _) = http
        .patch(
            POD,
            MERGE,
            fenced_patch(3, &p["metadata"]["resourceVersion"]),
        )
        .await;
    assert_eq!(code, 200);
    let (code, _) = http
        .post(&format!("{POD}/eviction"), eviction("checkout-a"))
        .await;
    assert_eq!(code, 201);

    let log = fake.writes_to(DEPLOY_OBJECT);
    // (code, reason, dry run, applied, token left on the object)
    let summary: Vec<_> = log
        .iter()
        .map(|r| {
            (
                r.code,
                r.reason.as_deref(),
                r.dry_run,
                r.applied,
                r.fencing_token,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (200, None, false, true, Some(7)),
            (409, Some("Conflict"), false, false, Some(7)),
            (200, None, true, false, Some(7)),
            (503, Some("ServiceUnavailable"), false, false, Some(7)),
        ]
    );
    assert_eq!(
        log[0].precondition.as_ref(),
        rv0.as_str().map(str::to_owned).as_ref()
    );
    assert_eq!(
        log[0].resource_version.as_deref(),
        d7["metadata"]["resourceVersion"].as_str()
    );
    assert_eq!(log[0].fencing_tenant.as_deref(), Some("acme"));
    assert!(log.windows(2).all(|w| w[0].seq < w[1].seq));

    let pod_log = fake.writes_to("pods/prod/checkout-a");
    assert_eq!(pod_log.len(), 2);
    assert_eq!(pod_log[1].path, format!("{POD}/eviction"));
    assert_eq!(
        (
            pod_log[1].applied,
            pod_log[1].fencing_token,
            pod_log[1].resource_version.as_deref()
        ),
        (true, Some(3), None)
    );
    assert!(fake.fencing_regressions().is_empty());

    // Over HTTP, with the object filter.
    let (code, body) = http
        .get(&format!("/_fake/writes?object={DEPLOY_OBJECT}"))
        .await;
    assert_eq!(code, 200);
    assert_eq!(body["writes"].as_array().unwrap().len(), 4);
    assert_eq!(body["writes"][0]["fencing_token"], 7);
    assert_eq!(body["fencing_regressions"], json!([]));
    http.delete("/_fake/writes", json!({})).await;
    assert!(fake.writes().is_empty());
}

#[tokio::test]
async fn a_write_that_lowers_the_token_shows_as_a_regression() {
    let (fake, http) = fake(FakeConfig::default()).await;
    fake.seed(deployment()).unwrap();
    for token in [5, 9, 4] {
        // A writer that ignores fencing: read, then write its own token.
        let (_, d) = http.get(DEPLOY).await;
        let (code, _) = http
            .patch(
                DEPLOY,
                MERGE,
                fenced_patch(token, &d["metadata"]["resourceVersion"]),
            )
            .await;
        assert_eq!(code, 200);
    }
    let found = fake.fencing_regressions();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].object, DEPLOY_OBJECT);
    assert_eq!(
        (found[0].earlier.fencing_token, found[0].later.fencing_token),
        (Some(9), Some(4))
    );
    let (_, body) = http.get("/_fake/writes").await;
    assert_eq!(body["fencing_regressions"][0]["later"]["fencing_token"], 4);
}

#[tokio::test]
async fn a_status_write_between_read_and_write_makes_the_json_patch_409_and_changes_nothing() {
    let (fake, http) = fake(FakeConfig::default()).await;
    fake.seed(deployment()).unwrap();
    let (_, read) = http.get(DEPLOY).await;
    let generation = read["metadata"]["generation"].clone();
    fake.status_write_before("PATCH", DEPLOY, 1);
    // The JSON patch `rollout undo` sends: the template, conditional on the
    // resourceVersion read.
    let undo = json!([
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "checkout:0"},
        {"op": "replace", "path": "/metadata/resourceVersion",
         "value": read["metadata"]["resourceVersion"]}
    ]);
    let (code, s) = http.patch(DEPLOY, JSON_PATCH, undo.clone()).await;
    assert_eq!((code, s["reason"].as_str()), (409, Some("Conflict")), "{s}");
    let now = fake
        .object(Resource::Deployment, "prod", "checkout")
        .unwrap();
    assert!(
        rv(&now) > rv(&read),
        "the controller's status write moved it on"
    );
    assert_eq!(
        now["metadata"]["generation"], generation,
        "its spec did not"
    );
    assert_eq!(
        now["spec"], read["spec"],
        "the refused patch changed nothing"
    );
    // Read again, write again: it passes (the status write was used up).
    let retry = json!([
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "checkout:0"},
        {"op": "replace", "path": "/metadata/resourceVersion",
         "value": now["metadata"]["resourceVersion"]}
    ]);
    let (code, d) = http.patch(DEPLOY, JSON_PATCH, retry).await;
    assert_eq!(code, 200, "{d}");
    assert!(rv(&d) > rv(&now));
    let log = fake.writes_to(DEPLOY_OBJECT);
    let codes: Vec<u16> = log.iter().map(|w| w.code).collect();
    assert_eq!(codes, [409, 200], "{log:?}");
}
