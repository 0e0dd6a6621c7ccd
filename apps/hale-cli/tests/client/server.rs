//! The server each test starts, its configuration and tokens, and how a
//! test runs `hale` against it.

use std::sync::mpsc;

pub(crate) use assert_cmd::Command;
pub(crate) use hale_domain::TenantId;
pub(crate) use hale_domain::alert::Alert;
pub(crate) use predicates::prelude::*;
pub(crate) use serde_json::Value;

pub(crate) use super::common;

pub(crate) const OPERATOR: &str = "op-token-6b1d0f3e9a7c4b2d8e5f1a0c3b7d9e2f";
pub(crate) const VIEWER: &str = "viewer-token-2c4e6a8b0d1f3a5c7e9b1d3f5a7c9e1b";
pub(crate) const ADMIN: &str = "admin-token-9f8e7d6c5b4a39281706f5e4d3c2b1a0";

pub(crate) fn config(data_dir: &std::path::Path, notifications: &str) -> String {
    let hash = hale_server::auth::hash_token_hex;
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
data_dir = "{dir}"

[[tokens]]
name = "alice"
tenant = "shop"
role = "operator"
sha256 = "{op}"

[[tokens]]
name = "victor"
tenant = "shop"
role = "viewer"
sha256 = "{viewer}"

[[tokens]]
name = "root"
tenant = "*"
role = "admin"
sha256 = "{admin}"

[notifications]
interval = "1s"
{notifications}

# Nobody listens on the discard port: every attempt fails and stays visible.
[[notifications.channels]]
name = "ops-webhook"
kind = "webhook"
url = "http://127.0.0.1:9/hale"
secret_file = "{secret}"

[[notifications.routes]]
tenant = "shop"
channel = "ops-webhook"

[[tenants]]
id = "shop"
namespaces = ["prod"]

[[tenants.strategies]]
id = "restart-on-errors"
risk = "low"
trigger = {{ alertnames = ["HighErrorRate"] }}
target = {{ kind = "deployment" }}
actions = [{{ kind = "rollout_restart" }}]
verify = {{ check = "none" }}

[[tenants.strategies]]
id = "scale-out-on-latency"
risk = "medium"
trigger = {{ alertnames = ["HighLatency"] }}
target = {{ kind = "deployment" }}
actions = [{{ kind = "scale", params = {{ replicas = 4 }} }}]
verify = {{ check = "none" }}

[[tenants.strategies]]
id = "undo-on-saturation"
risk = "high"
trigger = {{ alertnames = ["Saturation"] }}
target = {{ kind = "deployment" }}
actions = [{{ kind = "rollout_undo" }}]
verify = {{ check = "none" }}
"#,
        dir = data_dir.display().to_string().replace('\\', "\\\\"),
        secret = data_dir
            .with_file_name("webhook.secret")
            .display()
            .to_string()
            .replace('\\', "\\\\"),
        op = hash(OPERATOR),
        viewer = hash(VIEWER),
        admin = hash(ADMIN),
    )
}

/// A server on its own thread and runtime; stopped when dropped.
pub(crate) struct TestServer {
    pub(crate) url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub(crate) _dir: tempfile::TempDir,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub(crate) fn alert(name: &str, deployment: &str) -> Alert {
    Alert::firing([
        ("alertname", name),
        ("namespace", "prod"),
        ("deployment", deployment),
        ("severity", "critical"),
    ])
}

/// Starts a server and gives it something to show: a completed operation
/// (HighErrorRate on checkout), two pending approvals needing one signature
/// (HighLatency on search and on cart) and one needing two (Saturation on
/// db).
pub(crate) fn start() -> TestServer {
    start_with("")
}

/// A server whose `[notifications]` section has `notifications` added.
pub(crate) fn start_with(notifications: &str) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("webhook.secret"),
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
    )
    .unwrap();
    let text = config(&dir.path().join("data"), notifications);
    let config = hale_server::config::parse_str(&text, "test.toml").unwrap();
    let (addr_tx, addr_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let server = hale_server::Server::bind(config).await.unwrap();
            let engine = server.engine().clone();
            let shop = TenantId::new("shop").unwrap();
            engine
                .ingest(
                    &shop,
                    vec![
                        alert("HighErrorRate", "checkout"),
                        alert("HighLatency", "search"),
                        alert("HighLatency", "cart"),
                        alert("Saturation", "db"),
                    ],
                )
                .await
                .unwrap();
            engine.wait_idle().await;
            addr_tx.send(server.local_addr().unwrap()).unwrap();
            server
                .run_until(async move {
                    let _ = stop_rx.await;
                })
                .await
                .unwrap();
        });
    });
    let addr = addr_rx.recv().unwrap();
    TestServer {
        url: format!("http://{addr}"),
        stop: Some(stop_tx),
        thread: Some(thread),
        _dir: dir,
    }
}

impl TestServer {
    /// `hale --server URL --token TOKEN ...`.
    pub(crate) fn hale(&self, token: &str) -> Command {
        let mut cmd = common::hale();
        cmd.env("HOME", self._dir.path())
            .args(["--server", &self.url, "--token", token]);
        cmd
    }

    /// Runs a successful `-o json` command and parses its output.
    pub(crate) fn json(&self, token: &str, args: &[&str]) -> Value {
        let out = self
            .hale(token)
            .args(args)
            .args(["-o", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "hale {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The id of the first item of a list command.
    pub(crate) fn first_id(&self, args: &[&str]) -> String {
        let v = self.json(OPERATOR, args);
        v["items"][0]["id"].as_str().unwrap().to_owned()
    }

    /// A pending approval's id, by resource name.
    pub(crate) fn pending_approval(&self, deployment: &str) -> String {
        let v = self.json(OPERATOR, &["approvals", "list", "--status", "pending"]);
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["resource"]["name"] == deployment)
            .and_then(|a| a["id"].as_str())
            .unwrap()
            .to_owned()
    }
}
