//! The client commands against a real `hale-server`, started in this
//! process from the `hale_server` library on a random loopback port with a
//! temporary data directory (SQLite) and known tokens. Each test gets its
//! own server.

mod common;

use std::sync::mpsc;

use assert_cmd::Command;
use hale_domain::TenantId;
use hale_domain::alert::Alert;
use predicates::prelude::*;
use serde_json::Value;

const OPERATOR: &str = "op-token-6b1d0f3e9a7c4b2d8e5f1a0c3b7d9e2f";
const VIEWER: &str = "viewer-token-2c4e6a8b0d1f3a5c7e9b1d3f5a7c9e1b";
const ADMIN: &str = "admin-token-9f8e7d6c5b4a39281706f5e4d3c2b1a0";

fn config(data_dir: &std::path::Path, notifications: &str) -> String {
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
struct TestServer {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
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

fn alert(name: &str, deployment: &str) -> Alert {
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
fn start() -> TestServer {
    start_with("")
}

/// A server whose `[notifications]` section has `notifications` added.
fn start_with(notifications: &str) -> TestServer {
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
    fn hale(&self, token: &str) -> Command {
        let mut cmd = common::hale();
        cmd.env("HOME", self._dir.path())
            .args(["--server", &self.url, "--token", token]);
        cmd
    }

    /// Runs a successful `-o json` command and parses its output.
    fn json(&self, token: &str, args: &[&str]) -> Value {
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
    fn first_id(&self, args: &[&str]) -> String {
        let v = self.json(OPERATOR, args);
        v["items"][0]["id"].as_str().unwrap().to_owned()
    }

    /// A pending approval's id, by resource name.
    fn pending_approval(&self, deployment: &str) -> String {
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

#[test]
fn status_renders_the_tenants_state() {
    let s = start();
    s.hale(VIEWER)
        .arg("status")
        .assert()
        .success()
        .stdout(predicate::str::contains("scope:").and(predicate::str::contains("tenant:shop")))
        .stdout(predicate::str::contains("healing enabled:"))
        .stdout(predicate::str::contains(
            "safety state:         tenant version ",
        ));
    let v = s.json(VIEWER, &["status"]);
    assert_eq!(v["selfHealing"]["isDormant"], false, "{v}");
    // A platform token without --tenant sees the global status.
    let v = s.json(ADMIN, &["status"]);
    assert_eq!(v["scope"], "global", "{v}");
}

#[test]
fn operations_and_incidents_list_and_show() {
    let s = start();
    let out = s.hale(VIEWER).args(["ops", "list"]).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let header = text.lines().next().unwrap();
    assert!(
        header.starts_with("ID") && header.contains("STATE"),
        "{text}"
    );
    assert!(text.contains("prod:deployment/checkout"), "{text}");
    assert!(text.contains("COMPLETED"), "{text}");
    let op = s.first_id(&[
        "ops",
        "list",
        "--state",
        "COMPLETED",
        "--strategy",
        "restart-on-errors",
    ]);
    s.hale(VIEWER)
        .args(["ops", "show", &op])
        .assert()
        .success()
        .stdout(predicate::str::contains("id:").and(predicate::str::contains(&op)))
        .stdout(predicate::str::contains("rollout_restart"));
    let v = s.json(
        VIEWER,
        &["ops", "list", "--resource", "prod:deployment/nothing"],
    );
    assert_eq!(v["items"].as_array().unwrap().len(), 0, "{v}");
    s.hale(VIEWER)
        .args(["ops", "list", "--resource", "prod:deployment/nothing"])
        .assert()
        .success()
        .stdout("no results\n");

    let v = s.json(VIEWER, &["incidents", "list", "--limit", "10"]);
    assert_eq!(v["items"].as_array().unwrap().len(), 4, "{v}");
    let inc = s.first_id(&["incidents", "list", "--since", "1h"]);
    s.hale(VIEWER)
        .args(["incidents", "show", &inc])
        .assert()
        .success()
        .stdout(predicate::str::contains("decisions:"));
    // Paging: one row and a hint to the next page.
    s.hale(VIEWER)
        .args(["incidents", "list", "--limit", "1"])
        .assert()
        .success()
        .stdout(predicate::str::contains("(more: --offset 1)"));
}

#[test]
fn approvals_are_listed_approved_and_rejected() {
    let s = start();
    s.hale(VIEWER)
        .args(["approvals", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("scale-out-on-latency"))
        .stdout(predicate::str::contains("0/1"));
    let search = s.pending_approval("search");
    let cart = s.pending_approval("cart");
    s.hale(VIEWER)
        .args(["approvals", "show", &search])
        .assert()
        .success()
        .stdout(predicate::str::contains("prod:deployment/search"));

    let v = s.json(
        OPERATOR,
        &[
            "approvals",
            "approve",
            &search,
            "--comment",
            "latency confirmed",
        ],
    );
    assert_eq!(v["approval"]["status"], "approved", "{v}");
    assert!(v["operation_id"].is_string(), "{v}");
    let out = s
        .hale(OPERATOR)
        .args([
            "approvals",
            "reject",
            &cart,
            "--reason",
            "scaling will not help",
        ])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("rejected"), "{text}");

    // Signing twice is a conflict: exit 5 with the server's error.
    let db = s.pending_approval("db");
    let v = s.json(OPERATOR, &["approvals", "approve", &db]);
    assert_eq!(
        v["approval"]["status"], "pending",
        "one of two signatures: {v}"
    );
    s.hale(OPERATOR)
        .args(["approvals", "approve", &db])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("conflict").and(predicate::str::contains("HTTP 409")));
    s.hale(OPERATOR)
        .args(["approvals", "list", "--status", "pending"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1/2"));
    // Rejecting a decided request is a state conflict (HTTP 409): exit 5.
    s.hale(OPERATOR)
        .args(["approvals", "reject", &search, "--reason", "too late"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("not pending"));
    // A viewer may not decide: exit 4.
    s.hale(VIEWER)
        .args(["approvals", "approve", &cart])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("forbidden"));
}

#[test]
fn exit_codes_follow_the_http_status() {
    let s = start();
    s.hale(VIEWER)
        .args(["ops", "show", "op-does-not-exist"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("not_found"));
    s.hale("not-a-token")
        .arg("status")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("unauthorized"));
    // An invalid filter value is refused by the server: 422 -> 2.
    s.hale(VIEWER)
        .args(["ops", "list", "--state", "SLEEPING"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid"));
    // A platform token must name the tenant for tenant reads.
    s.hale(ADMIN).args(["ops", "list"]).assert().code(2);
    // A tenant token asking for another tenant.
    s.hale(VIEWER)
        .args(["--tenant", "other", "ops", "list"])
        .assert()
        .code(4);
}

#[test]
fn a_platform_token_names_the_tenant_by_flag_env_or_config_file() {
    let s = start();
    let v = s.json(ADMIN, &["--tenant", "shop", "approvals", "list"]);
    assert_eq!(v["items"].as_array().unwrap().len(), 3, "{v}");
    let out = s
        .hale(ADMIN)
        .env("HALE_TENANT", "shop")
        .args(["approvals", "list", "-o", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Everything from the config file.
    let cfg = s._dir.path().join("cli.toml");
    std::fs::write(
        &cfg,
        format!(
            "server = \"{}\"\ntoken = \"{ADMIN}\"\ntenant = \"shop\"\n",
            s.url
        ),
    )
    .unwrap();
    let mut cmd = common::hale();
    cmd.env("HALE_CLI_CONFIG", &cfg)
        .args(["breakers", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("dry-run"));
}

#[test]
fn switches_dormancy_breakers_and_the_audit_trail() {
    let s = start();
    s.hale(OPERATOR)
        .args([
            "switches",
            "set",
            "strategy:restart-on-errors",
            "off",
            "--reason",
            "investigating",
        ])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("strategy").and(predicate::str::contains("restart-on-errors")),
        );
    let v = s.json(OPERATOR, &["switches", "get"]);
    assert_eq!(v["tenant"]["strategies"]["restart-on-errors"], "off", "{v}");
    s.hale(OPERATOR)
        .args([
            "switches",
            "set",
            "strategy:restart-on-errors",
            "unset",
            "--reason",
            "done",
        ])
        .assert()
        .success();
    // The global layer is for admins.
    s.hale(OPERATOR)
        .args([
            "switches",
            "set",
            "global:auto_healing",
            "off",
            "--reason",
            "freeze",
        ])
        .assert()
        .code(4);
    s.hale(ADMIN)
        .args([
            "switches",
            "set",
            "global:auto_healing",
            "off",
            "--reason",
            "freeze",
        ])
        .assert()
        .success();
    let v = s.json(ADMIN, &["switches", "get"]);
    assert_eq!(
        v["global_runtime"]["features"]["auto_healing"], "off",
        "{v}"
    );
    // A reason is required before anything is sent.
    s.hale(OPERATOR)
        .args(["dormant", "enter", "--reason", "  "])
        .assert()
        .code(2);

    s.hale(OPERATOR)
        .args(["dormant", "enter", "--reason", "maintenance window"])
        .assert()
        .success();
    assert_eq!(
        s.json(VIEWER, &["status"])["selfHealing"]["isDormant"],
        true
    );
    s.hale(OPERATOR)
        .args(["dormant", "resume", "--reason", "maintenance over"])
        .assert()
        .success()
        .stdout(predicate::str::contains("resumed"));
    assert_eq!(
        s.json(VIEWER, &["status"])["selfHealing"]["isDormant"],
        false
    );

    let v = s.json(VIEWER, &["breakers", "list"]);
    let name = v["items"][0]["name"].as_str().unwrap().to_owned();
    s.hale(OPERATOR)
        .args([
            "breakers",
            "reset",
            &name,
            "--reason",
            "checked the executor",
        ])
        .assert()
        .success();

    // The attempt budget of the completed restart can be reset; an unknown
    // pair is not found.
    s.hale(OPERATOR)
        .args([
            "attempts",
            "reset",
            "--strategy",
            "restart-on-errors",
            "--resource",
            "prod:deployment/checkout",
            "--reason",
            "fixed the config map",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("may run again"));
    s.hale(OPERATOR)
        .args([
            "attempts",
            "reset",
            "--strategy",
            "restart-on-errors",
            "--resource",
            "prod:deployment/nothing",
            "--reason",
            "x",
        ])
        .assert()
        .code(3);

    // Every act above is in the audit log, on the manual channel.
    let v = s.json(VIEWER, &["audit", "--channel", "manual", "--limit", "100"]);
    let types: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["operation_type"].as_str().unwrap())
        .collect();
    assert!(types.len() >= 5, "{types:?}");
    let v = s.json(
        VIEWER,
        &[
            "audit",
            "--operation-type",
            "dormancy.resumed",
            "--source",
            "api",
            "--since",
            "1h",
        ],
    );
    assert_eq!(v["items"].as_array().unwrap().len(), 1, "{v}");
    let out = s
        .hale(VIEWER)
        .args(["audit", "--operation-type", "dormancy.resumed"])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        text.contains("maintenance over") && text.contains("alice"),
        "{text}"
    );
}

#[test]
fn notifications_show_each_delivery_and_why_it_failed() {
    let s = start();
    let mut items = Vec::new();
    for _ in 0..100 {
        let v = s.json(VIEWER, &["notifications", "--kind", "approval_requested"]);
        items = v["items"].as_array().cloned().unwrap_or_default();
        if items.len() == 3 && items.iter().all(|d| d["attempts"].as_u64() >= Some(1)) {
            break;
        }
        // A real server on its own runtime: its delivery task runs on
        // wall time, so this test waits on wall time too.
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(items.len(), 3, "three approval requests: {items:#?}");
    for d in &items {
        assert_eq!(d["channel"], "ops-webhook");
        assert!(d["delivered_at"].is_null());
        assert!(
            d["last_error"]
                .as_str()
                .unwrap()
                .starts_with("request failed"),
            "{d}"
        );
    }
    s.hale(VIEWER)
        .args(["notifications", "--pending", "true"])
        .assert()
        .success()
        .stdout(predicate::str::contains("approval_requested"))
        .stdout(predicate::str::contains("ops-webhook"))
        .stdout(predicate::str::contains("LAST ERROR"));
}

/// Deliveries given up after their one attempt are sent again by
/// `hale notifications redrive`, with a reason in the audit log; a viewer
/// may not.
#[test]
fn notifications_redrive_sends_given_up_deliveries_again() {
    let s = start_with("max_attempts = 1");
    let given_up = |s: &TestServer| {
        let v = s.json(VIEWER, &["notifications", "--pending", "false"]);
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["given_up_at"].is_string())
            .count()
    };
    for _ in 0..100 {
        if given_up(&s) >= 3 {
            break;
        }
        // The server's delivery task runs on wall time.
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let n = given_up(&s);
    assert!(n >= 3, "the approval requests are given up: {n}");
    let redrive = [
        "notifications",
        "redrive",
        "--channel",
        "ops-webhook",
        "--reason",
        "the receiver is back",
    ];
    s.hale(VIEWER).args(redrive).assert().code(4);
    s.hale(OPERATOR)
        .args([
            "notifications",
            "redrive",
            "--channel",
            "ops-webhook",
            "--reason",
            " ",
        ])
        .assert()
        .code(2);
    let v = s.json(OPERATOR, &redrive);
    assert_eq!(v["channel"], "ops-webhook", "{v}");
    assert_eq!(v["tenant"], "shop", "{v}");
    assert!(v["redriven"].as_u64().unwrap() >= 3, "{v}");
    s.hale(OPERATOR)
        .args(redrive)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "given-up deliveries of ops-webhook sent again (tenant shop)",
        ));
    let v = s.json(
        VIEWER,
        &["audit", "--operation-type", "notifications.redriven"],
    );
    let items = v["items"].as_array().unwrap();
    assert!(items.len() >= 2, "{v}");
    assert_eq!(items[0]["executed_by"], "alice");
    assert_eq!(items[0]["authorization_channel"], "manual");
    assert!(
        items[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("the receiver is back ("),
        "{v}"
    );
}

#[test]
fn knowledge_entries_are_written_read_and_archived_and_incidents_closed() {
    let s = start();
    let inc = s.first_id(&["incidents", "list"]);
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("runbook.md");
    std::fs::write(&body, "1. Check the payment gateway.\n").unwrap();
    // A viewer may not write; an operator may, with the body from a file.
    s.hale(VIEWER)
        .args([
            "knowledge",
            "create",
            "--title",
            "Checkout 5xx",
            "--content",
            "x",
        ])
        .assert()
        .code(4);
    let v = s.json(
        OPERATOR,
        &[
            "knowledge",
            "create",
            "--title",
            "Checkout 5xx",
            "--content",
            &format!("@{}", body.display()),
            "--tag",
            "checkout",
            "--incident",
            &inc,
        ],
    );
    assert_eq!(v["entry_type"], "runbook", "{v}");
    assert_eq!(v["created_by"], "alice", "{v}");
    let id = v["id"].as_str().unwrap().to_owned();

    s.hale(VIEWER)
        .args(["knowledge", "list", "--type", "runbook"])
        .assert()
        .success()
        .stdout(predicate::str::contains(&id).and(predicate::str::contains("Checkout 5xx")));
    s.hale(VIEWER)
        .args(["knowledge", "show", &id])
        .assert()
        .success()
        .stdout(predicate::str::contains("payment gateway"))
        .stdout(predicate::str::contains("views:"));
    let v = s.json(VIEWER, &["knowledge", "show", &id]);
    assert_eq!(v["view_count"], 2, "{v}");

    s.hale(OPERATOR)
        .args(["knowledge", "archive", &id, "--reason", " "])
        .assert()
        .code(2);
    let v = s.json(
        OPERATOR,
        &["knowledge", "archive", &id, "--reason", "superseded"],
    );
    assert_eq!(v["status"], "archived", "{v}");

    s.hale(OPERATOR)
        .args(["incidents", "close", &inc, "--reason", "handled by hand"])
        .assert()
        .success()
        .stdout(predicate::str::contains("closed"));
    let v = s.json(VIEWER, &["audit", "--operation-type", "incident.closed"]);
    assert_eq!(v["items"][0]["reason"], "handled by hand", "{v}");
    assert_eq!(v["items"][0]["executed_by"], "alice", "{v}");
}

#[test]
fn maintenance_windows_are_opened_listed_and_ended_with_who_and_why() {
    let s = start();
    // The server judges "active" by its wall clock, so the window is
    // placed around the wall clock's now.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let rfc = |secs: u64| hale_domain::time::Timestamp::from_unix_secs(secs as i64).to_string();
    let (from, until) = (rfc(now - 60), rfc(now + 3_600));
    let open = |token: &str, extra: &[&str]| {
        let mut cmd = s.hale(token);
        cmd.args(["windows", "open"]).args(extra);
        cmd
    };
    // A viewer may not open one; a window needs one schedule and a reason.
    open(
        VIEWER,
        &["drill", "--from", &from, "--until", &until, "--reason", "x"],
    )
    .assert()
    .code(4);
    open(
        OPERATOR,
        &["drill", "--from", &from, "--days", "sat", "--reason", "x"],
    )
    .assert()
    .code(2)
    .stderr(predicate::str::contains("--from and --until"));
    open(
        OPERATOR,
        &["drill", "--from", &from, "--until", &until, "--reason", " "],
    )
    .assert()
    .code(2);

    open(
        OPERATOR,
        &[
            "drill",
            "--mode",
            "approval_only",
            "--from",
            &from,
            "--until",
            &until,
            "--namespace",
            "prod",
            "--reason",
            "database failover drill",
        ],
    )
    .assert()
    .success()
    .stdout("window drill (approval_only) opened\n");
    open(
        OPERATOR,
        &[
            "patching",
            "--days",
            "sat,sun",
            "--start",
            "22:00",
            "--duration",
            "4h",
            "--time-zone",
            "Europe/Berlin",
            "--reason",
            "OS patching",
        ],
    )
    .assert()
    .success();

    // The table: the drill is active now, the weekly one shows its schedule.
    let row = |out: &str, id: &str| {
        out.lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("no {id} in\n{out}"))
            .to_owned()
    };
    let out = s.hale(VIEWER).args(["windows", "list"]).output().unwrap();
    let out = String::from_utf8(out.stdout).unwrap();
    let drill = row(&out, "drill");
    assert!(
        drill.contains("approval_only") && drill.contains("until "),
        "{out}"
    );
    assert!(
        row(&out, "patching").contains("sat,sun 22:00 for 4h (Europe/Berlin)"),
        "{out}"
    );

    s.hale(OPERATOR)
        .args(["windows", "end", "drill", "--reason", " "])
        .assert()
        .code(2);
    s.hale(OPERATOR)
        .args([
            "windows",
            "end",
            "drill",
            "--reason",
            "drill finished early",
        ])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("window drill ended at")
                .and(predicate::str::contains("by alice")),
        );
    let out = s.hale(VIEWER).args(["windows", "list"]).output().unwrap();
    let out = String::from_utf8(out.stdout).unwrap();
    assert!(row(&out, "drill").contains("ended"), "{out}");

    // Who and why, in the audit log.
    let v = s.json(
        VIEWER,
        &["audit", "--operation-type", "maintenance_window.opened"],
    );
    let opened: Vec<(&str, &str)> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["executed_by"].as_str().unwrap(),
                a["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(opened.len(), 2, "{v}");
    assert!(
        opened
            .iter()
            .any(|(by, why)| *by == "alice" && why.contains("database failover drill")),
        "{v}"
    );
    let v = s.json(
        VIEWER,
        &["audit", "--operation-type", "maintenance_window.ended"],
    );
    assert_eq!(v["items"][0]["executed_by"], "alice", "{v}");
    assert!(
        v["items"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("drill finished early"),
        "{v}"
    );
}
