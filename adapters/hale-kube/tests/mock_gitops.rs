//! The GitOps ownership facts (issue 16), request by request on kube-rs's
//! mock: one GET of the workload, no body, no write; the owner read from
//! Argo CD's and Flux's marks; an API error classified like any other.

mod support;

use hale_domain::failure::FailureClass;
use hale_domain::gitops::{GitOpsOwner, GitOpsTool};
use hale_domain::{ResourceRef, TenantId};
use hale_engine::ports::{ActionExecutor, ExecError, OwnerRequest};
use serde_json::{Value, json};
use support::mock::{Expect, MockApi};
use support::objects::{deployment_ready, statefulset};
use support::{executor, prod};

async fn owner(script: Vec<Expect>, resource: &str) -> Result<Option<GitOpsOwner>, ExecError> {
    let (client, api) = MockApi::start(script);
    let exec = executor(client);
    let t = TenantId::new("acme").unwrap();
    let r = ResourceRef::parse(resource).unwrap();
    let got = exec
        .gitops_owner(OwnerRequest {
            tenant: &t,
            resource: &r,
            namespaces: &prod(),
        })
        .await;
    drop(exec);
    api.finish().await;
    got
}

fn with_labels(mut obj: Value, labels: Value) -> Value {
    for (k, v) in labels.as_object().unwrap() {
        obj["metadata"]["labels"][k] = v.clone();
    }
    obj
}

#[tokio::test]
async fn one_get_of_the_workload_reads_argo_cd_and_flux_marks() {
    let mut argo = deployment_ready("prod", "checkout");
    argo["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] =
        json!("shop:apps/Deployment:prod/checkout");
    let got = owner(
        vec![Expect::get("/apis/apps/v1/namespaces/prod/deployments/checkout").reply(200, argo)],
        "prod:deployment/checkout",
    )
    .await
    .unwrap();
    assert_eq!(
        got,
        Some(GitOpsOwner {
            tool: GitOpsTool::ArgoCd,
            evidence: "argocd.argoproj.io/tracking-id=shop:apps/Deployment:prod/checkout".into()
        })
    );

    let helm = with_labels(
        statefulset("prod", "db", 3),
        json!({"helm.toolkit.fluxcd.io/name": "db", "helm.toolkit.fluxcd.io/namespace": "flux-system"}),
    );
    let got = owner(
        vec![Expect::get("/apis/apps/v1/namespaces/prod/statefulsets/db").reply(200, helm)],
        "prod:statefulset/db",
    )
    .await
    .unwrap();
    assert_eq!(got.unwrap().tool, GitOpsTool::Flux);

    // Argo CD's legacy instance label alone is Helm's too: not evidence.
    let helm_chart = with_labels(
        deployment_ready("prod", "checkout"),
        json!({"app.kubernetes.io/instance": "checkout", "app.kubernetes.io/managed-by": "Helm"}),
    );
    let got = owner(
        vec![
            Expect::get("/apis/apps/v1/namespaces/prod/deployments/checkout")
                .reply(200, helm_chart),
        ],
        "prod:deployment/checkout",
    )
    .await
    .unwrap();
    assert_eq!(got, None);
}

#[tokio::test]
async fn errors_are_classified_and_pods_and_other_namespaces_ask_nothing() {
    let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
        "message": "deployments.apps \"checkout\" not found", "reason": "NotFound", "code": 404});
    let err = owner(
        vec![Expect::get("/apis/apps/v1/namespaces/prod/deployments/checkout").reply(404, status)],
        "prod:deployment/checkout",
    )
    .await
    .unwrap_err();
    assert_eq!(err.class, FailureClass::TargetGone, "{err}");
    // No request at all: a pod carries no GitOps marks Hale reads, and a
    // namespace outside the tenant's is refused before any call.
    assert_eq!(owner(vec![], "prod:pod/checkout-a").await.unwrap(), None);
    let err = owner(vec![], "kube-system:deployment/dns")
        .await
        .unwrap_err();
    assert_eq!(err.class, FailureClass::InvalidAction, "{err}");
}
