//! A real Alertmanager (`HALE_TEST_ALERTMANAGER_BIN`) delivering webhooks
//! to a Hale server, for the tests that check it retries.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// The Alertmanager binary, or `None` after a skip notice (a failure under
/// `HALE_REQUIRE_SERVICES=1`).
pub fn alertmanager_bin(test: &str) -> Option<PathBuf> {
    hale_testkit::services::service_url("HALE_TEST_ALERTMANAGER_BIN", test).map(PathBuf::from)
}

/// A running Alertmanager, killed on drop.
pub struct Alertmanager {
    _child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Starts one whose only receiver posts every group to
    /// `{hale}/v1/alerts/alertmanager` with `token`, grouping by service
    /// with one-second waits so deliveries (and retries) come quickly.
    pub async fn start(bin: &PathBuf, hale: &str, token: &str) -> Alertmanager {
        let dir = tempfile::tempdir().expect("tempdir");
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
            credentials: '{token}'
"#
        );
        let config_path = dir.path().join("alertmanager.yml");
        std::fs::write(&config_path, config).expect("write alertmanager.yml");
        let log = dir.path().join("alertmanager.log");
        let port = crate::free_port();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create the log"))
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
        let client = crate::client();
        crate::eventually(Duration::from_secs(30), "alertmanager to be ready", || {
            let (client, ready) = (client.clone(), ready.clone());
            async move {
                match client.get(&ready).send().await {
                    Ok(r) if r.status().is_success() => Some(()),
                    _ => None,
                }
            }
        })
        .await;
        am
    }

    /// Posts a `/api/v2/alerts` body (a JSON array).
    pub async fn post_alerts(&self, body: Vec<u8>) {
        let res = crate::client()
            .post(format!("{}/api/v2/alerts", self.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("post to alertmanager");
        assert!(
            res.status().is_success(),
            "alertmanager refused the alerts: {}",
            res.status()
        );
    }

    /// Alertmanager's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
