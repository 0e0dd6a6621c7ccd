//! # hale-chaos
//!
//! Hale's promise is what happens on the worst day. These tests break the
//! production shape on purpose, with real processes, and check the promise
//! with counts (`tests/chaos/`):
//!
//! * Redis frozen (SIGSTOP) during a storm: no automatic action while
//!   frozen, every alert recorded as skipped (`lock_backend_unavailable`),
//!   an action within a second of SIGCONT;
//! * Postgres stopped: intake answers 503 with `Retry-After`, a real
//!   Alertmanager retries, and after the restart every alert is recorded;
//! * `hale-server` SIGKILLed in the middle of a healing action: after the
//!   restart the operation is INTERRUPTED (never resumed) and the fake
//!   Kubernetes API server saw the action at most once;
//! * two replicas on one Postgres and one Redis receiving every delivery
//!   twice: each remediation executed exactly once;
//! * three replicas under an alert storm, a global stop (`auto_healing`
//!   off, or the `execution` freeze) sent to one: no write at the fake API
//!   server from any replica after the stop's answer plus one second;
//! * three replicas, one failed healing each: the tenant is dormant on all
//!   of them (the threshold counts the cluster), and a resume on another
//!   replica wakes all three within a second;
//! * two replicas and issue 16's shared rules: both pruning spent attempt
//!   ledgers while new attempts land (no live ledger lost), a maintenance
//!   window opened on one stopping healing on the other, and an alert's
//!   resolve and re-fire delivered to both marking each operation's
//!   effectiveness exactly once.
//!
//! One measurement is an ignored test (`scripts/chaos.sh --measure`): how
//! long a switch flipped on one replica takes to reach another.
//!
//! The pieces here: the `hale-server` binary as a process ([`server`]), a
//! private Redis ([`redis`]) and Postgres ([`postgres`]) for the tests that
//! freeze or stop them, a real Alertmanager ([`alertmanager`]), and a
//! [`World`]: the fake Kubernetes API server in-process, a unique tenant
//! (it prefixes every Redis key, so tests sharing Redis never meet) and
//! the generated production configuration of `hale_load::config`.
//!
//! Each test needs the services of `scripts/services.sh` and skips with a
//! notice without them (fails under `HALE_REQUIRE_SERVICES=1`).

pub mod alertmanager;
pub mod postgres;
pub mod redis;
pub mod server;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use hale_fake_kube::{FakeConfig, FakeKube};
use hale_load::alerts::{LoadAlert, webhook_body};
use hale_load::api::HaleApi;
use hale_load::config::ServerConfig;
use serde_json::Value;

use crate::postgres::Schema;
use crate::server::ServerProc;

/// Sends a signal to a process we started.
pub fn signal(pid: u32, sig: rustix::process::Signal) {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .expect("a valid pid");
    rustix::process::kill_process(pid, sig).unwrap_or_else(|e| panic!("kill {sig:?} {pid:?}: {e}"));
}

/// Seconds since the Unix epoch: alert timestamps a real Alertmanager
/// takes as current. Tests have no Clock port to ask.
#[allow(clippy::disallowed_methods)]
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// The shared test Postgres (a superuser URL) and Redis, or `None` after a
/// skip notice (a failure under `HALE_REQUIRE_SERVICES=1`).
pub fn shared_services(test: &str) -> Option<(String, String)> {
    let db = hale_testkit::services::database_url(test)?;
    let redis = hale_testkit::services::redis_url(test)?;
    Some((db, redis))
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// 32 hex characters, different every call.
pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// An HTTP client with a bound on every request.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// Polls `probe` until it yields `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> T
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
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A firing `HighErrorRate` on deployment `svc-NNNN` (the strategy's
/// alert), started `starts_at` seconds after the Unix epoch.
pub fn firing(service: u32, starts_at: i64) -> LoadAlert {
    LoadAlert {
        alertname: 0,
        service,
        pod: None,
        starts_at,
        ends_at: None,
    }
}

/// An answer to a webhook post.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After`, when sent.
    pub retry_after: Option<String>,
    /// The JSON body (`Null` if none).
    pub body: Value,
}

impl Answer {
    /// The decision names, in order.
    pub fn decisions(&self) -> Vec<String> {
        self.body["decisions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| d["outcome"]["decision"].as_str().unwrap_or("?").to_owned())
            .collect()
    }

    /// The operation the first decision started (panics, naming the
    /// answer, when it started none: a test's precondition).
    pub fn operation_id(&self) -> String {
        self.body["decisions"][0]["outcome"]["operation_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no operation started: {}", self.body))
            .to_owned()
    }
}

/// One test's world: scratch directory, fake Kubernetes API server with
/// deployments `svc-0000`.., and the server configuration.
pub struct World {
    /// Scratch space (configs, logs, data dirs).
    pub dir: tempfile::TempDir,
    /// The fake API server, in this process.
    pub fake: FakeKube,
    /// The configuration every server of this world runs.
    pub config: ServerConfig,
    /// Shared HTTP client.
    pub http: reqwest::Client,
}

impl World {
    /// A fake API server with `deployments` deployments and the
    /// production configuration on `schema` and `redis_url`, for a tenant
    /// of its own.
    pub async fn new(schema: &Schema, redis_url: &str, deployments: u32) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let fake = FakeKube::start("127.0.0.1:0", FakeConfig::default())
            .await
            .expect("start the fake API server");
        for i in 0..deployments {
            fake.seed(hale_load::kube::deployment(i))
                .expect("seed a deployment");
        }
        let mut config = ServerConfig::new(
            &schema.app_url,
            &schema.migrator_url,
            &schema.name,
            redis_url,
            fake.url(),
        );
        config.tenant = format!("chaos-{}", &unique()[..10]);
        config.data_dir = dir.path().join("data");
        config.ingest_token = unique();
        config.admin_token = unique();
        World {
            dir,
            fake,
            config,
            http: client(),
        }
    }

    /// Writes the configuration and starts a server named `name` (its log
    /// is `<name>.log` in the scratch directory).
    pub async fn start_server(&self, name: &str) -> ServerProc {
        let path: PathBuf = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, self.config.render()).expect("write the config");
        ServerProc::start(&path, &self.dir.path().join(format!("{name}.log"))).await
    }

    /// Starts one server per name at once (replicas of one cluster).
    pub async fn start_servers(&self, names: &[&str]) -> Vec<ServerProc> {
        futures::future::join_all(names.iter().map(|name| self.start_server(name))).await
    }

    /// The read API of `server`, as the platform admin.
    pub fn api(&self, server: &ServerProc) -> HaleApi {
        HaleApi::new(
            self.http.clone(),
            &server.url,
            &self.config.admin_token,
            &self.config.tenant,
        )
    }

    /// Posts `alerts` as one Alertmanager webhook body (from the peer at
    /// `external_url`) with the ingest token.
    pub async fn post(
        &self,
        server: &ServerProc,
        alerts: &[LoadAlert],
        external_url: &str,
    ) -> Answer {
        let res = self
            .http
            .post(server.at("/v1/alerts/alertmanager"))
            .bearer_auth(&self.config.ingest_token)
            .header("content-type", "application/json")
            .body(webhook_body(alerts, external_url))
            .send()
            .await
            .expect("post alerts");
        let status = res.status().as_u16();
        let retry_after = res
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = res.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            retry_after,
            body,
        }
    }

    /// Posts a firing alert (started at `starts_at`) for each of
    /// `services` at once, one webhook body each, taking turns over
    /// `servers` (replicas behind a load balancer); the answers in the
    /// order of `services`.
    pub async fn post_alternating(
        &self,
        servers: &[&ServerProc],
        services: std::ops::Range<u32>,
        starts_at: i64,
    ) -> Vec<Answer> {
        let posts = services.enumerate().map(|(i, s)| {
            let server = servers[i % servers.len()];
            async move {
                self.post(server, &[firing(s, starts_at)], "http://am-1:9093")
                    .await
            }
        });
        futures::future::join_all(posts).await
    }

    /// A request as the platform admin (`method` on `path`, which carries
    /// its own query, with an optional JSON body): the status and the JSON
    /// answer (`Null` if none).
    pub async fn admin(
        &self,
        server: &ServerProc,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, server.at(path))
            .bearer_auth(&self.config.admin_token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("an admin request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// `PUT /v1/switches` of a global feature (`auto_healing`,
    /// `execution`) as the platform admin; panics unless it answers 200.
    pub async fn set_global_switch(&self, server: &ServerProc, key: &str, state: &str) {
        let body = serde_json::json!({
            "layer": "global", "key": key, "state": state,
            "reason": format!("chaos: global {key} {state}"),
        });
        let (status, answer) = self
            .admin(server, reqwest::Method::PUT, "/v1/switches", Some(body))
            .await;
        assert_eq!(status, 200, "PUT /v1/switches {key} {state}: {answer}");
    }

    /// `GET /v1/status` of `server`: the world's tenant's, or with
    /// `tenant` false the global one.
    pub async fn status(&self, server: &ServerProc, tenant: bool) -> Value {
        let path = if tenant {
            format!("/v1/status?tenant={}", self.config.tenant)
        } else {
            "/v1/status".to_owned()
        };
        let (status, body) = self.admin(server, reqwest::Method::GET, &path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Operation `id` as `server` answers for it (platform admin), or
    /// `None` while it cannot say.
    pub async fn operation(&self, server: &ServerProc, id: &str) -> Option<Value> {
        let url = server.at(&format!(
            "/v1/operations/{id}?tenant={}",
            self.config.tenant
        ));
        self.http
            .get(&url)
            .bearer_auth(&self.config.admin_token)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()
    }

    /// Restarts applied to `svc-NNNN` by the fake API server (PATCHes that
    /// changed it, dry runs excluded).
    pub fn restarts(&self, service: u32) -> u64 {
        self.fake.applied("PATCH", &deployment_path(service))
    }

    /// Every state change the fake API server applied.
    pub fn actions(&self) -> u64 {
        self.fake.applied_total()
    }
}

/// The API path of deployment `svc-NNNN`.
pub fn deployment_path(service: u32) -> String {
    format!(
        "/apis/apps/v1/namespaces/{}/deployments/{}",
        hale_load::alerts::NAMESPACE,
        hale_load::alerts::service_name(service)
    )
}
