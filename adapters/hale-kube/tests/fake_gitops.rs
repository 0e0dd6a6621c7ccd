//! GitOps-owned targets end to end (issue 16): the engine (the testkit's
//! in-memory stores and locks) with the Kubernetes executor against the
//! in-repo fake API server, over real HTTP. A deployment carrying Argo CD's
//! or Flux's marks (a Kustomization's or a HelmRelease's) is not scaled
//! and not rolled back (`gitops_managed`, nothing written, no failure
//! counted) unless the strategy opts in; an unmarked one is scaled; a
//! marked one is still restarted and its pods still evicted.

mod support;

use hale_domain::TenantId;
use hale_domain::gitops::{GitOpsOwner, GitOpsTool};
use hale_domain::guard::Guard;
use hale_engine::Outcome;
use hale_engine::ports::{ActionExecutor, ExecMode, FencingToken, NamespacePolicy, OwnerRequest};
use hale_fake_kube::{FakeConfig, Resource};
use serde_json::{Value, json};
use support::engine::{audit, heal, strategy};
use support::objects::{current_replicaset, pod};
use support::world::{World, checkout, stored, world};
use support::{prod, run, run_with_token};

const DEPLOY: &str = "/apis/apps/v1/namespaces/prod/deployments/checkout";

/// `checkout` with these labels and annotations added.
fn marked(labels: Value, annotations: Value) -> Value {
    let mut d = checkout();
    for (k, v) in labels.as_object().unwrap() {
        d["metadata"]["labels"][k] = v.clone();
    }
    for (k, v) in annotations.as_object().unwrap() {
        d["metadata"]["annotations"][k] = v.clone();
    }
    d
}

fn argo_cd() -> Value {
    marked(
        json!({"app.kubernetes.io/instance": "shop"}),
        json!({"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:prod/checkout"}),
    )
}

fn flux() -> Value {
    marked(
        json!({
            "kustomize.toolkit.fluxcd.io/name": "apps",
            "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
        }),
        json!({}),
    )
}

fn flux_helm() -> Value {
    marked(
        json!({
            "helm.toolkit.fluxcd.io/name": "podinfo",
            "helm.toolkit.fluxcd.io/namespace": "flux-system",
        }),
        json!({}),
    )
}

/// Argo CD's legacy default tracking label alone: Helm charts set it too,
/// so it is no evidence of ownership (src/gitops.rs).
fn instance_label_only() -> Value {
    marked(json!({"app.kubernetes.io/instance": "shop"}), json!({}))
}

fn undo() -> Value {
    json!({"kind": "rollout_undo"})
}

const DEPLOY_OBJECT: &str = "deployments/prod/checkout";

/// A world whose deployment has a revision to go back to: an earlier
/// holder of the lock (token 0) restarted it, making revision 2. Returns
/// the world with its write log cleared, and revision 1's template.
async fn with_history(seed: Value) -> (World, Value) {
    let w = world(FakeConfig::default(), seed).await;
    let original =
        stored(&w.fake, Resource::Deployment, "prod", "checkout")["spec"]["template"].clone();
    run_with_token(
        &w.exec,
        "rollout_restart",
        "prod:deployment/checkout",
        json!({}),
        ExecMode::Apply,
        Some(FencingToken(0)),
        &prod(),
    )
    .await
    .unwrap();
    let d = stored(&w.fake, Resource::Deployment, "prod", "checkout");
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
    w.fake.reset_writes();
    (w, original)
}

fn scale() -> Value {
    json!({"kind": "scale", "params": {"replicas": 5, "min_replicas": 2, "max_replicas": 6}})
}

#[tokio::test]
async fn argo_cd_and_flux_owned_deployments_are_not_scaled() {
    for (seed, tool, evidence) in [
        (
            argo_cd(),
            "argo_cd",
            "argocd.argoproj.io/tracking-id=shop:apps/Deployment:prod/checkout",
        ),
        (
            flux(),
            "flux",
            "kustomize.toolkit.fluxcd.io/name=apps, kustomize.toolkit.fluxcd.io/namespace=flux-system",
        ),
    ] {
        let w = world(FakeConfig::default(), seed).await;
        let (outcome, kit, t) = heal(&w, strategy(scale(), false)).await;
        match &outcome {
            Outcome::Blocked { guard, detail, .. } => {
                assert_eq!(*guard, Guard::GitopsManaged);
                assert!(
                    detail.contains(tool) && detail.contains(evidence),
                    "{detail}"
                );
            }
            other => panic!("expected gitops_managed, got {other:?}"),
        }
        // Nothing was written: the object is as seeded.
        assert_eq!(w.fake.applied_total(), 0, "{:?}", w.fake.requests());
        assert_eq!(w.fake.requests().len(), 0, "not even a dry run");
        let d = stored(&w.fake, Resource::Deployment, "prod", "checkout");
        assert_eq!(d["spec"]["replicas"], 3);
        let blocked = audit(&kit, &t, "healing.blocked").await;
        assert_eq!(blocked.len(), 1);
        let reason = blocked[0].reason.as_deref().unwrap();
        assert!(reason.starts_with("gitops_managed"), "{reason}");
        // A guard is not a failure: no operation ran, nothing backs off.
        assert!(audit(&kit, &t, "healing.started").await.is_empty());
        assert!(audit(&kit, &t, "operation.failed").await.is_empty());
    }
}

#[tokio::test]
async fn an_unmarked_deployment_is_scaled_and_an_opted_in_strategy_scales_a_marked_one() {
    for (seed, allow) in [(checkout(), false), (argo_cd(), true), (flux(), true)] {
        let w = world(FakeConfig::default(), seed).await;
        let (outcome, _kit, _t) = heal(&w, strategy(scale(), allow)).await;
        assert!(
            matches!(outcome, Outcome::OperationStarted { .. }),
            "{outcome:?}"
        );
        let d = stored(&w.fake, Resource::Deployment, "prod", "checkout");
        assert_eq!(d["spec"]["replicas"], 5, "allow_gitops_managed = {allow}");
        assert_eq!(w.fake.applied("PATCH", DEPLOY), 1);
    }
}

#[tokio::test]
async fn a_marked_deployment_is_still_restarted() {
    for seed in [argo_cd(), flux()] {
        let w = world(FakeConfig::default(), seed).await;
        let restart = json!({"kind": "rollout_restart"});
        let (outcome, _kit, _t) = heal(&w, strategy(restart, false)).await;
        assert!(
            matches!(outcome, Outcome::OperationStarted { .. }),
            "{outcome:?}"
        );
        let d = stored(&w.fake, Resource::Deployment, "prod", "checkout");
        assert!(
            !d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
                .is_null()
        );
        assert_eq!(w.fake.applied("PATCH", DEPLOY), 1);
    }
}

#[tokio::test]
async fn the_executor_reports_the_owner_of_workloads_and_nothing_for_pods() {
    let w = world(FakeConfig::default(), flux()).await;
    let t = TenantId::new("acme").unwrap();
    let ask = |resource: &'static str| {
        let exec = w.exec.clone();
        let t = t.clone();
        async move {
            let r = hale_domain::ResourceRef::parse(resource).unwrap();
            exec.gitops_owner(OwnerRequest {
                tenant: &t,
                resource: &r,
                namespaces: &prod(),
            })
            .await
        }
    };
    assert_eq!(
        ask("prod:deployment/checkout").await.unwrap(),
        Some(GitOpsOwner {
            tool: GitOpsTool::Flux,
            evidence: "kustomize.toolkit.fluxcd.io/name=apps, kustomize.toolkit.fluxcd.io/namespace=flux-system".into(),
        })
    );
    assert_eq!(ask("prod:pod/checkout-0").await.unwrap(), None);
    let gone = ask("prod:deployment/missing").await.unwrap_err();
    assert_eq!(gone.class, hale_domain::failure::FailureClass::TargetGone);
    let outside = w
        .exec
        .gitops_owner(OwnerRequest {
            tenant: &t,
            resource: &hale_domain::ResourceRef::parse("kube-system:deployment/dns").unwrap(),
            namespaces: &NamespacePolicy::Only(vec!["prod".into()]),
        })
        .await
        .unwrap_err();
    assert_eq!(
        outside.class,
        hale_domain::failure::FailureClass::InvalidAction
    );
    // Asking reads; it never writes.
    assert_eq!(w.fake.requests().len(), 0);
    // The executor itself still acts when asked directly (the guard is the
    // engine's, not the executor's).
    run(
        &w.exec,
        "scale",
        "prod:deployment/checkout",
        json!({"replicas": 4, "min_replicas": 2, "max_replicas": 6}),
        ExecMode::Apply,
        &prod(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn argo_cd_and_flux_helm_owned_deployments_are_not_rolled_back() {
    for (seed, tool, evidence) in [
        (
            argo_cd(),
            "argo_cd",
            "argocd.argoproj.io/tracking-id=shop:apps/Deployment:prod/checkout",
        ),
        (
            flux_helm(),
            "flux",
            "helm.toolkit.fluxcd.io/name=podinfo, helm.toolkit.fluxcd.io/namespace=flux-system",
        ),
    ] {
        let (w, original) = with_history(seed).await;
        let before = stored(&w.fake, Resource::Deployment, "prod", "checkout");
        let (outcome, kit, t) = heal(&w, strategy(undo(), false)).await;
        match &outcome {
            Outcome::Blocked { guard, detail, .. } => {
                assert_eq!(*guard, Guard::GitopsManaged);
                assert!(
                    detail.contains("rollout_undo")
                        && detail.contains(tool)
                        && detail.contains(evidence),
                    "{detail}"
                );
            }
            other => panic!("expected gitops_managed, got {other:?}"),
        }
        // Nothing was written, not even a dry run: the deployment keeps
        // the restart's template, version and revision.
        assert!(w.fake.writes().is_empty(), "{:?}", w.fake.writes());
        let d = stored(&w.fake, Resource::Deployment, "prod", "checkout");
        assert_eq!(d, before);
        assert_ne!(d["spec"]["template"], original);
        let blocked = audit(&kit, &t, "healing.blocked").await;
        assert_eq!(blocked.len(), 1);
        assert_eq!(blocked[0].reason.as_deref(), Some("gitops_managed"));
        assert!(audit(&kit, &t, "healing.started").await.is_empty());
        assert!(audit(&kit, &t, "operation.failed").await.is_empty());
    }
}

#[tokio::test]
async fn an_opted_in_rollback_of_a_marked_deployment_survives_a_409_like_on_a_real_server() {
    for seed in [argo_cd(), flux_helm()] {
        let (w, original) = with_history(seed).await;
        // The deployment controller writes status between Hale's read and
        // its write: the applied PATCH names a stale resourceVersion, the
        // server refuses it with 409 and the undo reads again.
        w.fake.status_write_before("PATCH", DEPLOY, 1);
        let (outcome, kit, t) = heal(&w, strategy(undo(), true)).await;
        assert!(
            matches!(outcome, Outcome::OperationStarted { .. }),
            "{outcome:?}"
        );
        let d = stored(&w.fake, Resource::Deployment, "prod", "checkout");
        assert_eq!(
            d["spec"]["template"], original,
            "back to revision 1's template"
        );
        assert_eq!(
            d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
            "3"
        );
        let log = w.fake.writes_to(DEPLOY_OBJECT);
        let shape: Vec<(bool, u16)> = log.iter().map(|r| (r.dry_run, r.code)).collect();
        assert_eq!(shape, [(true, 200), (false, 409), (false, 200)], "{log:?}");
        assert_eq!(log[1].reason.as_deref(), Some("Conflict"));
        // The dry run and the refused write were conditional on the version
        // first read; the retry on the version read after the status write,
        // and it left a newer one.
        assert_eq!(log[0].precondition, log[1].precondition);
        let version = |v: &Option<String>| v.as_deref().unwrap().parse::<u64>().unwrap();
        assert!(version(&log[2].precondition) > version(&log[1].precondition));
        assert!(version(&log[2].resource_version) > version(&log[2].precondition));
        assert_eq!(audit(&kit, &t, "action.executed").await.len(), 1);
        assert!(audit(&kit, &t, "healing.blocked").await.is_empty());
    }
}

#[tokio::test]
async fn the_helm_instance_label_alone_does_not_refuse_a_rollback() {
    let (w, original) = with_history(instance_label_only()).await;
    let (outcome, _kit, _t) = heal(&w, strategy(undo(), false)).await;
    assert!(
        matches!(outcome, Outcome::OperationStarted { .. }),
        "{outcome:?}"
    );
    let d = stored(&w.fake, Resource::Deployment, "prod", "checkout");
    assert_eq!(d["spec"]["template"], original);
}

#[tokio::test]
async fn the_pods_of_a_marked_deployment_are_still_evicted() {
    for marked in [argo_cd(), flux(), flux_helm()] {
        let seed = json!([
            marked,
            current_replicaset("prod", "checkout"),
            pod("prod", "checkout-a", "checkout", true),
        ]);
        let w = world(FakeConfig::default(), seed).await;
        let evict = json!({"kind": "evict_pod", "params": {"selector": "app=checkout"}});
        let (outcome, kit, t) = heal(&w, strategy(evict, false)).await;
        assert!(
            matches!(outcome, Outcome::OperationStarted { .. }),
            "{outcome:?}"
        );
        let executed = audit(&kit, &t, "action.executed").await;
        assert_eq!(
            executed.len(),
            1,
            "{:?}",
            audit(&kit, &t, "healing.blocked").await
        );
        assert!(w.fake.object(Resource::Pod, "prod", "checkout-a").is_none());
        assert!(audit(&kit, &t, "healing.blocked").await.is_empty());
    }
}
