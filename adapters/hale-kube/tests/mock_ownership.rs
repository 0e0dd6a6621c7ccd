//! A selector eviction touches only pods of the alert's target (issue 15):
//! a selector that also matches pods of another owner, or bare pods, is
//! refused whole as `invalid_action`, naming them, before anything is
//! written. Checked request by request on kube-rs's mock.

mod support;

use hale_domain::failure::FailureClass;
use hale_engine::ports::{ExecError, ExecMode};
use serde_json::{Value, json};
use support::mock::Expect;
use support::objects::*;
use support::{prod, run_scripted};

/// A pod of `app` controlled directly by `owner` (`Kind/name`), or by
/// nothing.
fn pod_owned_by(name: &str, app: &str, owner: Option<(&str, &str)>) -> Value {
    let mut p = pod("prod", name, app, true);
    p["metadata"]["ownerReferences"] = match owner {
        Some((kind, owner)) => json!([{"apiVersion": "apps/v1", "kind": kind, "name": owner,
            "uid": format!("u-{owner}"), "controller": true}]),
        None => json!(null),
    };
    p
}

fn pods(items: Vec<Value>, selector: &str) -> Expect {
    Expect::get("/api/v1/namespaces/prod/pods")
        .query(&[("labelSelector", selector)])
        .reply(200, pod_list(items))
}

fn replicasets(items: Vec<Value>, selector: &str) -> Expect {
    Expect::get("/apis/apps/v1/namespaces/prod/replicasets")
        .query(&[("labelSelector", selector)])
        .reply(200, replicaset_list(items))
}

/// Runs `evict_pod` on `resource` against `script` and returns its
/// refusal, which must be `invalid_action`.
async fn refused(script: Vec<Expect>, resource: &str, params: Value, mode: ExecMode) -> ExecError {
    let err = run_scripted(script, "evict_pod", resource, params, mode, &prod())
        .await
        .unwrap_err();
    assert_eq!(err.class, FailureClass::InvalidAction, "{err}");
    err
}

#[tokio::test]
async fn a_selector_matching_another_deployments_pods_evicts_nothing() {
    for mode in [ExecMode::DryRun, ExecMode::Apply] {
        // `tier=web` matches checkout's pod, a pod of the `search`
        // deployment and a bare pod; no patch and no eviction may follow.
        let mut search = pod("prod", "search-a", "search", true);
        search["metadata"]["labels"]["tier"] = json!("web");
        let mut mine = pod("prod", "checkout-a", "checkout", true);
        mine["metadata"]["labels"]["tier"] = json!("web");
        let bare = pod_owned_by("debug-shell", "checkout", None);
        let script = vec![
            pods(vec![mine, search, bare], "tier=web"),
            replicasets(
                vec![
                    current_replicaset("prod", "checkout"),
                    current_replicaset("prod", "search"),
                ],
                "tier=web",
            ),
        ];
        let params = json!({"selector": "tier=web", "max_pods": 5});
        let err = refused(script, "prod:deployment/checkout", params, mode).await;
        assert!(
            err.message
                .contains("search-a (owner Deployment/search via ReplicaSet/search-7d4b9c8f6d)"),
            "{err}"
        );
        assert!(err.message.contains("debug-shell (owner none)"), "{err}");
        assert!(!err.message.contains("checkout-a"), "{err}");
        assert!(err.message.contains("nothing was evicted"), "{err}");
        assert_eq!(
            err.response.unwrap()["foreign_pods"],
            json!([
                {"pod": "search-a", "owner": "Deployment/search via ReplicaSet/search-7d4b9c8f6d"},
                {"pod": "debug-shell", "owner": "none"}
            ])
        );
    }
}

#[tokio::test]
async fn a_pod_whose_replicaset_is_not_listed_or_was_replaced_is_foreign() {
    let mut replaced = current_replicaset("prod", "checkout");
    replaced["metadata"]["uid"] = json!("a-new-uid");
    for (listed, why) in [
        (vec![], "ReplicaSet/checkout-7d4b9c8f6d (not found)"),
        (
            vec![replaced],
            "ReplicaSet/checkout-7d4b9c8f6d (since replaced)",
        ),
    ] {
        let script = vec![
            pods(
                vec![pod("prod", "checkout-a", "checkout", true)],
                "app=checkout",
            ),
            replicasets(listed, "app=checkout"),
        ];
        let params = json!({"selector": "app=checkout"});
        let err = refused(script, "prod:deployment/checkout", params, ExecMode::Apply).await;
        assert!(err.message.contains(why), "{err}");
    }
}

#[tokio::test]
async fn statefulset_pods_are_checked_against_their_controller_directly() {
    // A StatefulSet controls its pods itself: no ReplicaSet is read.
    let db = pod_owned_by("db-0", "db", Some(("StatefulSet", "db")));
    let other = pod_owned_by("db-replica-0", "db", Some(("StatefulSet", "db-replica")));
    let err = refused(
        vec![pods(vec![db.clone(), other], "app=db")],
        "prod:statefulset/db",
        json!({"selector": "app=db", "max_pods": 2}),
        ExecMode::DryRun,
    )
    .await;
    assert!(
        err.message
            .contains("db-replica-0 (owner StatefulSet/db-replica)"),
        "{err}"
    );

    let out = run_scripted(
        vec![
            pods(vec![db], "app=db"),
            Expect::post("/api/v1/namespaces/prod/pods/db-0/eviction")
                .query(&[("dryRun", "All")])
                .reply(201, eviction_created()),
        ],
        "evict_pod",
        "prod:statefulset/db",
        json!({"selector": "app=db"}),
        ExecMode::DryRun,
        &prod(),
    )
    .await
    .unwrap();
    assert_eq!(out.response.unwrap()["evicted"], json!(["db-0"]));
}
