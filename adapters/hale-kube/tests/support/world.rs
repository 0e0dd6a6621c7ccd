//! A fake API server (`hale-fake-kube`) over real HTTP with an executor and
//! a probe connected to it.

use hale_fake_kube::{FakeConfig, FakeKube, Resource};
use hale_kube::{KubeConnection, KubeExecutor, KubeExecutorConfig, KubeHealthProbe, connect};
use serde_json::Value;

use super::executor_with;
use super::objects::deployment_ready;

pub(crate) struct World {
    pub(crate) fake: FakeKube,
    pub(crate) exec: KubeExecutor,
    pub(crate) probe: KubeHealthProbe,
}

pub(crate) async fn world(config: FakeConfig, seed: Value) -> World {
    world_with(config, seed, KubeExecutorConfig::default()).await
}

pub(crate) async fn world_with(
    config: FakeConfig,
    seed: Value,
    exec_config: KubeExecutorConfig,
) -> World {
    let fake = FakeKube::start("127.0.0.1:0", config).await.unwrap();
    fake.seed(seed).unwrap();
    let client = connect(&KubeConnection::Url(fake.url())).await.unwrap();
    World {
        exec: executor_with(client.clone(), exec_config.clone()),
        probe: KubeHealthProbe::new(client, exec_config),
        fake,
    }
}

/// A deployment as a user would apply it (the fake fills status, uid and
/// the first ReplicaSet).
pub(crate) fn checkout() -> Value {
    let mut d = deployment_ready("prod", "checkout");
    let meta = d["metadata"].as_object_mut().unwrap();
    for k in [
        "uid",
        "resourceVersion",
        "generation",
        "annotations",
        "managedFields",
    ] {
        meta.remove(k);
    }
    d.as_object_mut().unwrap().remove("status");
    d
}

pub(crate) fn stored(fake: &FakeKube, resource: Resource, ns: &str, name: &str) -> Value {
    fake.object(resource, ns, name).unwrap()
}
