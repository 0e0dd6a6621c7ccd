//! GitOps-owned targets end to end (issue 16): the engine (the testkit's
//! in-memory stores and locks) with the Kubernetes executor against the
//! in-repo fake API server, over real HTTP. A deployment carrying Argo CD's
//! or Flux's marks is not scaled (`gitops_managed`, nothing written, no
//! failure counted) unless the strategy opts in; an unmarked one is scaled;
//! a marked one is still restarted.

mod support;

use hale_domain::TenantId;
use hale_domain::gitops::{GitOpsOwner, GitOpsTool};
use hale_domain::guard::Guard;
use hale_engine::Outcome;
use hale_engine::ports::{ActionExecutor, ExecMode, NamespacePolicy, OwnerRequest};
use hale_fake_kube::{FakeConfig, Resource};
use serde_json::{Value, json};
use support::engine::{audit, heal, strategy};
use support::world::{checkout, stored, world};
use support::{prod, run};

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
