//! The live suite: a server-side dry-run rollout restart and a health probe
//! against a real cluster. Opt-in and `#[ignore]`d: no Kubernetes API
//! server can run where CI runs, so CI never runs it (the executor is tested
//! there against kube-rs's request/response mock and `hale-fake-kube`):
//!
//! ```text
//! HALE_TEST_KUBECONFIG=~/.kube/config \
//! HALE_TEST_KUBE_TARGET=my-namespace:deployment/my-app \
//!     cargo test -p hale-kube --test live -- --ignored --nocapture
//! ```
//!
//! `HALE_TEST_KUBE_CONTEXT` picks a kubeconfig context (default: the
//! current one). Without `HALE_TEST_KUBECONFIG` the test prints a notice and
//! passes. Nothing in the cluster changes: the restart carries `dryRun=All`
//! and the probe only reads.

mod support;

use hale_engine::ports::{ExecMode, NamespacePolicy};
use hale_kube::{KubeConnection, KubeExecutor, KubeExecutorConfig, KubeHealthProbe, path_from_env};
use serde_json::json;

#[tokio::test]
#[ignore = "needs a real cluster: set HALE_TEST_KUBECONFIG and HALE_TEST_KUBE_TARGET, run with --ignored"]
async fn live_dry_run_rollout_restart() {
    let Some(path) = path_from_env("HALE_TEST_KUBECONFIG") else {
        // A skip must be visible to whoever runs the suite.
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "skipping the live Kubernetes test: set HALE_TEST_KUBECONFIG=/path/to/kubeconfig \
                 and HALE_TEST_KUBE_TARGET=namespace:deployment/name to run it"
            );
        }
        return;
    };
    let target = std::env::var("HALE_TEST_KUBE_TARGET")
        .expect("HALE_TEST_KUBE_TARGET=namespace:deployment/name must name an existing deployment");
    let resource = hale_domain::ResourceRef::parse(&target).expect("HALE_TEST_KUBE_TARGET");
    let conn = KubeConnection::Kubeconfig {
        path,
        context: std::env::var("HALE_TEST_KUBE_CONTEXT").ok(),
    };
    let exec = KubeExecutor::connect(&conn, KubeExecutorConfig::default())
        .await
        .expect("connect with HALE_TEST_KUBECONFIG");
    let namespaces = NamespacePolicy::Only(vec![resource.namespace.clone()]);

    let out = support::run(
        &exec,
        "rollout_restart",
        &target,
        json!({}),
        ExecMode::DryRun,
        &namespaces,
    )
    .await
    .expect("dry-run rollout restart");
    #[allow(clippy::print_stderr)] // The point of a live run is to show what the cluster said.
    {
        eprintln!("{}", out.message);
    }
    let annotation = &out.response.expect("the would-be object")["spec"]["template"]["metadata"]["annotations"]
        ["kubectl.kubernetes.io/restartedAt"];
    assert!(
        annotation.is_string(),
        "the dry run returned no restartedAt: {annotation}"
    );

    let probe = KubeHealthProbe::connect(&conn, KubeExecutorConfig::default())
        .await
        .expect("connect");
    let health = support::probe(&probe, "auto", &target, &namespaces)
        .await
        .expect("probe");
    #[allow(clippy::print_stderr)] // As above.
    {
        eprintln!("health of {target}: {health}");
    }
}
