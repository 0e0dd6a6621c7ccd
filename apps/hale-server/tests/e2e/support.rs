//! Servers, clients and polling for the end-to-end tests.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hale_server::config::Config;
use hale_server::{Server, ServerError};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A token for tests; only its hash goes into configurations.
pub(crate) const TOKEN: &str = "e2e-0f4c7a9d2b6e8f1a3c5d7e9f0a2b4c6d";

pub(crate) fn token_hash() -> String {
    hale_server::auth::hash_token_hex(TOKEN)
}

/// A server started in this process.
pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServerError>>>,
}

impl Running {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Graceful shutdown; the server's result.
    pub(crate) async fn stop(mut self) -> Result<(), ServerError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(t) => t.await.expect("server task"),
            None => Ok(()),
        }
    }
}

/// Binds and serves `config` (its listen address should be port 0).
pub(crate) async fn start(config: Config) -> Running {
    let server = Server::bind(config)
        .await
        .unwrap_or_else(|e| panic!("server: {e}"));
    let addr = server.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run_until(async move {
        let _ = rx.await;
    }));
    Running {
        addr,
        stop: Some(tx),
        task: Some(task),
    }
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// GET with the test token, as JSON.
pub(crate) async fn get_json(url: &str) -> (u16, Value) {
    let res = client().get(url).bearer_auth(TOKEN).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Polls `probe` until it yields `Some`, for at most `limit`.
pub(crate) async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A port that was free a moment ago (for programs that need a number).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The repository's example Alertmanager payload.
pub(crate) fn example_alert() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/alerts/alertmanager-webhook.json"
    ))
    .unwrap()
}

/// `[[tokens]]` with [`TOKEN`] as an operator of `tenant`, and the tenant
/// (namespace `prod`) with one LOW-risk strategy for `HighErrorRate` on the
/// alert's deployment, running `actions` (a TOML array) and verifying with
/// `verify` (a TOML inline table).
pub(crate) fn tenant_toml(tenant: &str, actions: &str, verify: &str) -> String {
    format!(
        r#"
[[tokens]]
name = "e2e"
tenant = "{tenant}"
role = "operator"
sha256 = "{hash}"

[[tenants]]
id = "{tenant}"
namespaces = ["prod"]

[[tenants.strategies]]
id = "restart-on-high-error-rate"
risk = "low"
trigger = {{ alertnames = ["HighErrorRate"] }}
target = {{ kind = "deployment" }}
actions = {actions}
verify = {verify}
"#,
        hash = token_hash()
    )
}

/// Posts an Alertmanager webhook body to `url` with `token`; asserts 200
/// and returns the answer.
pub(crate) async fn post_webhook(url: &str, token: &str, body: Vec<u8>) -> Value {
    let res = client()
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}
