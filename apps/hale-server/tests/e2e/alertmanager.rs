//! A real Alertmanager (Debian's `prometheus-alertmanager`) delivers to the
//! server over HTTP with a bearer token; the healing operation is recorded.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::support::*;

const DEFAULT_BIN: &str = "/usr/bin/prometheus-alertmanager";

/// The Alertmanager binary: `HALE_TEST_ALERTMANAGER_BIN`, else Debian's
/// path if installed, else skip (or fail under HALE_REQUIRE_SERVICES=1).
fn alertmanager_bin(test: &str) -> Option<PathBuf> {
    if let Ok(p) = std::env::var("HALE_TEST_ALERTMANAGER_BIN")
        && !p.trim().is_empty()
    {
        return Some(PathBuf::from(p));
    }
    if std::path::Path::new(DEFAULT_BIN).exists() {
        return Some(PathBuf::from(DEFAULT_BIN));
    }
    hale_testkit::services::service_url("HALE_TEST_ALERTMANAGER_BIN", test).map(PathBuf::from)
}

struct Alertmanager {
    /// Killed on drop.
    _child: Child,
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    async fn start(bin: &PathBuf, hale: &str) -> Alertmanager {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            r#"route:
  receiver: hale
  group_by: ['alertname', 'service']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hale
    webhook_configs:
      - url: '{hale}/v1/alerts/alertmanager'
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: '{TOKEN}'
"#
        );
        let config_path = dir.path().join("alertmanager.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = dir.path().join("alertmanager.log");
        let port = free_port();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("start alertmanager");
        let am = Alertmanager {
            _child: child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        let ready = format!("{}/-/ready", am.url);
        eventually(Duration::from_secs(20), "alertmanager to be ready", || {
            let ready = ready.clone();
            async move {
                match client().get(&ready).send().await {
                    Ok(r) if r.status().is_success() => Some(()),
                    _ => None,
                }
            }
        })
        .await;
        am
    }

    async fn post_alerts(&self, alerts: Value) {
        let res = client()
            .post(format!("{}/api/v2/alerts", self.url))
            .json(&alerts)
            .send()
            .await
            .unwrap();
        assert!(
            res.status().is_success(),
            "alertmanager refused the alerts: {}",
            res.status()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn now_rfc3339() -> String {
    use hale_engine::ports::Clock;
    hale_engine::SystemClock.now().to_rfc3339()
}

fn config(data: &std::path::Path) -> hale_server::config::Config {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n{}",
        data.display(),
        tenant_toml(
            "default",
            r#"[{ kind = "rollout_restart" }]"#,
            r#"{ check = "auto" }"#
        )
    );
    hale_server::config::parse_str(&text, "e2e.toml").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_alertmanager_delivers_and_the_healing_is_recorded() {
    let Some(bin) = alertmanager_bin("a_real_alertmanager_delivers_and_the_healing_is_recorded")
    else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let server = start(config(data.path())).await;
    let am = Alertmanager::start(&bin, &server.url("")).await;

    let labels = json!({"alertname": "HighErrorRate", "namespace": "prod", "service": "checkout", "severity": "critical"});
    // As Prometheus does: the same startsAt on every send, endsAt to resolve.
    let started = now_rfc3339();
    am.post_alerts(json!([{"labels": labels, "annotations": {"summary": "5xx ratio above 5%"}, "startsAt": started}]))
        .await;

    let ops_url = server.url("/v1/operations");
    let op = eventually(Duration::from_secs(30), "the healing operation", || {
        let url = ops_url.clone();
        async move {
            let (status, body) = get_json(&url).await;
            assert_eq!(status, 200, "{body}");
            body["items"]
                .as_array()
                .and_then(|items| items.iter().find(|o| o["state"] == "COMPLETED").cloned())
        }
    })
    .await
    .clone();
    assert_eq!(
        op["strategy_id"],
        "restart-on-high-error-rate",
        "{op}\n{}",
        am.log()
    );
    assert_eq!(op["resource"]["name"], "checkout");
    assert_eq!(op["source_system"], "failure_watcher");

    // Resolve it: Alertmanager sends the resolution (send_resolved) and the
    // incident closes; no second operation starts.
    am.post_alerts(json!([{"labels": labels, "startsAt": started, "endsAt": now_rfc3339()}]))
        .await;
    let incident = op["incident_id"].as_str().unwrap().to_owned();
    let inc_url = server.url(&format!("/v1/incidents/{incident}"));
    eventually(Duration::from_secs(30), "the incident to resolve", || {
        let url = inc_url.clone();
        async move {
            let (_, body) = get_json(&url).await;
            (body["status"] == "resolved").then_some(())
        }
    })
    .await;
    let (_, ops) = get_json(&ops_url).await;
    assert_eq!(ops["items"].as_array().unwrap().len(), 1, "{ops}");
    let metrics = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains("hale_http_requests_total{route=\"/v1/alerts/alertmanager\",status=\"200\"}"),
        "{metrics}"
    );
    drop(am);
    server.stop().await.unwrap();
}
