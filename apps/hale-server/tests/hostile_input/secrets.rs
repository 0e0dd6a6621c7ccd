//! Secrets printed by a target or a healing command never reach a record, and an eviction touches only the target's pods.

use super::world::*;

#[tokio::test]
async fn secrets_printed_by_a_healing_command_are_not_stored() {
    hostile(|w| async move {
        let audit = w.a_heals_then_audit("LeakyCommand", "cache").await;
        assert!(audit.text.contains("command:leak"), "{}", audit.text);
        assert!(audit.text.contains("DB_PASSWORD=***"), "{}", audit.text);
        let everything = format!(
            "{}{}",
            audit.text,
            w.get("/v1/timeline", Some(A_VIEWER)).await.text
        );
        assert!(!everything.contains(SECRET), "{everything}");
    })
    .await;
}

#[tokio::test]
async fn kubernetes_objects_are_recorded_by_allow_list() {
    let fake = FakeKube::start("127.0.0.1:0", FakeConfig::default())
        .await
        .unwrap();
    for name in ["checkout", "bystander-0", "bystander-1"] {
        fake.seed(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "prod", "labels": {"app": name},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration":
                    format!("{{\"password\":\"{SECRET}\"}}")}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "app", "image": "app:1",
                        "env": [{"name": "DB_PASSWORD", "value": SECRET}]}]}}}
        }))
        .unwrap();
    }
    let w = kube_world(&fake).await;
    hostile_in(&w, |w| async move {
        let audit = w.a_heals_then_audit("HighErrorRate", "checkout").await;
        assert!(
            audit.text.contains("kubectl.kubernetes.io/restartedAt"),
            "{}",
            audit.text
        );
        assert!(!audit.text.contains(SECRET), "{}", audit.text);
        assert!(
            !audit.text.contains("last-applied-configuration"),
            "{}",
            audit.text
        );
    })
    .await;
    fake.stop().await;
}

/// A Deployment in `prod`, its ReplicaSet and `pods` pods labelled
/// `tier=web`, as the controllers would leave them.
fn web_deployment(name: &str, pods: usize) -> Vec<Value> {
    let labels = json!({"app": name, "tier": "web"});
    let rs = format!("{name}-6b7f");
    let mut out = vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "prod", "uid": format!("d-{name}")},
            "spec": {"replicas": pods, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "app", "image": "app:1"}]}}}}),
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs, "namespace": "prod", "uid": format!("rs-{name}"),
                "labels": labels,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                    "name": name, "uid": format!("d-{name}"), "controller": true}]},
            "spec": {"replicas": pods, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "app", "image": "app:1"}]}}}}),
    ];
    for n in 0..pods {
        out.push(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("{name}-{n}"), "namespace": "prod", "labels": labels,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": rs, "uid": format!("rs-{name}"), "controller": true}]},
            "spec": {"containers": [{"name": "app", "image": "app:1"}]}}));
    }
    out
}

/// An alert names `checkout` while the strategy's selector also matches
/// the pods of another deployment (`search`): the executor refuses the
/// whole eviction as `invalid_action`, naming the foreign pods; no pod goes,
/// the refusal counts toward no breaker, backoff or dormancy, and the next
/// alert heals at once.
#[tokio::test]
async fn selector_matching_foreign_pods_evicts_nothing_foreign() {
    let fake = FakeKube::start("127.0.0.1:0", FakeConfig::default())
        .await
        .unwrap();
    let bystanders = ["bystander-0", "bystander-1"].map(|b| web_deployment(b, 0));
    for obj in web_deployment("checkout", 1)
        .into_iter()
        .chain(web_deployment("search", 2))
        .chain(bystanders.into_iter().flatten())
    {
        fake.seed(obj).unwrap();
    }
    let w = kube_world(&fake).await;
    let pods = |fake: &FakeKube| fake.objects(hale_fake_kube::Resource::Pod, "prod").len();
    hostile_in(&w, |w| async move {
        let body = alert(&[("alertname", "PodStuck"), ("service", "checkout")]);
        let r = w.post("/v1/alerts", A_INGEST, &body).await;
        let outcome = &r.body["decisions"][0]["outcome"];
        assert_eq!(outcome["decision"], "operation_started", "{}", r.text);
        w.engine.wait_idle().await;
        let id = outcome["operation_id"].as_str().unwrap();
        let op = w.get(&format!("/v1/operations/{id}"), Some(A_VIEWER)).await;
        assert_eq!(op.body["state"], "FAILED", "{}", op.text);
        assert!(op.text.contains("invalid_action"), "{}", op.text);
        assert!(op.text.contains("search-0"), "{}", op.text);
        assert!(op.text.contains("nothing was evicted"), "{}", op.text);
        w.a_is_awake_and_closed().await;
        // No backoff: the refusal said nothing about the target's health.
        w.a_heals_then_audit("HighErrorRate", "checkout").await;
    })
    .await;
    assert_eq!(pods(&fake), 3, "no pod was evicted, foreign or not");
    fake.stop().await;
}
