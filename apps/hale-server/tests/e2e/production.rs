//! The production configuration end to end: Postgres over TLS (a fresh
//! database, migrated by the migrator role at start, `sslmode=verify-full`
//! against the test CA), Redis locks and idempotency keys over TLS
//! (`rediss://` with `[locks] ca_file`), and the Kubernetes executor against
//! the in-repo fake API server. An alert goes in over HTTP; the operation
//! completes and the fake API server saw exactly one restart PATCH, even
//! with an HA duplicate; the audit log holds none of the deployment's
//! secrets. The same configuration with a superuser login does not start.

use std::time::Duration;

use hale_fake_kube::{FakeConfig, FakeKube};
use hale_postgres::RoleSetup;
use serde_json::{Value, json};

use crate::support::*;

const DEPLOY: &str = "/apis/apps/v1/namespaces/prod/deployments/checkout";

/// A container env value of the healed deployment: it must never reach
/// Hale's records.
const SECRET: &str = "hunter2-e2e-secret";

/// `url` with its database replaced.
fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let (authority, _) = rest.split_once('/').unwrap_or((rest, ""));
    format!("{scheme}://{authority}/{db}")
}

/// A fresh database on the test cluster, with Hale's two roles.
async fn fresh_database(admin_url: &str, name: &str) -> String {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("admin connection");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create database");
    conn.close().await.ok();
    let url = with_database(admin_url, name);
    hale_postgres::setup_roles(
        &url,
        &RoleSetup {
            schema: None,
            migrator_password: Some("hale_migrator".into()),
            app_password: Some("hale_app".into()),
        },
    )
    .await
    .expect("role setup");
    url
}

/// `url` with its user and password replaced.
fn with_user(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{host}")
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "checkout", "namespace": "prod", "labels": {"app": "checkout"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration":
                format!("{{\"env\":[{{\"name\":\"DB_PASSWORD\",\"value\":\"{SECRET}\"}}]}}")}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "checkout"}},
            "template": {
                "metadata": {"labels": {"app": "checkout"}},
                "spec": {"containers": [{"name": "app", "image": "registry.example/checkout:1.4.2",
                    "env": [{"name": "DB_PASSWORD", "value": SECRET}]}]}
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_redis_and_kubernetes_heal_exactly_once() {
    let test = "postgres_redis_and_kubernetes_heal_exactly_once";
    let (Some(admin_url), Some(_), Some(redis_url), Some(ca)) = (
        hale_testkit::services::database_url(test),
        hale_testkit::services::database_tls_url(test),
        hale_testkit::services::redis_tls_url(test),
        hale_testkit::services::tls_ca_file(test),
    ) else {
        return;
    };
    let tls = format!("?sslmode=verify-full&sslrootcert={ca}");
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let db_url = fresh_database(&admin_url, &format!("hale_e2e_{}", &suffix[..12])).await;
    // Tenant ids prefix the Redis keys, so this run cannot meet another's.
    let tenant = format!("e2e-{}", &suffix[..12]);

    let fake = FakeKube::start(
        "127.0.0.1:0",
        FakeConfig {
            rollout_after_gets: 1,
        },
    )
    .await
    .unwrap();
    fake.seed(deployment()).unwrap();

    let data = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
data_dir = "{data}"

[store]
kind = "postgres"
url = "{app_url}"
migrate_url = "{migrator_url}"

[locks]
kind = "redis"
url = "{redis_url}"
ca_file = "{ca}"

[executor]
kind = "kubernetes"
api_url = "{kube}"
request_timeout = "5s"

{tenant_block}"#,
        data = data.path().display(),
        app_url = with_user(&db_url, "hale_app", "hale_app") + &tls,
        migrator_url = with_user(&db_url, "hale_migrator", "hale_migrator") + &tls,
        kube = fake.url(),
        tenant_block = tenant_toml(
            &tenant,
            r#"[{ kind = "rollout_restart", timeout = "10s" }]"#,
            r#"{ check = "rollout_complete", timeout = "20s", interval = "200ms" }"#,
        ),
    );
    // The same file with a superuser login: the server does not start,
    // and says why and what to do.
    let superuser = text.replace(
        &(with_user(&db_url, "hale_app", "hale_app") + &tls),
        &(with_database(&admin_url, db_url.rsplit('/').next().unwrap()) + &tls),
    );
    assert_ne!(superuser, text);
    let config = hale_server::config::parse_str(&superuser, "superuser.toml").unwrap();
    let refused = hale_server::Server::bind(config)
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("is a superuser"), "{refused}");
    assert!(refused.contains("hale_app"), "{refused}");

    let config = hale_server::config::parse_str(&text, "production-e2e.toml").unwrap();
    let server = start(config).await;

    let (status, ready) = get_json(&server.url("/readyz")).await;
    assert_eq!(status, 200, "{ready}");

    // The alert, and an HA peer's duplicate of it.
    let mut peer: Value = serde_json::from_slice(&example_alert()).unwrap();
    peer["externalURL"] = json!("http://am-2:9093");
    let first = post_webhook(
        &server.url("/v1/alerts/alertmanager"),
        TOKEN,
        example_alert(),
    )
    .await;
    assert_eq!(
        first["decisions"][0]["outcome"]["decision"], "operation_started",
        "{first}"
    );
    let second = post_webhook(
        &server.url("/v1/alerts/alertmanager"),
        TOKEN,
        serde_json::to_vec(&peer).unwrap(),
    )
    .await;
    let d = second["decisions"][0]["outcome"]["decision"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        matches!(d.as_str(), "duplicate_delivery" | "deduplicated"),
        "{second}"
    );

    let op_id = first["decisions"][0]["outcome"]["operation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let op_url = server.url(&format!("/v1/operations/{op_id}"));
    let op = eventually(Duration::from_secs(30), "the operation to finish", || {
        let url = op_url.clone();
        async move {
            let (_, op) = get_json(&url).await;
            matches!(
                op["state"].as_str(),
                Some("COMPLETED" | "FAILED" | "INTERRUPTED")
            )
            .then_some(op)
        }
    })
    .await;
    assert_eq!(op["state"], "COMPLETED", "{op}");
    assert!(op["fencing_token"].as_u64().is_some(), "{op}");

    // Exactly one restart reached the API server.
    assert_eq!(fake.applied("PATCH", DEPLOY), 1, "{:?}", fake.requests());
    assert_eq!(fake.applied_total(), 1, "{:?}", fake.requests());
    let restarted = fake
        .object(hale_fake_kube::Resource::Deployment, "prod", "checkout")
        .unwrap();
    assert!(
        restarted["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_string(),
        "{restarted}"
    );

    // The record is in Postgres: a second server on the same database reads it.
    server.stop().await.unwrap();
    let config = hale_server::config::parse_str(&text, "production-e2e.toml").unwrap();
    let again = start(config).await;
    let (status, op) = get_json(&again.url(&format!("/v1/operations/{op_id}"))).await;
    assert_eq!(status, 200, "{op}");
    assert_eq!(op["state"], "COMPLETED");
    let (_, audit) = get_json(&again.url(&format!("/v1/audit?operation_id={op_id}"))).await;
    assert!(!audit["items"].as_array().unwrap().is_empty(), "{audit}");
    // The patched object was recorded by allow-list: what Hale changed is
    // there, the container env and last-applied-configuration are not.
    let recorded = audit.to_string();
    assert!(!recorded.contains(SECRET), "{recorded}");
    assert!(
        !recorded.contains("last-applied-configuration"),
        "{recorded}"
    );
    assert!(
        recorded.contains("kubectl.kubernetes.io/restartedAt"),
        "{recorded}"
    );
    again.stop().await.unwrap();
    fake.stop().await;
}
